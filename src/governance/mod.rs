//! Governance: the consortium's decisions (members, users and their roles, API keys,
//! validator nodes, public logs, private code, SIWE domains, the constitution), kept by
//! the contract at [`GOVERNANCE`] (`contracts/Governance.sol`, docs/GOVERNANCE.md).
//!
//! The contract is ordinary chain state, so it replicates and verifies like every other
//! piece of state. The node reads its tables straight from storage
//! ([`GovernanceState::at`]) into a cache the chain refreshes only after a block that
//! changed them, so enforcing them costs no EVM call per transaction or request.

pub mod abi;
pub mod genesis;
mod layout;

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use serde::{Deserialize, Serialize};

use layout::{Slots, mapping, mapping_of};

pub use genesis::{Consortium, MemberEntry, NodeEntry, UserEntry};

pub use crate::execution::system::GOVERNANCE;

/// Most SIWE domains governance keeps.
pub const MAX_SIWE_DOMAINS: usize = 32;

/// Action names in kind order (kind 1 is `addMember`): the constitution's per-action
/// thresholds and `coco gov propose` use them.
pub const ACTION_KINDS: [&str; 16] = [
    "addMember",
    "removeMember",
    "addUser",
    "removeUser",
    "addApiKey",
    "revokeApiKey",
    "addNode",
    "retireNode",
    "setLogsPublic",
    "setCodePrivate",
    "setSiweDomains",
    "setThreshold",
    "setProposalLifetime",
    "setRecoveryThreshold",
    "rotateLedgerSecret",
    "replaceCode",
];

/// The compiled contract (`contracts/out/Governance.json`).
const ARTIFACT: &str = include_str!("../../contracts/out/Governance.json");

/// The governance contract's runtime code, as the genesis places it.
pub fn runtime_code() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(ARTIFACT).expect("the committed artifact is JSON");
    let hex = artifact["deployedBytecode"]["object"]
        .as_str()
        .expect("the artifact has deployedBytecode.object");
    hex.parse().expect("the artifact's code is hex")
}

/// The contract's ABI as solc wrote it (with parameter names and internal types, such
/// as `enum IGovernance.ProposalState`), from the committed artifact.
pub fn json_abi() -> alloy::json_abi::JsonAbi {
    let artifact: serde_json::Value =
        serde_json::from_str(ARTIFACT).expect("the committed artifact is JSON");
    serde_json::from_value(artifact["abi"].clone()).expect("the artifact's abi is an ABI")
}

/// A registered user's role (`IGovernance.Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum UserRole {
    /// Transacts, reads its own accounts' data.
    User = 1,
    /// Reads everything; does not transact.
    Auditor = 2,
}

impl UserRole {
    fn from_word(word: U256) -> Option<Self> {
        match word.saturating_to::<u8>() {
            1 if word == U256::from(1) => Some(Self::User),
            2 if word == U256::from(2) => Some(Self::Auditor),
            _ => None,
        }
    }
}

/// Why governance refuses a transaction's sender: neither a member nor a user (auditors
/// read, they do not transact). One text for every case, so whoever submits someone's
/// signed transaction learns nothing of the sender's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[error("sender not permitted: not a registered user of this network")]
pub struct NotPermitted;

/// The governance tables at one block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovernanceState {
    present: bool,
    members: Vec<Address>,
    member_set: HashSet<Address>,
    users: Vec<Address>,
    roles: HashMap<Address, UserRole>,
    api_keys: HashMap<B256, Address>,
    nodes: Vec<NodeEntry>,
    public_logs: HashSet<Address>,
    private_code: HashSet<Address>,
    siwe_domains: Vec<String>,
    pending_code: Option<(Address, B256)>,
}

impl GovernanceState {
    /// The tables after block `at`; empty when no governance contract is there.
    pub fn at(reader: &dyn crate::state::StateReader, at: u64) -> Result<Self, String> {
        let record = reader
            .account(GOVERNANCE, at)
            .map_err(|e| e.to_string())?
            .filter(|r| r.exists && r.code_hash != KECCAK256_EMPTY);
        let Some(record) = record else {
            return Ok(Self::default());
        };
        Self::from_slots(&|slot: U256| {
            reader
                .storage(GOVERNANCE, record.incarnation, slot, at)
                .map_err(|e| e.to_string())
        })
    }

