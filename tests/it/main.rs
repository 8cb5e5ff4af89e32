//! coco's integration tests: real nodes on loopback port 0, driven over HTTP and
//! WebSocket with alloy providers and with the real tools.

mod attacks;
mod bad_input;
mod bench;
mod cast_rpc;
mod cluster;
mod common;
mod confidential;
mod conformance;
mod debug;
mod dev;
mod durability;
mod evm_privacy;
mod foundry_extras;
mod geth_methods;
mod gov_cli;
mod governance;
mod governance_node;
mod hardhat3;
mod import;
mod js_confidential;
mod js_tools;
mod login;
mod overrides;
mod proof;
mod raw_methods;
mod rpc;
mod rpc_compat;
mod simulate;
mod state_dump;
mod subscriptions;
mod tools;
mod txpool;
mod txpool_rpc;
