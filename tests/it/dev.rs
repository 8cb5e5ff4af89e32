//! Development methods: signing with the dev keys, mining control, time, snapshots,
//! state patches, impersonation.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, Signature, U256, address};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use serde_json::{Value, json};

use crate::common::*;

async fn balance(node: &TestNode, who: Address) -> U256 {
    node.reader().get_balance(who).await.unwrap()
}

#[tokio::test]
async fn snapshots_revert_blocks_state_and_patches() {
    let node = TestNode::spawn().await;
    let target = Address::repeat_byte(0x31);
    let snap = rpc_ok(&node, "evm_snapshot", json!([])).await;
    let head = node.reader().get_block_number().await.unwrap();
    rpc_ok(&node, "anvil_setBalance", json!([target, "0x1234"])).await;
    assert_eq!(balance(&node, target).await, U256::from(0x1234));
    let receipt = node
        .provider(0)
        .send_transaction(
            TransactionRequest::default()
                .with_to(target)
                .with_value(U256::from(1)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(balance(&node, target).await, U256::from(0x1235));
    assert_eq!(
        rpc_ok(&node, "evm_revert", json!([snap])).await,
        json!(true)
    );
    assert_eq!(
        balance(&node, target).await,
        U256::ZERO,
        "patch and block undone"
    );
    assert_eq!(node.reader().get_block_number().await.unwrap(), head);
    assert!(
        node.reader()
            .get_transaction_receipt(receipt.transaction_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rpc_ok(&node, "evm_revert", json!([snap])).await,
        json!(false),
        "a snapshot is used once"
    );

    // The chain goes on after a revert, and survives a restart exactly.
    node.provider(0)
        .send_transaction(
            TransactionRequest::default()
                .with_to(target)
                .with_value(U256::from(7)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    rpc_ok(
        &node,
        "hardhat_setBalance",
        json!([
            address!("0x00000000000000000000000000000000000000aa"),
            "0x99"
        ]),
    )
    .await;
    let node = node.restart(coco::node::NodeConfig::test()).await;
    assert_eq!(balance(&node, target).await, U256::from(7));
    assert_eq!(
        balance(
            &node,
            address!("0x00000000000000000000000000000000000000aa")
        )
        .await,
        U256::from(0x99)
    );
    assert_eq!(node.reader().get_block_number().await.unwrap(), head + 1);
}

#[tokio::test]
async fn state_patches_set_code_nonce_storage() {
    let node = TestNode::spawn().await;
    let who = Address::repeat_byte(0x44);
    rpc_ok(&node, "anvil_setCode", json!([who, "0x6001600055"])).await;
    rpc_ok(&node, "anvil_setNonce", json!([who, "0x5"])).await;
    let slot = B256::with_last_byte(3);
    let value = B256::repeat_byte(0xab);
    assert_eq!(
        rpc_ok(&node, "anvil_setStorageAt", json!([who, slot, value])).await,
        json!(true)
    );
    let reader = node.reader();
    assert_eq!(
        reader.get_code_at(who).await.unwrap(),
        Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55])
    );
    assert_eq!(reader.get_transaction_count(who).await.unwrap(), 5);
    assert_eq!(
        reader.get_storage_at(who, U256::from(3)).await.unwrap(),
        U256::from_be_bytes(value.0)
    );
}

#[tokio::test]
async fn send_transaction_signs_with_dev_keys_and_impersonates() {
    let node = TestNode::spawn().await;
    let to = Address::repeat_byte(0x55);
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": DEV_ADDRESSES[1], "to": to, "value": "0x64"}]),
    )
    .await;
    // Instant mining: the receipt exists when the send returns.
    let receipt = rpc_ok(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        receipt["from"].as_str().unwrap().to_lowercase(),
        DEV_ADDRESSES[1].to_lowercase()
    );

    let whale = Address::repeat_byte(0x77);
    rpc_ok(
        &node,
        "anvil_setBalance",
        json!([whale, "0xde0b6b3a7640000"]),
    )
    .await;
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"from": whale, "to": to, "value": "0x1"}]}),
    )
    .await;
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown account"),
        "{res}"
    );
    rpc_ok(&node, "anvil_impersonateAccount", json!([whale])).await;
    let hash = rpc_ok(
        &node,
        "eth_sendTransaction",
        json!([{"from": whale, "to": to, "value": "0x1"}]),
    )
    .await;
    let receipt = rpc_ok(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(balance(&node, to).await, U256::from(0x65));
    rpc_ok(&node, "anvil_stopImpersonatingAccount", json!([whale])).await;
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"from": whale, "to": to, "value": "0x1"}]}),
    )
    .await;
    assert!(res["error"].is_object());
}

