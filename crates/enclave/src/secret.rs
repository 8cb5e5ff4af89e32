//! Versioned ledger secrets.

use std::fmt;

use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length in bytes of a ledger secret.
pub const LEDGER_SECRET_LEN: usize = 32;

/// A 32-byte ledger secret with its version.
///
/// Every record key of the store is derived from a ledger secret (see
/// [`crate::RecordCipher`]). The bytes never leave this crate: on disk a secret
/// exists only sealed by a platform ([`crate::VirtualPlatform::seal_ledger_secret`]).
/// The bytes are zeroized on drop, clones included; `Debug` prints only the
/// version.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LedgerSecret {
    version: u32,
    bytes: [u8; LEDGER_SECRET_LEN],
}

impl LedgerSecret {
    /// Draws a fresh secret from the operating system's CSPRNG.
    pub fn generate(version: u32) -> Self {
        let mut bytes = [0u8; LEDGER_SECRET_LEN];
        OsRng.fill_bytes(&mut bytes);
        Self { version, bytes }
    }

    /// The version of this secret; records name it in their header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The header blinding key of block `number`: `r_n = HKDF-SHA256(secret, "coco/blinding/v1" ‖ be64(n))`.
    ///
    /// Public headers carry `keccak(root ‖ r_n)` instead of a root under the
    /// confidential policy; auditors receive `r_n` per block (it reveals nothing about
    /// the secret or about other blocks' keys) and can unblind and verify.
    pub fn blinding_key(&self, number: u64) -> [u8; 32] {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"coco/blinding/v1"), &self.bytes);
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8,160-byte output limit: cannot fail.
        hk.expand(&number.to_be_bytes(), &mut out)
            .expect("32-byte HKDF output");
        out
    }

    /// Rebuilds a secret from bytes unsealed inside this crate.
    pub(crate) fn from_bytes(version: u32, bytes: [u8; LEDGER_SECRET_LEN]) -> Self {
        Self { version, bytes }
    }

    /// The secret bytes, for key derivation inside this crate only.
    pub(crate) fn bytes(&self) -> &[u8; LEDGER_SECRET_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for LedgerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerSecret")
            .field("version", &self.version)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blinding_keys_differ_per_block_and_secret() {
        let s = LedgerSecret::generate(1);
        assert_eq!(s.blinding_key(5), s.blinding_key(5));
        assert_ne!(s.blinding_key(5), s.blinding_key(6));
        assert_ne!(s.blinding_key(5), LedgerSecret::generate(1).blinding_key(5));
    }

    #[test]
    fn generate_is_random_and_keeps_version() {
        let a = LedgerSecret::generate(3);
        let b = LedgerSecret::generate(3);
        assert_eq!(a.version(), 3);
        assert_ne!(a.bytes(), b.bytes());
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = LedgerSecret::from_bytes(7, [0xab; LEDGER_SECRET_LEN]);
        let shown = format!("{s:?}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains('7'));
        assert!(!shown.to_lowercase().contains("ab, "));
        assert!(!shown.contains("171"));
    }
}
