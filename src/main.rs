//! The `coco` binary: parse the command line, start tracing, run.

use clap::Parser;
use coco::cli::{Cli, Command, NodeAction, banner, run_import, run_init, run_keys, run_node_id};
use coco::node::Node;
use eyre::WrapErr;

fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jsonrpsee=warn,sled=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The command-line clients (gov, bench, node status) build reqwest clients without
    // a TLS configuration of their own; reqwest has no provider compiled in
    // (`rustls-no-provider`), so the process gets aws-lc-rs, the one peer TLS uses.
    // Library code never relies on it: peer TLS passes its provider explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse_from(coco::cli::expand_node_config(
        std::env::args_os().collect(),
    )?);
    let cli = match cli.command {
        Command::Keys(command) => {
            print!("{}", run_keys(command)?);
            return Ok(());
        }
        Command::Init(args) => {
            println!("{}", run_init(&args)?);
            return Ok(());
        }
        Command::Import(args) => {
            println!("{}", run_import(&args)?);
            return Ok(());
        }
        Command::Node(coco::cli::NodeArgs {
            action: Some(NodeAction::Id { data_dir, add_to }),
            ..
        }) => {
            println!("{}", run_node_id(&data_dir, add_to.as_deref())?);
            return Ok(());
        }
        command => Cli { command },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => {
                let config = args.node_config().wrap_err("reading --genesis")?;
                let node = Node::spawn(config)
                    .await
                    .wrap_err("starting the dev node")?;
                println!("{}", banner(&node, args.ephemeral));
                run_until_stopped(node).await
            }
            Command::Bench(args) => {
                let report = coco::cli::bench::run(&args).await?;
                println!("{}", report.render(args.json));
                Ok(report.check()?)
            }
            Command::Gov(args) => {
                // A refusal is the command's answer, not a crash: one line, exit code 1.
                if let Err(e) = coco::cli::gov::run(args).await {
                    eprintln!("{}", coco::cli::gov::report(&e));
                    std::process::exit(1);
                }
                Ok(())
            }
            Command::Node(coco::cli::NodeArgs {
                action: Some(NodeAction::Status { rpc }),
                ..
            }) => {
                println!("{}", coco::cli::node_status(&rpc).await?);
                Ok(())
            }
            Command::Node(args) => {
                let node = Node::spawn(args.node_config()?)
                    .await
                    .wrap_err("starting the node")?;
                let head = node.chain.head();
                println!(
                    "serving chain {} at block {} ({}) on {} (read policy: {})",
                    node.chain.spec().chain_id(),
                    head.header.number,
                    head.header.hash_slow(),
                    node.http_url(),
                    if node.open_policy {
                        "open"
                    } else {
                        "confidential"
                    }
                );
                if let Some(status) = node.validator_status() {
                    let peers: Vec<String> = status
                        .peers
                        .iter()
                        .map(|p| format!("{} {}", p.id, p.addr))
                        .collect();
                    println!(
                        "validator {} ({}) on peer endpoint {}; leader {}; height {}; peers: {}",
                        status.id,
                        status.role,
                        node.peer_addr().unwrap_or_default(),
                        status.leader.as_deref().unwrap_or("not known yet"),
                        status.height,
                        if peers.is_empty() {
                            "none yet (joining)".to_string()
                        } else {
                            peers.join(", ")
                        }
                    );
                }
                run_until_stopped(node).await
            }
            Command::Keys(_) | Command::Init(_) | Command::Import(_) => {
                unreachable!("handled before the runtime starts")
            }
        }
    })
}

/// Serves until the node fails, Ctrl-C or SIGTERM (`kill`, `docker stop`, systemd),
/// then stops it cleanly (an `--ephemeral` node removes its directory).
async fn run_until_stopped(node: Node) -> eyre::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .wrap_err("cannot listen for SIGTERM")?;
    tokio::select! {
        result = node.stopped() => result.wrap_err("the node stopped")?,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("shutting down");
        }
        _ = terminate.recv() => {
            tracing::info!("SIGTERM: shutting down");
        }
    }
    node.stop().await;
    Ok(())
}
