//! Command-line arguments and the dev banner.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::U256;
use clap::{Args, Parser, Subcommand};

use crate::chain::Mining;
use crate::node::{DEV_MNEMONIC, Node, NodeConfig};

pub mod bench;
mod chainfile;
pub mod gov;
pub mod rpc;

pub use chainfile::{
    ImportArgs, InitArgs, NodeAction, NodeArgs, expand_node_config, node_status, run_import,
    run_init, run_node_id,
};

/// coco: a confidential, Ethereum-compatible ledger for consortiums.
#[derive(Debug, Parser)]
#[command(name = "coco", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a single-node development chain with prefunded accounts.
    Dev(DevArgs),
    /// Manage the API keys of a data directory (read by the node at start).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Load-test a node: pre-signed ERC-20 transfers over JSON-RPC, to receipts.
    Bench(bench::BenchArgs),
    /// Create a data directory holding the chain of a geth-style genesis file.
    Init(InitArgs),
    /// Execute and validate blocks from an RLP file (concatenated blocks) into a data
    /// directory made by `coco init`.
    Import(ImportArgs),
    /// Serve the chain of a data directory (made by `coco init`/`coco import`) over
    /// JSON-RPC; with --peer-listen, as one validator of a replicated consortium.
    Node(NodeArgs),
    /// Consortium governance: propose, vote, withdraw, list and show proposals, the
    /// members and users, API keys for users (signed transactions to 0x…C0C0).
    Gov(gov::GovArgs),
}

/// `coco keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and stored only as a hash.
    Add {
        /// Data directory of the node.
        #[arg(long, default_value = ".coco/dev")]
        data_dir: PathBuf,
        /// Name of the key (for list and revoke).
        #[arg(long)]
        label: String,
        /// Role: user, auditor, member or operator (dev controls on a dev node).
        #[arg(long, default_value = "user")]
        role: String,
        /// An address the key speaks for (repeat for several).
        #[arg(long = "address")]
        addresses: Vec<alloy::primitives::Address>,
    },
    /// List keys (labels, roles, addresses; never the keys).
    List {
        /// Data directory of the node.
        #[arg(long, default_value = ".coco/dev")]
        data_dir: PathBuf,
    },
    /// Revoke the key with this label.
    Revoke {
        /// Data directory of the node.
        #[arg(long, default_value = ".coco/dev")]
        data_dir: PathBuf,
        /// The key's label.
        label: String,
    },
}

/// Runs a `coco keys` command; returns what to print.
pub fn run_keys(command: KeysCommand) -> Result<String, crate::node::NodeError> {
    use crate::rpc::auth::{KeyRecord, Role};
    match command {
        KeysCommand::Add {
            data_dir,
            label,
            role,
            addresses,
        } => {
            let role = match role.as_str() {
                "user" => Role::User,
                "auditor" => Role::Auditor,
                "member" => Role::Member,
                "operator" => Role::Operator,
                other => {
                    return Err(crate::node::NodeError::Setup {
                        path: "--role".into(),
                        reason: format!("unknown role `{other}` (user, auditor, member, operator)"),
                    });
                }
            };
            let key = crate::node::add_key(&data_dir, KeyRecord::new(role, addresses, label))?;
            let note = if crate::node::is_consortium(&data_dir)? {
                "\n(a consortium chain: `coco node` ignores this file — register keys by \
                 governance, `coco gov add-key`; only `coco dev` honours it)"
            } else {
                ""
            };
            Ok(format!(
                "{key}\n(shown once; the node stores only its hash; a running node accepts it at once){note}"
            ))
        }
        KeysCommand::List { data_dir } => {
            let mut out = String::new();
            for (hash, record) in crate::node::list_keys(&data_dir)? {
                let addresses: Vec<String> =
                    record.addresses.iter().map(|a| a.to_string()).collect();
                out.push_str(&format!(
                    "{}  {:?}  {}…  {}\n",
                    record.label,
                    record.role,
                    &hash.to_string()[..10],
                    addresses.join(",")
                ));
            }
            Ok(out)
        }
        KeysCommand::Revoke { data_dir, label } => {
            match crate::node::revoke_key(&data_dir, &label)? {
                true => Ok(format!("revoked `{label}`")),
                false => Ok(format!("no key labelled `{label}`")),
            }
        }
    }
}

