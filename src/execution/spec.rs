//! The chain specification: chain id and fork schedule, read from a geth-style genesis.

use alloy::eips::eip7840::BlobParams;
use alloy::genesis::{ChainConfig, Genesis};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use revm::primitives::hardfork::SpecId;

use alloy::primitives::Address;

/// Chain id and fork activations of one chain.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    config: ChainConfig,
    /// The genesis this spec came from.
    pub genesis: Genesis,
}

impl ChainSpec {
    /// Builds the spec from a parsed genesis file.
    pub fn new(genesis: Genesis) -> Self {
        Self {
            config: genesis.config.clone(),
            genesis,
        }
    }

    /// EIP-155 chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The blob parameters in force at `timestamp`, `None` before Cancun.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        if !self.is_cancun_active_at_timestamp(timestamp) {
            return None;
        }
        let schedule = self.config.blob_schedule_blob_params();
        if let Some(params) = schedule.active_scheduled_params_at_timestamp(timestamp) {
            return Some(*params);
        }
        Some(if self.is_osaka_active_at_timestamp(timestamp) {
            schedule.osaka
        } else if self.is_prague_active_at_timestamp(timestamp) {
            schedule.prague
        } else {
            schedule.cancun
        })
    }

    /// The base fee of the block after `parent`: EIP-1559's rule, the initial base fee
    /// for London's first block, zero before London.
    pub fn base_fee_after(&self, parent: &alloy::consensus::Header) -> u64 {
        if !self.is_london_active_at_block(parent.number + 1) {
            return 0;
        }
        parent
            .next_block_base_fee(alloy::eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(alloy::eips::eip1559::INITIAL_BASE_FEE)
    }

    /// The revm spec in force for a block.
    pub fn spec_id(&self, number: u64, timestamp: u64) -> SpecId {
        alloy_evm::spec_by_timestamp_and_block_number(self, timestamp, number)
    }
}

fn block(b: Option<u64>) -> ForkCondition {
    b.map_or(ForkCondition::Never, ForkCondition::Block)
}

fn time(t: Option<u64>) -> ForkCondition {
    t.map_or(ForkCondition::Never, ForkCondition::Timestamp)
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        let c = &self.config;
        match fork {
            EthereumHardfork::Frontier => ForkCondition::Block(0),
            EthereumHardfork::Homestead => block(c.homestead_block),
            EthereumHardfork::Dao if c.dao_fork_support => block(c.dao_fork_block),
            EthereumHardfork::Dao => ForkCondition::Never,
            EthereumHardfork::Tangerine => block(c.eip150_block),
            EthereumHardfork::SpuriousDragon => block(c.eip158_block),
            EthereumHardfork::Byzantium => block(c.byzantium_block),
            EthereumHardfork::Constantinople => block(c.constantinople_block),
            EthereumHardfork::Petersburg => block(c.petersburg_block),
            EthereumHardfork::Istanbul => block(c.istanbul_block),
            EthereumHardfork::MuirGlacier => block(c.muir_glacier_block),
            EthereumHardfork::Berlin => block(c.berlin_block),
            EthereumHardfork::London => block(c.london_block),
            EthereumHardfork::ArrowGlacier => block(c.arrow_glacier_block),
            EthereumHardfork::GrayGlacier => block(c.gray_glacier_block),
            EthereumHardfork::Paris => {
                match (c.merge_netsplit_block, c.terminal_total_difficulty) {
                    (Some(b), _) => ForkCondition::Block(b),
                    (None, Some(ttd)) if ttd.is_zero() => ForkCondition::Block(0),
                    (None, Some(ttd)) => ForkCondition::TTD {
                        activation_block_number: u64::MAX,
                        fork_block: None,
                        total_difficulty: ttd,
                    },
                    (None, None) => ForkCondition::Never,
                }
            }
            EthereumHardfork::Shanghai => time(c.shanghai_time),
            EthereumHardfork::Cancun => time(c.cancun_time),
            EthereumHardfork::Prague => time(c.prague_time),
            EthereumHardfork::Osaka => time(c.osaka_time),
            EthereumHardfork::Bpo1 => time(c.bpo1_time),
            EthereumHardfork::Bpo2 => time(c.bpo2_time),
            EthereumHardfork::Bpo3 => time(c.bpo3_time),
            EthereumHardfork::Bpo4 => time(c.bpo4_time),
            EthereumHardfork::Bpo5 => time(c.bpo5_time),
            EthereumHardfork::Amsterdam => time(c.amsterdam_time),
            _ => ForkCondition::Never,
        }
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.config.deposit_contract_address
    }
}