    /// The tables the storage `word` reads holds.
    pub(crate) fn from_slots(word: &dyn Fn(U256) -> Result<U256, String>) -> Result<Self, String> {
        let members = word.addresses(layout::MEMBERS)?;
        let users = word.addresses(layout::USERS)?;
        let mut roles = HashMap::new();
        let mut api_keys = HashMap::new();
        for user in &users {
            if let Some(role) = UserRole::from_word(word(mapping_of(*user, layout::ROLE))?) {
                roles.insert(*user, role);
            }
            for key in word.list(mapping_of(*user, layout::USER_KEYS))? {
                api_keys.insert(key, *user);
            }
        }
        let mut nodes = Vec::new();
        for id in word.list(U256::from(layout::NODES))? {
            nodes.push(NodeEntry {
                id,
                public_key: word
                    .bytes(mapping(id, U256::from(layout::NODE_KEY)))?
                    .into(),
                measurement: word
                    .bytes(mapping(id, U256::from(layout::NODE_MEASUREMENT)))?
                    .into(),
            });
        }
        let domains = U256::from(layout::SIWE_DOMAINS);
        let count = word(domains)?
            .saturating_to::<u64>()
            .min(MAX_SIWE_DOMAINS as u64);
        let siwe_domains = (0..count)
            .map(|i| {
                word.bytes(layout::item(domains, i))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
            .collect::<Result<_, _>>()?;
        let source = Address::from_word(B256::from(word.word_at(layout::PENDING_CODE_SOURCE)?));
        let hash = B256::from(word.word_at(layout::PENDING_CODE_HASH)?);
        Ok(Self {
            present: true,
            member_set: members.iter().copied().collect(),
            members,
            users,
            roles,
            api_keys,
            nodes,
            public_logs: word.addresses(layout::PUBLIC_LOGS)?.into_iter().collect(),
            private_code: word.addresses(layout::PRIVATE_CODE)?.into_iter().collect(),
            siwe_domains,
            pending_code: (!hash.is_zero()).then_some((source, hash)),
        })
    }

    /// True when the chain has a governance contract.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// True for a member.
    pub fn is_member(&self, address: &Address) -> bool {
        self.member_set.contains(address)
    }

    /// The members, in the contract's order.
    pub fn members(&self) -> &[Address] {
        &self.members
    }

    /// The registered users and auditors, in the contract's order.
    pub fn users(&self) -> &[Address] {
        &self.users
    }

    /// A registered account's role.
    pub fn user_role(&self, address: &Address) -> Option<UserRole> {
        self.roles.get(address).copied()
    }

    /// The user an API key (by hash) belongs to.
    pub fn api_key_owner(&self, hash: &B256) -> Option<Address> {
        self.api_keys.get(hash).copied()
    }

    /// The validator nodes.
    pub fn nodes(&self) -> &[NodeEntry] {
        &self.nodes
    }

    /// True when `contract`'s logs are public.
    pub fn logs_public(&self, contract: &Address) -> bool {
        self.public_logs.contains(contract)
    }

    /// True when `contract`'s code is private.
    pub fn code_private(&self, contract: &Address) -> bool {
        self.private_code.contains(contract)
    }

    /// The SIWE domains (hosts).
    pub fn siwe_domains(&self) -> &[String] {
        &self.siwe_domains
    }

    /// An accepted code replacement not applied yet: its source and code hash.
    pub fn pending_code(&self) -> Option<(Address, B256)> {
        self.pending_code
    }

    /// Whether `sender` may send transactions: members and users (not auditors only).
    pub fn admits(&self, sender: &Address) -> Result<(), NotPermitted> {
        if self.is_member(sender) {
            return Ok(());
        }
        match self.user_role(sender) {
            Some(UserRole::User) => Ok(()),
            Some(UserRole::Auditor) | None => Err(NotPermitted),
        }
    }
}