#[tokio::test]
async fn signatures_recover_to_the_dev_account() {
    let node = TestNode::spawn().await;
    let account: Address = DEV_ADDRESSES[2].parse().unwrap();
    let message = b"hello coco";
    let sig = rpc_ok(
        &node,
        "personal_sign",
        json!([Bytes::from_static(message), account]),
    )
    .await;
    let sig: Signature = sig.as_str().unwrap().parse().unwrap();
    assert_eq!(sig.recover_address_from_msg(message).unwrap(), account);
    let sig2 = rpc_ok(
        &node,
        "eth_sign",
        json!([account, Bytes::from_static(message)]),
    )
    .await;
    assert_eq!(sig2.as_str().unwrap().parse::<Signature>().unwrap(), sig);

    let typed = json!({
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"chainId","type":"uint256"}],
            "Mail": [{"name":"contents","type":"string"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "coco", "chainId": 31337},
        "message": {"contents": "hi"}
    });
    let sig = rpc_ok(
        &node,
        "eth_signTypedData_v4",
        json!([account, typed.to_string()]),
    )
    .await;
    let sig: Signature = sig.as_str().unwrap().parse().unwrap();
    let data: alloy::dyn_abi::TypedData = serde_json::from_value(typed).unwrap();
    let hash = data.eip712_signing_hash().unwrap();
    assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), account);
}

#[tokio::test]
async fn mining_modes_and_time() {
    let node = TestNode::spawn().await;
    let reader = node.reader();
    rpc_ok(&node, "evm_setAutomine", json!([false])).await;
    let start = reader.get_block_number().await.unwrap();
    let hashes: Vec<Value> = futures_hashes(&node, 3).await;
    assert_eq!(
        reader.get_block_number().await.unwrap(),
        start,
        "nothing mined while automine is off"
    );
    rpc_ok(&node, "evm_mine", json!([])).await;
    assert_eq!(reader.get_block_number().await.unwrap(), start + 1);
    let block = reader
        .get_block_by_number((start + 1).into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        block.transactions.len(),
        3,
        "one block holds every pending transaction"
    );
    for h in hashes {
        assert_eq!(
            rpc_ok(&node, "eth_getTransactionReceipt", json!([h])).await["blockNumber"],
            json!(format!("{:#x}", start + 1))
        );
    }

    rpc_ok(&node, "hardhat_mine", json!(["0x3", "0xa"])).await;
    assert_eq!(reader.get_block_number().await.unwrap(), start + 4);
    let a = reader
        .get_block_by_number((start + 2).into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let b = reader
        .get_block_by_number((start + 3).into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert_eq!(b - a, 10, "blocks 10 s apart");

    let latest = reader
        .get_block_by_number((start + 4).into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    rpc_ok(&node, "evm_setNextBlockTimestamp", json!([latest + 1000])).await;
    rpc_ok(&node, "evm_mine", json!([])).await;
    let ts = reader
        .get_block_by_number((start + 5).into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert_eq!(ts, latest + 1000);
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"evm_setNextBlockTimestamp","params":[1]}),
    )
    .await;
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lower than previous block's timestamp")
    );

    let offset = rpc_ok(&node, "evm_increaseTime", json!([3600])).await;
    assert!(offset.as_i64().unwrap() >= 3600);
    rpc_ok(&node, "evm_mine", json!([])).await;
    let later = reader
        .get_block_by_number((start + 6).into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert!(later >= ts + 3600, "time moved forward: {later} vs {ts}");

    rpc_ok(&node, "evm_setAutomine", json!([true])).await;
    node.provider(0)
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::ZERO)
                .with_value(U256::from(1)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let info = rpc_ok(&node, "anvil_nodeInfo", json!([])).await;
    assert_eq!(info["currentBlockNumber"], json!(start + 7));
    rpc_ok(&node, "anvil_reset", json!([])).await;
    assert_eq!(reader.get_block_number().await.unwrap(), 0);
}

/// Sends `n` transfers from dev account 0 without waiting for receipts.
async fn futures_hashes(node: &TestNode, n: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            rpc_ok(
                node,
                "eth_sendTransaction",
                json!([{"from": DEV_ADDRESSES[0], "to": Address::repeat_byte(9), "value": "0x1", "nonce": format!("{i:#x}")}]),
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn client_version_compat_is_opt_in() {
    let node = TestNode::spawn().await;
    let v = rpc_ok(&node, "web3_clientVersion", json!([])).await;
    assert!(v.as_str().unwrap().starts_with("coco/"));
    let mut config = coco::node::NodeConfig::test();
    config.anvil_compat = true;
    let node = TestNode::spawn_with(config).await;
    let v = rpc_ok(&node, "web3_clientVersion", json!([])).await;
    assert!(v.as_str().unwrap().starts_with("anvil/"), "{v}");
}

/// `GET /metrics` on a single node: height, pool and committed transactions, in
/// Prometheus' text format; no Raft figures (it replicates nothing).
#[tokio::test]
async fn metrics_are_served_in_prometheus_text_format() {
    let node = TestNode::spawn().await;
    let p = node.provider(0);
    let to = address!("0x000000000000000000000000000000000000beef");
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(1));
    p.send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let resp = reqwest::get(format!("{}/metrics", node.url)).await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        resp.headers()
    );
    let text = resp.text().await.unwrap();
    for needle in [
        "# TYPE coco_block_height gauge",
        "coco_block_height 1",
        "coco_pool_transactions 0",
        "coco_transactions_committed_total 1",
        "# EOF",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
    assert!(!text.contains("raft"), "{text}");
    // JSON-RPC is unaffected.
    assert_eq!(p.get_block_number().await.unwrap(), 1);
}
