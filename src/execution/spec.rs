//! The chain specification: chain id, fork schedule and coco's own rules, read from a
//! geth-style genesis.
//!
//! coco's rules live in the genesis `config` beside the forks, so every node executes a
//! chain alike: `"coco": {"privateBalances": true}` turns on the private-balance rule of
//! [`ChainEvm`]; a `consortium` section implies it (and refuses `false`). A genesis with
//! neither is a plain Ethereum chain, executed exactly as Ethereum executes it.

use alloy::eips::eip7840::BlobParams;
use alloy::genesis::{ChainConfig, Genesis};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use revm::primitives::hardfork::SpecId;

use alloy::primitives::Address;

use super::ChainEvm;

/// The genesis `config` key of coco's own section.
const COCO: &str = "coco";
/// The genesis `config` key whose presence makes a chain a consortium chain.
const CONSORTIUM: &str = "consortium";

/// coco's section of a genesis `config`: rules every node of the chain executes alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CocoRules {
    /// `BALANCE` and `EXTCODEHASH` of accounts without code, other than the transaction's
    /// origin, answer as for an empty account (see [`ChainEvm`]).
    #[serde(default)]
    pub private_balances: bool,
    /// The contract at `0x…C0C0` is the chain's governance (placed by the genesis from a
    /// `consortium` section, or by `coco dev`): a code replacement it accepted is applied
    /// at the start of the next block (see `crate::governance`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub governance: bool,
}

impl CocoRules {
    /// The rules `genesis` declares; an error names what is wrong with its `coco` section.
    pub fn of(genesis: &Genesis) -> Result<Self, String> {
        let extra = &genesis.config.extra_fields;
        let rules: Self = match extra.get_deserialized(COCO) {
            None => Self::default(),
            Some(parsed) => parsed.map_err(|e| format!("config.{COCO}: {e}"))?,
        };
        if !extra.contains_key(CONSORTIUM) {
            return Ok(rules);
        }
        if extra.get(COCO).and_then(|c| c.get("privateBalances"))
            == Some(&serde_json::Value::Bool(false))
        {
            return Err(format!(
                "config.{COCO}.privateBalances: a consortium chain keeps balances private \
                 from EVM code; it cannot be false"
            ));
        }
        Ok(Self {
            private_balances: true,
            ..rules
        })
    }

    /// Writes these rules into `genesis`'s `coco` section.
    pub fn write(&self, genesis: &mut Genesis) {
        let value = serde_json::to_value(self).expect("a struct of booleans serializes");
        genesis.config.extra_fields.insert(COCO.to_string(), value);
    }
}

/// Chain id, fork activations and coco's rules of one chain.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    config: ChainConfig,
    evm: ChainEvm,
    governed: bool,
    /// The genesis this spec came from.
    pub genesis: Genesis,
}

impl ChainSpec {
    /// Builds the spec from a parsed genesis file.
    ///
    /// A genesis is checked when it is read ([`CocoRules::of`] through
    /// `chain::genesis::parse_genesis`); one whose `coco` section cannot be read here still
    /// gets the stricter EVM (private balances) rather than the open one.
    pub fn new(genesis: Genesis) -> Self {
        let rules = CocoRules::of(&genesis);
        let private = rules.as_ref().map_or(true, |rules| rules.private_balances);
        let governed = rules.is_ok_and(|rules| rules.governance);
        Self {
            config: genesis.config.clone(),
            governed,
            evm: match (private, governed) {
                (true, true) => ChainEvm::PRIVATE_BALANCES.with_private_code(),
                (true, false) => ChainEvm::PRIVATE_BALANCES,
                (false, _) => ChainEvm::ETHEREUM,
            },
            genesis,
        }
    }

    /// The EVM every execution of this chain runs on.
    pub fn evm(&self) -> ChainEvm {
        self.evm
    }

    /// True when the contract at `0x…C0C0` is this chain's governance
    /// ([`CocoRules::governance`]).
    pub fn governed(&self) -> bool {
        self.governed
    }

    /// True for a consortium chain (its genesis has a `consortium` section): governance
    /// decides who transacts and reads, and the confidential policy is always on.
    pub fn is_consortium(&self) -> bool {
        self.config.extra_fields.contains_key(CONSORTIUM)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn genesis(config: serde_json::Value) -> Genesis {
        let mut config = config;
        config["chainId"] = json!(1);
        serde_json::from_value(json!({"config": config, "alloc": {}})).unwrap()
    }

    #[test]
    fn the_rule_comes_from_the_genesis() {
        let plain = genesis(json!({}));
        assert_eq!(CocoRules::of(&plain), Ok(CocoRules::default()));
        assert!(!ChainSpec::new(plain).evm().private_balances());

        let private = genesis(json!({"coco": {"privateBalances": true}}));
        assert!(ChainSpec::new(private).evm().private_balances());

        // A consortium chain implies it, and refuses to turn it off.
        let consortium = genesis(json!({"consortium": {}}));
        assert!(ChainSpec::new(consortium).evm().private_balances());
        let off = genesis(json!({"consortium": {}, "coco": {"privateBalances": false}}));
        let err = CocoRules::of(&off).unwrap_err();
        assert!(err.contains("cannot be false"), "{err}");

        // A misspelt rule is an error, not a quiet open chain.
        let typo = genesis(json!({"coco": {"privateBalance": true}}));
        let err = CocoRules::of(&typo).unwrap_err();
        assert!(err.contains("config.coco"), "{err}");
        assert!(ChainSpec::new(typo).evm().private_balances());
    }

    #[test]
    fn written_rules_read_back() {
        let mut g = genesis(json!({}));
        let rules = CocoRules {
            private_balances: true,
            governance: true,
        };
        rules.write(&mut g);
        let text = serde_json::to_string(&g).unwrap();
        let back: Genesis = serde_json::from_str(&text).unwrap();
        assert_eq!(CocoRules::of(&back), Ok(rules));
    }
}
