//! Whole-account reads in one call: `eth_getAccount` (geth and reth: nonce, balance,
//! code hash, storage root) and `eth_getAccountInfo` (anvil: balance, nonce, code).
//! Foundry uses them, when a node has them, to read an account in one round trip.
//!
//! An account that does not exist reads as the empty account, as in geth and anvil:
//! tools deserialize the answer into a non-optional object.
//!
//! `eth_getProof` (EIP-1186) proves an account and some of its slots against the
//! block's state root, from the store's Merkle-Patricia leaves.

use std::sync::Arc;

use alloy::consensus::TrieAccount;
use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY};
use alloy::rpc::types::{AccountInfo, EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy::serde::JsonStorageKey;
use alloy::trie::EMPTY_ROOT_HASH;
use jsonrpsee::core::RpcResult;
use jsonrpsee::core::async_trait;
use jsonrpsee::proc_macros::rpc;

use super::error::RpcError;
use crate::chain::Chain;
use crate::state::{AccountRecord, StateReader};

/// Whole-account reads.
#[rpc(server, namespace = "eth")]
pub trait AccountApi {
    /// The account at a block: `{nonce, balance, codeHash, storageRoot}`.
    #[method(name = "getAccount")]
    async fn account(&self, address: Address, block: Option<BlockId>) -> RpcResult<TrieAccount>;
    /// The account at a block with its code: `{balance, nonce, code}`.
    #[method(name = "getAccountInfo")]
    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo>;
    /// EIP-1186: the account and the given slots with their Merkle proofs.
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
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

    /// The number of the block `block` names (`header not found` for an unknown one).
    fn number(&self, block: Option<BlockId>) -> Result<u64, RpcError> {
        resolve_block(&self.chain, block.unwrap_or_default())?.ok_or(RpcError::HeaderNotFound)
    }

    /// The account's record after block `at`, the empty account when it does not exist.
    fn record(&self, address: Address, at: u64) -> Result<AccountRecord, RpcError> {
        Ok(self
            .chain
            .store()
            .account(address, at)?
            .filter(|a| a.exists)
            .unwrap_or_default())
    }
}

/// The number of the block `id` names, `None` when there is no such block.
/// Tags resolve as in the rest of the `eth` namespace: `pending` is the newest block,
/// `safe` and `finalized` the finalized one.
pub(crate) fn resolve_block(chain: &Chain, id: BlockId) -> Result<Option<u64>, RpcError> {
    let head = chain.head().header.number;
    Ok(match id {
        BlockId::Number(tag) => super::eth::tag_number(chain, tag, head),
        BlockId::Hash(hash) => chain
            .store()
            .block_number(hash.block_hash)?
            .filter(|n| *n <= head),
    })
}

#[async_trait]
impl AccountApiServer for AccountRpc {
    async fn account(&self, address: Address, block: Option<BlockId>) -> RpcResult<TrieAccount> {
        let at = self.number(block)?;
        let record = self.record(address, at)?;
        // An older block's Merkle state is rebuilt from the log: off the async workers.
        let storage_root = super::blocking(&self.chain, move |chain| {
            Ok(chain
                .store()
                .with_merkle(at, |merkle| merkle.storage_root(address))?)
        })
        .await?;
        Ok(TrieAccount::new(
            record.nonce,
            record.balance,
            storage_root.unwrap_or(EMPTY_ROOT_HASH),
            record.code_hash,
        ))
    }

    async fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        let at = self.number(block)?;
        let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
        let proof = super::blocking(&self.chain, move |chain| {
            Ok(chain
                .store()
                .with_merkle(at, |merkle| merkle.proof(address, &slots))?)
        })
        .await?;
        let account = proof.account.unwrap_or_default();
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: account.storage_root,
            account_proof: proof.proof,
            storage_proof: keys
                .into_iter()
                .zip(proof.storage)
                .map(|(key, (_, value, proof))| EIP1186StorageProof { key, value, proof })
                .collect(),
        })
    }

    fn account_info(&self, address: Address, block: Option<BlockId>) -> RpcResult<AccountInfo> {
        let record = self.record(address, self.number(block)?)?;
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
