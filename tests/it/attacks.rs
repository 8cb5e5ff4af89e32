//! The confidential policy under attack: each test is a probe an outsider tried (issue
//! 12), asserting the refusal or the absence of the figure, with a variant.

use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use coco::rpc::auth::Role;
use serde_json::{Value, json};

use crate::common::*;
use crate::confidential::{Fixture, add_key, fixture_with};

fn confidential() -> coco::node::NodeConfig {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    config
}

async fn fixture() -> Fixture {
    fixture_with(confidential()).await
}

fn error_message(res: &Value) -> String {
    res["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {res}"))
        .to_string()
}

fn dev_key(f: &Fixture) -> String {
    f.node
        .node()
        .dev_key
        .clone()
        .expect("a dev node has a dev key")
}

/// A SIWE message for `address` with `nonce`, expiring at `expires` (RFC 3339).
fn siwe(address: Address, nonce: &str, expires: &str) -> String {
    format!(
        "localhost:8545 wants you to sign in with your Ethereum account:\n{address}\n\n\
         Sign in to coco.\n\nURI: http://localhost:8545\nVersion: 1\nChain ID: 31337\n\
         Nonce: {nonce}\nIssued At: 2026-01-01T00:00:00Z\nExpiration Time: {expires}"
    )
}

/// Logs `signer` in (with `key` presented, if any); the whole response.
async fn login(f: &Fixture, key: Option<&str>, signer: &PrivateKeySigner, expires: &str) -> Value {
    let nonce = call_as(&f.node, None, "coco_loginNonce", json!([])).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let text = siwe(signer.address(), &nonce, expires);
    let sig = signer.sign_message_sync(text.as_bytes()).unwrap();
    let sig = format!("0x{}", alloy::hex::encode(sig.as_bytes()));
    call_as(&f.node, key, "coco_login", json!([text, sig])).await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The raw bytes of a mined transaction, as its sender reads them.
async fn raw_transaction(f: &Fixture) -> Value {
    let raw = call_as(
        &f.node,
        Some(&f.key_a),
        "debug_getRawTransaction",
        json!([f.transfer]),
    )
    .await;
    assert!(raw["result"].is_string(), "{raw}");
    raw["result"].clone()
}

#[tokio::test]
async fn a_replayed_transaction_tells_no_one_else_the_senders_nonce() {
    let f = fixture().await;
    let raw = raw_transaction(&f).await;
    // C saw the transfer as its recipient would; it replays it, with its key and without.
    for key in [Some(f.key_c.as_str()), Some(f.key_b.as_str()), None] {
        let res = call_as(&f.node, key, "eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(error_message(&res), "nonce too low", "{key:?}: {res}");
        assert!(res["error"].get("data").is_none(), "{res}");
    }
    // The same through a batch.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []},
    ]);
    let res = raw_rpc(&f.node.url, batch).await;
    let first = res
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == 1)
        .unwrap();
    assert_eq!(error_message(first), "nonce too low");
    // The holder of the sender (and an auditor) get geth's figures.
    for key in [&f.key_a, &f.key_auditor] {
        let res = call_as(&f.node, Some(key), "eth_sendRawTransaction", json!([raw])).await;
        assert!(
            error_message(&res).starts_with("nonce too low: next nonce 2, tx nonce 1"),
            "{res}"
        );
    }
}

