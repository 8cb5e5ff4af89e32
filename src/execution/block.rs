//! Building a block from transactions.

use std::borrow::Cow;
use std::collections::HashSet;

use alloy::consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy::consensus::transaction::Recovered;
use alloy::consensus::{EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope, TxReceipt};
use alloy::primitives::{Address, B256, Bloom, Bytes, U256};
use alloy_evm::block::{BlockExecutionError, BlockExecutor, BlockValidationError};
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutor};
use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory};
use alloy_hardforks::EthereumHardforks;
use revm::context::{BlockEnv, CfgEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;

use super::ChainSpec;
use super::db::BlockState;
use crate::state::merkle::MerkleState;
use crate::state::{BlockCommit, StateReader, StoredBlock};

/// What the producer decides about the next block.
#[derive(Debug, Clone)]
pub struct BlockAttributes {
    /// Block number.
    pub number: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// Fee recipient.
    pub beneficiary: Address,
    /// Gas limit.
    pub gas_limit: u64,
    /// EIP-1559 base fee.
    pub base_fee: u64,
    /// `mixHash` / `prevrandao`.
    pub prevrandao: B256,
    /// Header extra data.
    pub extra_data: Bytes,
}

/// A built block and what happened to the transactions offered.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The block and its state diff, ready to commit.
    pub commit: BlockCommit,
    /// Transactions that can never execute at this nonce/state, with geth's reason.
    pub invalid: Vec<(B256, String)>,
    /// Transactions that did not fit and were left for a later block.
    pub deferred: Vec<Recovered<TxEnvelope>>,
}

/// The EVM environment for a block with these attributes.
pub fn evm_env(spec: &ChainSpec, attrs: &BlockAttributes) -> EvmEnv {
    let spec_id = spec.spec_id(attrs.number, attrs.timestamp);
    let mut cfg = CfgEnv::new_with_spec(spec_id);
    cfg.chain_id = spec.chain_id();
    let cancun = spec.is_cancun_active_at_timestamp(attrs.timestamp);
    let block = BlockEnv {
        number: U256::from(attrs.number),
        beneficiary: attrs.beneficiary,
        timestamp: U256::from(attrs.timestamp),
        gas_limit: attrs.gas_limit,
        basefee: attrs.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(attrs.prevrandao),
        blob_excess_gas_and_price: cancun.then(|| BlobExcessGasAndPrice::new_with_spec(0, spec_id)),
        ..Default::default()
    };
    EvmEnv {
        cfg_env: cfg,
        block_env: block,
    }
}

/// Executes `txs` on top of `parent` and returns the block.
///
/// Transactions that revm refuses (stale nonce, no funds) are reported in `invalid` and
/// left out; those that do not fit in the remaining gas come back in `deferred`.
pub fn build_block(
    reader: &dyn StateReader,
    merkle: &MerkleState,
    spec: &ChainSpec,
    parent: &Header,
    attrs: &BlockAttributes,
    txs: Vec<Recovered<TxEnvelope>>,
) -> Result<BuiltBlock, BlockExecutionError> {
    let env = evm_env(spec, attrs);
    let spec_id = env.cfg_env.spec;
    let db = BlockState::new(reader, parent.number, spec_id);
    let evm = EthEvmFactory::default().create_evm(db, env);
    let cancun = spec.is_cancun_active_at_timestamp(attrs.timestamp);
    let shanghai = spec.is_shanghai_active_at_timestamp(attrs.timestamp);
    let parent_hash = parent.hash_slow();
    let ctx = EthBlockExecutionCtx {
        parent_hash,
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        ommers: &[],
        withdrawals: shanghai.then_some(Cow::Owned(Vec::new())),
        extra_data: attrs.extra_data.clone(),
        tx_count_hint: Some(txs.len()),
        slot_number: None,
    };
    let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
    executor.apply_pre_execution_changes()?;

    let mut included = Vec::with_capacity(txs.len());
    let mut invalid = Vec::new();
    let mut deferred = Vec::new();
    let mut txs = txs.into_iter();
    // Senders whose transaction could not run here: their later nonces wait too.
    let mut held: HashSet<Address> = HashSet::new();
    for tx in txs.by_ref() {
        if held.contains(&tx.signer()) {
            deferred.push(tx);
            continue;
        }
        match executor.execute_transaction(tx.as_recovered_ref()) {
            Ok(_) => included.push(tx),
            Err(BlockExecutionError::Validation(
                BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
            )) => {
                deferred.push(tx);
                break;
            }
            Err(BlockExecutionError::Validation(BlockValidationError::InvalidTx {
                hash,
                error,
            })) => {
                held.insert(tx.signer());
                // A stale nonce can never run: drop it. Anything else (fee cap below a
                // risen base fee, funds spent meanwhile) may run later: keep it pooled,
                // as geth does.
                if error.is_nonce_too_low() {
                    invalid.push((hash, error.to_string()));
                } else {
                    deferred.push(tx);
                }
            }
            Err(other) => return Err(other),
        }
    }
    deferred.extend(txs);

    let (evm, result) = executor.finish()?;
    let diff = evm.into_db().into_diff();

    let receipts = result.receipts;
    let logs_bloom = receipts.iter().fold(Bloom::ZERO, |mut bloom, r| {
        bloom.accrue_bloom(&r.bloom());
        bloom
    });
    let prague = spec.is_prague_active_at_timestamp(attrs.timestamp);
    let london = spec.is_london_active_at_block(attrs.number);
    let (transactions, senders): (Vec<TxEnvelope>, Vec<Address>) = included
        .into_iter()
        .map(|tx| {
            let (tx, sender) = tx.into_parts();
            (tx, sender)
        })
        .unzip();
    let header = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: attrs.beneficiary,
        state_root: merkle.root_with(&diff),
        transactions_root: calculate_transaction_root(&transactions),
        receipts_root: calculate_receipt_root(&receipts),
        logs_bloom,
        difficulty: U256::ZERO,
        number: attrs.number,
        gas_limit: attrs.gas_limit,
        gas_used: result.gas_used,
        timestamp: attrs.timestamp,
        extra_data: attrs.extra_data.clone(),
        mix_hash: attrs.prevrandao,
        nonce: Default::default(),
        base_fee_per_gas: london.then_some(attrs.base_fee),
        withdrawals_root: shanghai.then_some(alloy::trie::EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then_some(0),
        excess_blob_gas: cancun.then_some(0),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then(|| result.requests.requests_hash()),
        ..Default::default()
    };
    Ok(BuiltBlock {
        commit: BlockCommit {
            block: StoredBlock {
                header,
                transactions,
                senders,
                receipts,
                ommers: vec![],
                withdrawals: vec![],
            },
            diff,
        },
        invalid,
        deferred,
    })
}
