//! `coco bench`: a load generator for any Ethereum JSON-RPC node (coco, anvil, …).
//!
//! The workload of issue 6: an ERC-20 (`contracts/out/Token.json`) is deployed from
//! dev account 0, which funds `--senders` accounts with ether and tokens; then
//! `--txs` `transfer` transactions (senders round-robin, consecutive nonces) are
//! signed and serialised into JSON-RPC request bodies **before** the clock starts.
//! `--concurrency` workers send them with `eth_sendRawTransaction` over HTTP in
//! batches of `--batch` (a JSON array; a plain object for 1), while one poller reads
//! each new block's receipts (`eth_getBlockTransactionCountByNumber` +
//! `eth_getBlockReceipts`, batched), so every receipt is fetched once. The clock
//! stops when the last receipt is seen; each must say success.
//!
//! Submodule `workload`: funding and signing; the JSON-RPC client is `cli::rpc`.
//!
//! Latency is send→receipt per transaction: from the moment its request is sent
//! (open loop, `--rate`: from its scheduled time, so a late send is not hidden) to the
//! poll that first returned its receipt (granularity `--poll-ms`). The generator's CPU
//! share is its process CPU time (user + system, `/proc/self/stat`, the counters
//! `getrusage(RUSAGE_SELF)` reads) over the timed wall time, in cores.
//! `--mine-interval-ms` calls `evm_mine` on a timer, for anvil `--no-mining`.
//! `--wait-receipt` makes each worker a client that sends, then asks for its receipts
//! (`eth_getTransactionReceipt`) until it has them, then sends again: with one worker
//! and batches of 1, one transaction at a time, latency as a wallet or script sees it.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::U64;
use clap::Parser;
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::rpc::{ReceiptLite, Replies, Reply, Rpc, RpcClientError};
use crate::node::{DEV_MNEMONIC, NodeError, dev_signers};
use workload::{Plan, Signing, fund, plan};

mod workload;

/// Gas limit of each benchmark transfer (one costs about 35,000).
const TRANSFER_GAS: u64 = 60_000;
/// Most blocks asked for in one `eth_getBlockReceipts` batch.
const RECEIPT_BLOCKS_PER_POLL: u64 = 50;

/// `coco bench` flags.
#[derive(Debug, Clone, Parser)]
#[command(name = "bench")]
pub struct BenchArgs {
    /// HTTP URL of the node's JSON-RPC endpoint; several, comma-separated, spread the
    /// senders' requests over them (validators of one cluster: setup and receipts use
    /// the first).
    #[arg(long, default_value = "http://127.0.0.1:8545", value_delimiter = ',')]
    pub url: Vec<String>,
    /// Number of timed ERC-20 transfers.
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Number of sending accounts (mnemonic indices 1..=S), at least 64.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(64..))]
    pub senders: u32,
    /// Transactions per JSON-RPC request (1: a plain request, more: a batch).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Concurrent sending workers (each waits for its request's answer).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Chain id to sign for (default: the node's eth_chainId).
    #[arg(long)]
    pub chain_id: Option<u64>,
    /// Mnemonic of the dev accounts (account 0 funds the senders).
    #[arg(long, default_value = DEV_MNEMONIC)]
    pub mnemonic: String,
    /// Open loop: send at this many transactions per second (default: closed loop,
    /// as fast as the workers are answered).
    #[arg(long, value_name = "TX_PER_S")]
    pub rate: Option<f64>,
    /// Call evm_mine every this many milliseconds (for a node that does not mine by
    /// itself, such as `anvil --no-mining`).
    #[arg(long, value_name = "MS")]
    pub mine_interval_ms: Option<u64>,
    /// Pause between receipt polls when no new block has appeared, milliseconds.
    #[arg(long, default_value_t = 1)]
    pub poll_ms: u64,
    /// Each worker waits for the receipts of its request before sending the next, as
    /// `cast send` or ethers' `wait()` do: it asks `eth_getTransactionReceipt` right
    /// after the send is answered, then every `--poll-ms` (no block poller runs).
    /// With `--concurrency 1 --batch 1`: one transaction at a time.
    #[arg(long)]
    pub wait_receipt: bool,
    /// maxFeePerGas of every transaction, gwei (the priority fee is 1 gwei). Full
    /// blocks raise the base fee 12.5 % each (EIP-1559): a long run needs headroom.
    #[arg(long, default_value_t = 1000)]
    pub max_fee_gwei: u64,
    /// Give up on missing receipts (and on an unanswered request) after this long,
    /// seconds; what is missing then counts as failed.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The HTTP request failed.
    #[error("HTTP request to the node failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A call failed or its answer did not have the expected shape.
    #[error("{method}: {message}")]
    Rpc {
        /// The JSON-RPC method (or the step).
        method: String,
        /// The node's error, or what was wrong with its answer.
        message: String,
    },
    /// The accounts could not be derived from the mnemonic.
    #[error(transparent)]
    Keys(#[from] NodeError),
    /// Setup (signing, funding) did not complete.
    #[error("setup: {0}")]
    Setup(String),
    /// The run completed with failures (reported by [`BenchReport::check`]).
    #[error("{failures} of {txs} transactions failed (first errors: {errors:?})")]
    Failed {
        /// Failed transactions.
        failures: usize,
        /// Transactions sent.
        txs: usize,
        /// The first error messages.
        errors: Vec<String>,
    },
}

