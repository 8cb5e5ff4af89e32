//! Sign-In with Ethereum: sessions for wallets, and every way a login is refused.

use alloy::primitives::Address;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;

use crate::common::*;

pub(crate) fn message(
    domain: &str,
    address: Address,
    chain_id: u64,
    nonce: &str,
    expires: &str,
) -> String {
    format!(
        "{domain} wants you to sign in with your Ethereum account:\n{address}\n\nSign in to coco.\n\n\
         URI: http://{domain}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n\
         Issued At: 2026-01-01T00:00:00Z\nExpiration Time: {expires}"
    )
}

pub(crate) fn sign(signer: &PrivateKeySigner, text: &str) -> String {
    let sig = signer.sign_message_sync(text.as_bytes()).unwrap();
    format!("0x{}", alloy::hex::encode(sig.as_bytes()))
}

async fn nonce(node: &TestNode) -> String {
    call_as(node, None, "coco_loginNonce", json!([])).await["result"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn siwe_sessions_and_refusals() {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let alice: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let bob: PrivateKeySigner = DEV_KEYS[1].parse().unwrap();
    let later = "2099-01-01T00:00:00Z";

    // Before login: balances are refused.
    let res = call_as(
        &node,
        None,
        "eth_getBalance",
        json!([alice.address(), "latest"]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32030);

    let n = nonce(&node).await;
    let text = message("localhost:8545", alice.address(), 31337, &n, later);
    let res = call_as(
        &node,
        None,
        "coco_login",
        json!([text, sign(&alice, &text)]),
    )
    .await;
    let key = res["result"]["key"]
        .as_str()
        .expect("a session key")
        .to_string();
    let res = call_as(
        &node,
        Some(&key),
        "eth_getBalance",
        json!([alice.address(), "latest"]),
    )
    .await;
    assert!(res["result"].is_string(), "{res}");

    // Replay: the nonce is single-use.
    let res = call_as(
        &node,
        None,
        "coco_login",
        json!([text, sign(&alice, &text)]),
    )
    .await;
    assert!(
        res["error"]["message"].as_str().unwrap().contains("nonce"),
        "{res}"
    );

    // Refusals: foreign domain, wrong chain id, expired, wrong signer.
    let cases = [
        (
            message(
                "evil.example:443",
                alice.address(),
                31337,
                &nonce(&node).await,
                later,
            ),
            &alice,
            "domain",
        ),
        (
            message(
                "localhost:8545",
                alice.address(),
                1,
                &nonce(&node).await,
                later,
            ),
            &alice,
            "chain id",
        ),
        (
            message(
                "localhost:8545",
                alice.address(),
                31337,
                &nonce(&node).await,
                "2020-01-01T00:00:00Z",
            ),
            &alice,
            "expired",
        ),
        (
            message(
                "localhost:8545",
                alice.address(),
                31337,
                &nonce(&node).await,
                later,
            ),
            &bob,
            "signature",
        ),
    ];
    for (text, signer, why) in cases {
        let res = call_as(
            &node,
            None,
            "coco_login",
            json!([text, sign(signer, &text)]),
        )
        .await;
        assert_eq!(res["error"]["code"], -32030, "{why}: {res}");
        assert!(
            res["error"]["message"].as_str().unwrap().contains(why),
            "{why}: {res}"
        );
    }

    // A second login with the session adds bob to it.
    let text = message(
        "127.0.0.1:8545",
        bob.address(),
        31337,
        &nonce(&node).await,
        later,
    );
    let res = call_as(
        &node,
        Some(&key),
        "coco_login",
        json!([text, sign(&bob, &text)]),
    )
    .await;
    assert_eq!(
        res["result"]["addresses"].as_array().unwrap().len(),
        2,
        "{res}"
    );
    let res = call_as(
        &node,
        Some(&key),
        "eth_getBalance",
        json!([bob.address(), "latest"]),
    )
    .await;
    assert!(res["result"].is_string(), "{res}");

    // Logout revokes the session.
    assert_eq!(
        call_as(&node, Some(&key), "coco_logout", json!([])).await["result"],
        true
    );
    let res = call_as(
        &node,
        Some(&key),
        "eth_getBalance",
        json!([alice.address(), "latest"]),
    )
    .await;
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid or revoked"),
        "{res}"
    );
}

#[tokio::test]
async fn keys_cli_adds_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let coco = |args: &[&str]| coco_keys(&data, args);
    let added = coco(&[
        "keys",
        "add",
        "--label",
        "alice",
        "--role",
        "auditor",
        "--address",
        DEV_ADDRESSES[0],
    ]);
    let key = added.lines().next().unwrap().trim().to_string();
    assert!(key.starts_with("coco_"), "{added}");
    let listed = coco(&["keys", "list"]);
    assert!(
        listed.contains("alice") && listed.contains("Auditor"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "keys are never shown again");
    assert!(
        !std::fs::read(data.join("keys.sealed"))
            .unwrap()
            .windows(key.len())
            .any(|w| w == key.as_bytes()),
        "keys are stored hashed and sealed"
    );

    // The node reads the key at start.
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    config.data_dir = Some(data.clone());
    let node = TestNode::spawn_with(config).await;
    let res = call_as(
        &node,
        Some(&key),
        "eth_getStorageAt",
        json!([DEV_ADDRESSES[1], "0x0", "latest"]),
    )
    .await;
    assert!(
        res["result"].is_string(),
        "an auditor key reads raw storage: {res}"
    );
    let _keep = node.stop().await;
    assert!(coco(&["keys", "revoke", "alice"]).contains("revoked"));
    assert!(!coco(&["keys", "list"]).contains("alice"));
}
