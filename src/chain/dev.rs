//! Development controls: mining mode, time travel, snapshots, state patches,
//! impersonation. Served only by dev nodes (the RPC layer decides).
//!
//! State patches and reverts go through the block log like blocks do (see
//! [`crate::state::LogEntry`]), so they survive restarts and replay exactly.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use alloy::consensus::Header;
use alloy::primitives::Address;
use parking_lot::{Mutex, RwLock};

use super::{Chain, ChainError, Mining, now};
use crate::execution::{BlockState, DbError};
use crate::state::{StateError, StoredBlock};

/// A snapshot: where the state was and what the clock said.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    version: u64,
    time_offset: i64,
}

/// Mutable development state of a chain.
#[derive(Debug)]
pub(super) struct DevState {
    mining: RwLock<Mining>,
    time_offset: AtomicI64,
    next_timestamp: Mutex<Option<u64>>,
    snapshots: Mutex<BTreeMap<u64, Snapshot>>,
    next_snapshot: AtomicU64,
    impersonated: RwLock<HashSet<Address>>,
}

impl DevState {
    pub(super) fn new(mining: Mining) -> Self {
        Self {
            mining: RwLock::new(mining),
            time_offset: AtomicI64::new(0),
            next_timestamp: Mutex::new(None),
            snapshots: Mutex::new(BTreeMap::new()),
            next_snapshot: AtomicU64::new(1),
            impersonated: RwLock::new(HashSet::new()),
        }
    }
}

/// Why a development control was refused.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// A timestamp before the newest block's.
    #[error("Timestamp error: {requested} is lower than previous block's timestamp {previous}")]
    TimestampTooLow {
        /// The requested timestamp.
        requested: u64,
        /// The newest block's timestamp.
        previous: u64,
    },
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl Chain {
    /// How blocks are produced now.
    pub fn mining(&self) -> Mining {
        *self.dev.mining.read()
    }

    /// Changes how blocks are produced (evm_setAutomine, evm_setIntervalMining).
    pub fn set_mining(&self, mining: Mining) {
        *self.dev.mining.write() = mining;
        self.wake();
    }

    fn clock(&self) -> u64 {
        now().saturating_add_signed(self.dev.time_offset.load(Ordering::SeqCst))
    }

    /// The timestamp the next block will get (without consuming a pending override).
    pub(super) fn next_timestamp(&self, parent: &Header) -> u64 {
        match *self.dev.next_timestamp.lock() {
            Some(ts) => ts,
            None => self.clock().max(parent.timestamp),
        }
    }

    /// The next block's timestamp, consuming an `evm_setNextBlockTimestamp` override (the
    /// clock then continues from it, as in anvil and Hardhat).
    pub(super) fn take_next_timestamp(&self, parent: &Header) -> u64 {
        match self.dev.next_timestamp.lock().take() {
            Some(ts) => {
                self.dev
                    .time_offset
                    .store(ts as i64 - now() as i64, Ordering::SeqCst);
                ts
            }
            None => self.clock().max(parent.timestamp),
        }
    }

    /// Moves the clock forward by `seconds`; returns the total offset in seconds.
    pub fn increase_time(&self, seconds: u64) -> i64 {
        self.dev
            .time_offset
            .fetch_add(seconds as i64, Ordering::SeqCst)
            + seconds as i64
    }

    /// The next block gets exactly this timestamp.
    pub fn set_next_block_timestamp(&self, timestamp: u64) -> Result<(), DevError> {
        let previous = self.head().header.timestamp;
        if timestamp < previous {
            return Err(DevError::TimestampTooLow {
                requested: timestamp,
                previous,
            });
        }
        *self.dev.next_timestamp.lock() = Some(timestamp);
        Ok(())
    }

    /// Mines `count` blocks with every ready transaction, `interval` seconds apart
    /// (evm_mine, anvil_mine, hardhat_mine). Returns the last block.
    pub fn mine_blocks(
        &self,
        count: u64,
        interval: Option<u64>,
    ) -> Result<Arc<StoredBlock>, DevError> {
        let mut last = self.head();
        for i in 0..count.max(1) {
            if i > 0
                && let Some(step) = interval
            {
                self.set_next_block_timestamp(last.header.timestamp + step)?;
            }
            last = self
                .mine(usize::MAX, true)?
                .expect("allow_empty mines a block");
        }
        Ok(last)
    }

    /// Records the current state; returns the snapshot id.
    pub fn snapshot(&self) -> Result<u64, ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        let version = self.store.version().ok_or(StateError::MissingBlock(0))?;
        let id = self.dev.next_snapshot.fetch_add(1, Ordering::SeqCst);
        let time_offset = self.dev.time_offset.load(Ordering::SeqCst);
        self.dev.snapshots.lock().insert(
            id,
            Snapshot {
                version,
                time_offset,
            },
        );
        Ok(id)
    }

    /// Returns to snapshot `id`, dropping it and every later one. False if unknown.
    pub fn revert_to(&self, id: u64) -> Result<bool, ChainError> {
        let snapshot = {
            let mut snapshots = self.dev.snapshots.lock();
            let Some(snapshot) = snapshots.get(&id).copied() else {
                return Ok(false);
            };
            snapshots.split_off(&id);
            snapshot
        };
        self.truncate(snapshot.version)?;
        self.dev
            .time_offset
            .store(snapshot.time_offset, Ordering::SeqCst);
        Ok(true)
    }

    /// Returns the chain to its genesis (anvil_reset).
    pub fn reset(&self) -> Result<(), ChainError> {
        self.dev.snapshots.lock().clear();
        self.truncate(0)?;
        self.dev.time_offset.store(0, Ordering::SeqCst);
        *self.dev.next_timestamp.lock() = None;
        Ok(())
    }

    fn truncate(&self, version: u64) -> Result<(), ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        self.store.truncate(version)?;
        let number = self.store.head().ok_or(StateError::MissingBlock(0))?;
        let head = self
            .store
            .block(number)?
            .ok_or(StateError::MissingBlock(number))?;
        *self.head.write() = head;
        // Cheaper to re-read than to tell whether the dropped versions touched it.
        self.reload_governance();
        Ok(())
    }

    /// Changes state outside any block (anvil_setBalance and friends).
    pub fn patch(
        &self,
        change: impl FnOnce(&mut BlockState<'_>) -> Result<(), DbError>,
    ) -> Result<(), ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        let head = self.head();
        let spec = self.spec.spec_id(head.header.number, head.header.timestamp);
        let mut state = BlockState::new(self.store.as_ref(), head.header.number, spec);
        change(&mut state)?;
        let diff = state.into_diff();
        let touched = super::touches_governance(&diff);
        self.store.commit_patch(diff)?;
        self.after_change(touched);
        Ok(())
    }

    /// Lets unsigned transactions from `address` in (anvil_impersonateAccount).
    pub fn impersonate(&self, address: Address) {
        self.dev.impersonated.write().insert(address);
    }

    /// Stops impersonating `address`.
    pub fn stop_impersonating(&self, address: Address) {
        self.dev.impersonated.write().remove(&address);
    }

    /// Whether `address` is impersonated.
    pub fn is_impersonated(&self, address: Address) -> bool {
        self.dev.impersonated.read().contains(&address)
    }
}
