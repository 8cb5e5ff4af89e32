//! Execution: revm over the encrypted state, block building, calls and gas estimation.
//!
//! [`BlockState`] is revm's database: reads fall through to the store at a parent block,
//! writes stay in memory until the block is committed. [`build_block`] runs a list of
//! transactions through alloy-evm's Ethereum block executor (system calls, receipts,
//! requests) and returns the block with its state diff. [`call`] and [`estimate_gas`]
//! serve `eth_call` and `eth_estimateGas` on a throw-away overlay.

mod block;
mod call;
mod db;

pub use block::{BlockAttributes, BuiltBlock, build_block, evm_env, state_commitment};
pub use call::{CallError, CallLimits, CallOutcome, call, estimate_gas};
pub use db::{BlockState, DbError};
