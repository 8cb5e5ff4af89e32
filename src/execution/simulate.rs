//! `eth_simulateV1`: a sequence of blocks, each with its own header and state overrides
//! and a list of calls, simulated on top of a block of the chain as geth simulates them.
//!
//! The blocks are settled first ([`plan`]): a block's number defaults to the previous
//! one's plus one and its time to twelve seconds later, both must increase, and gaps
//! between numbers are filled with empty blocks. Each block then runs through alloy-evm's Ethereum block executor (the
//! same system calls, receipts and requests as a mined block) over one [`BlockState`]
//! overlay that carries the state from block to block and is never committed. The state
//! root of each block is the Merkle-Patricia root of the base state ([`MerkleState`])
//! with the overlay laid over it, so headers and hashes are those of the blocks a real
//! chain would hold.
//!
//! Calls are unsigned transactions (zero signature) built from the requests as geth
//! builds them: EIP-1559 unless they carry a gas price (legacy), blob hashes (EIP-4844)
//! or authorizations (EIP-7702). A missing nonce is the sender's, a missing gas limit is
//! what is left of the block, and every call's gas comes out of one budget (the call gas
//! cap) for the whole simulation. Without `validation`, nonces are not checked and the
//! base fee is zero unless overridden (fee-less calls skip the base-fee check, as
//! `eth_call`); with it, the base fee follows EIP-1559 and every transaction check of a
//! real block applies. A call that reverts or halts is a result with an error, not an
//! error of the whole request; a transaction that could not be included at all is.
//!
//! With `traceTransfers`, ether transfers appear among the logs as ERC-7528 `Transfer`
//! events from `0xEeee…EEeE` ([`tracer`]).

mod plan;
mod tracer;
mod transaction;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{Header, TxEnvelope};
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::rpc::types::TransactionRequest;

use super::block::{BlockAttributes, finish_header, pending_header, set_post_states};
use alloy::rpc::types::simulate::{SimCallResult, SimulatePayload};
use alloy::rpc::types::state::StateOverride;
use alloy_evm::block::BlockExecutor;
use alloy_evm::eth::EthEvm;
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutor};
use alloy_evm::precompiles::PrecompilesMap;
use alloy_evm::{Evm, EvmFactory, FromRecoveredTx};
use alloy_hardforks::EthereumHardforks;
use revm::context::TxEnv;
use revm::context_interface::result::{ExecutionResult, HaltReason};
use revm::context_interface::{ContextTr, JournalTr};
use revm::database_interface::{Database, DatabaseCommit};
use revm::primitives::{AddressMap, AddressSet};
use revm::state::{Account, AccountInfo, Bytecode};

use super::ChainSpec;
use super::call::{CallLimits, Deadline};
use super::db::{BlockState, DbError};
use super::import::header_evm_env;
use super::overrides::OverrideError;
use crate::state::merkle::MerkleState;
use crate::state::{StateReader, StoredBlock};
use plan::PlannedBlock;
use tracer::LogCollector;
use transaction::{build_transaction, call_result, check_fee_cap, check_nonce, transaction_error};

/// What kind of refusal a simulation ended with; each has its JSON-RPC code (geth's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulateFailure {
    /// A transaction's nonce is below the sender's (validation only).
    NonceTooLow,
    /// A transaction's nonce is above the sender's (validation only).
    NonceTooHigh,
    /// A fee cap below the block's base fee.
    BaseFeeTooLow,
    /// A gas limit below the transaction's intrinsic gas.
    IntrinsicGas,
    /// The sender cannot pay for gas and value.
    InsufficientFunds,
    /// The calls of a block need more gas than the block has.
    BlockGasLimit,
    /// Block numbers do not increase.
    BlockNumberOrder,
    /// Block timestamps do not increase.
    TimestampOrder,
    /// The sender has code (never raised: simulations skip the EOA check, as geth).
    SenderNotEoa,
    /// Init code above the EIP-3860 limit.
    InitCodeTooLarge,
    /// More blocks than a simulation may produce.
    TooManyBlocks,
    /// A malformed request (conflicting fields, a missing `to`, a tip above the fee cap).
    InvalidParams,
    /// A request geth refuses with its generic error (chain id mismatch, a bad state
    /// override such as moving an account that is not a precompile).
    Rejected,
    /// Any other transaction refusal (geth reports these as internal errors).
    OtherInvalid,
}

