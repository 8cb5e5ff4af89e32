//! Tracing (`debug_trace*`) and access lists (`eth_createAccessList`) with revm-inspectors.
//!
//! A mined transaction is traced by replaying its block: the state after the parent block,
//! the block's own environment, the pre-block system calls of alloy-evm's Ethereum block
//! executor, every earlier transaction of the block, then the target under the tracer. A
//! call is traced on the state after the block named, prepared exactly as `eth_call`
//! prepares it. Every tracer geth names (struct logger, `callTracer`, `prestateTracer`,
//! `4byteTracer`, `flatCallTracer`, `muxTracer`, `noopTracer`) comes from
//! revm-inspectors' [`DebugInspector`]; JavaScript tracers are refused.
//!
//! Beside the tracer runs a [`Guard`]: it stops the execution at the deadline (checked at
//! every step: the struct logger with `enableMemory` makes one step cost as much as
//! thousands of plain ones) and once the trace's output, estimated as geth's JSON while
//! it is recorded, passes the byte cap — before the memory holding it grows past reason.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

use alloy::consensus::transaction::Recovered;
use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace,
};
use alloy::rpc::types::{AccessListResult, BlockOverrides, TransactionRequest};
use alloy_evm::block::{BlockExecutionError, BlockExecutor};
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutor};
use alloy_evm::overrides::{OverrideBlockHashes, StateOverrideError, apply_state_overrides};
use alloy_evm::{Evm, EvmEnv, EvmFactory, FromRecoveredTx};
use alloy_hardforks::EthereumHardforks;
use revm::bytecode::opcode;
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::result::{EVMError, ExecutionResult, HaltReason};
use revm::context_interface::transaction::TransactionType;
use revm::database_interface::{Database, DatabaseRef};
use revm::inspector::Inspector;
use revm::interpreter::interpreter_types::{InputsTr, Jumps, MemoryTr, ReturnData};
use revm::interpreter::{
    CallInputs, CallOutcome, CreateInputs, CreateOutcome, InstructionResult, Interpreter,
};
use revm::primitives::Log;
use revm::primitives::hardfork::SpecId;
use revm::state::{AccountInfo, Bytecode};
use revm_inspectors::access_list::AccessListInspector;
use revm_inspectors::tracing::{DebugInspector, TransactionContext};

use super::ChainSpec;
use super::call::{CallError, CallLimits, Deadline, geth_message, halt_message, prepare};
use super::db::{BlockState, DbError};
use crate::state::{StateReader, StoredBlock};

/// Most executions `eth_createAccessList` runs looking for a list that no longer grows.
const ACCESS_LIST_ROUNDS: usize = 8;

/// Traces transaction `index` of `block` with the tracer `opts` names.
///
/// `timeout` bounds the traced transaction (the replayed ones are bounded by the block's
/// gas limit); `max_bytes` its output.
pub fn trace_transaction(
    reader: &dyn StateReader,
    spec: &ChainSpec,
    block: &StoredBlock,
    index: usize,
    opts: GethDebugTracingOptions,
    timeout: Duration,
    max_bytes: usize,
) -> Result<GethTrace, CallError> {
    if index >= block.transactions.len() {
        return Err(CallError::Request(format!(
            "transaction index {index} out of range"
        )));
    }
    let limits = (timeout, max_bytes);
    let mut traces = replay(reader, spec, block, index..index + 1, opts, limits)?;
    traces
        .pop()
        .ok_or_else(|| CallError::Request(format!("transaction index {index} out of range")))
}

