//! The state store: accounts, code, storage, blocks and indexes, encrypted at rest.
//!
//! One sled tree holds every table. A record's on-disk key is
//! `table id ‖ HMAC(logical key)` (plus `‖ be64(block)` for versioned tables), its value
//! is sealed by the enclave's [`RecordCipher`] for that table with the logical key (and
//! block) as associated data: the host sees neither which accounts or slots exist nor
//! their values, and a record moved to another key fails to open.
//!
//! Accounts and storage are *versioned*: each block writes new versions under its own
//! number, so state at any past block is one reverse range scan away ([`StateReader`]).
//! "Latest" means the state after the newest durable block; "pending" is answered by
//! the chain module on top of that.
//!
//! Durability comes from the [`blocklog`]: a block's entry is fsynced before its data is
//! written here, and on open the store replays the entries it lacks. sled's own flush is
//! never relied on, so its cache can stay small.

mod blocklog;
mod error;
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rlp::{Decodable, Encodable};
use coco_enclave::{LedgerSecret, RecordCipher};
use parking_lot::{Mutex, RwLock};

pub use error::{Result, StateError};
pub use types::{
    AccountChange, AccountRecord, BlockCommit, CodeEntry, SlotChange, StateDiff, StoredBlock,
};

use blocklog::BlockLog;

/// Reads of versioned state at a given block.
pub trait StateReader: Send + Sync {
    /// The account record at block `at` (including deleted ones, for their incarnation).
    fn account(&self, address: Address, at: u64) -> Result<Option<AccountRecord>>;
    /// A storage slot of `address` in storage generation `incarnation`, at block `at`.
    fn storage(&self, address: Address, incarnation: u64, slot: U256, at: u64) -> Result<U256>;
    /// Contract code by hash.
    fn code(&self, hash: B256) -> Result<Option<Bytes>>;
    /// Hash of block `number`, if it exists.
    fn block_hash(&self, number: u64) -> Result<Option<B256>>;
}

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding `store/` (sled) and `blocks.log`.
    pub dir: PathBuf,
    /// sled page cache cap in bytes.
    pub cache_bytes: u64,
    /// fsync the block log on every block (off only for throw-away nodes).
    pub fsync: bool,
    /// Number of decoded blocks kept in memory.
    pub block_cache: usize,
}

#[derive(Clone, Copy)]
#[repr(u8)]
enum Table {
    Accounts = 1,
    Storage = 2,
    Code = 3,
    Blocks = 4,
    BlockHashes = 5,
    TxIndex = 6,
    Meta = 7,
}

impl Table {
    const ALL: [Table; 7] = [
        Table::Accounts,
        Table::Storage,
        Table::Code,
        Table::Blocks,
        Table::BlockHashes,
        Table::TxIndex,
        Table::Meta,
    ];

    fn name(self) -> &'static str {
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

/// The encrypted store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    tables: Tables,
    log: Mutex<BlockLog>,
    head: RwLock<Option<u64>>,
    blocks: Mutex<BTreeMap<u64, Arc<StoredBlock>>>,
    block_cache: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.tables.path)
            .field("head", &*self.head.read())
            .finish()
    }
}

const HEAD_KEY: &[u8] = b"head";

