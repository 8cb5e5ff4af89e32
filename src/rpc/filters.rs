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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use alloy::consensus::TxEnvelope;
use alloy::consensus::transaction::Recovered;
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{B256, Bloom, U128};
use alloy::rpc::types::{Filter, FilterBlockOption, FilterChanges, Log, Transaction};
use jsonrpsee::core::{RpcResult, async_trait};
use parking_lot::Mutex;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::api::EthFilterApiServer;
use super::convert;
use super::error::RpcError;
use super::eth::EthRpc;
use crate::chain::{Chain, PoolTx};
use crate::state::StoredBlock;

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
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            timeout: FILTER_TIMEOUT,
            max_filters: MAX_FILTERS,
            max_items: MAX_FILTER_ITEMS,
        }
    }
}

/// What a filter watches, with what it collected since its last poll.
#[derive(Debug)]
enum Collector {
    /// Hashes of new blocks.
    Blocks(VecDeque<B256>),
    /// Hashes of transactions entering the pool.
    PendingHashes(VecDeque<B256>),
    /// Transactions entering the pool, as RPC objects.
    PendingFull(VecDeque<Transaction>),
    /// Logs of new blocks matching the criteria.
    Logs(Box<Filter>, VecDeque<Log>),
}

impl Collector {
    /// Hands over what was collected, leaving the collector empty.
    fn take(&mut self) -> FilterChanges {
        match self {
            Self::Blocks(hashes) | Self::PendingHashes(hashes) => {
                FilterChanges::Hashes(std::mem::take(hashes).into())
            }
            Self::PendingFull(txs) => FilterChanges::Transactions(std::mem::take(txs).into()),
            Self::Logs(_, logs) => FilterChanges::Logs(std::mem::take(logs).into()),
        }
    }
}

/// One installed filter.
#[derive(Debug)]
struct InstalledFilter {
    collector: Collector,
    last_poll: Instant,
}

/// Appends `item`, dropping the oldest when `queue` holds `max` already. True if one
/// was dropped.
fn push_capped<T>(queue: &mut VecDeque<T>, item: T, max: usize) -> bool {
    let dropped = queue.len() >= max.max(1);
    if dropped {
        queue.pop_front();
    }
    queue.push_back(item);
    dropped
}

/// Every installed filter, by id. Pure: callers supply the time and the events.
#[derive(Debug)]
struct FilterTable {
    filters: HashMap<U128, InstalledFilter>,
    limits: FilterLimits,
}

impl FilterTable {
    fn new(limits: FilterLimits) -> Self {
        Self {
            filters: HashMap::new(),
            limits,
        }
    }

    /// Installs a filter under a fresh random id.
    fn install(&mut self, collector: Collector, now: Instant) -> Result<U128, RpcError> {
        if self.filters.len() >= self.limits.max_filters {
            self.prune(now);
        }
        if self.filters.len() >= self.limits.max_filters {
            return Err(RpcError::Limit(format!(
                "too many installed filters (max {})",
                self.limits.max_filters
            )));
        }
        let id = loop {
            let id = U128::from(rand::random::<u128>());
            if !self.filters.contains_key(&id) {
                break id;
            }
        };
        self.filters.insert(
            id,
            InstalledFilter {
                collector,
                last_poll: now,
            },
        );
        Ok(id)
    }

    /// The filter `id` if installed and not expired (an expired one is removed).
    fn live(&mut self, id: U128, now: Instant) -> Option<&mut InstalledFilter> {
        let timeout = self.limits.timeout;
        let expired = now.duration_since(self.filters.get(&id)?.last_poll) > timeout;
        if expired {
            self.filters.remove(&id);
            return None;
        }
        self.filters.get_mut(&id)
    }

    /// What filter `id` collected since its last poll; restarts its deadline.
    fn changes(&mut self, id: U128, now: Instant) -> Result<FilterChanges, RpcError> {
        let filter = self.live(id, now).ok_or(RpcError::FilterNotFound)?;
        filter.last_poll = now;
        Ok(filter.collector.take())
    }

    /// The criteria of log filter `id`; restarts its deadline.
    fn log_criteria(&mut self, id: U128, now: Instant) -> Result<Filter, RpcError> {
        let filter = self.live(id, now).ok_or(RpcError::FilterNotFound)?;
        match &filter.collector {
            Collector::Logs(criteria, _) => {
                filter.last_poll = now;
                Ok((**criteria).clone())
            }
            _ => Err(RpcError::FilterNotFound),
        }
    }

    /// Removes filter `id`; false if it was not installed (or had expired).
    fn uninstall(&mut self, id: U128, now: Instant) -> bool {
        self.live(id, now).is_some() && self.filters.remove(&id).is_some()
    }

    /// Removes every expired filter; returns how many.
    fn prune(&mut self, now: Instant) -> usize {
        let before = self.filters.len();
        let timeout = self.limits.timeout;
        self.filters
            .retain(|_, f| now.duration_since(f.last_poll) <= timeout);
        before - self.filters.len()
    }

