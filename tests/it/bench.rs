//! `coco bench` (the load generator of scripts/bench.sh) on a small N against an
//! in-process node: every transaction must end in a success receipt. No timing is
//! asserted; speed lives in scripts/bench.sh.

use clap::Parser;
use coco::chain::Mining;
use coco::cli::bench::{BenchArgs, run};
use coco::node::NodeConfig;

use crate::common::TestNode;

fn args(url: &str, extra: &[&str]) -> BenchArgs {
    let base = ["bench", "--url", url, "--txs", "300", "--senders", "64"];
    BenchArgs::try_parse_from(base.iter().chain(extra)).expect("valid flags")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_batches_all_succeed() {
    let node = TestNode::spawn().await;
    let report = run(&args(&node.url, &["--batch", "50", "--concurrency", "4"]))
        .await
        .expect("the benchmark runs");
    assert_eq!(report.failures, 0, "errors: {:?}", report.errors);
    assert_eq!(report.succeeded, 300);
    assert!(report.check().is_ok());
    assert!(report.blocks >= 1);
    node.stop().await;
}

/// Open loop, single requests, against a node that mines only when told to: the
/// generator's evm_mine timer (as for `anvil --no-mining`) must mine everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_with_evm_mine_timer_all_succeed() {
    let node = TestNode::spawn_with(NodeConfig {
        mining: Mining::Manual,
        ..NodeConfig::test()
    })
    .await;
    let flags = ["--batch", "1", "--rate", "3000", "--mine-interval-ms", "20"];
    let report = run(&args(&node.url, &flags))
        .await
        .expect("the benchmark runs");
    assert_eq!(report.failures, 0, "errors: {:?}", report.errors);
    assert_eq!(report.succeeded, 300);
    assert_eq!(report.rate, Some(3000.0));
    node.stop().await;
}

/// One transaction at a time (`--wait-receipt`, one worker, batches of 1) on an
/// instant-mining node: each is sent after the previous one's receipt was read, so
/// each has a block of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_at_a_time_waits_for_each_receipt() {
    let node = TestNode::spawn().await;
    let flags = ["--batch", "1", "--concurrency", "1", "--wait-receipt"];
    let report = run(&args(&node.url, &flags))
        .await
        .expect("the benchmark runs");
    assert_eq!(report.failures, 0, "errors: {:?}", report.errors);
    assert_eq!(report.succeeded, 300);
    assert_eq!(report.blocks, 300, "one block per transaction");
    node.stop().await;
}
