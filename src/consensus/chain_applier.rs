//! The [`BlockApplier`] over the chain: what a validator does with a committed entry.
//!
//! A committed block proposal (the leader's block with its plain header) is executed on
//! top of the head by [`Chain::import`], which checks every root and the gas used
//! against the header (a validator that reaches another state stops, naming the block),
//! blinds the header as the chain does and commits it to the block log: only committed
//! blocks ever reach the block log. A proposal that carries the leader's write set
//! (`--apply write-set`) is committed by [`Chain::apply_write_set`] instead, checked but
//! not executed. Alongside, in `<data>/raft/applier/`, the applier keeps, sealed, the
//! last applied log id and the membership, and the current snapshot.
//!
//! Crash safety: the block is durable (the block log is fsynced) before the applied
//! log id is recorded, and that record is flushed only with a snapshot (which openraft
//! builds before it purges its log). After a crash openraft re-applies the entries
//! after the last applied id on disk; a proposal whose block the chain already has
//! (same number, same transactions root) is recognised and only recorded.
//!
//! A snapshot is the chain since genesis as the block log holds it: each block (blinded
//! header, transactions, receipts) with its state diff, sealed ([`SnapshotCipher`]).
//! Installing one commits those past the head with [`Chain::install_committed`], which
//! checks every header's roots against the block's receipts and its diff on this node's
//! state, and executes nothing. Every validator serves the whole history, so a snapshot
//! is as long as the chain; a state image without history is not built
//! (docs/REPLICATION.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy::consensus::proofs::calculate_transaction_root;
use coco_enclave::{LedgerSecret, RecordCipher};
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};

use super::error::{ConsensusError, Result};
use super::state_machine::{BlockApplier, Committed, SnapshotCipher, SnapshotImage};
use super::types::{BlockProposal, BlockRef, LogId, SnapshotMeta, StoredMembership};
use crate::chain::Chain;
use crate::state::BlockCommit;

/// The applied state, as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AppliedState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

/// The first byte of a snapshot's plaintext: its format, blocks 1..=N as
/// `alloy_rlp::encode(Vec<BlockCommit>)` after it.
const SNAPSHOT_FORMAT: u8 = 2;

/// [`BlockApplier`] over a [`Chain`].
pub struct ChainApplier {
    chain: Arc<Chain>,
    path: PathBuf,
    db: sled::Db,
    cipher: RecordCipher,
    snapshots: SnapshotCipher,
    state: Mutex<AppliedState>,
    current: Mutex<Option<SnapshotImage>>,
    seq: AtomicU64,
    applied: AppliedBlocks,
}

/// Blocks committed by the applier, by where they came from: `from="own"` (the leader's
/// own proposal, committed as built), `"block"` (a proposal, re-executed), `"write-set"`
/// (a proposal with the leader's write set) or `"snapshot"` (installed): `/metrics`'
/// `coco_raft_blocks_applied`.
pub type AppliedBlocks = Family<Vec<(String, String)>, Counter>;

impl std::fmt::Debug for ChainApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainApplier")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const STATE_KEY: &[u8] = b"applied";
/// The current snapshot's metadata (sealed JSON) and its sealed bytes as they are.
const SNAPSHOT_META_KEY: &[u8] = b"snapshot-meta";
const SNAPSHOT_DATA_KEY: &[u8] = b"snapshot-data";

impl ChainApplier {
    /// The applier of `chain`, recording in `dir` (`<data>/raft/applier`), sealed with
    /// keys of `secret` for this node (`node_id`).
    pub fn open(
        chain: Arc<Chain>,
        dir: &Path,
        secret: &LedgerSecret,
        node_id: &[u8],
    ) -> Result<Self> {
        let engine = |e| ConsensusError::engine(dir, e);
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .map_err(engine)?;
        let cipher = RecordCipher::new(secret, node_id, "raft-applier");
        let applier = Self {
            chain,
            path: dir.to_path_buf(),
            db,
            cipher,
            snapshots: SnapshotCipher::new(secret),
            state: Mutex::default(),
            current: Mutex::default(),
            seq: AtomicU64::new(0),
            applied: AppliedBlocks::default(),
        };
        if let Some(state) = applier.read(STATE_KEY)? {
            *applier.state.lock() = state;
        }
        let data = applier
            .db
            .get(SNAPSHOT_DATA_KEY)
            .map_err(|e| ConsensusError::engine(dir, e))?;
        if let (Some(meta), Some(sealed)) = (applier.read::<SnapshotMeta>(SNAPSHOT_META_KEY)?, data)
        {
            *applier.current.lock() = Some(SnapshotImage {
                meta,
                sealed: sealed.to_vec(),
            });
        }
        Ok(applier)
    }

