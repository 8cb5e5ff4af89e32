//! Installed filters, polled over HTTP: `eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`, `eth_getFilterLogs`,
//! `eth_uninstallFilter`, with geth's semantics.
//!
//! A filter collects what happens after it is installed: new block hashes, new pool
//! transactions (hashes or full objects), or the logs of new blocks that match its
//! criteria. `eth_getFilterChanges` hands over and forgets what was collected since the
//! last poll. A filter not polled for [`FILTER_TIMEOUT`] is removed.
//!
//! One background task feeds every filter from the chain's broadcast channels
//! ([`Chain::subscribe_blocks`], [`Chain::subscribe_pending`]) and prunes expired filters;
//! nothing polls the store. A poll first applies whatever the channels already hold, so
//! a client that has seen a block or submitted a transaction finds it in its next poll
//! even when the task has not run yet. Memory is bounded: at most [`MAX_FILTERS`]
//! filters, each holding at most [`MAX_FILTER_ITEMS`] items (the oldest go first).

mod table;

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, U128};
use alloy::rpc::types::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};
use parking_lot::Mutex;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::api::EthFilterApiServer;
use super::auth::{Caller, caller_of};
use super::convert;
use super::error::RpcError;
use super::eth::EthRpc;
use crate::chain::{Chain, PoolTx};
use crate::state::StoredBlock;
use table::{Collector, FilterTable};

/// A filter not polled for this long is removed (geth's deadline).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Most filters installed at once; installing one more is refused.
pub const MAX_FILTERS: usize = 10_000;
/// Most items one filter holds between polls; the oldest are dropped first.
pub const MAX_FILTER_ITEMS: usize = 10_000;
/// How often the background task looks for expired filters (at most).
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// How many times a poll waits 1 ms for a block the store has but the channel has not
/// delivered yet (a block becomes readable just before it is broadcast).
const SETTLE_ATTEMPTS: u32 = 50;

/// Limits on installed filters.
#[derive(Debug, Clone, Copy)]
pub struct FilterLimits {
    /// A filter not polled for this long is removed.
    pub timeout: Duration,
    /// Most filters installed at once.
    pub max_filters: usize,
    /// Most items one filter holds between polls.
    pub max_items: usize,
    /// Under the confidential policy: most filters one key (or one anonymous
    /// connection) holds, so that no caller can fill the table for the others.
    pub max_per_owner: usize,
    /// Under the confidential policy: most filters all anonymous callers hold together.
    pub max_anonymous: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            timeout: FILTER_TIMEOUT,
            max_filters: MAX_FILTERS,
            max_items: MAX_FILTER_ITEMS,
            max_per_owner: MAX_FILTERS / 10,
            max_anonymous: MAX_FILTERS / 4,
        }
    }
}

/// The filter table and the channels that feed it.
#[derive(Debug)]
struct Feed {
    table: FilterTable,
    /// For the governance tables (public logs) when a block's logs are collected.
    chain: Arc<Chain>,
    blocks: broadcast::Receiver<Arc<StoredBlock>>,
    pending: broadcast::Receiver<Arc<PoolTx>>,
    /// Number of the newest block applied.
    last_block: u64,
}

