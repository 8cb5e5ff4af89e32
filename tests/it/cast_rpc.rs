//! `cast rpc <method> <params…>` (Foundry's cast 1.7.1) for every development method,
//! each effect checked with cast's own reads. cast passes each parameter as JSON when
//! it parses as JSON (numbers, booleans) and as a string otherwise.

use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::common::*;

/// Any single cast invocation taking longer than this is a hang.
const CAST_TIMEOUT: Duration = Duration::from_secs(120);
const STRANGER: &str = "0x1111111111111111111111111111111111111111";
const TARGET: &str = "0x2222222222222222222222222222222222222222";
const WHALE: &str = "0x3333333333333333333333333333333333333333";

/// Runs `cast <args>` against the node: (success, stdout, stderr).
async fn cast_out(node: &TestNode, args: &[&str]) -> (bool, String, String) {
    let (sub, rest) = args.split_first().expect("a cast subcommand");
    let mut cmd = Command::new(tool("cast"));
    cmd.arg(sub)
        .args(["--rpc-url", node.url.as_str()])
        .args(rest)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(CAST_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("cast {args:?} timed out"))
        .unwrap_or_else(|e| panic!("cast {args:?} did not start: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cast <args>`, which must succeed; trimmed stdout.
async fn cast(node: &TestNode, args: &[&str]) -> String {
    let (ok, stdout, stderr) = cast_out(node, args).await;
    assert!(ok, "cast {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// `cast rpc <method> <params…>`; the result as JSON.
async fn rpc(node: &TestNode, method: &str, params: &[&str]) -> Value {
    let mut args = vec!["rpc", method];
    args.extend_from_slice(params);
    let out = cast(node, &args).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("cast rpc {method}: {e}: {out}"))
}

async fn number(node: &TestNode, args: &[&str]) -> u128 {
    let out = cast(node, args).await;
    let word = out.split_whitespace().next().unwrap_or_default();
    match word.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16),
        None => word.parse(),
    }
    .unwrap_or_else(|e| panic!("cast {args:?}: not a number: {out}: {e}"))
}

async fn block_number(node: &TestNode) -> u128 {
    number(node, &["block-number"]).await
}

async fn timestamp(node: &TestNode, block: &str) -> u128 {
    number(node, &["block", block, "--field", "timestamp"]).await
}

#[tokio::test]
async fn cast_rpc_mining_and_time_methods() {
    let node = TestNode::spawn().await;
    let start = block_number(&node).await;
    rpc(&node, "evm_mine", &[]).await;
    assert_eq!(block_number(&node).await, start + 1);
    rpc(&node, "anvil_mine", &["3"]).await;
    assert_eq!(block_number(&node).await, start + 4);
    rpc(&node, "hardhat_mine", &["0x2"]).await;
    assert_eq!(block_number(&node).await, start + 6);
    rpc(&node, "anvil_mine", &["2", "100"]).await;
    let head = block_number(&node).await;
    assert_eq!(head, start + 8);
    assert_eq!(
        timestamp(&node, &head.to_string()).await - timestamp(&node, &(head - 1).to_string()).await,
        100
    );

    let next = timestamp(&node, "latest").await + 1000;
    rpc(&node, "evm_setNextBlockTimestamp", &[&next.to_string()]).await;
    rpc(&node, "evm_mine", &[]).await;
    assert_eq!(timestamp(&node, "latest").await, next);
    let offset = rpc(&node, "evm_increaseTime", &["3600"]).await;
    assert!(offset.as_i64().unwrap() >= 3600, "{offset}");
    rpc(&node, "evm_mine", &[]).await;
    assert!(timestamp(&node, "latest").await >= next + 3600);

    // Automine off: a transaction waits in the pool until evm_mine.
    rpc(&node, "evm_setAutomine", &["false"]).await;
    let before = block_number(&node).await;
    let hash = cast(
        &node,
        &[
            "send",
            "--async",
            "--private-key",
            DEV_KEYS[0],
            STRANGER,
            "--value",
            "1",
        ],
    )
    .await;
    let status = rpc(&node, "txpool_status", &[]).await;
    assert_eq!(status["pending"], "0x1", "{status}");
    assert_eq!(block_number(&node).await, before);
    rpc(&node, "evm_mine", &[]).await;
    let receipt: Value =
        serde_json::from_str(&cast(&node, &["receipt", &hash, "--json"]).await).unwrap();
    assert_eq!(receipt["status"], "0x1");
    rpc(&node, "evm_setAutomine", &["true"]).await;
    cast(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[0],
            STRANGER,
            "--value",
            "1",
        ],
    )
    .await;
    assert_eq!(number(&node, &["balance", STRANGER]).await, 2);

    // Interval mining: empty blocks appear on their own.
    rpc(&node, "evm_setIntervalMining", &["200"]).await;
    let from = block_number(&node).await;
    let mut grew = false;
    for _ in 0..150 {
        if block_number(&node).await > from {
            grew = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(grew, "no block mined by interval mining");
    rpc(&node, "evm_setIntervalMining", &["0"]).await;
    rpc(&node, "evm_setAutomine", &["true"]).await;
    node.stop().await;
}

#[tokio::test]
async fn cast_rpc_state_patches_and_impersonation() {
    let node = TestNode::spawn().await;
    rpc(&node, "anvil_setBalance", &[TARGET, "0x56bc75e2d63100000"]).await;
    assert_eq!(
        number(&node, &["balance", TARGET]).await,
        100_000_000_000_000_000_000
    );
    rpc(&node, "hardhat_setBalance", &[STRANGER, "0x3e8"]).await;
    assert_eq!(number(&node, &["balance", STRANGER]).await, 1000);
    rpc(&node, "anvil_setCode", &[TARGET, "0x60016000"]).await;
    assert_eq!(cast(&node, &["code", TARGET]).await, "0x60016000");
    rpc(&node, "anvil_setNonce", &[TARGET, "0x5"]).await;
    assert_eq!(number(&node, &["nonce", TARGET]).await, 5);
    let word = format!("0x{:0>64}", "2a");
    rpc(&node, "anvil_setStorageAt", &[TARGET, "0x0", &word]).await;
    assert_eq!(cast(&node, &["storage", TARGET, "0"]).await, word);

    // Impersonation: unsigned sends from an account nobody holds the key of.
    rpc(&node, "anvil_setBalance", &[WHALE, "0xde0b6b3a7640000"]).await;
    let send = [
        "send",
        "--unlocked",
        "--from",
        WHALE,
        STRANGER,
        "--value",
        "7",
    ];
    let (ok, _, _) = cast_out(&node, &send).await;
    assert!(!ok, "not impersonated yet: refused");
    rpc(&node, "anvil_impersonateAccount", &[WHALE]).await;
    cast(&node, &send).await;
    assert_eq!(number(&node, &["balance", STRANGER]).await, 1007);
    assert_eq!(number(&node, &["nonce", WHALE]).await, 1);
    rpc(&node, "anvil_stopImpersonatingAccount", &[WHALE]).await;
    let (ok, _, _) = cast_out(&node, &send).await;
    assert!(!ok, "impersonation stopped: refused");
    assert_eq!(number(&node, &["balance", STRANGER]).await, 1007);
    node.stop().await;
}

#[tokio::test]
async fn cast_rpc_snapshots_reset_and_node_info() {
    let node = TestNode::spawn().await;
    let genesis_balance = number(&node, &["balance", DEV_ADDRESSES[0]]).await;
    cast(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[0],
            STRANGER,
            "--value",
            "5",
        ],
    )
    .await;
    let head = block_number(&node).await;
    let id = rpc(&node, "evm_snapshot", &[]).await;
    let id = id.as_str().unwrap().to_string();
    rpc(&node, "anvil_setBalance", &[STRANGER, "0x1"]).await;
    rpc(&node, "evm_mine", &[]).await;
    assert_eq!(number(&node, &["balance", STRANGER]).await, 1);
    assert_eq!(block_number(&node).await, head + 1);
    assert_eq!(rpc(&node, "evm_revert", &[&id]).await, Value::Bool(true));
    assert_eq!(number(&node, &["balance", STRANGER]).await, 5);
    assert_eq!(block_number(&node).await, head);
    assert_eq!(rpc(&node, "evm_revert", &[&id]).await, Value::Bool(false));

    let info = rpc(&node, "anvil_nodeInfo", &[]).await;
    assert_eq!(info["currentBlockNumber"], head as u64, "{info}");
    assert_eq!(info["environment"]["chainId"], 31337);

    rpc(&node, "anvil_reset", &[]).await;
    assert_eq!(block_number(&node).await, 0);
    assert_eq!(number(&node, &["balance", STRANGER]).await, 0);
    assert_eq!(
        number(&node, &["balance", DEV_ADDRESSES[0]]).await,
        genesis_balance
    );
    node.stop().await;
}
