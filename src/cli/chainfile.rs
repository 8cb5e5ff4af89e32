//! `coco init`, `coco import` and `coco node`: a chain from a geth genesis file and an
//! RLP block file, served read-mostly (no block production).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::consensus::{Block, TxEnvelope};
use alloy::rlp::Decodable;
use clap::Args;

use crate::node::{NodeConfig, NodeError, ValidatorOptions, init_chain, open_existing};

/// `coco init` flags.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Genesis file in geth's format (config with fork activations and blob schedule,
    /// alloc, header fields).
    #[arg(long)]
    pub genesis: PathBuf,
    /// Data directory to create.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// `coco import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// File of concatenated RLP-encoded blocks (geth's `export` format).
    pub file: PathBuf,
    /// Data directory made by `coco init`.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Mark the imported head safe and finalized.
    #[arg(long)]
    pub finalize_head: bool,
}

/// `coco node` flags.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    args_override_self = true
)]
pub struct NodeArgs {
    /// `id` or `status` instead of serving.
    #[command(subcommand)]
    pub action: Option<NodeAction>,
    /// A TOML file of these settings, by flag name without the dashes (`data-dir`,
    /// `port`, `peer-listen`, `join`, `block-time`, …); flags given on the command line
    /// win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory made by `coco init` (and `coco import`); for `--join`, a new one.
    #[arg(long, required = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8545)]
    pub port: u16,
    /// Produce a block every N milliseconds with the pooled transactions (default: a
    /// validator's leader proposes every 100 ms; a consortium chain served alone mines
    /// each transaction at once; other chains are only served).
    #[arg(long, value_name = "MS")]
    pub block_time: Option<u64>,
    /// Run as a validator: the peer (node-to-node, mutual TLS) endpoint, `host:port`.
    #[arg(long, value_name = "ADDR")]
    pub peer_listen: Option<SocketAddr>,
    /// The `host:port` other validators dial to reach this one (default: --peer-listen).
    #[arg(long, value_name = "HOST:PORT", requires = "peer_listen")]
    pub advertise: Option<String>,
    /// Join the cluster through this validator's peer endpoint, `[PUBLIC_KEY@]HOST:PORT`:
    /// the node makes its identity, waits until governance lists it (`coco gov propose
    /// add-node`), receives the ledger secret and catches up. With the validator's
    /// public key (`coco node id` prints it) only that validator, and the leader it
    /// names, are trusted; without, any validator the genesis lists.
    #[arg(long, value_name = "HOST:PORT", requires_all = ["peer_listen", "genesis"])]
    pub join: Option<String>,
    /// The consortium's genesis file (with --join: the chain to join).
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Committed Raft entries between two snapshots; Raft's log is purged behind them
    /// (keeping a tenth), and a node further behind catches up from a snapshot.
    #[arg(long, value_name = "N", default_value_t = crate::consensus::SNAPSHOT_EVERY, requires = "peer_listen")]
    pub snapshot_every: u64,
    /// How the validators that do not lead commit a block: `re-execute` it and check
    /// every root of its header, or apply the `write-set` (receipts, state diff) the
    /// leader ships with it, checking what it can (roots, senders, code hashes) without
    /// executing. It is the leader's setting that counts: give every validator the same
    /// (docs/REPLICATION.md).
    #[arg(long, value_enum, default_value_t = ApplyMode::ReExecute, requires = "peer_listen")]
    pub apply: ApplyMode,
}

/// `coco node --apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApplyMode {
    /// Every validator executes every block.
    ReExecute,
    /// The leader's write set is applied.
    WriteSet,
}

impl From<ApplyMode> for crate::consensus::Apply {
    fn from(mode: ApplyMode) -> Self {
        match mode {
            ApplyMode::ReExecute => Self::ReExecute,
            ApplyMode::WriteSet => Self::WriteSet,
        }
    }
}

