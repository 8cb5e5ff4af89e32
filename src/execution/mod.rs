//! Execution: revm over the encrypted state, block building, calls and gas estimation.
//!
//! [`BlockState`] is revm's database: reads fall through to the store at a parent block,
//! writes stay in memory until the block is committed. [`build_block`] runs a list of
//! transactions through alloy-evm's Ethereum block executor (system calls, receipts,
//! requests) and returns the block with its state diff. [`call`] and [`estimate_gas`]
//! serve `eth_call` and `eth_estimateGas` on a throw-away overlay; [`trace_transaction`],
//! [`trace_block`], [`trace_call`] and [`create_access_list`] serve `debug_trace*` and
//! `eth_createAccessList` with revm-inspectors; [`simulate`] serves `eth_simulateV1`.
//! Every one of them runs the chain's EVM, [`ChainEvm`] (Ethereum's, or with the
//! private-balance rule of confidential chains), taken from the [`ChainSpec`].
//! [`overrides`] lays geth's state and block overrides over a call's overlay.

mod block;
mod call;
mod db;
mod evm;
mod import;
pub mod overrides;
mod simulate;
mod spec;
pub mod system;
mod trace;

pub use block::{
    BlockAttributes, BuiltBlock, build_block, finish_header, pending_header, receipts_bloom,
    set_post_states,
};
pub use call::{CallError, CallLimits, CallOutcome, call, estimate_gas};
pub use db::{BlockState, DbError};
pub use evm::ChainEvm;
pub use import::{ImportError, apply_write_set, check_stored, execute_block, header_evm_env};
pub use overrides::CallOverrides;
pub use simulate::{SimulateError, SimulateFailure, SimulatedBlockOutput, simulate};
pub use spec::{ChainSpec, CocoRules};
pub use trace::{create_access_list, trace_block, trace_call, trace_transaction};
