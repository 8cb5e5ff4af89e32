//! coco's trust boundary: every secret of the node lives in this crate.
//!
//! The node process is the TEE (a confidential VM) or, for development, the
//! [`VirtualPlatform`], which behaves the same but whose attestation proves
//! nothing. Everything outside this crate — the store, consensus, RPC, and the
//! host operator — sees only opaque bytes: sealed blobs, sealed records, hidden
//! keys, public keys and signatures. Secret bytes never cross the boundary in
//! plaintext, are zeroized on drop, and have no `Debug` that prints them.
//!
//! The crate does no I/O: no files, no sockets, no async runtime, no logging.
//! The host reads and writes the bytes this crate hands it.
//!
//! - [`error`]: the crate's [`Error`] and [`Result`].
//! - [`secret`]: [`LedgerSecret`], the versioned 32-byte root of record keys.
//! - [`platform`]: [`VirtualPlatform`], sealing under a key derived from a
//!   protected key file (ledger secrets and node keys on disk).
//! - [`record`]: [`RecordCipher`], per-table encryption of the store's records:
//!   hidden keys (HMAC), AES-256-GCM with associated data binding table,
//!   version and logical key, size-bucket padding, and the nonce rule.
//! - [`identity`]: [`NodeIdentity`], the node's secp256k1 signing key.

#![forbid(unsafe_code)]

pub mod error;
pub mod identity;
pub mod platform;
pub mod record;
pub mod secret;
pub mod transfer;

pub use error::{Error, Result};
pub use identity::NodeIdentity;
pub use platform::VirtualPlatform;
pub use record::RecordCipher;
pub use secret::LedgerSecret;
pub use transfer::seal_ledger_secret_to;
