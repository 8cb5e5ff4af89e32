//! Ethereum's Merkle-Patricia state root, kept in memory beside the encrypted store.
//!
//! The store cannot enumerate its keys (they are keyed hashes), and a Merkle-Patricia
//! root needs every account and slot. [`MerkleState`] keeps them: the account trie and
//! every account's storage trie as persistent tries ([`super::trie`]) whose nodes cache
//! their hashes, plus each account's fields and slot values for proofs. A block's root
//! is the root of the tries with the block's [`StateDiff`] laid over cheap clones of
//! them ([`MerkleState::root_with`]: only the changed keys' paths are rehashed); the diff
//! is applied once the block is durable ([`MerkleState::apply`]). Proofs for
//! `eth_getProof` walk the same tries ([`MerkleState::proof`]).
//!
//! The tries live only in memory (the enclave's memory in production): on open they are
//! rebuilt from the block log's diffs, reading current values through the store. Since
//! the latest state is all here — every account record (deleted ones too, for their
//! incarnation) and every non-zero slot — the store answers reads of the latest state
//! from it ([`MerkleState::account`], [`MerkleState::storage`]) instead of the disk.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy::rlp::Encodable;
use alloy::trie::{EMPTY_ROOT_HASH, TrieAccount};

use super::trie::Trie;
use super::{AccountRecord, Result, SlotChange, StateDiff, StateReader};

/// One account's storage: its generation, its non-zero slots and their trie.
#[derive(Debug, Clone, Default)]
struct Storage {
    incarnation: u64,
    /// slot → value, non-zero values only.
    slots: HashMap<U256, U256>,
    trie: Trie,
}

impl Storage {
    /// Records slot writes' values (zero clears a slot); the trie is written apart.
    fn write_values(&mut self, writes: &[SlotChange]) {
        for slot in writes {
            if slot.value.is_zero() {
                self.slots.remove(&slot.key);
            } else {
                self.slots.insert(slot.key, slot.value);
            }
        }
    }
}

