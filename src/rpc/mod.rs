//! JSON-RPC over HTTP and WebSocket on one port (jsonrpsee).
//!
//! One trait per namespace in [`api`] (the `eth` namespace has three: methods,
//! [`filters`] polled over HTTP, and [`pubsub`] subscriptions over WebSocket); their
//! implementation over the chain in [`eth`], [`filters`] and [`pubsub`]; the single
//! mapping from errors to JSON-RPC codes in [`error`]. Smaller method groups carry
//! their trait beside their implementation: [`txpool`], [`uncles`], [`account`],
//! [`raw`] (consensus encodings), [`config`] (`eth_config`, `eth_capabilities`),
//! [`testing`] (`testing_buildBlockV1`), [`simulate`] (`eth_simulateV1`, with its
//! codes) and, on dev nodes, [`state_dump`]. Unknown methods answer `-32601`; bad input
//! (surplus parameters, leading-zero quantities, malformed ids, subscriptions over HTTP)
//! is refused as geth refuses it before any method runs ([`input`], [`params`]); request
//! bodies, batches, mining runs and traces are limited ([`RpcLimits`]). Request paths are never logged (they
//! may carry API keys).

pub mod account;
pub mod api;
pub mod auth;
pub mod blinding;
pub mod config;
pub mod consistency;
pub mod convert;
pub mod debug;
pub mod dev;
pub mod error;
pub mod eth;
pub mod filters;
pub mod input;
pub mod login;
pub mod metrics;
pub mod params;
pub mod policy;
pub mod pubsub;
pub mod raw;
pub mod simulate;
pub mod state_dump;
pub mod testing;
pub mod txpool;
pub mod uncles;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use tower_http::cors::{Any, CorsLayer};

use crate::chain::Chain;
use api::{EthApiServer, EthFilterApiServer, EthPubSubApiServer, NetApiServer, Web3ApiServer};
use debug::{DebugApiServer, DebugRpc, EthAccessListApiServer};
use dev::{DevApiServer, DevRpc};
use eth::EthRpc;
use filters::{FilterLimits, FilterRpc};
use pubsub::{EthPubSub, EthSubscriptionIdProvider};

/// Limits on what one request may ask of the node.
#[derive(Debug, Clone, Copy)]
pub struct RpcLimits {
    /// Largest request body, bytes.
    pub max_request_body: u32,
    /// Largest response body, bytes.
    pub max_response_body: u32,
    /// Most calls in one batch.
    pub max_batch: u32,
    /// Gas cap of `eth_call` and `eth_estimateGas`.
    pub call_gas_cap: u64,
    /// Wall-clock limit of `eth_call`, `eth_estimateGas` and `eth_getLogs`.
    pub call_timeout: Duration,
    /// Most blocks one `eth_getLogs` may span.
    pub logs_max_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub logs_max_results: usize,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// Longest a SIWE session lasts (its message's `Expiration Time` may end it sooner).
    pub session_lifetime: Duration,
    /// Most blocks one `anvil_mine` / `hardhat_mine` / `evm_mine` may mine.
    pub max_mine_blocks: u64,
    /// Largest output of one `debug_trace*` call, bytes (estimated as the JSON
    /// answer grows, so that a runaway trace stops early).
    pub max_trace_bytes: usize,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_body: 10 * 1024 * 1024,
            max_response_body: 100 * 1024 * 1024,
            max_batch: 1_000,
            call_gas_cap: 50_000_000,
            call_timeout: Duration::from_secs(5),
            logs_max_range: 10_000,
            logs_max_results: 10_000,
            max_connections: 1_000,
            session_lifetime: Duration::from_secs(24 * 60 * 60),
            max_mine_blocks: 10_000,
            max_trace_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Runs `f` over `chain` on tokio's blocking pool (store walks, state dumps and Merkle
/// rebuilds stay off the async workers), without a deadline.
pub(crate) async fn blocking<T: Send + 'static>(
    chain: &Arc<Chain>,
    f: impl FnOnce(&Chain) -> Result<T, error::RpcError> + Send + 'static,
) -> Result<T, error::RpcError> {
    let chain = chain.clone();
    tokio::task::spawn_blocking(move || f(&chain))
        .await
        .map_err(|e| error::RpcError::Chain(crate::chain::ChainError::Execution(e.to_string())))?
}

