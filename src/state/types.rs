//! Records kept by the store, in the shapes they are encoded with (alloy RLP).

use alloy::consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy::eips::eip4895::Withdrawal;
use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// An account as the store keeps it.
///
/// `incarnation` numbers the account's storage generations: creating a contract over
/// a destroyed one, or self-destructing, moves to a fresh incarnation, so old slots
/// become unreachable without enumerating them (the store cannot enumerate: its keys
/// are keyed hashes).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountRecord {
    /// Transaction count.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code, `KECCAK256_EMPTY` for none.
    pub code_hash: B256,
    /// Storage generation.
    pub incarnation: u64,
    /// False when the account was deleted (kept so the incarnation survives).
    pub exists: bool,
}

impl Default for AccountRecord {
    fn default() -> Self {
        Self {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK256_EMPTY,
            incarnation: 0,
            exists: true,
        }
    }
}

/// One storage slot's new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotChange {
    /// Slot index.
    pub key: U256,
    /// New value (zero clears it).
    pub value: U256,
}

/// What a block changed about one account.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Its record after the block.
    pub record: AccountRecord,
    /// Slots written in `record.incarnation`.
    pub storage: Vec<SlotChange>,
}

/// New contract code, by hash.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct CodeEntry {
    /// keccak256 of `code`.
    pub hash: B256,
    /// The bytecode.
    pub code: Bytes,
}

/// Every state change of one block, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StateDiff {
    /// Changed accounts.
    pub accounts: Vec<AccountChange>,
    /// Code first seen in this block.
    pub code: Vec<CodeEntry>,
}

/// A block with everything needed to answer RPC reads about it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredBlock {
    /// The header; its RLP hash is the block hash.
    pub header: Header,
    /// The transactions, in order.
    pub transactions: Vec<TxEnvelope>,
    /// Recovered senders, one per transaction.
    pub senders: Vec<Address>,
    /// Receipts, one per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Ommer (uncle) headers (proof-of-work blocks only).
    pub ommers: Vec<Header>,
    /// Withdrawals; present in the block when the header has a withdrawals root.
    pub withdrawals: Vec<Withdrawal>,
}

impl StoredBlock {
    /// The block's withdrawals, `None` before Shanghai.
    pub fn withdrawals(&self) -> Option<&[Withdrawal]> {
        self.header
            .withdrawals_root
            .is_some()
            .then_some(self.withdrawals.as_slice())
    }
}

/// One entry of the block log: a block and the state it produced.
///
/// Replaying entries needs no execution: the diff is applied as written.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockCommit {
    /// The block.
    pub block: StoredBlock,
    /// Its state changes.
    pub diff: StateDiff,
}

/// What executing a block produced besides the block itself: what a validator that
/// leads ships with its proposal so that the others commit the block without executing
/// it (`coco node --apply write-set`).
#[derive(Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct WriteSet {
    /// Recovered senders, one per transaction.
    pub senders: Vec<Address>,
    /// Receipts, one per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Its state changes.
    pub diff: StateDiff,
    /// Its EIP-7685 execution requests (deposits, withdrawals, consolidations), which
    /// the header's `requestsHash` commits to; empty before Prague.
    pub requests: Vec<Bytes>,
}

/// Sizes only: a write set holds balances, slots and logs.
impl std::fmt::Debug for WriteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSet")
            .field("transactions", &self.senders.len())
            .field("accounts", &self.diff.accounts.len())
            .field("code", &self.diff.code.len())
            .finish_non_exhaustive()
    }
}
