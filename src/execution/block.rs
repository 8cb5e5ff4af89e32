//! Building a block from transactions.

use std::borrow::Cow;
use std::collections::HashSet;

use alloy::consensus::proofs::{
    calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root,
};
use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, ReceiptEnvelope, Transaction, TxEnvelope, TxReceipt,
};
use alloy::eips::eip4895::Withdrawal;
use alloy::eips::eip7685::Requests;
use alloy::primitives::{Address, B256, Bloom, Bytes, U256};
use alloy_evm::block::{
    BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockValidationError,
};
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutor};
use alloy_evm::{Evm, EvmFactory};
use alloy_hardforks::EthereumHardforks;

use super::ChainSpec;
use super::db::BlockState;
use super::import::header_evm_env;
use crate::state::merkle::{MerkleState, Tries};
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
    /// The beacon block root the EIP-4788 contract records (from Cancun; the node's own
    /// blocks use zero, having no beacon chain).
    pub parent_beacon_block_root: B256,
    /// Withdrawals to credit (from Shanghai; none in the node's own blocks).
    pub withdrawals: Vec<Withdrawal>,
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
    /// The state's tries after the block (the header's state root), for the store.
    pub tries: Tries,
    /// The EIP-7685 execution requests (deposits, withdrawals, consolidations) the
    /// block's `requestsHash` commits to; empty before Prague.
    pub requests: Requests,
}

/// The header of the block `attrs` describe on top of `parent`, before execution: the
/// roots, bloom and gas used are filled in once the transactions have run.
pub fn pending_header(spec: &ChainSpec, parent: &Header, attrs: &BlockAttributes) -> Header {
    let london = spec.is_london_active_at_block(attrs.number);
    let shanghai = spec.is_shanghai_active_at_timestamp(attrs.timestamp);
    let cancun = spec.is_cancun_active_at_timestamp(attrs.timestamp);
    let excess_blob_gas = spec.blob_params_at(attrs.timestamp).map(|params| {
        parent
            .next_block_excess_blob_gas(params)
            .unwrap_or_default()
    });
    Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: attrs.beneficiary,
        difficulty: U256::ZERO,
        number: attrs.number,
        gas_limit: attrs.gas_limit,
        timestamp: attrs.timestamp,
        extra_data: attrs.extra_data.clone(),
        mix_hash: attrs.prevrandao,
        base_fee_per_gas: london.then_some(attrs.base_fee),
        withdrawals_root: shanghai.then(|| calculate_withdrawals_root(&attrs.withdrawals)),
        blob_gas_used: cancun.then_some(0),
        excess_blob_gas,
        parent_beacon_block_root: cancun.then_some(attrs.parent_beacon_block_root),
        ..Default::default()
    }
}

/// The logs bloom of a block: the union of its receipts' blooms.
pub fn receipts_bloom(receipts: &[ReceiptEnvelope]) -> Bloom {
    receipts.iter().fold(Bloom::ZERO, |mut bloom, r| {
        bloom.accrue_bloom(&r.bloom());
        bloom
    })
}

/// Replaces receipts' statuses with pre-Byzantium post-state roots, one per receipt.
pub fn set_post_states(receipts: &mut [ReceiptEnvelope], roots: Vec<B256>) {
    for (receipt, root) in receipts.iter_mut().zip(roots) {
        if let Some(with_bloom) = receipt.as_receipt_with_bloom_mut() {
            with_bloom.receipt.status = Eip658Value::PostState(root);
        }
    }
}

/// Fills the header fields execution decides — state root (given), transactions and
/// receipts roots, bloom, gas used, blob gas used (from Cancun), requests hash (from
/// Prague) — from the block's transactions and its execution result.
pub fn finish_header(
    header: &mut Header,
    spec: &ChainSpec,
    state_root: B256,
    transactions: &[TxEnvelope],
    result: &BlockExecutionResult<ReceiptEnvelope>,
) {
    header.state_root = state_root;
    header.transactions_root = calculate_transaction_root(transactions);
    header.receipts_root = calculate_receipt_root(&result.receipts);
    header.logs_bloom = receipts_bloom(&result.receipts);
    header.gas_used = result.gas_used;
    if header.blob_gas_used.is_some() {
        header.blob_gas_used = Some(result.blob_gas_used);
    }
    header.requests_hash = spec
        .is_prague_active_at_timestamp(header.timestamp)
        .then(|| result.requests.requests_hash());
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
    let mut header = pending_header(spec, parent, attrs);
    let env = header_evm_env(spec, &header);
    let spec_id = env.cfg_env.spec;
    // Blob gas the block may still use.
    let mut blob_gas_left = spec
        .blob_params_at(attrs.timestamp)
        .map_or(0, |p| p.max_blob_gas_per_block());
    let mut db = BlockState::new(reader, parent.number, spec_id);
    if spec.governed() {
        super::system::apply_pending_code(&mut db).map_err(BlockExecutionError::other)?;
    }
    let evm = spec.evm().create_evm(db, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &[],
        withdrawals: header
            .withdrawals_root
            .is_some()
            .then_some(Cow::Borrowed(attrs.withdrawals.as_slice())),
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
        let blob_gas = tx.blob_gas_used().unwrap_or_default();
        if blob_gas > blob_gas_left {
            // The block's blobs are full: this sender's later nonces wait too.
            held.insert(tx.signer());
            deferred.push(tx);
            continue;
        }
        match executor.execute_transaction(tx.as_recovered_ref()) {
            Ok(_) => {
                blob_gas_left -= blob_gas;
                included.push(tx);
                // An accepted proposal may change who is admitted: the block ends here
                // and the rest is checked against the new tables.
                if spec.governed()
                    && executor
                        .receipts()
                        .last()
                        .is_some_and(|r| super::system::accepted_a_proposal(r.logs()))
                {
                    break;
                }
            }
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

    let (transactions, senders): (Vec<TxEnvelope>, Vec<Address>) = included
        .into_iter()
        .map(|tx| {
            let (tx, sender) = tx.into_parts();
            (tx, sender)
        })
        .unzip();
    let tries = merkle.prepare(&diff);
    finish_header(&mut header, spec, tries.root(), &transactions, &result);
    let receipts = result.receipts;
    let withdrawals = match header.withdrawals_root {
        Some(_) => attrs.withdrawals.clone(),
        None => Vec::new(),
    };
    Ok(BuiltBlock {
        commit: BlockCommit {
            block: StoredBlock {
                header,
                transactions,
                senders,
                receipts,
                ommers: vec![],
                withdrawals,
            },
            diff,
        },
        invalid,
        deferred,
        tries,
        requests: result.requests,
    })
}
