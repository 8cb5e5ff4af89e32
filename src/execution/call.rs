//! `eth_call` and `eth_estimateGas`: a transaction run on a throw-away overlay.

use alloy::primitives::{Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverride;
use alloy_evm::overrides::OverrideBlockHashes;
use alloy_evm::rpc::TryIntoTxEnv;
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use revm::context::TxEnv;
use revm::context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::context_interface::{ContextTr, JournalTr};
use revm::database_interface::Database;
use revm::inspector::Inspector;
use revm::interpreter::{InstructionResult, Interpreter, InterpreterTypes};
use revm::primitives::AddressSet;
use std::time::{Duration, Instant};

use super::ChainEvm;
use super::db::{BlockState, DbError};
use super::overrides::{self, CallOverrides, OverrideError};
use crate::state::StateReader;

/// A successful call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Return data.
    pub output: Bytes,
    /// Gas used, after refunds.
    pub gas_used: u64,
}

/// Why a call or estimate failed. Messages are geth's.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `output` is the revert data.
    #[error("execution reverted{}", revert_suffix(.output))]
    Revert {
        /// Revert data.
        output: Bytes,
    },
    /// The EVM halted (out of gas, invalid opcode…).
    #[error("{0}")]
    Halt(String),
    /// The transaction is invalid in this state (geth's message).
    #[error("{0}")]
    Invalid(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Request(String),
    /// geth refuses a state or block override (its message).
    #[error("{0}")]
    Override(String),
    /// Gas estimation found no gas limit under the cap that succeeds.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// The execution ran past its time limit.
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
    /// A trace's output passed its size limit (bytes).
    #[error("tracer output exceeds the limit of {0} bytes")]
    TraceTooLarge(usize),
    /// The store failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn revert_suffix(output: &Bytes) -> String {
    revert_reason(output)
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// geth's reading of revert data: `Error(string)`'s text, or `Panic(uint256)`'s meaning.
pub(crate) fn revert_reason(output: &[u8]) -> Option<String> {
    use alloy::sol_types::{Panic, Revert, SolError};
    if let Ok(revert) = Revert::abi_decode(output) {
        return Some(revert.reason);
    }
    let panic = Panic::abi_decode(output).ok()?;
    let code: u64 = panic.code.try_into().ok()?;
    let meaning = match code {
        0x00 => "generic panic",
        0x01 => "assert(false)",
        0x11 => "arithmetic underflow or overflow",
        0x12 => "division or modulo by zero",
        0x21 => "enum overflow",
        0x22 => "invalid encoded storage byte array accessed",
        0x31 => "out-of-bounds array access; popping on an empty array",
        0x32 => "out-of-bounds access of an array or bytesN",
        0x41 => "out of memory",
        0x51 => "uninitialized function",
        _ => return Some(format!("unknown panic code: {code:#x}")),
    };
    Some(meaning.to_string())
}

/// geth's wording for a transaction revm refuses, as tools match on it.
pub(crate) fn geth_message(err: &InvalidTransaction) -> String {
    use InvalidTransaction as E;
    match err {
        E::NonceTooLow { tx, state } => format!("nonce too low: next nonce {state}, tx nonce {tx}"),
        E::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        E::LackOfFundForMaxFee { .. } => "insufficient funds for gas * price + value".to_string(),
        E::GasPriceLessThanBasefee => "max fee per gas less than block base fee".to_string(),
        E::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".to_string()
        }
        E::CallerGasLimitMoreThanBlock => "exceeds block gas limit".to_string(),
        E::CallGasCostMoreThanGasLimit { .. } | E::GasFloorMoreThanGasLimit { .. } => {
            "intrinsic gas too low".to_string()
        }
        E::RejectCallerWithCode => "sender not an eoa".to_string(),
        E::InvalidChainId => "invalid chain id for signer".to_string(),
        E::CreateInitCodeSizeLimit => "max initcode size exceeded".to_string(),
        E::TxGasLimitGreaterThanCap { .. } => "transaction gas limit too high".to_string(),
        other => other.to_string(),
    }
}

pub(super) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".to_string(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".to_string(),
        HaltReason::StackUnderflow => "stack underflow".to_string(),
        HaltReason::StackOverflow => "stack limit reached 1024".to_string(),
        HaltReason::InvalidJump => "invalid jump destination".to_string(),
        HaltReason::CreateCollision => "contract address collision".to_string(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".to_string(),
        HaltReason::CallTooDeep => "max call depth exceeded".to_string(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".to_string(),
        HaltReason::NonceOverflow => "nonce uint64 overflow".to_string(),
        other => format!("{other:?}"),
    }
}

