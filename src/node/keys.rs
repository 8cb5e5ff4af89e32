//! The node's secrets and genesis on disk, sealed by the (virtual) platform.
//!
//! Layout of a data directory:
//! - `enclave/platform.key`: the virtual platform's protected key file (mode 0600).
//!   On a real TEE this is replaced by the platform's sealing key and never exists.
//! - `enclave/ledger-secret.sealed`: the ledger secret, sealed by the platform (the
//!   cluster's: made by the validator that founds it, received by every other).
//! - `enclave/identity.sealed`: the node's secp256k1 identity key, sealed.
//! - `node-id`: this node's public id (hex), part of every table key's derivation.
//! - `genesis.sealed`: the genesis this data directory was created with, sealed.
//! - `blocks.log`, `store/`: see the state module.

use std::path::{Path, PathBuf};

use alloy::genesis::Genesis;
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use coco_enclave::{LedgerSecret, NodeIdentity, VirtualPlatform};

use crate::rpc::auth::{KeyRecord, generate_key, key_hash};

use super::NodeError;

/// The unsealed secrets a node runs with. Never printed.
pub(super) struct Secrets {
    pub(super) platform: VirtualPlatform,
    pub(super) ledger_secret: LedgerSecret,
    pub(super) node_id: Vec<u8>,
    pub(super) identity: std::sync::Arc<NodeIdentity>,
}

fn setup_err(path: &Path, reason: impl std::fmt::Display) -> NodeError {
    NodeError::Setup {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, NodeError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(setup_err(path, e)),
    }
}

/// Writes a file atomically (temp file, fsync, rename), readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| setup_err(dir, e))?;
    let tmp: PathBuf = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| setup_err(&tmp, e))?;
    file.write_all(bytes).map_err(|e| setup_err(&tmp, e))?;
    file.sync_all().map_err(|e| setup_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| setup_err(path, e))
}

impl Secrets {
    /// Loads the secrets of `dir`, creating them on first start (a new ledger secret:
    /// this node founds its chain).
    pub(super) fn load_or_create(dir: &Path) -> Result<Self, NodeError> {
        let (platform, identity) = load_identity(dir)?;
        let secret_path = ledger_secret_path(dir);
        let ledger_secret = match read(&secret_path)? {
            Some(sealed) => platform
                .unseal_ledger_secret(&sealed)
                .map_err(|e| setup_err(&secret_path, e))?,
            None => {
                let secret = LedgerSecret::generate(1);
                write_private(&secret_path, &platform.seal_ledger_secret(&secret))?;
                secret
            }
        };

        let id_path = dir.join("node-id");
        let node_id = match read(&id_path)? {
            Some(text) => alloy::hex::decode(String::from_utf8_lossy(&text).trim())
                .map_err(|e| setup_err(&id_path, e))?,
            None => {
                let id: [u8; 16] = rand_id();
                write_private(&id_path, alloy::hex::encode(id).as_bytes())?;
                id.to_vec()
            }
        };
        Ok(Self {
            platform,
            ledger_secret,
            node_id,
            identity: std::sync::Arc::new(identity),
        })
    }
}

/// The platform and the node's identity key of `dir`, both created on first use; no
/// ledger secret is made (a joining validator receives the cluster's).
pub(super) fn load_identity(dir: &Path) -> Result<(VirtualPlatform, NodeIdentity), NodeError> {
    let key_path = dir.join("enclave").join("platform.key");
    let key_file = match read(&key_path)? {
        Some(bytes) => bytes,
        None => {
            let key = VirtualPlatform::generate_key_file();
            write_private(&key_path, &key)?;
            key.to_vec()
        }
    };
    let platform = VirtualPlatform::new(&key_file).map_err(|e| setup_err(&key_path, e))?;
    let identity_path = dir.join("enclave").join("identity.sealed");
    let identity = match read(&identity_path)? {
        Some(sealed) => NodeIdentity::from_sealed(&platform, &sealed)
            .map_err(|e| setup_err(&identity_path, e))?,
        None => {
            let identity = NodeIdentity::generate();
            write_private(&identity_path, &identity.to_sealed(&platform))?;
            identity
        }
    };
    Ok((platform, identity))
}

fn ledger_secret_path(dir: &Path) -> PathBuf {
    dir.join("enclave").join("ledger-secret.sealed")
}

/// True when `dir` holds a ledger secret.
pub(super) fn has_ledger_secret(dir: &Path) -> bool {
    ledger_secret_path(dir).exists()
}

/// Stores the cluster's ledger secret, received from a validator, sealed by this
/// node's platform.
pub(super) fn store_ledger_secret(
    dir: &Path,
    platform: &VirtualPlatform,
    secret: &LedgerSecret,
) -> Result<(), NodeError> {
    write_private(
        &ledger_secret_path(dir),
        &platform.seal_ledger_secret(secret),
    )
}

fn rand_id() -> [u8; 16] {
    rand::random()
}

