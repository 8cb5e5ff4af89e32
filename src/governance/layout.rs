//! The governance contract's storage layout (docs/GOVERNANCE.md, "Placement"): the slot
//! numbers of `contracts/Governance.sol` and Solidity's encodings of mappings, arrays,
//! sets and `bytes`. The genesis writes with [`Writer`]; the node reads with [`Slots`].

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256, keccak256};

pub(crate) const DEFAULT_THRESHOLD: u64 = 0;
pub(crate) const LIFETIME: u64 = 1;
pub(crate) const RECOVERY_THRESHOLD: u64 = 2;
pub(crate) const KIND_THRESHOLD: u64 = 6;
pub(crate) const MEMBERS: u64 = 7;
pub(crate) const MEMBER_KEY: u64 = 9;
pub(crate) const USERS: u64 = 10;
pub(crate) const ROLE: u64 = 12;
pub(crate) const USER_KEYS: u64 = 13;
pub(crate) const KEY_OWNER: u64 = 14;
pub(crate) const KEY_POSITION: u64 = 15;
pub(crate) const NODES: u64 = 16;
pub(crate) const NODE_KEY: u64 = 18;
pub(crate) const NODE_MEASUREMENT: u64 = 19;
pub(crate) const PUBLIC_LOGS: u64 = 20;
pub(crate) const PRIVATE_CODE: u64 = 22;
pub(crate) const SIWE_DOMAINS: u64 = 24;
pub(crate) use crate::execution::system::{PENDING_CODE_HASH, PENDING_CODE_SOURCE};

/// The most items a set or list is read with: more than any governance holds, so a
/// damaged length cannot make a read run away.
const MAX_ITEMS: u64 = 1 << 20;

/// A 32-byte word holding an address (left-padded).
pub(crate) fn address_word(address: Address) -> B256 {
    B256::left_padding_from(address.as_slice())
}

/// The slot of `map[key]` for a mapping at slot `base`: keccak(key . base).
pub(crate) fn mapping(key: B256, base: U256) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key.as_slice());
    preimage[32..].copy_from_slice(&base.to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// [`mapping`] keyed by an address.
pub(crate) fn mapping_of(key: Address, base: u64) -> U256 {
    mapping(address_word(key), U256::from(base))
}

/// The slot of item `i` of a dynamic array whose length is at `base`.
pub(crate) fn item(base: U256, i: u64) -> U256 {
    U256::from_be_bytes(keccak256(base.to_be_bytes::<32>()).0) + U256::from(i)
}

/// Storage words being written (a genesis's).
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) words: BTreeMap<U256, U256>,
}

impl Writer {
    pub(crate) fn word(&mut self, slot: U256, value: U256) {
        if value.is_zero() {
            self.words.remove(&slot);
        } else {
            self.words.insert(slot, value);
        }
    }

    fn read(&self, slot: U256) -> U256 {
        self.words.get(&slot).copied().unwrap_or_default()
    }

    /// Appends `value` to the list whose length is at `base`; returns its 1-based
    /// position.
    pub(crate) fn push(&mut self, base: U256, value: B256) -> u64 {
        let n = self.read(base).to::<u64>();
        self.word(item(base, n), value.into());
        self.word(base, U256::from(n + 1));
        n + 1
    }

    /// Adds `value` to the set at `base` (items at `base`, positions at `base + 1`).
    pub(crate) fn set_add(&mut self, base: u64, value: B256) {
        let position = self.push(U256::from(base), value);
        self.word(mapping(value, U256::from(base + 1)), U256::from(position));
    }

    /// A `bytes` or `string` value at `slot`, in Solidity's encoding.
    pub(crate) fn bytes(&mut self, slot: U256, data: &[u8]) {
        let length = data.len();
        if length < 32 {
            let mut word = [0u8; 32];
            word[..length].copy_from_slice(data);
            word[31] = (length * 2) as u8;
            self.word(slot, U256::from_be_bytes(word));
            return;
        }
        self.word(slot, U256::from(length * 2 + 1));
        for (i, chunk) in data.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.word(item(slot, i as u64), U256::from_be_bytes(word));
        }
    }
}

/// Storage words being read (the governance contract's, at some block).
pub(crate) trait Slots {
    /// The word at `slot`.
    fn word(&self, slot: U256) -> Result<U256, String>;

    fn word_at(&self, slot: u64) -> Result<U256, String> {
        self.word(U256::from(slot))
    }

    /// The items of the list whose length is at `base`.
    fn list(&self, base: U256) -> Result<Vec<B256>, String> {
        let n = self.word(base)?;
        if n > U256::from(MAX_ITEMS) {
            return Err(format!(
                "a governance list at slot {base:#x} claims {n} items"
            ));
        }
        (0..n.to::<u64>())
            .map(|i| self.word(item(base, i)).map(B256::from))
            .collect()
    }

    /// The addresses of the address set at `base`.
    fn addresses(&self, base: u64) -> Result<Vec<Address>, String> {
        Ok(self
            .list(U256::from(base))?
            .into_iter()
            .map(Address::from_word)
            .collect())
    }

    /// A `bytes` or `string` value at `slot`.
    fn bytes(&self, slot: U256) -> Result<Vec<u8>, String> {
        let head = self.word(slot)?;
        let bytes = head.to_be_bytes::<32>();
        if !head.bit(0) {
            let length = (bytes[31] / 2) as usize;
            return Ok(bytes[..length.min(31)].to_vec());
        }
        let length = (head >> 1usize).saturating_to::<u64>();
        if length > MAX_ITEMS * 32 {
            return Err(format!(
                "a governance value at slot {slot:#x} claims {length} bytes"
            ));
        }
        let mut out = Vec::with_capacity(length as usize);
        for i in 0..length.div_ceil(32) {
            out.extend_from_slice(&self.word(item(slot, i))?.to_be_bytes::<32>());
        }
        out.truncate(length as usize);
        Ok(out)
    }
}

impl<F: Fn(U256) -> Result<U256, String>> Slots for F {
    fn word(&self, slot: U256) -> Result<U256, String> {
        self(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_short_and_long() {
        for length in [0usize, 1, 31, 32, 33, 64, 65, 100] {
            let data: Vec<u8> = (0..length).map(|i| i as u8 + 1).collect();
            let mut w = Writer::default();
            w.bytes(U256::from(9), &data);
            let read = |slot: U256| Ok(w.read(slot));
            assert_eq!(
                Slots::bytes(&read, U256::from(9)).unwrap(),
                data,
                "{length}"
            );
        }
    }

    #[test]
    fn sets_keep_positions() {
        let mut w = Writer::default();
        let a = Address::repeat_byte(0xa0);
        let b = Address::repeat_byte(0xb0);
        w.set_add(MEMBERS, address_word(a));
        w.set_add(MEMBERS, address_word(b));
        let read = |slot: U256| Ok(w.read(slot));
        assert_eq!(read.addresses(MEMBERS).unwrap(), vec![a, b]);
        assert_eq!(w.read(mapping_of(b, MEMBERS + 1)), U256::from(2));
    }
}
