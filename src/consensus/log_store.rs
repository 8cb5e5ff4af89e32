//! Raft's log on disk: a sled database in `<data>/raft/`, every record sealed.
//!
//! # Layout
//!
//! Two sled trees. `log` maps `be64(index)` to the entry, `meta` maps `vote`,
//! `committed` and `purged` to their values. Values are serde JSON sealed by the
//! enclave's [`RecordCipher`] (table `raft`, this node's id), with the logical key
//! (`entry ‖ be64(index)`, or the meta name) as associated data, so a record moved to
//! another index or name fails to open. Log indexes are stored in the clear (Raft needs
//! ordered range scans); they say no more than the number of entries. Nothing else is
//! plaintext on disk.
//!
//! # Durability
//!
//! coco's sled store flushes lazily; this one never relies on that. Every mutation is
//! written and then flushed (fsync) before openraft is told it happened:
//! - `append`: entries written, flushed, **then** `LogFlushed::log_io_completed`
//!   (openraft's rocksdb example calls it without a sync; a quorum could then "commit"
//!   an entry a power loss erases).
//! - `save_vote`, `save_committed`: written and flushed before returning (an unsynced
//!   vote allows voting twice in a term).
//! - `truncate`: removed and flushed before returning (a truncated entry must not come
//!   back after a crash).
//! - `purge`: `purged` written and flushed first, then the entries removed and flushed;
//!   on open, entries at or below `purged` left by a crash in between are removed.
//!
//! Raft's log may truncate uncommitted entries after a leader change, so its entries are
//! not blocks: a block enters the block log only when its entry is committed and
//! applied (see the state machine).
//!
//! Every operation runs on tokio's blocking pool (decryption and fsync block).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use coco_enclave::{LedgerSecret, RecordCipher};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ConsensusError, Result};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// The record cipher table of Raft's log.
const TABLE: &str = "raft";
const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// Raft's durable log. Clones are handles to the same database (one is openraft's log
/// reader).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    cipher: RecordCipher,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn entry_key(index: u64) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[..5].copy_from_slice(b"entry");
    key[5..].copy_from_slice(&index.to_be_bytes());
    key
}

impl LogStore {
    /// Opens (or creates) the log in `dir` (the node's `<data>/raft/`), sealing records
    /// with keys derived from `secret` for this node (`node_id`, as the state store).
    pub fn open(dir: &Path, secret: &LedgerSecret, node_id: &[u8]) -> Result<Self> {
        let engine = |e| ConsensusError::engine(dir, e);
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from explicit flushes; no background flusher needed.
            .flush_every_ms(None)
            .open()
            .map_err(engine)?;
        let log = db.open_tree("log").map_err(engine)?;
        let meta = db.open_tree("meta").map_err(engine)?;
        let inner = Inner {
            path: dir.to_path_buf(),
            db,
            log,
            meta,
            cipher: RecordCipher::new(secret, node_id, TABLE),
        };
        // Finish a purge a crash interrupted: drop entries at or below `purged`.
        if let Some(purged) = inner.get_meta::<LogId>(PURGED)? {
            let stale = inner.keys_upto(purged.index)?;
            if !stale.is_empty() {
                inner.remove_all(stale)?;
                inner.flush()?;
            }
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Writes `entries` and flushes them to disk (the body of `append`).
    pub(crate) async fn write_entries(&self, entries: Vec<Entry>) -> Result<()> {
        self.blocking(move |inner| {
            let mut batch = sled::Batch::default();
            for entry in &entries {
                let index = entry.log_id.index;
                batch.insert(&index.to_be_bytes(), inner.seal(&entry_key(index), entry)?);
            }
            inner.log.apply_batch(batch).map_err(|e| inner.engine(e))?;
            // fsync before openraft may count these entries towards a quorum.
            inner.flush()
        })
        .await
    }

    /// Runs `f` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| ConsensusError::Task(e.to_string()))?
    }
}

impl Inner {
    fn engine(&self, e: sled::Error) -> ConsensusError {
        ConsensusError::engine(&self.path, e)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.engine(e))?;
        Ok(())
    }

