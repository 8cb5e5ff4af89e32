//! Ethereum's Merkle-Patricia state root, kept in memory beside the encrypted store.
//!
//! The store cannot enumerate its keys (they are keyed hashes), and a Merkle-Patricia
//! root needs every account and slot in hashed-key order. [`MerkleState`] keeps exactly
//! that: the leaves of the account trie and of every storage trie, sorted by hashed key,
//! with each account's storage root cached. A block's root is computed with alloy-trie's
//! [`HashBuilder`] over the leaves as they would be after the block's [`StateDiff`]
//! ([`MerkleState::root_with`]), and the diff is applied once the block is durable
//! ([`MerkleState::apply`]). Proofs for `eth_getProof` come from the same leaves
//! ([`MerkleState::proof`]).
//!
//! The leaves live only in memory (the enclave's memory in production): on open they are
//! rebuilt from the block log's diffs, reading current values through the store.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy::rlp::Encodable;
use alloy::trie::proof::ProofRetainer;
use alloy::trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};

use super::{AccountRecord, Result, SlotChange, StateDiff, StateReader};

/// One account's storage trie: its generation, its non-zero slots and their root.
#[derive(Debug, Clone)]
struct StorageTrie {
    incarnation: u64,
    /// keccak(slot) → value, non-zero values only.
    slots: BTreeMap<B256, U256>,
    root: B256,
}

/// One account's leaf in the state trie.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    nonce: u64,
    balance: U256,
    code_hash: B256,
    storage_root: B256,
}

impl Leaf {
    fn trie_account(&self) -> TrieAccount {
        TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root: self.storage_root,
            code_hash: self.code_hash,
        }
    }
}

/// A proof of one account and some of its slots against a state root (EIP-1186).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account's fields; `None` when it does not exist (the proof shows absence).
    pub account: Option<TrieAccount>,
    /// Trie nodes from the state root down to the account (or to where it would be).
    pub proof: Vec<Bytes>,
    /// Each requested slot: its value and the nodes from the storage root down to it.
    pub storage: Vec<(B256, U256, Vec<Bytes>)>,
}

/// Accounts and the slots of each that some diff wrote.
pub type Named = HashMap<Address, HashSet<U256>>;

/// Every account's leaf and storage, in hashed-key order, with cached storage roots.
#[derive(Debug, Clone, Default)]
pub struct MerkleState {
    /// keccak(address) → leaf.
    accounts: BTreeMap<B256, Leaf>,
    storage: HashMap<Address, StorageTrie>,
}

fn storage_root(slots: &BTreeMap<B256, U256>) -> B256 {
    root_of(slots.iter().map(|(k, v)| (*k, encode_slot(*v))), &[]).0
}

fn encode_slot(value: U256) -> Vec<u8> {
    alloy::rlp::encode(value)
}

fn encode_account(account: &TrieAccount) -> Vec<u8> {
    let mut out = Vec::with_capacity(account.length());
    account.encode(&mut out);
    out
}

/// The root of sorted `(hashed key, encoded value)` leaves, with the proof nodes for
/// `targets` (hashed keys), each from the root down.
fn root_of(
    leaves: impl Iterator<Item = (B256, Vec<u8>)>,
    targets: &[B256],
) -> (B256, Vec<Vec<Bytes>>) {
    let mut builder = if targets.is_empty() {
        HashBuilder::default()
    } else {
        HashBuilder::default().with_proof_retainer(ProofRetainer::new(
            targets.iter().map(Nibbles::unpack).collect(),
        ))
    };
    let mut any = false;
    for (key, value) in leaves {
        any = true;
        builder.add_leaf(Nibbles::unpack(key), &value);
    }
    if !any {
        // An empty trie's only node is the empty string.
        let proofs = targets
            .iter()
            .map(|_| vec![Bytes::from_static(&[0x80])])
            .collect();
        return (EMPTY_ROOT_HASH, proofs);
    }
    let root = builder.root();
    if targets.is_empty() {
        return (root, Vec::new());
    }
    let nodes = builder.take_proof_nodes();
    let proofs = targets
        .iter()
        .map(|target| {
            nodes
                .matching_nodes_sorted(&Nibbles::unpack(target))
                .into_iter()
                .map(|(_, node)| node)
                .collect()
        })
        .collect();
    (root, proofs)
}

