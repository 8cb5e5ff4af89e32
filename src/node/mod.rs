//! The composition root: configuration, the enclave's secrets, the store, the chain,
//! the block producer and the RPC server, started together and stopped together.

mod keys;
mod metrics;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use jsonrpsee::server::ServerHandle;

use crate::chain::state_dump::StateDump;
use crate::chain::{
    Blinder, Chain, ChainError, ChainSettings, ChainSpec, Mining, PoolLimits, genesis,
};
use crate::consensus::{self, Validator, ValidatorConfig};
use crate::execution::CocoRules;
use crate::governance;
use crate::rpc::auth::{KeyRecord, KeyRing, Role, generate_key, key_hash};
use crate::rpc::{self, RpcLimits};
use crate::state::{Store, StoreConfig};

pub use keys::{add_key, dev_signers, list_keys, revoke_key};

/// The mnemonic of the well-known dev accounts (anvil's and Hardhat's).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Data directory; `None` keeps nothing (a temporary directory removed on stop).
    pub data_dir: Option<PathBuf>,
    /// Listen address for HTTP and WebSocket.
    pub host: IpAddr,
    /// Listen port (0 picks a free one).
    pub port: u16,
    /// Genesis file text; `None` uses the built-in dev genesis.
    pub genesis: Option<String>,
    /// Chain id override for the dev genesis.
    pub chain_id: Option<u64>,
    /// Block gas limit override for the dev genesis.
    pub gas_limit: Option<u64>,
    /// Genesis base fee override.
    pub base_fee: Option<u64>,
    /// Mnemonic of the prefunded accounts.
    pub mnemonic: String,
    /// Number of prefunded accounts.
    pub accounts: u32,
    /// Balance of each prefunded account, wei.
    pub balance: U256,
    /// Block production.
    pub mining: Mining,
    /// RPC limits.
    pub rpc: RpcLimits,
    /// sled page cache, bytes.
    pub cache_bytes: u64,
    /// Serve the development methods (signing with the prefunded keys, evm_*, anvil_*).
    pub dev: bool,
    /// Answer `web3_clientVersion` as anvil, for Hardhat's network helpers.
    pub anvil_compat: bool,
    /// Enforce the confidential read policy (default for dev: open).
    pub confidential: bool,
    /// A state dump (anvil's JSON format) applied on start.
    pub load_state: Option<PathBuf>,
    /// Where the latest state is written (anvil's JSON format) on stop.
    pub dump_state: Option<PathBuf>,
    /// Serve a chain `coco init` created in `data_dir` instead of creating a dev chain.
    pub existing_chain: bool,
    /// Run as a validator of a replicated consortium chain.
    pub validator: Option<ValidatorOptions>,
}

/// How a node takes part in a consortium of validators (`coco node --peer-listen`).
#[derive(Debug, Clone)]
pub struct ValidatorOptions {
    /// The peer (node-to-node, mutual TLS) endpoint.
    pub listen: SocketAddr,
    /// The `host:port` the other validators dial (default: `listen`).
    pub advertise: Option<String>,
    /// A validator to join through; `None` founds the cluster (on a data directory made
    /// by `coco init`) or restarts a member.
    pub join: Option<String>,
    /// How often the leader proposes a block.
    pub block_time: Duration,
    /// Committed entries between two Raft snapshots.
    pub snapshot_every: u64,
    /// How the other validators commit this node's proposals while it leads.
    pub apply: consensus::Apply,
}

impl ValidatorOptions {
    fn advertised(&self) -> String {
        self.advertise
            .clone()
            .unwrap_or_else(|| self.listen.to_string())
    }
}

impl NodeConfig {
    /// `coco dev` defaults: 127.0.0.1:8545, ten accounts of 10,000 ETH, instant mining.
    pub fn dev() -> Self {
        Self {
            data_dir: Some(PathBuf::from(".coco/dev")),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8545,
            genesis: None,
            chain_id: None,
            gas_limit: None,
            base_fee: None,
            mnemonic: DEV_MNEMONIC.to_string(),
            accounts: 10,
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
            mining: Mining::Instant,
            rpc: RpcLimits::default(),
            cache_bytes: 64 * 1024 * 1024,
            dev: true,
            anvil_compat: false,
            confidential: false,
            load_state: None,
            dump_state: None,
            existing_chain: false,
            validator: None,
        }
    }

