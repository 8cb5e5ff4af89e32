//! `txpool_status`, `txpool_content` and `txpool_inspect` in geth's shapes: pending =
//! ready, queued = behind a nonce gap; senders checksummed, nonces in decimal.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, U256};
use alloy::providers::ext::TxPoolApi;
use alloy::signers::local::PrivateKeySigner;
use coco::chain::Mining;
use coco::node::NodeConfig;
use serde_json::{Value, json};

use crate::common::*;

const GWEI: u128 = 1_000_000_000;

fn send_raw(signer: &PrivateKeySigner, nonce: u64) -> (String, String) {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(Address::repeat_byte(0x55)),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(sig));
    (
        format!("0x{}", alloy::hex::encode(envelope.encoded_2718())),
        envelope.tx_hash().to_string(),
    )
}

/// Sends a signed transaction; returns its hash.
async fn send(node: &TestNode, signer: &PrivateKeySigner, nonce: u64) -> String {
    let (raw, hash) = send_raw(signer, nonce);
    assert_eq!(
        rpc_ok(node, "eth_sendRawTransaction", json!([raw])).await,
        json!(hash)
    );
    hash
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn txpool_splits_ready_from_gapped_in_geths_shapes() {
    let node = TestNode::spawn_with(NodeConfig {
        mining: Mining::Manual,
        ..NodeConfig::test()
    })
    .await;
    let (a, b): (PrivateKeySigner, PrivateKeySigner) =
        (DEV_KEYS[0].parse().unwrap(), DEV_KEYS[1].parse().unwrap());
    let (a_key, b_key) = (a.address().to_checksum(None), b.address().to_checksum(None));

    assert_eq!(
        rpc_ok(&node, "txpool_status", json!([])).await,
        json!({"pending": "0x0", "queued": "0x0"})
    );

    let a0 = send(&node, &a, 0).await;
    let a1 = send(&node, &a, 1).await;
    let a3 = send(&node, &a, 3).await;
    let b2 = send(&node, &b, 2).await;

    assert_eq!(
        rpc_ok(&node, "txpool_status", json!([])).await,
        json!({"pending": "0x2", "queued": "0x2"})
    );

    let content = rpc_ok(&node, "txpool_content", json!([])).await;
    assert_eq!(keys(&content["pending"]), vec![a_key.clone()], "{content}");
    assert_eq!(keys(&content["queued"]), {
        let mut k = vec![a_key.clone(), b_key.clone()];
        k.sort();
        k
    });
    let pending_a = &content["pending"][&a_key];
    assert_eq!(keys(pending_a), vec!["0", "1"]);
    assert_eq!(pending_a["0"]["hash"], json!(a0));
    assert_eq!(pending_a["1"]["hash"], json!(a1));
    assert_eq!(pending_a["1"]["nonce"], "0x1");
    assert_eq!(
        pending_a["0"]["from"].as_str().unwrap().to_lowercase(),
        a_key.to_lowercase()
    );
    assert!(pending_a["0"]["blockHash"].is_null() && pending_a["0"]["blockNumber"].is_null());
    assert_eq!(content["queued"][&a_key]["3"]["hash"], json!(a3));
    assert_eq!(content["queued"][&b_key]["2"]["hash"], json!(b2));

    let inspect = rpc_ok(&node, "txpool_inspect", json!([])).await;
    let line = format!(
        "{}: 1 wei + 21000 gas × 10000000000 wei",
        Address::repeat_byte(0x55).to_checksum(None)
    );
    assert_eq!(inspect["pending"][&a_key]["0"], json!(line), "{inspect}");
    assert_eq!(inspect["queued"][&a_key]["3"], json!(line));
    assert_eq!(inspect["queued"][&b_key]["2"], json!(line));

    // alloy's typed txpool client reads the same answers.
    let provider = node.reader();
    let status = provider.txpool_status().await.unwrap();
    assert_eq!((status.pending, status.queued), (2, 2));
    let typed = provider.txpool_content().await.unwrap();
    assert_eq!(typed.pending[&a.address()].len(), 2);
    assert_eq!(typed.queued[&b.address()].len(), 1);
    let summary = &provider.txpool_inspect().await.unwrap().pending[&a.address()]["1"];
    assert_eq!(summary.to, Some(Address::repeat_byte(0x55)));
    assert_eq!((summary.gas, summary.gas_price), (21_000, 10 * GWEI));

    // Filling the gap makes a's 3 ready; mining takes every ready one.
    send(&node, &a, 2).await;
    assert_eq!(
        rpc_ok(&node, "txpool_status", json!([])).await,
        json!({"pending": "0x4", "queued": "0x1"})
    );
    rpc_ok(&node, "evm_mine", json!([])).await;
    assert_eq!(
        rpc_ok(&node, "txpool_status", json!([])).await,
        json!({"pending": "0x0", "queued": "0x1"})
    );
    let content = rpc_ok(&node, "txpool_content", json!([])).await;
    assert_eq!(content["pending"], json!({}));
    assert_eq!(keys(&content["queued"]), vec![b_key.clone()]);
    node.stop().await;
}