/// Traces every transaction of `block`, in order. `timeout` bounds the traced ones
/// together, and `max_bytes` their output together.
pub fn trace_block(
    reader: &dyn StateReader,
    spec: &ChainSpec,
    block: &StoredBlock,
    opts: GethDebugTracingOptions,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Vec<GethTrace>, CallError> {
    replay(
        reader,
        spec,
        block,
        0..block.transactions.len(),
        opts,
        (timeout, max_bytes),
    )
}

/// Replays `block` up to the end of `traced`, tracing the transactions in `traced`.
fn replay(
    reader: &dyn StateReader,
    spec: &ChainSpec,
    block: &StoredBlock,
    traced: Range<usize>,
    opts: GethDebugTracingOptions,
    (timeout, max_bytes): (Duration, usize),
) -> Result<Vec<GethTrace>, CallError> {
    let inspector = tracer(opts)?;
    let header = &block.header;
    // Only the genesis block has no parent, and it has no transactions.
    let Some(parent) = header.number.checked_sub(1) else {
        return Ok(Vec::new());
    };
    if traced.is_empty() {
        return Ok(Vec::new());
    }
    let env = super::header_evm_env(spec, header);
    let block_env = env.block_env.clone();
    let db = BlockState::new(reader, parent, env.cfg_env.spec);
    let timestamp = header.timestamp;
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &[],
        withdrawals: spec
            .is_shanghai_active_at_timestamp(timestamp)
            .then_some(Cow::Owned(Vec::new())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(traced.end),
        slot_number: None,
    };
    let guard = Guard::new(&inspector, Instant::now() + timeout, max_bytes);
    let mut evm = spec
        .evm()
        .create_evm_with_inspector(db, env, (inspector, guard));
    evm.disable_inspector();
    let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
    executor
        .apply_pre_execution_changes()
        .map_err(replay_error)?;

    let block_hash = header.hash_slow();
    let mut traces = Vec::with_capacity(traced.len());
    let txs = block.transactions.iter().zip(&block.senders).enumerate();
    for (index, (tx, sender)) in txs.take(traced.end) {
        let recovered = Recovered::new_unchecked(tx, *sender);
        if index < traced.start {
            executor
                .execute_transaction(recovered)
                .map_err(replay_error)?;
            continue;
        }
        executor.evm_mut().enable_inspector();
        let output = executor.execute_transaction_without_commit(recovered);
        executor.evm_mut().disable_inspector();
        let output = output.map_err(replay_error)?;
        let (db, (inspector, guard), _) = executor.evm_mut().components_mut();
        guard.verdict(timeout)?;
        let tx_env = TxEnv::from_recovered_tx(tx, *sender);
        let context = TransactionContext {
            block_hash: Some(block_hash),
            tx_index: Some(index),
            tx_hash: Some(*tx.tx_hash()),
        };
        let trace = inspector
            .get_result(
                Some(context),
                &tx_env,
                &block_env,
                &output.result,
                &mut RefDb::new(db),
            )
            .map_err(|e| match e {
                revm_inspectors::tracing::DebugInspectorError::Database(db) => CallError::Db(db),
                other => CallError::Request(other.to_string()),
            })?;
        inspector
            .fuse()
            .map_err(|e| CallError::Request(e.to_string()))?;
        traces.push(trace);
        executor.commit_transaction(output);
    }
    Ok(traces)
}

/// Traces `request` on the state after block `at` in environment `env`, with the state
/// and block overrides of `opts`, its output limited to `max_bytes`. A revert is a trace
/// (`failed: true`), not an error.
pub fn trace_call(
    reader: &dyn StateReader,
    at: u64,
    mut env: EvmEnv,
    request: TransactionRequest,
    opts: GethDebugTracingCallOptions,
    limits: CallLimits,
    max_bytes: usize,
) -> Result<GethTrace, CallError> {
    let deadline = Instant::now() + limits.timeout;
    if opts.tx_index.is_some() {
        return Err(CallError::Request("txIndex is not supported".to_string()));
    }
    let inspector = tracer(opts.tracing_options)?;
    if let Some(overrides) = opts.block_overrides {
        override_block(overrides, &mut env.block_env)?;
    }
    let (env, tx) = prepare(env, request, limits.gas_cap)?;
    let mut db = BlockState::new(reader, at, env.cfg_env.spec);
    if let Some(overrides) = opts.state_overrides {
        apply_state_overrides(overrides, &mut db).map_err(|e| match e {
            StateOverrideError::Database(e) => CallError::Db(e),
            other => CallError::Request(other.to_string()),
        })?;
    }
    let block_env = env.block_env.clone();
    let guard = Guard::new(&inspector, deadline, max_bytes);
    let mut evm = limits
        .evm
        .create_evm_with_inspector(db, env, (inspector, guard));
    let result = evm.transact(tx.clone()).map_err(evm_error)?;
    let (db, (inspector, guard), _) = evm.components_mut();
    guard.verdict(limits.timeout)?;
    inspector
        .get_result(None, &tx, &block_env, &result, &mut RefDb::new(db))
        .map_err(|e| match e {
            revm_inspectors::tracing::DebugInspectorError::Database(db) => CallError::Db(db),
            other => CallError::Request(other.to_string()),
        })
}

/// geth's `eth_createAccessList`: runs `request` with the access list found so far until
/// the list stops growing; the gas used is that of the last run (with the list). A failed
/// run is reported in `error`, not as an error.
pub fn create_access_list(
    reader: &dyn StateReader,
    at: u64,
    env: EvmEnv,
    request: TransactionRequest,
    limits: CallLimits,
) -> Result<AccessListResult, CallError> {
    let deadline = Instant::now() + limits.timeout;
    let (env, mut tx) = prepare(env, request, limits.gas_cap)?;
    // revm charges for an access list only outside legacy transactions (it still warms
    // it); geth prices the list whatever the request's fields say.
    if tx.tx_type == TransactionType::Legacy as u8 && env.cfg_env.spec >= SpecId::BERLIN {
        tx.tx_type = TransactionType::Eip2930 as u8;
    }
    let mut list = tx.access_list.clone();
    let mut round = 0;
    loop {
        round += 1;
        tx.access_list = list.clone();
        let db = BlockState::new(reader, at, env.cfg_env.spec);
        let inspector = (
            AccessListInspector::new(list.clone()),
            Deadline::new(deadline),
        );
        let mut evm = limits
            .evm
            .create_evm_with_inspector(db, env.clone(), inspector);
        let result = evm.transact(tx.clone()).map_err(evm_error)?;
        let (found, deadline) = evm.inspector();
        if deadline.hit() {
            return Err(CallError::Timeout(limits.timeout));
        }
        let found = found.access_list();
        if found == list || round == ACCESS_LIST_ROUNDS {
            return Ok(AccessListResult {
                access_list: found,
                gas_used: U256::from(result.result.tx_gas_used()),
                error: failure(&result.result),
            });
        }
        list = found;
    }
}

/// Why a run failed, in geth's words; `None` if it succeeded.
fn failure(result: &ExecutionResult<HaltReason>) -> Option<String> {
    match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { output, .. } => Some(
            CallError::Revert {
                output: output.clone(),
            }
            .to_string(),
        ),
        ExecutionResult::Halt { reason, .. } => Some(halt_message(reason)),
    }
}

