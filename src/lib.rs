//! coco: a confidential, Ethereum-compatible ledger for consortiums.
//!
//! Modules in dependency order (each uses only those below it):
//! - [`rpc`]: JSON-RPC over HTTP and WebSocket (jsonrpsee), the Ethereum wire API.
//! - [`node`]: composition root: configuration, startup, the block producer, shutdown.
//! - [`consensus`]: replication between validators (openraft): Raft's log, the state
//!   machine boundary, the mutual-TLS peer transport.
//! - [`chain`]: blocks, the transaction pool, block production.
//! - [`execution`]: revm over the state; block building; calls and gas estimation.
//! - [`state`]: the encrypted store (sled) and the block log.
//!
//! The trust boundary (keys, sealing, record encryption) is the `coco-enclave` crate.

pub mod chain;
pub mod cli;
pub mod consensus;
pub mod execution;
pub mod governance;
pub mod node;
pub mod rpc;
pub mod state;
