//! Executing a block someone else built (`coco import`) and checking it against its
//! header.
//!
//! Unlike [`super::build_block`], nothing here is decided locally: the environment comes
//! from the header (beneficiary, difficulty or prevrandao, base fee, blob gas, beacon
//! root), ommers and withdrawals from the body, and every transaction must execute. The
//! result must reproduce the header's gas used, receipts root, bloom, state root and
//! requests hash; the first field that differs is reported with both values. Proof-of-work
//! seals are not checked (test chains carry fake ones); block and ommer rewards are paid.

use std::borrow::Cow;

use alloy::consensus::proofs::{
    calculate_ommers_root, calculate_receipt_root, calculate_transaction_root,
    calculate_withdrawals_root,
};
use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::consensus::{Block, Header, ReceiptEnvelope, Transaction, TxEnvelope};
use alloy::eips::eip4895::Withdrawal;
use alloy::eips::eip7685::Requests;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy_evm::block::BlockExecutor;
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutor};
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use alloy_hardforks::EthereumHardforks;
use rayon::prelude::*;
use revm::context::{BlockEnv, CfgEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::primitives::hardfork::SpecId;

use super::ChainSpec;
use super::block::{receipts_bloom, set_post_states};
use super::db::BlockState;
use crate::state::merkle::{MerkleState, Tries};
use crate::state::{BlockCommit, StateDiff, StateReader, StoredBlock, WriteSet};

/// Why an imported block was refused. Always names the block.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The block does not follow the current head.
    #[error("block {number} ({hash}): {reason}")]
    Sequence {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// What is wrong.
        reason: String,
    },
    /// A transaction's signature does not recover.
    #[error("block {number} ({hash}): transaction {index} has an invalid signature")]
    Signature {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// Index in the block.
        index: usize,
    },
    /// Execution failed (an invalid transaction, a failed system call).
    #[error("block {number} ({hash}): {reason}")]
    Execution {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// revm's or alloy-evm's reason.
        reason: String,
    },
    /// The result differs from what the header claims.
    #[error(
        "block {number} ({hash}): {field} mismatch: header has {expected}, the block gives {got}"
    )]
    Mismatch {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// The header field.
        field: &'static str,
        /// The header's value.
        expected: String,
        /// The computed value.
        got: String,
    },
}

/// The EVM environment a header describes.
pub fn header_evm_env(spec: &ChainSpec, header: &Header) -> EvmEnv {
    let spec_id = spec.spec_id(header.number, header.timestamp);
    let mut cfg = CfgEnv::new_with_spec(spec_id);
    cfg.chain_id = spec.chain_id();
    let blob = spec.blob_params_at(header.timestamp);
    if let Some(params) = &blob {
        cfg.set_max_blobs_per_tx(params.max_blobs_per_tx);
    }
    let block = BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: header.difficulty,
        prevrandao: (spec_id >= SpecId::MERGE).then_some(header.mix_hash),
        blob_excess_gas_and_price: blob.map(|params| {
            BlobExcessGasAndPrice::new(
                header.excess_blob_gas.unwrap_or_default(),
                params.update_fraction as u64,
            )
        }),
        ..Default::default()
    };
    EvmEnv {
        cfg_env: cfg,
        block_env: block,
    }
}

/// Compares a header field with what the block gives.
fn check(
    number: u64,
    hash: B256,
    field: &'static str,
    expected: B256,
    got: B256,
) -> Result<(), ImportError> {
    if expected == got {
        Ok(())
    } else {
        Err(ImportError::Mismatch {
            number,
            hash,
            field,
            expected: expected.to_string(),
            got: got.to_string(),
        })
    }
}

/// What is checked before anything runs: `block` extends `parent`, and its header
/// commits to its transactions, ommers and withdrawals.
fn check_body(parent: &Header, block: &Block<TxEnvelope>, hash: B256) -> Result<(), ImportError> {
    check_parts(
        parent,
        &block.header,
        hash,
        &block.body.transactions,
        &block.body.ommers,
        block.body.withdrawals.as_ref().map(|w| w.as_slice()),
    )
}

/// [`check_body`] over the parts of a block.
fn check_parts(
    parent: &Header,
    header: &Header,
    hash: B256,
    transactions: &[TxEnvelope],
    ommers: &[Header],
    withdrawals: Option<&[Withdrawal]>,
) -> Result<(), ImportError> {
    let number = header.number;
    let parent_hash = parent.hash_slow();
    if number != parent.number + 1 || header.parent_hash != parent_hash {
        return Err(ImportError::Sequence {
            number,
            hash,
            reason: format!(
                "does not extend the head (block {} {parent_hash}); its parent is {}",
                parent.number, header.parent_hash
            ),
        });
    }
    check(
        number,
        hash,
        "transactionsRoot",
        header.transactions_root,
        calculate_transaction_root(transactions),
    )?;
    check(
        number,
        hash,
        "sha3Uncles",
        header.ommers_hash,
        calculate_ommers_root(ommers),
    )?;
    if let Some(withdrawals) = withdrawals {
        check(
            number,
            hash,
            "withdrawalsRoot",
            header.withdrawals_root.unwrap_or_default(),
            calculate_withdrawals_root(withdrawals),
        )?;
    }
    Ok(())
}