/// The tracer `opts` names; an unknown tracer or a bad config is the caller's error.
fn tracer(opts: GethDebugTracingOptions) -> Result<DebugInspector, CallError> {
    DebugInspector::new(opts).map_err(|e| CallError::Request(e.to_string()))
}

fn evm_error(err: EVMError<DbError>) -> CallError {
    match err {
        EVMError::Transaction(invalid) => CallError::Invalid(geth_message(&invalid)),
        EVMError::Database(db) => CallError::Db(db),
        other => CallError::Invalid(other.to_string()),
    }
}

/// A mined block that no longer replays means the store and the chain disagree.
fn replay_error(err: BlockExecutionError) -> CallError {
    tracing::error!(error = %err, "replaying a mined block failed");
    CallError::Invalid(format!("replaying the block failed: {err}"))
}

/// Applies `overrides` to `env`; overriding block hashes is not supported.
fn override_block(overrides: BlockOverrides, env: &mut BlockEnv) -> Result<(), CallError> {
    /// Block-hash overrides are refused before this is reached.
    struct NoBlockHashes;
    impl OverrideBlockHashes for NoBlockHashes {
        fn override_block_hashes(&mut self, _: std::collections::BTreeMap<u64, B256>) {}
    }
    if overrides.block_hash.is_some() {
        return Err(CallError::Request(
            "block hash overrides are not supported".to_string(),
        ));
    }
    alloy_evm::overrides::apply_block_overrides(overrides, &mut NoBlockHashes, env);
    Ok(())
}

/// Estimated JSON bytes of one struct log without stack, memory or storage
/// (`{"pc":…,"op":"…","gas":…,"gasCost":…,"depth":…},`).
const STEP_BYTES: usize = 100;
/// One 32-byte word of memory in a struct log (64 hex digits, quotes, comma).
const MEMORY_WORD_BYTES: usize = 67;
/// One storage entry in a struct log (two 64-digit keys, quotes, colon, comma).
const STORAGE_ENTRY_BYTES: usize = 135;
/// A call frame without its input and output (`callTracer`, `flatCallTracer`, …).
const FRAME_BYTES: usize = 300;
/// A log without its data and topics.
const LOG_BYTES: usize = 150;
/// One topic of a log.
const TOPIC_BYTES: usize = 70;

/// What the struct logger records at each step.
#[derive(Debug, Clone, Copy)]
struct StepRecord {
    /// Steps still recorded (the `limit` option); `None`: all.
    left: Option<u64>,
    stack: bool,
    memory: bool,
    storage: bool,
    return_data: bool,
}

/// Why a [`Guard`] stopped an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Deadline,
    Output,
}

/// Stops a traced execution at its deadline, or when its output (estimated as geth's
/// JSON, as the tracer records it) passes `max_bytes`. Once stopped, every frame halts
/// at its next step, so the execution unwinds at once.
#[derive(Debug)]
struct Guard {
    deadline: Instant,
    max_bytes: usize,
    bytes: usize,
    /// The struct logger's per-step record; `None` for the other tracers.
    steps: Option<StepRecord>,
    /// Whether the tracer records call frames and logs.
    frames: bool,
    /// The slots each contract's struct logs carry (geth repeats them in every
    /// `SLOAD`/`SSTORE` log).
    slots: HashMap<Address, HashSet<U256>>,
    stop: Option<Stop>,
}

