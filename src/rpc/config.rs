//! What the node is and serves: `eth_config` (EIP-7910: the fork in force, the next
//! and the last scheduled one) and `eth_capabilities` (the head and the history each
//! kind of read can reach).
//!
//! A fork's configuration is derived from the chain spec, the same one execution runs
//! on: the precompiles are revm's set for the fork, the blob schedule the one blocks are
//! built with, the fork id EIP-2124's hash over the genesis hash and every fork block
//! and time up to the fork (EIP-6122).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::eips::eip7840::BlobParams;
use alloy::eips::eip7910::{EthConfig, EthForkConfig, SystemContract};
use alloy::primitives::{Address, B256, U64, address};
use alloy_hardforks::{
    EthereumHardfork, EthereumHardforks, ForkCondition, ForkFilter, ForkFilterKey, Head,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use revm::precompile::{PrecompileSpecId, Precompiles};
use serde::Serialize;

use super::error::RpcError;
use crate::chain::{Chain, ChainSpec};

/// `eth_config` and `eth_capabilities`.
#[rpc(server, namespace = "eth")]
pub trait ConfigApi {
    /// The current fork's configuration, and the next and last scheduled ones (EIP-7910).
    #[method(name = "config")]
    fn config(&self) -> RpcResult<EthConfig>;
    /// The head block and, per kind of data, how far back the node serves it.
    #[method(name = "capabilities")]
    fn capabilities(&self) -> RpcResult<Capabilities>;
}

/// `eth_capabilities`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The newest block.
    pub head: CapabilitiesHead,
    /// Account state (`eth_getBalance`, `eth_call`, …).
    pub state: Retention,
    /// Transactions by hash or position.
    pub tx: Retention,
    /// Logs (`eth_getLogs`, filters).
    pub logs: Retention,
    /// Receipts.
    pub receipts: Retention,
    /// Headers and bodies.
    pub blocks: Retention,
    /// Merkle proofs (`eth_getProof`).
    pub stateproofs: Retention,
}

/// The head block of [`Capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapabilitiesHead {
    /// Its number.
    pub number: U64,
    /// Its hash.
    pub hash: B256,
}

/// How far back one kind of data is served. coco prunes nothing: from genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// Whether the node serves this kind of data at all.
    pub disabled: bool,
    /// The oldest block it is served for.
    pub oldest_block: U64,
}

impl Retention {
    const FROM_GENESIS: Self = Self {
        disabled: false,
        oldest_block: U64::ZERO,
    };
}

/// The configuration methods over a chain.
#[derive(Debug, Clone)]
pub struct ConfigRpc {
    chain: Arc<Chain>,
}

impl ConfigRpc {
    /// The methods over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

impl ConfigApiServer for ConfigRpc {
    fn config(&self) -> RpcResult<EthConfig> {
        let genesis = self
            .chain
            .store()
            .block(0)
            .map_err(RpcError::from)?
            .ok_or(RpcError::HeaderNotFound)?;
        let head = self.chain.head().header.timestamp;
        Ok(eth_config(
            self.chain.spec(),
            genesis.header.hash_slow(),
            genesis.header.timestamp,
            head,
        )?)
    }