/// Every transaction's sender, recovered from its signature (in parallel).
fn recover_senders(
    number: u64,
    hash: B256,
    transactions: &[TxEnvelope],
) -> Result<Vec<Address>, ImportError> {
    transactions
        .par_iter()
        .enumerate()
        .map(|(index, tx)| {
            tx.recover_signer().map_err(|_| ImportError::Signature {
                number,
                hash,
                index,
            })
        })
        .collect()
}

/// What a block built elsewhere ships besides its transactions and that no root of
/// its header covers: the senders (recovered here from the signatures and compared)
/// and each new code's bytes (hashed here and compared with the hash the state holds).
fn check_shipped(
    number: u64,
    hash: B256,
    transactions: &[TxEnvelope],
    senders: &[Address],
    diff: &StateDiff,
) -> Result<(), ImportError> {
    let refused = |reason: String| ImportError::Execution {
        number,
        hash,
        reason,
    };
    if senders.len() != transactions.len() {
        return Err(refused(format!(
            "{} senders for {} transactions",
            senders.len(),
            transactions.len()
        )));
    }
    let recovered = recover_senders(number, hash, transactions)?;
    if let Some(index) = (0..senders.len()).find(|i| senders[*i] != recovered[*i]) {
        return Err(refused(format!(
            "transaction {index}: the sender shipped is not the one its signature gives"
        )));
    }
    if let Some(index) = diff.code.iter().position(|c| keccak256(&c.code) != c.hash) {
        return Err(refused(format!(
            "code entry {index} does not hash to its code hash"
        )));
    }
    Ok(())
}

/// Checks a block as another validator's block log holds it (`stored`, its header
/// blinded, with `diff`) before it is committed on `parent` without executing: the
/// parent, the transactions, ommers and withdrawals roots, the senders and the code.
/// The receipts and state roots are blinded, so the caller, who has the key, checks
/// those.
pub fn check_stored(
    parent: &Header,
    stored: &StoredBlock,
    diff: &StateDiff,
) -> Result<(), ImportError> {
    let header = &stored.header;
    let hash = header.hash_slow();
    check_parts(
        parent,
        header,
        hash,
        &stored.transactions,
        &stored.ommers,
        stored.withdrawals(),
    )?;
    if stored.receipts.len() != stored.transactions.len() {
        return Err(ImportError::Execution {
            number: header.number,
            hash,
            reason: format!(
                "{} receipts for {} transactions",
                stored.receipts.len(),
                stored.transactions.len()
            ),
        });
    }
    check_shipped(
        header.number,
        hash,
        &stored.transactions,
        &stored.senders,
        diff,
    )
}

/// What is checked of the outcome, whoever computed it: the header's gas used, receipts
/// root, bloom and blob gas. (The state root is checked by the caller, which has the
/// state.)
fn check_outcome(
    block: &Block<TxEnvelope>,
    hash: B256,
    receipts: &[ReceiptEnvelope],
    gas_used: u64,
) -> Result<(), ImportError> {
    let header = &block.header;
    let number = header.number;
    let mismatch = |field: &'static str, expected: String, got: String| ImportError::Mismatch {
        number,
        hash,
        field,
        expected,
        got,
    };
    if gas_used != header.gas_used {
        return Err(mismatch(
            "gasUsed",
            header.gas_used.to_string(),
            gas_used.to_string(),
        ));
    }
    check(
        number,
        hash,
        "receiptsRoot",
        header.receipts_root,
        calculate_receipt_root(receipts),
    )?;
    let bloom = receipts_bloom(receipts);
    if bloom != header.logs_bloom {
        return Err(mismatch(
            "logsBloom",
            header.logs_bloom.to_string(),
            bloom.to_string(),
        ));
    }
    if let Some(expected) = header.blob_gas_used {
        let used: u64 = block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.blob_gas_used())
            .sum();
        if used != expected {
            return Err(mismatch(
                "blobGasUsed",
                expected.to_string(),
                used.to_string(),
            ));
        }
    }
    Ok(())
}

/// The block as the store keeps it, from its parts.
fn stored(
    block: Block<TxEnvelope>,
    senders: Vec<Address>,
    receipts: Vec<ReceiptEnvelope>,
) -> StoredBlock {
    let Block { header, body } = block;
    StoredBlock {
        header,
        transactions: body.transactions,
        senders,
        receipts,
        ommers: body.ommers,
        withdrawals: body.withdrawals.map(|w| w.into_inner()).unwrap_or_default(),
    }
}

