//! The node's secrets and genesis on disk, sealed by the (virtual) platform.
//!
//! Layout of a data directory:
//! - `enclave/platform.key`: the virtual platform's protected key file (mode 0600).
//!   On a real TEE this is replaced by the platform's sealing key and never exists.
//! - `enclave/ledger-secret.sealed`: the ledger secret, sealed by the platform.
//! - `node-id`: this node's public id (hex), part of every table key's derivation.
//! - `genesis.sealed`: the genesis this data directory was created with, sealed.
//! - `blocks.log`, `store/`: see the state module.

use std::path::{Path, PathBuf};

use alloy::genesis::Genesis;
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use coco_enclave::{LedgerSecret, VirtualPlatform};

use super::NodeError;

/// The unsealed secrets a node runs with. Never printed.
pub(super) struct Secrets {
    pub(super) platform: VirtualPlatform,
    pub(super) ledger_secret: LedgerSecret,
    pub(super) node_id: Vec<u8>,
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
    /// Loads the secrets of `dir`, creating them on first start.
    pub(super) fn load_or_create(dir: &Path) -> Result<Self, NodeError> {
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

        let secret_path = dir.join("enclave").join("ledger-secret.sealed");
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
        })
    }
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
