//! The confidential read policy: each caller sees only what it is authorised to see.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use coco::rpc::auth::{KeyRecord, Role, generate_key, key_hash};
use serde_json::{Value, json};

use crate::common::contracts::{ConfidentialToken, Token};
use crate::common::*;

/// A confidential node where A deployed Token and paid B; keys for A, B, an outsider C
/// and an auditor.
pub(crate) struct Fixture {
    pub(crate) node: TestNode,
    pub(crate) a: Address,
    pub(crate) b: Address,
    pub(crate) key_a: String,
    pub(crate) key_b: String,
    pub(crate) key_c: String,
    pub(crate) key_auditor: String,
    pub(crate) token: Address,
    pub(crate) transfer: B256,
    pub(crate) amount: U256,
}

/// Adds an API key with `role` for `addresses` to the running node; returns the key.
pub(crate) fn add_key(node: &TestNode, role: Role, addresses: Vec<Address>) -> String {
    let key = generate_key();
    node.node().keys.insert(
        key_hash(&key),
        KeyRecord::new(role, addresses, key[..12].to_string()),
    );
    key
}

async fn fixture() -> Fixture {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    fixture_with(config).await
}

/// [`fixture`] on a node started with `config` (which must be confidential).
pub(crate) async fn fixture_with(config: coco::node::NodeConfig) -> Fixture {
    let node = TestNode::spawn_with(config).await;
    let a: Address = DEV_ADDRESSES[0].parse().unwrap();
    let b: Address = DEV_ADDRESSES[1].parse().unwrap();
    let key_a = add_key(&node, Role::User, vec![a]);
    let key_b = add_key(&node, Role::User, vec![b]);
    let key_c = add_key(&node, Role::User, vec![DEV_ADDRESSES[2].parse().unwrap()]);
    let key_auditor = add_key(&node, Role::Auditor, vec![]);
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(
            DEV_KEYS[0].parse::<PrivateKeySigner>().unwrap(),
        ))
        .connect_http(format!("{}/{}", node.url, key_a).parse().unwrap());
    let supply = U256::from(1_000_000u64);
    let token = Token::deploy(&provider, "Secret".into(), "SEC".into(), supply)
        .await
        .unwrap();
    let amount = U256::from(123_457u64);
    let receipt = token
        .transfer(b, amount)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    Fixture {
        node,
        a,
        b,
        key_a,
        key_b,
        key_c,
        key_auditor,
        token: *token.address(),
        transfer: receipt.transaction_hash,
        amount,
    }
}

