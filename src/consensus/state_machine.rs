//! Raft's state machine: committed entries handed to a [`BlockApplier`].
//!
//! openraft calls [`RaftStateMachine::apply`] with committed entries only, in log
//! order. [`StateMachine`] turns each into one call of [`BlockApplier::apply`]:
//! a block proposal becomes a block in the block log; a new leader's blank entry and a
//! membership change only advance "last applied". This is the boundary between Raft's
//! log (which may lose uncommitted entries after an election) and the block log (which
//! holds committed blocks only).
//!
//! The node implements [`BlockApplier`] over `crate::chain::Chain`; tests use an
//! in-memory one. Everything the applier does runs on tokio's blocking pool.
//!
//! # What the applier must guarantee
//!
//! - **Never ahead, idempotent behind**: after a restart
//!   [`BlockApplier::applied_state`] may report less than was applied (openraft then
//!   re-applies the committed entries after it, and re-applying an entry whose block is
//!   already held must only record it) but never more, and never less than the last
//!   snapshot (the log behind it is purged).
//! - **No refusals of valid history**: an error from `apply` is fatal (the Raft core
//!   stops); it means this node diverged (a different parent, state root or hash), and
//!   the error names the block. Validate blocks before proposing them.
//! - **Snapshots are sealed**: [`SnapshotImage::sealed`] is ciphertext under the
//!   cluster's ledger secret ([`SnapshotCipher`]), so it can travel to and be installed
//!   by another validator, and `current_snapshot` returns the last one built or
//!   installed, after a restart too.

use std::io::Cursor;
use std::sync::Arc;

use coco_enclave::{LedgerSecret, RecordCipher};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use super::error::{ConsensusError, Result};
use super::types::{
    Applied, BlockProposal, BlockRef, Entry, LogId, Snapshot, SnapshotMeta, StorageError,
    StoredMembership, TypeConfig,
};

/// A committed entry, as the applier sees it.
#[derive(Debug, Clone, Copy)]
pub enum Committed<'a> {
    /// A block proposal: append the block.
    Block(&'a BlockProposal),
    /// A new leader's blank entry: nothing to apply but the log id.
    Blank,
    /// A membership change: record it with the log id.
    Membership(&'a StoredMembership),
}

/// A snapshot as the applier keeps it: openraft's metadata and the sealed state.
#[derive(Clone)]
pub struct SnapshotImage {
    /// Last log id and membership the state includes, and the snapshot's id.
    pub meta: SnapshotMeta,
    /// The state, sealed by a [`SnapshotCipher`] for `meta`.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SnapshotImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotImage")
            .field("meta", &self.meta)
            .field("sealed_bytes", &self.sealed.len())
            .finish()
    }
}

/// What the replicated state machine needs from the chain.
///
/// All methods block (disk, execution); [`StateMachine`] calls them on tokio's
/// blocking pool, one at a time, in log order.
pub trait BlockApplier: Send + Sync + 'static {
    /// Applies the committed entry `log_id`, durably and together with `log_id` (see
    /// the module docs). Returns the block it committed, `None` for Raft's own entries.
    fn apply(&self, log_id: LogId, entry: Committed<'_>) -> Result<Option<BlockRef>>;

    /// The last applied log id and the last applied membership, as durably recorded.
    fn applied_state(&self) -> Result<(Option<LogId>, StoredMembership)>;

    /// Builds a snapshot of the applied state, keeps it as the current snapshot, and
    /// returns it.
    fn build_snapshot(&self) -> Result<SnapshotImage>;

    /// Replaces the whole state by `image` (received from the leader), records
    /// `image.meta.last_log_id` and `image.meta.last_membership` as applied, and keeps
    /// it as the current snapshot.
    fn install_snapshot(&self, image: SnapshotImage) -> Result<()>;

    /// The last snapshot built or installed, if any.
    fn current_snapshot(&self) -> Result<Option<SnapshotImage>>;
}

/// The label that scopes the snapshot cipher to the whole cluster: snapshots are sealed
/// under the ledger secret every validator holds, not under one node's keys.
const CLUSTER_SCOPE: &[u8] = b"coco/cluster";

/// Seals snapshots under the ledger secret, bound to their metadata.
///
/// Uses the enclave's [`RecordCipher`] (table `raft-snapshot`) with a cluster-wide
/// scope instead of a node id, so any validator holding the ledger secret opens what
/// another sealed. The associated data binds the snapshot id, its last log id and its
/// membership's log id: a snapshot relabelled with other metadata fails to open.
pub struct SnapshotCipher {
    cipher: RecordCipher,
}

impl std::fmt::Debug for SnapshotCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotCipher").finish_non_exhaustive()
    }
}

