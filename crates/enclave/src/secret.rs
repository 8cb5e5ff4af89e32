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
