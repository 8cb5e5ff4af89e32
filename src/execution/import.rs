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
use alloy::consensus::{Block, Header, Transaction, TxEnvelope};
use alloy::primitives::{Address, B256, U256};
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
use crate::state::merkle::MerkleState;
use crate::state::{BlockCommit, StateReader, StoredBlock};

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
        "block {number} ({hash}): {field} mismatch: header has {expected}, execution gives {got}"
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
    let mismatch = |field: &'static str, expected: String, got: String| ImportError::Mismatch {
        number,
        hash,
        field,
        expected,
        got,
    };
    let check = |field: &'static str, expected: B256, got: B256| {
        if expected == got {
            Ok(())
        } else {
            Err(mismatch(field, expected.to_string(), got.to_string()))
        }
    };
    check(
        "transactionsRoot",
        header.transactions_root,
        calculate_transaction_root(&block.body.transactions),
    )?;
    check(
        "sha3Uncles",
        header.ommers_hash,
        calculate_ommers_root(&block.body.ommers),
    )?;
    if let Some(withdrawals) = &block.body.withdrawals {
        check(
            "withdrawalsRoot",
            header.withdrawals_root.unwrap_or_default(),
            calculate_withdrawals_root(withdrawals),
        )?;
    }

    let senders: Vec<Address> = block
        .body
        .transactions
        .par_iter()
        .enumerate()
        .map(|(index, tx)| {
            tx.recover_signer().map_err(|_| ImportError::Signature {
                number,
                hash,
                index,
            })
        })
        .collect::<Result<_, _>>()?;

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
    if result.gas_used != header.gas_used {
        return Err(mismatch(
            "gasUsed",
            header.gas_used.to_string(),
            result.gas_used.to_string(),
        ));
    }
    check(
        "receiptsRoot",
        header.receipts_root,
        calculate_receipt_root(&receipts),
    )?;
    let bloom = receipts_bloom(&receipts);
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
    if let Some(expected) = header.requests_hash {
        check("requestsHash", expected, result.requests.requests_hash())?;
    }
    check("stateRoot", header.state_root, merkle.root_with(&diff))?;

    let Block { header, body } = block;
    Ok(BlockCommit {
        block: StoredBlock {
            header,
            transactions: body.transactions,
            senders,
            receipts,
            ommers: body.ommers,
            withdrawals: body.withdrawals.map(|w| w.into_inner()).unwrap_or_default(),
        },
        diff,
    })
}