impl SnapshotCipher {
    /// The snapshot cipher of the ledger secret `secret`.
    pub fn new(secret: &LedgerSecret) -> Self {
        Self {
            cipher: RecordCipher::new(secret, CLUSTER_SCOPE, "raft-snapshot"),
        }
    }

    fn logical_key(meta: &SnapshotMeta) -> Vec<u8> {
        let sig = meta.signature();
        format!(
            "{}|{:?}|{:?}",
            sig.snapshot_id, sig.last_log_id, sig.last_membership_log_id
        )
        .into_bytes()
    }

    /// Seals the snapshot state `plain` described by `meta`.
    pub fn seal(&self, meta: &SnapshotMeta, plain: &[u8]) -> Vec<u8> {
        self.cipher.seal(&Self::logical_key(meta), plain)
    }

    /// Opens a snapshot sealed by [`Self::seal`] for `meta`.
    pub fn open(&self, meta: &SnapshotMeta, sealed: &[u8]) -> Result<Vec<u8>> {
        self.cipher
            .open(&Self::logical_key(meta), sealed)
            .map_err(|source| ConsensusError::Tampered {
                what: format!("snapshot {}", meta.snapshot_id),
                source,
            })
    }
}

/// openraft's state machine over a [`BlockApplier`]. Clones share the applier (a clone
/// is the snapshot builder).
pub struct StateMachine<A> {
    applier: Arc<A>,
}

impl<A> Clone for StateMachine<A> {
    fn clone(&self) -> Self {
        Self {
            applier: self.applier.clone(),
        }
    }
}

impl<A> std::fmt::Debug for StateMachine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine").finish_non_exhaustive()
    }
}

impl<A: BlockApplier> StateMachine<A> {
    /// The state machine applying through `applier`.
    pub fn new(applier: Arc<A>) -> Self {
        Self { applier }
    }

    /// The applier.
    pub fn applier(&self) -> &Arc<A> {
        &self.applier
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&A) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let applier = self.applier.clone();
        tokio::task::spawn_blocking(move || f(&applier))
            .await
            .map_err(|e| ConsensusError::Task(e.to_string()))?
    }
}

fn snapshot_of(image: SnapshotImage) -> Snapshot {
    Snapshot {
        meta: image.meta,
        snapshot: Box::new(Cursor::new(image.sealed)),
    }
}

impl<A: BlockApplier> RaftSnapshotBuilder<TypeConfig> for StateMachine<A> {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot, StorageError> {
        self.blocking(|a| a.build_snapshot())
            .await
            .map(snapshot_of)
            .map_err(|e| StorageIOError::write_snapshot(None, &e).into())
    }
}

impl<A: BlockApplier> RaftStateMachine<TypeConfig> for StateMachine<A> {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId>, StoredMembership), StorageError> {
        self.blocking(|a| a.applied_state())
            .await
            .map_err(|e| StorageIOError::read_state_machine(&e).into())
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let applied = self
            .blocking(move |a| {
                // Exactly one response per entry, in order (openraft asserts it).
                let mut out = Vec::with_capacity(entries.len());
                for entry in entries {
                    let log_id = entry.log_id;
                    let block = match &entry.payload {
                        EntryPayload::Blank => a.apply(log_id, Committed::Blank),
                        EntryPayload::Normal(p) => a.apply(log_id, Committed::Block(p)),
                        EntryPayload::Membership(m) => {
                            let stored = StoredMembership::new(Some(log_id), m.clone());
                            a.apply(log_id, Committed::Membership(&stored))
                        }
                    };
                    match block {
                        Ok(block) => out.push(Applied { block }),
                        Err(e) => return Ok(Err((log_id, e))),
                    }
                }
                Ok(Ok(out))
            })
            .await;
        match applied {
            Ok(Ok(out)) => Ok(out),
            Ok(Err((log_id, e))) => {
                // Fail-stop: a committed entry that does not apply means divergence.
                tracing::error!(%log_id, error = %e, "a committed entry does not apply; this node stops");
                Err(StorageIOError::apply(log_id, &e).into())
            }
            Err(e) => Err(StorageIOError::write_state_machine(&e).into()),
        }
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> std::result::Result<(), StorageError> {
        let image = SnapshotImage {
            meta: meta.clone(),
            sealed: snapshot.into_inner(),
        };
        let sig = meta.signature();
        self.blocking(move |a| a.install_snapshot(image))
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(sig), &e).into())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<Snapshot>, StorageError> {
        self.blocking(|a| a.current_snapshot())
            .await
            .map(|s| s.map(snapshot_of))
            .map_err(|e| StorageIOError::read_snapshot(None, &e).into())
    }
}