#[tokio::test]
async fn every_caller_gets_the_expected_answer() {
    let f = fixture().await;
    let node = &f.node;
    let (a, b) = (f.a, f.b);
    let who = [
        ("owner", Some(f.key_a.as_str())),
        ("recipient", Some(f.key_b.as_str())),
        ("outsider", Some(f.key_c.as_str())),
        ("anonymous", None),
        ("auditor", Some(f.key_auditor.as_str())),
    ];
    for (name, key) in who {
        let sees_tx = matches!(name, "owner" | "auditor");
        let sees_log = matches!(name, "owner" | "recipient" | "auditor");
        // The transfer transaction and its receipt: sender, `to` (the token) and auditors.
        let tx = call_as(node, key, "eth_getTransactionByHash", json!([f.transfer])).await;
        assert_eq!(!tx["result"].is_null(), sees_tx, "{name}: tx {tx}");
        let receipt = call_as(node, key, "eth_getTransactionReceipt", json!([f.transfer])).await;
        assert_eq!(
            !receipt["result"].is_null(),
            sees_tx,
            "{name}: receipt {receipt}"
        );
        // The Transfer log: the sender, both sides (indexed topics), auditors.
        let logs = call_as(
            node,
            key,
            "eth_getLogs",
            json!([{"fromBlock":"0x0","address": f.token}]),
        )
        .await;
        let logs = logs["result"].as_array().unwrap().clone();
        let transfer_logs = logs
            .iter()
            .filter(|l| l["transactionHash"] == json!(f.transfer))
            .count();
        assert_eq!(transfer_logs == 1, sees_log, "{name}: logs {logs:?}");
        // Balances: own addresses or auditors.
        let bal = call_as(node, key, "eth_getBalance", json!([a, "latest"])).await;
        assert_eq!(
            bal["result"].is_string(),
            matches!(name, "owner" | "auditor"),
            "{name}: {bal}"
        );
        if bal["error"].is_object() {
            assert_eq!(bal["error"]["code"], -32030);
        }
        let nonce = call_as(node, key, "eth_getTransactionCount", json!([b, "latest"])).await;
        assert_eq!(
            nonce["result"].is_string(),
            matches!(name, "recipient" | "auditor"),
            "{name}: {nonce}"
        );
        // Raw storage: auditors only.
        let slot = call_as(
            node,
            key,
            "eth_getStorageAt",
            json!([f.token, "0x0", "latest"]),
        )
        .await;
        assert_eq!(
            slot["result"].is_string(),
            name == "auditor",
            "{name}: {slot}"
        );
        // Public data for everyone.
        let head = call_as(node, key, "eth_blockNumber", json!([])).await;
        assert!(head["result"].is_string(), "{name}: {head}");
        let code = call_as(node, key, "eth_getCode", json!([f.token, "latest"])).await;
        assert!(code["result"].as_str().unwrap().len() > 2, "{name}");
        // Blocks list only visible transactions.
        let number = receipt_block(node, &f).await;
        let block = call_as(node, key, "eth_getBlockByNumber", json!([number, false])).await;
        let listed = block["result"]["transactions"].as_array().unwrap().len();
        assert_eq!(listed == 1, sees_tx, "{name}: block {block}");
        // eth_call: authenticated callers only, `from` one of theirs.
        let balance_of = format!(
            "0x70a08231{}",
            alloy::hex::encode(B256::left_padding_from(b.as_slice()))
        );
        let c = call_as(
            node,
            key,
            "eth_call",
            json!([{"to": f.token, "data": balance_of}]),
        )
        .await;
        assert_eq!(c["result"].is_string(), name != "anonymous", "{name}: {c}");
        let c = call_as(
            node,
            key,
            "eth_call",
            json!([{"from": a, "to": f.token, "data": balance_of}]),
        )
        .await;
        assert_eq!(
            c["result"].is_string(),
            matches!(name, "owner" | "auditor"),
            "{name}: from {c}"
        );
        // Traces: auditors only.
        let accounts = call_as(node, key, "eth_accounts", json!([])).await;
        assert!(accounts["result"].is_array());
    }
}

async fn receipt_block(node: &TestNode, f: &Fixture) -> Value {
    call_as(
        node,
        Some(&f.key_auditor),
        "eth_getTransactionReceipt",
        json!([f.transfer]),
    )
    .await["result"]["blockNumber"]
        .clone()
}

#[tokio::test]
async fn outsiders_learn_nothing_about_a_transfer() {
    let f = fixture().await;
    let node = &f.node;
    let amount_hex = format!("{:064x}", f.amount);
    let balance_a = call_as(
        node,
        Some(&f.key_a),
        "eth_getBalance",
        json!([f.a, "latest"]),
    )
    .await["result"]
        .clone();
    let number = receipt_block(node, &f).await;
    let probes = [
        ("eth_getTransactionByHash", json!([f.transfer])),
        ("eth_getTransactionReceipt", json!([f.transfer])),
        ("eth_getBlockByNumber", json!([number.clone(), true])),
        ("eth_getBlockReceipts", json!([number.clone()])),
        (
            "eth_getTransactionByBlockNumberAndIndex",
            json!([number, "0x0"]),
        ),
        ("eth_getLogs", json!([{"fromBlock": "0x0"}])),
        ("eth_getBalance", json!([f.a, "latest"])),
        ("eth_getBalance", json!([f.b, "latest"])),
        ("eth_getTransactionCount", json!([f.a, "latest"])),
        ("eth_getStorageAt", json!([f.token, "0x0", "latest"])),
        ("txpool_content", json!([])),
        ("debug_traceTransaction", json!([f.transfer])),
        (
            "eth_call",
            json!([{"from": f.a, "to": f.token, "data": "0x"}]),
        ),
    ];
    for key in [Some(f.key_c.as_str()), None, Some("coco_wrong")] {
        for (method, params) in &probes {
            let res = call_as(node, key, method, params.clone()).await;
            let text = res.to_string().to_lowercase();
            assert!(
                !text.contains(&amount_hex),
                "{method} leaks the amount to {key:?}: {text}"
            );
            assert!(
                !text.contains(&format!("{:#x}", f.transfer).to_lowercase()[2..])
                    || method.contains("Hash"),
                "{method} leaks the transaction to {key:?}: {text}"
            );
            assert!(
                !text.contains(&f.b.to_string().to_lowercase()[2..]) || *method == "eth_getBalance",
                "{method} leaks the recipient to {key:?}: {text}"
            );
            if let Some(balance) = balance_a.as_str() {
                assert!(!text.contains(balance), "{method} leaks a balance: {text}");
            }
        }
    }
    let wrong = call_as(node, Some("coco_wrong"), "eth_chainId", json!([])).await;
    assert_eq!(wrong["error"]["code"], -32030);
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid or revoked API key")
    );
}