    /// `coco node` defaults: serve the chain in `data_dir` (made by `coco init` and
    /// `coco import`) on 127.0.0.1:8545 without producing blocks, no dev methods.
    pub fn serve(data_dir: PathBuf) -> Self {
        Self {
            data_dir: Some(data_dir),
            accounts: 0,
            mining: Mining::Manual,
            dev: false,
            existing_chain: true,
            ..Self::dev()
        }
    }

    /// Test defaults: like [`NodeConfig::dev`] on a free loopback port, keeping nothing.
    pub fn test() -> Self {
        Self {
            data_dir: None,
            port: 0,
            ..Self::dev()
        }
    }
}

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Secrets, node id or genesis on disk could not be read or written.
    #[error("{path}: {reason}")]
    Setup {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The chain or store failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The RPC server could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The block producer stopped on an error.
    #[error("block production stopped: {0}")]
    Producer(String),
}

/// A running node.
pub struct Node {
    /// HTTP and WebSocket address.
    pub addr: SocketAddr,
    /// The chain.
    pub chain: Arc<Chain>,
    /// The prefunded accounts' keys (dev mode).
    pub signers: Vec<PrivateKeySigner>,
    /// Where state lives (a temporary directory when ephemeral).
    pub data_dir: PathBuf,
    /// The dev key covering every prefunded account (dev mode).
    pub dev_key: Option<String>,
    /// The API keys this node accepts.
    pub keys: Arc<KeyRing>,
    /// True under the open read policy.
    pub open_policy: bool,
    rpc: ServerHandle,
    stop: Arc<AtomicBool>,
    failure: Arc<parking_lot::Mutex<Option<String>>>,
    producer: Option<JoinHandle<()>>,
    validator: Option<Validator>,
    dump_state: Option<PathBuf>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts a node: opens (or creates) its data directory, replays the block log,
    /// starts block production and the RPC server.
    pub async fn spawn(config: NodeConfig) -> Result<Self, NodeError> {
        let (data_dir, temp) = match &config.data_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("coco-")
                    .tempdir()
                    .map_err(|e| NodeError::Setup {
                        path: std::env::temp_dir(),
                        reason: e.to_string(),
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let signers = dev_signers(&config.mnemonic, config.accounts)?;
        let mut config = config;
        if let Some(validator) = &config.validator
            && let Some(peer) = &validator.join
            && !keys::has_ledger_secret(&data_dir)
        {
            join_cluster(&data_dir, &config, validator, peer).await?;
            config.existing_chain = true;
        }
        let secrets = keys::Secrets::load_or_create(&data_dir)?;
        let spec = keys::load_or_create_genesis(&data_dir, &secrets, || {
            if config.existing_chain {
                return Err(no_chain(&data_dir));
            }
            let text = config.genesis.as_deref().unwrap_or(genesis::DEV_GENESIS);
            let mut g = genesis::parse_genesis(text).map_err(|e| NodeError::Setup {
                path: PathBuf::from("genesis"),
                reason: e.to_string(),
            })?;
            if let Some(id) = config.chain_id {
                g.config.chain_id = id;
            }
            if let Some(limit) = config.gas_limit {
                g.gas_limit = limit;
            }
            if let Some(fee) = config.base_fee {
                g.base_fee_per_gas = Some(fee.into());
            }
            if g.timestamp == 0 {
                g.timestamp = crate::chain::now();
            }
            genesis::fund(&mut g, signers.iter().map(|s| s.address()), config.balance);
            let setup = |reason: String| NodeError::Setup {
                path: PathBuf::from("genesis"),
                reason,
            };
            // A dev chain is a consortium of one: account 0 governs, every prefunded
            // account is a user. Open, it is governed but not enforced; confidential, it
            // is a consortium chain (admission, governed logins), as a network is.
            if let Some(consortium) = dev_consortium(&g, &signers) {
                if config.confidential {
                    consortium.write(&mut g);
                }
                governance::genesis::place_section(&mut g, &consortium).map_err(setup)?;
            }
            if config.confidential {
                // EVM code must not read what the confidential policy hides: the rule is
                // the chain's, fixed in its genesis.
                let mut rules = CocoRules::of(&g).map_err(|reason| NodeError::Setup {
                    path: PathBuf::from("genesis"),
                    reason,
                })?;
                rules.private_balances = true;
                rules.write(&mut g);
            }
            Ok(g)
        })?;
        // A chain made confidential stays so: its genesis says it (a consortium section,
        // or the private-balance rule `coco dev --confidential` writes), whatever the
        // flags of a later start.
        let consortium = spec
            .config
            .extra_fields
            .contains_key(governance::genesis::CONSORTIUM);
        let confidential_genesis = consortium
            || CocoRules::of(&spec)
                .map_err(|reason| NodeError::Setup {
                    path: PathBuf::from("genesis"),
                    reason,
                })?
                .private_balances;
        let confidential = confidential_genesis || (!config.existing_chain && config.confidential);
        let blinding = confidential.then(|| {
            let secret = secrets.ledger_secret.clone();
            Blinder(Arc::new(move |n| B256::from(secret.blinding_key(n))))
        });
        let settings = ChainSettings {
            beneficiary: Address::ZERO,
            // Validators' blocks are Raft's; a consortium chain served alone mines each
            // transaction at once; a served plain chain produces only when asked.
            mining: match config.mining {
                _ if config.validator.is_some() => Mining::Manual,
                Mining::Manual if config.existing_chain && consortium => Mining::Instant,
                mining => mining,
            },
            pool: PoolLimits::default(),
            blinding,
            permissioned: consortium,
        };
        let chain = Arc::new(open_chain(
            &data_dir,
            &secrets,
            spec,
            config.cache_bytes,
            temp.is_none(),
            settings,
        )?);
        // A served chain answers every method at full speed as soon as its port opens;
        // a dev chain starts at once and loads it with its first blob transaction.
        if config.existing_chain {
            let chain = chain.clone();
            let _ = tokio::task::spawn_blocking(move || chain.prepare_blob_verification()).await;
        }
        if let Some(number) = keys::load_finalized(&data_dir, &secrets)? {
            chain.set_finalized(number);
        }
        // A plain Ethereum chain (a genesis without a consortium section or the
        // private-balance rule) is public, unless `coco dev --confidential` asks.
        let open_policy = !confidential;
        if !open_policy && !chain.spec().evm().private_balances() {
            return Err(NodeError::Setup {
                path: data_dir.clone(),
                reason: "this chain was created without --confidential: its EVM reads every \
                         account's balance, which the confidential policy hides; start it \
                         without --confidential, or use a new --data-dir (or --ephemeral)"
                    .into(),
            });
        }
        if let Some(path) = &config.load_state {
            load_state(&chain, path)?;
        }

        let stop = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(parking_lot::Mutex::new(None));
        let producer = spawn_producer(chain.clone(), stop.clone(), failure.clone());
        let validator = match &config.validator {
            Some(options) => {
                if !consortium {
                    return Err(NodeError::Setup {
                        path: data_dir.clone(),
                        reason: "validators replicate a consortium chain: this genesis has no \
                                 `consortium` section"
                            .into(),
                    });
                }
                Some(start_validator(&data_dir, &secrets, chain.clone(), options).await?)
            }
            None => None,
        };

        let module = rpc::module(
            chain.clone(),
            config.rpc,
            signers.clone(),
            config.dev,
            config.anvil_compat,
        );
        let addr = SocketAddr::new(config.host, config.port);
        // Read once here so a damaged key file stops the start, then on every change.
        let file_keys = keys::load_keys(&data_dir, &secrets)?;
        // On a consortium chain governance decides who reads, never a local file; a dev
        // node's operator is its only member (and holds the dev key), so its file stays.
        let ring = if consortium && !config.dev {
            if !file_keys.is_empty() {
                tracing::warn!(
                    "keys.sealed is ignored on a consortium chain: API keys are registered \
                     by governance (`coco gov add-key`)"
                );
            }
            KeyRing::default()
        } else {
            KeyRing::with_file(data_dir.join("keys.sealed"), keys::key_loader(&data_dir))
        };
        let keys = Arc::new(if consortium {
            let chain = chain.clone();
            ring.governed_by(Arc::new(move || chain.governance()))
        } else {
            ring
        });
        // A validator's SIWE sessions are every validator's: each one made, widened or
        // ended here is pushed to the others, and theirs are applied here.
        if let Some(v) = &validator {
            let (ring, lifetime) = (keys.clone(), config.rpc.session_lifetime);
            v.on_session_push(Arc::new(move |body: &[u8]| {
                match serde_json::from_slice::<rpc::auth::SessionChange>(body) {
                    Ok(change) => ring.apply_session(change, lifetime),
                    Err(e) => tracing::warn!(error = %e, "a pushed session change does not decode"),
                }
            }));
            // Retried while the session could still be in use.
            let push = v.session_pusher(lifetime);
            keys.on_sessions(Arc::new(move |change| {
                if let Ok(body) = serde_json::to_vec(&change) {
                    push(body);
                }
            }));
        }
        // The dev key is the operator's: every prefunded account and the dev controls.
        let dev_key = config.dev.then(|| {
            let key = generate_key();
            keys.insert(
                key_hash(&key),
                KeyRecord::new(
                    Role::Operator,
                    signers.iter().map(|s| s.address()).collect(),
                    "dev",
                ),
            );
            key
        });
        let mut hosts = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "[::1]".to_string(),
        ];
        hosts.push(config.host.to_string());
        let mut module = module;
        if let Some(v) = &validator {
            module
                .merge(status_module(v.raft().clone(), chain.clone()))
                .expect("coco_nodeStatus is unique");
        }
        module
            .merge(rpc::login_module(
                keys.clone(),
                chain.spec().chain_id(),
                hosts,
                config.rpc.session_lifetime,
            ))
            .expect("login methods are unique");
        let node_metrics = metrics::NodeMetrics::new(
            chain.clone(),
            validator.as_ref().map(|v| metrics::ValidatorMetrics {
                raft: v.raft().clone(),
                commit_latency: v.commit_latency().clone(),
                applied_blocks: v.applied_blocks().clone(),
            }),
        );
        let render: rpc::metrics::Render = Arc::new(move || node_metrics.render());
        let (addr, rpc) = rpc::serve(
            addr,
            config.rpc,
            module,
            keys.clone(),
            open_policy,
            chain.clone(),
            Some(render),
        )
        .await
        .map_err(|source| NodeError::Listen { addr, source })?;
        Ok(Self {
            open_policy,
            dev_key,
            keys,
            addr,
            chain,
            signers,
            data_dir,
            rpc,
            stop,
            failure,
            producer: Some(producer),
            validator,
            dump_state: config.dump_state.clone(),
            _temp: temp,
        })
    }

    /// `http://addr`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://addr`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The validator's view of the cluster; `None` on a node that does not replicate.
    pub fn validator_status(&self) -> Option<consensus::Status> {
        self.validator.as_ref().map(|v| v.status())
    }

    /// The validator's peer endpoint (`host:port`).
    pub fn peer_addr(&self) -> Option<&str> {
        self.validator.as_ref().map(|v| v.addr())
    }

    /// Resolves when the node fails (block production stopped) or the server ends.
    pub async fn stopped(&self) -> Result<(), NodeError> {
        loop {
            if let Some(reason) = self.failure.lock().clone() {
                return Err(NodeError::Producer(reason));
            }
            if self.rpc.is_stopped() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops serving and producing; waits for the producer to finish its block. Then
    /// writes the state dump if one was asked for (a failure is logged).
    pub async fn stop(mut self) {
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        if let Some(validator) = self.validator.take() {
            validator.stop().await;
        }
        self.stop.store(true, Ordering::SeqCst);
        self.chain.wake();
        if let Some(producer) = self.producer.take() {
            let _ = tokio::task::spawn_blocking(move || producer.join()).await;
        }
        if let Some(path) = self.dump_state.take() {
            let chain = self.chain.clone();
            let written = tokio::task::spawn_blocking(move || dump_state(&chain, &path)).await;
            match written {
                Ok(Ok(path)) => tracing::info!(file = %path.display(), "state dumped"),
                Ok(Err(e)) => tracing::error!(error = %e, "could not dump the state"),
                Err(e) => tracing::error!(error = %e, "could not dump the state"),
            }
        }
    }
}

/// A node joining a cluster for the first time: its identity made, the ledger secret
/// received (sealed to it) from a validator the consortium's genesis lists, then its
/// chain created from that genesis, as the founder's was.
async fn join_cluster(
    data_dir: &Path,
    config: &NodeConfig,
    options: &ValidatorOptions,
    peer: &str,
) -> Result<(), NodeError> {
    let setup = |path: &str, reason: String| NodeError::Setup {
        path: PathBuf::from(path),
        reason,
    };
    let text = config.genesis.as_deref().ok_or_else(|| {
        setup(
            "--genesis",
            "a joining validator needs the consortium's genesis file (--genesis)".into(),
        )
    })?;
    let genesis = genesis::parse_genesis(text)
        .map_err(|e| setup("--genesis", format!("not a geth genesis file: {e}")))?;
    // The validators this node will trust before it has a chain: the genesis's.
    let founders: Vec<Vec<u8>> = governance::Consortium::of(&genesis)
        .map_err(|e| setup("--genesis", e))?
        .map(|c| c.nodes)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| consensus::validator::compressed_key(&n.public_key))
        .collect();
    if founders.is_empty() && !peer.contains('@') {
        return Err(setup(
            "--genesis",
            "the genesis lists no validator (consortium.nodes) to join through".into(),
        ));
    }
    let (platform, identity) = keys::load_identity(data_dir)?;
    let allow: consensus::Allow = Arc::new(move |key: &[u8]| founders.iter().any(|f| f == key));
    tracing::info!(peer, node = %consensus::validator::id_hex(consensus::node_id_of(&identity.public_key_sec1())), "asking to join");
    let secret = consensus::validator::join(
        &identity,
        peer,
        allow,
        &options.advertised(),
        Duration::from_secs(24 * 3600),
    )
    .await
    .map_err(|e| setup(peer, e.to_string()))?;
    keys::store_ledger_secret(data_dir, &platform, &secret)?;
    init_chain(data_dir, text)?;
    tracing::info!("received the ledger secret; catching up from the cluster");
    Ok(())
}

/// Starts the validator of `chain`: founds the cluster when nothing was replicated yet
/// and no peer was named; a joining node waits for the leader to add it.
async fn start_validator(
    data_dir: &Path,
    secrets: &keys::Secrets,
    chain: Arc<Chain>,
    options: &ValidatorOptions,
) -> Result<Validator, NodeError> {
    let setup = |reason: String| NodeError::Setup {
        path: data_dir.join("raft"),
        reason,
    };
    let allow = consensus::validator::governance_allow(chain.clone());
    let height = chain.head().header.number;
    let validator = Validator::start(
        chain,
        &secrets.identity,
        &secrets.ledger_secret,
        &data_dir.join("raft"),
        &ValidatorConfig {
            listen: options.listen,
            advertise: options.advertise.clone(),
            block_time: options.block_time,
            snapshot_every: options.snapshot_every,
            apply: options.apply,
        },
    )
    .await
    .map_err(|e| setup(e.to_string()))?;
    // A chain past genesis with an empty Raft log: this node's Raft state was lost.
    // Founding would fork the chain, and rejoining under the same id makes a log that
    // goes backwards (openraft #898): it must come back as a new node.
    if height > 0
        && !validator
            .initialized()
            .await
            .map_err(|e| setup(e.to_string()))?
    {
        validator.stop().await;
        return Err(setup(format!(
            "the chain is at block {height} but Raft's log is empty: this validator's Raft \
             state was lost. It cannot rejoin under the same identity; start it from an \
             empty --data-dir with --join (a new identity), and retire the old one \
             (`coco gov propose retire-node`)"
        )));
    }
    match &options.join {
        // Until it is a voter, a joining node asks again now and then: the leader that
        // granted its request may have failed before adding it.
        Some(peer) => {
            let (raft, identity, peer) = (
                validator.raft().clone(),
                secrets.identity.clone(),
                peer.clone(),
            );
            let advertise = options.advertised();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    if consensus::validator::is_voter(&raft) {
                        return;
                    }
                    let asked = consensus::validator::join(
                        &identity,
                        &peer,
                        allow.clone(),
                        &advertise,
                        Duration::from_secs(10),
                    )
                    .await;
                    if let Err(e) = asked {
                        tracing::debug!(error = %e, "asking to join again failed");
                    }
                }
            });
        }
        None if !validator
            .initialized()
            .await
            .map_err(|e| setup(e.to_string()))? =>
        {
            validator.found().await.map_err(|e| setup(e.to_string()))?;
        }
        None => {}
    }
    Ok(validator)
}

