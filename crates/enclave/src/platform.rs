//! The `virtual` TEE platform: sealing under a key derived from a key file.
//!
//! A real platform (SEV-SNP, TDX) derives its sealing key from hardware and
//! produces attestation evidence that proves which code holds it. The
//! `virtual` platform behaves the same towards the rest of the node but its
//! sealing key is derived (HKDF-SHA256) from a 32-byte key file that the host
//! keeps with mode 0600, and its attestation proves nothing: whoever can read
//! the key file can unseal everything. It exists for development and tests.
//!
//! Sealed blob layout: `[1 byte format = 1][12 bytes random nonce][ciphertext + 16-byte tag]`,
//! AES-256-GCM with associated data `format byte || label`, so a blob sealed
//! under one label does not unseal under another. Nonces are random: sealing
//! happens a handful of times per node lifetime (keys at provisioning), far
//! below the 2^32 messages per key at which random 96-bit nonces become a
//! concern.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{LEDGER_SECRET_LEN, LedgerSecret};

/// Length in bytes of the virtual platform's key file.
pub const KEY_FILE_LEN: usize = 32;

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"coco/virtual/v1";
const HKDF_INFO: &[u8] = b"coco/virtual/seal-key";
const LEDGER_SECRET_LABEL: &str = "coco/ledger-secret";

/// The `virtual` TEE platform. Its attestation proves nothing.
///
/// Holds only the AES-256-GCM sealing cipher (round keys zeroized on drop);
/// the key file bytes themselves are not kept.
pub struct VirtualPlatform {
    cipher: Aes256Gcm,
}

impl VirtualPlatform {
    /// Name of this platform in configuration and attestation reports.
    pub const NAME: &'static str = "virtual";

    /// Draws a fresh key file: 32 random bytes that the host writes to a file
    /// readable only by the node's user (mode 0600).
    pub fn generate_key_file() -> Zeroizing<Vec<u8>> {
        let mut key = Zeroizing::new(vec![0u8; KEY_FILE_LEN]);
        OsRng.fill_bytes(&mut key);
        key
    }

    /// Builds the platform from the key file's bytes.
    ///
    /// Fails with [`Error::InvalidKey`] unless `key_file` is exactly 32 bytes.
    pub fn new(key_file: &[u8]) -> Result<Self> {
        if key_file.len() != KEY_FILE_LEN {
            return Err(Error::InvalidKey(
                "virtual platform key file must be 32 bytes",
            ));
        }
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), key_file);
        let mut key = Zeroizing::new([0u8; 32]);
        // HKDF-SHA256 fails only for outputs over 255 * 32 bytes; this is 32.
        hk.expand(HKDF_INFO, key.as_mut_slice())
            .expect("32-byte HKDF-SHA256 output is always valid");
        Ok(Self {
            cipher: Aes256Gcm::new((&*key).into()),
        })
    }

    /// Seals `plaintext` under `label` (AES-256-GCM, random 96-bit nonce).
    ///
    /// # Panics
    ///
    /// If `plaintext` exceeds AES-GCM's limit of 2^36 - 32 bytes (64 GiB).
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(label);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Fail-stop: AES-GCM refuses only plaintexts over 64 GiB; sealed
            // blobs are keys of a few dozen bytes.
            .expect("AES-GCM plaintext over 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Unseals a blob made by [`Self::seal`] with the same label.
    ///
    /// Fails with [`Error::Unseal`] naming the label if the blob is truncated,
    /// of an unknown format, tampered, sealed under another label, or sealed
    /// under another key file.
    pub fn unseal(&self, label: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let err = || Error::Unseal {
            label: label.to_owned(),
        };
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT {
            return Err(err());
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let aad = associated_data(label);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| err())
    }

    /// Seals a ledger secret together with its version (label `coco/ledger-secret`).
    pub fn seal_ledger_secret(&self, secret: &LedgerSecret) -> Vec<u8> {
        let mut plain = Zeroizing::new([0u8; 4 + LEDGER_SECRET_LEN]);
        plain[..4].copy_from_slice(&secret.version().to_le_bytes());
        plain[4..].copy_from_slice(secret.bytes());
        self.seal(LEDGER_SECRET_LABEL, plain.as_slice())
    }

    /// Unseals a ledger secret sealed by [`Self::seal_ledger_secret`].
    pub fn unseal_ledger_secret(&self, sealed: &[u8]) -> Result<LedgerSecret> {
        let plain = self.unseal(LEDGER_SECRET_LABEL, sealed)?;
        if plain.len() != 4 + LEDGER_SECRET_LEN {
            return Err(Error::InvalidKey(
                "sealed ledger secret has the wrong length",
            ));
        }
        let mut version = [0u8; 4];
        version.copy_from_slice(&plain[..4]);
        let mut bytes = Zeroizing::new([0u8; LEDGER_SECRET_LEN]);
        bytes.copy_from_slice(&plain[4..]);
        Ok(LedgerSecret::from_bytes(
            u32::from_le_bytes(version),
            *bytes,
        ))
    }
}

