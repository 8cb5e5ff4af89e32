//! The JSON-RPC namespaces coco serves, one trait each.

use std::collections::BTreeMap;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U64, U128, U256};
use alloy::rpc::types::pubsub::{Params, SubscriptionKind};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{
    Block, FeeHistory, Filter, FilterChanges, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult as SubscribeResult};
use jsonrpsee::proc_macros::rpc;

use super::params::{CallBlockOverrides, StorageKey};

/// `web3_*`.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// Client name and version.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// keccak256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

/// `net_*`.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// Network id (the chain id, in decimal).
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    /// Always true: the node serves.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
    /// Connected peers.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// `eth_*`.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// EIP-155 chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Newest block number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Always false: a single source of truth has nothing to sync.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// Suggested legacy gas price: next base fee plus suggested tip.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// Suggested priority fee.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Base fee per gas of the next block.
    #[method(name = "baseFee")]
    fn base_fee(&self) -> RpcResult<U256>;
    /// Base fee per blob gas at the latest block (from Cancun), as geth answers.
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;
    /// Base fees, gas ratios and reward percentiles of recent blocks.
    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// The accounts this node signs for (dev mode: the prefunded accounts).
    #[method(name = "accounts", with_extensions)]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Balance at a block.
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce at a block (`pending` counts pooled transactions).
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code at a block.
    #[method(name = "getCode", with_extensions)]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A storage slot at a block.
    #[method(name = "getStorageAt")]
    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;
    /// Several storage slots of several accounts at one block.
    #[method(name = "getStorageValues")]
    fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<BTreeMap<Address, Vec<B256>>>;
    /// Executes a call without creating a transaction, with geth's optional state and
    /// block overrides (for this call only).
    #[method(name = "call", with_extensions)]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<Box<CallBlockOverrides>>,
    ) -> RpcResult<Bytes>;
    /// Gas a transaction needs, with geth's optional state and block overrides.
    #[method(name = "estimateGas", with_extensions)]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<Box<CallBlockOverrides>>,
    ) -> RpcResult<U64>;
    /// Submits a signed transaction. With instant mining, answers once its block is
    /// durable (as Hardhat Network does), so a receipt lookup right after succeeds.
    #[method(name = "sendRawTransaction", with_extensions)]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A transaction by hash (pooled or mined).
    #[method(name = "getTransactionByHash", with_extensions)]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// A mined transaction's receipt.
    #[method(name = "getTransactionReceipt", with_extensions)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// A block by number or tag; `pending` is the block the pool would make now.
    #[method(name = "getBlockByNumber", with_extensions)]
    async fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<super::convert::BlockAnswer>>;
    /// A block by hash.
    #[method(name = "getBlockByHash", with_extensions)]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;
    /// Every receipt of a block.
    #[method(name = "getBlockReceipts", with_extensions)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// Transaction count of a block by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Transaction count of a block by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex", with_extensions)]
    fn tx_by_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex", with_extensions)]
    fn tx_by_hash_and_index(&self, hash: B256, index: U64) -> RpcResult<Option<Transaction>>;
    /// Logs matching a filter.
    #[method(name = "getLogs", with_extensions)]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
}

/// `eth_subscribe` / `eth_unsubscribe` (WebSocket only).
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Starts a subscription: `newHeads`, `logs` (with an optional filter object),
    /// `newPendingTransactions` (hashes, or full transactions with `true`), or `syncing`.
    #[subscription(
        name = "subscribe" => "subscription",
        unsubscribe = "unsubscribe",
        item = alloy::rpc::types::pubsub::SubscriptionResult,
        with_extensions
    )]
    async fn subscribe(&self, kind: SubscriptionKind, params: Option<Params>) -> SubscribeResult;
}

/// `eth_*` filters: installed queries polled for what changed since the last poll.
#[rpc(server, namespace = "eth")]
pub trait EthFilterApi {
    /// Installs a log filter; returns its id.
    #[method(name = "newFilter", with_extensions)]
    fn new_filter(&self, filter: Filter) -> RpcResult<U128>;
    /// Installs a filter for new block hashes; returns its id.
    #[method(name = "newBlockFilter", with_extensions)]
    fn new_block_filter(&self) -> RpcResult<U128>;
    /// Installs a filter for new pool transactions (hashes, or full objects with `true`).
    #[method(name = "newPendingTransactionFilter", with_extensions)]
    fn new_pending_transaction_filter(&self, full: Option<bool>) -> RpcResult<U128>;
    /// What a filter collected since its last poll.
    #[method(name = "getFilterChanges", with_extensions)]
    async fn filter_changes(&self, id: String) -> RpcResult<FilterChanges>;
    /// Every log matching a log filter's criteria (as `eth_getLogs`).
    #[method(name = "getFilterLogs", with_extensions)]
    async fn filter_logs(&self, id: String) -> RpcResult<Vec<Log>>;
    /// Removes a filter; false if there was none with this id.
    #[method(name = "uninstallFilter", with_extensions)]
    fn uninstall_filter(&self, id: String) -> RpcResult<bool>;
}