    fn capabilities(&self) -> RpcResult<Capabilities> {
        let head = self.chain.head();
        Ok(Capabilities {
            head: CapabilitiesHead {
                number: U64::from(head.header.number),
                hash: head.header.hash_slow(),
            },
            state: Retention::FROM_GENESIS,
            tx: Retention::FROM_GENESIS,
            logs: Retention::FROM_GENESIS,
            receipts: Retention::FROM_GENESIS,
            blocks: Retention::FROM_GENESIS,
            stateproofs: Retention::FROM_GENESIS,
        })
    }
}

/// The forks EIP-7910 describes (those from Cancun on, scheduled by time), in order.
const CONFIG_FORKS: [EthereumHardfork; 9] = [
    EthereumHardfork::Cancun,
    EthereumHardfork::Prague,
    EthereumHardfork::Osaka,
    EthereumHardfork::Bpo1,
    EthereumHardfork::Bpo2,
    EthereumHardfork::Bpo3,
    EthereumHardfork::Bpo4,
    EthereumHardfork::Bpo5,
    EthereumHardfork::Amsterdam,
];

/// `eth_config` for a chain whose genesis has `genesis_hash` and `genesis_time`, with
/// the head at `head_time`.
pub fn eth_config(
    spec: &ChainSpec,
    genesis_hash: B256,
    genesis_time: u64,
    head_time: u64,
) -> Result<EthConfig, RpcError> {
    // Activation times of the scheduled forks, ascending; a later fork at the same time
    // supersedes an earlier one.
    let mut times: Vec<u64> = CONFIG_FORKS
        .iter()
        .filter_map(|fork| match spec.ethereum_fork_activation(*fork) {
            ForkCondition::Timestamp(t) => Some(t),
            _ => None,
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    let current = times
        .iter()
        .rev()
        .find(|t| **t <= head_time)
        .ok_or(RpcError::ForkNotActive("Cancun (eth_config)"))?;
    let next = times.iter().find(|t| **t > head_time);
    let fork = |time: u64| fork_config(spec, genesis_hash, genesis_time, time);
    Ok(EthConfig {
        current: fork(*current),
        next: next.map(|t| fork(*t)),
        last: next.and(times.last()).map(|t| fork(*t)),
    })
}

/// The configuration of the fork that activates at `time`.
fn fork_config(
    spec: &ChainSpec,
    genesis_hash: B256,
    genesis_time: u64,
    time: u64,
) -> EthForkConfig {
    // Post-merge forks activate by time; any block number past the merge selects them.
    let spec_id = spec.spec_id(u64::MAX, time);
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(spec_id))
        .addresses()
        .filter_map(|a| precompile_name(a).map(|name| (name.to_string(), *a)))
        .collect();
    let mut system_contracts: BTreeMap<SystemContract, Address> =
        SystemContract::cancun().into_iter().collect();
    if spec.is_prague_active_at_timestamp(time) {
        system_contracts.extend(SystemContract::prague(
            spec.genesis.config.deposit_contract_address,
        ));
    }
    if spec.is_amsterdam_active_at_timestamp(time) {
        system_contracts.extend(SystemContract::amsterdam());
    }
    EthForkConfig {
        activation_time: if time <= genesis_time { 0 } else { time },
        // Every fork described here is Cancun or later: blob parameters are in force.
        blob_schedule: spec.blob_params_at(time).unwrap_or_else(BlobParams::cancun),
        chain_id: spec.chain_id(),
        fork_id: fork_hash(spec, genesis_hash, genesis_time, time)
            .0
            .to_vec()
            .into(),
        precompiles,
        system_contracts,
    }
}

/// EIP-2124's fork hash with every fork activated by `time` (block forks all count).
fn fork_hash(
    spec: &ChainSpec,
    genesis_hash: B256,
    genesis_time: u64,
    time: u64,
) -> alloy_hardforks::ForkHash {
    let mut forks: Vec<ForkFilterKey> = EthereumHardfork::VARIANTS
        .iter()
        .filter_map(|fork| match spec.ethereum_fork_activation(*fork) {
            ForkCondition::Block(n) => Some(ForkFilterKey::Block(n)),
            ForkCondition::Timestamp(t) => Some(ForkFilterKey::Time(t)),
            _ => None,
        })
        .collect();
    // geth counts EIP-155's block as a fork of its own (usually Spurious Dragon's).
    forks.extend(spec.genesis.config.eip155_block.map(ForkFilterKey::Block));
    let head = Head {
        number: u64::MAX,
        timestamp: time,
        ..Default::default()
    };
    ForkFilter::new(head, genesis_hash, genesis_time, forks)
        .current()
        .hash
}

/// EIP-7910's name of the precompile at `address`.
fn precompile_name(address: &Address) -> Option<&'static str> {
    const NAMES: [(Address, &str); 18] = [
        (
            address!("0x0000000000000000000000000000000000000001"),
            "ECREC",
        ),
        (
            address!("0x0000000000000000000000000000000000000002"),
            "SHA256",
        ),
        (
            address!("0x0000000000000000000000000000000000000003"),
            "RIPEMD160",
        ),
        (address!("0x0000000000000000000000000000000000000004"), "ID"),
        (
            address!("0x0000000000000000000000000000000000000005"),
            "MODEXP",
        ),
        (
            address!("0x0000000000000000000000000000000000000006"),
            "BN254_ADD",
        ),
        (
            address!("0x0000000000000000000000000000000000000007"),
            "BN254_MUL",
        ),
        (
            address!("0x0000000000000000000000000000000000000008"),
            "BN254_PAIRING",
        ),
        (
            address!("0x0000000000000000000000000000000000000009"),
            "BLAKE2F",
        ),
        (
            address!("0x000000000000000000000000000000000000000a"),
            "KZG_POINT_EVALUATION",
        ),
        (
            address!("0x000000000000000000000000000000000000000b"),
            "BLS12_G1ADD",
        ),
        (
            address!("0x000000000000000000000000000000000000000c"),
            "BLS12_G1MSM",
        ),
        (
            address!("0x000000000000000000000000000000000000000d"),
            "BLS12_G2ADD",
        ),
        (
            address!("0x000000000000000000000000000000000000000e"),
            "BLS12_G2MSM",
        ),
        (
            address!("0x000000000000000000000000000000000000000f"),
            "BLS12_PAIRING_CHECK",
        ),
        (
            address!("0x0000000000000000000000000000000000000010"),
            "BLS12_MAP_FP_TO_G1",
        ),
        (
            address!("0x0000000000000000000000000000000000000011"),
            "BLS12_MAP_FP2_TO_G2",
        ),
        (
            address!("0x0000000000000000000000000000000000000100"),
            "P256VERIFY",
        ),
    ];
    NAMES
        .iter()
        .find(|(a, _)| a == address)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::b256;

    /// The conformance suite's chain: every fork from Homestead to BPO2.
    fn suite_spec() -> ChainSpec {
        let genesis = serde_json::json!({
            "config": {
                "chainId": 3503995874084926u64,
                "homesteadBlock": 0, "eip150Block": 3, "eip155Block": 6, "eip158Block": 6,
                "byzantiumBlock": 9, "constantinopleBlock": 12, "petersburgBlock": 15,
                "istanbulBlock": 18, "muirGlacierBlock": 21, "berlinBlock": 24,
                "londonBlock": 27, "arrowGlacierBlock": 30, "grayGlacierBlock": 33,
                "mergeNetsplitBlock": 36, "shanghaiTime": 390, "cancunTime": 420,
                "pragueTime": 450, "osakaTime": 480, "bpo1Time": 510, "bpo2Time": 540,
                "terminalTotalDifficulty": 4732352,
                "depositContractAddress": "0x0000000000000000000000000000000000000000",
                "blobSchedule": {
                    "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477},
                    "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
                    "osaka": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
                    "bpo1": {"target": 10, "max": 15, "baseFeeUpdateFraction": 8346193},
                    "bpo2": {"target": 14, "max": 21, "baseFeeUpdateFraction": 11684671}
                }
            },
            "alloc": {}
        });
        ChainSpec::new(serde_json::from_value(genesis).unwrap())
    }

    const SUITE_GENESIS: B256 =
        b256!("0x44fd89d504659cd58f48f4796b77a7e7012cf296a2409afa2f6c3cb99b5b3d99");

    #[test]
    fn config_of_the_conformance_chain_at_its_head() {
        let config = eth_config(&suite_spec(), SUITE_GENESIS, 0, 540).unwrap();
        let expected = serde_json::json!({
            "current": {
                "activationTime": 540,
                "blobSchedule": {"target": 14, "max": 21, "baseFeeUpdateFraction": 11684671},
                "chainId": "0xc72dd9d5e883e",
                "forkId": "0xe272ecbe",
                "precompiles": {
                    "BLAKE2F": "0x0000000000000000000000000000000000000009",
                    "BLS12_G1ADD": "0x000000000000000000000000000000000000000b",
                    "BLS12_G1MSM": "0x000000000000000000000000000000000000000c",
                    "BLS12_G2ADD": "0x000000000000000000000000000000000000000d",
                    "BLS12_G2MSM": "0x000000000000000000000000000000000000000e",
                    "BLS12_MAP_FP2_TO_G2": "0x0000000000000000000000000000000000000011",
                    "BLS12_MAP_FP_TO_G1": "0x0000000000000000000000000000000000000010",
                    "BLS12_PAIRING_CHECK": "0x000000000000000000000000000000000000000f",
                    "BN254_ADD": "0x0000000000000000000000000000000000000006",
                    "BN254_MUL": "0x0000000000000000000000000000000000000007",
                    "BN254_PAIRING": "0x0000000000000000000000000000000000000008",
                    "ECREC": "0x0000000000000000000000000000000000000001",
                    "ID": "0x0000000000000000000000000000000000000004",
                    "KZG_POINT_EVALUATION": "0x000000000000000000000000000000000000000a",
                    "MODEXP": "0x0000000000000000000000000000000000000005",
                    "P256VERIFY": "0x0000000000000000000000000000000000000100",
                    "RIPEMD160": "0x0000000000000000000000000000000000000003",
                    "SHA256": "0x0000000000000000000000000000000000000002"
                },
                "systemContracts": {
                    "BEACON_ROOTS_ADDRESS": "0x000f3df6d732807ef1319fb7b8bb8522d0beac02",
                    "CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS": "0x0000bbddc7ce488642fb579f8b00f3a590007251",
                    "DEPOSIT_CONTRACT_ADDRESS": "0x0000000000000000000000000000000000000000",
                    "HISTORY_STORAGE_ADDRESS": "0x0000f90827f1c53a10cb7a02335b175320002935",
                    "WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS": "0x00000961ef480eb55e80d19ad83579a64c007002"
                }
            },
            "next": null,
            "last": null
        });
        assert_eq!(serde_json::to_value(config).unwrap(), expected);
    }

    #[test]
    fn next_and_last_are_the_scheduled_forks() {
        let config = eth_config(&suite_spec(), SUITE_GENESIS, 0, 455).unwrap();
        assert_eq!(config.current.activation_time, 450);
        assert_eq!(config.current.blob_schedule.max_blob_count, 9);
        assert!(!config.current.precompiles.contains_key("P256VERIFY"));
        assert_eq!(config.next.unwrap().activation_time, 480);
        assert_eq!(config.last.unwrap().activation_time, 540);
        let cancun = eth_config(&suite_spec(), SUITE_GENESIS, 0, 420)
            .unwrap()
            .current;
        assert_eq!(cancun.system_contracts.len(), 1);
        assert!(!cancun.precompiles.contains_key("BLS12_G1ADD"));
        assert!(matches!(
            eth_config(&suite_spec(), SUITE_GENESIS, 0, 419),
            Err(RpcError::ForkNotActive(_))
        ));
    }
}