/// Why `eth_simulateV1` produced no blocks.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The request or one of its transactions was refused.
    #[error("{message}")]
    Refused {
        /// The refusal's class.
        kind: SimulateFailure,
        /// geth's wording.
        message: String,
    },
    /// The simulation ran past its time limit.
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
    /// The store failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Block execution failed for a reason that is not the request's fault.
    #[error("simulation failed: {0}")]
    Execution(String),
}

impl SimulateError {
    fn refused(kind: SimulateFailure, message: String) -> Self {
        Self::Refused { kind, message }
    }
}

/// One simulated block: the block as a mined one would be stored, and its calls' results.
#[derive(Debug, Clone)]
pub struct SimulatedBlockOutput {
    /// Header, transactions (unsigned), senders and receipts.
    pub block: StoredBlock,
    /// One result per call, logs carrying the block's hash.
    pub calls: Vec<SimCallResult>,
}

/// Simulates `payload` on top of block `base`, whose state `reader` reads and `merkle`
/// holds the Merkle-Patricia leaves of. Nothing is written anywhere.
///
/// `limits.gas_cap` is the gas all calls together may use; `limits.timeout` bounds the
/// whole simulation. `seal` finishes each header before it is hashed, as the chain
/// finishes the headers it publishes (header blinding under the confidential policy).
pub fn simulate(
    reader: &dyn StateReader,
    merkle: &MerkleState,
    spec: &ChainSpec,
    base: &Header,
    payload: SimulatePayload,
    limits: CallLimits,
    seal: &dyn Fn(&mut Header),
) -> Result<Vec<SimulatedBlockOutput>, SimulateError> {
    let deadline = Instant::now() + limits.timeout;
    let blocks = plan::plan(base.number, base.timestamp, payload.block_state_calls)?;
    let first_spec = spec.spec_id(base.number + 1, base.timestamp + 1);
    let mut sim = Simulator {
        spec,
        merkle,
        seal,
        validation: payload.validation,
        trace_transfers: payload.trace_transfers,
        gas_pool: limits.gas_cap,
        deadline,
        timeout: limits.timeout,
    };
    let mut db = SimDb {
        state: BlockState::new(reader, base.number, first_spec),
        base: base.number,
        hashes: HashMap::new(),
    };
    let mut parent = base.clone();
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        let (next, output) = sim.block(db, &parent, block)?;
        db = next;
        parent = output.block.header.clone();
        out.push(output);
    }
    Ok(out)
}

/// revm's database for a simulation: the overlay over the base block, plus the hashes
/// of the blocks simulated so far (for `BLOCKHASH`).
#[derive(Debug)]
struct SimDb<'a> {
    state: BlockState<'a>,
    base: u64,
    hashes: HashMap<u64, B256>,
}

impl Database for SimDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        self.state.basic(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        self.state.code_by_hash(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        self.state.storage(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        if number > self.base {
            // A simulated block (the chain's own block of that number is not an ancestor).
            return Ok(self.hashes.get(&number).copied().unwrap_or_default());
        }
        self.state.block_hash(number)
    }
}

impl DatabaseCommit for SimDb<'_> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        self.state.commit(changes);
    }
}

/// The simulation's settings and running budget.
struct Simulator<'a> {
    spec: &'a ChainSpec,
    merkle: &'a MerkleState,
    seal: &'a dyn Fn(&mut Header),
    validation: bool,
    trace_transfers: bool,
    /// Gas left for the remaining calls.
    gas_pool: u64,
    deadline: Instant,
    timeout: Duration,
}

