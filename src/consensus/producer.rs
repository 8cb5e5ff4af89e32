//! The leader's block production: every block time, the validator that leads proposes
//! the next block from its pool and waits for a quorum to commit it.
//!
//! A proposal is built on the head only when nothing is in flight (every log entry this
//! node knows is applied), so a block is never proposed on a parent another committed
//! entry is about to replace — after a write that timed out, or on a new leader whose
//! predecessor's entries are still being committed. A write without a quorum neither
//! fails nor returns in openraft; it is bounded here and logged with the reason.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::watch;

use super::types::{BlockProposal, Raft};
use crate::chain::Chain;

/// How long a proposal may wait for a quorum before the producer stops waiting (the
/// entry may still commit later; nothing is proposed until it is applied or dropped).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How the validators that do not lead commit a committed block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Apply {
    /// Each executes the block again and checks every root of its header.
    #[default]
    ReExecute,
    /// The leader ships the block's write set (receipts, senders, state diff) with its
    /// proposal; the others check the header's roots against it and commit it without
    /// executing.
    WriteSet,
}

/// Runs block production for `raft` over `chain` until `stop` turns true.
pub async fn run(
    raft: Raft,
    chain: Arc<Chain>,
    block_time: Duration,
    apply: Apply,
    stop: watch::Receiver<bool>,
) {
    run_measured(raft, chain, block_time, apply, stop, Histogram::new([0.1])).await
}

/// [`run`], observing in `commit_latency` the seconds from proposing a block to its
/// commit and apply.
pub async fn run_measured(
    raft: Raft,
    chain: Arc<Chain>,
    block_time: Duration,
    apply: Apply,
    mut stop: watch::Receiver<bool>,
    commit_latency: Histogram,
) {
    let write_set = apply == Apply::WriteSet;
    let mut ticks = Ticks::every(block_time);
    while ticks.next(&mut stop).await {
        let idle = {
            let m = raft.metrics().borrow().clone();
            m.state == ServerState::Leader && m.last_applied.map(|l| l.index) == m.last_log_index
        };
        if !idle {
            continue;
        }
        let builder = chain.clone();
        let (block, write_set) =
            match tokio::task::spawn_blocking(move || builder.propose_block(usize::MAX, write_set))
                .await
            {
                Ok(Ok(Some(proposal))) => proposal,
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot build a block");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "block building panicked");
                    continue;
                }
            };
        let number = block.header.number;
        let proposed = std::time::Instant::now();
        match tokio::time::timeout(
            WRITE_TIMEOUT,
            raft.client_write(BlockProposal::new(&block, write_set.as_ref())),
        )
        .await
        {
            Ok(Ok(_)) => {
                commit_latency.observe(proposed.elapsed().as_secs_f64());
                tracing::debug!(number, "block committed");
            }
            Ok(Err(e)) => tracing::warn!(number, error = %e, "proposal not committed"),
            Err(_) => tracing::warn!(
                number,
                "no quorum acknowledged the proposal in time; proposing again once it is settled"
            ),
        }
    }
}

/// A periodic task's clock: ticks that never bunch up after a slow round, ending when
/// its stop signal turns true.
pub(crate) struct Ticks(tokio::time::Interval);

impl Ticks {
    /// Every `period`, the first at once.
    pub(crate) fn every(period: Duration) -> Self {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(tick)
    }

    /// Waits for the next tick (or a change of `stop`); false once `stop` is true.
    pub(crate) async fn next(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = self.0.tick() => {}
            _ = stop.changed() => {}
        }
        !*stop.borrow()
    }
}