/// `coco node id` and `coco node status`.
#[derive(Debug, clap::Subcommand)]
pub enum NodeAction {
    /// Make (on first use) and print this data directory's validator identity: the
    /// entry for the genesis's `consortium.nodes` or for an `add-node` proposal.
    Id {
        /// Data directory of the validator.
        #[arg(long)]
        data_dir: PathBuf,
        /// Also write the entry into this genesis file's `consortium.nodes` (replacing
        /// an entry with the same id).
        #[arg(long, value_name = "GENESIS")]
        add_to: Option<PathBuf>,
    },
    /// Print a running validator's role, leader, term, height and peers.
    Status {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
}

/// Default block time of a validator's leader.
pub(crate) const VALIDATOR_BLOCK_TIME_MS: u64 = 100;

impl NodeArgs {
    /// The node configuration these flags describe.
    pub fn node_config(&self) -> Result<NodeConfig, NodeError> {
        let data_dir = self.data_dir.clone().unwrap_or_default();
        let genesis = match &self.genesis {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| NodeError::Setup {
                path: path.clone(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        let validator = self.peer_listen.map(|listen| ValidatorOptions {
            listen,
            advertise: self.advertise.clone(),
            join: self.join.clone(),
            snapshot_every: self.snapshot_every,
            apply: self.apply.into(),
            block_time: Duration::from_millis(
                self.block_time.unwrap_or(VALIDATOR_BLOCK_TIME_MS).max(1),
            ),
        });
        Ok(NodeConfig {
            host: self.host,
            port: self.port,
            mining: match self.block_time {
                Some(ms) if validator.is_none() => {
                    crate::chain::Mining::Interval(Duration::from_millis(ms.max(1)))
                }
                _ => crate::chain::Mining::Manual,
            },
            genesis,
            validator,
            ..NodeConfig::serve(data_dir)
        })
    }
}

/// `coco node id`: the identity of `data_dir`, as a genesis `consortium.nodes` entry;
/// with `add_to`, also written into that genesis file.
pub fn run_node_id(data_dir: &Path, add_to: Option<&Path>) -> Result<String, NodeError> {
    let entry = crate::node::validator_identity(data_dir)?;
    let text = serde_json::to_string_pretty(&entry).unwrap_or_default();
    if let Some(path) = add_to {
        let setup = |reason: String| NodeError::Setup {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| setup(e.to_string()))?;
        let mut genesis: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| setup(format!("not JSON: {e}")))?;
        let nodes = genesis
            .pointer_mut("/config/consortium")
            .and_then(|c| c.as_object_mut())
            .ok_or_else(|| setup("no config.consortium section".into()))?
            .entry("nodes")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        let list = nodes
            .as_array_mut()
            .ok_or_else(|| setup("config.consortium.nodes is not a list".into()))?;
        let value = serde_json::to_value(&entry).map_err(|e| setup(e.to_string()))?;
        list.retain(|n| n.get("id") != value.get("id"));
        list.push(value);
        let out = serde_json::to_string_pretty(&genesis).map_err(|e| setup(e.to_string()))?;
        std::fs::write(path, out + "\n").map_err(|e| setup(e.to_string()))?;
    }
    Ok(text)
}

/// Runs `coco init`; returns what to print.
pub fn run_init(args: &InitArgs) -> Result<String, NodeError> {
    let text = std::fs::read_to_string(&args.genesis).map_err(|e| NodeError::Setup {
        path: args.genesis.clone(),
        reason: e.to_string(),
    })?;
    let hash = init_chain(&args.data_dir, &text)?;
    Ok(format!(
        "initialised {} with genesis block {hash}",
        args.data_dir.display()
    ))
}

/// Decodes every block of an RLP file of concatenated blocks.
fn read_blocks(path: &Path) -> Result<Vec<Block<TxEnvelope>>, NodeError> {
    let setup = |reason: String| NodeError::Setup {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| setup(e.to_string()))?;
    let mut rest = bytes.as_slice();
    let mut blocks = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let block = Block::<TxEnvelope>::decode(&mut rest).map_err(|e| {
            setup(format!(
                "block {} of the file (byte {offset}) is not an RLP block: {e}",
                blocks.len() + 1
            ))
        })?;
        blocks.push(block);
    }
    Ok(blocks)
}

/// Runs `coco import`: executes and checks each block after the current head (blocks
/// the chain already has must be the same blocks); returns what to print.
pub fn run_import(args: &ImportArgs) -> Result<String, NodeError> {
    let blocks = read_blocks(&args.file)?;
    let chain = open_existing(&args.data_dir)?;
    let total = blocks.len();
    let (mut imported, mut known) = (0usize, 0usize);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for (i, block) in blocks.into_iter().enumerate() {
        let number = block.header.number;
        let head = chain.head().header.number;
        if number <= head {
            let ours = chain.store().block(number)?.map(|b| b.header.hash_slow());
            let theirs = block.header.hash_slow();
            if ours != Some(theirs) {
                return Err(NodeError::Setup {
                    path: args.file.clone(),
                    reason: format!(
                        "block {number} ({theirs}) differs from the chain's block {number}: this file is another chain"
                    ),
                });
            }
            known += 1;
            continue;
        }
        chain.import(block)?;
        imported += 1;
        if interactive {
            eprint!("\rimporting: {}/{total} blocks (head {number})", i + 1);
            let _ = std::io::stderr().flush();
        } else if (i + 1) % 1000 == 0 || i + 1 == total {
            tracing::info!(done = i + 1, total, head = number, "importing");
        }
    }
    if interactive {
        eprintln!();
    }
    let head = chain.head();
    if args.finalize_head {
        crate::node::set_finalized(&args.data_dir, head.header.number)?;
    }
    Ok(format!(
        "imported {imported} blocks ({known} already present); head is block {} {}{}",
        head.header.number,
        head.header.hash_slow(),
        if args.finalize_head {
            " (safe and finalized)"
        } else {
            ""
        }
    ))
}

/// `coco node status`: a validator's view of its cluster, one line per peer.
pub async fn node_status(url: &str) -> Result<String, super::rpc::RpcClientError> {
    let rpc = super::rpc::Rpc::new(url, Duration::from_secs(5))?;
    let status: crate::consensus::Status =
        rpc.call("coco_nodeStatus", serde_json::json!([])).await?;
    let mut out = format!(
        "validator {} ({}), term {}, leader {}, height {}\n",
        status.id,
        status.role,
        status.term,
        status.leader.as_deref().unwrap_or("none"),
        status.height
    );
    for peer in &status.peers {
        out.push_str(&format!(
            "  {} {} {}{}\n",
            peer.id,
            peer.addr,
            if peer.voter { "voter" } else { "learner" },
            peer.lag
                .map(|l| format!(", {l} entries behind"))
                .unwrap_or_default()
        ));
    }
    Ok(out.trim_end().to_string())
}

/// `coco node --config FILE`: the file's settings as flags, placed before the command
/// line's own (which, coming later, win). Other commands are returned unchanged.
pub fn expand_node_config(
    args: Vec<std::ffi::OsString>,
) -> Result<Vec<std::ffi::OsString>, NodeError> {
    let is = |a: &std::ffi::OsString, s: &str| a.to_str() == Some(s);
    if args.get(1).is_none_or(|a| !is(a, "node")) {
        return Ok(args);
    }
    let path = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        match a.strip_prefix("--config=") {
            Some(path) => Some(PathBuf::from(path)),
            None if a == "--config" => args.get(i + 1).map(PathBuf::from),
            None => None,
        }
    });
    let Some(path) = path else {
        return Ok(args);
    };
    let setup = |reason: String| NodeError::Setup {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| setup(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| setup(format!("not TOML: {e}")))?;
    let mut flags: Vec<std::ffi::OsString> = Vec::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(true) => {
                flags.push(format!("--{key}").into());
                continue;
            }
            toml::Value::Boolean(false) => continue,
            other => {
                return Err(setup(format!(
                    "`{key}`: {} is not a setting",
                    other.type_str()
                )));
            }
        };
        if key == "config" {
            return Err(setup("`config` cannot name another file".into()));
        }
        flags.push(format!("--{key}").into());
        flags.push(value.into());
    }
    let mut out = args[..2].to_vec();
    out.extend(flags);
    out.extend(args[2..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<NodeArgs, String> {
        let args = args.iter().map(std::ffi::OsString::from).collect();
        let args = expand_node_config(args).map_err(|e| e.to_string())?;
        match Cli::try_parse_from(args)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Node(node) => Ok(node),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn a_config_file_sets_flags_the_command_line_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "data-dir = \"v2\"\nport = 8546\npeer-listen = \"127.0.0.1:9546\"\n\
             join = \"127.0.0.1:9545\"\ngenesis = \"genesis.json\"\nblock-time = 200\n\
             apply = \"write-set\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let node = parse(&["coco", "node", "--config", f, "--port", "9000"]).unwrap();
        assert_eq!(node.data_dir, Some(PathBuf::from("v2")));
        assert_eq!(node.port, 9000, "the command line wins");
        assert_eq!(node.peer_listen, Some("127.0.0.1:9546".parse().unwrap()));
        assert_eq!(node.join.as_deref(), Some("127.0.0.1:9545"));
        assert_eq!(node.block_time, Some(200));
        assert_eq!(node.apply, ApplyMode::WriteSet);

        std::fs::write(&file, "data-dir = \"v\"\nno-such-setting = 1\n").unwrap();
        let err = parse(&["coco", "node", "--config", f]).unwrap_err();
        assert!(err.contains("--no-such-setting"), "{err}");
        std::fs::write(&file, "data-dir = [1]\n").unwrap();
        let err = parse(&["coco", "node", "--config", f]).unwrap_err();
        assert!(err.contains("`data-dir`: array is not a setting"), "{err}");
        std::fs::write(&file, "data-dir = \n").unwrap();
        let err = parse(&["coco", "node", "--config", f]).unwrap_err();
        assert!(err.contains("not TOML"), "{err}");
    }
}
