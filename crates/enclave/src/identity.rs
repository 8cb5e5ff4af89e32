//! The node's secp256k1 identity key.

use std::fmt;

use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::platform::VirtualPlatform;

/// Length in bytes of a serialized identity key (a secp256k1 scalar).
pub const NODE_KEY_LEN: usize = 32;

const NODE_IDENTITY_LABEL: &str = "coco/node-identity";

/// The node's secp256k1 identity key.
///
/// The secret scalar is zeroized on drop (k256 does so for [`SigningKey`]) and
/// leaves this crate only sealed ([`Self::to_sealed`]). `Debug` prints the
/// public key only. Signatures are low-S normalized, as Ethereum requires.
pub struct NodeIdentity {
    key: SigningKey,
}

impl NodeIdentity {
    /// Draws a fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut OsRng),
        }
    }

    /// Builds the key from a 32-byte big-endian scalar.
    ///
    /// Fails with [`Error::InvalidKey`] if `bytes` is not 32 bytes or is not a
    /// valid non-zero scalar below the curve order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != NODE_KEY_LEN {
            return Err(Error::InvalidKey("node identity key must be 32 bytes"));
        }
        let key = SigningKey::from_slice(bytes)
            .map_err(|_| Error::InvalidKey("node identity key is not a valid secp256k1 scalar"))?;
        Ok(Self { key })
    }

    /// Seals the key with the platform (label `coco/node-identity`) so the host
    /// can store it.
    pub fn to_sealed(&self, platform: &VirtualPlatform) -> Vec<u8> {
        let mut bytes = self.key.to_bytes();
        let sealed = platform.seal(NODE_IDENTITY_LABEL, &bytes);
        bytes.zeroize();
        sealed
    }

    /// Unseals a key sealed by [`Self::to_sealed`].
    pub fn from_sealed(platform: &VirtualPlatform, sealed: &[u8]) -> Result<Self> {
        let bytes: Zeroizing<Vec<u8>> = platform.unseal(NODE_IDENTITY_LABEL, sealed)?;
        Self::from_bytes(&bytes)
    }

    /// The public key, SEC1 compressed (33 bytes).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec()
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key as a k256 verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// Signs a 32-byte digest (ECDSA, RFC 6979 nonces, low-S): `r || s`.
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> [u8; 64] {
        let sig: Signature = self
            .key
            .sign_prehash(digest)
            // Fail-stop, never reached: signing a 32-byte digest fails only if
            // r or s comes out zero, which happens with probability ~2^-256.
            .expect("ECDSA signature with r or s = 0");
        sig.to_bytes().into()
    }

    /// Signs a 32-byte digest and returns `r || s` with the recovery id
    /// (0 or 1 in practice), as Ethereum-style signatures need.
    pub fn sign_prehash_recoverable(&self, digest: &[u8; 32]) -> ([u8; 64], u8) {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(digest)
            // Fail-stop, never reached: see `sign_prehash`.
            .expect("ECDSA signature with r or s = 0");
        (sig.to_bytes().into(), recid.to_byte())
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let public: String = self
            .public_key_sec1()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("NodeIdentity")
            .field("public_key", &public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::RecoveryId;
    use k256::ecdsa::signature::hazmat::PrehashVerifier;

    use super::*;

    #[test]
    fn sign_verify_with_k256() {
        let id = NodeIdentity::generate();
        let digest = [7u8; 32];
        let sig = Signature::from_slice(&id.sign_prehash(&digest)).unwrap();
        let vk = VerifyingKey::from_sec1_bytes(&id.public_key_sec1()).unwrap();
        assert!(vk.verify_prehash(&digest, &sig).is_ok());
        assert!(vk.verify_prehash(&[8u8; 32], &sig).is_err());
        assert!(sig.normalize_s().is_none(), "signature must be low-S");
        let other = NodeIdentity::generate().verifying_key();
        assert!(other.verify_prehash(&digest, &sig).is_err());
    }

    #[test]
    fn recoverable_signature_recovers_the_key() {
        let id = NodeIdentity::generate();
        let digest = [9u8; 32];
        let (sig, v) = id.sign_prehash_recoverable(&digest);
        let sig = Signature::from_slice(&sig).unwrap();
        let recid = RecoveryId::from_byte(v).unwrap();
        let recovered = VerifyingKey::recover_from_prehash(&digest, &sig, recid).unwrap();
        assert_eq!(recovered, id.verifying_key());
    }

    #[test]
    fn public_key_is_33_bytes_compressed() {
        let pk = NodeIdentity::generate().public_key_sec1();
        assert_eq!(pk.len(), 33);
        assert!(pk[0] == 2 || pk[0] == 3);
    }

    #[test]
    fn sealed_roundtrip_and_wrong_platform() {
        let key_file = VirtualPlatform::generate_key_file();
        let platform = VirtualPlatform::new(&key_file).unwrap();
        let id = NodeIdentity::generate();
        let sealed = id.to_sealed(&platform);
        let back = NodeIdentity::from_sealed(&platform, &sealed).unwrap();
        assert_eq!(back.public_key_sec1(), id.public_key_sec1());
        let secret = id.key.to_bytes();
        assert!(!sealed.windows(16).any(|w| w == &secret[..16]));
        let other = VirtualPlatform::new(&VirtualPlatform::generate_key_file()).unwrap();
        assert!(matches!(
            NodeIdentity::from_sealed(&other, &sealed),
            Err(Error::Unseal { .. })
        ));
    }

    #[test]
    fn from_bytes_validates() {
        assert!(matches!(
            NodeIdentity::from_bytes(&[1u8; 31]),
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            NodeIdentity::from_bytes(&[0u8; 32]),
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            NodeIdentity::from_bytes(&[0xffu8; 32]),
            Err(Error::InvalidKey(_))
        ));
        let a = NodeIdentity::from_bytes(&[1u8; 32]).unwrap();
        let b = NodeIdentity::from_bytes(&[1u8; 32]).unwrap();
        assert_eq!(a.public_key_sec1(), b.public_key_sec1());
    }

    #[test]
    fn debug_is_redacted() {
        let id = NodeIdentity::from_bytes(&[0x11u8; 32]).unwrap();
        let shown = format!("{id:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("1111111111"));
    }
}
