//! Uncle (ommer) queries. Blocks coco produces never have uncles; imported
//! proof-of-work blocks may. As geth: the count for a block that exists, `null` for one
//! that does not; an uncle is its header as a block without transactions or uncles.

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{B256, U64};
use alloy::rpc::types::{Block, Index};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::account::resolve_block;
use super::convert;
use super::error::RpcError;
use crate::chain::Chain;
use crate::state::StoredBlock;

/// `eth_getUncle*`.
#[rpc(server, namespace = "eth")]
pub trait UncleApi {
    /// Number of uncles of a block by number: `0x0`, or `null` for an unknown block.
    #[method(name = "getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Number of uncles of a block by hash: `0x0`, or `null` for an unknown block.
    #[method(name = "getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// An uncle by block number and index, `null` when there is none.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    fn uncle_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Block>>;
    /// An uncle by block hash and index, `null` when there is none.
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

    fn block(&self, id: BlockId) -> RpcResult<Option<Arc<StoredBlock>>> {
        let Some(number) = resolve_block(&self.chain, id)? else {
            return Ok(None);
        };
        Ok(self.chain.store().block(number).map_err(RpcError::from)?)
    }

    fn count(&self, id: BlockId) -> RpcResult<Option<U64>> {
        Ok(self.block(id)?.map(|b| U64::from(b.ommers.len())))
    }

    fn uncle(&self, id: BlockId, index: Index) -> RpcResult<Option<Block>> {
        let Some(block) = self.block(id)? else {
            return Ok(None);
        };
        Ok(block.ommers.get(usize::from(index)).map(|ommer| {
            let uncle = StoredBlock {
                header: ommer.clone(),
                transactions: vec![],
                senders: vec![],
                receipts: vec![],
                ommers: vec![],
                withdrawals: vec![],
            };
            convert::block(&uncle, false, |_| false)
        }))
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
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Block>> {
        self.uncle(BlockId::Number(number), index)
    }

    fn uncle_by_hash_and_index(&self, hash: B256, index: Index) -> RpcResult<Option<Block>> {
        self.uncle(BlockId::from(hash), index)
    }
}
