//! The transaction pool: per-sender nonce queues, replacement, and block selection.
//!
//! Stateless checks (signature, chain id, gas, fees, intrinsic gas) happen before a
//! transaction reaches the pool, in [`super::Chain::submit`]. The pool decides what only
//! it can: whether a transaction is already known, whether it may replace one with the
//! same sender and nonce, and which transactions are ready (their nonce is the sender's
//! next, or follows a ready one). Transactions behind a nonce gap wait until it fills.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{Transaction, TxEnvelope};
use alloy::primitives::{Address, B256};

/// Why the pool refused a transaction. The texts are geth's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum PoolError {
    /// Same hash already pending.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce with fees not at least 10 % higher.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool is at capacity.
    #[error("txpool is full")]
    Full,
    /// Too many queued transactions from one sender.
    #[error("account limit exceeded")]
    AccountLimit,
}

/// A pooled transaction.
#[derive(Debug)]
pub struct PoolTx {
    /// The signed transaction and its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Transaction hash.
    pub hash: B256,
    /// Arrival order, for fair selection.
    seq: u64,
}

/// Pool limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Total transactions held.
    pub max_txs: usize,
    /// Transactions held per sender.
    pub max_per_sender: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            max_txs: 100_000,
            max_per_sender: 10_000,
        }
    }
}

/// The pool. Not synchronised: the chain keeps it behind a mutex.
#[derive(Debug, Default)]
pub struct Pool {
    by_hash: HashMap<B256, Arc<PoolTx>>,
    senders: HashMap<Address, BTreeMap<u64, Arc<PoolTx>>>,
    seq: u64,
    limits: PoolLimits,
}

/// Price bump a replacement needs, in percent (geth's default).
const PRICE_BUMP: u128 = 10;

