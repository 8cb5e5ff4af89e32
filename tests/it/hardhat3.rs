//! Hardhat 3.18.0 against a coco dev node: the project in `tests/hardhat3`
//! (ESM config, hardhat-ethers, hardhat-ethers-chai-matchers, and both test
//! runners Hardhat 3 ships, mocha and node:test), run by `.tools/bin/hardhat3`
//! under the Node 22 that `scripts/install-tools.sh` puts in `.tools/hh3`
//! beside its packages (Hardhat 3 needs Node >= 22.13; the Hardhat 2 tests in
//! `js_tools.rs` keep `.tools/node_modules` and the machine's Node). Every flow
//! was first checked against anvil 1.7.1. As in `js_tools.rs`, a test asserts
//! the tool's exit status and shows its whole output when it is not 0.

use crate::common::*;
use crate::js_tools::{assert_mocha_passed, call, hardhat_out, require_package, rpc, run, word};

use alloy::primitives::keccak256;
use serde_json::{Value, json};
use std::path::Path;
use tokio::process::Command;

/// `hardhat3 <args>` in `tests/hardhat3`, with its cache and artifacts in
/// `out` (so parallel runs and the source tree stay apart).
fn hardhat3(out: &Path, args: &[&str]) -> Command {
    let dir = repo_root().join("tests/hardhat3");
    require_package(&dir, "hardhat");
    let mut cmd = Command::new(tool("hardhat3"));
    cmd.args(args)
        .current_dir(&dir)
        .env("COCO_HARDHAT_OUT", out)
        // No prompts (telemetry consent), no telemetry.
        .env("CI", "true")
        .env("HARDHAT_DISABLE_TELEMETRY", "true")
        .env_remove("COCO_HARDHAT_HELPERS");
    cmd
}

/// `hardhat test` ran both runners without a failure: its closing line is
/// `N passing (M mocha, K nodejs)` with M and K above 0 (a skipped test counts
/// there too; see `assert_none_skipped`). Returns (M, K).
fn assert_both_runners_passed(out: &str) -> (u64, u64) {
    assert!(!out.contains(" failing"), "hardhat test:\n{out}");
    let counts = out
        .lines()
        .rev()
        .find_map(|l| {
            let (_, runners) = l.trim().split_once(" passing (")?;
            let (mocha, nodejs) = runners.strip_suffix(" nodejs)")?.split_once(" mocha, ")?;
            Some((mocha.parse::<u64>().ok()?, nodejs.parse::<u64>().ok()?))
        })
        .unwrap_or_else(|| panic!("no `N passing (M mocha, K nodejs)` line:\n{out}"));
    assert!(counts.0 > 0 && counts.1 > 0, "a runner ran no test:\n{out}");
    counts
}

/// No test was skipped: both reporters mark a pending or skipped test or suite
/// with a line `- <title>` (mocha also prints `N pending`).
fn assert_none_skipped(out: &str) {
    assert!(
        !out.contains(" pending") && !out.lines().any(|l| l.trim_start().starts_with("- ")),
        "tests were skipped:\n{out}"
    );
}

/// `hardhat run scripts/deploy.js --network coco`: compiles contracts/
/// offline with solcjs, deploys Token and Counter, increments once (its
/// receipt's Incremented event and `queryFilter` checked by the script),
/// prints the addresses; the node then holds the code, the storage and the log.
#[tokio::test]
async fn hardhat3_run_deploy_script() {
    let node = TestNode::spawn().await;
    let (_tmp, out) = hardhat_out();
    let stdout = run(
        hardhat3(&out, &["run", "scripts/deploy.js", "--network", "coco"]),
        &node,
    )
    .await;
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in the deploy script's output:\n{stdout}"));
    let deployed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let text = |key: &str| {
        deployed[key]
            .as_str()
            .unwrap_or_else(|| panic!("no `{key}` in {deployed}"))
            .to_lowercase()
    };
    let (token, counter, deployer) = (text("token"), text("counter"), text("deployer"));
    assert_eq!(deployer, DEV_ADDRESSES[0].to_lowercase());
    let chain_id = rpc(&node, "eth_chainId", json!([])).await;
    let printed = deployed["chainId"].as_u64().expect("chainId");
    assert_eq!(json!(format!("{printed:#x}")), chain_id);

    for addr in [&token, &counter] {
        let code = rpc(&node, "eth_getCode", json!([addr, "latest"])).await;
        assert_ne!(code, json!("0x"), "no code at {addr}");
    }
    // Counter.number() == 1; Token.balanceOf(deployer) == 1e24.
    assert_eq!(call(&node, &counter, "0x8381f58a").await, word(1));
    let balance_of = format!("0x70a08231{:0>64}", deployer.trim_start_matches("0x"));
    assert_eq!(
        call(&node, &token, &balance_of).await,
        word(1_000_000 * 10u128.pow(18))
    );
    // The one Incremented(deployer, 1) the script's transaction logged.
    let logs = rpc(
        &node,
        "eth_getLogs",
        json!([{"address": counter, "fromBlock": "0x0", "toBlock": "latest"}]),
    )
    .await;
    let logs = logs.as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{logs:?}");
    let topics: Vec<String> = logs[0]["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| t.as_str().expect("topic").to_lowercase())
        .collect();
    assert_eq!(
        topics,
        [
            keccak256("Incremented(address,uint256)").to_string(),
            format!("0x{:0>64}", deployer.trim_start_matches("0x")),
        ]
    );
    assert_eq!(logs[0]["data"], json!(word(1)));
}

/// `hardhat test --network coco`: test/mocha/counter.js (hardhat-mocha with
/// hardhat-ethers-chai-matchers: emit, revertedWith, revertedWithCustomError,
/// changeEtherBalances, changeTokenBalances) and test/node/counter.js
/// (hardhat-node-test-runner with node:assert: receipts, logs, eth_call and
/// eth_estimateGas reverts decoded from the JSON-RPC error) in one run.
#[tokio::test]
async fn hardhat3_test_mocha_and_node_test() {
    let node = TestNode::spawn().await;
    let (_tmp, out) = hardhat_out();
    let stdout = run(hardhat3(&out, &["test", "--network", "coco"]), &node).await;
    assert_mocha_passed(&stdout);
    assert!(
        stdout.contains("Running Mocha tests") && stdout.contains("Running node:test tests"),
        "a runner did not run:\n{stdout}"
    );
    assert_both_runners_passed(&stdout);
}

/// test/{mocha,node}/helpers.js: Hardhat 3's network helpers on the connection
/// (loadFixture, takeSnapshot, mine, mineUpTo, time.increase, time.increaseTo)
/// under both runners. As in Hardhat 2 they need `web3_clientVersion` to
/// start with "hardhat", "zksync" or "anvil" (`--anvil-compat`) and the methods
/// evm_snapshot, evm_revert, evm_setNextBlockTimestamp and hardhat_mine.
#[tokio::test]
async fn hardhat3_network_helpers() {
    let mut config = coco::node::NodeConfig::test();
    config.anvil_compat = true;
    let node = TestNode::spawn_with(config).await;
    let (_tmp, out) = hardhat_out();
    let mut cmd = hardhat3(
        &out,
        &[
            "test",
            "--network",
            "coco",
            "test/mocha/helpers.js",
            "test/node/helpers.js",
        ],
    );
    cmd.env("COCO_HARDHAT_HELPERS", "1");
    let stdout = run(cmd, &node).await;
    assert_both_runners_passed(&stdout);
    assert_none_skipped(&stdout);
}