/// `coco_nodeStatus`: the validator's role, leader, term, height and peers.
fn status_module(raft: consensus::Raft, chain: Arc<Chain>) -> jsonrpsee::RpcModule<()> {
    let mut module = jsonrpsee::RpcModule::new(());
    module
        .register_method("coco_nodeStatus", move |_, _, _| {
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(consensus::validator::status_of(
                &raft, &chain,
            ))
        })
        .expect("one registration");
    module
}

fn no_chain(dir: &Path) -> NodeError {
    NodeError::Setup {
        path: dir.to_path_buf(),
        reason: "no chain here: run `coco init --genesis <genesis.json> --data-dir` first".into(),
    }
}

/// Opens the store and the chain of a data directory (committing genesis if new).
fn open_chain(
    data_dir: &Path,
    secrets: &keys::Secrets,
    genesis: alloy::genesis::Genesis,
    cache_bytes: u64,
    fsync: bool,
    settings: ChainSettings,
) -> Result<Chain, NodeError> {
    let store = Store::open(
        &StoreConfig {
            dir: data_dir.to_path_buf(),
            cache_bytes,
            fsync,
            block_cache: 256,
        },
        &secrets.ledger_secret,
        &secrets.node_id,
    )?;
    Ok(Chain::open(
        Arc::new(store),
        ChainSpec::new(genesis),
        settings,
    )?)
}

