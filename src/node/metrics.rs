//! The node's metrics (`GET /metrics`): block height, pool size, committed
//! transactions (a counter, and per second over the last 10 s) and, on a validator, its
//! role, term, leader, members, their lag and the commit latency.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::chain::Chain;
use crate::consensus::{self, Raft};

type Labels = Vec<(String, String)>;

/// The window of the transactions-per-second gauge.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// What `/metrics` reports.
pub(super) struct NodeMetrics {
    registry: Registry,
    chain: Arc<Chain>,
    raft: Option<Raft>,
    height: Gauge,
    pool: Gauge,
    rate: Gauge<f64, AtomicU64>,
    committed: Counter,
    recent: Mutex<VecDeque<(Instant, u64)>>,
    role: Family<Labels, Gauge>,
    term: Gauge,
    leader: Family<Labels, Gauge>,
    peers: Gauge,
    lag: Family<Labels, Gauge>,
}

/// What a validator measures itself, for `/metrics`.
pub(super) struct ValidatorMetrics {
    pub(super) raft: Raft,
    /// From proposing a block to its commit (on the leader).
    pub(super) commit_latency: Histogram,
    /// Committed blocks by where they came from.
    pub(super) applied_blocks: consensus::chain_applier::AppliedBlocks,
}

impl NodeMetrics {
    /// The metrics of `chain` and, on a validator, of its Raft node.
    pub(super) fn new(chain: Arc<Chain>, validator: Option<ValidatorMetrics>) -> Arc<Self> {
        let mut registry = Registry::with_prefix("coco");
        let metrics = |registry: &mut Registry| {
            let height = Gauge::default();
            registry.register("block_height", "Number of the head block", height.clone());
            let pool = Gauge::default();
            registry.register(
                "pool_transactions",
                "Transactions in the pool",
                pool.clone(),
            );
            let committed = Counter::default();
            registry.register(
                "transactions_committed",
                "Transactions in committed blocks since the node started",
                committed.clone(),
            );
            let rate = Gauge::<f64, AtomicU64>::default();
            registry.register(
                "transactions_per_second",
                "Committed transactions per second over the last 10 s",
                rate.clone(),
            );
            (height, pool, committed, rate)
        };
        let (height, pool, committed, rate) = metrics(&mut registry);
        let (role, term, leader, peers, lag) = (
            Family::<Labels, Gauge>::default(),
            Gauge::default(),
            Family::<Labels, Gauge>::default(),
            Gauge::default(),
            Family::<Labels, Gauge>::default(),
        );
        let raft = validator.map(|v| {
            registry.register(
                "raft_role",
                "1 for this validator's Raft role",
                role.clone(),
            );
            registry.register("raft_term", "Raft's current term", term.clone());
            registry.register(
                "raft_leader",
                "1 for the leader this validator knows",
                leader.clone(),
            );
            registry.register("raft_peers", "Validators in the membership", peers.clone());
            registry.register(
                "raft_peer_lag_entries",
                "Log entries each member lags behind the leader (on the leader)",
                lag.clone(),
            );
            registry.register(
                "commit_latency_seconds",
                "From proposing a block to its commit and apply (on the leader)",
                v.commit_latency,
            );
            registry.register(
                "raft_blocks_applied",
                "Blocks committed by this validator's Raft state machine, by where they came \
                 from: its own proposal as built (own), a proposal re-executed (block), a \
                 proposal with the leader's write set (write-set), or an installed snapshot \
                 (snapshot)",
                v.applied_blocks,
            );
            v.raft
        });
        let this = Arc::new(Self {
            registry,
            chain,
            raft,
            height,
            pool,
            rate,
            committed,
            recent: Mutex::default(),
            role,
            term,
            leader,
            peers,
            lag,
        });
        tokio::spawn(count(Arc::downgrade(&this)));
        this
    }

    /// The metrics now, in the OpenMetrics text format.
    pub(super) fn render(&self) -> String {
        self.height.set(self.chain.head().header.number as i64);
        self.pool.set(self.chain.with_pool(|p| p.len()) as i64);
        {
            let mut recent = self.recent.lock();
            while recent
                .front()
                .is_some_and(|(t, _)| t.elapsed() > RATE_WINDOW)
            {
                recent.pop_front();
            }
            let txs: u64 = recent.iter().map(|(_, n)| n).sum();
            self.rate.set(txs as f64 / RATE_WINDOW.as_secs_f64());
        }
        if let Some(raft) = &self.raft {
            let status = consensus::validator::status_of(raft, &self.chain);
            self.role.clear();
            self.role
                .get_or_create(&vec![("role".into(), status.role.clone())])
                .set(1);
            self.term.set(status.term as i64);
            self.leader.clear();
            if let Some(leader) = &status.leader {
                self.leader
                    .get_or_create(&vec![("leader".into(), leader.clone())])
                    .set(1);
            }
            self.peers.set(status.peers.len() as i64);
            self.lag.clear();
            for peer in &status.peers {
                if let Some(lag) = peer.lag {
                    self.lag
                        .get_or_create(&vec![("peer".into(), peer.id.clone())])
                        .set(lag as i64);
                }
            }
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Counts the transactions of every committed block while the metrics live.
async fn count(metrics: std::sync::Weak<NodeMetrics>) {
    // Holds only the subscription: the chain closes it when it goes.
    let Some(mut blocks) = metrics.upgrade().map(|m| m.chain.subscribe_blocks()) else {
        return;
    };
    loop {
        let block = match blocks.recv().await {
            Ok(block) => block,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Some(metrics) = metrics.upgrade() else {
            return;
        };
        let txs = block.transactions.len() as u64;
        metrics.committed.inc_by(txs);
        metrics.recent.lock().push_back((Instant::now(), txs));
    }
}