#[tokio::test]
async fn the_log_cap_counts_only_logs_the_caller_sees() {
    let mut config = confidential();
    config.rpc.logs_max_results = 2;
    let f = fixture_with(config).await;
    // C deploys its own token (one Transfer log, from the mint): C's only log.
    let c: PrivateKeySigner = DEV_KEYS[2].parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(c.clone()))
        .connect_http(format!("{}/{}", f.node.url, f.key_c).parse().unwrap());
    let token = crate::common::contracts::Token::deploy(
        &provider,
        "Mine".into(),
        "MINE".into(),
        alloy::primitives::U256::from(5u64),
    )
    .await
    .unwrap();
    token
        .transfer(c.address(), alloy::primitives::U256::from(1u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    // Every block holds matching logs: A's mint and transfer (hidden from C) and C's two.
    let all = json!([{"fromBlock": "0x0"}]);
    let res = call_as(&f.node, Some(&f.key_c), "eth_getLogs", all.clone()).await;
    let logs = res["result"].as_array().unwrap_or_else(|| panic!("{res}"));
    assert_eq!(logs.len(), 2, "C's own logs, under the cap: {res}");
    // The auditor sees all four: over the cap.
    let res = call_as(&f.node, Some(&f.key_auditor), "eth_getLogs", all.clone()).await;
    assert!(error_message(&res).contains("more than 2 results"), "{res}");
    // Variant: an installed filter's logs obey the same rule.
    let id = call_as(&f.node, Some(&f.key_c), "eth_newFilter", all.clone()).await["result"].clone();
    let res = call_as(&f.node, Some(&f.key_c), "eth_getFilterLogs", json!([id])).await;
    assert_eq!(res["result"].as_array().map(Vec::len), Some(2), "{res}");
    // And filter changes collect only what C may see: A's new transfer adds nothing.
    let a_provider = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(
            DEV_KEYS[0].parse::<PrivateKeySigner>().unwrap(),
        ))
        .connect_http(format!("{}/{}", f.node.url, f.key_a).parse().unwrap());
    crate::common::contracts::Token::new(f.token, &a_provider)
        .transfer(f.b, alloy::primitives::U256::from(7u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let res = call_as(&f.node, Some(&f.key_c), "eth_getFilterChanges", json!([id])).await;
    assert_eq!(res["result"], json!([]), "{res}");
}

/// Every state- or chain-changing development method, with harmless parameters.
fn dev_methods(f: &Fixture) -> Vec<(&'static str, Value)> {
    let a = f.a;
    vec![
        ("evm_snapshot", json!([])),
        ("evm_revert", json!(["0x1"])),
        ("evm_mine", json!([])),
        ("anvil_mine", json!(["0x1"])),
        ("hardhat_mine", json!(["0x1"])),
        ("evm_setAutomine", json!([true])),
        ("evm_increaseTime", json!(["0x1"])),
        ("evm_setNextBlockTimestamp", json!(["0xffffffff"])),
        ("evm_setIntervalMining", json!(["0x0"])),
        ("anvil_setBalance", json!([a, "0x1"])),
        ("hardhat_setBalance", json!([a, "0x1"])),
        ("anvil_setCode", json!([f.token, "0x00"])),
        ("anvil_setNonce", json!([a, "0x1"])),
        (
            "anvil_setStorageAt",
            json!([f.token, "0x0", format!("0x{}", "00".repeat(32))]),
        ),
        ("anvil_impersonateAccount", json!([a])),
        ("hardhat_impersonateAccount", json!([a])),
        ("anvil_stopImpersonatingAccount", json!([a])),
        ("anvil_reset", json!([])),
        ("anvil_dumpState", json!([])),
        ("anvil_loadState", json!(["0x"])),
    ]
}

#[tokio::test]
async fn dev_methods_are_the_operators_alone() {
    let f = fixture().await;
    let before = call_as(
        &f.node,
        Some(&f.key_a),
        "eth_getBalance",
        json!([f.a, "latest"]),
    )
    .await;
    let head = call_as(&f.node, None, "eth_blockNumber", json!([])).await;
    // C's attack: snapshot, rewrite the token's code, read, revert — and its variants.
    for key in [
        Some(f.key_c.as_str()),
        Some(f.key_a.as_str()),
        Some(f.key_auditor.as_str()),
        None,
    ] {
        for (method, params) in dev_methods(&f) {
            let res = call_as(&f.node, key, method, params).await;
            assert_eq!(res["error"]["code"], -32030, "{method} by {key:?}: {res}");
            assert!(error_message(&res).contains("operator"), "{method}: {res}");
        }
    }
    // Nothing changed.
    let after = call_as(
        &f.node,
        Some(&f.key_a),
        "eth_getBalance",
        json!([f.a, "latest"]),
    )
    .await;
    assert_eq!(before["result"], after["result"]);
    assert_eq!(
        head,
        call_as(&f.node, None, "eth_blockNumber", json!([])).await
    );
    let code = call_as(&f.node, None, "eth_getCode", json!([f.token, "latest"])).await;
    assert_ne!(code["result"], "0x00");
    // The same refusal inside a batch.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "evm_snapshot", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []},
    ]);
    let res = reqwest::Client::new()
        .post(&f.node.url)
        .bearer_auth(&f.key_c)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let snapshot = res
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == 1)
        .unwrap();
    assert_eq!(snapshot["error"]["code"], -32030, "{res}");
    // The operator (the printed dev key) may; read-only anvil_nodeInfo is public.
    let dev = dev_key(&f);
    let res = call_as(&f.node, Some(&dev), "evm_snapshot", json!([])).await;
    assert!(res["result"].is_string(), "{res}");
    let res = call_as(&f.node, Some(&dev), "evm_mine", json!([])).await;
    assert!(res["result"].is_string(), "{res}");
    let res = call_as(&f.node, Some(&f.key_c), "anvil_nodeInfo", json!([])).await;
    assert!(res["result"].is_object(), "{res}");
}

