//! Errors of the consensus module.

use std::path::PathBuf;

/// What went wrong in replication: storage, sealing, encoding, TLS or the peer transport.
///
/// Inside openraft's storage traits these become `StorageError`s, which openraft treats
/// as fatal: the Raft core stops (fail-stop), loudly, rather than run on a log it cannot
/// trust.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The Raft log's sled database failed (open, read, write or flush).
    #[error("raft log at {path}: {source}")]
    Engine {
        /// Directory of the database.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// A sealed record failed to open: tampered with, moved, or sealed under another key.
    #[error("raft {what}: sealed record does not open ({source})")]
    Tampered {
        /// Which record (`entry 12`, `vote`, `snapshot ...`).
        what: String,
        /// The enclave's error.
        #[source]
        source: coco_enclave::Error,
    },
    /// A record or message opened but did not decode.
    #[error("raft {what}: {reason}")]
    Decode {
        /// Which record or message.
        what: String,
        /// Why it does not decode.
        reason: String,
    },
    /// A blocking storage task panicked or was cancelled.
    #[error("raft storage task failed: {0}")]
    Task(String),
    /// Building a TLS key, certificate or configuration failed.
    #[error("peer TLS: {0}")]
    Tls(String),
    /// The peer transport could not be set up (bind, HTTP client).
    #[error("peer transport: {0}")]
    Transport(String),
    /// The state machine refused a committed entry (a divergence: fatal).
    #[error("apply of block {number}: {reason}")]
    Apply {
        /// Number of the block that could not be applied.
        number: u64,
        /// Why.
        reason: String,
    },
    /// Fewer validators than a quorum answered.
    #[error("no quorum: {reachable} of {voters} validators reachable")]
    NoQuorum {
        /// Validators that answered, this node included.
        reachable: usize,
        /// Voting validators in the membership.
        voters: usize,
    },
}

/// The result type of this module.
pub type Result<T, E = ConsensusError> = std::result::Result<T, E>;

impl ConsensusError {
    pub(crate) fn engine(path: &std::path::Path, source: sled::Error) -> Self {
        Self::Engine {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn decode(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Decode {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
