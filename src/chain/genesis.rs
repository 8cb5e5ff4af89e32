//! The genesis block from a geth-style genesis file.

use alloy::consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy::genesis::Genesis;
use alloy::primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy::trie::EMPTY_ROOT_HASH;
use alloy_hardforks::EthereumHardforks;

use super::ChainSpec;
use crate::state::merkle::MerkleState;
use crate::state::{
    AccountChange, AccountRecord, BlockCommit, CodeEntry, SlotChange, StateDiff, StoredBlock,
};

/// The dev genesis shipped with coco (chain 31337, every fork active, predeploys).
pub const DEV_GENESIS: &str = include_str!("../../genesis/dev.json");

/// Parses a genesis file's text, with its `coco` section ([`crate::execution::CocoRules`]);
/// a `consortium` section places the governance contract in `alloc`
/// ([`crate::governance::genesis::place`]).
pub fn parse_genesis(text: &str) -> Result<Genesis, serde_json::Error> {
    let mut genesis: Genesis = serde_json::from_str(text)?;
    crate::execution::CocoRules::of(&genesis).map_err(serde::de::Error::custom)?;
    crate::governance::genesis::place(&mut genesis).map_err(serde::de::Error::custom)?;
    Ok(genesis)
}

/// Adds prefunded accounts to a genesis (dev accounts).
pub fn fund(genesis: &mut Genesis, accounts: impl IntoIterator<Item = Address>, balance: U256) {
    for address in accounts {
        genesis.alloc.entry(address).or_default().balance = balance;
    }
}

/// Block 0 and its state, as the store persists them.
pub fn genesis_commit(spec: &ChainSpec) -> BlockCommit {
    let genesis = &spec.genesis;
    let mut code = Vec::new();
    let mut accounts: Vec<AccountChange> = genesis
        .alloc
        .iter()
        .map(|(address, account)| {
            let code_hash = match account.code.as_ref().filter(|c| !c.is_empty()) {
                Some(bytes) => {
                    let hash = keccak256(bytes);
                    code.push(CodeEntry {
                        hash,
                        code: bytes.clone(),
                    });
                    hash
                }
                None => KECCAK256_EMPTY,
            };
            let mut storage: Vec<SlotChange> = account
                .storage
                .iter()
                .flatten()
                .map(|(k, v)| SlotChange {
                    key: U256::from_be_bytes(k.0),
                    value: U256::from_be_bytes(v.0),
                })
                .filter(|s| !s.value.is_zero())
                .collect();
            storage.sort_unstable_by_key(|s| s.key);
            AccountChange {
                address: *address,
                record: AccountRecord {
                    nonce: account.nonce.unwrap_or_default(),
                    balance: account.balance,
                    code_hash,
                    incarnation: 0,
                    exists: true,
                },
                storage,
            }
        })
        .collect();
    accounts.sort_unstable_by_key(|a| a.address);
    code.sort_unstable_by_key(|c| c.hash);
    code.dedup_by_key(|c| c.hash);
    let diff = StateDiff { accounts, code };

    let ts = genesis.timestamp;
    let london = spec.is_london_active_at_block(0);
    let shanghai = spec.is_shanghai_active_at_timestamp(ts);
    let cancun = spec.is_cancun_active_at_timestamp(ts);
    let prague = spec.is_prague_active_at_timestamp(ts);
    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: MerkleState::default().root_with(&diff),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: ts,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: london.then(|| {
            genesis
                .base_fee_per_gas
                .map(|f| f as u64)
                .unwrap_or(alloy::eips::eip1559::INITIAL_BASE_FEE)
        }),
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(alloy::eips::eip7685::EMPTY_REQUESTS_HASH),
        ..Default::default()
    };
    BlockCommit {
        block: StoredBlock {
            header,
            transactions: vec![],
            senders: vec![],
            receipts: vec![],
            ommers: vec![],
            withdrawals: vec![],
        },
        diff,
    }
}
