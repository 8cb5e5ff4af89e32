//! The block log: an append-only file of sealed [`BlockCommit`]s, fsynced per block.
//!
//! The log, not the store engine, is the source of truth: a block is acknowledged
//! (its receipts served) only after its entry is on disk, and on start the store is
//! brought up to date by replaying the entries it lacks.
//!
//! Frame: `u32 LE length ‖ sealed entry`. The entry is sealed by the enclave's record
//! cipher for table `blocklog` under the logical key `be64(block number)`, so an entry
//! cannot be moved to another position without failing authentication. A frame cut
//! short at the end of the file (a crash during append, before the fsync returned) is
//! truncated away on open; anything else that fails to open stops the node with an
//! error naming the file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alloy::rlp::{Decodable, Encodable};
use coco_enclave::RecordCipher;

use super::error::{Result, StateError};
use super::types::BlockCommit;

/// The append-only block log.
pub(crate) struct BlockLog {
    path: PathBuf,
    file: File,
    cipher: RecordCipher,
    /// Number of the next block to append.
    next: u64,
    fsync: bool,
}

impl BlockLog {
    /// Opens (or creates) the log and reads every entry, handing each to `apply`.
    pub(crate) fn open(
        path: &Path,
        cipher: RecordCipher,
        fsync: bool,
        mut apply: impl FnMut(BlockCommit) -> Result<()>,
    ) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| StateError::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StateError::io(path, e))?;
        let log_err = |reason: String| StateError::BlockLog {
            path: path.to_path_buf(),
            reason,
        };

        let mut offset = 0usize;
        let mut next = 0u64;
        while offset < bytes.len() {
            let Some(len_bytes) = bytes.get(offset..offset + 4) else {
                break;
            };
            let len = u32::from_le_bytes(len_bytes.try_into().expect("slice of 4")) as usize;
            let Some(sealed) = bytes.get(offset + 4..offset + 4 + len) else {
                break;
            };
            let plain = cipher.open(&next.to_be_bytes(), sealed).map_err(|_| {
                log_err(format!(
                    "entry for block {next} at byte {offset} failed authentication (tampered)"
                ))
            })?;
            let commit = BlockCommit::decode(&mut plain.as_slice())
                .map_err(|e| log_err(format!("entry for block {next} does not decode: {e}")))?;
            if commit.block.header.number != next {
                return Err(log_err(format!(
                    "entry {next} holds block {}",
                    commit.block.header.number
                )));
            }
            apply(commit)?;
            offset += 4 + len;
            next += 1;
        }
        if offset < bytes.len() {
            tracing::warn!(
                file = %path.display(),
                bytes = bytes.len() - offset,
                "block log ends in a partial entry (crash during append); truncating it"
            );
            file.set_len(offset as u64)
                .map_err(|e| StateError::io(path, e))?;
            file.sync_all().map_err(|e| StateError::io(path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| StateError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            cipher,
            next,
            fsync,
        })
    }

    /// Number of entries in the log (= number of the next block).
    pub(crate) fn len(&self) -> u64 {
        self.next
    }

    /// Appends a block's entry and, unless disabled, waits for it to be on disk.
    pub(crate) fn append(&mut self, commit: &BlockCommit) -> Result<()> {
        let number = commit.block.header.number;
        if number != self.next {
            return Err(StateError::BlockLog {
                path: self.path.clone(),
                reason: format!("append of block {number}, expected {}", self.next),
            });
        }
        let mut plain = Vec::with_capacity(commit.length());
        commit.encode(&mut plain);
        let sealed = self.cipher.seal(&number.to_be_bytes(), &plain);
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
        self.next += 1;
        Ok(())
    }
}
