//! `debug_trace*` (geth's tracers) and `eth_createAccessList`, over a [`Chain`].
//!
//! Mined transactions are traced by replaying their block ([`execution::trace_transaction`]);
//! calls run on the state after the block named, as `eth_call` runs them. Every execution
//! runs off the async runtime under the call time limit ([`RpcLimits::call_timeout`]).

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::B256;
use alloy::rpc::types::trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use alloy::rpc::types::{AccessListResult, TransactionRequest};
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;

use super::auth::caller_of;
use super::error::RpcError;
use super::eth::EthRpc;
use crate::chain::Chain;
use crate::execution;
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

/// The tracing API over a chain: blocks, environments, limits and the blocking pool are
/// `eth_call`'s ([`EthRpc`]); traces have their own output limit.
#[derive(Debug, Clone)]
pub struct DebugRpc {
    chain: Arc<Chain>,
    eth: EthRpc,
    max_trace_bytes: usize,
}

impl DebugRpc {
    /// An API over `chain`, resolving blocks and calls as `eth` does, answering traces
    /// of at most `max_trace_bytes` ([`super::RpcLimits::max_trace_bytes`]).
    pub fn new(chain: Arc<Chain>, eth: EthRpc, max_trace_bytes: usize) -> Self {
        Self {
            chain,
            eth,
            max_trace_bytes,
        }
    }

    /// The block `id` names; geth's `block … not found` if none.
    fn block(&self, id: BlockId) -> Res<Arc<StoredBlock>> {
        self.eth.named_block(id)
    }

    /// Replays every transaction of `block`; the genesis block has no parent state to
    /// replay on.
    async fn trace_block(
        &self,
        block: Arc<StoredBlock>,
        opts: Option<GethDebugTracingOptions>,
    ) -> Res<Vec<TraceResult>> {
        if block.header.number == 0 {
            return Err(RpcError::GenesisNotTraceable);
        }
        let opts = opts.unwrap_or_default();
        let timeout = self.eth.call_limits().timeout;
        let max_bytes = self.max_trace_bytes;
        let traces = self
            .eth
            .run_blocking(move |chain| {
                Ok(execution::trace_block(
                    chain.store().as_ref(),
                    chain.spec(),
                    &block,
                    opts,
                    timeout,
                    max_bytes,
                )?
                .into_iter()
                .zip(&block.transactions)
                .map(|(result, tx)| TraceResult::Success {
                    result: geth_shape(result),
                    tx_hash: Some(*tx.tx_hash()),
                })
                .collect())
            })
            .await?;
        Ok(traces)
    }
}

/// geth's struct logs leave out what is empty: a zero refund counter, empty return
/// data, memory and storage (tools and the conformance schemas expect those keys only
/// when they carry something).
fn geth_shape(mut trace: GethTrace) -> GethTrace {
    if let GethTrace::Default(frame) = &mut trace {
        for log in &mut frame.struct_logs {
            log.refund_counter = log.refund_counter.filter(|r| *r != 0);
            log.return_data = log.return_data.take().filter(|d| !d.is_empty());
            log.memory = log.memory.take().filter(|m| !m.is_empty());
            log.storage = log.storage.take().filter(|s| !s.is_empty());
        }
    }
    trace
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
        let timeout = self.eth.call_limits().timeout;
        let max_bytes = self.max_trace_bytes;
        Ok(self
            .eth
            .run_blocking(move |chain| {
                Ok(geth_shape(execution::trace_transaction(
                    chain.store().as_ref(),
                    chain.spec(),
                    &block,
                    index,
                    opts,
                    timeout,
                    max_bytes,
                )?))
            })
            .await?)
    }

    async fn trace_call(
        &self,
        mut request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let (at, env) = self.eth.prepare_call(&mut request, block)?;
        let opts = opts.unwrap_or_default();
        let limits = self.eth.call_limits();
        let max_bytes = self.max_trace_bytes;
        Ok(self
            .eth
            .run_blocking(move |chain| {
                Ok(geth_shape(execution::trace_call(
                    chain.store().as_ref(),
                    at,
                    env,
                    request,
                    opts,
                    limits,
                    max_bytes,
                )?))
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
        let (at, env) = self.eth.prepare_call(&mut request, block)?;
        let limits = self.eth.call_limits();
        Ok(self
            .eth
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