impl Feed {
    /// Applies every event the channels hold.
    fn drain(&mut self) {
        loop {
            match self.blocks.try_recv() {
                Ok(block) => self.apply_block(&block),
                Err(TryRecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "filters lagged behind new blocks; skipping");
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        loop {
            match self.pending.try_recv() {
                Ok(tx) => self.table.on_pending(tx.hash, &tx.tx),
                Err(TryRecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "filters lagged behind the pool; skipping");
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    fn apply_block(&mut self, block: &StoredBlock) {
        // Blocks arrive in order; after a dev-mode revert, numbers start again lower.
        self.last_block = block.header.number;
        if self.table.is_empty() {
            return;
        }
        let hash = block.header.hash_slow();
        let logs: Vec<(Address, Log)> = if self.table.wants_logs() {
            (0..block.transactions.len())
                .flat_map(|i| {
                    let sender = block.senders[i];
                    convert::logs_at(block, hash, i)
                        .into_iter()
                        .map(move |log| (sender, log))
                })
                .collect()
        } else {
            Vec::new()
        };
        // The receipts' blooms, not the header's: under the confidential policy the
        // header carries the bloom of public logs only.
        let bloom = crate::execution::receipts_bloom(&block.receipts);
        self.table
            .on_block(hash, bloom, &logs, &self.chain.governance());
    }
}

/// Feeds the filters whenever the chain broadcasts, and prunes expired ones. Ends when
/// the filters are dropped or the chain closes its channels.
async fn run_feed(
    feed: Weak<Mutex<Feed>>,
    mut blocks: broadcast::Receiver<Arc<StoredBlock>>,
    mut pending: broadcast::Receiver<Arc<PoolTx>>,
    prune_every: Duration,
) {
    let mut prune = tokio::time::interval(prune_every);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // These receivers only wake the task; the events are read from the feed's own.
        let (closed, prune_now) = tokio::select! {
            r = blocks.recv() => (matches!(r, Err(RecvError::Closed)), false),
            r = pending.recv() => (matches!(r, Err(RecvError::Closed)), false),
            _ = prune.tick() => (false, true),
        };
        let Some(feed) = feed.upgrade() else { break };
        let mut feed = feed.lock();
        feed.drain();
        if prune_now {
            let pruned = feed.table.prune(Instant::now());
            if pruned > 0 {
                tracing::debug!(pruned, "removed expired filters");
            }
        }
        if closed {
            break;
        }
    }
}

/// The id a client sent, as a hex quantity; anything else names no filter.
fn parse_id(id: &str) -> Option<U128> {
    let digits = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X"))?;
    if digits.is_empty() {
        return None;
    }
    U128::from_str_radix(digits, 16).ok()
}

/// Whether `caller` owns a filter `owner` installed: the same key; for anonymous
/// callers under the confidential policy, also the same connection (under the open
/// policy anyone reads everything, and HTTP clients may poll over new connections).
fn same_owner(owner: &Caller, caller: &Caller) -> bool {
    owner.key == caller.key
        && (owner.key.is_some() || owner.open || owner.connection == caller.connection)
}

/// geth's checks on the block range of a log filter or `logs` subscription.
pub(crate) fn check_log_filter(filter: &Filter) -> Result<(), RpcError> {
    let FilterBlockOption::Range {
        from_block,
        to_block,
    } = &filter.block_option
    else {
        return Ok(());
    };
    if from_block.is_some_and(|b| b.is_pending()) || to_block.is_some_and(|b| b.is_pending()) {
        return Err(RpcError::InvalidParams(
            "pending logs are not supported".into(),
        ));
    }
    if let (Some(BlockNumberOrTag::Number(from)), Some(BlockNumberOrTag::Number(to))) =
        (from_block, to_block)
        && from > to
    {
        return Err(RpcError::InvalidParams(
            "invalid from and to block combination".into(),
        ));
    }
    Ok(())
}

/// The filter methods over a chain. Each filter belongs to who installed it: the same
/// key, or, for an anonymous caller under the confidential policy, the same
/// connection; it collects only what its owner may see, and ends when the owner's key is
/// revoked, logged out or expires.
#[derive(Debug, Clone)]
pub struct FilterRpc {
    chain: Arc<Chain>,
    eth: EthRpc,
    feed: Arc<Mutex<Feed>>,
}

impl FilterRpc {
    /// Filters over `chain`; `eth` answers `eth_getFilterLogs` as it answers
    /// `eth_getLogs`. Starts the feeding task on the current Tokio runtime; it ends when
    /// every clone of this value is dropped or the chain closes.
    pub fn new(chain: Arc<Chain>, eth: EthRpc, limits: FilterLimits) -> Self {
        let feed = Arc::new(Mutex::new(Feed {
            table: FilterTable::new(limits),
            chain: chain.clone(),
            blocks: chain.subscribe_blocks(),
            pending: chain.subscribe_pending(),
            last_block: chain.head().header.number,
        }));
        let prune_every = limits
            .timeout
            .min(PRUNE_EVERY)
            .max(Duration::from_millis(10));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(run_feed(
                    Arc::downgrade(&feed),
                    chain.subscribe_blocks(),
                    chain.subscribe_pending(),
                    prune_every,
                ));
            }
            Err(_) => tracing::warn!("no Tokio runtime: filters are fed only when polled"),
        }
        Self { chain, eth, feed }
    }

    fn install(&self, caller: Caller, collector: Collector) -> Result<U128, RpcError> {
        let mut feed = self.feed.lock();
        // Events already broadcast happened before this filter existed.
        feed.drain();
        feed.table.install(caller, collector, Instant::now())
    }

    /// Filter `id` and its owner, if `caller` is that owner; anyone else is told there
    /// is no such filter. A filter whose owner's key is no longer valid is removed.
    fn owned(&self, caller: &Caller, id: &str) -> Result<(U128, Caller), RpcError> {
        let id = parse_id(id).ok_or(RpcError::FilterNotFound)?;
        let now = Instant::now();
        let mut feed = self.feed.lock();
        let owner = feed.table.owner(id, now).ok_or(RpcError::FilterNotFound)?;
        if !owner.is_current() {
            feed.table.uninstall(id, now);
            return Err(RpcError::FilterNotFound);
        }
        if !same_owner(owner, caller) {
            return Err(RpcError::FilterNotFound);
        }
        Ok((id, owner.clone()))
    }

    /// Applies every broadcast event, waiting briefly for a block the store already
    /// shows but the chain has not broadcast yet.
    async fn settle(&self) {
        for _ in 0..SETTLE_ATTEMPTS {
            let behind = {
                let mut feed = self.feed.lock();
                feed.drain();
                feed.last_block < self.chain.store().head().unwrap_or_default()
            };
            if !behind {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[async_trait]
impl EthFilterApiServer for FilterRpc {
    fn new_filter(&self, ext: &Extensions, filter: Filter) -> RpcResult<U128> {
        check_log_filter(&filter)?;
        Ok(self.install(
            caller_of(ext),
            Collector::Logs(Box::new(filter), VecDeque::new()),
        )?)
    }

    fn new_block_filter(&self, ext: &Extensions) -> RpcResult<U128> {
        Ok(self.install(caller_of(ext), Collector::Blocks(VecDeque::new()))?)
    }

    fn new_pending_transaction_filter(
        &self,
        ext: &Extensions,
        full: Option<bool>,
    ) -> RpcResult<U128> {
        let collector = if full.unwrap_or(false) {
            Collector::PendingFull(VecDeque::new())
        } else {
            Collector::PendingHashes(VecDeque::new())
        };
        Ok(self.install(caller_of(ext), collector)?)
    }

    async fn filter_changes(&self, ext: &Extensions, id: String) -> RpcResult<FilterChanges> {
        let (id, _) = self.owned(&caller_of(ext), &id)?;
        self.settle().await;
        // Collected for the owner: only what it may see.
        Ok(self.feed.lock().table.changes(id, Instant::now())?)
    }

    async fn filter_logs(&self, ext: &Extensions, id: String) -> RpcResult<Vec<Log>> {
        let (id, owner) = self.owned(&caller_of(ext), &id)?;
        let criteria = self.feed.lock().table.log_criteria(id, Instant::now())?;
        Ok(self.eth.logs_blocking(criteria, owner).await?)
    }

    fn uninstall_filter(&self, ext: &Extensions, id: String) -> RpcResult<bool> {
        let Ok((id, _)) = self.owned(&caller_of(ext), &id) else {
            return Ok(false);
        };
        Ok(self.feed.lock().table.uninstall(id, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_hex_quantities_only() {
        let id = U128::from(0xabcdefu64);
        assert_eq!(parse_id(&format!("{id:#x}")), Some(id));
        assert_eq!(parse_id("0x0000abcdef"), Some(id));
        assert_eq!(parse_id("abcdef"), None);
        assert_eq!(parse_id("0x"), None);
        assert_eq!(parse_id("0xnothex"), None);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id:#x}\""));
    }

    #[test]
    fn log_filter_ranges_are_checked_as_geth_does() {
        assert!(check_log_filter(&Filter::new()).is_ok());
        assert!(check_log_filter(&Filter::new().from_block(1u64).to_block(2u64)).is_ok());
        let err = check_log_filter(&Filter::new().from_block(3u64).to_block(2u64)).unwrap_err();
        assert_eq!(err.to_string(), "invalid from and to block combination");
        let err =
            check_log_filter(&Filter::new().from_block(BlockNumberOrTag::Pending)).unwrap_err();
        assert_eq!(err.to_string(), "pending logs are not supported");
    }
}
