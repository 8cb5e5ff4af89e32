//! revm's database over the store: state at a parent block plus this block's writes.

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_evm::overrides::OverrideBlockHashes;
use revm::database_interface::{DBErrorMarker, Database, DatabaseCommit};
use revm::primitives::AddressMap;
use revm::primitives::hardfork::SpecId;
use revm::state::{Account, AccountInfo, Bytecode};

use crate::state::{
    AccountChange, AccountRecord, CodeEntry, SlotChange, StateDiff, StateError, StateReader,
};

/// A store failure seen by revm. Always fatal for the block or call that hit it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(#[from] pub StateError);

impl DBErrorMarker for DbError {}

#[derive(Debug, Clone)]
struct Changed {
    record: AccountRecord,
    storage: HashMap<U256, U256>,
    /// Storage below this overlay is unreachable (account created or destroyed here).
    fresh_storage: bool,
}

/// State as of block `at` with uncommitted changes layered on top.
///
/// Implements revm's [`Database`] (reads fall through to the store) and
/// [`DatabaseCommit`] (transactions' changes accumulate here). [`BlockState::into_diff`]
/// turns the accumulated changes into the [`StateDiff`] the store persists. A clone is
/// an independent overlay over the same store (a call's overrides, laid once, then one
/// clone per run).
#[derive(Clone)]
pub struct BlockState<'a> {
    reader: &'a dyn StateReader,
    at: u64,
    spec: SpecId,
    base: HashMap<Address, Option<AccountRecord>>,
    changed: HashMap<Address, Changed>,
    /// Code first deployed in this overlay.
    code: HashMap<B256, Bytecode>,
    /// Code read from the store.
    code_cache: HashMap<B256, Bytecode>,
    /// What `BLOCKHASH` answers instead of the chain (a call's block override).
    block_hashes: BTreeMap<u64, B256>,
}