fn plain_settings() -> ChainSettings {
    ChainSettings {
        beneficiary: Address::ZERO,
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        blinding: None,
        permissioned: false,
    }
}

/// `coco dev`'s consortium of one: account 0 is the member (its public key the
/// encryption key for recovery shares), every prefunded account a user. `None` when the
/// genesis has its own consortium or governance, or there are no accounts.
fn dev_consortium(
    genesis: &alloy::genesis::Genesis,
    signers: &[PrivateKeySigner],
) -> Option<governance::Consortium> {
    let first = signers.first()?;
    if genesis
        .config
        .extra_fields
        .contains_key(governance::genesis::CONSORTIUM)
        || genesis.alloc.contains_key(&governance::GOVERNANCE)
    {
        return None;
    }
    let public_key = first
        .credential()
        .verifying_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    Some(governance::Consortium {
        members: vec![governance::MemberEntry {
            address: first.address(),
            encryption_key: public_key.into(),
        }],
        users: signers
            .iter()
            .map(|s| governance::UserEntry {
                address: s.address(),
                role: governance::UserRole::User,
                api_key_hashes: Vec::new(),
            })
            .collect(),
        ..Default::default()
    })
}

/// `coco init`: creates a data directory holding the chain of a geth-style genesis file
/// (its block 0 only). Returns the genesis block's hash. A directory that already holds a
/// chain is accepted only if it is the same genesis.
pub fn init_chain(data_dir: &Path, genesis_text: &str) -> Result<B256, NodeError> {
    let parsed = genesis::parse_genesis(genesis_text).map_err(|e| NodeError::Setup {
        path: PathBuf::from("--genesis"),
        reason: format!("not a geth genesis file: {e}"),
    })?;
    let secrets = keys::Secrets::load_or_create(data_dir)?;
    let stored = keys::load_or_create_genesis(data_dir, &secrets, || Ok(parsed.clone()))?;
    let chain = open_chain(data_dir, &secrets, stored, 64 << 20, true, plain_settings())?;
    let hash = chain.store().block(0)?.map(|b| b.header.hash_slow());
    let ours = ChainSpec::new(parsed);
    let expected = genesis::genesis_commit(&ours).block.header.hash_slow();
    match hash {
        Some(hash) if hash == expected => Ok(hash),
        _ => Err(NodeError::Setup {
            path: data_dir.to_path_buf(),
            reason: "this directory already holds a chain with another genesis".into(),
        }),
    }
}

