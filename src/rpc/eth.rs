//! The `eth_`, `net_` and `web3_` namespaces over a [`Chain`].

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::consensus::{Transaction as _, TxReceipt};
use alloy::eips::eip4844::DATA_GAS_PER_BLOB;
use alloy::eips::eip7840::BlobParams;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U64, U256, keccak256};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{
    Block, FeeHistory, Filter, FilterBlockOption, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};

use super::RpcLimits;
use super::api::{EthApiServer, NetApiServer, Web3ApiServer};
use super::auth::{Caller, caller_of};
use super::convert;
use super::error::RpcError;
use super::params::{CallBlockOverrides, StorageKey};
use crate::chain::{Chain, Mining, TxError};
use crate::execution;
use crate::state::{StateReader, StoredBlock};

/// Most pool transactions the pending block (`eth_getBlockByNumber("pending")`) runs.
const PENDING_BLOCK_TXS: usize = 1_024;

/// The suggested priority fee: 1 gwei, as geth and anvil suggest on an idle chain.
pub(crate) const SUGGESTED_TIP: u64 = 1_000_000_000;
/// Client name reported by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("coco/v", env!("CARGO_PKG_VERSION"));
/// The client name with `--anvil-compat`: Hardhat's network helpers (`loadFixture`,
/// `time`, `mine`) accept only nodes whose name starts with `anvil`, `hardhatnetwork`
/// or `zksync`; coco serves the anvil methods they call.
pub const ANVIL_COMPAT_CLIENT_VERSION: &str =
    concat!("anvil/v1.7.1 (coco/v", env!("CARGO_PKG_VERSION"), ")");

type Res<T> = Result<T, RpcError>;

/// New blocks, as the chain announces them.
pub(crate) type BlockWatch = tokio::sync::broadcast::Receiver<Arc<StoredBlock>>;

/// Most slots one `eth_getStorageValues` may read.
const MAX_STORAGE_VALUES: usize = 1024;

/// Longest a send waits for its block under instant mining.
const INCLUSION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The Ethereum API over a chain.
#[derive(Debug, Clone)]
pub struct EthRpc {
    chain: Arc<Chain>,
    limits: RpcLimits,
    accounts: Vec<Address>,
    client_version: &'static str,
    /// One pending block is built at a time: a caller whose own pool transactions are
    /// heavy delays pending-block answers, never the node's other work.
    pending_builds: Arc<tokio::sync::Semaphore>,
}

impl EthRpc {
    /// An API over `chain`; `accounts` are listed by `eth_accounts`.
    pub fn new(chain: Arc<Chain>, limits: RpcLimits, accounts: Vec<Address>) -> Self {
        Self {
            chain,
            limits,
            client_version: CLIENT_VERSION,
            accounts,
            pending_builds: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// geth's pending block for `caller`: built off the async workers, one at a time,
    /// from the caller's own ready pool transactions (everyone's for a caller who sees
    /// everything), the cap counting only those.
    pub(crate) async fn pending_stored_block(&self, caller: Caller) -> Res<StoredBlock> {
        let _one =
            self.pending_builds.acquire().await.map_err(|_| {
                RpcError::Chain(crate::chain::ChainError::Execution("closed".into()))
            })?;
        self.run_blocking(move |chain| {
            Ok(chain.pending_block(PENDING_BLOCK_TXS, |sender| {
                caller.sees_everything() || caller.holds(sender)
            })?)
        })
        .await
    }

    fn block_number_of(&self, tag: BlockNumberOrTag) -> Option<u64> {
        tag_number(&self.chain, tag, self.chain.head().header.number)
    }

    pub(crate) fn block_by_tag(&self, tag: BlockNumberOrTag) -> Res<Option<Arc<StoredBlock>>> {
        // One read of the head: a block produced in between must not change the answer.
        let head = self.chain.head();
        match tag_number(&self.chain, tag, head.header.number) {
            Some(n) if n == head.header.number => Ok(Some(head)),
            Some(n) => Ok(self.chain.store().block(n)?),
            None => Ok(None),
        }
    }

    pub(crate) fn block_by_hash_inner(&self, hash: B256) -> Res<Option<Arc<StoredBlock>>> {
        match self.chain.store().block_number(hash)? {
            Some(n) => Ok(self.chain.store().block(n)?),
            None => Ok(None),
        }
    }

    /// The block whose post-state a state read uses; `header not found` if none.
    pub(crate) fn state_block(&self, id: Option<BlockId>) -> Res<Arc<StoredBlock>> {
        let block = match id.unwrap_or_default() {
            BlockId::Number(tag) => self.block_by_tag(tag)?,
            BlockId::Hash(hash) => self.block_by_hash_inner(hash.block_hash)?,
        };
        block.ok_or(RpcError::HeaderNotFound)
    }

    /// The block `id` names, for methods that read a block rather than state at it:
    /// geth's `block … not found` if none.
    pub(crate) fn named_block(&self, id: BlockId) -> Res<Arc<StoredBlock>> {
        self.state_block(Some(id)).map_err(|e| match e {
            RpcError::HeaderNotFound => RpcError::BlockNotFound(match id {
                BlockId::Hash(hash) => hash.block_hash.to_string(),
                BlockId::Number(tag) => format!("#{tag}"),
            }),
            other => other,
        })
    }

    fn account(
        &self,
        address: Address,
        id: Option<BlockId>,
    ) -> Res<Option<crate::state::AccountRecord>> {
        let block = self.state_block(id)?;
        Ok(self
            .chain
            .store()
            .account(address, block.header.number)?
            .filter(|a| a.exists))
    }

    /// Runs `f` on a blocking thread, giving up after twice the call time limit.
    pub(crate) async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Chain) -> Res<T> + Send + 'static,
    ) -> Res<T> {
        let chain = self.chain.clone();
        let timeout = self.limits.call_timeout;
        let task = tokio::task::spawn_blocking(move || f(&chain));
        // The EVM stops itself at the deadline; this is the backstop for the rest.
        match tokio::time::timeout(timeout * 2, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(RpcError::Chain(crate::chain::ChainError::Execution(
                join.to_string(),
            ))),
            Err(_) => Err(RpcError::Timeout(timeout)),
        }
    }

