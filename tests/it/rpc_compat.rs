//! Smaller compatibility surfaces: uncle queries (as geth answers after the merge),
//! whole-account reads (`eth_getAccount`, `eth_getAccountInfo`), and CORS for browser
//! dapps.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use serde_json::{Value, json};

use crate::common::*;

/// geth's root of an empty trie.
const EMPTY_ROOT: &str = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
/// keccak256 of empty code.
const EMPTY_CODE_HASH: &str = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";

async fn rpc(node: &TestNode, method: &str, params: Value) -> Value {
    raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

async fn result(node: &TestNode, method: &str, params: Value) -> Value {
    let res = rpc(node, method, params).await;
    assert!(res.get("error").is_none(), "{method}: {res}");
    res["result"].clone()
}

#[tokio::test]
async fn uncle_queries_answer_as_geth() {
    let node = TestNode::spawn().await;
    result(&node, "evm_mine", json!([])).await;
    let genesis = result(&node, "eth_getBlockByNumber", json!(["0x0", false])).await;
    let hash = genesis["hash"].clone();

    for (method, block) in [
        ("eth_getUncleCountByBlockNumber", json!("latest")),
        ("eth_getUncleCountByBlockNumber", json!("0x1")),
        ("eth_getUncleCountByBlockNumber", json!("earliest")),
        ("eth_getUncleCountByBlockHash", hash.clone()),
    ] {
        assert_eq!(result(&node, method, json!([block])).await, json!("0x0"));
    }
    let unknown_hash = json!(B256::repeat_byte(7));
    assert_eq!(
        result(&node, "eth_getUncleCountByBlockNumber", json!(["0x99"])).await,
        Value::Null
    );
    assert_eq!(
        result(&node, "eth_getUncleCountByBlockHash", json!([unknown_hash])).await,
        Value::Null
    );
    for (method, block) in [
        ("eth_getUncleByBlockNumberAndIndex", json!("latest")),
        ("eth_getUncleByBlockHashAndIndex", hash),
    ] {
        assert_eq!(
            result(&node, method, json!([block, "0x0"])).await,
            Value::Null
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn get_account_and_account_info_read_whole_accounts() {
    let node = TestNode::spawn().await;
    let me: Address = DEV_ADDRESSES[0].parse().unwrap();
    let contract = Address::repeat_byte(0x42);
    let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55]);
    result(&node, "anvil_setCode", json!([contract, code])).await;
    result(&node, "anvil_setNonce", json!([contract, "0x7"])).await;
    result(&node, "anvil_setBalance", json!([contract, "0x3e8"])).await;
    result(
        &node,
        "anvil_setStorageAt",
        json!([contract, "0x0", B256::with_last_byte(9)]),
    )
    .await;

    // The raw shapes.
    assert_eq!(
        result(&node, "eth_getAccount", json!([contract, "latest"])).await,
        json!({
            "nonce": "0x7",
            "balance": "0x3e8",
            "codeHash": keccak256(&code),
            // The Merkle-Patricia root of its one slot.
            "storageRoot": alloy::trie::root::storage_root_unhashed([(B256::ZERO, U256::from(9))]),
        })
    );
    assert_eq!(
        result(&node, "eth_getAccountInfo", json!([contract, "latest"])).await,
        json!({"balance": "0x3e8", "nonce": "0x7", "code": code})
    );
    // An account that does not exist is the empty account, not null.
    let nobody = Address::repeat_byte(0x99);
    assert_eq!(
        result(&node, "eth_getAccount", json!([nobody, "latest"])).await,
        json!({"nonce": "0x0", "balance": "0x0", "codeHash": EMPTY_CODE_HASH, "storageRoot": EMPTY_ROOT})
    );
    assert_eq!(
        result(&node, "eth_getAccountInfo", json!([nobody])).await,
        json!({"balance": "0x0", "nonce": "0x0", "code": "0x"})
    );
    // Unknown blocks are geth's "header not found".
    let res = rpc(&node, "eth_getAccount", json!([me, "0x99"])).await;
    assert_eq!(res["error"]["message"], "header not found", "{res}");

    // alloy's typed calls, at the latest block and at a past one.
    let provider = node.provider(0);
    let before = provider.get_account(me).await.unwrap();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(nobody)
        .value(U256::from(5));
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let after = provider.get_account(me).await.unwrap();
    assert_eq!((before.nonce, after.nonce), (0, 1));
    assert!(after.balance < before.balance);
    let mined_in = receipt.block_number.unwrap();
    let past = provider.get_account(me).number(mined_in - 1).await.unwrap();
    assert_eq!(past, before);
    let info = provider.get_account_info(contract).await.unwrap();
    assert_eq!((info.nonce, info.code), (7, code));
    let info = provider.get_account_info(nobody).await.unwrap();
    assert_eq!(info.balance, U256::from(5));
    node.stop().await;
}

#[tokio::test]
async fn cors_preflight_and_post_allow_any_origin() {
    let node = TestNode::spawn().await;
    let client = reqwest::Client::new();
    let origin = "http://example.test";

    let preflight = client
        .request(reqwest::Method::OPTIONS, &node.url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods == "*" || methods.contains("POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed == "*" || allowed.contains("content-type"),
        "{allowed}"
    );

    let post = client
        .post(&node.url)
        .header("Origin", origin)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["access-control-allow-origin"], "*");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["result"], "0x7a69");
    node.stop().await;
}