/// True when the chain in `data_dir` is a consortium chain (false when there is none yet).
pub fn is_consortium(data_dir: &Path) -> Result<bool, NodeError> {
    if !data_dir.join("genesis.sealed").exists() {
        return Ok(false);
    }
    let secrets = keys::Secrets::load_or_create(data_dir)?;
    let genesis = keys::load_or_create_genesis(data_dir, &secrets, || Err(no_chain(data_dir)))?;
    Ok(genesis
        .config
        .extra_fields
        .contains_key(governance::genesis::CONSORTIUM))
}

/// Marks block `number` of the chain in `data_dir` safe and finalized (what the
/// `safe` and `finalized` block tags name from the next start on).
pub fn set_finalized(data_dir: &Path, number: u64) -> Result<(), NodeError> {
    let secrets = keys::Secrets::load_or_create(data_dir)?;
    keys::store_finalized(data_dir, &secrets, number)
}

/// Opens the chain `coco init` created in `data_dir`, without serving it (`coco import`).
pub fn open_existing(data_dir: &Path) -> Result<Chain, NodeError> {
    if !data_dir.join("genesis.sealed").exists() {
        return Err(no_chain(data_dir));
    }
    let secrets = keys::Secrets::load_or_create(data_dir)?;
    let genesis = keys::load_or_create_genesis(data_dir, &secrets, || Err(no_chain(data_dir)))?;
    open_chain(
        data_dir,
        &secrets,
        genesis,
        64 << 20,
        true,
        plain_settings(),
    )
}