/// Prepares the environment and transaction for a call request.
pub(super) fn prepare(
    mut env: EvmEnv,
    request: TransactionRequest,
    gas_cap: u64,
) -> Result<(EvmEnv, TxEnv), CallError> {
    let priced = request.gas_price.is_some() || request.max_fee_per_gas.is_some();
    // geth skips the account checks of a call: any nonce, and a sender with code (a
    // contract, or one given code by a state override).
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_eip3607 = true;
    env.cfg_env.disable_block_gas_limit = true;
    env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
    if !priced {
        // geth: a call without a price runs at price zero and skips the base-fee check.
        env.cfg_env.disable_base_fee = true;
    }
    let gas = request.gas.unwrap_or(env.block_env.gas_limit).min(gas_cap);
    let mut tx: TxEnv = request
        .try_into_tx_env(&env)
        .map_err(|e| CallError::Request(e.to_string()))?;
    tx.gas_limit = gas;
    Ok((env, tx))
}

/// Stops an execution that runs past its deadline (checked every few thousand steps).
#[derive(Debug)]
pub(super) struct Deadline {
    at: Instant,
    steps: u32,
    hit: bool,
}

impl Deadline {
    /// A deadline at `at`, not yet hit.
    pub(super) fn new(at: Instant) -> Self {
        Self {
            at,
            steps: 0,
            hit: false,
        }
    }

    /// Whether the execution was stopped.
    pub(super) fn hit(&self) -> bool {
        self.hit
    }
}

impl<CTX, INTR: InterpreterTypes> Inspector<CTX, INTR> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<INTR>, _context: &mut CTX) {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(4096) && Instant::now() >= self.at {
            self.hit = true;
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

/// Budget of one call or estimate, and the chain's EVM it runs on.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Gas cap.
    pub gas_cap: u64,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// The chain's EVM ([`super::ChainSpec::evm`]), as its blocks execute.
    pub evm: ChainEvm,
}

/// The overlay a call runs on: the state after block `at` under `overrides`' block hashes.
fn overlay<'a>(
    reader: &'a dyn StateReader,
    at: u64,
    env: &EvmEnv,
    overrides: &CallOverrides,
) -> BlockState<'a> {
    let mut db = BlockState::new(reader, at, env.cfg_env.spec);
    db.override_block_hashes(overrides.block_hashes.clone());
    db
}

fn override_error(err: OverrideError<DbError>) -> CallError {
    match err {
        OverrideError::Rejected(message) => CallError::Override(message),
        OverrideError::Database(db) => CallError::Db(db),
    }
}

/// Runs `tx` on `db`; with `state`, applies that state override first, taking
/// overridden and moved precompiles into account (as geth's `eth_call`).
fn run(
    evm: ChainEvm,
    db: BlockState<'_>,
    env: &EvmEnv,
    tx: TxEnv,
    state: Option<&StateOverride>,
    deadline: Instant,
) -> Result<ExecutionResult, CallError> {
    let inspector = Deadline {
        at: deadline,
        steps: 0,
        hit: false,
    };
    let mut evm = evm.create_evm_with_inspector(db, env.clone(), inspector);
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        // Overridden precompiles stay warm, as in geth, whose access list starts with the
        // fork's precompiles whatever the overrides did.
        let warm: AddressSet = evm.precompiles().addresses().copied().collect();
        let (db, _, precompiles) = evm.components_mut();
        overrides::apply_state(db, Some(precompiles), state.clone()).map_err(override_error)?;
        evm.ctx_mut().journal_mut().warm_precompiles(&warm);
    }
    let result = evm.transact(tx);
    if evm.inspector().hit {
        return Err(CallError::Timeout(
            deadline.saturating_duration_since(deadline),
        ));
    }
    match result {
        Ok(result) => Ok(result.result),
        Err(EVMError::Transaction(invalid)) => Err(CallError::Invalid(geth_message(&invalid))),
        Err(EVMError::Database(db)) => Err(CallError::Db(db)),
        Err(other) => Err(CallError::Invalid(other.to_string())),
    }
}