impl MerkleState {
    /// The state root.
    pub fn root(&self) -> B256 {
        self.root_with(&StateDiff::default())
    }

    /// The state root after `diff`, without applying it.
    pub fn root_with(&self, diff: &StateDiff) -> B256 {
        let changed = self.changed_leaves(diff);
        if changed.is_empty() {
            return root_of(
                self.accounts
                    .iter()
                    .map(|(k, leaf)| (*k, encode_account(&leaf.trie_account()))),
                &[],
            )
            .0;
        }
        let merged = merge(&self.accounts, &changed);
        root_of(
            merged.map(|(k, leaf)| (k, encode_account(&leaf.trie_account()))),
            &[],
        )
        .0
    }

    /// Applies a durable block's or patch's changes.
    pub fn apply(&mut self, diff: &StateDiff) {
        for change in &diff.accounts {
            let key = keccak256(change.address);
            if !change.record.exists {
                self.accounts.remove(&key);
                self.storage.remove(&change.address);
                continue;
            }
            let trie = self
                .storage
                .entry(change.address)
                .or_insert_with(|| StorageTrie {
                    incarnation: change.record.incarnation,
                    slots: BTreeMap::new(),
                    root: EMPTY_ROOT_HASH,
                });
            let reset = trie.incarnation != change.record.incarnation;
            if reset {
                trie.incarnation = change.record.incarnation;
                trie.slots.clear();
            }
            write_slots(&mut trie.slots, &change.storage);
            if reset || !change.storage.is_empty() {
                trie.root = storage_root(&trie.slots);
            }
            let storage_root = trie.root;
            self.accounts
                .insert(key, leaf(&change.record, storage_root));
        }
    }

    /// Leaves the diff changes: `None` for accounts it deletes.
    fn changed_leaves(&self, diff: &StateDiff) -> BTreeMap<B256, Option<Leaf>> {
        diff.accounts
            .iter()
            .map(|change| {
                let key = keccak256(change.address);
                if !change.record.exists {
                    return (key, None);
                }
                let current = self
                    .storage
                    .get(&change.address)
                    .filter(|t| t.incarnation == change.record.incarnation);
                let storage_root = match current {
                    Some(trie) if change.storage.is_empty() => trie.root,
                    None if change.storage.is_empty() => EMPTY_ROOT_HASH,
                    _ => {
                        let mut slots = current.map(|t| t.slots.clone()).unwrap_or_default();
                        write_slots(&mut slots, &change.storage);
                        storage_root(&slots)
                    }
                };
                (key, Some(leaf(&change.record, storage_root)))
            })
            .collect()
    }

    /// The storage root of an existing account.
    pub fn storage_root(&self, address: Address) -> Option<B256> {
        self.accounts
            .get(&keccak256(address))
            .map(|leaf| leaf.storage_root)
    }

    /// A proof of `address` and `slots` against [`MerkleState::root`].
    pub fn proof(&self, address: Address, slots: &[B256]) -> AccountProof {
        let key = keccak256(address);
        let (_, mut proofs) = root_of(
            self.accounts
                .iter()
                .map(|(k, leaf)| (*k, encode_account(&leaf.trie_account()))),
            &[key],
        );
        let account = self.accounts.get(&key).map(Leaf::trie_account);
        let trie = self.storage.get(&address).filter(|_| account.is_some());
        let hashed: Vec<B256> = slots.iter().map(keccak256).collect();
        let (_, storage_proofs) = match trie {
            Some(trie) => root_of(
                trie.slots.iter().map(|(k, v)| (*k, encode_slot(*v))),
                &hashed,
            ),
            None => root_of(std::iter::empty(), &hashed),
        };
        let storage = slots
            .iter()
            .zip(&hashed)
            .zip(storage_proofs)
            .map(|((slot, hashed), proof)| {
                let value = trie
                    .and_then(|t| t.slots.get(hashed).copied())
                    .unwrap_or_default();
                (*slot, value, proof)
            })
            .collect();
        AccountProof {
            account,
            proof: proofs.pop().unwrap_or_default(),
            storage,
        }
    }