impl Guard {
    fn new(tracer: &DebugInspector, deadline: Instant, max_bytes: usize) -> Self {
        let (steps, frames) = match tracer {
            DebugInspector::Default(_, opts) => (
                Some(StepRecord {
                    left: opts.limit.filter(|l| *l != 0),
                    stack: !opts.disable_stack.unwrap_or_default(),
                    memory: opts.is_memory_enabled(),
                    storage: !opts.disable_storage.unwrap_or_default(),
                    return_data: opts.is_return_data_enabled(),
                }),
                false,
            ),
            DebugInspector::Noop(_)
            | DebugInspector::StateGasTracer(_)
            | DebugInspector::FourByte(_) => (None, false),
            _ => (None, true),
        };
        Self {
            deadline,
            max_bytes,
            bytes: 0,
            steps,
            frames,
            slots: HashMap::new(),
            stop: None,
        }
    }

    /// The error for a stopped execution (`timeout` is the limit, for the message).
    fn verdict(&self, timeout: Duration) -> Result<(), CallError> {
        match self.stop {
            None => Ok(()),
            Some(Stop::Deadline) => Err(CallError::Timeout(timeout)),
            Some(Stop::Output) => Err(CallError::TraceTooLarge(self.max_bytes)),
        }
    }

    fn add(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.stop.is_none() && self.bytes > self.max_bytes {
            self.stop = Some(Stop::Output);
        }
    }

    /// The estimated JSON size of the struct log the tracer records at this step.
    fn step_bytes(&mut self, record: StepRecord, interp: &Interpreter) -> usize {
        let mut bytes = STEP_BYTES;
        if record.stack {
            // `"0x…",` with the value's hex digits.
            bytes += interp
                .stack
                .data()
                .iter()
                .map(|v| 5 + (v.bit_len().div_ceil(4)).max(1))
                .sum::<usize>();
        }
        if record.memory {
            bytes += interp.memory.size().div_ceil(32) * MEMORY_WORD_BYTES;
        }
        if record.return_data {
            bytes += 4 + 2 * interp.return_data.buffer().len();
        }
        let op = interp.bytecode.opcode();
        if record.storage
            && (op == opcode::SLOAD || op == opcode::SSTORE)
            && let Some(slot) = interp.stack.data().last()
        {
            let slots = self.slots.entry(interp.input.target_address()).or_default();
            slots.insert(*slot);
            bytes += slots.len() * STORAGE_ENTRY_BYTES;
        }
        bytes
    }
}

impl<CTX> Inspector<CTX> for Guard {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if self.stop.is_none() {
            if let Some(record) = &mut self.steps
                && record.left != Some(0)
            {
                record.left = record.left.map(|l| l - 1);
                let record = *record;
                let bytes = self.step_bytes(record, interp);
                self.add(bytes);
            }
            if self.stop.is_none() && Instant::now() >= self.deadline {
                self.stop = Some(Stop::Deadline);
            }
        }
        if self.stop.is_some() {
            interp.halt(InstructionResult::OutOfGas);
        }
    }

    fn log(&mut self, _context: &mut CTX, log: Log) {
        if self.frames {
            self.add(LOG_BYTES + 2 * log.data.data.len() + TOPIC_BYTES * log.topics().len());
        }
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if self.frames {
            self.add(FRAME_BYTES + 2 * inputs.input.len());
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        if self.frames {
            self.add(2 * outcome.result.output.len());
        }
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        if self.frames {
            self.add(FRAME_BYTES + 2 * inputs.init_code().len());
        }
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        _inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        if self.frames {
            self.add(2 * outcome.result.output.len());
        }
    }
}

/// A [`DatabaseRef`] view of a [`BlockState`], for tracers that read the state as it was
/// before the traced transaction (`prestateTracer`).
struct RefDb<'s, 'a>(RefCell<&'s mut BlockState<'a>>);

impl<'s, 'a> RefDb<'s, 'a> {
    fn new(db: &'s mut BlockState<'a>) -> Self {
        Self(RefCell::new(db))
    }
}

impl DatabaseRef for RefDb<'_, '_> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        self.0.borrow_mut().basic(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        self.0.borrow_mut().code_by_hash(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        self.0.borrow_mut().storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        self.0.borrow_mut().block_hash(number)
    }
}
