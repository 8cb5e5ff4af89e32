//! The sled tree, its encrypted tables, and how log entries are written and undone.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use alloy::rlp::{Decodable, Encodable};
use coco_enclave::RecordCipher;

use super::error::{Result, StateError};
use super::types::{StateDiff, StoredBlock};

/// Bits of a state version below the block number: a block writes at
/// `number << VERSION_BITS`, patches on top of it at the following versions.
pub(crate) const VERSION_BITS: u32 = 20;

/// The version a block writes at.
pub(crate) fn block_version(number: u64) -> u64 {
    number << VERSION_BITS
}

/// The highest version visible at block `number` (the block and its patches).
pub(crate) fn visible_at(number: u64) -> u64 {
    (number << VERSION_BITS) | ((1 << VERSION_BITS) - 1)
}

/// The tables, each with its own cipher. The id is the first byte of every disk key.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum Table {
    Accounts = 1,
    Storage = 2,
    Code = 3,
    Blocks = 4,
    BlockHashes = 5,
    TxIndex = 6,
    Meta = 7,
}

impl Table {
    pub(crate) const ALL: [Table; 7] = [
        Table::Accounts,
        Table::Storage,
        Table::Code,
        Table::Blocks,
        Table::BlockHashes,
        Table::TxIndex,
        Table::Meta,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Storage => "storage",
            Table::Code => "code",
            Table::Blocks => "blocks",
            Table::BlockHashes => "block_hashes",
            Table::TxIndex => "tx_index",
            Table::Meta => "meta",
        }
    }
}

const APPLIED_KEY: &[u8] = b"applied";
const HEAD_KEY: &[u8] = b"head";

/// What the store has applied: the last log entry and the state version it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    /// Sequence number of the last applied log entry.
    pub(crate) seq: u64,
    /// State version after it.
    pub(crate) version: u64,
}

/// The sled tree and the ciphers of its tables.
pub(crate) struct Tables {
    pub(crate) db: sled::Db,
    pub(crate) path: PathBuf,
    ciphers: Vec<RecordCipher>,
}