impl From<RpcClientError> for BenchError {
    fn from(err: RpcClientError) -> Self {
        match err {
            RpcClientError::Http(e) => Self::Http(e),
            RpcClientError::Node { method, error } => rpc_err(&method, error),
            RpcClientError::Answer { method, message } => Self::Rpc { method, message },
        }
    }
}

fn rpc_err(method: &str, message: impl ToString) -> BenchError {
    BenchError::Rpc {
        method: method.into(),
        message: message.to_string(),
    }
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The node's `web3_clientVersion`.
    pub node: String,
    /// Timed transactions.
    pub txs: usize,
    /// Sending accounts.
    pub senders: u32,
    /// Transactions per request.
    pub batch: u32,
    /// Concurrent workers.
    pub concurrency: u32,
    /// Open-loop target rate, if any.
    pub rate: Option<f64>,
    /// The evm_mine interval, if any.
    pub mine_interval_ms: Option<u64>,
    /// First send to last receipt, seconds.
    pub seconds: f64,
    /// Transactions per second to receipts.
    pub tps: f64,
    /// Median send→receipt latency, ms.
    pub p50_ms: f64,
    /// 99th-percentile send→receipt latency, ms.
    pub p99_ms: f64,
    /// Slowest send→receipt latency, ms.
    pub max_ms: f64,
    /// Median time from a send request (a whole batch; open loop: from its scheduled
    /// time) to its answer, ms.
    pub send_p50_ms: f64,
    /// 99th percentile of that, ms.
    pub send_p99_ms: f64,
    /// Transactions with a success receipt.
    pub succeeded: usize,
    /// Rejected sends, failed receipts and missing receipts.
    pub failures: usize,
    /// The first few error messages.
    pub errors: Vec<String>,
    /// Blocks that held the timed transactions.
    pub blocks: u64,
    /// The generator's CPU time during the timed phase, seconds.
    pub client_cpu_seconds: f64,
    /// That CPU time over the wall time (cores busy; 1.0 = one core).
    pub client_cpu_share: f64,
    /// Funding (deploy, ether, tokens; receipts awaited), seconds.
    pub setup_seconds: f64,
    /// Signing and serialising the timed transactions, seconds.
    pub sign_seconds: f64,
}

impl BenchReport {
    /// `Err` unless every transaction succeeded.
    pub fn check(&self) -> Result<(), BenchError> {
        match self.failures {
            0 => Ok(()),
            failures => Err(BenchError::Failed {
                failures,
                txs: self.txs,
                errors: self.errors.clone(),
            }),
        }
    }

    /// The report as one line of JSON, or as text (one `field: value` a line).
    pub fn render(&self, as_json: bool) -> String {
        let value =
            serde_json::to_value(self).unwrap_or_else(|e| json!({ "error": e.to_string() }));
        match value {
            Value::Object(fields) if !as_json => fields
                .iter()
                .map(|(k, v)| format!("{k:>18}: {v}\n"))
                .collect(),
            value => value.to_string(),
        }
    }
}

/// Runs the benchmark against `args.url`.
pub async fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let first = args
        .url
        .first()
        .map_or("http://127.0.0.1:8545", String::as_str);
    let rpc = Rpc::new(first, timeout)?;
    let miner = args.mine_interval_ms.map(|ms| {
        let rpc = rpc.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(ms.max(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = rpc.call::<Value>("evm_mine", json!([])).await {
                    tracing::warn!(error = %e, "evm_mine failed");
                }
            }
        })
    });
    let result = run_with(args, &rpc, timeout).await;
    if let Some(miner) = miner {
        miner.abort();
    }
    result
}