/// `coco dev` flags.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Address to listen on (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8545)]
    pub port: u16,
    /// Data directory (kept across restarts).
    #[arg(long, default_value = ".coco/dev")]
    pub data_dir: PathBuf,
    /// Keep nothing: state lives in a temporary directory removed on exit.
    #[arg(long, conflicts_with = "data_dir")]
    pub ephemeral: bool,
    /// Chain id (only when the data directory is new).
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// Mnemonic of the prefunded accounts.
    #[arg(long, default_value = DEV_MNEMONIC)]
    pub mnemonic: String,
    /// Number of prefunded accounts.
    #[arg(long, short, default_value_t = 10)]
    pub accounts: u32,
    /// Balance of each prefunded account, in ether.
    #[arg(long, default_value_t = 10_000)]
    pub balance: u64,
    /// Mine a block every N milliseconds with every pending transaction (default: one
    /// block per transaction, at once).
    #[arg(long, value_name = "MS")]
    pub block_time: Option<u64>,
    /// Genesis file (geth format); default: the built-in dev genesis.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Block gas limit of a new chain (default: the genesis file's, 30,000,000).
    #[arg(long)]
    pub gas_limit: Option<u64>,
    /// Base fee of a new chain's genesis block, wei (default: 1 gwei).
    #[arg(long)]
    pub base_fee: Option<u64>,
    /// Enforce the confidential read policy: callers see only their own accounts,
    /// transactions and logs (default for dev: open, everyone reads everything).
    #[arg(long)]
    pub confidential: bool,
    /// Answer web3_clientVersion as "anvil/…" so Hardhat's network helpers
    /// (loadFixture, time, mine) accept the node.
    #[arg(long)]
    pub anvil_compat: bool,
    /// Apply this state dump (anvil's JSON format, or a directory holding
    /// `state.json`) on start, on top of the data directory's state (on every start).
    #[arg(long, value_name = "PATH")]
    pub load_state: Option<PathBuf>,
    /// Write the latest state to this file (anvil's JSON format; a directory means
    /// `<dir>/state.json`) on exit.
    #[arg(long, value_name = "PATH")]
    pub dump_state: Option<PathBuf>,
    /// Both of the above with one file: load it if it exists, dump to it on exit.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["load_state", "dump_state"])]
    pub state: Option<PathBuf>,
    /// Longest a SIWE login session lasts, in seconds (its message's `Expiration Time`
    /// may end it sooner).
    #[arg(long, value_name = "SECS", default_value_t = 24 * 60 * 60)]
    pub session_lifetime: u64,
}

impl DevArgs {
    /// The node configuration these flags describe.
    pub fn node_config(&self) -> std::io::Result<NodeConfig> {
        let genesis = self
            .genesis
            .as_ref()
            .map(std::fs::read_to_string)
            .transpose()?;
        Ok(NodeConfig {
            data_dir: (!self.ephemeral).then(|| self.data_dir.clone()),
            host: self.host,
            port: self.port,
            genesis,
            chain_id: self.chain_id,
            gas_limit: self.gas_limit,
            base_fee: self.base_fee,
            anvil_compat: self.anvil_compat,
            confidential: self.confidential,
            load_state: self.load_state.clone().or_else(|| {
                self.state.clone().filter(|p| {
                    if p.is_dir() {
                        p.join("state.json").is_file()
                    } else {
                        p.is_file()
                    }
                })
            }),
            dump_state: self.dump_state.clone().or_else(|| self.state.clone()),
            mnemonic: self.mnemonic.clone(),
            accounts: self.accounts,
            balance: U256::from(self.balance) * U256::from(10u64).pow(U256::from(18u64)),
            mining: match self.block_time {
                Some(ms) => Mining::Interval(Duration::from_millis(ms.max(1))),
                None => Mining::Instant,
            },
            rpc: crate::rpc::RpcLimits {
                session_lifetime: Duration::from_secs(self.session_lifetime),
                ..NodeConfig::dev().rpc
            },
            ..NodeConfig::dev()
        })
    }
}

/// The banner `coco dev` prints, in the spirit of anvil's.
pub fn banner(node: &Node, ephemeral: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "\n  coco dev  {}\n", crate::rpc::eth::CLIENT_VERSION);
    let _ = writeln!(out, "Available Accounts\n==================");
    for (i, s) in node.signers.iter().enumerate() {
        let _ = writeln!(out, "({i}) {}", s.address());
    }
    let _ = writeln!(out, "\nPrivate Keys\n==================");
    for (i, s) in node.signers.iter().enumerate() {
        let _ = writeln!(out, "({i}) {}", s.to_bytes());
    }
    let head = node.chain.head();
    let _ = writeln!(out, "\nChain ID:        {}", node.chain.spec().chain_id());
    let _ = writeln!(out, "Block:           {}", head.header.number);
    let mining = match node.chain.mining() {
        Mining::Instant => "instant (one block per transaction)".to_string(),
        Mining::Interval(d) => format!("every {} ms", d.as_millis()),
        Mining::Manual => "manual".to_string(),
    };
    let _ = writeln!(out, "Mining:          {mining}");
    let dir = if ephemeral {
        "(ephemeral: nothing is kept)".to_string()
    } else {
        node.data_dir.display().to_string()
    };
    let _ = writeln!(out, "Data directory:  {dir}");
    if node.open_policy {
        let _ = writeln!(
            out,
            "Read policy:     open (every caller reads everything, as on any dev node)"
        );
    } else {
        let _ = writeln!(
            out,
            "Read policy:     confidential (callers see only their own accounts, transactions and logs)"
        );
    }
    let governance = node.chain.governance();
    if governance.is_present() {
        let enforced = if node.chain.spec().is_consortium() {
            "enforced: only members and users transact, keys and logins are governance's"
        } else {
            "not enforced (open chain; start a new chain with --confidential)"
        };
        let _ = writeln!(
            out,
            "Governance:      {} at {} ({} member(s), {} user(s)), {enforced}",
            if governance.members().len() == 1 {
                "a consortium of one"
            } else {
                "a consortium"
            },
            crate::governance::GOVERNANCE,
            governance.members().len(),
            governance.users().len(),
        );
    }
    if let Some(key) = &node.dev_key {
        let _ = writeln!(out, "Dev API key:     {key}");
        let _ = writeln!(
            out,
            "                 covers every account above: `Authorization: Bearer <key>` or {}/<key>",
            node.http_url()
        );
    }
    let _ = writeln!(
        out,
        "TEE platform:    virtual — NO PROTECTION: attestation proves nothing"
    );
    let _ = writeln!(out, "\nListening on {}", node.http_url());
    out
}
