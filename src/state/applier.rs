//! Writing durable blocks into the encrypted tables, off the block producer's path.
//!
//! A block is durable once its log entry is fsynced, and from then on it is served from
//! memory: the block cache holds the block, the Merkle leaves the state after it.
//! Writing its records into the tables — sealing and keying every account, slot,
//! transaction-index and block record, then sled's inserts, most of a commit's cost —
//! happens here, on one thread, in log order, while the producer builds the next block.
//! Reads that need the tables at some version wait until the applier has reached it
//! ([`Applier::wait_for`]); patches and truncations wait for the queue to drain
//! ([`Applier::drain`]) and are written in place. A crash loses nothing: the store
//! replays the log entries its tables lack when it opens.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::error::{Result, StateError};
use super::tables::{Tables, block_version};
use super::types::{StateDiff, StoredBlock};

/// Blocks the producer may run ahead of the tables before it waits.
const QUEUE: usize = 32;

/// A durable block whose records are not yet in the tables.
struct Job {
    seq: u64,
    block: Arc<StoredBlock>,
    diff: StateDiff,
}

#[derive(Debug)]
struct Progress {
    /// State version the tables hold, `None` before genesis.
    version: Option<u64>,
    /// Jobs sent and not yet written.
    queued: usize,
    /// Why writing stopped, if it did (the node must stop: fail-stop).
    failed: Option<String>,
}

#[derive(Debug)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

/// The applier thread and what it has written.
pub(super) struct Applier {
    shared: Arc<Shared>,
    jobs: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Applier {
    /// Starts the thread over `tables`, which hold state `version`.
    pub(super) fn start(tables: Arc<Tables>, version: Option<u64>) -> Result<Self> {
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress {
                version,
                queued: 0,
                failed: None,
            }),
            changed: Condvar::new(),
        });
        let (jobs, rx) = sync_channel(QUEUE);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("coco-store-apply".into())
                .spawn(move || run(&tables, &shared, rx))
                .map_err(|e| StateError::io(&std::path::PathBuf::from("coco-store-apply"), e))?
        };
        Ok(Self {
            shared,
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues durable block `seq` for writing; waits while the queue is full.
    pub(super) fn submit(&self, seq: u64, block: Arc<StoredBlock>, diff: StateDiff) -> Result<()> {
        self.check()?;
        let jobs = self.jobs.lock();
        let Some(jobs) = jobs.as_ref() else {
            return Err(StateError::Apply("the store is closing".into()));
        };
        self.shared.progress.lock().queued += 1;
        if jobs.send(Job { seq, block, diff }).is_err() {
            let reason = "the applier thread has stopped".to_string();
            let mut progress = self.shared.progress.lock();
            progress.queued -= 1;
            progress.failed.get_or_insert(reason.clone());
            self.shared.changed.notify_all();
            return Err(StateError::Apply(reason));
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        match &self.shared.progress.lock().failed {
            Some(reason) => Err(StateError::Apply(reason.clone())),
            None => Ok(()),
        }
    }

    /// Waits until the tables hold state `version` (or everything queued, whichever
    /// comes first: a version nothing queued will reach is not waited for).
    pub(super) fn wait_for(&self, version: u64) -> Result<()> {
        let mut progress = self.shared.progress.lock();
        loop {
            if let Some(reason) = &progress.failed {
                return Err(StateError::Apply(reason.clone()));
            }
            if progress.queued == 0 || progress.version.is_some_and(|v| v >= version) {
                return Ok(());
            }
            self.shared.changed.wait(&mut progress);
        }
    }

    /// Waits until everything queued is written.
    pub(super) fn drain(&self) -> Result<()> {
        let mut progress = self.shared.progress.lock();
        loop {
            if let Some(reason) = &progress.failed {
                return Err(StateError::Apply(reason.clone()));
            }
            if progress.queued == 0 {
                return Ok(());
            }
            self.shared.changed.wait(&mut progress);
        }
    }

    /// Records that the caller wrote state `version` in place (after [`Applier::drain`]).
    pub(super) fn wrote(&self, version: u64) {
        self.shared.progress.lock().version = Some(version);
        self.shared.changed.notify_all();
    }

    /// Writes what is queued and stops the thread.
    pub(super) fn stop(&self) {
        drop(self.jobs.lock().take());
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

fn run(tables: &Tables, shared: &Shared, jobs: Receiver<Job>) {
    for job in jobs {
        let number = job.block.header.number;
        // After a failure nothing more is written: the tables must follow the log's order.
        let result = match shared.progress.lock().failed {
            Some(_) => Ok(()),
            None => tables.apply_block(job.seq, &job.block, &job.diff),
        };
        let mut progress = shared.progress.lock();
        progress.queued -= 1;
        match result {
            Ok(()) if progress.failed.is_none() => progress.version = Some(block_version(number)),
            Ok(()) => {}
            Err(e) => {
                tracing::error!(block = number, error = %e, "could not write a durable block into the store; it will be replayed from the block log on restart");
                progress.failed.get_or_insert_with(|| e.to_string());
            }
        }
        shared.changed.notify_all();
    }
}
