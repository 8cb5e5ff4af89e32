//! Errors of the chain: transaction rejections (geth's texts) and internal failures.

use alloy::primitives::{Address, U256};

use super::pool::PoolError;
use crate::execution::DbError;
use crate::state::StateError;

/// Why a submitted transaction was refused. The texts are geth's, since tools match them.
///
/// Serializable: a validator forwards a transaction to the leader and relays the
/// leader's rejection as its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// A blob transaction sent without its blobs (the network form carries them).
    #[error("missing sidecar in blob transaction")]
    BlobSidecarMissing,
    /// A blob transaction without blobs.
    #[error("blobless blob transaction")]
    BlobsMissing,
    /// More blobs than one transaction may carry at this fork.
    #[error("too many blobs in transaction: have {have}, permitted {max}")]
    TooManyBlobs {
        /// The transaction's blob count.
        have: usize,
        /// The fork's limit per transaction.
        max: u64,
    },
    /// The sidecar's proof kind is not the fork's (cell proofs from Osaka, blob proofs
    /// before).
    #[error("{0}")]
    BlobSidecarVersion(String),
    /// The blobs, commitments or proofs do not verify against the versioned hashes.
    #[error("invalid blob sidecar: {0}")]
    BlobSidecarInvalid(String),
    /// The transaction type is not active at this fork.
    #[error("transaction type not supported")]
    TypeNotSupported,
    /// Signed for another chain.
    #[error("invalid chain id for signer: have {have} want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The signature does not recover.
    #[error("invalid sender")]
    InvalidSender,
    /// Nonce below the sender's next. Figures only for callers who hold the sender.
    #[error("nonce too low{}", .figures.map(|(tx, next)| format!(": next nonce {next}, tx nonce {tx}")).unwrap_or_default())]
    NonceTooLow {
        /// The sender.
        sender: Address,
        /// `(transaction's nonce, sender's next nonce)`, when the caller may see them.
        figures: Option<(u64, u64)>,
    },
    /// Balance below `gas * price + value`. Figures only for callers who hold the sender.
    #[error("insufficient funds for gas * price + value{}", .detail.as_ref().map(|d| format!(": address {} have {} want {}", d.0, d.1, d.2)).unwrap_or_default())]
    InsufficientFunds {
        /// `(sender, balance, cost)`, when the caller may see them.
        detail: Option<(Address, U256, U256)>,
    },
    /// Gas limit below intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// Intrinsic (or floor) gas.
        needed: u64,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimitExceeded,
    /// Gas limit above the per-transaction cap (EIP-7825).
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The transaction's gas limit.
        gas: u64,
        /// The cap.
        cap: u64,
    },
    /// Fee cap below the current base fee.
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// The transaction's fee cap.
        max_fee: u128,
        /// The pending block's base fee.
        base_fee: u64,
    },
    /// Tip above fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Init code too large (EIP-3860).
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitcodeTooLarge {
        /// Size of the init code.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// EIP-7702 transaction without authorizations.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthorizationList,
    /// Governance does not let the sender transact.
    #[error(transparent)]
    NotPermitted(#[from] crate::governance::NotPermitted),
    /// Refused by the pool.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The validators cannot commit anything: fewer than a majority are reachable.
    #[error("no quorum: {reachable} of {voters} validators reachable")]
    NoQuorum {
        /// Validators reachable from the one that answers (itself included).
        reachable: usize,
        /// The validators that vote.
        voters: usize,
    },
    /// The store failed while validating.
    #[error("internal error")]
    Internal,
}

impl TxError {
    /// The account whose state this rejection tells of, if it tells of any.
    pub fn account(&self) -> Option<Address> {
        match self {
            Self::NonceTooLow { sender, .. } => Some(*sender),
            Self::InsufficientFunds {
                detail: Some((sender, ..)),
            } => Some(*sender),
            _ => None,
        }
    }

    /// The rejection without any figure or state of the sender's account (its nonce,
    /// balance or pending transactions): geth's bare message. Every variant is listed,
    /// so a new one must say what it tells.
    pub fn without_account_state(self) -> Self {
        match self {
            Self::NonceTooLow { sender, .. } => Self::NonceTooLow {
                sender,
                figures: None,
            },
            Self::InsufficientFunds { .. } => Self::InsufficientFunds { detail: None },
            // Of the transaction, the fork or the pool as a whole; the pool's texts are
            // bare (no counts, no pending nonces).
            e @ (Self::Decode(_)
            | Self::BlobSidecarMissing
            | Self::BlobsMissing
            | Self::TooManyBlobs { .. }
            | Self::BlobSidecarVersion(_)
            | Self::BlobSidecarInvalid(_)
            | Self::TypeNotSupported
            | Self::WrongChainId { .. }
            | Self::InvalidSender
            | Self::IntrinsicGasTooLow { .. }
            | Self::GasLimitExceeded
            | Self::GasLimitTooHigh { .. }
            | Self::FeeCapTooLow { .. }
            | Self::TipAboveFeeCap
            | Self::InitcodeTooLarge { .. }
            | Self::EmptyAuthorizationList
            // Of the signer's registration, which anyone holding the signed transaction
            // may learn from the chain anyway (it would never be included).
            | Self::NotPermitted(_)
            | Self::Pool(_)
            // Of the cluster, not of any account.
            | Self::NoQuorum { .. }
            | Self::Internal) => e,
        }
    }
}

/// A failure of the chain itself (not of a caller's input). These stop block production.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Block execution failed in a way no transaction explains.
    #[error("block execution failed: {0}")]
    Execution(String),
    /// A block from elsewhere carries a transaction whose sender governance does not
    /// admit (a block is built with the tables of its parent).
    #[error("block {number} includes a transaction from {sender}, whom governance does not admit")]
    NotAdmitted {
        /// The block's number.
        number: u64,
        /// The sender.
        sender: alloy::primitives::Address,
    },
    /// An imported block was refused.
    #[error(transparent)]
    Import(#[from] crate::execution::ImportError),
}

impl ChainError {
    /// The error for a validator's log and its Raft errors: as [`std::fmt::Display`], but
    /// naming only the block and the field of a mismatch (the values are plain roots
    /// and blooms, which a blinded chain does not publish) and no sender.
    pub fn redacted(&self) -> String {
        match self {
            Self::Import(crate::execution::ImportError::Mismatch {
                number,
                hash,
                field,
                ..
            }) => format!("block {number} ({hash}): {field} mismatch"),
            Self::NotAdmitted { number, .. } => format!(
                "block {number} includes a transaction from a sender governance does not admit"
            ),
            other => other.to_string(),
        }
    }
}

impl From<DbError> for ChainError {
    fn from(e: DbError) -> Self {
        Self::State(e.0)
    }
}
