//! The state store: accounts, code, storage, blocks and indexes, encrypted at rest.
//!
//! One sled tree holds every table. A record's on-disk key is
//! `table id ‖ HMAC(logical key)` (plus `‖ be64(version)` for versioned tables), its
//! value is sealed by the enclave's [`RecordCipher`] for that table with the logical key
//! (and version) as associated data: the host sees neither which accounts or slots exist
//! nor their values, and a record moved to another key fails to open.
//!
//! Accounts and storage are *versioned*: block `n` writes at version `n << 20`, dev
//! patches on top of it at the versions that follow, so state at any past block is one
//! reverse range scan away ([`StateReader`]). "Latest" means the state after the newest
//! durable block and its patches.
//!
//! Durability comes from the [`blocklog`]: an entry is fsynced before its data is
//! written here, and on open the store replays the entries it lacks. sled's own flush is
//! never relied on, so its cache can stay small. An unreadable store (engine corruption,
//! or a record that fails authentication at open) is moved aside and rebuilt from the log.

mod applier;
mod blocklog;
mod error;
pub mod merkle;
mod tables;
mod trie;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes, U256};
use coco_enclave::{LedgerSecret, RecordCipher};
use parking_lot::{Mutex, RwLock};

pub use blocklog::LogEntry;
pub use error::{Result, StateError};
pub use types::{
    AccountChange, AccountRecord, BlockCommit, CodeEntry, SlotChange, StateDiff, StoredBlock,
    WriteSet,
};

use applier::Applier;
use blocklog::BlockLog;
use merkle::MerkleState;
use tables::{Table, Tables, be_u64, block_version, decode, storage_key, visible_at};

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
    /// fsync the block log on every append (off only for throw-away nodes).
    pub fsync: bool,
    /// Most decoded blocks kept in memory (also capped at 32 MB of their encoding).
    pub block_cache: usize,
}

/// The Merkle-Patricia state of the newest block (with its patches), and that block.
#[derive(Default)]
struct Latest {
    at: Option<u64>,
    state: MerkleState,
}

impl Latest {
    fn apply(&mut self, version: u64, diff: &StateDiff, tries: Option<merkle::Tries>) {
        match tries {
            Some(tries) => self.state.apply_prepared(diff, tries),
            None => self.state.apply(diff),
        }
        self.at = Some(version >> tables::VERSION_BITS);
    }
}

/// The encrypted store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    tables: Arc<Tables>,
    /// Writes durable blocks into the tables in the background.
    applier: Applier,
    log: Mutex<BlockLog>,
    /// State version after the newest entry; `None` before genesis.
    head: RwLock<Option<u64>>,
    blocks: Mutex<BlockCache>,
    block_cache: usize,
    /// The Merkle-Patricia leaves of the latest state.
    merkle: RwLock<Latest>,
    /// Contract code by hash (immutable): every block's new code, and code read back.
    code: Mutex<HashMap<B256, Bytes>>,
}

/// Contract codes kept in memory before the cache starts over.
const CODE_CACHE: usize = 4_096;

/// Most encoded bytes of blocks kept decoded in memory (the count cap is
/// `StoreConfig::block_cache`); decoded, a block takes about three times its encoding.
/// A cap by count alone let 256 blocks of ~760 transfers hold ~380 MB.
const BLOCK_CACHE_BYTES: usize = 32 << 20;

/// Decoded blocks by number, each with its encoded size, and their total.
#[derive(Default)]
struct BlockCache {
    blocks: BTreeMap<u64, (Arc<StoredBlock>, usize)>,
    bytes: usize,
}

impl BlockCache {
    fn get(&self, number: &u64) -> Option<&Arc<StoredBlock>> {
        self.blocks.get(number).map(|(block, _)| block)
    }

    fn remove(&mut self, number: &u64) {
        if let Some((_, size)) = self.blocks.remove(number) {
            self.bytes -= size;
        }
    }

