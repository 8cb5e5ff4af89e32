//! What client libraries written for geth expect (issue 15): node-filled
//! `eth_sendTransaction` / `eth_signTransaction`, `eth_signTypedData`, the raw-transaction
//! and header methods, and the pending block.

use alloy::consensus::TxEnvelope;
use alloy::eips::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, keccak256};
use coco::chain::Mining;
use coco::rpc::auth::Role;
use serde_json::{Value, json};

use crate::common::*;
use crate::confidential::add_key;

/// Init code of a contract whose runtime code is the single byte 0x00 (STOP).
const INIT: &str = "0x6001600c60003960016000f300";

async fn receipt(node: &TestNode, hash: &Value) -> Value {
    rpc_ok(node, "eth_getTransactionReceipt", json!([hash])).await
}

#[tokio::test]
async fn send_transaction_fills_what_the_caller_left_out() {
    let node = TestNode::spawn().await;
    let from = DEV_ADDRESSES[3];
    // Only `from`, `data` and `gas`: a contract creation with node-chosen nonce and fees.
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": from, "data": INIT, "gas": "0x30000"}]),
    )
    .await;
    let r = receipt(&node, &hash).await;
    assert_eq!(r["status"], "0x1", "{r}");
    assert!(r["contractAddress"].is_string(), "{r}");
    assert_eq!(r["type"], "0x2");
    // With `gasPrice`: a legacy transaction at that price.
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": from, "to": DEV_ADDRESSES[4], "value": "0x1", "gasPrice": "0x77359400"}]),
    )
    .await;
    let tx = rpc_ok(&node, "eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(tx["type"], "0x0", "{tx}");
    assert_eq!(tx["gasPrice"], "0x77359400");
    assert_eq!(tx["nonce"], "0x1");
    // With only a fee cap: the tip is at most the cap.
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": from, "to": DEV_ADDRESSES[4], "maxFeePerGas": "0x3b9aca00"}]),
    )
    .await;
    assert_eq!(receipt(&node, &hash).await["status"], "0x1");
}

#[tokio::test]
async fn sign_transaction_returns_raw_and_tx_as_geth() {
    let node = TestNode::spawn().await;
    let from = DEV_ADDRESSES[5];
    let signed = rpc_ok(
        &node,
        "eth_signTransaction",
        json!([{"from": from, "to": DEV_ADDRESSES[6], "value": "0x2"}]),
    )
    .await;
    let raw: Bytes = serde_json::from_value(signed["raw"].clone()).unwrap();
    let envelope = TxEnvelope::decode_2718_exact(&raw).unwrap();
    assert_eq!(signed["tx"]["hash"], json!(keccak256(&raw)));
    assert_eq!(signed["tx"]["hash"], json!(envelope.tx_hash()));
    assert_eq!(signed["tx"]["nonce"], "0x0");
    // Signed, not sent: the nonce is still free; sending the raw bytes mines it.
    let count = rpc_ok(&node, "eth_getTransactionCount", json!([from, "pending"])).await;
    assert_eq!(count, "0x0");
    let hash = rpc_ok(&node, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(hash, signed["tx"]["hash"]);
    // An account the node has no key for.
    let res = call_as(
        &node,
        None,
        "eth_signTransaction",
        json!([{"from": Address::repeat_byte(7), "to": from}]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32602, "{res}");
    // geth's eth_signTypedData is v4.
    let typed = json!({
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}]},
        "primaryType": "EIP712Domain",
        "domain": {"name": "coco"},
        "message": {}
    });
    let v4 = rpc_ok(&node, "eth_signTypedData_v4", json!([from, typed])).await;
    let plain = rpc_ok(&node, "eth_signTypedData", json!([from, typed])).await;
    assert_eq!(v4, plain);
}

