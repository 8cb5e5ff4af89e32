//! State dumps in anvil's JSON format: `coco dev --dump-state` / `--load-state`,
//! `anvil_dumpState` / `anvil_loadState`.
//!
//! ```json
//! {"block": null, "accounts": {"0x…": {"nonce": 1, "balance": "0x…", "code": "0x…",
//!   "storage": {"0x…slot": "0x…value"}}}, "best_block_number": null, "blocks": [],
//!   "transactions": [], "historical_states": null}
//! ```
//!
//! A dump holds the latest state only: no blocks, transactions or block environment
//! (`block` and `best_block_number` are null), so anvil loads it onto its own chain. The store cannot list its keys, so a dump walks the block log's state diffs
//! ([`crate::state::Store::for_each_state_diff`]) for every account and slot ever
//! written, and reads each one's current value: accounts that no longer exist and
//! slots that are zero are left out. Loading applies the accounts as one state patch,
//! with anvil's rules: the higher of the two nonces wins, balance and code are
//! replaced, the given slots are set and the others kept.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U64, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{Chain, ChainError};
use crate::state::StateReader;

/// A state dump (anvil's `SerializableState`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateDump {
    /// A block environment: always null in coco's dumps, which carry no blocks (given
    /// one, anvil looks for its block among the dump's and refuses the dump without
    /// it; given null, it keeps its own chain and loads the accounts). Ignored on load.
    #[serde(default)]
    pub block: Option<Value>,
    /// Every existing account.
    pub accounts: BTreeMap<Address, DumpedAccount>,
    /// The head block's number: always null in coco's dumps (see `block`). Ignored on
    /// load.
    #[serde(default)]
    pub best_block_number: Option<Value>,
    /// Blocks: always empty in coco's dumps; ignored on load.
    #[serde(default)]
    pub blocks: Vec<Value>,
    /// Transactions: always empty in coco's dumps; ignored on load.
    #[serde(default)]
    pub transactions: Vec<Value>,
    /// Historical states: always null in coco's dumps; ignored on load.
    #[serde(default)]
    pub historical_states: Option<Value>,
}

/// One account of a dump.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpedAccount {
    /// Nonce (a JSON number; a quantity string is accepted on load).
    #[serde(deserialize_with = "nonce")]
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Code (`0x` for none).
    #[serde(default)]
    pub code: Bytes,
    /// Non-zero slots, written as 32-byte words.
    #[serde(default, serialize_with = "words")]
    pub storage: BTreeMap<U256, U256>,
}

impl StateDump {
    /// Parses a dump (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The dump as JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

fn nonce<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Nonce {
        Number(u64),
        Quantity(U64),
    }
    Ok(match Nonce::deserialize(d)? {
        Nonce::Number(n) => n,
        Nonce::Quantity(q) => q.to(),
    })
}

fn words<S: Serializer>(slots: &BTreeMap<U256, U256>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(slots.iter().map(|(k, v)| (B256::from(*k), B256::from(*v))))
}

impl Chain {
    /// The latest state as a dump. Blocks are not produced while it is taken.
    pub fn dump_state(&self) -> Result<StateDump, ChainError> {
        let _frozen = self.mine_lock.lock();
        let head = self.head();
        let at = head.header.number;
        let mut written: BTreeMap<Address, BTreeSet<U256>> = BTreeMap::new();
        self.store.for_each_state_diff(|diff| {
            for change in &diff.accounts {
                written
                    .entry(change.address)
                    .or_default()
                    .extend(change.storage.iter().map(|s| s.key));
            }
        })?;
        let mut accounts = BTreeMap::new();
        for (address, slots) in written {
            let Some(record) = self.store.account(address, at)?.filter(|a| a.exists) else {
                continue;
            };
            let code = if record.code_hash == KECCAK256_EMPTY {
                Bytes::new()
            } else {
                self.store.code(record.code_hash)?.unwrap_or_default()
            };
            let mut storage = BTreeMap::new();
            for slot in slots {
                let value = self.store.storage(address, record.incarnation, slot, at)?;
                if !value.is_zero() {
                    storage.insert(slot, value);
                }
            }
            accounts.insert(
                address,
                DumpedAccount {
                    nonce: record.nonce,
                    balance: record.balance,
                    code,
                    storage,
                },
            );
        }
        Ok(StateDump {
            accounts,
            ..StateDump::default()
        })
    }

    /// Applies a dump's accounts to the latest state, as one state patch.
    pub fn load_state(&self, dump: &StateDump) -> Result<(), ChainError> {
        if dump.accounts.is_empty() {
            return Ok(());
        }
        self.patch(|state| {
            for (&address, account) in &dump.accounts {
                let old = state
                    .record(address)?
                    .filter(|r| r.exists)
                    .map_or(0, |r| r.nonce);
                state.set_nonce(address, old.max(account.nonce))?;
                state.set_balance(address, account.balance)?;
                state.set_code(address, account.code.clone())?;
                for (&slot, &value) in &account.storage {
                    state.set_storage(address, slot, value)?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_anvils_shapes_and_writes_words() {
        // As anvil 1.7.1 writes it (nonce a number), and as Hardhat's EDR does (a quantity).
        let text = r#"{"block": {"number": "0x0"}, "best_block_number": 0,
            "accounts": {
              "0x1111111111111111111111111111111111111111": {"nonce": 3, "balance": "0x10",
                "code": "0x6001", "storage": {"0x01": "0x05"}},
              "0x2222222222222222222222222222222222222222": {"nonce": "0x2", "balance": "0x0"}
            }}"#;
        let dump = StateDump::from_json(text.as_bytes()).unwrap();
        let one = &dump.accounts[&Address::repeat_byte(0x11)];
        assert_eq!(one.nonce, 3);
        assert_eq!(one.balance, U256::from(16));
        assert_eq!(one.storage[&U256::from(1)], U256::from(5));
        assert_eq!(dump.accounts[&Address::repeat_byte(0x22)].nonce, 2);

        let out: Value = serde_json::from_slice(&dump.to_json().unwrap()).unwrap();
        let account = &out["accounts"]["0x1111111111111111111111111111111111111111"];
        assert_eq!(account["nonce"], 3);
        assert_eq!(
            account["storage"]["0x0000000000000000000000000000000000000000000000000000000000000001"],
            "0x0000000000000000000000000000000000000000000000000000000000000005"
        );
        assert_eq!(out["transactions"], json!([]));
    }
}