impl Tables {
    /// Opens the engine and reads what it has applied.
    pub(crate) fn open(
        path: &Path,
        cache_bytes: u64,
        ciphers: Vec<RecordCipher>,
    ) -> Result<(Self, Option<Applied>)> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(1_000))
            .open()
            .map_err(|e| StateError::engine(path, e))?;
        let tables = Tables {
            db,
            path: path.to_path_buf(),
            ciphers,
        };
        let applied = match (
            tables.get(Table::Meta, APPLIED_KEY)?,
            tables.get(Table::Meta, HEAD_KEY)?,
        ) {
            (Some(seq), Some(version)) => Some(Applied {
                seq: be_u64(&seq),
                version: be_u64(&version),
            }),
            _ => None,
        };
        Ok((tables, applied))
    }

    fn cipher(&self, table: Table) -> &RecordCipher {
        &self.ciphers[table as usize - 1]
    }

    fn disk_key(&self, table: Table, logical: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(41);
        key.push(table as u8);
        key.extend_from_slice(&self.cipher(table).hide_key(logical));
        key
    }

    fn put(&self, batch: &mut sled::Batch, table: Table, logical: &[u8], value: &[u8]) {
        let sealed = self.cipher(table).seal(logical, value);
        batch.insert(self.disk_key(table, logical), sealed);
    }

    fn versioned_disk_key(&self, table: Table, logical: &[u8], version: u64) -> Vec<u8> {
        let mut key = self.disk_key(table, logical);
        key.extend_from_slice(&version.to_be_bytes());
        key
    }

    fn put_versioned(
        &self,
        batch: &mut sled::Batch,
        table: Table,
        logical: &[u8],
        version: u64,
        value: &[u8],
    ) {
        let sealed = self.cipher(table).seal(&versioned(logical, version), value);
        batch.insert(self.versioned_disk_key(table, logical, version), sealed);
    }

    pub(crate) fn get(&self, table: Table, logical: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(sealed) = self
            .db
            .get(self.disk_key(table, logical))
            .map_err(|e| StateError::engine(&self.path, e))?
        else {
            return Ok(None);
        };
        self.open_record(table, logical, &sealed).map(Some)
    }

    /// The newest version of a record at or below `max_version`.
    pub(crate) fn get_versioned(
        &self,
        table: Table,
        logical: &[u8],
        max_version: u64,
    ) -> Result<Option<Vec<u8>>> {
        let prefix = self.disk_key(table, logical);
        let mut end = prefix.clone();
        end.extend_from_slice(&max_version.to_be_bytes());
        let Some(entry) = self
            .db
            .range(prefix.as_slice()..=end.as_slice())
            .next_back()
        else {
            return Ok(None);
        };
        let (key, sealed) = entry.map_err(|e| StateError::engine(&self.path, e))?;
        let version = be_u64(&key[key.len() - 8..]);
        self.open_record(table, &versioned(logical, version), &sealed)
            .map(Some)
    }

    fn open_record(&self, table: Table, logical: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        self.cipher(table)
            .open(logical, sealed)
            .map_err(|_| StateError::Tampered {
                table: table.name().to_string(),
            })
    }

    fn write_diff(&self, batch: &mut sled::Batch, diff: &StateDiff, version: u64) {
        for change in &diff.accounts {
            let mut value = Vec::new();
            change.record.encode(&mut value);
            self.put_versioned(
                batch,
                Table::Accounts,
                change.address.as_slice(),
                version,
                &value,
            );
            for slot in &change.storage {
                let logical = storage_key(change.address, change.record.incarnation, slot.key);
                self.put_versioned(
                    batch,
                    Table::Storage,
                    &logical,
                    version,
                    &slot.value.to_be_bytes::<32>(),
                );
            }
        }
        for code in &diff.code {
            self.put(batch, Table::Code, code.hash.as_slice(), &code.code);
        }
    }

    fn erase_diff(&self, batch: &mut sled::Batch, diff: &StateDiff, version: u64) {
        for change in &diff.accounts {
            batch.remove(self.versioned_disk_key(
                Table::Accounts,
                change.address.as_slice(),
                version,
            ));
            for slot in &change.storage {
                let logical = storage_key(change.address, change.record.incarnation, slot.key);
                batch.remove(self.versioned_disk_key(Table::Storage, &logical, version));
            }
        }
    }

    fn mark(&self, batch: &mut sled::Batch, applied: Applied) {
        self.put(batch, Table::Meta, APPLIED_KEY, &applied.seq.to_be_bytes());
        self.put(batch, Table::Meta, HEAD_KEY, &applied.version.to_be_bytes());
    }

    /// Writes a block's records and marks entry `seq` applied, in one atomic batch.
    pub(crate) fn apply_block(
        &self,
        seq: u64,
        block: &StoredBlock,
        diff: &StateDiff,
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        let number = block.header.number;
        self.write_diff(&mut batch, diff, block_version(number));
        let mut encoded = Vec::with_capacity(block.length());
        block.encode(&mut encoded);
        self.put(&mut batch, Table::Blocks, &number.to_be_bytes(), &encoded);
        let hash = block.header.hash_slow();
        self.put(
            &mut batch,
            Table::BlockHashes,
            hash.as_slice(),
            &number.to_be_bytes(),
        );
        for (index, tx) in block.transactions.iter().enumerate() {
            let mut location = number.to_be_bytes().to_vec();
            location.extend_from_slice(&(index as u32).to_be_bytes());
            self.put(
                &mut batch,
                Table::TxIndex,
                tx.tx_hash().as_slice(),
                &location,
            );
        }
        self.mark(
            &mut batch,
            Applied {
                seq,
                version: block_version(number),
            },
        );
        self.db
            .apply_batch(batch)
            .map_err(|e| StateError::engine(&self.path, e))
    }

    /// Writes a patch at `version` and marks entry `seq` applied.
    pub(crate) fn apply_patch(&self, seq: u64, version: u64, diff: &StateDiff) -> Result<()> {
        let mut batch = sled::Batch::default();
        self.write_diff(&mut batch, diff, version);
        self.mark(&mut batch, Applied { seq, version });
        self.db
            .apply_batch(batch)
            .map_err(|e| StateError::engine(&self.path, e))
    }

    /// Undoes every entry above version `to` (read back through `read`) and marks entry
    /// `seq` applied. Returns the numbers of the blocks removed.
    pub(crate) fn apply_truncate(
        &self,
        seq: u64,
        to: u64,
        read: impl Fn(u64) -> Result<super::blocklog::LogEntry>,
    ) -> Result<Vec<u64>> {
        use super::blocklog::LogEntry;
        let mut batch = sled::Batch::default();
        let mut removed = Vec::new();
        for earlier in (0..seq).rev() {
            match read(earlier)? {
                LogEntry::Truncate { .. } => continue,
                LogEntry::Patch { version, diff } => {
                    if version <= to {
                        break;
                    }
                    self.erase_diff(&mut batch, &diff, version);
                }
                LogEntry::Block(commit) => {
                    let number = commit.block.header.number;
                    if block_version(number) <= to {
                        break;
                    }
                    self.erase_diff(&mut batch, &commit.diff, block_version(number));
                    batch.remove(self.disk_key(Table::Blocks, &number.to_be_bytes()));
                    batch.remove(self.disk_key(
                        Table::BlockHashes,
                        commit.block.header.hash_slow().as_slice(),
                    ));
                    for tx in &commit.block.transactions {
                        batch.remove(self.disk_key(Table::TxIndex, tx.tx_hash().as_slice()));
                    }
                    removed.push(number);
                }
            }
        }
        self.mark(&mut batch, Applied { seq, version: to });
        self.db
            .apply_batch(batch)
            .map_err(|e| StateError::engine(&self.path, e))?;
        Ok(removed)
    }
}

pub(crate) fn storage_key(address: Address, incarnation: u64, slot: U256) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..20].copy_from_slice(address.as_slice());
    key[20..28].copy_from_slice(&incarnation.to_be_bytes());
    key[28..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

fn versioned(logical: &[u8], version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(logical.len() + 8);
    key.extend_from_slice(logical);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub(crate) fn be_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

pub(crate) fn decode<T: Decodable>(table: Table, bytes: &[u8]) -> Result<T> {
    T::decode(&mut &bytes[..]).map_err(|e| StateError::Decode {
        table: table.name(),
        reason: e.to_string(),
    })
}
