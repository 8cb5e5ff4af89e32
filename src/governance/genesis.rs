//! A consortium genesis: the `consortium` section of a genesis `config` (members, users,
//! validator nodes, constitution, SIWE domains, public logs, private code), turned into
//! the governance contract's `alloc` entry at [`GOVERNANCE`](super::GOVERNANCE): its
//! runtime code and its initial state as storage words (docs/GOVERNANCE.md,
//! "Placement"), so the genesis state root follows from the genesis file alone.

use std::collections::{BTreeMap, HashSet};

use alloy::genesis::{Genesis, GenesisAccount};
use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use super::layout::{self, Writer, address_word, mapping, mapping_of};
use super::{ACTION_KINDS, GOVERNANCE, MAX_SIWE_DOMAINS, UserRole};

/// The genesis `config` key of the consortium section.
pub const CONSORTIUM: &str = "consortium";

/// Longest proposal lifetime the contract accepts (365 days).
const MAX_LIFETIME: u64 = 365 * 24 * 60 * 60;
/// Longest SIWE domain.
const MAX_DOMAIN_LENGTH: usize = 253;

/// The `consortium` section of a genesis `config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Consortium {
    /// The first members (at least one).
    pub members: Vec<MemberEntry>,
    /// Registered users and auditors.
    #[serde(default)]
    pub users: Vec<UserEntry>,
    /// The first validator nodes.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    /// Thresholds, proposal lifetime, recovery threshold.
    #[serde(default)]
    pub constitution: Constitution,
    /// Domains SIWE messages may name (host, without port); empty: the node's own
    /// listen host and localhost.
    #[serde(default)]
    pub siwe_domains: Vec<String>,
    /// Contracts whose logs everyone reads.
    #[serde(default)]
    pub public_logs: Vec<Address>,
    /// Contracts whose code only auditors read.
    #[serde(default)]
    pub private_code: Vec<Address>,
}

/// A member: an account that proposes and votes, and the public key its recovery share
/// is to be encrypted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberEntry {
    /// The member's account.
    pub address: Address,
    /// Public key for recovery shares (not empty).
    pub encryption_key: Bytes,
}

/// A registered user or auditor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserEntry {
    /// The user's account.
    pub address: Address,
    /// `user` or `auditor`.
    pub role: UserRole,
    /// keccak-256 hashes of API keys for this user (`coco gov add-key` prints one).
    #[serde(default)]
    pub api_key_hashes: Vec<B256>,
}

/// A validator node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeEntry {
    /// The node's id (not zero).
    pub id: B256,
    /// The node's identity public key (not empty).
    pub public_key: Bytes,
    /// Its attestation measurement.
    #[serde(default)]
    pub measurement: Bytes,
}

/// How proposals pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constitution {
    /// Default threshold, basis points of the members (default 5000: a strict
    /// majority).
    #[serde(default)]
    pub threshold: Option<u16>,
    /// Per-action thresholds by action name (`addUser`, `replaceCode`, …).
    #[serde(default)]
    pub thresholds: BTreeMap<String, u16>,
    /// Seconds a proposal stays open (default 7 days).
    #[serde(default)]
    pub proposal_lifetime: Option<u64>,
    /// Members needed to recover the service (default: none set).
    #[serde(default)]
    pub recovery_threshold: Option<u64>,
}

impl Consortium {
    /// The consortium section of `genesis`, if it has one.
    pub fn of(genesis: &Genesis) -> Result<Option<Self>, String> {
        match genesis
            .config
            .extra_fields
            .get_deserialized::<Self>(CONSORTIUM)
        {
            None => Ok(None),
            Some(parsed) => parsed
                .map(Some)
                .map_err(|e| format!("config.{CONSORTIUM}: {e}")),
        }
    }

    /// Writes this section into `genesis`'s `config`.
    pub fn write(&self, genesis: &mut Genesis) {
        let value = serde_json::to_value(self).expect("plain data serializes");
        genesis
            .config
            .extra_fields
            .insert(CONSORTIUM.to_string(), value);
    }