#[tokio::test]
async fn raw_transactions_and_headers_by_hash_block_and_index() {
    let node = TestNode::spawn().await;
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[1], "value": "0x1"}]),
    )
    .await;
    let r = receipt(&node, &hash).await;
    let (number, block_hash) = (r["blockNumber"].clone(), r["blockHash"].clone());
    let raw = rpc_ok(&node, "debug_getRawTransaction", json!([hash])).await;
    assert_eq!(
        rpc_ok(&node, "eth_getRawTransactionByHash", json!([hash])).await,
        raw
    );
    assert_eq!(
        rpc_ok(
            &node,
            "eth_getRawTransactionByBlockNumberAndIndex",
            json!([number, "0x0"])
        )
        .await,
        raw
    );
    assert_eq!(
        rpc_ok(
            &node,
            "eth_getRawTransactionByBlockHashAndIndex",
            json!([block_hash, "0x0"])
        )
        .await,
        raw
    );
    // Unknown hash, index past the block, unknown block: null.
    for (method, params) in [
        ("eth_getRawTransactionByHash", json!([B256::repeat_byte(9)])),
        (
            "eth_getRawTransactionByBlockNumberAndIndex",
            json!([number, "0x1"]),
        ),
        (
            "eth_getRawTransactionByBlockNumberAndIndex",
            json!(["0xffff", "0x0"]),
        ),
        (
            "eth_getRawTransactionByBlockHashAndIndex",
            json!([B256::repeat_byte(9), "0x0"]),
        ),
        ("eth_getHeaderByNumber", json!(["0xffff"])),
        ("eth_getHeaderByHash", json!([B256::repeat_byte(9)])),
    ] {
        assert_eq!(
            rpc_ok(&node, method, params.clone()).await,
            Value::Null,
            "{method} {params}"
        );
    }
    // Malformed input is -32602.
    let res = call_as(&node, None, "eth_getRawTransactionByHash", json!(["0x12"])).await;
    assert_eq!(res["error"]["code"], -32602, "{res}");
    // Headers: the block's fields, without its transactions or size.
    let block = rpc_ok(&node, "eth_getBlockByNumber", json!([number, false])).await;
    for header in [
        rpc_ok(&node, "eth_getHeaderByNumber", json!([number])).await,
        rpc_ok(&node, "eth_getHeaderByHash", json!([block_hash])).await,
    ] {
        for field in [
            "hash",
            "parentHash",
            "stateRoot",
            "number",
            "timestamp",
            "baseFeePerGas",
        ] {
            assert_eq!(header[field], block[field], "{field}");
        }
        assert!(header.get("transactions").is_none() && header.get("size").is_none());
    }
}

#[tokio::test]
async fn the_pending_block_is_the_next_one_with_the_callers_pool_transactions() {
    let mut config = coco::node::NodeConfig::test();
    config.mining = Mining::Manual;
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let dev = node.node().dev_key.clone().unwrap();
    let key_a = add_key(&node, Role::User, vec![DEV_ADDRESSES[0].parse().unwrap()]);
    let key_c = add_key(&node, Role::User, vec![DEV_ADDRESSES[2].parse().unwrap()]);
    let sent = call_as(
        &node,
        Some(&key_a),
        "eth_sendTransaction",
        json!([{"from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[1], "value": "0x1"}]),
    )
    .await;
    let hash = sent["result"].clone();
    assert!(hash.is_string(), "{sent}");
    let latest = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    let pending = |key: String| {
        let node = &node;
        async move {
            call_as(
                node,
                Some(&key),
                "eth_getBlockByNumber",
                json!(["pending", false]),
            )
            .await["result"]
                .clone()
        }
    };
    let mine = pending(key_a.clone()).await;
    let number = |b: &Value| {
        u64::from_str_radix(b["number"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    assert_eq!(number(&mine), number(&latest) + 1, "{mine}");
    assert_eq!(mine["parentHash"], latest["hash"]);
    assert_eq!(mine["transactions"], json!([hash]));
    for field in ["hash", "nonce", "miner"] {
        assert!(mine[field].is_null(), "{field}: {mine}");
    }
    // The pending header is that block's.
    let header = call_as(
        &node,
        Some(&key_a),
        "eth_getHeaderByNumber",
        json!(["pending"]),
    )
    .await["result"]
        .clone();
    assert_eq!(header["number"], mine["number"], "{header}");
    assert_eq!(header["gasUsed"], mine["gasUsed"]);
    assert!(header["hash"].is_null() && header.get("transactions").is_none());
    // The outsider's pending block holds none of A's transactions.
    let theirs = pending(key_c.clone()).await;
    assert_eq!(theirs["transactions"], json!([]), "{theirs}");
    assert_ne!(theirs["gasUsed"], mine["gasUsed"]);
    // Nothing was mined: latest is unchanged, and mining makes the block A saw.
    assert_eq!(
        rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await["hash"],
        latest["hash"]
    );
    call_as(&node, Some(&dev), "evm_mine", json!([])).await;
    let mined = call_as(
        &node,
        Some(&key_a),
        "eth_getBlockByNumber",
        json!(["latest", false]),
    )
    .await["result"]
        .clone();
    assert_eq!(mined["transactions"], json!([hash]));
    assert_eq!(number(&mined), number(&mine));
    // Nothing in the outsider's pending block moves when A pools a transaction: gas,
    // size, roots, bloom and the list are C's alone.
    let before = pending(key_c.clone()).await;
    let sent = call_as(
        &node,
        Some(&key_a),
        "eth_sendTransaction",
        json!([{"from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[1], "value": "0x2"}]),
    )
    .await;
    assert!(sent["result"].is_string(), "{sent}");
    let after = pending(key_c).await;
    for field in [
        "transactions",
        "gasUsed",
        "size",
        "transactionsRoot",
        "receiptsRoot",
        "logsBloom",
        "number",
    ] {
        assert_eq!(before[field], after[field], "{field} moved with A's pool");
    }
    assert_ne!(pending(key_a).await["gasUsed"], after["gasUsed"]);
}
