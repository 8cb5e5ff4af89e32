//! Foundry beyond deploy-and-call (cast and forge 1.7.1 from `.tools/`): `cast run`
//! replays a mined transaction, `cast rpc debug_traceTransaction` and
//! `cast access-list` reach the tracing methods, and `forge test --fork-url` runs
//! tests/forge/test/Fork.t.sol against the node's state.
//!
//! What they call (seen through scripts/tools/rpc-log-proxy.js): `cast run` replays
//! locally — eth_getTransactionByHash, eth_getBlockByNumber (full), anvil_nodeInfo,
//! eth_getAccountInfo, eth_getStorageAt, eth_getCode, eth_getBalance,
//! eth_getTransactionCount, eth_chainId, eth_gasPrice; no debug_* method. `forge test
//! --fork-url` calls the same state readers. Nothing was missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::Provider;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::common::contracts::Counter;
use crate::common::*;

/// Any single tool invocation taking longer than this is a hang.
const TOOL_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `cmd` to completion; returns (success, stdout, stderr).
async fn exec(cmd: Command) -> (bool, String, String) {
    crate::common::exec(cmd, TOOL_TIMEOUT).await
}

/// Runs `cmd`, which must succeed (or fail, with `ok` false); returns stdout + stderr.
async fn expect(cmd: Command, ok: bool) -> String {
    let line = format!("{:?}", cmd.as_std());
    let (success, stdout, stderr) = exec(cmd).await;
    assert_eq!(
        success, ok,
        "{line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    format!("{stdout}\n{stderr}")
}

/// `cast <sub> --rpc-url <node> <rest>`.
fn cast(node: &TestNode, args: &[&str]) -> Command {
    let (sub, rest) = args.split_first().expect("a cast subcommand");
    let mut cmd = Command::new(tool("cast"));
    cmd.arg(sub)
        .args(["--rpc-url", node.url.as_str()])
        .args(rest);
    cmd
}

/// A Counter holding `value`, and the hash of the transaction that set it.
async fn counter_set_to(node: &TestNode, value: u64) -> (String, String) {
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let receipt = set_counter(&counter, value).await;
    assert!(receipt.status());
    (
        counter.address().to_string(),
        receipt.transaction_hash.to_string(),
    )
}

#[tokio::test]
async fn cast_run_replays_a_mined_transaction() {
    let node = TestNode::spawn().await;
    let (_, hash) = counter_set_to(&node, 42).await;
    let receipt = node
        .reader()
        .get_transaction_receipt(hash.parse().unwrap())
        .await
        .unwrap()
        .expect("mined");

    let out = expect(cast(&node, &["run", &hash]), true).await;
    // cast names selectors and events from a signature service when it can reach one;
    // offline (CI) it prints them raw. Either way the replayed call and event are there.
    let forty_two = format!("{:064x}", 42);
    assert!(
        out.contains("setNumber(42)") || out.contains(&format!("3fb5c1cb({forty_two})")),
        "the call in the trace:\n{out}"
    );
    let number_set = alloy::primitives::keccak256("NumberSet(address,uint256)").to_string();
    assert!(
        out.contains("emit NumberSet") || (out.contains(&number_set) && out.contains(&forty_two)),
        "the event in the trace:\n{out}"
    );
    assert!(out.contains("Transaction successfully executed."), "{out}");
    assert!(
        out.contains(&format!("Gas used: {}", receipt.gas_used)),
        "cast's replay uses the receipt's gas ({}):\n{out}",
        receipt.gas_used
    );
}

#[tokio::test]
async fn cast_reaches_the_tracing_methods() {
    let node = TestNode::spawn().await;
    let (address, hash) = counter_set_to(&node, 7).await;

    let out = expect(
        cast(
            &node,
            &[
                "rpc",
                "debug_traceTransaction",
                &hash,
                r#"{"tracer":"callTracer"}"#,
            ],
        ),
        true,
    )
    .await;
    let frame: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(frame["type"], "CALL");
    assert_eq!(frame["to"], json!(address.to_lowercase()));

    let out = expect(
        cast(
            &node,
            &[
                "access-list",
                "--from",
                DEV_ADDRESSES[0],
                "--json",
                &address,
                "increment()",
            ],
        ),
        true,
    )
    .await;
    let start = out.find('{').expect("JSON in the output");
    let list: Value = serde_json::Deserializer::from_str(&out[start..])
        .into_iter::<Value>()
        .next()
        .expect("one object")
        .expect("JSON");
    assert_eq!(
        list["accessList"][0]["storageKeys"],
        json!([format!("{:#066x}", 0)]),
        "{list}"
    );
}

/// A copy of tests/forge (foundry.toml and test/) with contracts/*.sol beside it, so
/// `src = "../../contracts"` resolves and forge writes only into the temp dir.
struct ForkProject {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    contracts: PathBuf,
}

impl ForkProject {
    fn new() -> ForkProject {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo_root();
        let contracts = tmp.path().join("contracts");
        let root = tmp.path().join("tests/forge");
        copy_files(&repo.join("contracts"), &contracts, "sol");
        copy_files(&repo.join("tests/forge"), &root, "toml");
        copy_files(&repo.join("tests/forge/test"), &root.join("test"), "sol");
        ForkProject {
            _tmp: tmp,
            root,
            contracts,
        }
    }

    /// `forge test --fork-url <node>` with the Counter's address and value in the
    /// environment (read by Fork.t.sol's cheatcodes).
    fn fork_test(&self, node: &TestNode, counter: &str, number: u64) -> Command {
        let mut cmd = Command::new(tool("forge"));
        cmd.args(["test", "--fork-url", node.url.as_str()])
            .current_dir(&self.root)
            .env("FOUNDRY_SOLC", tool("solc"))
            .env(
                "FOUNDRY_REMAPPINGS",
                format!("contracts/={}/", self.contracts.display()),
            )
            .env("FOUNDRY_OFFLINE", "true")
            .env("COUNTER", counter)
            .env("COUNTER_NUMBER", number.to_string())
            .env_remove("ETH_RPC_URL")
            .env_remove("FOUNDRY_PROFILE");
        cmd
    }
}

fn copy_files(from: &Path, to: &Path, ext: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[tokio::test]
async fn forge_test_runs_against_a_fork_of_the_node() {
    let node = TestNode::spawn().await;
    let (address, _) = counter_set_to(&node, 42).await;
    let project = ForkProject::new();

    let out = expect(project.fork_test(&node, &address, 42), true).await;
    assert!(out.contains("[PASS] test_readsDeployedCounter()"), "{out}");
    assert!(out.contains("[PASS] test_incrementsOnTheFork()"), "{out}");
    assert!(out.contains("2 passed; 0 failed"), "{out}");

    // The fork's increment stayed local: the node still holds 42.
    let provider = node.reader();
    let counter = Counter::new(address.parse().unwrap(), &provider);
    assert_eq!(counter.number().call().await.unwrap(), U256::from(42));

    // The test reads the node's value: told another one, it fails.
    let out = expect(project.fork_test(&node, &address, 41), false).await;
    assert!(
        out.contains("[FAIL: number differs from the node's] test_readsDeployedCounter()"),
        "{out}"
    );
}
