//! Command-line arguments and the dev banner.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::U256;
use clap::{Args, Parser, Subcommand};

use crate::chain::Mining;
use crate::node::{DEV_MNEMONIC, Node, NodeConfig};

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
    /// Answer web3_clientVersion as "anvil/…" so Hardhat's network helpers
    /// (loadFixture, time, mine) accept the node.
    #[arg(long)]
    pub anvil_compat: bool,
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
            mnemonic: self.mnemonic.clone(),
            accounts: self.accounts,
            balance: U256::from(self.balance) * U256::from(10u64).pow(U256::from(18u64)),
            mining: match self.block_time {
                Some(ms) => Mining::Interval(Duration::from_millis(ms.max(1))),
                None => Mining::Instant,
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
    let _ = writeln!(
        out,
        "Read policy:     open (every caller reads everything, as on any dev node)"
    );
    let _ = writeln!(
        out,
        "TEE platform:    virtual — NO PROTECTION: attestation proves nothing"
    );
    let _ = writeln!(out, "\nListening on {}", node.http_url());
    out
}