    /// Adds `block`, `size` bytes encoded, and drops the lowest-numbered blocks while
    /// over either cap; the newest block stays whatever its size.
    fn insert(&mut self, number: u64, block: Arc<StoredBlock>, size: usize, max_blocks: usize) {
        if let Some((_, old)) = self.blocks.insert(number, (block, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        while self.blocks.len() > 1
            && (self.blocks.len() > max_blocks || self.bytes > BLOCK_CACHE_BYTES)
        {
            if let Some((_, (_, size))) = self.blocks.pop_first() {
                self.bytes -= size;
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.tables.path)
            .field("head", &*self.head.read())
            .finish()
    }
}

impl Store {
    /// Opens the store in `config.dir`, replaying the block log into it.
    ///
    /// A store that cannot be read (engine corruption, a record failing authentication
    /// while opening or while the Merkle leaves are rebuilt) is moved aside to
    /// `store.corrupt-<time>` and rebuilt from the log, which is the source of truth.
    pub fn open(config: &StoreConfig, secret: &LedgerSecret, node_id: &[u8]) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|e| StateError::io(&config.dir, e))?;
        match Self::open_once(config, secret, node_id) {
            Err(
                e @ (StateError::Engine { .. }
                | StateError::Tampered { .. }
                | StateError::Decode { .. }),
            ) => {
                let path = config.dir.join("store");
                // Unique even for two in the same second (a name taken makes rename fail).
                let mut aside = config.dir.join(format!("store.corrupt-{}", unix_now()));
                let mut n = 1;
                while aside.exists() {
                    aside = config.dir.join(format!("store.corrupt-{}-{n}", unix_now()));
                    n += 1;
                }
                tracing::error!(
                    store = %path.display(),
                    error = %e,
                    moved_to = %aside.display(),
                    "the store is unreadable; rebuilding it from the block log"
                );
                std::fs::rename(&path, &aside).map_err(|e| StateError::io(&path, e))?;
                Self::open_once(config, secret, node_id)
            }
            other => other,
        }
    }

    fn open_once(config: &StoreConfig, secret: &LedgerSecret, node_id: &[u8]) -> Result<Self> {
        let path = config.dir.join("store");
        let ciphers = || -> Vec<RecordCipher> {
            Table::ALL
                .iter()
                .map(|t| RecordCipher::new(secret, node_id, t.name()))
                .collect()
        };
        let log = BlockLog::open(
            &config.dir.join("blocks.log"),
            RecordCipher::new(secret, node_id, "blocklog"),
            config.fsync,
        )?;
        let (tables, applied) = Tables::open(&path, config.cache_bytes, ciphers())?;
        if let Some(a) = applied
            && a.seq >= log.len()
        {
            return Err(StateError::BlockLog {
                path: config.dir.join("blocks.log"),
                reason: format!(
                    "the store has applied entry {} but the log holds {}: the log was truncated or replaced",
                    a.seq,
                    log.len()
                ),
            });
        }
        let first = applied.map_or(0, |a| a.seq + 1);
        let mut head = applied.map(|a| a.version);
        for seq in first..log.len() {
            head = Some(apply_entry(&tables, &log, seq, &log.read(seq)?)?.0);
        }
        if first < log.len() {
            tables
                .db
                .flush()
                .map_err(|e| StateError::engine(&path, e))?;
            tracing::info!(
                entries = log.len() - first,
                "replayed block log into the store"
            );
        }
        let tables = Arc::new(tables);
        let store = Self {
            applier: Applier::start(tables.clone(), head)?,
            tables,
            log: Mutex::new(log),
            head: RwLock::new(head),
            blocks: Mutex::new(BlockCache::default()),
            block_cache: config.block_cache.max(1),
            merkle: RwLock::new(Latest::default()),
            code: Mutex::new(HashMap::new()),
        };
        if let Some(at) = store.head() {
            *store.merkle.write() = Latest {
                at: Some(at),
                state: store.merkle_at(at)?,
            };
        }
        Ok(store)
    }

    /// The Merkle-Patricia leaves of the state at block `at` (with its patches), rebuilt
    /// from the block log. Costs a walk of the whole log: for the latest state use
    /// [`Store::merkle`].
    pub fn merkle_at(&self, at: u64) -> Result<MerkleState> {
        let mut named = merkle::Named::new();
        self.for_each_state_diff(|diff| MerkleState::name(&mut named, diff))?;
        // From the disk: the latest state in memory may be the one being replaced.
        MerkleState::rebuild(&OnDisk(self), at, named)
    }

    /// `f` on the latest state when it is the state after block `at`, else `None`.
    fn latest<T>(&self, at: u64, f: impl FnOnce(&MerkleState) -> T) -> Option<T> {
        // Recursive: a caller may hold the lock already (`Store::merkle`, `with_merkle`).
        let latest = self.merkle.read_recursive();
        (latest.at == Some(at)).then(|| f(&latest.state))
    }

    /// `address` in the newest state: the one in memory, which may already hold a block
    /// being made durable that readers do not see as the head yet (for checks of new
    /// transactions, which must not wait for the tables to catch up with a head they
    /// read a moment earlier); from the tables at the head while it is being rebuilt.
    pub fn newest_account(&self, address: Address) -> Result<Option<AccountRecord>> {
        {
            let latest = self.merkle.read_recursive();
            if latest.at.is_some() {
                return Ok(latest.state.account(address).cloned());
            }
        }
        match self.head() {
            Some(at) => OnDisk(self).account(address, at),
            None => Ok(None),
        }
    }

    /// The Merkle-Patricia leaves of the latest state.
    pub fn merkle(&self) -> parking_lot::MappedRwLockReadGuard<'_, MerkleState> {
        parking_lot::RwLockReadGuard::map(self.merkle.read(), |latest| &latest.state)
    }

