//! Encryption of the store's records, one [`RecordCipher`] per table.
//!
//! # Keys
//!
//! For each ledger secret version, a *table key* is derived with HKDF-SHA256
//! from the ledger secret, with info binding `coco/table/v1`, the table name and
//! the node id (length-prefixed, so no two (table, node) pairs share an info
//! string). A second key derived the same way (purpose `hide`) keys the HMAC
//! that hides logical keys.
//!
//! # Nonces (the design decision)
//!
//! An AES-GCM nonce must never repeat under one key, and the store may not rely
//! on a persisted counter (a crash or a restored copy of the data directory
//! would rewind it). So each `RecordCipher` draws a random 16-byte *epoch salt*
//! when it is built, and seals under a *write key* `HKDF(table key, salt)`
//! that no earlier instance has used. Under that fresh key the nonce is a plain
//! 96-bit counter starting at 0 (an `AtomicU64` in the low 8 bytes, the high 4
//! bytes zero), so within one instance nonces are distinct by construction.
//!
//! Bounds: at most 2^64 - 1 records per write key; reaching that is fail-stop
//! (a panic rather than a repeated nonce) and unreachable in practice (584
//! years at a billion records per second). Across instances, a nonce repeats
//! only if two instances for the same secret version, table and node draw the
//! same salt: with N instances ever built the probability is about
//! N^2 / 2^129 (2^-65 for N = 2^32). GCM's confidentiality bound also advises
//! keeping each key well under 2^48 encrypted blocks (4 PiB); write keys are
//! fresh per boot, and a node that writes more than that between restarts
//! should build a new `RecordCipher`.
//!
//! # Record layout
//!
//! `[1 byte format = 1][4 bytes secret version LE][16 bytes epoch salt][12 bytes nonce][ciphertext + 16-byte tag]`
//!
//! The associated data is `format || version LE || table name (length-prefixed) || logical key`,
//! so a record moved to another key or table, or relabelled with another
//! version, fails to open. The plaintext is a 4-byte LE length, the value, and
//! zero padding up to a size bucket (32, 64, ..., 65536 bytes, then multiples
//! of 65536), so the ciphertext length reveals only the bucket.
//!
//! Opening a record written by another instance (an earlier boot) derives the
//! write key for its salt and keeps it in a small bounded cache; the current
//! instance's own cipher is a plain field, so sealing and opening its own
//! records take no lock and no key derivation.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::LedgerSecret;

/// Length in bytes of a record's epoch salt.
pub const EPOCH_SALT_LEN: usize = 16;
/// Bytes a sealed record adds in front of the ciphertext (format, version, salt, nonce).
pub const RECORD_HEADER_LEN: usize = 1 + 4 + EPOCH_SALT_LEN + NONCE_LEN;
/// Largest value [`RecordCipher::seal`] accepts (just under 4 GiB).
pub const MAX_RECORD_PLAINTEXT: usize = u32::MAX as usize - LARGE_BUCKET;

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const LEN_PREFIX: usize = 4;
const MIN_BUCKET: usize = 32;
const LARGE_BUCKET: usize = 65536;
/// Write keys of other epochs kept for opening; beyond this an arbitrary entry is evicted.
const CACHE_CAP: usize = 256;
/// Associated data up to this size is built on the stack.
const STACK_AAD: usize = 256;

const KDF_LABEL: &[u8] = b"coco/table/v1";
const PURPOSE_ENC: &[u8] = b"enc";
const PURPOSE_HIDE: &[u8] = b"hide";
const EPOCH_INFO: &[u8] = b"coco/table/v1/epoch";

type EpochId = (u32, [u8; EPOCH_SALT_LEN]);

/// Encrypts the records of one table. `Send + Sync`: share it behind an `Arc`.
///
/// See the module documentation for the key schedule, the nonce rule and the
/// record layout.
pub struct RecordCipher {
    table: String,
    node_id: Vec<u8>,
    /// `len(table) as u64 LE || table`, the table part of the associated data.
    aad_table: Vec<u8>,
    /// Table key per ledger secret version.
    table_keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
    /// HMAC key for [`Self::hide_key`], from the secret given to [`Self::new`].
    hide_key: Zeroizing<[u8; 32]>,
    /// The epoch this instance seals under (newest version held).
    current: Epoch,
    /// Write keys of other epochs, for opening.
    others: RwLock<HashMap<EpochId, Aes256Gcm>>,
}