/// Applies slot writes to a storage trie (zero clears a slot).
fn write_trie(trie: &mut Trie, writes: &[SlotChange]) {
    for slot in writes {
        let hashed = keccak256(B256::from(slot.key));
        if slot.value.is_zero() {
            trie.remove(hashed);
        } else {
            trie.insert(hashed, alloy::rlp::encode(slot.value));
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

/// The tries of a state with a diff laid over it ([`MerkleState::prepare`]).
#[derive(Debug, Clone)]
pub struct Tries {
    /// The account trie they were prepared on.
    base: Trie,
    account_trie: Trie,
    /// New storage tries, in the diff's account order.
    storage: Vec<(Address, Trie)>,
}

impl Tries {
    /// The state root.
    pub fn root(&self) -> B256 {
        self.account_trie.root()
    }
}

/// Accounts and the slots of each that some diff wrote.
pub type Named = HashMap<Address, HashSet<U256>>;

/// The account trie, every account's record and every storage trie.
#[derive(Debug, Clone, Default)]
pub struct MerkleState {
    /// Every account ever written, deleted ones included (`exists` false).
    accounts: HashMap<Address, AccountRecord>,
    account_trie: Trie,
    /// The storage of existing accounts.
    storage: HashMap<Address, Storage>,
}

fn encode_account(account: &TrieAccount) -> Vec<u8> {
    let mut out = Vec::with_capacity(account.length());
    account.encode(&mut out);
    out
}

fn leaf(record: &AccountRecord, storage_root: B256) -> TrieAccount {
    TrieAccount {
        nonce: record.nonce,
        balance: record.balance,
        storage_root,
        code_hash: if record.code_hash.is_zero() {
            KECCAK256_EMPTY
        } else {
            record.code_hash
        },
    }
}

impl MerkleState {
    /// The state root.
    pub fn root(&self) -> B256 {
        self.account_trie.root()
    }

    /// The state root after `diff`, without applying it.
    pub fn root_with(&self, diff: &StateDiff) -> B256 {
        self.prepare(diff).root()
    }

    /// The tries after `diff`, without applying it: only the changed keys' paths are new
    /// (and hashed); the rest is shared with this state.
    pub fn prepare(&self, diff: &StateDiff) -> Tries {
        let mut trie = self.account_trie.clone();
        let mut storage = Vec::new();
        for change in &diff.accounts {
            let key = keccak256(change.address);
            if !change.record.exists {
                trie.remove(key);
                continue;
            }
            let current = self
                .storage
                .get(&change.address)
                .filter(|s| s.incarnation == change.record.incarnation);
            let storage_root = match current {
                Some(storage) if change.storage.is_empty() => storage.trie.root(),
                None if change.storage.is_empty() => EMPTY_ROOT_HASH,
                _ => {
                    let mut storage_trie = current.map(|s| s.trie.clone()).unwrap_or_default();
                    write_trie(&mut storage_trie, &change.storage);
                    let root = storage_trie.root();
                    storage.push((change.address, storage_trie));
                    root
                }
            };
            trie.insert(key, encode_account(&leaf(&change.record, storage_root)));
        }
        // Hash the new paths here (nodes cache their references): `Tries::root` and the
        // installed trie's later roots are then lookups.
        trie.root();
        Tries {
            base: self.account_trie.clone(),
            account_trie: trie,
            storage,
        }
    }

    /// Applies a durable block's or patch's changes.
    pub fn apply(&mut self, diff: &StateDiff) {
        let tries = self.prepare(diff);
        self.apply_prepared(diff, tries);
    }

    /// Applies `diff` whose tries [`MerkleState::prepare`] computed on this same state
    /// (checked: tries prepared on another state are recomputed).
    pub fn apply_prepared(&mut self, diff: &StateDiff, tries: Tries) {
        if !tries.base.same(&self.account_trie) {
            return self.apply(diff);
        }
        let mut prepared = tries.storage.into_iter().peekable();
        for change in &diff.accounts {
            self.accounts.insert(change.address, change.record.clone());
            if !change.record.exists {
                self.storage.remove(&change.address);
                continue;
            }
            let storage = self.storage.entry(change.address).or_default();
            if storage.incarnation != change.record.incarnation {
                *storage = Storage {
                    incarnation: change.record.incarnation,
                    ..Storage::default()
                };
            }
            storage.write_values(&change.storage);
            if let Some((_, trie)) = prepared.next_if(|(a, _)| *a == change.address) {
                storage.trie = trie;
            }
        }
        self.account_trie = tries.account_trie;
    }

    /// The record of `address` (deleted accounts included), `None` if never written.
    pub fn account(&self, address: Address) -> Option<&AccountRecord> {
        self.accounts.get(&address)
    }

    /// A slot of `address` in storage generation `incarnation` (zero when unset, or
    /// when that generation is not the account's current one: older generations are
    /// unreachable, newer ones do not exist yet).
    pub fn storage(&self, address: Address, incarnation: u64, slot: U256) -> U256 {
        self.storage
            .get(&address)
            .filter(|s| s.incarnation == incarnation)
            .and_then(|s| s.slots.get(&slot).copied())
            .unwrap_or_default()
    }

    /// The leaf of an existing account.
    fn leaf(&self, address: Address) -> Option<TrieAccount> {
        let record = self.accounts.get(&address).filter(|r| r.exists)?;
        let storage_root = self
            .storage
            .get(&address)
            .map_or(EMPTY_ROOT_HASH, |s| s.trie.root());
        Some(leaf(record, storage_root))
    }

    /// The storage root of an existing account.
    pub fn storage_root(&self, address: Address) -> Option<B256> {
        self.leaf(address).map(|account| account.storage_root)
    }

    /// A proof of `address` and `slots` against [`MerkleState::root`].
    pub fn proof(&self, address: Address, slots: &[B256]) -> AccountProof {
        let account = self.leaf(address);
        let storage = self.storage.get(&address).filter(|_| account.is_some());
        let empty = Storage::default();
        let storage = storage.unwrap_or(&empty);
        AccountProof {
            account,
            proof: self.account_trie.proof(keccak256(address)),
            storage: slots
                .iter()
                .map(|slot| {
                    let value = storage
                        .slots
                        .get(&U256::from_be_bytes(slot.0))
                        .copied()
                        .unwrap_or_default();
                    (*slot, value, storage.trie.proof(keccak256(slot)))
                })
                .collect(),
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

    /// Rebuilds the tries of the state at block `at` from every account and slot that
    /// was ever `named`, reading their values at `at` through `reader`.
    pub fn rebuild(reader: &dyn StateReader, at: u64, named: Named) -> Result<Self> {
        let mut state = Self::default();
        for (address, slots) in named {
            let Some(record) = reader.account(address, at)? else {
                continue;
            };
            if !record.exists {
                state.accounts.insert(address, record);
                continue;
            }
            let mut writes = Vec::with_capacity(slots.len());
            for key in slots {
                let value = reader.storage(address, record.incarnation, key, at)?;
                writes.push(SlotChange { key, value });
            }
            state.apply(&StateDiff {
                accounts: vec![super::AccountChange {
                    address,
                    record,
                    storage: writes,
                }],
                code: vec![],
            });
        }
        Ok(state)
    }
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
            alloy::trie::Nibbles::unpack(keccak256(address)),
            Some(encode_account(&account)),
            &proof.proof,
        )
        .expect("account proof verifies");
        let (_, value, nodes) = &proof.storage[0];
        assert_eq!(*value, U256::from(7));
        alloy::trie::proof::verify_proof(
            account.storage_root,
            alloy::trie::Nibbles::unpack(keccak256(slot)),
            Some(alloy::rlp::encode(*value)),
            nodes,
        )
        .expect("storage proof verifies");
        let (_, absent, nodes) = &proof.storage[1];
        assert!(absent.is_zero());
        alloy::trie::proof::verify_proof(
            account.storage_root,
            alloy::trie::Nibbles::unpack(keccak256(B256::from(U256::from(3)))),
            None,
            nodes,
        )
        .expect("absence proof verifies");
        let missing = state.proof(Address::repeat_byte(99), &[]);
        assert!(missing.account.is_none());
        alloy::trie::proof::verify_proof(
            root,
            alloy::trie::Nibbles::unpack(keccak256(Address::repeat_byte(99))),
            None,
            &missing.proof,
        )
        .expect("account absence verifies");
    }
}