/// All namespaces as one module. Must be called within a Tokio runtime: the filters'
/// feeding task starts here.
///
/// With `dev`, the development namespace ([`dev`]) is served too, signing with `signers`.
pub fn module(
    chain: Arc<Chain>,
    limits: RpcLimits,
    signers: Vec<PrivateKeySigner>,
    dev: bool,
    anvil_compat: bool,
) -> RpcModule<()> {
    let accounts = signers.iter().map(|s| s.address()).collect();
    let mut eth = EthRpc::new(chain.clone(), limits, accounts);
    if anvil_compat {
        eth = eth.anvil_compat();
    }
    let tracing = DebugRpc::new(chain.clone(), eth.clone(), limits.max_trace_bytes);
    let filters = FilterRpc::new(chain.clone(), eth.clone(), FilterLimits::default());
    let mut module = RpcModule::new(());
    module
        .merge(EthApiServer::into_rpc(eth.clone()))
        .expect("eth methods are unique");
    module
        .merge(EthFilterApiServer::into_rpc(filters))
        .expect("eth filter methods are unique");
    module
        .merge(EthPubSubApiServer::into_rpc(EthPubSub::new(chain.clone())))
        .expect("eth subscription methods are unique");
    module
        .merge(blinding::BlindingApiServer::into_rpc(
            blinding::BlindingRpc::new(chain.clone()),
        ))
        .expect("coco methods are unique");
    if dev {
        let dev_rpc = DevRpc::new(chain.clone(), eth.clone(), signers, limits.max_mine_blocks);
        module
            .merge(DevApiServer::into_rpc(dev_rpc))
            .expect("dev methods are unique");
        module
            .merge(state_dump::StateDumpApiServer::into_rpc(
                state_dump::StateDumpRpc::new(chain.clone()),
            ))
            .expect("state dump methods are unique");
    }
    module
        .merge(txpool::TxPoolApiServer::into_rpc(txpool::TxPoolRpc::new(
            chain.clone(),
        )))
        .expect("txpool methods are unique");
    module
        .merge(uncles::UncleApiServer::into_rpc(uncles::UncleRpc::new(
            chain.clone(),
        )))
        .expect("uncle methods are unique");
    module
        .merge(account::AccountApiServer::into_rpc(
            account::AccountRpc::new(chain.clone()),
        ))
        .expect("account methods are unique");
    module
        .merge(DebugApiServer::into_rpc(tracing.clone()))
        .expect("debug methods are unique");
    module
        .merge(raw::DebugRawApiServer::into_rpc(raw::RawRpc::new(
            eth.clone(),
        )))
        .expect("raw debug methods are unique");
    module
        .merge(raw::EthRawApiServer::into_rpc(raw::RawRpc::new(
            eth.clone(),
        )))
        .expect("raw transaction and header methods are unique");
    module
        .merge(config::ConfigApiServer::into_rpc(config::ConfigRpc::new(
            chain.clone(),
        )))
        .expect("config methods are unique");
    module
        .merge(testing::TestingApiServer::into_rpc(
            testing::TestingRpc::new(chain.clone(), eth.clone()),
        ))
        .expect("testing methods are unique");
    module
        .merge(simulate::SimulateApiServer::into_rpc(
            simulate::SimulateRpc::new(eth.clone()),
        ))
        .expect("eth_simulateV1 is unique");
    module
        .merge(EthAccessListApiServer::into_rpc(tracing))
        .expect("eth_createAccessList is unique");
    module
        .merge(NetApiServer::into_rpc(eth.clone()))
        .expect("net methods are unique");
    module
        .merge(Web3ApiServer::into_rpc(eth))
        .expect("web3 methods are unique");
    module
}

/// `coco_loginNonce`, `coco_login`, `coco_logout` over `keys` (see [`login`]);
/// sessions last at most `session_lifetime`.
pub fn login_module(
    keys: Arc<auth::KeyRing>,
    chain_id: u64,
    hosts: Vec<String>,
    session_lifetime: Duration,
) -> RpcModule<()> {
    let mut module = RpcModule::new(());
    module
        .merge(login::LoginApiServer::into_rpc(login::LoginRpc::new(
            keys,
            chain_id,
            hosts,
            session_lifetime,
        )))
        .expect("login methods are unique");
    module
}

/// Starts serving `module` on `addr`; returns the bound address and the server handle.
///
/// Callers are resolved from API keys in `keys` ([`auth`]); `open` selects the open read
/// policy (every caller reads everything), otherwise [`policy`] applies.
pub async fn serve(
    addr: SocketAddr,
    limits: RpcLimits,
    module: RpcModule<()>,
    keys: Arc<auth::KeyRing>,
    open: bool,
    chain: Arc<Chain>,
    metrics: Option<metrics::Render>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        .allow_headers(Any);
    let config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_body)
        .max_response_body_size(limits.max_response_body)
        .max_connections(limits.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .set_id_provider(EthSubscriptionIdProvider)
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(cors)
                .layer(metrics::MetricsLayer::new(metrics))
                .layer(auth::AuthLayer)
                .layer(input::RawBodyLayer::new(limits.max_request_body)),
        )
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
                .layer(auth::CallerLayer::new(keys, open))
                .layer(consistency::ConsistencyLayer::new(chain))
                .layer(error::GethParamErrorsLayer)
                .layer(input::InputLayer)
                .layer(policy::PolicyLayer::new(
                    module.method_names().map(String::from),
                )),
        )
        .build(addr)
        .await?;
    let local = server.local_addr()?;
    Ok((local, server.start(module)))
}