impl fmt::Debug for VirtualPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualPlatform")
            .field("key", &"<redacted>")
            .finish()
    }
}

fn associated_data(label: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + label.len());
    aad.push(FORMAT);
    aad.extend_from_slice(label.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> VirtualPlatform {
        VirtualPlatform::new(&VirtualPlatform::generate_key_file()).unwrap()
    }

    #[test]
    fn seal_unseal_roundtrip() {
        let p = platform();
        let sealed = p.seal("coco/test", b"top secret bytes");
        assert_eq!(
            p.unseal("coco/test", &sealed).unwrap().as_slice(),
            b"top secret bytes"
        );
        assert!(!sealed.windows(10).any(|w| w == b"top secret"));
    }

    #[test]
    fn wrong_key_file_fails() {
        let sealed = platform().seal("coco/test", b"payload");
        let other = platform();
        match other.unseal("coco/test", &sealed) {
            Err(Error::Unseal { label }) => assert_eq!(label, "coco/test"),
            r => panic!("expected Unseal error, got {:?}", r.map(|v| v.len())),
        }
    }

    #[test]
    fn same_key_file_unseals_across_instances() {
        let key = VirtualPlatform::generate_key_file();
        let sealed = VirtualPlatform::new(&key).unwrap().seal("l", b"abc");
        let again = VirtualPlatform::new(&key).unwrap();
        assert_eq!(again.unseal("l", &sealed).unwrap().as_slice(), b"abc");
    }

    #[test]
    fn wrong_label_and_tampering_fail() {
        let p = platform();
        let sealed = p.seal("a", b"payload");
        assert!(matches!(p.unseal("b", &sealed), Err(Error::Unseal { .. })));
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(p.unseal("a", &t).is_err(), "flip at byte {i} not detected");
        }
        assert!(p.unseal("a", &sealed[..sealed.len() - 1]).is_err());
        assert!(p.unseal("a", &[]).is_err());
    }

    #[test]
    fn key_file_must_be_32_bytes() {
        assert!(matches!(
            VirtualPlatform::new(&[0u8; 31]),
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            VirtualPlatform::new(&[0u8; 33]),
            Err(Error::InvalidKey(_))
        ));
        assert_eq!(VirtualPlatform::generate_key_file().len(), 32);
    }

    #[test]
    fn ledger_secret_roundtrip_keeps_version() {
        let p = platform();
        let s = LedgerSecret::generate(42);
        let sealed = p.seal_ledger_secret(&s);
        let back = p.unseal_ledger_secret(&sealed).unwrap();
        assert_eq!(back.version(), 42);
        assert_eq!(back.bytes(), s.bytes());
        assert!(!sealed.windows(8).any(|w| w == &s.bytes()[..8]));
        // A blob sealed under another label is not a ledger secret.
        let other = p.seal("coco/other", &sealed);
        assert!(p.unseal_ledger_secret(&other).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", platform()),
            "VirtualPlatform { key: \"<redacted>\" }"
        );
    }
}