    /// Runs `f` on the Merkle-Patricia state after block `at`: the latest one when `at`
    /// is what it holds (checked under its lock, so a block being committed cannot slip
    /// in between), else one rebuilt from the block log.
    pub fn with_merkle<T>(&self, at: u64, f: impl FnOnce(&MerkleState) -> T) -> Result<T> {
        {
            let latest = self.merkle.read();
            if latest.at == Some(at) {
                return Ok(f(&latest.state));
            }
        }
        Ok(f(&self.merkle_at(at)?))
    }

    /// Number of the newest durable block, `None` before genesis.
    pub fn head(&self) -> Option<u64> {
        self.head.read().map(|v| v >> tables::VERSION_BITS)
    }

    /// The current state version (block and patches), `None` before genesis.
    pub fn version(&self) -> Option<u64> {
        *self.head.read()
    }

    /// Appends a patch or truncation to the log (durably) and writes it into the tables
    /// in place, after the blocks queued before it; returns the new version.
    fn append(&self, entry: &LogEntry) -> Result<(u64, Vec<u64>)> {
        let mut log = self.log.lock();
        self.applier.drain()?;
        let seq = log.append(entry)?;
        let (version, removed) = apply_entry(&self.tables, &log, seq, entry)?;
        self.applier.wrote(version);
        *self.head.write() = Some(version);
        match entry {
            LogEntry::Block(_) => unreachable!("blocks are committed by commit_prepared"),
            LogEntry::Patch { diff, .. } => self.merkle.write().apply(version, diff, None),
            LogEntry::Truncate { to } => {
                // Reads stop coming from memory until it holds the truncated state.
                self.merkle.write().at = None;
                // The rebuild walks the log: let go of it first.
                drop(log);
                let at = to >> tables::VERSION_BITS;
                *self.merkle.write() = Latest {
                    at: Some(at),
                    state: self.merkle_at(at)?,
                };
            }
        }
        Ok((version, removed))
    }

    /// Makes a block durable (block log, fsync) and visible: from memory at once, from
    /// the tables once the applier has written it.
    pub fn commit_block(&self, commit: BlockCommit) -> Result<Arc<StoredBlock>> {
        self.commit_prepared(commit, None)
    }