impl Pool {
    /// An empty pool with these limits.
    pub fn new(limits: PoolLimits) -> Self {
        Self {
            limits,
            ..Default::default()
        }
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<PoolTx>> {
        self.by_hash.get(hash).cloned()
    }

    /// Adds a transaction whose nonce is at least the sender's state nonce.
    ///
    /// Returns the pooled entry (the hash of a replaced transaction goes away with it).
    pub fn add(&mut self, tx: Recovered<TxEnvelope>) -> Result<Arc<PoolTx>, PoolError> {
        let hash = *tx.tx_hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = tx.signer();
        let nonce = tx.nonce();
        let queue = self.senders.entry(sender).or_default();
        let replaced = match queue.get(&nonce) {
            Some(old) => {
                if !is_replacement(&old.tx, &tx) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                Some(old.hash)
            }
            None => {
                if queue.len() >= self.limits.max_per_sender {
                    return Err(PoolError::AccountLimit);
                }
                if self.by_hash.len() >= self.limits.max_txs {
                    return Err(PoolError::Full);
                }
                None
            }
        };
        self.seq += 1;
        let entry = Arc::new(PoolTx {
            tx,
            hash,
            seq: self.seq,
        });
        queue.insert(nonce, entry.clone());
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        self.by_hash.insert(hash, entry.clone());
        Ok(entry)
    }

    /// The next nonce of `sender` counting its ready pooled transactions.
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(queue) = self.senders.get(&sender) {
            for nonce in queue.range(state_nonce..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Ready transactions in arrival order, per sender in nonce order, at most `max`.
    ///
    /// `state_nonce` gives each sender's nonce after the latest block.
    pub fn ready(&self, max: usize, state_nonce: impl FnMut(Address) -> u64) -> Vec<Arc<PoolTx>> {
        self.ready_of(max, |_| true, state_nonce)
    }

    /// [`Pool::ready`] over the senders `include` keeps only.
    pub fn ready_of(
        &self,
        max: usize,
        include: impl Fn(&Address) -> bool,
        mut state_nonce: impl FnMut(Address) -> u64,
    ) -> Vec<Arc<PoolTx>> {
        // Heads of each sender's ready run, ordered by arrival.
        let mut heads = BinaryHeap::new();
        let mut cursors: HashMap<Address, u64> = HashMap::new();
        for (sender, queue) in self.senders.iter().filter(|(s, _)| include(s)) {
            let nonce = state_nonce(*sender);
            if let Some(tx) = queue.get(&nonce) {
                heads.push(Reverse((tx.seq, *sender)));
                cursors.insert(*sender, nonce);
            }
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(Reverse((_, sender))) = heads.pop() else {
                break;
            };
            let nonce = cursors[&sender];
            let queue = &self.senders[&sender];
            out.push(queue[&nonce].clone());
            if let Some(next) = queue.get(&(nonce + 1)) {
                cursors.insert(sender, nonce + 1);
                heads.push(Reverse((next.seq, sender)));
            }
        }
        out
    }

    /// Drops a transaction (mined, or found invalid).
    pub fn remove(&mut self, hash: &B256) -> Option<Arc<PoolTx>> {
        let entry = self.by_hash.remove(hash)?;
        let sender = entry.tx.signer();
        if let Some(queue) = self.senders.get_mut(&sender) {
            queue.remove(&entry.tx.nonce());
            if queue.is_empty() {
                self.senders.remove(&sender);
            }
        }
        Some(entry)
    }

    /// Drops the transactions a block included, and their senders' older nonces.
    pub fn remove_included(&mut self, block: &crate::state::StoredBlock) {
        for (tx, sender) in block.transactions.iter().zip(&block.senders) {
            self.remove(tx.tx_hash());
            self.prune_sender(*sender, tx.nonce() + 1);
        }
    }

    /// Drops every transaction of `sender` with a nonce below `state_nonce`.
    pub fn prune_sender(&mut self, sender: Address, state_nonce: u64) {
        let Some(queue) = self.senders.get_mut(&sender) else {
            return;
        };
        let stale: Vec<u64> = queue.range(..state_nonce).map(|(n, _)| *n).collect();
        for nonce in stale {
            if let Some(tx) = queue.remove(&nonce) {
                self.by_hash.remove(&tx.hash);
            }
        }
        if queue.is_empty() {
            self.senders.remove(&sender);
        }
    }

    /// Drops every transaction of the senders `keep` refuses; returns their hashes.
    pub fn retain_senders(&mut self, keep: impl Fn(&Address) -> bool) -> Vec<B256> {
        let gone: Vec<Address> = self.senders.keys().filter(|a| !keep(a)).copied().collect();
        let mut dropped = Vec::new();
        for sender in gone {
            for (_, tx) in self.senders.remove(&sender).unwrap_or_default() {
                self.by_hash.remove(&tx.hash);
                dropped.push(tx.hash);
            }
        }
        dropped
    }

    /// Every pooled transaction, grouped by sender and ordered by nonce.
    pub fn all(&self) -> impl Iterator<Item = &Arc<PoolTx>> {
        self.senders.values().flat_map(|q| q.values())
    }
}

/// geth's rule: both the fee cap and the tip must rise by at least 10 %.
fn is_replacement(old: &TxEnvelope, new: &TxEnvelope) -> bool {
    let bumped = |old: u128, new: u128| new * 100 >= old * (100 + PRICE_BUMP) && new > old;
    let old_tip = old
        .max_priority_fee_per_gas()
        .unwrap_or(old.max_fee_per_gas());
    let new_tip = new
        .max_priority_fee_per_gas()
        .unwrap_or(new.max_fee_per_gas());
    bumped(old.max_fee_per_gas(), new.max_fee_per_gas()) && bumped(old_tip, new_tip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, TxEip1559};
    use alloy::network::TxSignerSync;
    use alloy::primitives::{TxKind, U256};
    use alloy::signers::local::PrivateKeySigner;

    fn tx(signer: &PrivateKeySigner, nonce: u64, fee: u128) -> Recovered<TxEnvelope> {
        let mut inner = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: fee,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut inner).unwrap();
        let envelope = TxEnvelope::from(inner.into_signed(sig));
        Recovered::new_unchecked(envelope, signer.address())
    }

    #[test]
    fn already_known_and_replacement() {
        let s = PrivateKeySigner::random();
        let mut pool = Pool::default();
        let a = tx(&s, 0, 100);
        pool.add(a.clone()).unwrap();
        assert_eq!(pool.add(a).unwrap_err(), PoolError::AlreadyKnown);
        assert_eq!(
            pool.add(tx(&s, 0, 105)).unwrap_err(),
            PoolError::ReplacementUnderpriced
        );
        let replacement = pool.add(tx(&s, 0, 110)).unwrap();
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.get(&replacement.hash).unwrap().hash, replacement.hash);
    }

    #[test]
    fn gaps_wait_until_filled() {
        let s = PrivateKeySigner::random();
        let mut pool = Pool::default();
        pool.add(tx(&s, 1, 100)).unwrap();
        assert!(pool.ready(10, |_| 0).is_empty());
        assert_eq!(pool.pending_nonce(s.address(), 0), 0);
        pool.add(tx(&s, 0, 100)).unwrap();
        let ready = pool.ready(10, |_| 0);
        assert_eq!(
            ready.iter().map(|t| t.tx.nonce()).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(pool.pending_nonce(s.address(), 0), 2);
    }

    #[test]
    fn selection_is_fair_across_senders() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut pool = Pool::default();
        pool.add(tx(&a, 0, 1)).unwrap();
        pool.add(tx(&b, 0, 1)).unwrap();
        pool.add(tx(&a, 1, 1)).unwrap();
        let order: Vec<_> = pool
            .ready(10, |_| 0)
            .iter()
            .map(|t| (t.tx.signer(), t.tx.nonce()))
            .collect();
        assert_eq!(
            order,
            vec![(a.address(), 0), (b.address(), 0), (a.address(), 1)]
        );
        pool.prune_sender(a.address(), 1);
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn a_selection_of_senders_counts_only_theirs_against_the_cap() {
        let (a, c) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut pool = Pool::default();
        for nonce in 0..5 {
            pool.add(tx(&a, nonce, 1)).unwrap();
        }
        pool.add(tx(&c, 0, 1)).unwrap();
        // Five of a's arrived first: a cap of two still finds c's.
        let only_c = pool.ready_of(2, |s| *s == c.address(), |_| 0);
        assert_eq!(only_c.len(), 1);
        assert_eq!(only_c[0].tx.signer(), c.address());
        assert_eq!(pool.ready(2, |_| 0).len(), 2);
    }
}