/// anvil's rule: a directory given for a state file means `<dir>/state.json`.
fn state_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("state.json")
    } else {
        path.to_path_buf()
    }
}

/// Applies the state dump at `path` (`--load-state`).
fn load_state(chain: &Chain, path: &Path) -> Result<(), NodeError> {
    let path = state_file(path);
    let setup = |reason: String| NodeError::Setup {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| setup(e.to_string()))?;
    let dump = StateDump::from_json(&bytes).map_err(|e| setup(format!("not a state dump: {e}")))?;
    chain.load_state(&dump)?;
    tracing::info!(file = %path.display(), accounts = dump.accounts.len(), "state loaded");
    Ok(())
}

/// Writes the latest state to `path` (`--dump-state`), replacing the file atomically.
/// Returns the file written.
pub fn dump_state(chain: &Chain, path: &Path) -> Result<PathBuf, NodeError> {
    let path = state_file(path);
    let setup = |reason: String| NodeError::Setup {
        path: path.clone(),
        reason,
    };
    let json = chain
        .dump_state()?
        .to_json()
        .map_err(|e| setup(e.to_string()))?;
    let mut temp = path.clone().into_os_string();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, &json).map_err(|e| setup(e.to_string()))?;
    std::fs::rename(&temp, &path).map_err(|e| setup(e.to_string()))?;
    Ok(path)
}