#[tokio::test]
async fn filters_are_bound_to_their_key() {
    let f = fixture().await;
    let node = &f.node;
    let id = call_as(node, Some(&f.key_a), "eth_newBlockFilter", json!([])).await["result"].clone();
    let other = call_as(
        node,
        Some(&f.key_b),
        "eth_getFilterChanges",
        json!([id.clone()]),
    )
    .await;
    assert_eq!(other["error"]["message"], "filter not found");
    let mine = call_as(node, Some(&f.key_a), "eth_getFilterChanges", json!([id])).await;
    assert!(mine["result"].is_array(), "{mine}");
}

#[tokio::test]
async fn insufficient_funds_reveals_figures_only_to_the_holder() {
    let f = fixture().await;
    let node = &f.node;
    use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy::network::TxSignerSync;
    let signer: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce: 2,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy::primitives::TxKind::Call(Address::repeat_byte(1)),
        value: U256::from(10u64).pow(U256::from(30)),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(sig));
    let raw = format!(
        "0x{}",
        alloy::hex::encode(alloy::eips::Encodable2718::encoded_2718(&envelope))
    );
    let own = call_as(node, Some(&f.key_a), "eth_sendRawTransaction", json!([raw])).await;
    assert!(
        own["error"]["message"].as_str().unwrap().contains(" have "),
        "{own}"
    );
    let other = call_as(node, Some(&f.key_c), "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(
        other["error"]["message"],
        "insufficient funds for gas * price + value"
    );
}

#[tokio::test]
async fn served_methods_all_declare_a_rule() {
    let node = TestNode::spawn().await;
    let module = coco::rpc::module(
        node.node().chain.clone(),
        coco::rpc::RpcLimits::default(),
        vec![],
        true,
        false,
    );
    let missing: Vec<&str> = module
        .method_names()
        .filter(|m| coco::rpc::policy::rule(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "methods without a read rule: {missing:?}"
    );
    assert!(module.method_names().count() > 60);
}

/// Runs cast without blocking the runtime the node runs on.
async fn cast(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(tool("cast"))
        .args(args)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run cast")
}

#[tokio::test]
async fn cast_works_with_header_keys_and_url_keys() {
    let f = fixture().await;
    let url = f.node.url.clone();
    let a = f.a.to_string();
    let header = format!("Authorization: Bearer {}", f.key_a);
    let own = cast(&["balance", &a, "--rpc-url", &url, "--rpc-headers", &header]).await;
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    let other = cast(&[
        "balance",
        &f.b.to_string(),
        "--rpc-url",
        &url,
        "--rpc-headers",
        &header,
    ])
    .await;
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("not authorized"),
        "a clear refusal, never fake zeros: {err}"
    );
    let anonymous = cast(&["balance", &a, "--rpc-url", &url]).await;
    assert!(!anonymous.status.success());

    // The key in the URL, for tools that take only a URL; a send as the key's address.
    let keyed = format!("{url}/{}", f.key_b);
    let sent = cast(&[
        "send",
        "--rpc-url",
        &keyed,
        "--private-key",
        DEV_KEYS[1],
        "--json",
        "0x0000000000000000000000000000000000000b0b",
        "--value",
        "1",
    ])
    .await;
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(receipt["status"], "0x1");
    let nonce = cast(&["nonce", &f.b.to_string(), "--rpc-url", &keyed]).await;
    assert_eq!(String::from_utf8_lossy(&nonce.stdout).trim(), "1");
}

