//! Uncle (ommer) queries. coco's blocks never have uncles, so, as geth answers on a
//! post-merge chain: a count of `0x0` for a block that exists, `null` for one that
//! does not, and `null` for every uncle lookup.

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{B256, U64};
use alloy::rpc::types::{Block, Index};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::account::resolve_block;
use crate::chain::Chain;

/// `eth_getUncle*`.
#[rpc(server, namespace = "eth")]
pub trait UncleApi {
    /// Number of uncles of a block by number: `0x0`, or `null` for an unknown block.
    #[method(name = "getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Number of uncles of a block by hash: `0x0`, or `null` for an unknown block.
    #[method(name = "getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// An uncle by block number and index: always `null`.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    fn uncle_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Block>>;
    /// An uncle by block hash and index: always `null`.
    #[method(name = "getUncleByBlockHashAndIndex")]
    fn uncle_by_hash_and_index(&self, hash: B256, index: Index) -> RpcResult<Option<Block>>;
}

/// Uncle queries over a chain.
#[derive(Debug, Clone)]
pub struct UncleRpc {
    chain: Arc<Chain>,
}

impl UncleRpc {
    /// Uncle queries over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }

    fn count(&self, id: BlockId) -> RpcResult<Option<U64>> {
        Ok(resolve_block(&self.chain, id)?.map(|_| U64::ZERO))
    }
}

impl UncleApiServer for UncleRpc {
    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        self.count(BlockId::Number(number))
    }

    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        self.count(BlockId::from(hash))
    }

    fn uncle_by_number_and_index(
        &self,
        _number: BlockNumberOrTag,
        _index: Index,
    ) -> RpcResult<Option<Block>> {
        Ok(None)
    }

    fn uncle_by_hash_and_index(&self, _hash: B256, _index: Index) -> RpcResult<Option<Block>> {
        Ok(None)
    }
}