fn spawn_producer(
    chain: Arc<Chain>,
    stop: Arc<AtomicBool>,
    failure: Arc<parking_lot::Mutex<Option<String>>>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("coco-producer".into())
        .spawn(move || {
            let poll = Duration::from_millis(250);
            let mut next_tick = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                let result = match chain.mining() {
                    Mining::Instant => {
                        chain.wait_for_work(Some(poll));
                        let mut result = Ok(());
                        // The mode may have changed while waiting (evm_setAutomine):
                        // a transaction arriving after that must not be mined here.
                        while chain.mining() == Mining::Instant {
                            match chain.mine(1, false) {
                                Ok(Some(_)) if !stop.load(Ordering::SeqCst) => continue,
                                Ok(_) => break,
                                Err(e) => {
                                    result = Err(e);
                                    break;
                                }
                            }
                        }
                        result
                    }
                    Mining::Interval(every) => {
                        let now = std::time::Instant::now();
                        if now < next_tick {
                            chain.wait_for_work(Some((next_tick - now).min(poll)));
                            continue;
                        }
                        next_tick += every;
                        if next_tick < now {
                            next_tick = now + every;
                        }
                        chain.mine(usize::MAX, true).map(|_| ())
                    }
                    Mining::Manual => {
                        chain.wait_for_work(Some(poll));
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    tracing::error!(error = %e, "block production failed; the node stops");
                    *failure.lock() = Some(e.to_string());
                    return;
                }
            }
        })
        .expect("spawning a thread at startup only fails when the OS is out of resources")
}

/// The validator identity of `data_dir` (made on first use), as an entry of the
/// genesis's `consortium.nodes` or of an `addNode` proposal: `id` is keccak-256 of the
/// compressed public key.
pub fn validator_identity(data_dir: &Path) -> Result<governance::NodeEntry, NodeError> {
    let (_, identity) = keys::load_identity(data_dir)?;
    let public_key = identity.public_key_sec1();
    Ok(governance::NodeEntry {
        id: alloy::primitives::keccak256(&public_key),
        public_key: public_key.into(),
        measurement: Default::default(),
    })
}
