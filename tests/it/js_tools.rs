//! Hardhat 2.29.1, ethers 6.17.0, viem 2.57.20 and web3.py 7.14.0 (installed
//! into `.tools/` by `scripts/install-tools.sh`) against a coco dev node.
//!
//! Each test spawns a node and runs one flow written the way a user of the
//! tool would write it: the Hardhat project in `tests/hardhat`, the scripts
//! `tests/js/{ethers,viem}.mjs` and `tests/py/web3_flow.py`. Every flow was
//! first checked against anvil 1.7.1; the flows print one line per check and
//! exit non-zero when one fails, so a test here asserts the exit status and
//! shows the tool's whole output when it is not 0. The flows get the node
//! from `COCO_URL`, `COCO_WS_URL` and `COCO_PRIVATE_KEY`, and can be run by
//! hand the same way against any node. Missing tools make the tests fail
//! (see `common::tool`), never skip.

use crate::common::*;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// Any single flow taking longer than this is a hang. Generous: Hardhat
/// compiles with solcjs (WebAssembly) first, and tests run in parallel on two cores.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `cmd` against `node` to completion (with a timeout). Returns
/// (success, stdout, stderr).
async fn exec(mut cmd: Command, node: &TestNode) -> (bool, String, String) {
    cmd.env("COCO_URL", &node.url)
        .env("COCO_WS_URL", &node.ws_url)
        .env("COCO_PRIVATE_KEY", DEV_KEYS[0])
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true");
    crate::common::exec(cmd, FLOW_TIMEOUT).await
}

/// Runs `cmd` against `node`; panics with the command line and the tool's
/// output unless it exits 0. Returns stdout.
pub(crate) async fn run(cmd: Command, node: &TestNode) -> String {
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, node).await;
    assert!(
        ok,
        "flow failed: {line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    stdout
}

/// `dir/node_modules/<package>` must resolve: `scripts/install-tools.sh`
/// links the projects' node_modules to `.tools/node_modules`.
pub(crate) fn require_package(dir: &Path, package: &str) {
    let path = dir.join("node_modules").join(package).join("package.json");
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-tools.sh (scripts/test.sh does)",
        path.display()
    );
}

/// `node tests/js/<script>` with the packages from `.tools`.
pub(crate) fn node_script(script: &str, package: &str) -> Command {
    let dir = repo_root().join("tests/js");
    require_package(&dir, package);
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).current_dir(&dir);
    cmd
}

/// `hardhat <args>` in `tests/hardhat`, with its cache and artifacts in `out`
/// (so parallel runs and the source tree stay apart).
pub(crate) fn hardhat(out: &Path, args: &[&str]) -> Command {
    let dir = repo_root().join("tests/hardhat");
    require_package(&dir, "hardhat");
    let mut cmd = Command::new(tool("hardhat"));
    cmd.args(args)
        .current_dir(&dir)
        .env("COCO_HARDHAT_OUT", out)
        .env_remove("COCO_HARDHAT_HELPERS");
    cmd
}

/// A temporary directory for one Hardhat run's cache/ and artifacts/.
pub(crate) fn hardhat_out() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("coco-hardhat-")
        .tempdir()
        .expect("temp dir");
    let path = tmp.path().to_path_buf();
    (tmp, path)
}

/// A JSON-RPC result, or a panic with the error.
pub(crate) async fn rpc(node: &TestNode, method: &str, params: Value) -> Value {
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    match res.get("result") {
        Some(v) => v.clone(),
        None => panic!("{method} {params}: {res}"),
    }
}

/// `eth_call` of `data` on `to` at latest; the return data.
pub(crate) async fn call(node: &TestNode, to: &str, data: &str) -> String {
    let out = rpc(
        node,
        "eth_call",
        json!([{"to": to, "data": data}, "latest"]),
    )
    .await;
    out.as_str().expect("hex return data").to_lowercase()
}

/// A 32-byte word holding `n`.
pub(crate) fn word(n: u128) -> String {
    format!("0x{n:064x}")
}

