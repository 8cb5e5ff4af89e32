//! ethers 6.17.0, viem 2.57.20 and Hardhat 2.29.1 (installed into `.tools/` by
//! `scripts/install-tools.sh`), unmodified, against a coco node running the
//! confidential read policy.
//!
//! Each test spawns a confidential node, creates API keys — users A (dev
//! account 0) and B (dev account 1), an outsider C (dev account 2), an auditor,
//! and for Hardhat one key covering both A and B — and runs one flow written
//! the way a user of the tool would write it: `tests/js/confidential_ethers.mjs`,
//! `tests/js/confidential_viem.mjs` and `tests/hardhat/test/confidential.js`
//! (network `cocoConfidential`). The flows take the keys from the environment
//! (`COCO_KEY_A`, `COCO_KEY_B`, `COCO_KEY_C`, `COCO_KEY_AUDITOR`; `COCO_KEY` and
//! `COCO_OUTSIDER` for Hardhat), present them as an `Authorization` header or
//! as the URL path, print one line per check and exit non-zero when one fails;
//! a test here asserts the exit status and shows the tool's whole output when
//! it is not 0. Missing tools make the tests fail (see `common::tool`), never skip.

use crate::common::*;
use crate::js_tools::{hardhat, hardhat_out, node_script};

use alloy::primitives::Address;
use coco::rpc::auth::{KeyRecord, Role, generate_key, key_hash};
use serde_json::{Value, json};

use std::time::Duration;
use tokio::process::Command;

/// Any single flow taking longer than this is a hang. Generous: Hardhat
/// compiles with solcjs (WebAssembly) first, and tests run in parallel on two cores.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

/// The API keys of one confidential node.
struct Keys {
    /// User A: dev account 0 only.
    a: String,
    /// User B: dev account 1 only.
    b: String,
    /// Outsider C: dev account 2 only.
    c: String,
    /// One key covering both A and B (Hardhat's two signers).
    ab: String,
    /// An auditor.
    auditor: String,
}

/// A key for `addresses` with `role`, added to the running node.
fn add_key(node: &TestNode, role: Role, addresses: &[&str], label: &str) -> String {
    let key = generate_key();
    let addresses: Vec<Address> = addresses
        .iter()
        .map(|a| a.parse().expect("address"))
        .collect();
    node.node()
        .keys
        .insert(key_hash(&key), KeyRecord::new(role, addresses, label));
    key
}

/// A dev node (instant mining) running the confidential policy, with its keys.
async fn confidential_node() -> (TestNode, Keys) {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let [a, b, c] = [DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]];
    let keys = Keys {
        a: add_key(&node, Role::User, &[a], "a"),
        b: add_key(&node, Role::User, &[b], "b"),
        c: add_key(&node, Role::User, &[c], "c"),
        ab: add_key(&node, Role::User, &[a, b], "ab"),
        auditor: add_key(&node, Role::Auditor, &[], "auditor"),
    };
    (node, keys)
}

/// Runs `cmd` against `node` with `keys` to completion (with a timeout).
/// Returns (success, stdout, stderr).
async fn exec(mut cmd: Command, node: &TestNode, keys: &Keys) -> (bool, String, String) {
    cmd.env("COCO_URL", &node.url)
        .env("COCO_WS_URL", &node.ws_url)
        .env("COCO_PRIVATE_KEY", DEV_KEYS[0])
        .env("COCO_KEY_A", &keys.a)
        .env("COCO_KEY_B", &keys.b)
        .env("COCO_KEY_C", &keys.c)
        .env("COCO_KEY_AUDITOR", &keys.auditor)
        .env("COCO_KEY", &keys.ab)
        .env("COCO_OUTSIDER", DEV_ADDRESSES[2])
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true");
    crate::common::exec(cmd, FLOW_TIMEOUT).await
}

/// Runs `cmd` against `node`; panics with the command line and the tool's
/// output unless it exits 0. Returns stdout.
async fn run(cmd: Command, node: &TestNode, keys: &Keys) -> String {
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, node, keys).await;
    assert!(
        ok,
        "flow failed: {line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    stdout
}

/// The logs `key` gets from `eth_getLogs` over the whole chain.
async fn logs_as(node: &TestNode, key: &str) -> Vec<Value> {
    let res = call_as(
        node,
        Some(key),
        "eth_getLogs",
        json!([{"fromBlock": "0x0"}]),
    )
    .await;
    res["result"]
        .as_array()
        .unwrap_or_else(|| panic!("eth_getLogs: {res}"))
        .clone()
}

/// The flow scripts' success line (see tests/js/harness.mjs).
fn assert_all_checks_passed(out: &str) {
    assert!(
        out.lines().any(|l| l.trim() == "all checks passed") && !out.contains("FAIL - "),
        "checks:\n{out}"
    );
}

/// tests/js/confidential_ethers.mjs: A (key in a FetchRequest header) deploys
/// ConfidentialToken, transfers to B and reads its own balance; B reads its own;
/// C (key in the URL path) is refused A's ETH balance (-32030), gets `null` for
/// A's transaction and no Transfer log; anonymous and auditor answers; and over
/// `ws://…/<key>` WebSocketProviders contract.on("Transfer") reaches B and C only
/// for their own transfers.
#[tokio::test]
async fn ethers_confidential_flow() {
    let (node, keys) = confidential_node().await;
    let stdout = run(
        node_script("confidential_ethers.mjs", "ethers"),
        &node,
        &keys,
    )
    .await;
    assert_all_checks_passed(&stdout);
}

/// tests/js/confidential_viem.mjs: the http transport with the key in
/// `fetchOptions.headers` or the URL, and the webSocket transport with the key
/// in the URL: readContract as the holder works and as another caller reverts
/// "balances are private"; getBalance of another account is refused; hash
/// lookups answer "not found"; getLogs leaves out others' logs; and
/// watchContractEvent (filters over http, eth_subscribe over webSocket)
/// delivers a Transfer only to its parties.
#[tokio::test]
async fn viem_confidential_flow() {
    let (node, keys) = confidential_node().await;
    let stdout = run(node_script("confidential_viem.mjs", "viem"), &node, &keys).await;
    assert_all_checks_passed(&stdout);
}

/// `hardhat test --network cocoConfidential test/confidential.js`: the key in
/// `httpHeaders`, two private-key signers (A and B) covered by that one key,
/// both deploying and transferring, each reading its own balances, and reads of
/// an address the key does not cover refused. Then, outside Hardhat: C's key
/// sees none of those logs, the Hardhat key sees them.
#[tokio::test]
async fn hardhat_confidential_mocha() {
    let (node, keys) = confidential_node().await;
    let (_tmp, out) = hardhat_out();
    let stdout = run(
        hardhat(
            &out,
            &[
                "test",
                "--network",
                "cocoConfidential",
                "test/confidential.js",
            ],
        ),
        &node,
        &keys,
    )
    .await;
    assert!(
        stdout.contains(" passing") && !stdout.contains(" failing") && !stdout.contains(" pending"),
        "mocha summary (the tests must run, not be skipped):\n{stdout}"
    );
    // Two deployments (a Transfer each) and two transfers between A and B.
    let seen = logs_as(&node, &keys.ab).await;
    assert_eq!(seen.len(), 4, "the Hardhat key's logs: {seen:?}");
    assert_eq!(logs_as(&node, &keys.auditor).await.len(), 4);
    let outsider = logs_as(&node, &keys.c).await;
    assert!(outsider.is_empty(), "C sees A's and B's logs: {outsider:?}");
}