struct Epoch {
    version: u32,
    salt: [u8; EPOCH_SALT_LEN],
    cipher: Aes256Gcm,
    counter: AtomicU64,
}

impl RecordCipher {
    /// Derives the keys of `table` for this node from `secret`, and draws a
    /// fresh epoch salt.
    ///
    /// The key-hiding key comes from this `secret` and does not change with
    /// [`Self::add_secret`], so the store finds its records after a rotation as
    /// long as the cipher is built from the same first secret.
    pub fn new(secret: &LedgerSecret, node_id: &[u8], table: &str) -> Self {
        let table_key = derive_table_key(secret, node_id, table, PURPOSE_ENC);
        let hide_key = derive_table_key(secret, node_id, table, PURPOSE_HIDE);
        let current = Epoch::fresh(secret.version(), &table_key);
        let mut aad_table = Vec::with_capacity(8 + table.len());
        aad_table.extend_from_slice(&(table.len() as u64).to_le_bytes());
        aad_table.extend_from_slice(table.as_bytes());
        Self {
            table: table.to_owned(),
            node_id: node_id.to_vec(),
            aad_table,
            table_keys: BTreeMap::from([(secret.version(), table_key)]),
            hide_key,
            current,
            others: RwLock::new(HashMap::new()),
        }
    }

    /// The table this cipher encrypts.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The ledger secret version new records are sealed under (the newest held).
    pub fn version(&self) -> u32 {
        self.current.version
    }

    /// Adds a ledger secret (rotation or recovery).
    ///
    /// Records sealed under its version can then be opened. If it is newer than
    /// every version held, new records are sealed under it, with a fresh epoch
    /// salt. Fails with [`Error::InvalidKey`] if a different secret with the
    /// same version is already held; adding the same secret again is a no-op.
    pub fn add_secret(&mut self, secret: &LedgerSecret) -> Result<()> {
        let version = secret.version();
        let key = derive_table_key(secret, &self.node_id, &self.table, PURPOSE_ENC);
        if let Some(held) = self.table_keys.get(&version) {
            return if ct_eq(held.as_slice(), key.as_slice()) {
                Ok(())
            } else {
                Err(Error::InvalidKey(
                    "a different ledger secret with this version is already held",
                ))
            };
        }
        if version > self.current.version {
            let old = std::mem::replace(&mut self.current, Epoch::fresh(version, &key));
            self.remember((old.version, old.salt), old.cipher);
        }
        self.table_keys.insert(version, key);
        Ok(())
    }