#[tokio::test]
async fn confidential_token_answers_only_the_holder() {
    let f = fixture().await;
    let node = &f.node;
    let connect = |key: &str, index: usize| {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(
                DEV_KEYS[index].parse::<PrivateKeySigner>().unwrap(),
            ))
            .connect_http(format!("{}/{}", node.url, key).parse().unwrap())
    };
    let alice = connect(&f.key_a, 0);
    let token = ConfidentialToken::deploy(&alice, "Conf".into(), "CNF".into(), U256::from(1000))
        .await
        .unwrap();
    token
        .transfer(f.b, U256::from(250))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(token.balanceOf(f.a).call().await.unwrap(), U256::from(750));

    let bob = connect(&f.key_b, 1);
    let as_bob = ConfidentialToken::new(*token.address(), &bob);
    assert_eq!(as_bob.balanceOf(f.b).call().await.unwrap(), U256::from(250));
    let err = as_bob.balanceOf(f.a).call().await.unwrap_err().to_string();
    assert!(err.contains("balances are private"), "{err}");
    assert!(!err.contains("750"), "{err}");

    // A transfer beyond the balance fails without figures.
    let err = as_bob
        .transfer(f.a, U256::from(100_000))
        .call()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ConfidentialToken: transfer refused"), "{err}");
    assert!(!err.contains("250"), "{err}");

    // The outsider can neither read balances nor pose as alice.
    let carol = connect(&f.key_c, 2);
    let as_carol = ConfidentialToken::new(*token.address(), &carol);
    assert!(as_carol.balanceOf(f.a).call().await.is_err());
    let posing = call_as(
        node,
        Some(&f.key_c),
        "eth_call",
        json!([{"from": f.a, "to": token.address(), "data": format!("0x70a08231{}", alloy::hex::encode(B256::left_padding_from(f.a.as_slice())))}]),
    )
    .await;
    assert_eq!(posing["error"]["code"], -32030, "{posing}");
}

#[tokio::test]
async fn headers_are_blinded_and_auditors_can_unblind() {
    use alloy::consensus::ReceiptEnvelope;
    use alloy::consensus::proofs::calculate_receipt_root;
    let f = fixture().await;
    let node = &f.node;
    let number = receipt_block(node, &f).await;
    let block = call_as(
        node,
        None,
        "eth_getBlockByNumber",
        json!([number.clone(), false]),
    )
    .await["result"]
        .clone();
    assert_eq!(
        block["logsBloom"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x")
            .trim_matches('0'),
        "",
        "the public bloom covers public logs only (none yet)"
    );
    let refused = call_as(
        node,
        Some(&f.key_c),
        "coco_getBlindingKey",
        json!([number.clone()]),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32030);
    let r_n: B256 = serde_json::from_value(
        call_as(
            node,
            Some(&f.key_auditor),
            "coco_getBlindingKey",
            json!([number.clone()]),
        )
        .await["result"]
            .clone(),
    )
    .unwrap();
    let receipts: Vec<alloy::rpc::types::TransactionReceipt> = serde_json::from_value(
        call_as(
            node,
            Some(&f.key_auditor),
            "eth_getBlockReceipts",
            json!([number]),
        )
        .await["result"]
            .clone(),
    )
    .unwrap();
    let consensus: Vec<ReceiptEnvelope> = receipts
        .iter()
        .map(|r| r.inner.clone().map_logs(|l| l.inner))
        .collect();
    let root = calculate_receipt_root(&consensus);
    let mut preimage = root.to_vec();
    preimage.extend_from_slice(r_n.as_slice());
    let published: B256 = serde_json::from_value(block["receiptsRoot"].clone()).unwrap();
    assert_ne!(published, root, "the plain root is not published");
    assert_eq!(
        published,
        alloy::primitives::keccak256(&preimage),
        "auditors unblind it"
    );
}