    /// [`Store::commit_block`] with the block's tries already computed on the latest
    /// state ([`MerkleState::prepare`]), so they are not computed twice.
    pub fn commit_prepared(
        &self,
        commit: BlockCommit,
        tries: Option<merkle::Tries>,
    ) -> Result<Arc<StoredBlock>> {
        let number = commit.block.header.number;
        let version = tables::block_version(number);
        // Walks every transaction and receipt: before the log is locked.
        let size = alloy_rlp::Encodable::length(&commit.block);
        let entry = LogEntry::Block(Box::new(commit));
        let mut log = self.log.lock();
        let seq = log.append(&entry)?;
        let LogEntry::Block(commit) = entry else {
            unreachable!("built as a block entry above")
        };
        let BlockCommit { block, diff } = *commit;
        let block = Arc::new(block);
        self.cache_block(number, block.clone(), size);
        for code in &diff.code {
            self.cache_code(code.hash, code.code.clone());
        }
        self.merkle.write().apply(version, &diff, tries);
        *self.head.write() = Some(version);
        self.applier.submit(seq, block.clone(), diff)?;
        drop(log);
        Ok(block)
    }

    /// Applies state changes on top of the newest block, outside any block (dev methods).
    pub fn commit_patch(&self, diff: StateDiff) -> Result<u64> {
        let version = self.version().map_or(0, |v| v + 1);
        if version & ((1 << tables::VERSION_BITS) - 1) == 0 {
            return Err(StateError::BlockLog {
                path: self.tables.path.clone(),
                reason: "too many state patches on one block; mine a block first".into(),
            });
        }
        Ok(self.append(&LogEntry::Patch { version, diff })?.0)
    }

    /// Returns the state and chain to `version` (from [`Store::version`]), undoing every
    /// block and patch above it. Returns the numbers of the blocks removed.
    pub fn truncate(&self, version: u64) -> Result<Vec<u64>> {
        let (_, removed) = self.append(&LogEntry::Truncate { to: version })?;
        let mut cache = self.blocks.lock();
        for number in &removed {
            cache.remove(number);
        }
        Ok(removed)
    }

    fn cache_code(&self, hash: B256, code: Bytes) {
        let mut cache = self.code.lock();
        if cache.len() >= CODE_CACHE {
            // Anything dropped is on disk or on its way there (the applier's queue).
            cache.clear();
        }
        cache.insert(hash, code);
    }

    fn cache_block(&self, number: u64, block: Arc<StoredBlock>, size: usize) {
        self.blocks
            .lock()
            .insert(number, block, size, self.block_cache);
    }

    /// Block `number`, decoded.
    pub fn block(&self, number: u64) -> Result<Option<Arc<StoredBlock>>> {
        if self.head().is_none_or(|h| number > h) {
            return Ok(None);
        }
        if let Some(block) = self.blocks.lock().get(&number) {
            return Ok(Some(block.clone()));
        }
        self.applier.wait_for(tables::block_version(number))?;
        let Some(bytes) = self.tables.get(Table::Blocks, &number.to_be_bytes())? else {
            return Err(StateError::MissingBlock(number));
        };
        let block: Arc<StoredBlock> = Arc::new(decode(Table::Blocks, &bytes)?);
        self.cache_block(number, block.clone(), bytes.len());
        Ok(Some(block))
    }

    /// Calls `f` with every state diff in the block log, oldest first: blocks' and
    /// patches', including those a later truncation undid. The store cannot list its
    /// keys (they are keyed hashes); this is how a state dump finds every account and
    /// slot ever written, reading their current values back through [`StateReader`].
    pub fn for_each_state_diff(&self, mut f: impl FnMut(&StateDiff)) -> Result<()> {
        let len = self.log.lock().len();
        for seq in 0..len {
            // One entry per lock, so appends are not held up by a long walk.
            let entry = self.log.lock().read(seq)?;
            match entry {
                LogEntry::Block(commit) => f(&commit.diff),
                LogEntry::Patch { diff, .. } => f(&diff),
                LogEntry::Truncate { .. } => {}
            }
        }
        Ok(())
    }