    /// Checks what the contract's actions would check (docs/GOVERNANCE.md: no zero
    /// address or id, no duplicates, at least one member, thresholds in range, …).
    pub fn validate(&self) -> Result<(), String> {
        let err = |what: String| Err(format!("config.{CONSORTIUM}: {what}"));
        if self.members.is_empty() {
            return err("at least one member is needed".into());
        }
        let mut seen = HashSet::new();
        for m in &self.members {
            if m.address.is_zero() || !seen.insert(m.address) {
                return err(format!("member {} is zero or repeated", m.address));
            }
            if m.encryption_key.is_empty() {
                return err(format!("member {} has no encryptionKey", m.address));
            }
        }
        let mut users = HashSet::new();
        let mut keys = HashSet::new();
        for u in &self.users {
            if u.address.is_zero() || !users.insert(u.address) {
                return err(format!("user {} is zero or repeated", u.address));
            }
            for k in &u.api_key_hashes {
                if k.is_zero() || !keys.insert(*k) {
                    return err(format!("API key hash {k} is zero or repeated"));
                }
            }
        }
        let mut ids = HashSet::new();
        for n in &self.nodes {
            if n.id.is_zero() || !ids.insert(n.id) || n.public_key.is_empty() {
                return err(format!(
                    "node {} is zero, repeated or has no publicKey",
                    n.id
                ));
            }
        }
        let c = &self.constitution;
        if let Some(bps) = c.threshold
            && !(1..=10_000).contains(&bps)
        {
            return err(format!("constitution.threshold {bps} is not 1..10000"));
        }
        for (name, bps) in &c.thresholds {
            if kind_of(name).is_none() {
                return err(format!(
                    "constitution.thresholds: unknown action `{name}` (one of {})",
                    ACTION_KINDS.join(", ")
                ));
            }
            if !(1..=10_000).contains(bps) {
                return err(format!(
                    "constitution.thresholds.{name} {bps} is not 1..10000"
                ));
            }
        }
        if let Some(t) = c.proposal_lifetime
            && !(1..=MAX_LIFETIME).contains(&t)
        {
            return err(format!(
                "constitution.proposalLifetime {t} is not 1..{MAX_LIFETIME} seconds"
            ));
        }
        if let Some(t) = c.recovery_threshold
            && !(1..=self.members.len() as u64).contains(&t)
        {
            return err(format!(
                "constitution.recoveryThreshold {t} is not 1..{} (the members)",
                self.members.len()
            ));
        }
        if self.siwe_domains.len() > MAX_SIWE_DOMAINS {
            return err(format!(
                "siweDomains: {} domains, at most {MAX_SIWE_DOMAINS}",
                self.siwe_domains.len()
            ));
        }
        let mut domains = HashSet::new();
        for d in &self.siwe_domains {
            if d.is_empty() || d.len() > MAX_DOMAIN_LENGTH || !domains.insert(d) {
                return err(format!("siweDomains: `{d}` is empty, too long or repeated"));
            }
        }
        for (list, name) in [
            (&self.public_logs, "publicLogs"),
            (&self.private_code, "privateCode"),
        ] {
            let mut seen = HashSet::new();
            if let Some(a) = list.iter().find(|a| a.is_zero() || !seen.insert(**a)) {
                return err(format!("{name}: {a} is zero or repeated"));
            }
        }
        Ok(())
    }

    /// The governance contract's storage holding this section.
    fn storage(&self) -> BTreeMap<U256, U256> {
        let mut w = Writer::default();
        let c = &self.constitution;
        w.word(
            U256::from(layout::DEFAULT_THRESHOLD),
            U256::from(c.threshold.unwrap_or(0)),
        );
        w.word(
            U256::from(layout::LIFETIME),
            U256::from(c.proposal_lifetime.unwrap_or(0)),
        );
        w.word(
            U256::from(layout::RECOVERY_THRESHOLD),
            U256::from(c.recovery_threshold.unwrap_or(0)),
        );
        for (name, bps) in &c.thresholds {
            let kind = kind_of(name).expect("validated");
            w.word(
                mapping(
                    B256::from(U256::from(kind)),
                    U256::from(layout::KIND_THRESHOLD),
                ),
                U256::from(*bps),
            );
        }
        for m in &self.members {
            w.set_add(layout::MEMBERS, address_word(m.address));
            w.bytes(mapping_of(m.address, layout::MEMBER_KEY), &m.encryption_key);
        }
        for u in &self.users {
            w.set_add(layout::USERS, address_word(u.address));
            w.word(
                mapping_of(u.address, layout::ROLE),
                U256::from(u.role as u8),
            );
            let list = mapping_of(u.address, layout::USER_KEYS);
            for key in &u.api_key_hashes {
                let position = w.push(list, *key);
                w.word(
                    mapping(*key, U256::from(layout::KEY_OWNER)),
                    U256::from_be_bytes(address_word(u.address).0),
                );
                w.word(
                    mapping(*key, U256::from(layout::KEY_POSITION)),
                    U256::from(position),
                );
            }
        }
        for n in &self.nodes {
            w.set_add(layout::NODES, n.id);
            w.bytes(mapping(n.id, U256::from(layout::NODE_KEY)), &n.public_key);
            w.bytes(
                mapping(n.id, U256::from(layout::NODE_MEASUREMENT)),
                &n.measurement,
            );
        }
        for a in &self.public_logs {
            w.set_add(layout::PUBLIC_LOGS, address_word(*a));
        }
        for a in &self.private_code {
            w.set_add(layout::PRIVATE_CODE, address_word(*a));
        }
        let domains = U256::from(layout::SIWE_DOMAINS);
        for (i, d) in self.siwe_domains.iter().enumerate() {
            w.bytes(layout::item(domains, i as u64), d.as_bytes());
        }
        w.word(domains, U256::from(self.siwe_domains.len()));
        w.words
    }