    /// Hides a logical key: HMAC-SHA256 under this table's hiding key.
    ///
    /// Deterministic, so the store can look records up by it; different for
    /// each table and node.
    pub fn hide_key(&self, logical_key: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length; this one is 32 bytes.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.hide_key.as_slice())
            .expect("HMAC-SHA256 accepts a 32-byte key");
        mac.update(logical_key);
        mac.finalize().into_bytes().into()
    }

    /// Seals `plaintext`, stored under `logical_key`, into a record.
    ///
    /// # Panics
    ///
    /// Fail-stop if `plaintext` is longer than [`MAX_RECORD_PLAINTEXT`], or if
    /// this instance has sealed 2^64 - 1 records (see the module docs).
    pub fn seal(&self, logical_key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        assert!(
            plaintext.len() <= MAX_RECORD_PLAINTEXT,
            "record for table `{}` too large: {} bytes",
            self.table,
            plaintext.len()
        );
        let epoch = &self.current;
        let nonce = epoch.next_nonce(&self.table);
        let padded = padded_len(plaintext.len());

        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + padded + TAG_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&epoch.version.to_le_bytes());
        out.extend_from_slice(&epoch.salt);
        out.extend_from_slice(&nonce);
        // Checked against MAX_RECORD_PLAINTEXT above, so it fits in a u32.
        out.extend_from_slice(&(plaintext.len() as u32).to_le_bytes());
        out.extend_from_slice(plaintext);
        out.resize(RECORD_HEADER_LEN + padded, 0);

        let tag = self.with_aad(epoch.version, logical_key, |aad| {
            epoch.cipher.encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                aad,
                &mut out[RECORD_HEADER_LEN..],
            )
        });
        // AES-GCM refuses only messages over 64 GiB; records are under 4 GiB.
        let tag = tag.expect("AES-GCM message under 64 GiB");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a record sealed for `logical_key` in this table, by this or an
    /// earlier instance with the same node id.
    ///
    /// Errors name the table: [`Error::Malformed`] for a truncated record or
    /// unknown format, [`Error::UnknownVersion`] for a secret version not held,
    /// [`Error::Decrypt`] when authentication fails (tampered, moved to another
    /// key or table, or sealed under another secret or node).
    pub fn open(&self, logical_key: &[u8], record: &[u8]) -> Result<Vec<u8>> {
        if record.len() < RECORD_HEADER_LEN + MIN_BUCKET + TAG_LEN || record[0] != FORMAT {
            return Err(self.malformed());
        }
        let (header, rest) = record.split_at(RECORD_HEADER_LEN);
        let mut version = [0u8; 4];
        version.copy_from_slice(&header[1..5]);
        let version = u32::from_le_bytes(version);
        let mut salt = [0u8; EPOCH_SALT_LEN];
        salt.copy_from_slice(&header[5..5 + EPOCH_SALT_LEN]);
        let nonce = Nonce::from_slice(&header[5 + EPOCH_SALT_LEN..]);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let tag = Tag::from_slice(tag);

        let mut buf = ciphertext.to_vec();
        let mut decrypt = |cipher: &Aes256Gcm| {
            self.with_aad(version, logical_key, |aad| {
                cipher
                    .decrypt_in_place_detached(nonce, aad, &mut buf, tag)
                    .is_ok()
            })
        };
        let ok = if version == self.current.version && salt == self.current.salt {
            decrypt(&self.current.cipher)
        } else {
            self.open_other((version, salt), decrypt)?
        };
        if !ok {
            return Err(Error::Decrypt {
                table: self.table.clone(),
            });
        }
        self.unpad(buf)
    }

    /// Runs `decrypt` with the write key of another epoch; caches the key if
    /// the record authenticated.
    fn open_other(&self, id: EpochId, decrypt: impl FnOnce(&Aes256Gcm) -> bool) -> Result<bool> {
        {
            let cache = self.others.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cipher) = cache.get(&id) {
                return Ok(decrypt(cipher));
            }
        }
        let table_key = self
            .table_keys
            .get(&id.0)
            .ok_or_else(|| Error::UnknownVersion {
                table: self.table.clone(),
                version: id.0,
            })?;
        let cipher = epoch_cipher(table_key, &id.1);
        let ok = decrypt(&cipher);
        // Only keys that opened a genuine record are cached, so forged salts
        // cannot flush the cache.
        if ok {
            self.remember(id, cipher);
        }
        Ok(ok)
    }

    fn remember(&self, id: EpochId, cipher: Aes256Gcm) {
        // A poisoned lock still guards a consistent map: the critical sections
        // only look up, insert and remove whole entries.
        let mut cache = self.others.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_CAP
            && !cache.contains_key(&id)
            && let Some(evict) = cache.keys().next().copied()
        {
            cache.remove(&evict);
        }
        cache.insert(id, cipher);
    }

    /// Calls `f` with the associated data of a record of `version` under `logical_key`.
    fn with_aad<R>(&self, version: u32, logical_key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        let len = 1 + 4 + self.aad_table.len() + logical_key.len();
        let mut stack = [0u8; STACK_AAD];
        let mut heap = Vec::new();
        let buf: &mut [u8] = if len <= STACK_AAD {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap
        };
        buf[0] = FORMAT;
        buf[1..5].copy_from_slice(&version.to_le_bytes());
        let (table, key) = buf[5..].split_at_mut(self.aad_table.len());
        table.copy_from_slice(&self.aad_table);
        key.copy_from_slice(logical_key);
        f(buf)
    }

    /// Strips the length prefix and checks the padding is all zero.
    fn unpad(&self, mut buf: Vec<u8>) -> Result<Vec<u8>> {
        let mut len = [0u8; LEN_PREFIX];
        len.copy_from_slice(&buf[..LEN_PREFIX]);
        let len = u32::from_le_bytes(len) as usize;
        let end = LEN_PREFIX.checked_add(len).filter(|&end| end <= buf.len());
        let Some(end) = end else {
            return Err(self.malformed());
        };
        if buf[end..].iter().any(|&b| b != 0) {
            return Err(self.malformed());
        }
        buf.copy_within(LEN_PREFIX..end, 0);
        buf.truncate(len);
        Ok(buf)
    }

    fn malformed(&self) -> Error {
        Error::Malformed {
            table: self.table.clone(),
        }
    }
}