/// The genesis of `dir`: the sealed copy if it exists, else `make()`'s, sealed for next time.
pub(super) fn load_or_create_genesis(
    dir: &Path,
    secrets: &Secrets,
    make: impl FnOnce() -> Result<Genesis, NodeError>,
) -> Result<Genesis, NodeError> {
    const LABEL: &str = "coco/genesis";
    let path = dir.join("genesis.sealed");
    if let Some(sealed) = read(&path)? {
        let text = secrets
            .platform
            .unseal(LABEL, &sealed)
            .map_err(|e| setup_err(&path, e))?;
        return serde_json::from_slice(&text).map_err(|e| setup_err(&path, e));
    }
    let genesis = make()?;
    let text = serde_json::to_vec(&genesis).map_err(|e| setup_err(&path, e))?;
    write_private(&path, &secrets.platform.seal(LABEL, &text))?;
    Ok(genesis)
}

/// The first `count` accounts of a BIP-39 mnemonic (path m/44'/60'/0'/0/i).
pub fn dev_signers(mnemonic: &str, count: u32) -> Result<Vec<PrivateKeySigner>, NodeError> {
    (0..count)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| setup_err(Path::new("--mnemonic"), e))
        })
        .collect()
}

const KEYS_LABEL: &str = "coco/api-keys";

/// The API keys of `dir` (hashes and records), sealed on disk in `keys.sealed`.
pub(super) fn load_keys(
    dir: &Path,
    secrets: &Secrets,
) -> Result<Vec<(alloy::primitives::B256, KeyRecord)>, NodeError> {
    let path = dir.join("keys.sealed");
    let Some(sealed) = read(&path)? else {
        return Ok(Vec::new());
    };
    let text = secrets
        .platform
        .unseal(KEYS_LABEL, &sealed)
        .map_err(|e| setup_err(&path, e))?;
    serde_json::from_slice(&text).map_err(|e| setup_err(&path, e))
}

/// A loader of `dir`'s API keys for the running node's key ring, which re-reads them
/// whenever `keys.sealed` changes (`coco keys add`/`revoke` while the node runs).
pub(super) fn key_loader(dir: &Path) -> crate::rpc::auth::KeyLoader {
    let dir = dir.to_path_buf();
    Box::new(move || {
        let key_path = dir.join("enclave").join("platform.key");
        let key_file = std::fs::read(&key_path).map_err(|e| e.to_string())?;
        let platform = VirtualPlatform::new(&key_file).map_err(|e| e.to_string())?;
        let path = dir.join("keys.sealed");
        let Some(sealed) = read(&path).map_err(|e| e.to_string())? else {
            return Ok(Vec::new());
        };
        let text = platform
            .unseal(KEYS_LABEL, &sealed)
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&text).map_err(|e| e.to_string())
    })
}

fn save_keys(
    dir: &Path,
    secrets: &Secrets,
    keys: &[(alloy::primitives::B256, KeyRecord)],
) -> Result<(), NodeError> {
    let path = dir.join("keys.sealed");
    let text = serde_json::to_vec(keys).map_err(|e| setup_err(&path, e))?;
    write_private(&path, &secrets.platform.seal(KEYS_LABEL, &text))
}

/// `coco keys add`: creates a key in `dir` and returns it (shown once, stored hashed).
/// A running node accepts it from its next call on.
pub fn add_key(dir: &Path, record: KeyRecord) -> Result<String, NodeError> {
    let secrets = Secrets::load_or_create(dir)?;
    let mut keys = load_keys(dir, &secrets)?;
    if keys.iter().any(|(_, r)| r.label == record.label) {
        return Err(setup_err(
            &dir.join("keys.sealed"),
            format!("a key labelled `{}` exists", record.label),
        ));
    }
    let key = generate_key();
    keys.push((key_hash(&key), record));
    save_keys(dir, &secrets, &keys)?;
    Ok(key)
}

/// `coco keys list`: labels, roles, addresses and hash prefixes (never keys).
pub fn list_keys(dir: &Path) -> Result<Vec<(alloy::primitives::B256, KeyRecord)>, NodeError> {
    let secrets = Secrets::load_or_create(dir)?;
    load_keys(dir, &secrets)
}

/// `coco keys revoke`: removes the key with this label; true if one was removed. A
/// running node refuses it from its next call on (and ends its subscriptions and
/// filters).
pub fn revoke_key(dir: &Path, label: &str) -> Result<bool, NodeError> {
    let secrets = Secrets::load_or_create(dir)?;
    let mut keys = load_keys(dir, &secrets)?;
    let before = keys.len();
    keys.retain(|(_, r)| r.label != label);
    save_keys(dir, &secrets, &keys)?;
    Ok(keys.len() < before)
}

const FINALIZED_LABEL: &str = "coco/finalized";

/// The block marked safe and finalized in `dir` (`coco import --finalize-head`).
pub(super) fn load_finalized(dir: &Path, secrets: &Secrets) -> Result<Option<u64>, NodeError> {
    let path = dir.join("finalized.sealed");
    let Some(sealed) = read(&path)? else {
        return Ok(None);
    };
    let bytes = secrets
        .platform
        .unseal(FINALIZED_LABEL, &sealed)
        .map_err(|e| setup_err(&path, e))?;
    let bytes: [u8; 8] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| setup_err(&path, "not a block number"))?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

/// Marks block `number` safe and finalized in `dir`.
pub(super) fn store_finalized(dir: &Path, secrets: &Secrets, number: u64) -> Result<(), NodeError> {
    write_private(
        &dir.join("finalized.sealed"),
        &secrets
            .platform
            .seal(FINALIZED_LABEL, &number.to_be_bytes()),
    )
}