/// Runs `request` against the state after block `at` in environment `env`, with
/// `overrides` laid over it for this run only.
pub fn call(
    reader: &dyn StateReader,
    at: u64,
    env: EvmEnv,
    request: TransactionRequest,
    overrides: &CallOverrides,
    limits: CallLimits,
) -> Result<CallOutcome, CallError> {
    let deadline = Instant::now() + limits.timeout;
    let (env, tx) = prepare(env, request, limits.gas_cap)?;
    let db = overlay(reader, at, &env, overrides);
    match run(limits.evm, db, &env, tx, Some(&overrides.state), deadline)
        .map_err(|e| with_timeout(e, limits))?
    {
        ExecutionResult::Success { output, gas, .. } => Ok(CallOutcome {
            output: output.into_data(),
            gas_used: gas.tx_gas_used(),
        }),
        ExecutionResult::Revert { output, .. } => Err(CallError::Revert { output }),
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(halt_message(&reason))),
    }
}

/// geth's gas estimation: a run at the cap, then a binary search down to within 1.5 %.
/// Every run sees `overrides` (the state override as geth's estimator applies it: without
/// touching precompiles).
pub fn estimate_gas(
    reader: &dyn StateReader,
    at: u64,
    env: EvmEnv,
    request: TransactionRequest,
    overrides: &CallOverrides,
    limits: CallLimits,
) -> Result<u64, CallError> {
    let deadline = Instant::now() + limits.timeout;
    let (env, tx) = prepare(env, request, limits.gas_cap)?;
    let mut base = overlay(reader, at, &env, overrides);
    if !overrides.state.is_empty() {
        overrides::apply_state(&mut base, None, overrides.state.clone()).map_err(override_error)?;
    }
    estimate_inner(limits.evm, &base, &env, tx, deadline).map_err(|e| with_timeout(e, limits))
}

fn with_timeout(err: CallError, limits: CallLimits) -> CallError {
    match err {
        CallError::Timeout(_) => CallError::Timeout(limits.timeout),
        other => other,
    }
}

/// The estimate on `base` (each run on a clone of it).
fn estimate_inner(
    evm: ChainEvm,
    base: &BlockState<'_>,
    env: &EvmEnv,
    mut tx: TxEnv,
    deadline: Instant,
) -> Result<u64, CallError> {
    let run = |tx: TxEnv| run(evm, base.clone(), env, tx, None, deadline);
    let mut hi = tx.gas_limit;
    // Cap by what the sender can pay for, as geth does when a price is given.
    if tx.gas_price > 0 {
        let balance = base
            .clone()
            .basic(tx.caller)?
            .map(|a| a.balance)
            .unwrap_or_default();
        let available = balance
            .checked_sub(tx.value)
            .ok_or_else(|| CallError::Invalid("insufficient funds for transfer".to_string()))?;
        let allowance: u64 = (available / U256::from(tx.gas_price)).saturating_to();
        hi = hi.min(allowance);
    }
    // A plain value transfer to an account without code costs exactly 21,000.
    if tx.data.is_empty()
        && let revm::primitives::TxKind::Call(to) = tx.kind
    {
        let has_code = base
            .clone()
            .basic(to)?
            .is_some_and(|a| a.code_hash != alloy::primitives::KECCAK256_EMPTY);
        if !has_code && tx.authorization_list.is_empty() && hi >= 21_000 {
            tx.gas_limit = 21_000;
            if let ExecutionResult::Success { .. } = run(tx.clone())? {
                return Ok(21_000);
            }
        }
    }
    tx.gas_limit = hi;
    let first = run(tx.clone())?;
    let used = match first {
        ExecutionResult::Success { gas, .. } => gas.total_gas_spent().max(gas.tx_gas_used()),
        ExecutionResult::Revert { output, .. } => return Err(CallError::Revert { output }),
        ExecutionResult::Halt {
            reason: HaltReason::OutOfGas(_),
            ..
        } => {
            return Err(CallError::GasRequiredExceedsAllowance(hi));
        }
        ExecutionResult::Halt { reason, .. } => return Err(CallError::Halt(halt_message(&reason))),
    };
    let mut lo = used.saturating_sub(1);
    // Optimistic guess: the 63/64 rule plus the call stipend usually suffices.
    let optimistic = (used + 2_300) * 64 / 63;
    if optimistic < hi {
        tx.gas_limit = optimistic;
        if run(tx.clone())?.is_success() {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    while lo + 1 < hi {
        if ((hi - lo) as f64 / hi as f64) < 0.015 {
            break;
        }
        let mut mid = lo + (hi - lo) / 2;
        if mid > lo.saturating_mul(2) {
            mid = lo * 2;
        }
        tx.gas_limit = mid;
        if run(tx.clone())?.is_success() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}