    fn wants_logs(&self) -> bool {
        self.filters
            .values()
            .any(|f| matches!(f.collector, Collector::Logs(..)))
    }

    /// A new block: its hash, its logs bloom and (when a log filter exists) its logs.
    fn on_block(&mut self, hash: B256, bloom: Bloom, logs: &[Log]) {
        let max = self.limits.max_items;
        let mut dropped = 0usize;
        for filter in self.filters.values_mut() {
            match &mut filter.collector {
                Collector::Blocks(hashes) => dropped += usize::from(push_capped(hashes, hash, max)),
                Collector::Logs(criteria, found) if criteria.matches_bloom(bloom) => {
                    for log in logs.iter().filter(|l| criteria.rpc_matches(l)) {
                        dropped += usize::from(push_capped(found, log.clone(), max));
                    }
                }
                _ => {}
            }
        }
        if dropped > 0 {
            tracing::debug!(dropped, "filters full: dropped their oldest items");
        }
    }

    /// A transaction entered the pool.
    fn on_pending(&mut self, hash: B256, tx: &Recovered<TxEnvelope>) {
        let max = self.limits.max_items;
        let mut full = None;
        let mut dropped = 0usize;
        for filter in self.filters.values_mut() {
            dropped += usize::from(match &mut filter.collector {
                Collector::PendingHashes(hashes) => push_capped(hashes, hash, max),
                Collector::PendingFull(txs) => {
                    let tx = full.get_or_insert_with(|| convert::pending_transaction(tx));
                    push_capped(txs, tx.clone(), max)
                }
                _ => false,
            });
        }
        if dropped > 0 {
            tracing::debug!(dropped, "filters full: dropped their oldest items");
        }
    }
}

/// The filter table and the channels that feed it.
#[derive(Debug)]
struct Feed {
    table: FilterTable,
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
        self.last_block = self.last_block.max(block.header.number);
        if self.table.filters.is_empty() {
            return;
        }
        let hash = block.header.hash_slow();
        let logs: Vec<Log> = if self.table.wants_logs() {
            (0..block.transactions.len())
                .flat_map(|i| convert::logs_at(block, hash, i))
                .collect()
        } else {
            Vec::new()
        };
        self.table.on_block(hash, block.header.logs_bloom, &logs);
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

/// The filter methods over a chain.
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

    fn install(&self, collector: Collector) -> Result<U128, RpcError> {
        let mut feed = self.feed.lock();
        // Events already broadcast happened before this filter existed.
        feed.drain();
        feed.table.install(collector, Instant::now())
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
    fn new_filter(&self, filter: Filter) -> RpcResult<U128> {
        check_log_filter(&filter)?;
        Ok(self.install(Collector::Logs(Box::new(filter), VecDeque::new()))?)
    }

    fn new_block_filter(&self) -> RpcResult<U128> {
        Ok(self.install(Collector::Blocks(VecDeque::new()))?)
    }

    fn new_pending_transaction_filter(&self, full: Option<bool>) -> RpcResult<U128> {
        let collector = if full.unwrap_or(false) {
            Collector::PendingFull(VecDeque::new())
        } else {
            Collector::PendingHashes(VecDeque::new())
        };
        Ok(self.install(collector)?)
    }

    async fn filter_changes(&self, id: String) -> RpcResult<FilterChanges> {
        let id = parse_id(&id).ok_or(RpcError::FilterNotFound)?;
        self.settle().await;
        Ok(self.feed.lock().table.changes(id, Instant::now())?)
    }

    async fn filter_logs(&self, id: String) -> RpcResult<Vec<Log>> {
        let id = parse_id(&id).ok_or(RpcError::FilterNotFound)?;
        let criteria = self.feed.lock().table.log_criteria(id, Instant::now())?;
        Ok(self.eth.logs_blocking(criteria).await?)
    }

    fn uninstall_filter(&self, id: String) -> RpcResult<bool> {
        Ok(parse_id(&id).is_some_and(|id| self.feed.lock().table.uninstall(id, Instant::now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, TxLegacy};
    use alloy::primitives::{Address, LogData, Signature, logs_bloom};

    fn table(max_filters: usize, max_items: usize) -> FilterTable {
        FilterTable::new(FilterLimits {
            timeout: Duration::from_secs(60),
            max_filters,
            max_items,
        })
    }

    fn hashes(changes: FilterChanges) -> Vec<B256> {
        changes.as_hashes().expect("hashes").to_vec()
    }

    fn log(address: Address, topic: B256, block: u64) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address,
                data: LogData::new_unchecked(vec![topic], Default::default()),
            },
            block_hash: Some(B256::with_last_byte(block as u8)),
            block_number: Some(block),
            ..Default::default()
        }
    }

    fn pool_tx(nonce: u64) -> (B256, Recovered<TxEnvelope>) {
        let tx = TxLegacy {
            nonce,
            gas_limit: 21_000,
            ..Default::default()
        }
        .into_signed(Signature::test_signature());
        let hash = *tx.hash();
        (hash, Recovered::new_unchecked(tx.into(), Address::ZERO))
    }

    #[test]
    fn block_filter_returns_new_hashes_once() {
        let now = Instant::now();
        let mut t = table(10, 10);
        let id = t.install(Collector::Blocks(VecDeque::new()), now).unwrap();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        t.on_block(a, Bloom::ZERO, &[]);
        t.on_block(b, Bloom::ZERO, &[]);
        assert_eq!(hashes(t.changes(id, now).unwrap()), vec![a, b]);
        assert!(hashes(t.changes(id, now).unwrap()).is_empty());
    }

    #[test]
    fn ids_are_distinct_and_the_number_of_filters_is_capped() {
        let now = Instant::now();
        let mut t = table(2, 10);
        let a = t.install(Collector::Blocks(VecDeque::new()), now).unwrap();
        let b = t.install(Collector::Blocks(VecDeque::new()), now).unwrap();
        assert_ne!(a, b);
        let err = t
            .install(Collector::Blocks(VecDeque::new()), now)
            .unwrap_err();
        assert!(matches!(err, RpcError::Limit(_)), "{err}");
        assert!(t.uninstall(a, now));
        assert!(!t.uninstall(a, now));
        assert!(t.install(Collector::Blocks(VecDeque::new()), now).is_ok());
    }

    #[test]
    fn a_full_filter_drops_its_oldest_items() {
        let now = Instant::now();
        let mut t = table(10, 3);
        let id = t.install(Collector::Blocks(VecDeque::new()), now).unwrap();
        let all: Vec<B256> = (1..=5).map(B256::repeat_byte).collect();
        for h in &all {
            t.on_block(*h, Bloom::ZERO, &[]);
        }
        assert_eq!(hashes(t.changes(id, now).unwrap()), all[2..].to_vec());
    }

    #[test]
    fn filters_expire_without_polls_and_polls_extend_them() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let mut t = table(10, 10);
        let polled = t.install(Collector::Blocks(VecDeque::new()), t0).unwrap();
        let idle = t.install(Collector::Blocks(VecDeque::new()), t0).unwrap();
        let t1 = t0 + timeout - Duration::from_secs(1);
        assert!(t.changes(polled, t1).is_ok());
        let t2 = t0 + timeout + Duration::from_secs(1);
        assert!(matches!(t.changes(idle, t2), Err(RpcError::FilterNotFound)));
        assert!(t.changes(polled, t2).is_ok());
        assert_eq!(t.prune(t2 + timeout + Duration::from_secs(1)), 1);
        assert!(t.filters.is_empty());
    }