#[tokio::test]
async fn auditors_read_but_never_sign_send_or_log_in() {
    let f = fixture().await;
    // An auditor key that even names A: still no signing for A.
    let naming_a = add_key(&f.node, Role::Auditor, vec![f.a]);
    let typed = json!({
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}]},
        "primaryType": "EIP712Domain",
        "domain": {"name": "x"},
        "message": {}
    });
    for key in [&f.key_auditor, &naming_a] {
        let probes = [
            ("personal_sign", json!(["0x68656c6c6f", f.a])),
            ("eth_sign", json!([f.a, "0x68656c6c6f"])),
            ("eth_signTypedData_v4", json!([f.a, typed])),
            ("eth_signTypedData", json!([f.a, typed])),
            (
                "eth_signTransaction",
                json!([{"from": f.a, "to": f.b, "value": "0x1"}]),
            ),
            (
                "eth_sendTransaction",
                json!([{"from": f.a, "to": f.b, "value": "0x1"}]),
            ),
        ];
        for (method, params) in probes {
            let res = call_as(&f.node, Some(key), method, params).await;
            assert_eq!(res["error"]["code"], -32030, "{method}: {res}");
        }
        // Reading stays theirs.
        let res = call_as(&f.node, Some(key), "eth_getBalance", json!([f.a, "latest"])).await;
        assert!(res["result"].is_string(), "{res}");
    }
    // SIWE with an auditor key presented is refused.
    let a: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let res = login(&f, Some(&f.key_auditor), &a, "2099-01-01T00:00:00Z").await;
    assert!(error_message(&res).contains("auditor"), "{res}");
    // A user still signs for its own address.
    let res = call_as(
        &f.node,
        Some(&f.key_a),
        "personal_sign",
        json!(["0x68656c6c6f", f.a]),
    )
    .await;
    assert!(res["result"].is_string(), "{res}");
}