    /// Answers `web3_clientVersion` as anvil (see [`ANVIL_COMPAT_CLIENT_VERSION`]).
    pub fn anvil_compat(mut self) -> Self {
        self.client_version = ANVIL_COMPAT_CLIENT_VERSION;
        self
    }

    /// A watch on new blocks for [`EthRpc::await_inclusion`], taken before the
    /// transaction is submitted so that its block cannot be missed; none unless mining
    /// is instant (a subscription per transaction would cost two locks of the shared
    /// block channel for nothing).
    pub(crate) fn inclusion_watch(&self) -> Option<BlockWatch> {
        (self.chain.mining() == Mining::Instant).then(|| self.chain.subscribe_blocks())
    }

    /// With instant mining, waits (a bounded time) until the block holding `hash` is
    /// durable. Returns at once for transactions that wait behind a nonce gap.
    pub(crate) async fn await_inclusion(&self, hash: B256, blocks: Option<BlockWatch>) {
        let Some(mut blocks) = blocks else {
            return;
        };
        if self.chain.mining() != Mining::Instant {
            return;
        }
        let Some(pooled) = self.chain.pool_tx(&hash) else {
            return;
        };
        let ready = self
            .chain
            .pending_nonce(pooled.tx.signer())
            .is_ok_and(|next| next > pooled.tx.nonce());
        if !ready {
            return;
        }
        let wait = async {
            loop {
                if self.chain.pool_tx(&hash).is_none() {
                    return;
                }
                match blocks.recv().await {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        };
        let _ = tokio::time::timeout(INCLUSION_WAIT, wait).await;
    }

    /// `eth_estimateGas`, for other namespaces too.
    pub(crate) async fn estimate_gas_inner(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> Res<u64> {
        self.estimate_gas_with(request, block, None, None).await
    }

    /// `eth_estimateGas` with geth's state and block overrides.
    async fn estimate_gas_with(
        &self,
        mut request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<CallBlockOverrides>,
    ) -> Res<u64> {
        let (at, env, overrides) =
            self.prepare_call_with(&mut request, block, state, block_overrides)?;
        let limits = self.call_limits();
        self.run_blocking(move |chain| {
            Ok(execution::estimate_gas(
                chain.store().as_ref(),
                at,
                env,
                request,
                &overrides,
                limits,
            )?)
        })
        .await
    }

    /// Gas cap and time limit of calls.
    pub(crate) fn call_limits(&self) -> execution::CallLimits {
        execution::CallLimits {
            gas_cap: self.limits.call_gas_cap,
            timeout: self.limits.call_timeout,
            evm: self.chain.spec().evm(),
        }
    }

    /// The block a call runs on and its environment; fills in `from`.
    ///
    /// As in geth, a call that names no gas price runs with a zero base fee (its
    /// `BASEFEE` reads zero), so that it need not pay for gas.
    pub(crate) fn prepare_call(
        &self,
        request: &mut TransactionRequest,
        block: Option<BlockId>,
    ) -> Res<(u64, alloy_evm::EvmEnv)> {
        let (at, env, _) = self.prepare_call_with(request, block, None, None)?;
        Ok((at, env))
    }

    /// [`EthRpc::prepare_call`] with geth's overrides: the environment is the block's
    /// with `block_overrides` applied (before a fee-less call's base fee is zeroed, as
    /// geth orders it), and the [`execution::CallOverrides`] carry what the call's overlay
    /// must lay over the state (`state`, and `BLOCKHASH` answers).
    pub(crate) fn prepare_call_with(
        &self,
        request: &mut TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<CallBlockOverrides>,
    ) -> Res<(u64, alloy_evm::EvmEnv, execution::CallOverrides)> {
        let block = self.state_block(block)?;
        if request.from.is_none() {
            request.from = self.accounts.first().copied();
        }
        let refused = |message: String| RpcError::Call(execution::CallError::Override(message));
        let mut overrides = execution::CallOverrides {
            state: state.unwrap_or_default(),
            ..Default::default()
        };
        let mut env = match block_overrides.filter(|o| !o.is_empty()) {
            None => execution::header_evm_env(self.chain.spec(), &block.header),
            Some(o) => {
                let o = o.into_overrides().map_err(refused)?;
                let (env, hashes) =
                    execution::overrides::override_block(self.chain.spec(), &block.header, o)
                        .map_err(refused)?;
                overrides.block_hashes = hashes;
                env
            }
        };
        let priced = [
            request.gas_price,
            request.max_fee_per_gas,
            request.max_priority_fee_per_gas,
        ]
        .into_iter()
        .any(|price| price.is_some_and(|p| p > 0));
        if !priced {
            env.block_env.basefee = 0;
        }
        Ok((block.header.number, env, overrides))
    }

    /// The block and index of a mined transaction `caller` may see.
    pub(crate) fn mined_transaction(
        &self,
        caller: &Caller,
        hash: B256,
    ) -> Res<Option<(Arc<StoredBlock>, usize)>> {
        let store = self.chain.store();
        let Some((number, index)) = store.transaction_location(hash)? else {
            return Ok(None);
        };
        let block = store.block(number)?.ok_or(RpcError::HeaderNotFound)?;
        Ok(visible_tx(caller, &block, index).then_some((block, index)))
    }

    /// A pooled transaction `caller` may see.
    pub(crate) fn pooled_transaction(
        &self,
        caller: &Caller,
        hash: B256,
    ) -> Option<Arc<crate::chain::PoolTx>> {
        self.chain
            .pool_tx(&hash)
            .filter(|p| caller.can_see_transaction(&p.tx.signer(), p.tx.to().as_ref()))
    }

    /// Storage slots of `address` after block `at` (zero for an account that does not
    /// exist).
    fn slots(&self, address: Address, slots: &[StorageKey], at: u64) -> Res<Vec<B256>> {
        let store = self.chain.store();
        let Some(account) = store.account(address, at)?.filter(|a| a.exists) else {
            return Ok(vec![B256::ZERO; slots.len()]);
        };
        slots
            .iter()
            .map(|slot| {
                let value = store.storage(address, account.incarnation, slot.0.into(), at)?;
                Ok(B256::from(value))
            })
            .collect()
    }

    /// The blob fee parameters in force at `timestamp`, `None` before Cancun.
    pub(crate) fn blob_params(&self, timestamp: u64) -> Option<BlobParams> {
        self.chain.spec().blob_params_at(timestamp)
    }

    fn fee_history_inner(
        &self,
        count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> Res<FeeHistory> {
        let count = count.min(1024);
        let newest = self
            .block_number_of(newest)
            .ok_or(RpcError::HeaderNotFound)?;
        if let Some(p) = &percentiles
            && (p.iter().any(|v| !(0.0..=100.0).contains(v)) || p.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(RpcError::InvalidParams("invalid reward percentiles".into()));
        }
        let oldest = (newest + 1).saturating_sub(count);
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        if count == 0 {
            return Ok(history);
        }
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let block = self
                .chain
                .store()
                .block(n)?
                .ok_or(RpcError::HeaderNotFound)?;
            let h = &block.header;
            history
                .base_fee_per_gas
                .push(h.base_fee_per_gas.unwrap_or_default() as u128);
            history.gas_used_ratio.push(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            });
            let blob_params = self.blob_params(h.timestamp);
            let (blob_fee, blob_ratio) = match blob_params {
                Some(params) => (
                    h.blob_fee(params).unwrap_or_default(),
                    h.blob_gas_used.unwrap_or_default() as f64
                        / (params.max_blob_count * DATA_GAS_PER_BLOB).max(1) as f64,
                ),
                None => (0, 0.0),
            };
            history.base_fee_per_blob_gas.push(blob_fee);
            history.blob_gas_used_ratio.push(blob_ratio);
            if let Some(p) = &percentiles {
                rewards.push(block_rewards(&block, p));
            }
            if n == newest {
                history
                    .base_fee_per_gas
                    .push(self.chain.spec().base_fee_after(h) as u128);
                history.base_fee_per_blob_gas.push(
                    blob_params
                        .and_then(|params| h.next_block_blob_fee(params))
                        .unwrap_or_default(),
                );
            }
        }
        history.reward = percentiles.map(|_| rewards);
        Ok(history)
    }

    /// `eth_getLogs` for `caller` off the async runtime, under the call time limit. Also
    /// serves `eth_getFilterLogs`, so both obey the same range and result limits.
    pub(crate) async fn logs_blocking(&self, filter: Filter, caller: Caller) -> Res<Vec<Log>> {
        let this = self.clone();
        self.run_blocking(move |_| this.logs_inner(&filter, &caller))
            .await
    }

    /// The logs matching `filter` that `caller` may see, within
    /// [`RpcLimits::logs_max_range`] and [`RpcLimits::logs_max_results`]. The result
    /// cap counts only those logs: a limit that counted hidden ones would tell where
    /// they are.
    pub(crate) fn logs_inner(&self, filter: &Filter, caller: &Caller) -> Res<Vec<Log>> {
        let head = self.chain.head().header.number;
        let (from, to) = match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .chain
                    .store()
                    .block_number(*hash)?
                    .ok_or(RpcError::HeaderNotFound)?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let resolve = |tag: Option<BlockNumberOrTag>| match tag.unwrap_or_default() {
                    BlockNumberOrTag::Number(n) => n,
                    other => self.block_number_of(other).unwrap_or(head),
                };
                (resolve(*from_block), resolve(*to_block).min(head))
            }
        };
        if from > to {
            if from > head {
                return Ok(vec![]);
            }
            return Err(RpcError::InvalidParams("invalid block range params".into()));
        }
        if to - from >= self.limits.logs_max_range {
            return Err(RpcError::Limit(format!(
                "query exceeds max block range {}",
                self.limits.logs_max_range
            )));
        }
        let governance = self.chain.governance();
        let mut out = Vec::new();
        for n in from..=to {
            let block = self
                .chain
                .store()
                .block(n)?
                .ok_or(RpcError::HeaderNotFound)?;
            // Receipts' blooms, not the header's: under the confidential policy the header
            // carries the bloom of public logs only.
            if !block
                .receipts
                .iter()
                .any(|r| filter.matches_bloom(r.bloom()))
            {
                continue;
            }
            let hash = block.header.hash_slow();
            for i in 0..block.transactions.len() {
                if !filter.matches_bloom(block.receipts[i].bloom()) {
                    continue;
                }
                let sender = block.senders[i];
                for log in convert::logs_at(&block, hash, i) {
                    if filter.rpc_matches(&log) && caller.sees_log(&sender, &log.inner, &governance)
                    {
                        out.push(log);
                        if out.len() > self.limits.logs_max_results {
                            return Err(RpcError::Limit(format!(
                                "query returned more than {} results",
                                self.limits.logs_max_results
                            )));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The number of the block `tag` names when the head is block `head`, `None` past it:
/// `latest` and `pending` are the head, `safe` and `finalized` the finalized block.
pub(crate) fn tag_number(chain: &Chain, tag: BlockNumberOrTag, head: u64) -> Option<u64> {
    match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(head),
        BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => Some(chain.finalized().min(head)),
        BlockNumberOrTag::Earliest => Some(0),
        BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
    }
}

/// A refused transaction as `caller` may hear of it: the figures and state of the
/// sender's account (nonce, balance) only for a caller who may read that account, geth's
/// bare message for anyone else. Every submission path answers through this.
pub(crate) fn rejection(caller: &Caller, error: TxError) -> RpcError {
    let shown = error.account().is_none_or(|a| caller.can_read_account(&a));
    RpcError::Tx(if shown {
        error
    } else {
        error.without_account_state()
    })
}

/// `from` must be one of the caller's addresses (default: the first), unless the caller
/// sees everything.
pub(crate) fn check_from(caller: &Caller, request: &mut TransactionRequest) -> Res<()> {
    if caller.sees_everything() {
        return Ok(());
    }
    match request.from {
        None => request.from = caller.addresses.first().copied(),
        Some(from) if caller.holds(&from) => {}
        Some(_) => {
            return Err(RpcError::NotAuthorized(
                "not authorized: `from` must be one of the API key's addresses".into(),
            ));
        }
    }
    Ok(())
}

/// Under the confidential policy only callers who see everything may send a state or
/// block override: code put in a contract's place reads its storage, a balance or nonce
/// set is read back by the call. An empty or null one changes nothing and is accepted
/// from anyone (tools send them).
pub(crate) fn check_overrides(
    caller: &Caller,
    state: Option<&StateOverride>,
    block: Option<&CallBlockOverrides>,
) -> Res<()> {
    let empty = state.is_none_or(|s| s.is_empty()) && block.is_none_or(|b| b.is_empty());
    if empty || caller.sees_everything() {
        return Ok(());
    }
    Err(RpcError::NotAuthorized(
        "not authorized: state and block overrides need an auditor key".into(),
    ))
}

/// Whether transaction `index` of `block` is visible to `caller`.
pub(crate) fn visible_tx(caller: &Caller, block: &StoredBlock, index: usize) -> bool {
    let to = block.transactions[index].to();
    caller.can_see_transaction(&block.senders[index], to.as_ref())
}

/// A receipt with only the logs `caller` may see (and their bloom).
fn receipt_for(
    caller: &Caller,
    governance: &crate::governance::GovernanceState,
    block: &StoredBlock,
    hash: B256,
    index: usize,
    blob_params: Option<BlobParams>,
) -> TransactionReceipt {
    let mut receipt = convert::receipt_at(block, hash, index, blob_params);
    if caller.sees_everything() {
        return receipt;
    }
    let sender = block.senders[index];
    if let Some(inner) = receipt.inner.as_receipt_with_bloom_mut() {
        inner
            .receipt
            .logs
            .retain(|l| caller.sees_log(&sender, &l.inner, governance));
        inner.logs_bloom = alloy::primitives::Bloom::ZERO;
        for log in &inner.receipt.logs {
            inner.logs_bloom.accrue_log(&log.inner);
        }
    }
    receipt
}

/// Effective tips of a block at the given gas-weighted percentiles.
fn block_rewards(block: &StoredBlock, percentiles: &[f64]) -> Vec<u128> {
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    let mut txs: Vec<(u128, u64)> = block
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            let previous = i
                .checked_sub(1)
                .map(|p| block.receipts[p].cumulative_gas_used())
                .unwrap_or(0);
            let gas = block.receipts[i].cumulative_gas_used() - previous;
            (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), gas)
        })
        .collect();
    if txs.is_empty() {
        return vec![0; percentiles.len()];
    }
    txs.sort_unstable_by_key(|(tip, _)| *tip);
    let total: u64 = txs.iter().map(|(_, g)| g).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut cumulative = 0u64;
            for (tip, gas) in &txs {
                cumulative += gas;
                if cumulative >= threshold {
                    return *tip;
                }
            }
            txs.last().map(|t| t.0).unwrap_or_default()
        })
        .collect()
}

impl Web3ApiServer for EthRpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(self.client_version.to_string())
    }

    fn sha3(&self, input: Bytes) -> RpcResult<B256> {
        Ok(keccak256(input))
    }
}