    #[test]
    fn log_filters_keep_matching_logs_in_range() {
        let now = Instant::now();
        let mut t = table(10, 10);
        let (wanted, other) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let (topic, other_topic) = (B256::repeat_byte(7), B256::repeat_byte(8));
        let by_address = Filter::new().address(wanted);
        let by_topic = Filter::new()
            .address(vec![wanted, other])
            .event_signature(topic)
            .to_block(5u64);
        let a = t
            .install(Collector::Logs(Box::new(by_address), VecDeque::new()), now)
            .unwrap();
        let b = t
            .install(Collector::Logs(Box::new(by_topic), VecDeque::new()), now)
            .unwrap();
        for block in [5u64, 6] {
            let logs = [
                log(wanted, topic, block),
                log(other, topic, block),
                log(wanted, other_topic, block),
            ];
            let bloom = logs_bloom(logs.iter().map(|l| &l.inner));
            t.on_block(B256::with_last_byte(block as u8), bloom, &logs);
        }
        let got = t.changes(a, now).unwrap();
        let got = got.as_logs().unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|l| l.address() == wanted));
        let got = t.changes(b, now).unwrap();
        let got = got.as_logs().unwrap();
        // Block 6 is past `toBlock`; the third log has another topic.
        assert_eq!(
            got.iter()
                .map(|l| (l.address(), l.block_number))
                .collect::<Vec<_>>(),
            vec![(wanted, Some(5)), (other, Some(5))]
        );
        assert!(t.log_criteria(a, now).is_ok());
    }

    #[test]
    fn pending_filters_collect_hashes_or_transactions() {
        let now = Instant::now();
        let mut t = table(10, 10);
        let h = t
            .install(Collector::PendingHashes(VecDeque::new()), now)
            .unwrap();
        let f = t
            .install(Collector::PendingFull(VecDeque::new()), now)
            .unwrap();
        let blocks = t.install(Collector::Blocks(VecDeque::new()), now).unwrap();
        let (hash, tx) = pool_tx(3);
        t.on_pending(hash, &tx);
        assert_eq!(hashes(t.changes(h, now).unwrap()), vec![hash]);
        let full = t.changes(f, now).unwrap();
        let full = full.as_transactions().unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(*full[0].inner.tx_hash(), hash);
        assert!(hashes(t.changes(blocks, now).unwrap()).is_empty());
        // Only log filters have criteria.
        assert!(matches!(
            t.log_criteria(h, now),
            Err(RpcError::FilterNotFound)
        ));
    }

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