    /// The governance contract's `alloc` entry for this section.
    pub fn account(&self) -> GenesisAccount {
        let storage = self
            .storage()
            .into_iter()
            .map(|(k, v)| (B256::from(k), B256::from(v)))
            .collect();
        GenesisAccount {
            code: Some(super::runtime_code()),
            storage: Some(storage),
            ..Default::default()
        }
    }
}

/// The 1-based action kind of an action name (`addUser` → 3).
pub fn kind_of(name: &str) -> Option<u8> {
    ACTION_KINDS
        .iter()
        .position(|k| *k == name)
        .map(|i| i as u8 + 1)
}

/// Places the governance contract of `genesis`'s consortium section in its `alloc`
/// (and marks the chain governed). A genesis without a section is left alone; one that
/// already holds the contract must hold exactly what its section describes.
pub fn place(genesis: &mut Genesis) -> Result<(), String> {
    let Some(consortium) = Consortium::of(genesis)? else {
        return Ok(());
    };
    place_section(genesis, &consortium)
}

/// Places the governance contract `consortium` describes in `genesis`'s `alloc`,
/// without writing the section into its `config` (`coco dev`'s open chain: governed,
/// not enforced).
pub fn place_section(genesis: &mut Genesis, consortium: &Consortium) -> Result<(), String> {
    consortium.validate()?;
    let account = consortium.account();
    match genesis.alloc.get(&GOVERNANCE) {
        Some(existing) if *existing == account => {}
        Some(_) => {
            return Err(format!(
                "alloc holds an account at {GOVERNANCE}, the governance contract's address: \
                 a consortium genesis places it from its `{CONSORTIUM}` section; remove it"
            ));
        }
        None => {
            genesis.alloc.insert(GOVERNANCE, account);
        }
    }
    let mut rules = crate::execution::CocoRules::of(genesis)?;
    rules.governance = true;
    rules.write(genesis);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::GovernanceState;

    fn section() -> Consortium {
        Consortium {
            members: vec![
                MemberEntry {
                    address: Address::repeat_byte(0xa0),
                    encryption_key: Bytes::from(vec![4u8; 65]),
                },
                MemberEntry {
                    address: Address::repeat_byte(0xb0),
                    encryption_key: Bytes::from(vec![2u8; 33]),
                },
            ],
            users: vec![UserEntry {
                address: Address::repeat_byte(0x11),
                role: UserRole::Auditor,
                api_key_hashes: vec![B256::repeat_byte(0x77)],
            }],
            nodes: vec![NodeEntry {
                id: B256::repeat_byte(1),
                public_key: Bytes::from(vec![3u8; 33]),
                measurement: Bytes::from(vec![9u8; 48]),
            }],
            constitution: Constitution {
                threshold: Some(6000),
                thresholds: [("addUser".to_string(), 10_000)].into(),
                proposal_lifetime: Some(3600),
                recovery_threshold: Some(2),
            },
            siwe_domains: vec!["coco.example".into()],
            public_logs: vec![Address::repeat_byte(0x70)],
            private_code: vec![Address::repeat_byte(0x71)],
        }
    }

    #[test]
    fn a_placed_section_reads_back() {
        let c = section();
        let storage = c.storage();
        let state = GovernanceState::from_slots(&|slot: U256| {
            Ok(storage.get(&slot).copied().unwrap_or_default())
        })
        .unwrap();
        assert!(state.is_member(&Address::repeat_byte(0xa0)));
        assert_eq!(state.members().len(), 2);
        assert_eq!(
            state.user_role(&Address::repeat_byte(0x11)),
            Some(UserRole::Auditor)
        );
        assert_eq!(
            state.api_key_owner(&B256::repeat_byte(0x77)),
            Some(Address::repeat_byte(0x11))
        );
        assert!(state.logs_public(&Address::repeat_byte(0x70)));
        assert!(state.code_private(&Address::repeat_byte(0x71)));
        assert_eq!(state.siwe_domains(), ["coco.example".to_string()]);
        assert_eq!(state.nodes().len(), 1);
    }

    #[test]
    fn bad_sections_are_refused() {
        let mut c = section();
        c.members.clear();
        assert!(c.validate().unwrap_err().contains("at least one member"));
        let mut c = section();
        c.constitution.recovery_threshold = Some(3);
        assert!(c.validate().unwrap_err().contains("recoveryThreshold"));
        let mut c = section();
        c.constitution.thresholds.insert("addUsers".into(), 5000);
        assert!(
            c.validate()
                .unwrap_err()
                .contains("unknown action `addUsers`")
        );
        let mut c = section();
        c.users[0].address = Address::repeat_byte(0xa0);
        c.users.push(c.users[0].clone());
        assert!(c.validate().unwrap_err().contains("repeated"));
    }

    #[test]
    fn placing_is_idempotent_and_refuses_a_foreign_account() {
        let mut g = Genesis::default();
        section().write(&mut g);
        place(&mut g).unwrap();
        let once = g.clone();
        place(&mut g).unwrap();
        assert_eq!(g, once);
        g.alloc.get_mut(&GOVERNANCE).unwrap().balance = U256::from(1);
        assert!(place(&mut g).unwrap_err().contains("remove it"));
    }
}