impl NetApiServer for EthRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain.spec().chain_id().to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }
}

#[async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.spec().chain_id()))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.head().header.number))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain.next_base_fee()) + U256::from(SUGGESTED_TIP))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_TIP))
    }

    fn base_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain.next_base_fee()))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        let head = self.chain.head();
        let fee = self
            .blob_params(head.header.timestamp)
            .and_then(|params| head.header.blob_fee(params))
            .ok_or(RpcError::ForkNotActive("Cancun (blob fees)"))?;
        Ok(U256::from(fee))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        Ok(self.fee_history_inner(block_count.to(), newest_block, reward_percentiles)?)
    }

    fn accounts(&self, ext: &Extensions) -> RpcResult<Vec<Address>> {
        let caller = caller_of(ext);
        if caller.open {
            return Ok(self.accounts.clone());
        }
        Ok(caller.addresses.to_vec())
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        Ok(self
            .account(address, block)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(
                self.chain.pending_nonce(address).map_err(RpcError::from)?,
            ));
        }
        Ok(U64::from(
            self.account(address, block)?
                .map(|a| a.nonce)
                .unwrap_or_default(),
        ))
    }

    fn code(&self, ext: &Extensions, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let Some(account) = self.account(address, block)? else {
            return Ok(Bytes::new());
        };
        // Code governance made private reads as an account without code, except for
        // those who see everything.
        if self.chain.governance().code_private(&address) && !caller_of(ext).sees_everything() {
            return Ok(Bytes::new());
        }
        if account.code_hash == KECCAK256_EMPTY {
            return Ok(Bytes::new());
        }
        Ok(self
            .chain
            .store()
            .code(account.code_hash)
            .map_err(RpcError::from)?
            .unwrap_or_default())
    }

    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let at = self.state_block(block)?.header.number;
        Ok(self.slots(address, &[slot], at)?.remove(0))
    }

    fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<BTreeMap<Address, Vec<B256>>> {
        let count: usize = requests.values().map(Vec::len).sum();
        if count == 0 {
            return Err(RpcError::InvalidParams("empty request".into()).into());
        }
        if count > MAX_STORAGE_VALUES {
            return Err(RpcError::InvalidParams(format!(
                "too many slots requested: {count} (at most {MAX_STORAGE_VALUES})"
            ))
            .into());
        }
        let at = self.state_block(block)?.header.number;
        Ok(requests
            .into_iter()
            .map(|(address, slots)| Ok((address, self.slots(address, &slots, at)?)))
            .collect::<Res<_>>()?)
    }

    async fn call(
        &self,
        ext: &Extensions,
        mut request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<Box<CallBlockOverrides>>,
    ) -> RpcResult<Bytes> {
        let caller = caller_of(ext);
        check_overrides(&caller, state.as_ref(), block_overrides.as_deref())?;
        check_from(&caller, &mut request)?;
        let (at, env, overrides) =
            self.prepare_call_with(&mut request, block, state, block_overrides.map(|b| *b))?;
        let cap = self.call_limits();
        let outcome = self
            .run_blocking(move |chain| {
                Ok(execution::call(
                    chain.store().as_ref(),
                    at,
                    env,
                    request,
                    &overrides,
                    cap,
                )?)
            })
            .await?;
        Ok(outcome.output)
    }

    async fn estimate_gas(
        &self,
        ext: &Extensions,
        mut request: TransactionRequest,
        block: Option<BlockId>,
        state: Option<StateOverride>,
        block_overrides: Option<Box<CallBlockOverrides>>,
    ) -> RpcResult<U64> {
        let caller = caller_of(ext);
        check_overrides(&caller, state.as_ref(), block_overrides.as_deref())?;
        check_from(&caller, &mut request)?;
        let gas = self
            .estimate_gas_with(request, block, state, block_overrides.map(|b| *b))
            .await?;
        Ok(U64::from(gas))
    }

    async fn send_raw_transaction(&self, ext: &Extensions, raw: Bytes) -> RpcResult<B256> {
        let caller = caller_of(ext);
        // A validator that does not lead hands the bytes to the leader and answers
        // its verdict: the same hash and the same errors as the leader's.
        if let Some(forward) = self.chain.forwarder()
            && let Some(verdict) = forward.forward(raw.clone()).await
        {
            return verdict.map_err(|e| rejection(&caller, e).into());
        }
        let blocks = self.inclusion_watch();
        let submitted = match raw.first() {
            // A blob transaction's KZG proofs (and, the first time, the trusted setup's
            // loading: seconds) are checked off the async workers.
            Some(&alloy::consensus::constants::EIP4844_TX_TYPE_ID) => {
                let chain = self.chain.clone();
                (tokio::task::spawn_blocking(move || chain.submit_raw(&raw)).await)
                    .unwrap_or(Err(TxError::Internal))
            }
            _ => self.chain.submit_raw(&raw),
        };
        let hash = submitted.map_err(|e| rejection(&caller, e))?;
        self.await_inclusion(hash, blocks).await;
        Ok(hash)
    }

    fn transaction_by_hash(&self, ext: &Extensions, hash: B256) -> RpcResult<Option<Transaction>> {
        let caller = caller_of(ext);
        if let Some(pooled) = self.pooled_transaction(&caller, hash) {
            return Ok(Some(convert::pending_transaction(&pooled.tx)));
        }
        Ok(self
            .mined_transaction(&caller, hash)?
            .map(|(block, index)| convert::transaction_at(&block, block.header.hash_slow(), index)))
    }

    fn transaction_receipt(
        &self,
        ext: &Extensions,
        hash: B256,
    ) -> RpcResult<Option<TransactionReceipt>> {
        let caller = caller_of(ext);
        Ok(self
            .mined_transaction(&caller, hash)?
            .map(|(block, index)| {
                receipt_for(
                    &caller,
                    &self.chain.governance(),
                    &block,
                    block.header.hash_slow(),
                    index,
                    self.blob_params(block.header.timestamp),
                )
            }))
    }

    async fn block_by_number(
        &self,
        ext: &Extensions,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<convert::BlockAnswer>> {
        let caller = caller_of(ext);
        if number.is_pending() {
            let block = self.pending_stored_block(caller).await?;
            return Ok(Some(convert::unsealed(convert::block(
                &block,
                full,
                |_| true,
            ))));
        }
        Ok(self.block_by_tag(number)?.map(|b| {
            convert::BlockAnswer::Block(Box::new(convert::block(&b, full, |i| {
                visible_tx(&caller, &b, i)
            })))
        }))
    }

    fn block_by_hash(&self, ext: &Extensions, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        let caller = caller_of(ext);
        Ok(self
            .block_by_hash_inner(hash)?
            .map(|b| convert::block(&b, full, |i| visible_tx(&caller, &b, i))))
    }

    fn block_receipts(
        &self,
        ext: &Extensions,
        block: BlockId,
    ) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let caller = caller_of(ext);
        let block = match block {
            BlockId::Number(tag) => self.block_by_tag(tag)?,
            BlockId::Hash(hash) => self.block_by_hash_inner(hash.block_hash)?,
        };
        Ok(block.map(|b| {
            let hash = b.header.hash_slow();
            let blob_params = self.blob_params(b.header.timestamp);
            let governance = self.chain.governance();
            (0..b.transactions.len())
                .filter(|i| visible_tx(&caller, &b, *i))
                .map(|i| receipt_for(&caller, &governance, &b, hash, i, blob_params))
                .collect()
        }))
    }

    fn block_tx_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_tag(number)?
            .map(|b| U64::from(b.transactions.len())))
    }

    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_hash_inner(hash)?
            .map(|b| U64::from(b.transactions.len())))
    }

    fn tx_by_number_and_index(
        &self,
        ext: &Extensions,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let caller = caller_of(ext);
        let index: usize = index.to();
        Ok(self
            .block_by_tag(number)?
            .filter(|b| index < b.transactions.len() && visible_tx(&caller, b, index))
            .map(|b| convert::transaction_at(&b, b.header.hash_slow(), index)))
    }

    fn tx_by_hash_and_index(
        &self,
        ext: &Extensions,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let caller = caller_of(ext);
        let index: usize = index.to();
        Ok(self
            .block_by_hash_inner(hash)?
            .filter(|b| index < b.transactions.len() && visible_tx(&caller, b, index))
            .map(|b| convert::transaction_at(&b, hash, index)))
    }

    async fn logs(&self, ext: &Extensions, filter: Filter) -> RpcResult<Vec<Log>> {
        let caller = caller_of(ext);
        // geth refuses a range that names a block past the head (installed filters may:
        // they wait for it).
        if let FilterBlockOption::Range {
            to_block: Some(BlockNumberOrTag::Number(to)),
            ..
        } = filter.block_option
            && to > self.chain.head().header.number
        {
            return Err(RpcError::InvalidParams(
                "block range extends beyond current head block".into(),
            )
            .into());
        }
        Ok(self.logs_blocking(filter, caller).await?)
    }
}
