//! `debug_trace*` (geth's tracers) and `eth_createAccessList`, over a [`Chain`].
//!
//! Mined transactions are traced by replaying their block ([`execution::trace_transaction`]);
//! calls run on the state after the block named, as `eth_call` runs them. Every execution
//! runs off the async runtime under the call time limit ([`RpcLimits::call_timeout`]).

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256};
use alloy::rpc::types::trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use alloy::rpc::types::{AccessListResult, TransactionRequest};
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;

use super::RpcLimits;
use super::auth::caller_of;
use super::error::RpcError;
use crate::chain::Chain;
use crate::execution::{self, CallLimits};
use crate::state::StoredBlock;

type Res<T> = Result<T, RpcError>;

/// `debug_*`: geth's tracers (the struct logger by default, `callTracer`,
/// `prestateTracer`, `4byteTracer`, `flatCallTracer`, `muxTracer`, `noopTracer`).
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// Replays a mined transaction under a tracer.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;
    /// Runs a call under a tracer on the state after a block (default `latest`), with
    /// optional state and block overrides.
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;
    /// Replays every transaction of a block under a tracer.
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
    /// Replays every transaction of a block, named by hash, under a tracer.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
}

/// `eth_createAccessList`.
#[rpc(server, namespace = "eth")]
pub trait EthAccessListApi {
    /// The storage a call touches as an EIP-2930 access list, with the gas the call uses
    /// when sent with it; a failed call is reported in `error`, as geth does.
    #[method(name = "createAccessList", with_extensions)]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;
}

/// The tracing API over a chain.
#[derive(Debug, Clone)]
pub struct DebugRpc {
    chain: Arc<Chain>,
    limits: RpcLimits,
    default_from: Option<Address>,
}

impl DebugRpc {
    /// An API over `chain`; calls without `from` come from `default_from` (as `eth_call`).
    pub fn new(chain: Arc<Chain>, limits: RpcLimits, default_from: Option<Address>) -> Self {
        Self {
            chain,
            limits,
            default_from,
        }
    }

    fn call_limits(&self) -> CallLimits {
        CallLimits {
            gas_cap: self.limits.call_gas_cap,
            timeout: self.limits.call_timeout,
        }
    }

    /// The block `id` names; `header not found` if none.
    fn block(&self, id: BlockId) -> Res<Arc<StoredBlock>> {
        let head = self.chain.head();
        let number = match id {
            BlockId::Hash(hash) => self
                .chain
                .store()
                .block_number(hash.block_hash)?
                .ok_or(RpcError::HeaderNotFound)?,
            BlockId::Number(BlockNumberOrTag::Number(n)) => n,
            BlockId::Number(BlockNumberOrTag::Earliest) => 0,
            BlockId::Number(_) => head.header.number,
        };
        if number == head.header.number {
            return Ok(head);
        }
        self.chain
            .store()
            .block(number)?
            .ok_or(RpcError::HeaderNotFound)
    }

    /// Runs `f` on a blocking thread; gives up (the execution stops itself at its own
    /// deadline) after twice the call time limit.
    async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Chain) -> Res<T> + Send + 'static,
    ) -> Res<T> {
        let chain = self.chain.clone();
        let timeout = self.limits.call_timeout;
        let task = tokio::task::spawn_blocking(move || f(&chain));
        match tokio::time::timeout(timeout * 2, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(RpcError::Chain(crate::chain::ChainError::Execution(
                join.to_string(),
            ))),
            Err(_) => Err(RpcError::Timeout(timeout)),
        }
    }

    async fn trace_block(
        &self,
        block: Arc<StoredBlock>,
        opts: Option<GethDebugTracingOptions>,
    ) -> Res<Vec<TraceResult>> {
        let opts = opts.unwrap_or_default();
        let timeout = self.limits.call_timeout;
        let traces = self
            .run_blocking(move |chain| {
                Ok(execution::trace_block(
                    chain.store().as_ref(),
                    chain.spec(),
                    &block,
                    opts,
                    timeout,
                )?
                .into_iter()
                .zip(&block.transactions)
                .map(|(result, tx)| TraceResult::Success {
                    result,
                    tx_hash: Some(*tx.tx_hash()),
                })
                .collect())
            })
            .await?;
        Ok(traces)
    }

    /// The block a call runs on and its environment; fills in `from`.
    fn prepare_call(
        &self,
        request: &mut TransactionRequest,
        block: Option<BlockId>,
    ) -> Res<(u64, alloy_evm::EvmEnv)> {
        let block = self.block(block.unwrap_or_default())?;
        if request.from.is_none() {
            request.from = self.default_from;
        }
        Ok((
            block.header.number,
            execution::header_env(self.chain.spec(), &block.header),
        ))
    }
}

#[async_trait]
impl DebugApiServer for DebugRpc {
    async fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let (number, index) = self
            .chain
            .store()
            .transaction_location(hash)
            .map_err(RpcError::from)?
            .ok_or(RpcError::TransactionNotFound)?;
        let block = self.block(BlockId::number(number))?;
        let opts = opts.unwrap_or_default();
        let timeout = self.limits.call_timeout;
        Ok(self
            .run_blocking(move |chain| {
                Ok(execution::trace_transaction(
                    chain.store().as_ref(),
                    chain.spec(),
                    &block,
                    index,
                    opts,
                    timeout,
                )?)
            })
            .await?)
    }

    async fn trace_call(
        &self,
        mut request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let (at, env) = self.prepare_call(&mut request, block)?;
        let opts = opts.unwrap_or_default();
        let limits = self.call_limits();
        Ok(self
            .run_blocking(move |chain| {
                Ok(execution::trace_call(
                    chain.store().as_ref(),
                    at,
                    env,
                    request,
                    opts,
                    limits,
                )?)
            })
            .await?)
    }

    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let block = self.block(BlockId::Number(number))?;
        Ok(self.trace_block(block, opts).await?)
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let block = self.block(BlockId::hash(hash))?;
        Ok(self.trace_block(block, opts).await?)
    }
}

#[async_trait]
impl EthAccessListApiServer for DebugRpc {
    async fn create_access_list(
        &self,
        ext: &Extensions,
        mut request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        super::eth::check_from(&caller_of(ext), &mut request)?;
        let (at, env) = self.prepare_call(&mut request, block)?;
        let limits = self.call_limits();
        Ok(self
            .run_blocking(move |chain| {
                Ok(execution::create_access_list(
                    chain.store().as_ref(),
                    at,
                    env,
                    request,
                    limits,
                )?)
            })
            .await?)
    }
}