    /// The commits (block and state diff) of blocks `from..=to` as the block log holds
    /// them, oldest first: what a validator's snapshot carries. Fails on a log with
    /// state patches or truncations (dev methods), whose history is not a sequence of
    /// blocks.
    pub fn block_commits(&self, from: u64, to: u64) -> Result<Vec<BlockCommit>> {
        let len = self.log.lock().len();
        let mut out = Vec::new();
        for seq in 0..len {
            // One entry per lock, so appends are not held up by a long walk.
            match self.log.lock().read(seq)? {
                LogEntry::Block(commit) => {
                    let number = commit.block.header.number;
                    if number > to {
                        break;
                    }
                    if number >= from {
                        out.push(*commit);
                    }
                }
                LogEntry::Patch { .. } | LogEntry::Truncate { .. } => {
                    return Err(StateError::BlockLog {
                        path: self.tables.path.clone(),
                        reason: format!(
                            "entry {seq} is a state patch or truncation: only a chain of blocks can be sent as such"
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Waits until the encrypted tables hold every durable block (the applier has
    /// caught up): benchmarks count the table writes this way.
    pub fn settle(&self) -> Result<()> {
        self.applier.drain()
    }

    /// Waits until the tables hold everything durable now.
    fn wait_for_head(&self) -> Result<()> {
        match self.version() {
            Some(version) => self.applier.wait_for(version),
            None => Ok(()),
        }
    }

    /// Number of the block with this hash.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>> {
        self.wait_for_head()?;
        Ok(self
            .tables
            .get(Table::BlockHashes, hash.as_slice())?
            .map(|v| be_u64(&v)))
    }

    /// Block number and index of a mined transaction.
    pub fn transaction_location(&self, hash: B256) -> Result<Option<(u64, usize)>> {
        let head = self.head();
        self.wait_for_head()?;
        Ok(self
            .tables
            .get(Table::TxIndex, hash.as_slice())?
            .map(|v| {
                let index = u32::from_be_bytes(v[8..12].try_into().expect("12-byte location"));
                (be_u64(&v[..8]), index as usize)
            })
            .filter(|(n, _)| head.is_some_and(|h| *n <= h)))
    }
}

/// Applies log entry `seq`; returns the state version after it and removed blocks.
fn apply_entry(
    tables: &Tables,
    log: &BlockLog,
    seq: u64,
    entry: &LogEntry,
) -> Result<(u64, Vec<u64>)> {
    match entry {
        LogEntry::Block(commit) => {
            tables.apply_block(seq, &commit.block, &commit.diff)?;
            Ok((block_version(commit.block.header.number), vec![]))
        }
        LogEntry::Patch { version, diff } => {
            tables.apply_patch(seq, *version, diff)?;
            Ok((*version, vec![]))
        }
        LogEntry::Truncate { to } => {
            let removed = tables.apply_truncate(seq, *to, |s| log.read(s))?;
            Ok((*to, removed))
        }
    }
}

/// Reads of the latest state come from memory (the Merkle leaves hold all of it);
/// older states from the disk.
impl StateReader for Store {
    fn account(&self, address: Address, at: u64) -> Result<Option<AccountRecord>> {
        match self.latest(at, |state| state.account(address).cloned()) {
            Some(record) => Ok(record),
            None => OnDisk(self).account(address, at),
        }
    }

    fn storage(&self, address: Address, incarnation: u64, slot: U256, at: u64) -> Result<U256> {
        match self.latest(at, |state| state.storage(address, incarnation, slot)) {
            Some(value) => Ok(value),
            None => OnDisk(self).storage(address, incarnation, slot, at),
        }
    }

    fn code(&self, hash: B256) -> Result<Option<Bytes>> {
        if let Some(code) = self.code.lock().get(&hash) {
            return Ok(Some(code.clone()));
        }
        let code = OnDisk(self).code(hash)?;
        if let Some(code) = &code {
            self.cache_code(hash, code.clone());
        }
        Ok(code)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        OnDisk(self).block_hash(number)
    }
}

/// The store's state as its tables hold it.
struct OnDisk<'a>(&'a Store);

impl StateReader for OnDisk<'_> {
    fn account(&self, address: Address, at: u64) -> Result<Option<AccountRecord>> {
        self.0.applier.wait_for(tables::block_version(at))?;
        self.0
            .tables
            .get_versioned(Table::Accounts, address.as_slice(), visible_at(at))?
            .map(|bytes| decode(Table::Accounts, &bytes))
            .transpose()
    }

    fn storage(&self, address: Address, incarnation: u64, slot: U256, at: u64) -> Result<U256> {
        self.0.applier.wait_for(tables::block_version(at))?;
        let logical = storage_key(address, incarnation, slot);
        Ok(self
            .0
            .tables
            .get_versioned(Table::Storage, &logical, visible_at(at))?
            .map(|v| U256::from_be_slice(&v))
            .unwrap_or_default())
    }

    fn code(&self, hash: B256) -> Result<Option<Bytes>> {
        // Code may come from any block so far.
        self.0.wait_for_head()?;
        Ok(self
            .0
            .tables
            .get(Table::Code, hash.as_slice())?
            .map(Bytes::from))
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.0.block(number)?.map(|b| b.header.hash_slow()))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Not needed for durability (the log replays), but a clean stop leaves nothing
        // to replay.
        self.applier.stop();
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(balance: u64) -> AccountRecord {
        AccountRecord {
            balance: U256::from(balance),
            ..Default::default()
        }
    }

    /// The block cache drops its oldest blocks past either cap, keeps its byte count
    /// right through replacements and removals, and keeps the newest block whatever
    /// its size.
    #[test]
    fn block_cache_caps_count_and_bytes() {
        let block = |number: u64, extra: usize| {
            let mut block = commit(number, &[]).block;
            block.header.extra_data = vec![0u8; extra].into();
            Arc::new(block)
        };
        let size = |b: &Arc<StoredBlock>| alloy_rlp::Encodable::length(&**b);
        let mut cache = BlockCache::default();
        let (one, two, three) = (block(1, 10), block(2, 20), block(3, 30));
        cache.insert(1, one.clone(), size(&one), 2);
        cache.insert(2, two.clone(), size(&two), 2);
        cache.insert(3, three.clone(), size(&three), 2);
        assert!(
            cache.get(&1).is_none(),
            "over the count cap: the oldest goes"
        );
        assert_eq!(cache.bytes, size(&two) + size(&three));
        let bigger = block(3, 300);
        cache.insert(3, bigger.clone(), size(&bigger), 2);
        assert_eq!(
            cache.bytes,
            size(&two) + size(&bigger),
            "a replacement's size"
        );
        cache.remove(&2);
        assert_eq!(cache.bytes, size(&bigger));
        let huge = block(4, BLOCK_CACHE_BYTES + 1);
        cache.insert(4, huge.clone(), size(&huge), 256);
        assert!(
            cache.get(&3).is_none(),
            "over the byte cap: the older ones go"
        );
        assert_eq!(
            cache.get(&4),
            Some(&huge),
            "the newest stays whatever its size"
        );
        assert_eq!(cache.bytes, size(&huge));
    }

    fn commit(number: u64, changes: &[(Address, u64)]) -> BlockCommit {
        let header = alloy::consensus::Header {
            number,
            ..Default::default()
        };
        BlockCommit {
            block: StoredBlock {
                header,
                transactions: vec![],
                senders: vec![],
                receipts: vec![],
                ommers: vec![],
                withdrawals: vec![],
            },
            diff: StateDiff {
                accounts: changes
                    .iter()
                    .map(|(a, b)| AccountChange {
                        address: *a,
                        record: record(*b),
                        storage: vec![],
                    })
                    .collect(),
                code: vec![],
            },
        }
    }

    fn config(dir: &std::path::Path, fsync: bool, block_cache: usize) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            cache_bytes: 1 << 20,
            fsync,
            block_cache,
        }
    }

    /// Blocks are readable from the moment they are durable: the tables catch up in the
    /// background, and reads that need them (older state, hashes, indexes) wait; the
    /// latest state from memory matches what the tables hold.
    #[test]
    fn reads_right_after_commit_see_every_block() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), false, 2);
        let store = Store::open(&config, &LedgerSecret::generate(1), b"n").unwrap();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut hashes = Vec::new();
        for n in 0..40u64 {
            let mut block = commit(n, &[(a, 100 + n)]);
            block.diff.accounts[0].storage = vec![SlotChange {
                key: U256::from(n % 3),
                value: U256::from(n),
            }];
            hashes.push(block.block.header.hash_slow());
            store.commit_block(block).unwrap();
        }
        for n in 0..40u64 {
            let record = store.account(a, n).unwrap().unwrap();
            assert_eq!(record.balance, U256::from(100 + n), "balance at block {n}");
            assert_eq!(
                store.storage(a, 0, U256::from(n % 3), n).unwrap(),
                U256::from(n),
                "slot at block {n}"
            );
            assert_eq!(store.block_number(hashes[n as usize]).unwrap(), Some(n));
            assert_eq!(store.block(n).unwrap().unwrap().header.number, n);
        }
        assert_eq!(store.account(b, 39).unwrap(), None);
        store.settle().unwrap();
        for slot in 0..4u64 {
            let slot = U256::from(slot);
            assert_eq!(
                store.storage(a, 0, slot, 39).unwrap(),
                OnDisk(&store).storage(a, 0, slot, 39).unwrap()
            );
        }
        assert_eq!(
            store.account(a, 39).unwrap(),
            OnDisk(&store).account(a, 39).unwrap()
        );
    }