async fn run_with(
    args: &BenchArgs,
    rpc: &Rpc,
    timeout: Duration,
) -> Result<BenchReport, BenchError> {
    let node: String = rpc.call("web3_clientVersion", json!([])).await?;
    let chain_id = match args.chain_id {
        Some(id) => id,
        None => rpc.call::<U64>("eth_chainId", json!([])).await?.to(),
    };
    let signing = Signing {
        chain_id,
        max_fee: u128::from(args.max_fee_gwei) * 1_000_000_000,
    };
    let clock = Instant::now();
    let mut keys = dev_signers(&args.mnemonic, args.senders + 1)?;
    let senders = keys.split_off(1);
    let (token, nonces) = fund(args, rpc, signing, &keys[0], &senders, timeout).await?;
    let setup_seconds = clock.elapsed().as_secs_f64();
    tracing::info!(%token, seconds = setup_seconds, "senders funded");

    let clock = Instant::now();
    let plan = Arc::new(plan(args, signing, token, &senders, &nonces)?);
    let sign_seconds = clock.elapsed().as_secs_f64();
    tracing::info!(
        txs = args.txs,
        seconds = sign_seconds,
        "transactions signed"
    );

    let first_block = rpc.block_number().await? + 1;
    let (n, batch) = (args.txs, args.batch as usize);
    let sent_ns: Arc<Vec<AtomicU64>> =
        Arc::new(plan.bodies.iter().map(|_| AtomicU64::new(0)).collect());
    let (cursor, rejected) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let targets = args
        .url
        .iter()
        .map(|url| Rpc::new(url, timeout))
        .collect::<Result<Vec<_>, _>>()?;
    let workers: Vec<_> = (0..args.concurrency as usize)
        .map(|w| {
            let rpc = targets.get(w % targets.len().max(1)).unwrap_or(rpc).clone();
            let (plan, sent_ns) = (plan.clone(), sent_ns.clone());
            let (cursor, rejected, rate) = (cursor.clone(), rejected.clone(), args.rate);
            let wait = args
                .wait_receipt
                .then(|| Duration::from_millis(args.poll_ms));
            let deadline = Instant::now() + timeout;
            tokio::spawn(async move {
                let mut errors: Vec<(usize, String)> = Vec::new();
                let mut seen: Vec<Seen> = Vec::new();
                // Per request: send → answer, ns.
                let mut answered: Vec<u64> = Vec::new();
                loop {
                    let j = cursor.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = plan.bodies.get(j) else {
                        break;
                    };
                    let at = match rate {
                        Some(rate) => {
                            let due = start + Duration::from_secs_f64((j * batch) as f64 / rate);
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    sent_ns[j].store((at - start).as_nanos() as u64, Ordering::Relaxed);
                    let before = errors.len();
                    let txs = j * batch..((j + 1) * batch).min(n);
                    send_batch(&rpc, body, txs.clone(), &mut errors).await;
                    answered.push(at.elapsed().as_nanos() as u64);
                    rejected.fetch_add(errors.len() - before, Ordering::Relaxed);
                    if let Some(poll) = wait {
                        let sent: Vec<usize> =
                            (txs.filter(|i| !errors[before..].iter().any(|e| e.0 == *i))).collect();
                        await_receipts(&rpc, &plan, sent, start, poll, deadline, &mut seen).await;
                    }
                }
                (errors, seen, answered)
            })
        })
        .collect();
    let mut receipts = match args.wait_receipt {
        true => Receipts::new(n),
        false => poll_receipts(args, rpc, &plan, first_block, start, timeout, &rejected).await?,
    };
    let mut worker_results = Vec::with_capacity(workers.len());
    for worker in workers {
        let worker = tokio::time::timeout(timeout, worker).await;
        let result = worker.map_err(|_| BenchError::Setup("a sending worker hangs".into()))?;
        worker_results
            .push(result.map_err(|e| BenchError::Setup(format!("a sending worker: {e}")))?);
    }
    let wall = start.elapsed().as_secs_f64();
    let client_cpu_seconds = cpu_seconds() - cpu_start;

    // A transaction fails when the node rejected it, its receipt says failure, or its
    // receipt never came.
    let (mut failed, mut errors) = (vec![false; n], Vec::new());
    let mut blocks = std::collections::HashSet::new();
    let mut answers = Vec::with_capacity(plan.bodies.len());
    for (list, seen, answered) in worker_results {
        answers.extend(answered);
        for (i, e) in list {
            failed[i] = true;
            if errors.len() < 5 {
                errors.push(format!("tx {i}: {e}"));
            }
        }
        for Seen { tx, at, ok, block } in seen {
            receipts.seen[tx] = Some((at, ok));
            receipts.count += 1;
            blocks.extend(block);
        }
    }
    receipts.blocks += blocks.len() as u64;
    let (mut latencies, mut last, mut missing) = (Vec::with_capacity(n), 0u64, 0);
    for (i, receipt) in receipts.seen.iter().enumerate() {
        match *receipt {
            Some((at, ok)) => {
                last = last.max(at);
                latencies.push(at.saturating_sub(sent_ns[i / batch].load(Ordering::Relaxed)));
                if !ok && !failed[i] && errors.len() < 10 {
                    errors.push(format!("tx {i}: receipt status 0"));
                }
                failed[i] |= !ok;
            }
            None => (failed[i], missing) = (true, missing + 1),
        }
    }
    if let Some(i) = receipts.seen.iter().position(Option::is_none) {
        let hash = plan.index.iter().find(|(_, j)| **j == i).map(|(h, _)| *h);
        errors.push(format!(
            "{missing} receipts missing (first: tx {i}, {hash:?})"
        ));
    }
    let failures = failed.iter().filter(|f| **f).count();
    latencies.sort_unstable();
    answers.sort_unstable();
    let pct = |q: f64| percentile_ms(&latencies, q);
    let seconds = last as f64 / 1e9;
    Ok(BenchReport {
        node,
        txs: n,
        senders: args.senders,
        batch: args.batch,
        concurrency: args.concurrency,
        rate: args.rate,
        mine_interval_ms: args.mine_interval_ms,
        seconds,
        tps: (n - failures) as f64 / seconds.max(f64::EPSILON),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        send_p50_ms: percentile_ms(&answers, 0.5),
        send_p99_ms: percentile_ms(&answers, 0.99),
        succeeded: n - failures,
        failures,
        errors,
        blocks: receipts.blocks,
        client_cpu_seconds,
        client_cpu_share: client_cpu_seconds / wall.max(f64::EPSILON),
        setup_seconds,
        sign_seconds,
    })
}

/// Sends one request body holding transactions `txs`; records each rejection.
async fn send_batch(rpc: &Rpc, body: &str, txs: Range<usize>, errors: &mut Vec<(usize, String)>) {
    let whole = |errors: &mut Vec<_>, e: String| errors.extend(txs.clone().map(|i| (i, e.clone())));
    match rpc.post(body.to_string()).await {
        Ok(bytes) => match serde_json::from_slice::<Replies<IgnoredAny>>(&bytes) {
            Ok(Replies::Many(replies)) => errors.extend(replies.into_iter().filter_map(|r| {
                let at = txs.start + r.id.unwrap_or(0) as usize;
                r.error.map(|e| (at.min(txs.end - 1), e.to_string()))
            })),
            Ok(Replies::One(Reply { error: Some(e), .. })) => whole(errors, e.to_string()),
            Ok(Replies::One(_)) => {}
            Err(e) => whole(errors, format!("undecodable answer: {e}")),
        },
        Err(e) => whole(errors, e.to_string()),
    }
}

/// A receipt a `--wait-receipt` worker read.
struct Seen {
    /// The planned transaction's index.
    tx: usize,
    /// When it was read, ns after the start.
    at: u64,
    /// Its status was success.
    ok: bool,
    block: Option<U64>,
}

/// `--wait-receipt`: asks for the receipts of transactions `txs` (sent, not rejected)
/// right away, then every `poll` until each has one or `deadline` passes; notes each
/// in `seen`.
async fn await_receipts(
    rpc: &Rpc,
    plan: &Plan,
    mut txs: Vec<usize>,
    start: Instant,
    poll: Duration,
    deadline: Instant,
    seen: &mut Vec<Seen>,
) {
    while !txs.is_empty() && Instant::now() < deadline {
        let calls: Vec<_> = (txs.iter())
            .map(|i| ("eth_getTransactionReceipt", json!([plan.hashes[*i]])))
            .collect();
        // A failed poll is asked again; what never comes counts as missing.
        let answers: Vec<Option<ReceiptLite>> = rpc.batch(&calls).await.unwrap_or_default();
        let at = start.elapsed().as_nanos() as u64;
        for r in answers.iter().flatten() {
            if let Some(k) = txs.iter().position(|i| plan.hashes[*i] == r.hash) {
                let ok = r.status == Some(U64::from(1));
                seen.push(Seen {
                    tx: txs.swap_remove(k),
                    at,
                    ok,
                    block: r.block,
                });
            }
        }
        if !txs.is_empty() {
            tokio::time::sleep(poll).await;
        }
    }
}

/// What the receipt poller saw.
struct Receipts {
    /// Per planned transaction: when its receipt was first seen (ns after the start)
    /// and whether it said success.
    seen: Vec<Option<(u64, bool)>>,
    /// Receipts seen.
    count: usize,
    /// Blocks that held planned transactions.
    blocks: u64,
}

impl Receipts {
    fn new(txs: usize) -> Self {
        Receipts {
            seen: vec![None; txs],
            count: 0,
            blocks: 0,
        }
    }

    /// Notes `receipt`, seen at `at`, if it is a planned one seen for the first time.
    fn record(&mut self, plan: &Plan, receipt: &ReceiptLite, at: u64) -> bool {
        match plan.index.get(&receipt.hash) {
            Some(&i) if self.seen[i].is_none() => {
                self.seen[i] = Some((at, receipt.status == Some(U64::from(1))));
                self.count += 1;
                true
            }
            _ => false,
        }
    }
}

/// One answer of a poll: a block's transaction count or its receipts.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum BlockAnswer {
    Count(U64),
    Receipts(Vec<ReceiptLite>),
}

/// Reads every new block's receipts until each planned transaction not rejected has
/// one, or the timeout passes. A block counts as read once its receipts are as many
/// as its transactions and all name it (a node may announce a block before its
/// receipts are readable, or answer with the next block); after a second without
/// progress, the missing transactions are also asked for one by one
/// (eth_getTransactionReceipt), so nothing is missed for good.
async fn poll_receipts(
    args: &BenchArgs,
    rpc: &Rpc,
    plan: &Plan,
    mut next: u64,
    start: Instant,
    timeout: Duration,
    rejected: &AtomicUsize,
) -> Result<Receipts, BenchError> {
    let mut out = Receipts::new(args.txs);
    let mut idle_since = Instant::now();
    while out.count + rejected.load(Ordering::Relaxed) < args.txs && start.elapsed() < timeout {
        let head = rpc.block_number().await?;
        if idle_since.elapsed() > Duration::from_secs(1) {
            let hashes = plan.index.iter().filter(|(_, i)| out.seen[**i].is_none());
            let calls: Vec<_> = (hashes.take(1000))
                .map(|(h, _)| ("eth_getTransactionReceipt", json!([h])))
                .collect();
            let receipts: Vec<Option<ReceiptLite>> = rpc.batch(&calls).await?;
            let at = start.elapsed().as_nanos() as u64;
            for r in receipts.iter().flatten() {
                if out.record(plan, r, at) {
                    tracing::warn!(tx = %r.hash, "receipt missed by the block reads");
                }
            }
            idle_since = Instant::now();
        }
        if head < next {
            tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
            continue;
        }
        let calls: Vec<_> = (next..=head.min(next + RECEIPT_BLOCKS_PER_POLL - 1))
            .flat_map(|b| {
                let b = json!([U64::from(b)]);
                [
                    ("eth_getBlockTransactionCountByNumber", b.clone()),
                    ("eth_getBlockReceipts", b),
                ]
            })
            .collect();
        let answers: Vec<Option<BlockAnswer>> = rpc.batch(&calls).await?;
        let (at, first) = (start.elapsed().as_nanos() as u64, next);
        for pair in answers.chunks(2) {
            let block = Some(U64::from(next));
            let receipts = match pair {
                // As many receipts as transactions, all of the block asked for (a node
                // may answer with a newer block while its head moves).
                [Some(BlockAnswer::Count(n)), Some(BlockAnswer::Receipts(r))]
                    if r.len() == n.to::<usize>() && r.iter().all(|r| r.block == block) =>
                {
                    r
                }
                // Not (fully) readable yet: read again from this block next time.
                _ => break,
            };
            next += 1;
            let mut ours = false;
            for r in receipts {
                ours |= out.record(plan, r, at);
            }
            out.blocks += u64::from(ours);
        }
        match next > first {
            true => idle_since = Instant::now(),
            false => tokio::time::sleep(Duration::from_millis(args.poll_ms)).await,
        }
    }
    Ok(out)
}

/// The `q` quantile of `sorted` (ns), in ms; NaN when empty.
fn percentile_ms(sorted: &[u64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        len => sorted[((len - 1) as f64 * q).round() as usize] as f64 / 1e6,
    }
}

/// CPU time of this process so far (user + system, every thread), seconds.
/// `/proc/self/stat` counts in USER_HZ ticks, 100 per second on Linux.
fn cpu_seconds() -> f64 {
    let parse = || -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let user: f64 = fields.get(11)?.parse().ok()?;
        let system: f64 = fields.get(12)?.parse().ok()?;
        Some((user + system) / 100.0)
    };
    parse().unwrap_or(f64::NAN)
}