impl std::fmt::Debug for BlockState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockState")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl<'a> BlockState<'a> {
    /// State after block `at`, to execute under `spec`.
    pub fn new(reader: &'a dyn StateReader, at: u64, spec: SpecId) -> Self {
        Self {
            reader,
            at,
            spec,
            base: HashMap::new(),
            changed: HashMap::new(),
            code: HashMap::new(),
            code_cache: HashMap::new(),
            block_hashes: BTreeMap::new(),
        }
    }

    fn base_record(&mut self, address: Address) -> Result<Option<AccountRecord>, DbError> {
        if let Some(record) = self.base.get(&address) {
            return Ok(record.clone());
        }
        let record = self.reader.account(address, self.at)?;
        self.base.insert(address, record.clone());
        Ok(record)
    }

    /// The current record of an account (deleted ones included, for their incarnation).
    pub fn record(&mut self, address: Address) -> Result<Option<AccountRecord>, DbError> {
        if let Some(changed) = self.changed.get(&address) {
            return Ok(Some(changed.record.clone()));
        }
        self.base_record(address)
    }

    fn changed_entry(&mut self, address: Address) -> Result<&mut Changed, DbError> {
        if !self.changed.contains_key(&address) {
            let record = self.base_record(address)?.unwrap_or_default();
            self.changed.insert(
                address,
                Changed {
                    record,
                    storage: HashMap::new(),
                    fresh_storage: false,
                },
            );
        }
        Ok(self.changed.get_mut(&address).expect("inserted above"))
    }

    /// Sets an account's balance directly (genesis allocation, dev methods).
    pub fn set_balance(&mut self, address: Address, balance: U256) -> Result<(), DbError> {
        let entry = self.changed_entry(address)?;
        entry.record.balance = balance;
        entry.record.exists = true;
        Ok(())
    }

    /// Sets an account's nonce directly.
    pub fn set_nonce(&mut self, address: Address, nonce: u64) -> Result<(), DbError> {
        let entry = self.changed_entry(address)?;
        entry.record.nonce = nonce;
        entry.record.exists = true;
        Ok(())
    }

    /// Sets an account's code directly.
    pub fn set_code(
        &mut self,
        address: Address,
        code: alloy::primitives::Bytes,
    ) -> Result<(), DbError> {
        let hash = if code.is_empty() {
            KECCAK256_EMPTY
        } else {
            keccak256(&code)
        };
        if !code.is_empty() {
            self.code.insert(hash, Bytecode::new_raw(code));
        }
        let entry = self.changed_entry(address)?;
        entry.record.code_hash = hash;
        entry.record.exists = true;
        Ok(())
    }

    /// Sets a storage slot directly.
    pub fn set_storage(
        &mut self,
        address: Address,
        slot: U256,
        value: U256,
    ) -> Result<(), DbError> {
        let entry = self.changed_entry(address)?;
        entry.record.exists = true;
        entry.storage.insert(slot, value);
        Ok(())
    }

    /// The accumulated changes, sorted by address; code sorted by hash.
    pub fn into_diff(self) -> StateDiff {
        self.to_diff()
    }

    /// The changes accumulated so far, leaving the overlay as it is.
    pub fn to_diff(&self) -> StateDiff {
        let mut accounts: Vec<AccountChange> = self
            .changed
            .iter()
            .map(|(address, changed)| {
                let mut storage: Vec<SlotChange> = changed
                    .storage
                    .iter()
                    .map(|(key, value)| SlotChange {
                        key: *key,
                        value: *value,
                    })
                    .collect();
                storage.sort_unstable_by_key(|s| s.key);
                AccountChange {
                    address: *address,
                    record: changed.record.clone(),
                    storage,
                }
            })
            .collect();
        accounts.sort_unstable_by_key(|a| a.address);
        let mut code: Vec<CodeEntry> = self
            .code
            .iter()
            .map(|(hash, code)| CodeEntry {
                hash: *hash,
                code: code.original_bytes(),
            })
            .collect();
        code.sort_unstable_by_key(|c| c.hash);
        StateDiff { accounts, code }
    }

    fn commit_account(&mut self, address: Address, account: Account) -> Result<(), DbError> {
        if !account.is_touched() {
            return Ok(());
        }
        let spec = self.spec;
        let entry = self.changed_entry(address)?;
        if account.is_selfdestructed() {
            entry.record = AccountRecord {
                incarnation: entry.record.incarnation + 1,
                exists: false,
                ..AccountRecord::default()
            };
            entry.storage.clear();
            entry.fresh_storage = true;
            return Ok(());
        }
        if account.is_created() {
            entry.record.incarnation += 1;
            entry.storage.clear();
            entry.fresh_storage = true;
        }
        entry.record.nonce = account.info.nonce;
        entry.record.balance = account.info.balance;
        entry.record.code_hash = account.info.code_hash;
        entry.record.exists = !account.state_clear_aware_is_empty(spec);
        for (key, slot) in account.changed_storage_slots() {
            entry.storage.insert(*key, slot.present_value);
        }
        if let Some(code) = account.info.code
            && account.info.code_hash != KECCAK256_EMPTY
            && !self.code_cache.contains_key(&account.info.code_hash)
        {
            self.code.entry(account.info.code_hash).or_insert(code);
        }
        Ok(())
    }
}

impl Database for BlockState<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .record(address)?
            .filter(|r| r.exists)
            .map(|r| AccountInfo {
                balance: r.balance,
                nonce: r.nonce,
                code_hash: r.code_hash,
                code: None,
                ..Default::default()
            }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self
            .code
            .get(&code_hash)
            .or_else(|| self.code_cache.get(&code_hash))
        {
            return Ok(code.clone());
        }
        let code = self
            .reader
            .code(code_hash)?
            .map(Bytecode::new_raw)
            .unwrap_or_default();
        self.code_cache.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(changed) = self.changed.get(&address) {
            if let Some(value) = changed.storage.get(&index) {
                return Ok(*value);
            }
            if changed.fresh_storage {
                return Ok(U256::ZERO);
            }
        }
        let Some(record) = self.base_record(address)? else {
            return Ok(U256::ZERO);
        };
        Ok(self
            .reader
            .storage(address, record.incarnation, index, self.at)?)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(*hash);
        }
        Ok(self.reader.block_hash(number)?.unwrap_or_default())
    }
}

impl OverrideBlockHashes for BlockState<'_> {
    fn override_block_hashes(&mut self, block_hashes: BTreeMap<u64, B256>) {
        self.block_hashes.extend(block_hashes);
    }
}

impl DatabaseCommit for BlockState<'_> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            if let Err(e) = self.commit_account(address, account) {
                // Committing only reads records revm itself loaded a moment ago; a store
                // failure here means the disk failed under us: stop loudly (fail-stop).
                panic!("state store failed while committing a transaction: {e}");
            }
        }
    }
}