    /// Records every account and slot `diff` names into `named` (for [`MerkleState::rebuild`]).
    pub fn name(named: &mut Named, diff: &StateDiff) {
        for change in &diff.accounts {
            named
                .entry(change.address)
                .or_default()
                .extend(change.storage.iter().map(|s| s.key));
        }
    }

    /// Rebuilds the leaves of the state at block `at` from every account and slot that
    /// was ever `named`, reading their values at `at` through `reader`.
    pub fn rebuild(reader: &dyn StateReader, at: u64, named: Named) -> Result<Self> {
        let mut state = Self::default();
        for (address, slots) in named {
            let Some(record) = reader.account(address, at)?.filter(|r| r.exists) else {
                continue;
            };
            let mut trie = StorageTrie {
                incarnation: record.incarnation,
                slots: BTreeMap::new(),
                root: EMPTY_ROOT_HASH,
            };
            for slot in slots {
                let value = reader.storage(address, record.incarnation, slot, at)?;
                if !value.is_zero() {
                    trie.slots.insert(keccak256(B256::from(slot)), value);
                }
            }
            trie.root = storage_root(&trie.slots);
            state
                .accounts
                .insert(keccak256(address), leaf(&record, trie.root));
            state.storage.insert(address, trie);
        }
        Ok(state)
    }
}

/// Applies slot writes to hashed-key leaves (zero clears a slot).
fn write_slots(slots: &mut BTreeMap<B256, U256>, writes: &[SlotChange]) {
    for slot in writes {
        let hashed = keccak256(B256::from(slot.key));
        if slot.value.is_zero() {
            slots.remove(&hashed);
        } else {
            slots.insert(hashed, slot.value);
        }
    }
}

fn leaf(record: &AccountRecord, storage_root: B256) -> Leaf {
    Leaf {
        nonce: record.nonce,
        balance: record.balance,
        code_hash: if record.code_hash.is_zero() {
            KECCAK256_EMPTY
        } else {
            record.code_hash
        },
        storage_root,
    }
}