#[tokio::test]
async fn logout_on_a_websocket_ends_its_reads_and_subscriptions() {
    let f = fixture().await;
    let a: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let res = login(&f, None, &a, "2099-01-01T00:00:00Z").await;
    let session = res["result"]["key"]
        .as_str()
        .expect("a session")
        .to_string();
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(format!("{}/{session}", f.node.ws_url)))
        .await
        .unwrap();
    let balance: Result<Value, _> = ws
        .raw_request("eth_getBalance".into(), json!([f.a, "latest"]))
        .await;
    assert!(balance.is_ok(), "{balance:?}");
    let mut heads = ws.subscribe_blocks().await.unwrap();
    let dev = dev_key(&f);
    call_as(&f.node, Some(&dev), "evm_mine", json!([])).await;
    tokio::time::timeout(Duration::from_secs(30), heads.recv())
        .await
        .expect("a head before logout")
        .unwrap();
    let out: bool = ws
        .raw_request("coco_logout".into(), json!([]))
        .await
        .unwrap();
    assert!(out);
    // The next call on the same connection is refused, a new login with it too.
    let balance: Result<Value, _> = ws
        .raw_request("eth_getBalance".into(), json!([f.a, "latest"]))
        .await;
    let err = format!("{balance:?}");
    assert!(err.contains("invalid or revoked"), "{err}");
    let nonce: Result<Value, _> = ws.raw_request("coco_loginNonce".into(), json!([])).await;
    assert!(format!("{nonce:?}").contains("invalid or revoked"));
    // And the subscription delivers nothing more.
    call_as(&f.node, Some(&dev), "evm_mine", json!([])).await;
    let more = tokio::time::timeout(Duration::from_secs(3), heads.recv()).await;
    assert!(!matches!(more, Ok(Ok(_))), "a head after logout: {more:?}");
}

#[tokio::test]
async fn keys_revoked_with_the_cli_stop_working_in_the_running_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let coco = |args: &[&str]| coco_keys(&data, args);
    let first = |out: String| out.lines().next().unwrap().trim().to_string();
    let alice = first(coco(&[
        "keys",
        "add",
        "--label",
        "alice",
        "--address",
        DEV_ADDRESSES[0],
    ]));
    let mut config = confidential();
    config.data_dir = Some(data.clone());
    let node = TestNode::spawn_with(config).await;
    let read = |key: String| {
        let node = &node;
        async move {
            call_as(
                node,
                Some(&key),
                "eth_getBalance",
                json!([DEV_ADDRESSES[0], "latest"]),
            )
            .await
        }
    };
    assert!(read(alice.clone()).await["result"].is_string());
    // A key added while the node runs works at once.
    let bob = first(coco(&[
        "keys",
        "add",
        "--label",
        "bob",
        "--address",
        DEV_ADDRESSES[0],
    ]));
    assert!(read(bob.clone()).await["result"].is_string());
    // A filter and a WebSocket subscription made with alice's key.
    let filter =
        call_as(&node, Some(&alice), "eth_newBlockFilter", json!([])).await["result"].clone();
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(format!("{}/{alice}", node.ws_url)))
        .await
        .unwrap();
    let mut heads = ws.subscribe_blocks().await.unwrap();
    assert!(coco(&["keys", "revoke", "alice"]).contains("revoked"));
    let res = read(alice.clone()).await;
    assert!(error_message(&res).contains("invalid or revoked"), "{res}");
    let over_ws: Result<Value, _> = ws
        .raw_request("eth_getBalance".into(), json!([DEV_ADDRESSES[0], "latest"]))
        .await;
    assert!(format!("{over_ws:?}").contains("invalid or revoked"));
    // Its subscription ends; its filter is gone.
    let dev = node.node().dev_key.clone().unwrap();
    call_as(&node, Some(&dev), "evm_mine", json!([])).await;
    let more = tokio::time::timeout(Duration::from_secs(3), heads.recv()).await;
    assert!(!matches!(more, Ok(Ok(_))), "a head after revoke: {more:?}");
    let res = call_as(&node, Some(&alice), "eth_getFilterChanges", json!([filter])).await;
    assert_eq!(res["error"]["code"], -32030, "{res}");
    // Bob's key is untouched.
    assert!(read(bob).await["result"].is_string());
}

