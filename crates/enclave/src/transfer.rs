//! Handing the ledger secret to another validator, sealed to its identity key.
//!
//! ECIES over secp256k1: an ephemeral key agrees a shared point with the recipient's
//! identity key; HKDF-SHA256 of its x coordinate (salt `coco/secret-transfer/v1`, info
//! the ephemeral and recipient public keys) is the AES-256-GCM key. Only the holder of
//! the recipient's identity key can open it; the bytes are
//! `ephemeral pk (33, SEC1 compressed) ‖ nonce (12) ‖ ciphertext+tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::identity::NodeIdentity;
use crate::secret::{LEDGER_SECRET_LEN, LedgerSecret};

const SALT: &[u8] = b"coco/secret-transfer/v1";
const PK_LEN: usize = 33;
const NONCE_LEN: usize = 12;

fn key_for(shared_x: &[u8], ephemeral: &[u8], recipient: &[u8]) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(SALT), shared_x);
    let mut info = Vec::with_capacity(2 * PK_LEN);
    info.extend_from_slice(ephemeral);
    info.extend_from_slice(recipient);
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info, key.as_mut_slice())
        .expect("32-byte HKDF-SHA256 output is always valid");
    Aes256Gcm::new((&*key).into())
}

fn shared_x(secret: &SecretKey, public: &PublicKey) -> Zeroizing<Vec<u8>> {
    let point = (public.to_projective() * *secret.to_nonzero_scalar()).to_affine();
    Zeroizing::new(
        point
            .to_encoded_point(false)
            .x()
            .map(|x| x.to_vec())
            .unwrap_or_default(),
    )
}

/// Seals `secret` (and its version) to the identity key `recipient` (SEC1, either form).
pub fn seal_ledger_secret_to(recipient: &[u8], secret: &LedgerSecret) -> Result<Vec<u8>> {
    let public = PublicKey::from_sec1_bytes(recipient)
        .map_err(|_| Error::InvalidKey("recipient is not a secp256k1 public key"))?;
    let recipient = public.to_encoded_point(true);
    let ephemeral = SecretKey::random(&mut OsRng);
    let ephemeral_pk = ephemeral.public_key().to_encoded_point(true);
    let cipher = key_for(
        &shared_x(&ephemeral, &public),
        ephemeral_pk.as_bytes(),
        recipient.as_bytes(),
    );
    let mut plain = Zeroizing::new([0u8; 4 + LEDGER_SECRET_LEN]);
    plain[..4].copy_from_slice(&secret.version().to_le_bytes());
    plain[4..].copy_from_slice(secret.bytes());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_slice(),
                aad: SALT,
            },
        )
        .expect("AES-GCM plaintext of 36 bytes");
    let mut out = Vec::with_capacity(PK_LEN + NONCE_LEN + ct.len());
    out.extend_from_slice(ephemeral_pk.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

impl NodeIdentity {
    /// Opens a ledger secret sealed to this identity by [`seal_ledger_secret_to`].
    pub fn open_ledger_secret(&self, sealed: &[u8]) -> Result<LedgerSecret> {
        let err = || Error::Unseal {
            label: "ledger secret transfer".into(),
        };
        if sealed.len() < PK_LEN + NONCE_LEN {
            return Err(err());
        }
        let (ephemeral, rest) = sealed.split_at(PK_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let ephemeral_pk = PublicKey::from_sec1_bytes(ephemeral).map_err(|_| err())?;
        let own = SecretKey::from(self.signing_key().as_nonzero_scalar());
        let cipher = key_for(
            &shared_x(&own, &ephemeral_pk),
            ephemeral,
            &self.public_key_sec1(),
        );
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: SALT })
            .map(Zeroizing::new)
            .map_err(|_| err())?;
        if plain.len() != 4 + LEDGER_SECRET_LEN {
            return Err(err());
        }
        let version = u32::from_le_bytes(plain[..4].try_into().expect("4 bytes"));
        let mut bytes = [0u8; LEDGER_SECRET_LEN];
        bytes.copy_from_slice(&plain[4..]);
        let secret = LedgerSecret::from_bytes(version, bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_opens_the_secret() {
        let secret = LedgerSecret::generate(3);
        let node = NodeIdentity::generate();
        let sealed = seal_ledger_secret_to(&node.public_key_sec1(), &secret).unwrap();
        let opened = node.open_ledger_secret(&sealed).unwrap();
        assert_eq!(opened.version(), 3);
        assert_eq!(opened.bytes(), secret.bytes());
        // Not in the clear, and no other key opens it.
        assert!(!sealed.windows(32).any(|w| w == secret.bytes()));
        assert!(
            NodeIdentity::generate()
                .open_ledger_secret(&sealed)
                .is_err()
        );
        // Tampering anywhere is detected.
        for i in [0, PK_LEN, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(node.open_ledger_secret(&bad).is_err(), "byte {i}");
        }
        assert!(node.open_ledger_secret(&sealed[..20]).is_err());
        assert!(seal_ledger_secret_to(&[5; 33], &secret).is_err());
    }
}