impl Store {
    /// Opens the store in `config.dir`, replaying the block log into it.
    ///
    /// If sled reports corruption, its directory is named in the log, moved aside and
    /// rebuilt from the block log.
    pub fn open(config: &StoreConfig, secret: &LedgerSecret, node_id: &[u8]) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|e| StateError::io(&config.dir, e))?;
        let path = config.dir.join("store");
        let ciphers = || -> Vec<RecordCipher> {
            Table::ALL
                .iter()
                .map(|t| RecordCipher::new(secret, node_id, t.name()))
                .collect()
        };
        let log_cipher = RecordCipher::new(secret, node_id, "blocklog");
        let (tables, stored_head) = match Tables::open(&path, config.cache_bytes, ciphers()) {
            Ok(opened) => opened,
            Err(
                e @ (StateError::Engine { .. }
                | StateError::Tampered { .. }
                | StateError::Decode { .. }),
            ) => {
                let aside = config.dir.join(format!("store.corrupt-{}", unix_now()));
                tracing::error!(
                    store = %path.display(),
                    error = %e,
                    moved_to = %aside.display(),
                    "the store is unreadable; rebuilding it from the block log"
                );
                std::fs::rename(&path, &aside).map_err(|e| StateError::io(&path, e))?;
                Tables::open(&path, config.cache_bytes, ciphers())?
            }
            Err(e) => return Err(e),
        };
        let mut replayed = 0u64;
        let log = BlockLog::open(
            &config.dir.join("blocks.log"),
            log_cipher,
            config.fsync,
            |commit| {
                let number = commit.block.header.number;
                if stored_head.is_none_or(|h| number > h) {
                    tables.apply(&commit)?;
                    replayed += 1;
                }
                Ok(())
            },
        )?;
        let log_head = log.len().checked_sub(1);
        if let (Some(s), l) = (stored_head, log_head)
            && l.is_none_or(|l| l < s)
        {
            return Err(StateError::BlockLog {
                path: config.dir.join("blocks.log"),
                reason: format!(
                    "the store holds block {s} but the log ends at {l:?}: the log was truncated or replaced"
                ),
            });
        }
        if replayed > 0 {
            tables
                .db
                .flush()
                .map_err(|e| StateError::engine(&path, e))?;
            tracing::info!(blocks = replayed, "replayed block log into the store");
        }
        Ok(Self {
            tables,
            log: Mutex::new(log),
            head: RwLock::new(log_head),
            blocks: Mutex::new(BTreeMap::new()),
            block_cache: config.block_cache.max(1),
        })
    }

    /// Number of the newest durable block, `None` before genesis.
    pub fn head(&self) -> Option<u64> {
        *self.head.read()
    }

    /// Makes a block durable (block log, fsync) and then visible.
    pub fn commit_block(&self, commit: BlockCommit) -> Result<Arc<StoredBlock>> {
        let mut log = self.log.lock();
        log.append(&commit)?;
        self.tables.apply(&commit)?;
        let number = commit.block.header.number;
        let block = Arc::new(commit.block);
        self.cache_block(number, block.clone());
        *self.head.write() = Some(number);
        Ok(block)
    }

    fn cache_block(&self, number: u64, block: Arc<StoredBlock>) {
        let mut cache = self.blocks.lock();
        cache.insert(number, block);
        while cache.len() > self.block_cache {
            cache.pop_first();
        }
    }

    /// Block `number`, decoded.
    pub fn block(&self, number: u64) -> Result<Option<Arc<StoredBlock>>> {
        if let Some(block) = self.blocks.lock().get(&number) {
            return Ok(Some(block.clone()));
        }
        if self.head().is_none_or(|h| number > h) {
            return Ok(None);
        }
        let Some(bytes) = self.tables.get(Table::Blocks, &number.to_be_bytes())? else {
            return Err(StateError::MissingBlock(number));
        };
        let block: Arc<StoredBlock> = Arc::new(decode(Table::Blocks, &bytes)?);
        self.cache_block(number, block.clone());
        Ok(Some(block))
    }

    /// Number of the block with this hash.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>> {
        Ok(self
            .tables
            .get(Table::BlockHashes, hash.as_slice())?
            .map(|v| be_u64(&v)))
    }

    /// Block number and index of a mined transaction.
    pub fn transaction_location(&self, hash: B256) -> Result<Option<(u64, usize)>> {
        Ok(self.tables.get(Table::TxIndex, hash.as_slice())?.map(|v| {
            let index = u32::from_be_bytes(v[8..12].try_into().expect("12-byte location"));
            (be_u64(&v), index as usize)
        }))
    }
}

/// The sled tree and the ciphers of its tables.
struct Tables {
    db: sled::Db,
    path: PathBuf,
    ciphers: Vec<RecordCipher>,
}

impl Tables {
    /// Opens the engine and reads the newest block it holds.
    fn open(
        path: &Path,
        cache_bytes: u64,
        ciphers: Vec<RecordCipher>,
    ) -> Result<(Self, Option<u64>)> {
        let db = open_sled(path, cache_bytes)?;
        let tables = Tables {
            db,
            path: path.to_path_buf(),
            ciphers,
        };
        let head = tables.read_head()?;
        Ok((tables, head))
    }