impl fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordCipher")
            .field("table", &self.table)
            .field("version", &self.current.version)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Epoch {
    fn fresh(version: u32, table_key: &[u8; 32]) -> Self {
        let mut salt = [0u8; EPOCH_SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        Self {
            version,
            salt,
            cipher: epoch_cipher(table_key, &salt),
            counter: AtomicU64::new(0),
        }
    }

    /// The next nonce: the counter in the low 8 bytes (big-endian), high 4 bytes zero.
    fn next_nonce(&self, table: &str) -> [u8; NONCE_LEN] {
        // Relaxed suffices: an atomic read-modify-write hands out each value
        // once whatever the ordering. `checked_add` never wraps, so once the
        // counter reaches u64::MAX every later call fails instead of reusing 0.
        let n = self
            .counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
            .unwrap_or_else(|_| {
                // Fail-stop; unreachable in practice (2^64 seals by one instance).
                panic!("nonce counter exhausted for table `{table}`: refusing to reuse a nonce")
            });
        let mut nonce = [0u8; NONCE_LEN];
        nonce[4..].copy_from_slice(&n.to_be_bytes());
        nonce
    }
}

/// HKDF-SHA256(ledger secret) with info `coco/table/v1 || len || table || len || node_id || purpose`.
fn derive_table_key(
    secret: &LedgerSecret,
    node_id: &[u8],
    table: &str,
    purpose: &[u8],
) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(KDF_LABEL), secret.bytes());
    let table_len = (table.len() as u64).to_le_bytes();
    let node_len = (node_id.len() as u64).to_le_bytes();
    let info: [&[u8]; 6] = [
        KDF_LABEL,
        &table_len,
        table.as_bytes(),
        &node_len,
        node_id,
        purpose,
    ];
    let mut key = Zeroizing::new([0u8; 32]);
    // HKDF-SHA256 fails only for outputs over 255 * 32 bytes; this is 32.
    hk.expand_multi_info(&info, key.as_mut_slice())
        .expect("32-byte HKDF output is valid");
    key
}

/// The write key of one epoch: HKDF-SHA256(table key, salt = epoch salt).
fn epoch_cipher(table_key: &[u8; 32], salt: &[u8; EPOCH_SALT_LEN]) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(salt), table_key);
    let mut key = Zeroizing::new([0u8; 32]);
    // HKDF-SHA256 fails only for outputs over 255 * 32 bytes; this is 32.
    hk.expand(EPOCH_INFO, key.as_mut_slice())
        .expect("32-byte HKDF output is valid");
    Aes256Gcm::new((&*key).into())
}

/// Size of the padded plaintext (length prefix + value + zeros) for a value of `len` bytes.
fn padded_len(len: usize) -> usize {
    let need = LEN_PREFIX + len;
    if need <= MIN_BUCKET {
        MIN_BUCKET
    } else if need <= LARGE_BUCKET {
        need.next_power_of_two()
    } else {
        need.div_ceil(LARGE_BUCKET) * LARGE_BUCKET
    }
}

/// Constant-time equality of two equal-length byte strings.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