    /// Blocks this applier committed, by where they came from.
    pub fn applied_blocks(&self) -> AppliedBlocks {
        self.applied.clone()
    }

    fn count(&self, from: &str) {
        self.applied
            .get_or_create(&vec![("from".to_owned(), from.to_owned())])
            .inc();
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, key: &[u8]) -> Result<Option<T>> {
        let Some(sealed) = self
            .db
            .get(key)
            .map_err(|e| ConsensusError::engine(&self.path, e))?
        else {
            return Ok(None);
        };
        let plain = self
            .cipher
            .open(key, &sealed)
            .map_err(|source| ConsensusError::Tampered {
                what: String::from_utf8_lossy(key).into_owned(),
                source,
            })?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| ConsensusError::decode(String::from_utf8_lossy(key), e))
    }

    fn sealed<T: Serialize>(&self, key: &[u8], value: &T) -> Result<Vec<u8>> {
        let plain =
            serde_json::to_vec(value).map_err(|e| ConsensusError::decode("applier record", e))?;
        Ok(self.cipher.seal(key, &plain))
    }

    fn write<T: Serialize>(&self, key: &[u8], value: &T) -> Result<()> {
        self.db
            .insert(key, self.sealed(key, value)?)
            .map_err(|e| ConsensusError::engine(&self.path, e))?;
        Ok(())
    }

    /// Records `image` as the current snapshot (not flushed). Its bytes are already
    /// sealed under the cluster's snapshot cipher, bound to its metadata: kept as they
    /// are, not encoded again.
    /// Both in one batch: a crash never pairs one snapshot's metadata with another's
    /// bytes.
    fn keep_snapshot(&self, image: &SnapshotImage) -> Result<()> {
        let mut batch = sled::Batch::default();
        batch.insert(
            SNAPSHOT_META_KEY,
            self.sealed(SNAPSHOT_META_KEY, &image.meta)?,
        );
        batch.insert(SNAPSHOT_DATA_KEY, image.sealed.as_slice());
        self.db
            .apply_batch(batch)
            .map_err(|e| ConsensusError::engine(&self.path, e))
    }

    fn flush(&self) -> Result<()> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| ConsensusError::engine(&self.path, e))
    }

    /// Commits `proposal` to the chain unless it already holds it (a re-applied entry).
    fn commit(&self, proposal: &BlockProposal) -> Result<BlockRef> {
        let block = proposal.decode()?;
        let number = block.header.number;
        let failed = |reason: String| ConsensusError::Apply { number, reason };
        let head = self.chain.head();
        let stored = if number <= head.header.number {
            let existing = self
                .chain
                .store()
                .block(number)
                .map_err(|e| failed(e.to_string()))?
                .ok_or_else(|| failed("missing from the block log".into()))?;
            if existing.header.transactions_root
                != calculate_transaction_root(&block.body.transactions)
            {
                return Err(failed(format!(
                    "this node's block {number} has other transactions than the committed one"
                )));
            }
            existing
        } else if self.chain.is_own_proposal(&block.header) {
            // The leader's own block, executed when it was built.
            let stored = self.chain.import(block).map_err(|e| failed(e.redacted()))?;
            self.count("own");
            stored
        } else {
            let stored = match proposal.decode_write_set()? {
                Some(write_set) => self.chain.apply_write_set(block, write_set),
                None => self.chain.import(block),
            }
            .map_err(|e| failed(e.redacted()))?;
            self.count(if proposal.write_set.is_some() {
                "write-set"
            } else {
                "block"
            });
            stored
        };
        Ok(BlockRef {
            number,
            hash: stored.header.hash_slow(),
        })
    }
}