/// Executes `block` on top of `parent` (the current head, whose state `reader` and
/// `merkle` hold) and checks the outcome against the block's header.
pub fn execute_block(
    reader: &dyn StateReader,
    merkle: &MerkleState,
    spec: &ChainSpec,
    parent: &Header,
    block: Block<TxEnvelope>,
) -> Result<BlockCommit, ImportError> {
    let header = &block.header;
    let number = header.number;
    let hash = header.hash_slow();
    check_body(parent, &block, hash)?;
    let parent_hash = header.parent_hash;

    let senders = recover_senders(number, hash, &block.body.transactions)?;
    let env = header_evm_env(spec, header);
    let spec_id = env.cfg_env.spec;
    let mut db = BlockState::new(reader, parent.number, spec_id);
    if spec.governed() {
        super::system::apply_pending_code(&mut db).map_err(|e| ImportError::Execution {
            number,
            hash,
            reason: e.to_string(),
        })?;
    }
    let evm = spec.evm().create_evm(db, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &block.body.ommers,
        withdrawals: block
            .body
            .withdrawals
            .as_ref()
            .map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(block.body.transactions.len()),
        slot_number: None,
    };
    let execution = |reason: String| ImportError::Execution {
        number,
        hash,
        reason,
    };
    let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
    executor
        .apply_pre_execution_changes()
        .map_err(|e| execution(e.to_string()))?;
    // Before Byzantium a receipt carries the state root after its transaction.
    let byzantium = spec.is_byzantium_active_at_block(number);
    let mut intermediate_roots = Vec::new();
    for (index, (tx, sender)) in block.body.transactions.iter().zip(&senders).enumerate() {
        executor
            .execute_transaction(Recovered::new_unchecked(tx, *sender))
            .map_err(|e| execution(format!("transaction {index} ({}): {e}", tx.tx_hash())))?;
        if !byzantium {
            intermediate_roots.push(merkle.root_with(&executor.evm().db().to_diff()));
        }
    }
    let (evm, result) = executor.finish().map_err(|e| execution(e.to_string()))?;
    let diff = evm.into_db().into_diff();

    let mut receipts = result.receipts;
    set_post_states(&mut receipts, intermediate_roots);
    check_outcome(&block, hash, &receipts, result.gas_used)?;
    if let Some(expected) = block.header.requests_hash {
        check(
            number,
            hash,
            "requestsHash",
            expected,
            result.requests.requests_hash(),
        )?;
    }
    check(
        number,
        hash,
        "stateRoot",
        block.header.state_root,
        merkle.root_with(&diff),
    )?;
    Ok(BlockCommit {
        block: stored(block, senders, receipts),
        diff,
    })
}

/// Checks `block` with the `write_set` its leader computed, on top of `parent` (the
/// current head, whose state `merkle` holds), without executing it: the body, the
/// header's gas used, receipts root, bloom and blob gas against the shipped receipts,
/// its state root against what the diff gives on this node's state, the senders (recovered from the signatures)
/// each new code's hash, and the requests hash against the shipped requests. Returns the
/// commit and the state's tries after it. What only execution could tell (that the
/// transactions produce exactly this diff, these receipts and these requests) is taken
/// from the leader: validators tolerate crashes, not lies (docs/REPLICATION.md).
pub fn apply_write_set(
    merkle: &MerkleState,
    parent: &Header,
    block: Block<TxEnvelope>,
    write_set: WriteSet,
) -> Result<(BlockCommit, Tries), ImportError> {
    let number = block.header.number;
    let hash = block.header.hash_slow();
    check_body(parent, &block, hash)?;
    let count = block.body.transactions.len();
    if write_set.senders.len() != count || write_set.receipts.len() != count {
        return Err(ImportError::Execution {
            number,
            hash,
            reason: format!(
                "the write set has {} senders and {} receipts for {count} transactions",
                write_set.senders.len(),
                write_set.receipts.len()
            ),
        });
    }
    check_shipped(
        number,
        hash,
        &block.body.transactions,
        &write_set.senders,
        &write_set.diff,
    )?;
    let gas_used = write_set
        .receipts
        .last()
        .map_or(0, |r| r.cumulative_gas_used());
    check_outcome(&block, hash, &write_set.receipts, gas_used)?;
    if let Some(expected) = block.header.requests_hash {
        let requests = Requests::from_requests(write_set.requests.iter().cloned());
        check(
            number,
            hash,
            "requestsHash",
            expected,
            requests.requests_hash(),
        )?;
    }
    let tries = merkle.prepare(&write_set.diff);
    check(
        number,
        hash,
        "stateRoot",
        block.header.state_root,
        tries.root(),
    )?;
    let WriteSet {
        senders,
        receipts,
        diff,
        ..
    } = write_set;
    Ok((
        BlockCommit {
            block: stored(block, senders, receipts),
            diff,
        },
        tries,
    ))
}
