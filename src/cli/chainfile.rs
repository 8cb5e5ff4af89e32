//! `coco init`, `coco import` and `coco node`: a chain from a geth genesis file and an
//! RLP block file, served read-mostly (no block production).

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use alloy::consensus::{Block, TxEnvelope};
use alloy::rlp::Decodable;
use clap::Args;

use crate::node::{NodeConfig, NodeError, init_chain, open_existing};

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
pub struct NodeArgs {
    /// Data directory made by `coco init` (and `coco import`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8545)]
    pub port: u16,
    /// Produce a block every N milliseconds with the pooled transactions (default: a
    /// consortium chain mines each transaction at once; other chains are only served).
    #[arg(long, value_name = "MS")]
    pub block_time: Option<u64>,
}

impl NodeArgs {
    /// The node configuration these flags describe.
    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            host: self.host,
            port: self.port,
            mining: self.block_time.map_or(crate::chain::Mining::Manual, |ms| {
                crate::chain::Mining::Interval(std::time::Duration::from_millis(ms.max(1)))
            }),
            ..NodeConfig::serve(self.data_dir.clone())
        }
    }
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