impl BlockApplier for ChainApplier {
    fn apply(&self, log_id: LogId, entry: Committed<'_>) -> Result<Option<BlockRef>> {
        let mut state = self.state.lock().clone();
        let applied = match entry {
            Committed::Blank => None,
            Committed::Membership(m) => {
                state.membership = m.clone();
                None
            }
            Committed::Block(proposal) => {
                let applied = self.commit(proposal);
                if let Err(e) = &applied {
                    tracing::error!(error = %e, "this validator cannot apply a committed block: it stops");
                }
                Some(applied?)
            }
        };
        state.last_applied = Some(log_id);
        // Written, not flushed: after a crash openraft re-applies every entry after the
        // last applied id on disk, and re-applying one whose block the chain holds only
        // records it. A snapshot flushes first, so this record is never behind the
        // purged log. (One fsync less on every block's path.)
        self.write(STATE_KEY, &state)?;
        *self.state.lock() = state;
        Ok(applied)
    }

    fn applied_state(&self) -> Result<(Option<LogId>, StoredMembership)> {
        let state = self.state.lock();
        Ok((state.last_applied, state.membership.clone()))
    }

    fn build_snapshot(&self) -> Result<SnapshotImage> {
        let state = self.state.lock().clone();
        // Every block the chain holds: at least those of the applied entries (blocks are
        // committed before their entry is recorded). One applied meanwhile may be in it
        // too; it is committed, and a receiver that re-applies its entry only records it.
        let head = self.chain.head().header.number;
        let commits =
            self.chain
                .store()
                .block_commits(1, head)
                .map_err(|e| ConsensusError::Apply {
                    number: head,
                    reason: format!("cannot read the block log for a snapshot: {e}"),
                })?;
        let meta = SnapshotMeta {
            last_log_id: state.last_applied,
            last_membership: state.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                state.last_applied.map_or(0, |l| l.index),
                self.seq.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let mut plain = vec![SNAPSHOT_FORMAT];
        alloy_rlp::Encodable::encode(&commits, &mut plain);
        let image = SnapshotImage {
            sealed: self.snapshots.seal(&meta, &plain),
            meta,
        };
        self.keep_snapshot(&image)?;
        self.flush()?;
        *self.current.lock() = Some(image.clone());
        Ok(image)
    }

    fn install_snapshot(&self, image: SnapshotImage) -> Result<()> {
        let plain = self.snapshots.open(&image.meta, &image.sealed)?;
        let what = || format!("snapshot {}", image.meta.snapshot_id);
        let Some((&SNAPSHOT_FORMAT, mut rest)) = plain.split_first() else {
            return Err(ConsensusError::decode(
                what(),
                "not a snapshot of this version of coco (format 2)",
            ));
        };
        let commits = <Vec<BlockCommit> as alloy_rlp::Decodable>::decode(&mut rest)
            .map_err(|e| ConsensusError::decode(what(), e))?;
        if !rest.is_empty() {
            return Err(ConsensusError::decode(
                what(),
                format!("{} bytes after the blocks", rest.len()),
            ));
        }
        let head = self.chain.head().header.number;
        for commit in commits {
            let number = commit.block.header.number;
            self.chain
                .install_committed(commit)
                .map_err(|e| ConsensusError::Apply {
                    number,
                    reason: e.redacted(),
                })?;
            if number > head {
                self.count("snapshot");
            }
        }
        let state = AppliedState {
            last_applied: image.meta.last_log_id,
            membership: image.meta.last_membership.clone(),
        };
        self.write(STATE_KEY, &state)?;
        self.keep_snapshot(&image)?;
        self.flush()?;
        *self.state.lock() = state;
        *self.current.lock() = Some(image);
        Ok(())
    }

    fn current_snapshot(&self) -> Result<Option<SnapshotImage>> {
        Ok(self.current.lock().clone())
    }
}
