//! Consensus encodings of chain data (`debug_getRaw*`, as geth serves them): a header
//! or whole block as RLP, a transaction or a block's receipts as EIP-2718 envelopes.
//!
//! A raw header is public chain data (under the confidential policy it is the blinded
//! header, whose hash is the block hash every other method reports). A raw transaction
//! is looked up by hash like `eth_getTransactionByHash`, pool first, and answers `null`
//! for what the caller may not see. A raw block or a block's raw receipts carry every
//! transaction and log unfiltered, so the read policy gives them to auditors only.
//!
//! geth's `eth_getRawTransactionBy*` (the same bytes by hash or by block and index) and
//! `eth_getHeaderBy*` (a block's header object, public) are here too. For a transaction
//! that is unknown, or that the caller may not see, they answer `null`, as reth,
//! Nethermind and Besu do and as execution-apis specifies (`notFound`); released geth
//! answers `"0x"`, an accident of its types that geth is changing (go-ethereum#35227).

use std::sync::Arc;

use alloy::eips::eip2718::Encodable2718;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{B256, Bytes, U64};
use alloy::rpc::types::Header;
use jsonrpsee::Extensions;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::auth::caller_of;
use super::convert::{self, BlockAnswer};
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

/// geth's raw-transaction and header reads in the `eth` namespace.
#[rpc(server, namespace = "eth")]
pub trait EthRawApi {
    /// The EIP-2718 encoding of a transaction (pooled or mined), `null` if unknown.
    #[method(name = "getRawTransactionByHash", with_extensions)]
    fn raw_transaction_by_hash(&self, hash: Hash) -> RpcResult<Option<Bytes>>;
    /// The EIP-2718 encoding of transaction `index` of a block, `null` if none.
    #[method(name = "getRawTransactionByBlockNumberAndIndex", with_extensions)]
    fn raw_transaction_by_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Bytes>>;
    /// The EIP-2718 encoding of transaction `index` of a block, `null` if none.
    #[method(name = "getRawTransactionByBlockHashAndIndex", with_extensions)]
    fn raw_transaction_by_hash_and_index(
        &self,
        block: B256,
        index: U64,
    ) -> RpcResult<Option<Bytes>>;
    /// A block's header, `null` if there is no such block (`pending`: the pending
    /// block's, as `eth_getBlockByNumber` builds it).
    #[method(name = "getHeaderByNumber", with_extensions)]
    async fn header_by_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<BlockAnswer>>;
    /// A block's header, `null` if there is no such block.
    #[method(name = "getHeaderByHash")]
    fn header_by_hash(&self, hash: B256) -> RpcResult<Option<Header>>;
}

/// A block's header as geth's `eth_getHeaderBy*` shows it (no size: that is the block's).
fn header_object(block: &StoredBlock) -> Header {
    Header {
        size: None,
        ..convert::header(block)
    }
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

impl RawRpc {
    /// Transaction `index` of `block` encoded, if there is one the caller may see.
    fn raw_at(ext: &Extensions, block: Option<Arc<StoredBlock>>, index: U64) -> Option<Bytes> {
        let caller = caller_of(ext);
        let block = block?;
        let index = usize::try_from(index.to::<u64>()).ok()?;
        (index < block.transactions.len() && super::eth::visible_tx(&caller, &block, index))
            .then(|| block.transactions[index].encoded_2718().into())
    }
}

#[jsonrpsee::core::async_trait]
impl EthRawApiServer for RawRpc {
    fn raw_transaction_by_hash(&self, ext: &Extensions, hash: Hash) -> RpcResult<Option<Bytes>> {
        DebugRawApiServer::raw_transaction(self, ext, hash)
    }

    fn raw_transaction_by_number_and_index(
        &self,
        ext: &Extensions,
        block: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Bytes>> {
        Ok(Self::raw_at(ext, self.eth.block_by_tag(block)?, index))
    }

    fn raw_transaction_by_hash_and_index(
        &self,
        ext: &Extensions,
        block: B256,
        index: U64,
    ) -> RpcResult<Option<Bytes>> {
        Ok(Self::raw_at(
            ext,
            self.eth.block_by_hash_inner(block)?,
            index,
        ))
    }

    async fn header_by_number(
        &self,
        ext: &Extensions,
        block: BlockNumberOrTag,
    ) -> RpcResult<Option<BlockAnswer>> {
        if block.is_pending() {
            let pending = self.eth.pending_stored_block(caller_of(ext)).await?;
            return Ok(Some(convert::unsealed(header_object(&pending))));
        }
        Ok(self
            .eth
            .block_by_tag(block)?
            .map(|b| BlockAnswer::Header(Box::new(header_object(&b)))))
    }

    fn header_by_hash(&self, hash: B256) -> RpcResult<Option<Header>> {
        Ok(self
            .eth
            .block_by_hash_inner(hash)?
            .map(|b| header_object(&b)))
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
