//! Errors of the trust boundary.
//!
//! Messages name the table or label that failed, never key material or
//! plaintext.

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong inside the enclave crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sealed record failed authentication (tampered, moved, or wrong key).
    #[error("decryption failed for a record of table `{table}`")]
    Decrypt {
        /// Table the record was read from.
        table: String,
    },
    /// Record too short or with a malformed header or padding.
    #[error("malformed sealed record in table `{table}`")]
    Malformed {
        /// Table the record was read from.
        table: String,
    },
    /// Record sealed under a ledger secret version this node does not hold.
    #[error("unknown ledger secret version {version} for table `{table}`")]
    UnknownVersion {
        /// Table the record was read from.
        table: String,
        /// Ledger secret version named in the record header.
        version: u32,
    },
    /// Unsealing a platform-sealed blob failed.
    #[error("cannot unseal `{label}`: wrong sealing key or tampered data")]
    Unseal {
        /// Label the blob was sealed under.
        label: String,
    },
    /// Key file or key input of the wrong length or otherwise unusable.
    #[error("invalid key material: {0}")]
    InvalidKey(&'static str),
}
