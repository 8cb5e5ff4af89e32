//! Consensus encodings of chain data (`debug_getRaw*`, as geth serves them): a header
//! or whole block as RLP, a transaction or a block's receipts as EIP-2718 envelopes.
//!
//! A raw header is public chain data (under the confidential policy it is the blinded
//! header, whose hash is the block hash every other method reports). A raw transaction
//! is looked up by hash like `eth_getTransactionByHash`, pool first, and answers `null`
//! for what the caller may not see. A raw block or a block's raw receipts carry every
//! transaction and log unfiltered, so the read policy gives them to auditors only.

use std::sync::Arc;

use alloy::eips::BlockId;
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::Bytes;
use jsonrpsee::Extensions;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::auth::caller_of;
use super::convert;
use super::error::RpcError;
use super::eth::EthRpc;
use super::params::Hash;
use crate::state::StoredBlock;

/// `debug_getRaw*`.
#[rpc(server, namespace = "debug")]
pub trait DebugRawApi {
    /// The RLP of a block's header.
    #[method(name = "getRawHeader")]
    fn raw_header(&self, block: BlockId) -> RpcResult<Bytes>;
    /// The RLP of a whole block: header, transactions, ommers and withdrawals.
    #[method(name = "getRawBlock")]
    fn raw_block(&self, block: BlockId) -> RpcResult<Bytes>;
    /// The EIP-2718 encodings of a block's receipts, in order.
    #[method(name = "getRawReceipts")]
    fn raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>>;
    /// The EIP-2718 encoding of a transaction (pooled or mined), `null` if unknown.
    #[method(name = "getRawTransaction", with_extensions)]
    fn raw_transaction(&self, hash: Hash) -> RpcResult<Option<Bytes>>;
}

/// Raw reads over the blocks [`EthRpc`] resolves.
#[derive(Debug, Clone)]
pub struct RawRpc {
    eth: EthRpc,
}

impl RawRpc {
    /// Raw reads resolving blocks and visibility as `eth` does.
    pub fn new(eth: EthRpc) -> Self {
        Self { eth }
    }

    /// The block `id` names; geth's `block … not found` if none.
    fn block(&self, id: BlockId) -> Result<Arc<StoredBlock>, RpcError> {
        self.eth.named_block(id)
    }
}

impl DebugRawApiServer for RawRpc {
    fn raw_header(&self, block: BlockId) -> RpcResult<Bytes> {
        Ok(alloy::rlp::encode(&self.block(block)?.header).into())
    }

    fn raw_block(&self, block: BlockId) -> RpcResult<Bytes> {
        Ok(alloy::rlp::encode(convert::consensus_block(&*self.block(block)?)).into())
    }

    fn raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>> {
        Ok(self
            .block(block)?
            .receipts
            .iter()
            .map(|r| r.encoded_2718().into())
            .collect())
    }

    fn raw_transaction(&self, ext: &Extensions, hash: Hash) -> RpcResult<Option<Bytes>> {
        let caller = caller_of(ext);
        if let Some(pooled) = self.eth.pooled_transaction(&caller, hash.0) {
            return Ok(Some(pooled.tx.inner().encoded_2718().into()));
        }
        Ok(self
            .eth
            .mined_transaction(&caller, hash.0)?
            .map(|(block, index)| block.transactions[index].encoded_2718().into()))
    }
}