/// `base` with `changes` laid over it, in key order (`None` removes).
fn merge<'a>(
    base: &'a BTreeMap<B256, Leaf>,
    changes: &'a BTreeMap<B256, Option<Leaf>>,
) -> impl Iterator<Item = (B256, Leaf)> + 'a {
    let mut base = base.iter().peekable();
    let mut changes = changes.iter().peekable();
    std::iter::from_fn(move || {
        loop {
            let next = match (base.peek(), changes.peek()) {
                (None, None) => return None,
                (Some(_), None) => base.next().map(|(k, l)| (*k, Some(*l))),
                (None, Some(_)) => changes.next().map(|(k, l)| (*k, *l)),
                (Some((bk, _)), Some((ck, _))) => {
                    if bk < ck {
                        base.next().map(|(k, l)| (*k, Some(*l)))
                    } else {
                        if bk == ck {
                            base.next();
                        }
                        changes.next().map(|(k, l)| (*k, *l))
                    }
                }
            };
            match next {
                Some((k, Some(leaf))) => return Some((k, leaf)),
                Some((_, None)) => continue,
                None => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AccountChange;

    fn change(address: Address, balance: u64, slots: &[(u64, u64)]) -> AccountChange {
        AccountChange {
            address,
            record: AccountRecord {
                balance: U256::from(balance),
                ..Default::default()
            },
            storage: slots
                .iter()
                .map(|(k, v)| SlotChange {
                    key: U256::from(*k),
                    value: U256::from(*v),
                })
                .collect(),
        }
    }

    /// An account of the reference computation: address, balance, slots.
    type Reference = (Address, u64, Vec<(u64, u64)>);

    fn reference_root(accounts: &[Reference]) -> B256 {
        alloy::trie::root::state_root_unhashed(accounts.iter().map(|(a, b, slots)| {
            let storage = alloy::trie::root::storage_root_unhashed(
                slots
                    .iter()
                    .filter(|(_, v)| *v != 0)
                    .map(|(k, v)| (B256::from(U256::from(*k)), U256::from(*v))),
            );
            (
                *a,
                TrieAccount {
                    balance: U256::from(*b),
                    storage_root: storage,
                    ..Default::default()
                },
            )
        }))
    }

    #[test]
    fn roots_match_alloy_trie_and_root_with_matches_apply() {
        let (a, b, c) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let mut state = MerkleState::default();
        assert_eq!(state.root(), EMPTY_ROOT_HASH);
        let first = StateDiff {
            accounts: vec![change(a, 10, &[(1, 5), (2, 6)]), change(b, 20, &[])],
            code: vec![],
        };
        let predicted = state.root_with(&first);
        state.apply(&first);
        assert_eq!(predicted, state.root());
        assert_eq!(
            state.root(),
            reference_root(&[(a, 10, vec![(1, 5), (2, 6)]), (b, 20, vec![])])
        );

        let mut gone = change(b, 0, &[]);
        gone.record.exists = false;
        let second = StateDiff {
            accounts: vec![change(a, 11, &[(1, 0)]), gone, change(c, 1, &[(9, 9)])],
            code: vec![],
        };
        let predicted = state.root_with(&second);
        state.apply(&second);
        assert_eq!(predicted, state.root());
        assert_eq!(
            state.root(),
            reference_root(&[(a, 11, vec![(2, 6)]), (c, 1, vec![(9, 9)])])
        );
    }

    #[test]
    fn proofs_verify_against_the_root() {
        let mut state = MerkleState::default();
        let accounts: Vec<AccountChange> = (1..=40u8)
            .map(|i| change(Address::repeat_byte(i), i as u64, &[(1, i as u64), (2, 7)]))
            .collect();
        state.apply(&StateDiff {
            accounts,
            code: vec![],
        });
        let root = state.root();
        let address = Address::repeat_byte(7);
        let slot = B256::from(U256::from(1));
        let proof = state.proof(address, &[slot, B256::from(U256::from(3))]);
        let account = proof.account.expect("exists");
        alloy::trie::proof::verify_proof(
            root,
            Nibbles::unpack(keccak256(address)),
            Some(encode_account(&account)),
            &proof.proof,
        )
        .expect("account proof verifies");
        let (_, value, nodes) = &proof.storage[0];
        assert_eq!(*value, U256::from(7));
        alloy::trie::proof::verify_proof(
            account.storage_root,
            Nibbles::unpack(keccak256(slot)),
            Some(encode_slot(*value)),
            nodes,
        )
        .expect("storage proof verifies");
        let (_, absent, nodes) = &proof.storage[1];
        assert!(absent.is_zero());
        alloy::trie::proof::verify_proof(
            account.storage_root,
            Nibbles::unpack(keccak256(B256::from(U256::from(3)))),
            None,
            nodes,
        )
        .expect("absence proof verifies");
        let missing = state.proof(Address::repeat_byte(99), &[]);
        assert!(missing.account.is_none());
        alloy::trie::proof::verify_proof(
            root,
            Nibbles::unpack(keccak256(Address::repeat_byte(99))),
            None,
            &missing.proof,
        )
        .expect("account absence verifies");
    }
}