#[tokio::test]
async fn sessions_end_at_their_expiry_or_the_maximum_lifetime() {
    let mut config = confidential();
    config.rpc.session_lifetime = Duration::from_secs(2);
    let f = fixture_with(config).await;
    let a: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    // The message expires in 2 s; another, far in the future, meets the 2 s lifetime.
    let soon = login(&f, None, &a, &coco::cli::gov::rfc3339(now() + 2)).await;
    let far = login(&f, None, &a, "2099-01-01T00:00:00Z").await;
    let keys: Vec<String> = [soon, far]
        .iter()
        .map(|r| {
            r["result"]["key"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string()
        })
        .collect();
    for key in &keys {
        let res = call_as(&f.node, Some(key), "eth_getBalance", json!([f.a, "latest"])).await;
        assert!(res["result"].is_string(), "{res}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for key in &keys {
        let res = call_as(&f.node, Some(key), "eth_getBalance", json!([f.a, "latest"])).await;
        assert!(error_message(&res).contains("invalid or revoked"), "{res}");
    }
}

#[tokio::test]
async fn logging_in_with_an_issued_key_makes_a_new_session() {
    let f = fixture().await;
    let b: PrivateKeySigner = DEV_KEYS[1].parse().unwrap();
    // With A's operator-issued key: a new session for B, A's key left alone.
    let res = login(&f, Some(&f.key_a), &b, "2099-01-01T00:00:00Z").await;
    let session = res["result"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"));
    assert_eq!(res["result"]["addresses"], json!([b.address()]));
    let res = call_as(
        &f.node,
        Some(&f.key_a),
        "eth_getBalance",
        json!([f.b, "latest"]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32030, "A's key gained B: {res}");
    let res = call_as(
        &f.node,
        Some(session),
        "eth_getBalance",
        json!([f.b, "latest"]),
    )
    .await;
    assert!(res["result"].is_string(), "{res}");
    // With the dev (operator) key: the same.
    let dev = dev_key(&f);
    // An account governance does not know cannot sign in at all (a consortium chain).
    let stranger = PrivateKeySigner::random();
    let res = login(&f, Some(&dev), &stranger, "2099-01-01T00:00:00Z").await;
    assert!(
        error_message(&res).contains("not a registered user of this network"),
        "{res}"
    );
    // A registered one gets a session of its own; the dev key is unchanged.
    let c: PrivateKeySigner = DEV_KEYS[3].parse().unwrap();
    let before = f.node.node().keys.records();
    let dev_before = before
        .iter()
        .find(|(_, r)| r.label == "dev")
        .unwrap()
        .1
        .clone();
    let res = login(&f, Some(&dev), &c, "2099-01-01T00:00:00Z").await;
    assert!(res["result"]["key"].is_string(), "{res}");
    let records = f.node.node().keys.records();
    let dev_record = records
        .iter()
        .find(|(_, r)| r.label == "dev")
        .map(|(_, r)| r.clone())
        .unwrap();
    assert_eq!(dev_record, dev_before);
    assert!(dev_record.expires_at.is_none());
    // With a session: the session grows.
    let res = login(&f, Some(session), &c, "2099-01-01T00:00:00Z").await;
    assert_eq!(
        res["result"]["addresses"].as_array().map(Vec::len),
        Some(2),
        "{res}"
    );
}

#[tokio::test]
async fn anonymous_filters_belong_to_their_connection() {
    let f = fixture().await;
    let mine = reqwest::Client::new();
    let call = |client: &reqwest::Client, method: &str, params: Value| {
        let req = client
            .post(&f.node.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let id = call(&mine, "eth_newBlockFilter", json!([])).await["result"].clone();
    let digits = id.as_str().unwrap().trim_start_matches("0x").len();
    assert!(digits > 20, "a 128-bit random id: {id}");
    // Another anonymous client (another connection) can neither poll nor remove it.
    let other = reqwest::Client::new();
    let res = call(&other, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(res["error"]["message"], "filter not found", "{res}");
    let res = call(&other, "eth_uninstallFilter", json!([id])).await;
    assert_eq!(res["result"], false);
    // A keyed caller neither.
    let res = call_as(&f.node, Some(&f.key_c), "eth_getFilterChanges", json!([id])).await;
    assert_eq!(res["error"]["message"], "filter not found", "{res}");
    // Its own connection still can.
    let res = call(&mine, "eth_getFilterChanges", json!([id])).await;
    assert!(res["result"].is_array(), "{res}");
    // Variant: a filter installed over a WebSocket answers that connection only.
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(f.node.ws_url.clone()))
        .await
        .unwrap();
    let id: Value = ws
        .raw_request("eth_newBlockFilter".into(), json!([]))
        .await
        .unwrap();
    let res = call(&mine, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(res["error"]["message"], "filter not found", "{res}");
    let polled: Result<Value, _> = ws
        .raw_request("eth_getFilterChanges".into(), json!([id]))
        .await;
    assert!(polled.is_ok(), "{polled:?}");
}

#[tokio::test]
async fn a_malformed_address_is_invalid_params_not_a_refusal() {
    let f = fixture().await;
    for key in [Some(f.key_c.as_str()), None] {
        for (method, params) in [
            ("eth_getBalance", json!(["0x12", "latest"])),
            (
                "eth_getTransactionCount",
                json!(["not an address", "latest"]),
            ),
            ("eth_getBalance", json!([])),
            ("txpool_contentFrom", json!([7])),
        ] {
            let res = call_as(&f.node, key, method, params.clone()).await;
            assert_eq!(res["error"]["code"], -32602, "{method} {params}: {res}");
        }
        // A well-formed address that is not the caller's stays a refusal.
        let res = call_as(&f.node, key, "eth_getBalance", json!([f.a, "latest"])).await;
        assert_eq!(res["error"]["code"], -32030, "{res}");
    }
}

#[tokio::test]
async fn raw_transactions_answer_as_their_objects_do() {
    let f = fixture().await;
    let number = call_as(
        &f.node,
        Some(&f.key_a),
        "eth_getTransactionReceipt",
        json!([f.transfer]),
    )
    .await["result"]["blockNumber"]
        .clone();
    let probes = [
        ("eth_getRawTransactionByHash", json!([f.transfer])),
        (
            "eth_getRawTransactionByBlockNumberAndIndex",
            json!([number, "0x0"]),
        ),
    ];
    for (method, params) in probes {
        // The sender and auditors get the bytes; the outsider and anonymous callers
        // the same `null` as for a transaction that does not exist.
        for key in [&f.key_a, &f.key_auditor] {
            let res = call_as(&f.node, Some(key), method, params.clone()).await;
            assert!(res["result"].is_string(), "{method}: {res}");
        }
        for key in [Some(f.key_c.as_str()), None] {
            let res = call_as(&f.node, key, method, params.clone()).await;
            assert_eq!(
                res,
                json!({"jsonrpc": "2.0", "id": 1, "result": null}),
                "{method}"
            );
        }
    }
    // C signs for C only.
    let res = call_as(
        &f.node,
        Some(&f.key_c),
        "eth_signTransaction",
        json!([{"from": f.a, "to": f.b}]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32030, "{res}");
}

#[tokio::test]
async fn a_confidential_chain_stays_confidential_when_restarted_without_the_flag() {
    let f = fixture().await;
    let data_dir = f.node.data_dir.clone();
    let (a, amount_at) = (f.a, f.transfer);
    let _dir = f.node.stop().await;
    let mut config = coco::node::NodeConfig::test();
    config.data_dir = Some(data_dir);
    let node = TestNode::spawn_with(config).await;
    assert!(
        !node.node().open_policy,
        "the genesis makes it confidential"
    );
    let res = call_as(&node, None, "eth_getBalance", json!([a, "latest"])).await;
    assert_eq!(res["error"]["code"], -32030, "{res}");
    let res = call_as(&node, None, "eth_getTransactionByHash", json!([amount_at])).await;
    assert!(res["result"].is_null(), "{res}");
}