    #[test]
    fn versions_patches_and_truncation_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), true, 4);
        let secret = LedgerSecret::generate(1);
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let balance = |store: &Store, who, at| {
            store
                .account(who, at)
                .unwrap()
                .map(|r| r.balance.to::<u64>())
        };
        {
            let store = Store::open(&config, &secret, b"n").unwrap();
            store.commit_block(commit(0, &[(a, 10)])).unwrap();
            store.commit_block(commit(1, &[(a, 11)])).unwrap();
            let snapshot = store.version().unwrap();
            store
                .commit_patch(StateDiff {
                    accounts: vec![AccountChange {
                        address: b,
                        record: record(5),
                        storage: vec![],
                    }],
                    code: vec![],
                })
                .unwrap();
            assert_eq!(balance(&store, b, 1), Some(5));
            store.commit_block(commit(2, &[(a, 12), (b, 6)])).unwrap();
            assert_eq!(store.truncate(snapshot).unwrap(), vec![2]);
            assert_eq!(store.head(), Some(1));
            assert_eq!(balance(&store, b, 1), None, "the patch is undone");
            assert!(store.block(2).unwrap().is_none());
            store.commit_block(commit(2, &[(a, 20)])).unwrap();
        }
        // Replayed from scratch (store deleted) and from the engine: same answers.
        for wipe in [false, true] {
            if wipe {
                std::fs::remove_dir_all(dir.path().join("store")).unwrap();
            }
            let store = Store::open(&config, &secret, b"n").unwrap();
            assert_eq!(store.head(), Some(2));
            assert_eq!(balance(&store, a, 2), Some(20));
            assert_eq!(balance(&store, a, 1), Some(11));
            assert_eq!(
                balance(&store, b, 2),
                None,
                "block 2's first write to b was undone"
            );
        }
    }
}
