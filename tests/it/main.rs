//! coco's integration tests: real nodes on loopback port 0, driven over HTTP and
//! WebSocket with alloy providers and with the real tools.

mod common;
mod confidential;
mod debug;
mod dev;
mod durability;
mod js_tools;
mod rpc;
mod subscriptions;
mod tools;
mod txpool;
