//! The installed filters and what they collected: pure bookkeeping, fed events and
//! the time by the caller ([`super::FilterRpc`] and its background task).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use alloy::consensus::TxEnvelope;
use alloy::consensus::transaction::Recovered;
use alloy::primitives::{Address, B256, Bloom, U128};
use alloy::rpc::types::{Filter, FilterChanges, Log, Transaction};

use super::FilterLimits;
use crate::rpc::auth::Caller;
use crate::rpc::convert;
use crate::rpc::error::RpcError;

/// What a filter watches, with what it collected since its last poll.
#[derive(Debug)]
pub(super) enum Collector {
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
    /// Who installed it: it collects only what this caller may see, so its item cap
    /// counts only that.
    owner: Caller,
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
pub(super) struct FilterTable {
    filters: HashMap<U128, InstalledFilter>,
    limits: FilterLimits,
}

impl FilterTable {
    /// An empty table.
    pub(super) fn new(limits: FilterLimits) -> Self {
        Self {
            filters: HashMap::new(),
            limits,
        }
    }

    /// Installs a filter for `owner` under a fresh random id (128 random bits).
    pub(super) fn install(
        &mut self,
        owner: Caller,
        collector: Collector,
        now: Instant,
    ) -> Result<U128, RpcError> {
        // Expired filters (and revoked keys' ones) make room before a refusal.
        if self.filters.len() >= self.limits.max_filters || self.check_quota(&owner).is_err() {
            self.prune(now);
        }
        self.check_quota(&owner)?;
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
                owner,
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

    /// Under the confidential policy, each key (and each anonymous connection) has its
    /// own quota and anonymous callers together a share, so that the refusal a caller
    /// meets counts its own filters, not others'.
    fn check_quota(&self, owner: &Caller) -> Result<(), RpcError> {
        if owner.open {
            return Ok(());
        }
        let same = |f: &&InstalledFilter| {
            f.owner.key == owner.key
                && (owner.key.is_some() || f.owner.connection == owner.connection)
        };
        if self.filters.values().filter(same).count() >= self.limits.max_per_owner {
            return Err(RpcError::Limit(format!(
                "too many installed filters for this caller (max {})",
                self.limits.max_per_owner
            )));
        }
        if owner.key.is_none()
            && self
                .filters
                .values()
                .filter(|f| f.owner.key.is_none())
                .count()
                >= self.limits.max_anonymous
        {
            return Err(RpcError::Limit(format!(
                "too many installed filters for anonymous callers (max {})",
                self.limits.max_anonymous
            )));
        }
        Ok(())
    }

    /// Who installed filter `id`, if it is installed and not expired.
    pub(super) fn owner(&mut self, id: U128, now: Instant) -> Option<&Caller> {
        self.live(id, now).map(|f| &f.owner)
    }

    /// What filter `id` collected since its last poll; restarts its deadline.
    pub(super) fn changes(&mut self, id: U128, now: Instant) -> Result<FilterChanges, RpcError> {
        let filter = self.live(id, now).ok_or(RpcError::FilterNotFound)?;
        filter.last_poll = now;
        Ok(filter.collector.take())
    }

    /// The criteria of log filter `id`; restarts its deadline.
    pub(super) fn log_criteria(&mut self, id: U128, now: Instant) -> Result<Filter, RpcError> {
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
    pub(super) fn uninstall(&mut self, id: U128, now: Instant) -> bool {
        self.live(id, now).is_some() && self.filters.remove(&id).is_some()
    }

    /// Removes every expired filter and every filter whose owner's key was revoked,
    /// logged out or expired; returns how many.
    pub(super) fn prune(&mut self, now: Instant) -> usize {
        let before = self.filters.len();
        let timeout = self.limits.timeout;
        self.filters
            .retain(|_, f| now.duration_since(f.last_poll) <= timeout && f.owner.is_current());
        before - self.filters.len()
    }

    /// True when no filter is installed.
    pub(super) fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// True when some installed filter collects logs.
    pub(super) fn wants_logs(&self) -> bool {
        self.filters
            .values()
            .any(|f| matches!(f.collector, Collector::Logs(..)))
    }

    /// A new block: its hash, its logs bloom and (when a log filter exists) its logs,
    /// each with the sender of its transaction.
    pub(super) fn on_block(
        &mut self,
        hash: B256,
        bloom: Bloom,
        logs: &[(Address, Log)],
        governance: &crate::governance::GovernanceState,
    ) {
        let max = self.limits.max_items;
        let mut dropped = 0usize;
        for filter in self.filters.values_mut() {
            let owner = &filter.owner;
            match &mut filter.collector {
                Collector::Blocks(hashes) => dropped += usize::from(push_capped(hashes, hash, max)),
                Collector::Logs(criteria, found) if criteria.matches_bloom(bloom) => {
                    let visible = logs.iter().filter(|(sender, l)| {
                        criteria.rpc_matches(l) && owner.sees_log(sender, &l.inner, governance)
                    });
                    for (_, log) in visible {
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
    pub(super) fn on_pending(&mut self, hash: B256, tx: &Recovered<TxEnvelope>) {
        let max = self.limits.max_items;
        let mut full = None;
        let mut dropped = 0usize;
        let to = alloy::consensus::Transaction::to(tx.inner());
        for filter in self.filters.values_mut() {
            if !filter.owner.can_see_transaction(&tx.signer(), to.as_ref()) {
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use alloy::consensus::{SignableTransaction, TxLegacy};
    use alloy::primitives::{LogData, Signature, logs_bloom};

    fn table(max_filters: usize, max_items: usize) -> FilterTable {
        FilterTable::new(FilterLimits {
            timeout: Duration::from_secs(60),
            max_filters,
            max_items,
            max_per_owner: 3,
            max_anonymous: 5,
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
        let id = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        t.on_block(a, Bloom::ZERO, &[], &Default::default());
        t.on_block(b, Bloom::ZERO, &[], &Default::default());
        assert_eq!(hashes(t.changes(id, now).unwrap()), vec![a, b]);
        assert!(hashes(t.changes(id, now).unwrap()).is_empty());
    }

    #[test]
    fn ids_are_distinct_and_the_number_of_filters_is_capped() {
        let now = Instant::now();
        let mut t = table(2, 10);
        let a = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap();
        let b = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap();
        assert_ne!(a, b);
        let err = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap_err();
        assert!(matches!(err, RpcError::Limit(_)), "{err}");
        assert!(t.uninstall(a, now));
        assert!(!t.uninstall(a, now));
        assert!(
            t.install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn under_the_confidential_policy_each_caller_has_its_own_quota() {
        let now = Instant::now();
        let mut t = table(100, 10);
        let keyed = |byte| Caller {
            role: Some(crate::rpc::auth::Role::User),
            key: Some(B256::repeat_byte(byte)),
            ..Caller::anonymous(false)
        };
        let anonymous = |connection| Caller {
            connection: Some(connection),
            ..Caller::anonymous(false)
        };
        let blocks = || Collector::Blocks(VecDeque::new());
        for _ in 0..3 {
            t.install(keyed(1), blocks(), now).unwrap();
        }
        let err = t.install(keyed(1), blocks(), now).unwrap_err();
        assert!(err.to_string().contains("for this caller (max 3)"), "{err}");
        // Another key is not affected; anonymous connections have theirs and a share.
        t.install(keyed(2), blocks(), now).unwrap();
        for connection in 0..5 {
            t.install(anonymous(connection), blocks(), now).unwrap();
        }
        let err = t.install(anonymous(9), blocks(), now).unwrap_err();
        assert!(
            err.to_string().contains("anonymous callers (max 5)"),
            "{err}"
        );
        t.install(keyed(3), blocks(), now).unwrap();
        // The open policy keeps only the table's cap.
        for _ in 0..10 {
            t.install(Caller::anonymous(true), blocks(), now).unwrap();
        }
    }

    #[test]
    fn a_full_filter_drops_its_oldest_items() {
        let now = Instant::now();
        let mut t = table(10, 3);
        let id = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap();
        let all: Vec<B256> = (1..=5).map(B256::repeat_byte).collect();
        for h in &all {
            t.on_block(*h, Bloom::ZERO, &[], &Default::default());
        }
        assert_eq!(hashes(t.changes(id, now).unwrap()), all[2..].to_vec());
    }

    #[test]
    fn filters_expire_without_polls_and_polls_extend_them() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let mut t = table(10, 10);
        let polled = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                t0,
            )
            .unwrap();
        let idle = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                t0,
            )
            .unwrap();
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
            .install(
                Caller::anonymous(true),
                Collector::Logs(Box::new(by_address), VecDeque::new()),
                now,
            )
            .unwrap();
        let b = t
            .install(
                Caller::anonymous(true),
                Collector::Logs(Box::new(by_topic), VecDeque::new()),
                now,
            )
            .unwrap();
        for block in [5u64, 6] {
            let logs = [
                log(wanted, topic, block),
                log(other, topic, block),
                log(wanted, other_topic, block),
            ];
            let bloom = logs_bloom(logs.iter().map(|l| &l.inner));
            let logs = logs.map(|l| (Address::ZERO, l));
            t.on_block(
                B256::with_last_byte(block as u8),
                bloom,
                &logs,
                &Default::default(),
            );
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
    fn a_filter_collects_only_what_its_owner_sees_so_hidden_logs_take_no_room() {
        let now = Instant::now();
        let mut t = table(10, 2);
        let (me, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let owner = Caller {
            role: Some(crate::rpc::auth::Role::User),
            addresses: std::sync::Arc::new(vec![me]),
            ..Caller::anonymous(false)
        };
        let id = t
            .install(
                owner,
                Collector::Logs(Box::new(Filter::new()), VecDeque::new()),
                now,
            )
            .unwrap();
        let topic = B256::repeat_byte(7);
        let mine = log(Address::repeat_byte(9), topic, 1);
        // Two of mine, then five of another sender's: the cap of two keeps mine.
        let logs: Vec<(Address, Log)> = [(me, mine.clone()), (me, mine)]
            .into_iter()
            .chain((0..5).map(|_| (other, log(Address::repeat_byte(9), topic, 1))))
            .collect();
        let bloom = logs_bloom(logs.iter().map(|(_, l)| &l.inner));
        t.on_block(B256::repeat_byte(1), bloom, &logs, &Default::default());
        let got = t.changes(id, now).unwrap();
        assert_eq!(got.as_logs().unwrap().len(), 2);
        // Pending transactions of another sender are not collected either.
        let hashes_id = t
            .install(
                Caller {
                    role: Some(crate::rpc::auth::Role::User),
                    addresses: std::sync::Arc::new(vec![me]),
                    ..Caller::anonymous(false)
                },
                Collector::PendingHashes(VecDeque::new()),
                now,
            )
            .unwrap();
        let (hash, tx) = pool_tx(1);
        t.on_pending(hash, &tx);
        assert!(hashes(t.changes(hashes_id, now).unwrap()).is_empty());
    }

    #[test]
    fn pending_filters_collect_hashes_or_transactions() {
        let now = Instant::now();
        let mut t = table(10, 10);
        let h = t
            .install(
                Caller::anonymous(true),
                Collector::PendingHashes(VecDeque::new()),
                now,
            )
            .unwrap();
        let f = t
            .install(
                Caller::anonymous(true),
                Collector::PendingFull(VecDeque::new()),
                now,
            )
            .unwrap();
        let blocks = t
            .install(
                Caller::anonymous(true),
                Collector::Blocks(VecDeque::new()),
                now,
            )
            .unwrap();
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
}