impl Simulator<'_> {
    /// The header of `block` before execution: inherited from `parent` (beneficiary, gas
    /// limit, difficulty) unless overridden, base fee and blob gas by the fork rules.
    fn header(&self, parent: &Header, block: &PlannedBlock) -> Header {
        let o = &block.overrides;
        let base_fee = match o.base_fee {
            Some(fee) => fee.saturating_to(),
            None if self.validation => self.spec.base_fee_after(parent),
            None => 0,
        };
        let attrs = BlockAttributes {
            number: block.number,
            timestamp: block.timestamp,
            beneficiary: o.coinbase.unwrap_or(parent.beneficiary),
            gas_limit: o.gas_limit.unwrap_or(parent.gas_limit),
            base_fee,
            prevrandao: o.random.unwrap_or_default(),
            extra_data: Bytes::new(),
            parent_beacon_block_root: o.beacon_root.unwrap_or_default(),
            withdrawals: Vec::new(),
        };
        let mut header = pending_header(self.spec, parent, &attrs);
        header.difficulty = o.difficulty.unwrap_or(parent.difficulty);
        header
    }

    /// Simulates one block on `db`; returns the overlay with the block's changes.
    fn block<'a>(
        &mut self,
        db: SimDb<'a>,
        parent: &Header,
        mut block: PlannedBlock,
    ) -> Result<(SimDb<'a>, SimulatedBlockOutput), SimulateError> {
        if Instant::now() >= self.deadline {
            return Err(SimulateError::Timeout(self.timeout));
        }
        let spec = self.spec;
        let mut header = self.header(parent, &block);
        let mut executor = self.executor(db, &header, &mut block)?;
        let byzantium = spec.is_byzantium_active_at_block(header.number);
        let mut transactions = Vec::with_capacity(block.calls.len());
        let mut senders = Vec::with_capacity(block.calls.len());
        let mut calls = Vec::with_capacity(block.calls.len());
        let mut post_states = Vec::new();
        let mut block_gas_used = 0u64;
        for (index, call) in block.calls.into_iter().enumerate() {
            let from = call.from.unwrap_or_default();
            let Executed { tx, result, logs } =
                self.call(&mut executor, &header, call, block_gas_used)?;
            if !byzantium {
                let diff = executor.evm().db().state.to_diff();
                post_states.push(self.merkle.root_with(&diff));
            }
            let used = result.gas().tx_gas_used();
            block_gas_used += used;
            self.gas_pool = self.gas_pool.saturating_sub(used);
            calls.push(call_result(result, logs, &header, *tx.tx_hash(), index));
            transactions.push(tx);
            senders.push(from);
        }

        let (evm, result) = executor
            .finish()
            .map_err(|e| SimulateError::Execution(e.to_string()))?;
        let mut db = evm.into_db();
        let mut result = result;
        set_post_states(&mut result.receipts, post_states);
        let state_root = self.merkle.root_with(&db.state.to_diff());
        finish_header(&mut header, spec, state_root, &transactions, &result);
        let receipts = result.receipts;
        (self.seal)(&mut header);
        let hash = header.hash_slow();
        for log in calls.iter_mut().flat_map(|c| c.logs.iter_mut()) {
            log.block_hash = Some(hash);
        }
        db.hashes.insert(header.number, hash);
        let output = SimulatedBlockOutput {
            block: StoredBlock {
                header,
                transactions,
                senders,
                receipts,
                ommers: Vec::new(),
                withdrawals: Vec::new(),
            },
            calls,
        };
        Ok((db, output))
    }

    /// The block executor for `header` over `db`, with the block's state overrides
    /// applied and its pre-execution system calls made.
    fn executor<'a, 'b>(
        &self,
        db: SimDb<'a>,
        header: &Header,
        block: &mut PlannedBlock,
    ) -> Result<SimExecutor<'a, 'b>, SimulateError>
    where
        Self: 'b,
    {
        let spec = self.spec;
        let mut env = header_evm_env(spec, header);
        env.cfg_env.disable_nonce_check = !self.validation;
        env.cfg_env.disable_base_fee = !self.validation;
        env.cfg_env.disable_eip3607 = true;
        env.cfg_env.disable_block_gas_limit = true;
        env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
        if let (Some(fee), Some(blob)) = (
            block.overrides.blob_base_fee,
            env.block_env.blob_excess_gas_and_price.as_mut(),
        ) {
            blob.blob_gasprice = fee.saturating_to();
        }
        let inspector = (
            LogCollector::new(self.trace_transfers),
            Deadline::new(self.deadline),
        );
        let mut evm = spec.evm().create_evm_with_inspector(db, env, inspector);
        // Overridden precompiles stay warm, as in geth, whose access list starts with the
        // fork's precompiles whatever the overrides did.
        let warm: AddressSet = evm.precompiles().addresses().copied().collect();
        if let Some(overrides) = block.state.take() {
            let (db, _, precompiles) = evm.components_mut();
            override_state(db, precompiles, overrides)?;
        }
        evm.ctx_mut().journal_mut().warm_precompiles(&warm);
        let shanghai = spec.is_shanghai_active_at_timestamp(header.timestamp);
        let ctx = EthBlockExecutionCtx {
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            ommers: &[],
            withdrawals: shanghai.then_some(Cow::Owned(Vec::new())),
            extra_data: Bytes::new(),
            tx_count_hint: Some(block.calls.len()),
            slot_number: None,
        };
        let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
        executor
            .apply_pre_execution_changes()
            .map_err(|e| SimulateError::Execution(e.to_string()))?;
        executor.evm_mut().inspector_mut().0.start_block();
        Ok(executor)
    }

    /// Runs one call of the block (`block_gas_used` so far) and commits its changes;
    /// returns its transaction, its result and its logs.
    fn call(
        &self,
        executor: &mut SimExecutor<'_, '_>,
        header: &Header,
        call: TransactionRequest,
        block_gas_used: u64,
    ) -> Result<Executed, SimulateError> {
        let from = call.from.unwrap_or_default();
        let state_nonce = executor
            .evm_mut()
            .db_mut()
            .basic(from)?
            .map(|a| a.nonce)
            .unwrap_or_default();
        let nonce = call.nonce.unwrap_or(state_nonce);
        let remaining = header.gas_limit.saturating_sub(block_gas_used);
        let gas = call.gas.unwrap_or(remaining);
        if gas > remaining {
            return Err(SimulateError::refused(
                SimulateFailure::BlockGasLimit,
                format!(
                    "block gas limit reached: {block_gas_used} >= {}",
                    header.gas_limit
                ),
            ));
        }
        let tx = build_transaction(
            &call,
            nonce,
            gas.min(self.gas_pool),
            self.spec.chain_id(),
            header,
        )?;
        let mut tx_env = TxEnv::from_recovered_tx(&tx, from);
        if self.validation {
            check_nonce(from, state_nonce, nonce)?;
        } else {
            check_fee_cap(&tx, header.base_fee_per_gas)?;
            // revm refuses the highest nonce even unchecked; geth only skips the check.
            if tx_env.nonce == u64::MAX {
                tx_env.nonce = 0;
            }
        }
        let output = executor
            .execute_transaction_without_commit((tx_env, Recovered::new_unchecked(&tx, from)))
            .map_err(transaction_error);
        let (_, (collector, deadline), _) = executor.evm_mut().components_mut();
        if deadline.hit() {
            return Err(SimulateError::Timeout(self.timeout));
        }
        let logs = collector.take();
        let output = output?;
        let result = output.result.result.clone();
        executor.commit_transaction(output);
        if state_nonce == u64::MAX && alloy::consensus::Transaction::kind(&tx).is_call() {
            // geth's nonce wraps around where revm's stays at the maximum.
            executor.evm_mut().db_mut().state.set_nonce(from, 0)?;
        }
        Ok(Executed { tx, result, logs })
    }
}

/// A call that ran: its transaction, its result and the logs it left.
struct Executed {
    tx: TxEnvelope,
    result: ExecutionResult<HaltReason>,
    logs: Vec<(u64, Log)>,
}

/// The executor of one simulated block.
type SimExecutor<'a, 'b> = EthBlockExecutor<
    'b,
    EthEvm<SimDb<'a>, (LogCollector, Deadline), PrecompilesMap>,
    &'b ChainSpec,
    AlloyReceiptBuilder,
>;

/// Applies a block's state overrides as geth does (see [`super::overrides`]).
fn override_state(
    db: &mut SimDb<'_>,
    precompiles: &mut PrecompilesMap,
    overrides: StateOverride,
) -> Result<(), SimulateError> {
    super::overrides::apply_state(db, Some(precompiles), overrides).map_err(|e| match e {
        OverrideError::Database(e) => SimulateError::Db(e),
        OverrideError::Rejected(message) => {
            SimulateError::refused(SimulateFailure::Rejected, message)
        }
    })
}