    /// Writes a block's records in one atomic batch.
    fn apply(&self, commit: &BlockCommit) -> Result<()> {
        let mut batch = sled::Batch::default();
        let block = &commit.block;
        let number = block.header.number;
        for change in &commit.diff.accounts {
            let mut value = Vec::new();
            change.record.encode(&mut value);
            self.put_versioned(
                &mut batch,
                Table::Accounts,
                change.address.as_slice(),
                number,
                &value,
            );
            for slot in &change.storage {
                let logical = storage_key(change.address, change.record.incarnation, slot.key);
                let value = slot.value.to_be_bytes::<32>();
                self.put_versioned(&mut batch, Table::Storage, &logical, number, &value);
            }
        }
        for code in &commit.diff.code {
            self.put(&mut batch, Table::Code, code.hash.as_slice(), &code.code);
        }
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
        self.put(&mut batch, Table::Meta, HEAD_KEY, &number.to_be_bytes());
        self.db
            .apply_batch(batch)
            .map_err(|e| StateError::engine(&self.path, e))
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

    fn put_versioned(
        &self,
        batch: &mut sled::Batch,
        table: Table,
        logical: &[u8],
        at: u64,
        value: &[u8],
    ) {
        let mut key = self.disk_key(table, logical);
        key.extend_from_slice(&at.to_be_bytes());
        let sealed = self.cipher(table).seal(&versioned(logical, at), value);
        batch.insert(key, sealed);
    }

    fn get(&self, table: Table, logical: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(sealed) = self
            .db
            .get(self.disk_key(table, logical))
            .map_err(|e| StateError::engine(&self.path, e))?
        else {
            return Ok(None);
        };
        self.open_record(table, logical, &sealed).map(Some)
    }

    fn get_versioned(&self, table: Table, logical: &[u8], at: u64) -> Result<Option<Vec<u8>>> {
        let prefix = self.disk_key(table, logical);
        let mut end = prefix.clone();
        end.extend_from_slice(&at.to_be_bytes());
        let Some(entry) = self
            .db
            .range(prefix.as_slice()..=end.as_slice())
            .next_back()
        else {
            return Ok(None);
        };
        let (key, sealed) = entry.map_err(|e| StateError::engine(&self.path, e))?;
        let version = u64::from_be_bytes(key[key.len() - 8..].try_into().expect("8-byte suffix"));
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

    fn read_head(&self) -> Result<Option<u64>> {
        Ok(self.get(Table::Meta, HEAD_KEY)?.map(|v| be_u64(&v)))
    }
}

impl StateReader for Store {
    fn account(&self, address: Address, at: u64) -> Result<Option<AccountRecord>> {
        self.tables
            .get_versioned(Table::Accounts, address.as_slice(), at)?
            .map(|bytes| decode(Table::Accounts, &bytes))
            .transpose()
    }

    fn storage(&self, address: Address, incarnation: u64, slot: U256, at: u64) -> Result<U256> {
        let logical = storage_key(address, incarnation, slot);
        Ok(self
            .tables
            .get_versioned(Table::Storage, &logical, at)?
            .map(|v| U256::from_be_slice(&v))
            .unwrap_or_default())
    }

    fn code(&self, hash: B256) -> Result<Option<Bytes>> {
        Ok(self
            .tables
            .get(Table::Code, hash.as_slice())?
            .map(Bytes::from))
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.block(number)?.map(|b| b.header.hash_slow()))
    }
}

fn open_sled(path: &Path, cache_bytes: u64) -> Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes)
        .flush_every_ms(Some(1_000))
        .open()
        .map_err(|e| StateError::engine(path, e))
}

fn storage_key(address: Address, incarnation: u64, slot: U256) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..20].copy_from_slice(address.as_slice());
    key[20..28].copy_from_slice(&incarnation.to_be_bytes());
    key[28..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

fn versioned(logical: &[u8], at: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(logical.len() + 8);
    key.extend_from_slice(logical);
    key.extend_from_slice(&at.to_be_bytes());
    key
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

fn decode<T: Decodable>(table: Table, bytes: &[u8]) -> Result<T> {
    T::decode(&mut &bytes[..]).map_err(|e| StateError::Decode {
        table: table.name(),
        reason: e.to_string(),
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
