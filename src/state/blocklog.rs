//! The block log: an append-only file of sealed entries, fsynced per append.
//!
//! The log, not the store engine, is the source of truth: a block is acknowledged
//! (its receipts served) only after its entry is on disk, and on start the store is
//! brought up to date by replaying the entries it lacks.
//!
//! Entries ([`LogEntry`]) are blocks, state patches (dev methods such as
//! `anvil_setBalance`) and truncations (`evm_revert`); each names the state version it
//! writes or returns to, so a truncation can be undone entry by entry.
//!
//! Frame: `u32 LE length ‖ sealed entry`; the plaintext is `tag ‖ RLP payload`. The
//! entry is sealed by the enclave's record cipher for table `blocklog` under the logical
//! key `be64(sequence number)`, so an entry cannot be moved to another position without
//! failing authentication. A frame cut short at the end of the file (a crash during an
//! append, before its fsync returned) is truncated away on open; anything else that
//! fails to open stops the node with an error naming the file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alloy::rlp::{Decodable, Encodable};
use coco_enclave::RecordCipher;

use super::error::{Result, StateError};
use super::types::{BlockCommit, StateDiff};

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A block and its state diff, written at version `number << 20`.
    Block(Box<BlockCommit>),
    /// A state change outside any block, written at `version`.
    Patch {
        /// The state version the patch writes.
        version: u64,
        /// The changes.
        diff: StateDiff,
    },
    /// Everything written above version `to` is undone.
    Truncate {
        /// The version the state returns to.
        to: u64,
    },
}

const TAG_BLOCK: u8 = 1;
const TAG_PATCH: u8 = 2;
const TAG_TRUNCATE: u8 = 3;

impl LogEntry {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            LogEntry::Block(commit) => {
                out.push(TAG_BLOCK);
                commit.encode(&mut out);
            }
            LogEntry::Patch { version, diff } => {
                out.push(TAG_PATCH);
                version.encode(&mut out);
                diff.encode(&mut out);
            }
            LogEntry::Truncate { to } => {
                out.push(TAG_TRUNCATE);
                to.encode(&mut out);
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (tag, mut rest) = bytes.split_first().ok_or("empty entry")?;
        let entry = match *tag {
            TAG_BLOCK => LogEntry::Block(Box::new(
                BlockCommit::decode(&mut rest).map_err(|e| e.to_string())?,
            )),
            TAG_PATCH => {
                let version = u64::decode(&mut rest).map_err(|e| e.to_string())?;
                let diff = StateDiff::decode(&mut rest).map_err(|e| e.to_string())?;
                LogEntry::Patch { version, diff }
            }
            TAG_TRUNCATE => LogEntry::Truncate {
                to: u64::decode(&mut rest).map_err(|e| e.to_string())?,
            },
            other => return Err(format!("unknown entry tag {other}")),
        };
        if !rest.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(entry)
    }
}

/// The append-only log.
pub(crate) struct BlockLog {
    path: PathBuf,
    file: File,
    cipher: RecordCipher,
    /// `(offset of the sealed bytes, their length)` per entry.
    index: Vec<(u64, u32)>,
    fsync: bool,
}

impl BlockLog {
    /// Opens (or creates) the log, authenticating every entry.
    pub(crate) fn open(path: &Path, cipher: RecordCipher, fsync: bool) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| StateError::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StateError::io(path, e))?;

        let mut log = Self {
            path: path.to_path_buf(),
            file,
            cipher,
            index: Vec::new(),
            fsync,
        };
        let mut offset = 0usize;
        while offset + 4 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"));
            let start = offset + 4;
            let Some(sealed) = bytes.get(start..start + len as usize) else {
                break;
            };
            log.decrypt(log.index.len() as u64, sealed)?;
            log.index.push((start as u64, len));
            offset = start + len as usize;
        }
        if offset < bytes.len() {
            tracing::warn!(
                file = %path.display(),
                bytes = bytes.len() - offset,
                "block log ends in a partial entry (crash during append); truncating it"
            );
            log.file
                .set_len(offset as u64)
                .map_err(|e| StateError::io(path, e))?;
            log.file.sync_all().map_err(|e| StateError::io(path, e))?;
        }
        log.file
            .seek(SeekFrom::End(0))
            .map_err(|e| StateError::io(path, e))?;
        Ok(log)
    }

    fn error(&self, reason: String) -> StateError {
        StateError::BlockLog {
            path: self.path.clone(),
            reason,
        }
    }

    fn decrypt(&self, seq: u64, sealed: &[u8]) -> Result<LogEntry> {
        let plain = self
            .cipher
            .open(&seq.to_be_bytes(), sealed)
            .map_err(|_| self.error(format!("entry {seq} failed authentication (tampered)")))?;
        LogEntry::decode(&plain)
            .map_err(|e| self.error(format!("entry {seq} does not decode: {e}")))
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> u64 {
        self.index.len() as u64
    }

    /// Reads entry `seq` back from the file.
    pub(crate) fn read(&self, seq: u64) -> Result<LogEntry> {
        let &(offset, len) = self
            .index
            .get(seq as usize)
            .ok_or_else(|| self.error(format!("entry {seq} does not exist")))?;
        let mut sealed = vec![0u8; len as usize];
        read_exact_at(&self.file, &mut sealed, offset)
            .map_err(|e| StateError::io(&self.path, e))?;
        self.decrypt(seq, &sealed)
    }

    /// Appends an entry and, unless disabled, waits for it to be on disk. Returns its
    /// sequence number.
    pub(crate) fn append(&mut self, entry: &LogEntry) -> Result<u64> {
        let seq = self.len();
        let sealed = self.cipher.seal(&seq.to_be_bytes(), &entry.encode());
        let offset = self
            .file
            .seek(SeekFrom::End(0))
            .map_err(|e| StateError::io(&self.path, e))?;
        let mut frame = Vec::with_capacity(sealed.len() + 4);
        frame.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        frame.extend_from_slice(&sealed);
        self.file
            .write_all(&frame)
            .map_err(|e| StateError::io(&self.path, e))?;
        if self.fsync {
            self.file
                .sync_data()
                .map_err(|e| StateError::io(&self.path, e))?;
        }
        self.index.push((offset + 4, sealed.len() as u32));
        Ok(seq)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coco_enclave::LedgerSecret;

    #[test]
    fn entries_roundtrip_and_tampering_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.log");
        let secret = LedgerSecret::generate(1);
        let cipher = || RecordCipher::new(&secret, b"n", "blocklog");
        let mut log = BlockLog::open(&path, cipher(), true).unwrap();
        let patch = LogEntry::Patch {
            version: 5,
            diff: StateDiff::default(),
        };
        log.append(&patch).unwrap();
        log.append(&LogEntry::Truncate { to: 3 }).unwrap();
        drop(log);
        let log = BlockLog::open(&path, cipher(), true).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log.read(0).unwrap(), patch);
        assert_eq!(log.read(1).unwrap(), LogEntry::Truncate { to: 3 });
        drop(log);

        // A torn append is cut away.
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(BlockLog::open(&path, cipher(), true).unwrap().len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);

        // A flipped byte stops the open, naming the file.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = BlockLog::open(&path, cipher(), true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("blocks.log") && err.contains("tampered"),
            "{err}"
        );
    }
}