/// Mocha's summary must show passing tests and no failures.
pub(crate) fn assert_mocha_passed(out: &str) {
    assert!(
        out.contains(" passing") && !out.contains(" failing"),
        "mocha summary:\n{out}"
    );
}

/// The flow scripts' success line (see tests/js/harness.mjs, tests/py/web3_flow.py).
fn assert_all_checks_passed(out: &str) {
    assert!(
        out.lines().any(|l| l.trim() == "all checks passed") && !out.contains("FAIL - "),
        "checks:\n{out}"
    );
}

// ---------------------------------------------------------------------------
// Hardhat
// ---------------------------------------------------------------------------

/// `hardhat run scripts/deploy.js --network coco`: compiles contracts/
/// offline, deploys Token and Counter, increments once, prints the addresses.
#[tokio::test]
async fn hardhat_run_deploy_script() {
    let node = TestNode::spawn().await;
    let (_tmp, out) = hardhat_out();
    let stdout = run(
        hardhat(&out, &["run", "scripts/deploy.js", "--network", "coco"]),
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
}

/// `hardhat test --network coco`: tests/hardhat/test/counter.js with
/// hardhat-ethers and hardhat-chai-matchers (emit, revertedWith,
/// revertedWithCustomError, changeEtherBalances, changeTokenBalances).
#[tokio::test]
async fn hardhat_test_mocha() {
    let node = TestNode::spawn().await;
    let (_tmp, out) = hardhat_out();
    let stdout = run(hardhat(&out, &["test", "--network", "coco"]), &node).await;
    assert_mocha_passed(&stdout);
}

/// tests/hardhat/test/helpers.js: @nomicfoundation/hardhat-network-helpers
/// (loadFixture, takeSnapshot, mine, time.increase). They need
/// web3_clientVersion to start with "anvil", "hardhatnetwork" or "zksync" and
/// the methods evm_snapshot, evm_revert, evm_setNextBlockTimestamp and
/// hardhat_mine.
#[tokio::test]
async fn hardhat_network_helpers() {
    let mut config = coco::node::NodeConfig::test();
    config.anvil_compat = true;
    let node = TestNode::spawn_with(config).await;
    let (_tmp, out) = hardhat_out();
    let mut cmd = hardhat(&out, &["test", "--network", "coco", "test/helpers.js"]);
    cmd.env("COCO_HARDHAT_HELPERS", "1");
    let stdout = run(cmd, &node).await;
    assert_mocha_passed(&stdout);
    assert!(
        !stdout.contains(" pending"),
        "the helper tests were skipped:\n{stdout}"
    );
}

// ---------------------------------------------------------------------------
// ethers, viem, web3.py
// ---------------------------------------------------------------------------

/// tests/js/ethers.mjs: deploy, call, send, receipts and logs, queryFilter,
/// getFeeData, estimateGas, reverts (reason string and custom error), and
/// contract.on / provider.on("block") over a WebSocketProvider.
#[tokio::test]
async fn ethers_flow() {
    let node = TestNode::spawn().await;
    let stdout = run(node_script("ethers.mjs", "ethers"), &node).await;
    assert_all_checks_passed(&stdout);
}

/// tests/js/viem.mjs: deployContract, writeContract, waitForTransactionReceipt,
/// readContract, getLogs, simulateContract reverts, filters, and
/// watchContractEvent / watchBlocks over http (polling) and webSocket.
#[tokio::test]
async fn viem_flow() {
    let node = TestNode::spawn().await;
    let stdout = run(node_script("viem.mjs", "viem"), &node).await;
    assert_all_checks_passed(&stdout);
}

/// tests/py/web3_flow.py: deploy, transact, wait_for_transaction_receipt,
/// get_logs, log and block filters, reverts, eth_sendTransaction from a dev
/// account, and eth_subscribe over the WebSocketProvider.
#[tokio::test]
async fn web3py_flow() {
    let node = TestNode::spawn().await;
    let mut cmd = Command::new(tool("python-web3"));
    cmd.arg(repo_root().join("tests/py/web3_flow.py"))
        .current_dir(repo_root())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let stdout = run(cmd, &node).await;
    assert_all_checks_passed(&stdout);
}