    fn seal<T: Serialize>(&self, logical: &[u8], value: &T) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(value).map_err(|e| {
            ConsensusError::decode(String::from_utf8_lossy(logical).into_owned(), e)
        })?;
        Ok(self.cipher.seal(logical, &plain))
    }

    fn open<T: DeserializeOwned>(&self, logical: &[u8], what: &str, sealed: &[u8]) -> Result<T> {
        let plain =
            self.cipher
                .open(logical, sealed)
                .map_err(|source| ConsensusError::Tampered {
                    what: what.to_string(),
                    source,
                })?;
        serde_json::from_slice(&plain).map_err(|e| ConsensusError::decode(what, e))
    }

    fn get_meta<T: DeserializeOwned>(&self, name: &[u8]) -> Result<Option<T>> {
        let Some(sealed) = self.meta.get(name).map_err(|e| self.engine(e))? else {
            return Ok(None);
        };
        self.open(name, &String::from_utf8_lossy(name), &sealed)
            .map(Some)
    }

    fn put_meta<T: Serialize>(&self, name: &[u8], value: &T) -> Result<()> {
        let sealed = self.seal(name, value)?;
        self.meta.insert(name, sealed).map_err(|e| self.engine(e))?;
        Ok(())
    }

    fn decode_entry(&self, key: &[u8], sealed: &[u8]) -> Result<Entry> {
        let index: [u8; 8] = key
            .try_into()
            .map_err(|_| ConsensusError::decode("entry key", "not 8 bytes"))?;
        let index = u64::from_be_bytes(index);
        let entry: Entry = self.open(&entry_key(index), &format!("entry {index}"), sealed)?;
        if entry.log_id.index != index {
            return Err(ConsensusError::decode(
                format!("entry {index}"),
                format!("holds index {}", entry.log_id.index),
            ));
        }
        Ok(entry)
    }

    fn range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<Vec<Entry>> {
        let be = |b: Bound<u64>| match b {
            Bound::Included(i) => Bound::Included(i.to_be_bytes()),
            Bound::Excluded(i) => Bound::Excluded(i.to_be_bytes()),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.log
            .range::<[u8; 8], _>((be(start), be(end)))
            .map(|kv| {
                let (key, sealed) = kv.map_err(|e| self.engine(e))?;
                self.decode_entry(&key, &sealed)
            })
            .collect()
    }

    fn last_entry(&self) -> Result<Option<Entry>> {
        match self.log.last().map_err(|e| self.engine(e))? {
            Some((key, sealed)) => self.decode_entry(&key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn keys_upto(&self, index: u64) -> Result<Vec<sled::IVec>> {
        self.log
            .range(..=index.to_be_bytes())
            .keys()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.engine(e))
    }

    fn remove_all(&self, keys: Vec<sled::IVec>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for key in keys {
            batch.remove(key);
        }
        self.log.apply_batch(batch).map_err(|e| self.engine(e))
    }
}

fn read_err(e: ConsensusError) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: ConsensusError) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<Entry>, StorageError> {
        let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
        self.blocking(move |inner| inner.range(start, end))
            .await
            .map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<TypeConfig>, StorageError> {
        self.blocking(|inner| {
            let purged: Option<LogId> = inner.get_meta(PURGED)?;
            let last = inner.last_entry()?.map(|e| e.log_id).or(purged);
            Ok(LogState {
                last_purged_log_id: purged,
                last_log_id: last,
            })
        })
        .await
        .map_err(read_err)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> std::result::Result<(), StorageError> {
        let vote = *vote;
        self.blocking(move |inner| {
            inner.put_meta(VOTE, &vote)?;
            inner.flush()
        })
        .await
        .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote>, StorageError> {
        self.blocking(|inner| inner.get_meta(VOTE))
            .await
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId>,
    ) -> std::result::Result<(), StorageError> {
        self.blocking(move |inner| {
            inner.put_meta(COMMITTED, &committed)?;
            inner.flush()
        })
        .await
        .map_err(write_err)
    }

    async fn read_committed(&mut self) -> std::result::Result<Option<LogId>, StorageError> {
        self.blocking(|inner| Ok(inner.get_meta::<Option<LogId>>(COMMITTED)?.flatten()))
            .await
            .map_err(read_err)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> std::result::Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let written = self.write_entries(entries.into_iter().collect()).await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> std::result::Result<(), StorageError> {
        self.blocking(move |inner| {
            let keys = inner
                .log
                .range(log_id.index.to_be_bytes()..)
                .keys()
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| inner.engine(e))?;
            inner.remove_all(keys)?;
            inner.flush()
        })
        .await
        .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> std::result::Result<(), StorageError> {
        self.blocking(move |inner| {
            inner.put_meta(PURGED, &log_id)?;
            inner.flush()?;
            let keys = inner.keys_upto(log_id.index)?;
            inner.remove_all(keys)?;
            inner.flush()
        })
        .await
        .map_err(write_err)
    }
}
