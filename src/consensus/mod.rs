//! Replication between validators with openraft 0.9 (storage-v2): Raft's log, the state
//! machine boundary, and the mutually authenticated peer transport.
//!
//! - [`types`]: the Raft type configuration: entries carry a [`BlockProposal`] (the
//!   leader's block, RLP), nodes are [`Peer`]s (address and identity key), and a node's
//!   id is derived from its identity key ([`node_id_of`]).
//! - [`log_store`]: [`LogStore`], Raft's log, vote and commit index in a sled database
//!   under `<data>/raft/`, every record sealed, every mutation fsynced before openraft
//!   hears of it.
//! - [`state_machine`]: [`StateMachine`], openraft's state machine over a
//!   [`BlockApplier`] (what the node implements over the chain): committed entries
//!   only, snapshots sealed under the ledger secret.
//! - [`chain_applier`]: [`ChainApplier`], the applier over the chain: committed
//!   proposals executed, checked and committed to the block log.
//! - [`producer`]: the leader's block production loop.
//! - [`tls`]: [`TlsIdentity`], a P-256 TLS key endorsed by the secp256k1 identity key,
//!   and the verifier admitting only allowed validators.
//! - [`network`]: [`Network`], openraft's network factory (one pooled HTTPS client per
//!   peer; whole snapshots in one request).
//! - [`server`]: [`PeerServer`], the HTTPS endpoint dispatching Raft RPCs, forwarded
//!   transactions and join requests.
//! - [`validator`]: [`Validator`], all of it over one chain: Raft, the endpoint, block
//!   production, forwarding to the leader, joining, removal of retired validators.
//!
//! Consensus hands committed blocks to the chain; it does not execute and knows nothing
//! of JSON-RPC. See docs/REPLICATION.md.

pub mod chain_applier;
pub mod error;
pub mod log_store;
pub mod network;
pub mod producer;
pub mod server;
pub mod state_machine;
pub mod tls;
pub mod types;
pub mod validator;

#[cfg(test)]
mod tests;

pub use chain_applier::ChainApplier;
pub use error::{ConsensusError, Result};
pub use log_store::LogStore;
pub use network::{Network, Timeouts};
pub use producer::Apply;
pub use server::PeerServer;
pub use state_machine::{BlockApplier, Committed, SnapshotCipher, SnapshotImage, StateMachine};
pub use tls::{Allow, TlsIdentity};
pub use types::{
    Applied, BlockProposal, BlockRef, CheckIsLeaderError, NodeId, Peer, Raft, RaftError,
    TypeConfig, node_id_of,
};
pub use validator::{Status, Validator, ValidatorConfig};

/// Committed entries between two snapshots, by default.
pub const SNAPSHOT_EVERY: u64 = 1_000;

/// openraft settings for validators on a LAN.
///
/// - `heartbeat_interval` 100 ms (a follower fsyncs before answering an AppendEntries,
///   a few ms on a LAN).
/// - elections 500–750 ms after the leader's lease: openraft 0.9 waits the lease
///   (`election_timeout_max`) plus a random election timeout, so a follower stands
///   1.25–1.5 s after the last heartbeat of a dead leader (issue 14's failover target:
///   a committed block within 2 s of losing the leader).
/// - `max_payload_entries` 32: a batch of blocks fits in one heartbeat interval.
/// - a snapshot every `snapshot_every` committed entries (default
///   [`SNAPSHOT_EVERY`]), keeping a tenth of that (at least one) behind it so a briefly
///   lagging follower catches up from the log, not a snapshot.
/// - `install_snapshot_timeout` 30 s, for openraft's chunked path; coco sends whole
///   snapshots with [`Timeouts::snapshot`].
pub fn raft_config(cluster: &str, snapshot_every: u64) -> Result<openraft::Config> {
    let snapshot_every = snapshot_every.max(2);
    openraft::Config {
        cluster_name: cluster.to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 750,
        install_snapshot_timeout: 30_000,
        max_payload_entries: 32,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(snapshot_every),
        max_in_snapshot_log_to_keep: (snapshot_every / 10).max(1),
        ..Default::default()
    }
    .validate()
    .map_err(|e| ConsensusError::Transport(format!("raft config: {e}")))
}

/// The "no quorum" error of a failed `ensure_linearizable`, if that is why it failed:
/// `no quorum: N of M validators reachable`, where N counts the validators that
/// answered (this one included) and M the voters of `raft`'s membership.
pub fn no_quorum_error(raft: &Raft, err: &RaftError<CheckIsLeaderError>) -> Option<ConsensusError> {
    match err.api_error()? {
        openraft::error::CheckIsLeaderError::QuorumNotEnough(q) => Some(ConsensusError::NoQuorum {
            reachable: q.got.len(),
            voters: voter_count(raft),
        }),
        openraft::error::CheckIsLeaderError::ForwardToLeader(_) => None,
    }
}

/// The voters of `raft`'s membership.
pub(crate) fn voter_count(raft: &Raft) -> usize {
    raft.metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .count()
}

/// [`no_quorum_error`] as the message writers are refused with.
pub fn no_quorum_message(raft: &Raft, err: &RaftError<CheckIsLeaderError>) -> Option<String> {
    no_quorum_error(raft, err).map(|e| e.to_string())
}
