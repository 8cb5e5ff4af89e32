//! Whole-account reads in one call: `eth_getAccount` (geth and reth: nonce, balance,
//! code hash, storage root) and `eth_getAccountInfo` (anvil: balance, nonce, code).
//! Foundry uses them, when a node has them, to read an account in one round trip.
//!
//! An account that does not exist reads as the empty account, as in geth and anvil:
//! tools deserialize the answer into a non-optional object.

use std::sync::Arc;

use alloy::consensus::TrieAccount;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, KECCAK256_EMPTY};
use alloy::rpc::types::AccountInfo;
use alloy::trie::EMPTY_ROOT_HASH;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::error::RpcError;
use crate::chain::Chain;
use crate::state::{AccountRecord, StateReader};

/// Whole-account reads.
#[rpc(server, namespace = "eth")]
pub trait AccountApi {
    /// The account at a block: `{nonce, balance, codeHash, storageRoot}`.
    ///
    /// coco does not compute per-account storage roots yet: `storageRoot` is always the
    /// empty-trie root `0x56e8…b421`, also for accounts that hold storage.
    #[method(name = "getAccount")]
    fn account(&self, address: Address, block: Option<BlockId>) -> RpcResult<TrieAccount>;
    /// The account at a block with its code: `{balance, nonce, code}`.
    #[method(name = "getAccountInfo")]
    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo>;
}

/// Whole-account reads over a chain.
#[derive(Debug, Clone)]
pub struct AccountRpc {
    chain: Arc<Chain>,
}

impl AccountRpc {
    /// Account reads over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }

    /// The account's record at `block` (`header not found` for an unknown block),
    /// the empty account when it does not exist.
    fn record(&self, address: Address, block: Option<BlockId>) -> Result<AccountRecord, RpcError> {
        let at = resolve_block(&self.chain, block.unwrap_or_default())?
            .ok_or(RpcError::HeaderNotFound)?;
        Ok(self
            .chain
            .store()
            .account(address, at)?
            .filter(|a| a.exists)
            .unwrap_or_default())
    }
}

/// The number of the block `id` names, `None` when there is no such block.
/// Tags resolve as in the rest of the `eth` namespace: `pending`, `safe` and
/// `finalized` are the newest block.
pub(crate) fn resolve_block(chain: &Chain, id: BlockId) -> Result<Option<u64>, RpcError> {
    let head = chain.head().header.number;
    Ok(match id {
        BlockId::Number(BlockNumberOrTag::Earliest) => Some(0),
        BlockId::Number(BlockNumberOrTag::Number(n)) => (n <= head).then_some(n),
        BlockId::Number(_) => Some(head),
        BlockId::Hash(hash) => chain
            .store()
            .block_number(hash.block_hash)?
            .filter(|n| *n <= head),
    })
}

impl AccountApiServer for AccountRpc {
    fn account(&self, address: Address, block: Option<BlockId>) -> RpcResult<TrieAccount> {
        let record = self.record(address, block)?;
        Ok(TrieAccount::new(
            record.nonce,
            record.balance,
            EMPTY_ROOT_HASH,
            record.code_hash,
        ))
    }

    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo> {
        let record = self.record(address, block)?;
        let code = if record.code_hash == KECCAK256_EMPTY {
            Bytes::new()
        } else {
            self.chain
                .store()
                .code(record.code_hash)
                .map_err(RpcError::from)?
                .unwrap_or_default()
        };
        Ok(AccountInfo {
            balance: record.balance,
            nonce: record.nonce,
            code,
        })
    }
}
