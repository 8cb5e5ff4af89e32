//! Errors of the state store.

use std::path::PathBuf;

/// Result of a state-store operation.
pub type Result<T> = std::result::Result<T, StateError>;

/// Everything that can go wrong below the execution layer.
///
/// Every variant is fatal for the operation that hit it; none is retried silently.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A record failed authentication: the store was tampered with or the key is wrong.
    #[error("store table `{table}`: record failed authentication (tampered or foreign data)")]
    Tampered {
        /// The table holding the record.
        table: String,
    },
    /// A record decrypted but did not decode: written by an incompatible version.
    #[error("store table `{table}`: record does not decode: {reason}")]
    Decode {
        /// The table holding the record.
        table: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The storage engine (sled) failed.
    #[error("storage engine error in {path}: {source}")]
    Engine {
        /// The engine's directory.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: sled::Error,
    },
    /// The block log could not be read or written.
    #[error("block log {path}: {reason}")]
    BlockLog {
        /// The log file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The enclave refused to unseal a secret.
    #[error(transparent)]
    Enclave(#[from] coco_enclave::Error),
    /// A durable block could not be written into the tables (the store stops writing;
    /// the block log still has it and a restart replays it).
    #[error("the store could not write a durable block: {0}")]
    Apply(String),
    /// A block that should exist is missing: the store is inconsistent.
    #[error("block {0} is missing from the store")]
    MissingBlock(u64),
}

impl StateError {
    pub(crate) fn engine(path: &std::path::Path, source: sled::Error) -> Self {
        Self::Engine {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
