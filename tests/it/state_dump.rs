//! State dumps in anvil's format: `--dump-state` on stop and `--load-state` on start
//! (in-process and with the `coco` binary), `anvil_dumpState` / `anvil_loadState`, and
//! both directions with anvil 1.7.1 itself.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use alloy::rpc::types::TransactionRequest;
use coco::node::NodeConfig;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::common::*;

/// Init code: `sstore(7, 0x2a)`, then deploys the 2-byte runtime `0x6001`.
const INIT_CODE: &str = "0x602a6007556002601160003960026000f36001";
const RUNTIME: &str = "0x6001";
const STRANGER: Address = Address::repeat_byte(0x11);
const GHOST: Address = Address::repeat_byte(0x77);

async fn result(url: &str, method: &str, params: Value) -> Value {
    let res = raw_rpc(
        url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    assert!(res.get("error").is_none(), "{method}: {res}");
    res["result"].clone()
}

/// What a node says about the accounts the tests touch.
async fn observe(url: &str, contract: Address) -> Value {
    let me = DEV_ADDRESSES[0];
    json!({
        "me": [
            result(url, "eth_getBalance", json!([me, "latest"])).await,
            result(url, "eth_getTransactionCount", json!([me, "latest"])).await,
        ],
        "stranger": [
            result(url, "eth_getBalance", json!([STRANGER, "latest"])).await,
            result(url, "eth_getTransactionCount", json!([STRANGER, "latest"])).await,
        ],
        "contract": [
            result(url, "eth_getCode", json!([contract, "latest"])).await,
            result(url, "eth_getStorageAt", json!([contract, "0x7", "latest"])).await,
            result(url, "eth_getStorageAt", json!([contract, "0x9", "latest"])).await,
        ],
        "ghost": result(url, "eth_getBalance", json!([GHOST, "latest"])).await,
    })
}

/// Builds state worth dumping: a deployed contract with storage, a transfer, a slot
/// written then cleared, a nonce patch, and a balance patch undone by evm_revert.
async fn build_state(node: &TestNode) -> Address {
    let provider = node.provider(0);
    let deploy = TransactionRequest::default().input(INIT_CODE.parse::<Bytes>().unwrap().into());
    let receipt = provider
        .send_transaction(deploy.into_create())
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let contract = receipt.contract_address.unwrap();
    let transfer = TransactionRequest::default()
        .to(STRANGER)
        .value(U256::from(10).pow(U256::from(18)));
    let receipt = provider
        .send_transaction(transfer)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let url = node.url.as_str();
    let slot9 = |v: u8| json!([contract, "0x9", B256::with_last_byte(v)]);
    result(url, "anvil_setStorageAt", slot9(5)).await;
    result(url, "anvil_setStorageAt", slot9(0)).await;
    result(url, "anvil_setNonce", json!([STRANGER, "0x9"])).await;
    let snapshot = result(url, "evm_snapshot", json!([])).await;
    result(url, "anvil_setBalance", json!([GHOST, "0x3e8"])).await;
    assert_eq!(
        result(url, "evm_revert", json!([snapshot])).await,
        json!(true)
    );
    contract
}

/// Checks a dump file's contents against what was built.
fn check_dump(dump: &Value, contract: Address) {
    let accounts = &dump["accounts"];
    let me = &accounts[DEV_ADDRESSES[0].to_lowercase()];
    assert_eq!(me["nonce"], 2, "{me}");
    assert_eq!(me["code"], "0x");
    let c = &accounts[contract.to_string().to_lowercase()];
    assert_eq!(c["code"], RUNTIME, "{c}");
    let (slot, value) = (B256::with_last_byte(7), B256::with_last_byte(0x2a));
    let mut storage = serde_json::Map::new();
    storage.insert(slot.to_string(), json!(value));
    assert_eq!(
        c["storage"],
        Value::Object(storage),
        "slot 9 was cleared: not dumped"
    );
    assert_eq!(accounts[STRANGER.to_string().to_lowercase()]["nonce"], 9);
    assert!(
        accounts.get(GHOST.to_string().to_lowercase()).is_none(),
        "a reverted write is not dumped"
    );
    // No blocks travel, so no block environment either (anvil would look for its block).
    assert!(dump["block"].is_null() && dump["best_block_number"].is_null());
    assert_eq!(dump["transactions"], json!([]));
}

/// Starts anvil 1.7.1 with `args`; returns it and its URL once it answers.
pub(crate) async fn anvil(args: &[&str]) -> (Child, String) {
    let port = free_port().to_string();
    let child = Command::new(tool("anvil"))
        .args(["--port", &port])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let up = client
            .post(&url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
            .send()
            .await
            .is_ok();
        if up {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("anvil did not start");
}

#[tokio::test]
async fn dump_on_stop_then_load_on_start_in_coco_and_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let node = TestNode::spawn_with(NodeConfig {
        dump_state: Some(file.clone()),
        ..NodeConfig::test()
    })
    .await;
    let contract = build_state(&node).await;
    let before = observe(&node.url, contract).await;
    node.stop().await;

    let dump: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    check_dump(&dump, contract);

    // A fresh coco node with the dump (given as its directory, as anvil allows).
    let loaded = TestNode::spawn_with(NodeConfig {
        load_state: Some(dir.path().to_path_buf()),
        ..NodeConfig::test()
    })
    .await;
    assert_eq!(observe(&loaded.url, contract).await, before);
    loaded.stop().await;

    // anvil reads coco's file.
    let (_anvil, url) = anvil(&["--load-state", file.to_str().unwrap()]).await;
    assert_eq!(observe(&url, contract).await, before);
}

fn gunzip(bytes: &[u8]) -> Value {
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip-compressed");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[tokio::test]
async fn dump_and_load_state_methods_interoperate_with_anvil() {
    // coco → coco and coco → anvil.
    let node = TestNode::spawn().await;
    let contract = build_state(&node).await;
    let before = observe(&node.url, contract).await;
    let blob = node.reader().anvil_dump_state().await.unwrap();
    check_dump(&gunzip(&blob), contract);
    node.stop().await;

    let fresh = TestNode::spawn().await;
    assert!(fresh.reader().anvil_load_state(blob.clone()).await.unwrap());
    assert_eq!(observe(&fresh.url, contract).await, before);
    fresh.stop().await;

    let (_anvil, anvil_url) = anvil(&[]).await;
    assert_eq!(
        result(&anvil_url, "anvil_loadState", json!([blob])).await,
        json!(true)
    );
    assert_eq!(observe(&anvil_url, contract).await, before);

    // anvil → coco (anvil's gzip blob), and plain JSON too.
    let slot = json!([GHOST, "0x3", B256::with_last_byte(0x33)]);
    result(&anvil_url, "anvil_setStorageAt", slot).await;
    result(&anvil_url, "anvil_setCode", json!([GHOST, "0x60ff"])).await;
    let from_anvil = result(&anvil_url, "anvil_dumpState", json!([])).await;
    let coco = TestNode::spawn().await;
    assert_eq!(
        result(&coco.url, "anvil_loadState", json!([from_anvil])).await,
        json!(true)
    );
    assert_eq!(observe(&coco.url, contract).await, before);
    assert_eq!(
        result(
            &coco.url,
            "eth_getStorageAt",
            json!([GHOST, "0x3", "latest"])
        )
        .await,
        json!(B256::with_last_byte(0x33))
    );
    assert_eq!(
        result(&coco.url, "eth_getCode", json!([GHOST, "latest"])).await,
        "0x60ff"
    );
    let mut accounts = serde_json::Map::new();
    accounts.insert(STRANGER.to_string(), json!({"nonce": 12, "balance": "0x5"}));
    let plain = json!({ "accounts": accounts });
    let plain = Bytes::from(serde_json::to_vec(&plain).unwrap());
    result(&coco.url, "anvil_loadState", json!([plain])).await;
    assert_eq!(
        result(
            &coco.url,
            "eth_getTransactionCount",
            json!([STRANGER, "latest"])
        )
        .await,
        "0xc"
    );
    coco.stop().await;
}

/// Starts `coco dev` on a free port; returns it and its URL (from the banner).
async fn coco_dev(args: &[&str]) -> (Child, String) {
    let mut all = vec!["dev", "--ephemeral", "--port", "0"];
    all.extend(args);
    spawn_coco(&all).await
}

/// Sends `signal` (`-INT` as Ctrl-C does, `-TERM` as `kill` does) and waits for a
/// clean exit.
async fn stop_with(mut child: Child, signal: &str) {
    let pid = child.id().unwrap().to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("coco dev exits on the signal")
        .unwrap();
    assert!(exit.success(), "{exit}");
}

#[tokio::test]
async fn coco_dev_dump_state_and_load_state_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.json");
    let path = file.to_str().unwrap();
    let (child, url) = coco_dev(&["--dump-state", path]).await;
    result(&url, "anvil_setBalance", json!([GHOST, "0x1234"])).await;
    stop_with(child, "-INT").await;
    assert!(Path::new(&file).is_file(), "dumped on exit");

    let (child, url) = coco_dev(&["--load-state", path]).await;
    assert_eq!(
        result(&url, "eth_getBalance", json!([GHOST, "latest"])).await,
        "0x1234"
    );
    stop_with(child, "-INT").await;

    // --state: nothing to load the first time, then both.
    let state = dir.path().join("both.json");
    let state = state.to_str().unwrap();
    let (child, url) = coco_dev(&["--state", state]).await;
    result(&url, "anvil_setNonce", json!([GHOST, "0x4"])).await;
    // SIGTERM stops it as cleanly: the state is dumped.
    stop_with(child, "-TERM").await;
    let (child, url) = coco_dev(&["--state", state]).await;
    assert_eq!(
        result(&url, "eth_getTransactionCount", json!([GHOST, "latest"])).await,
        "0x4"
    );
    stop_with(child, "-INT").await;
}
