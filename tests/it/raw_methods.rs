//! The methods added for Ethereum's conformance suite: `debug_getRaw*` (checked by
//! decoding them back and comparing hashes), `eth_config`, `eth_capabilities`,
//! `eth_baseFee`, `eth_blobBaseFee`, `eth_getStorageValues`, `txpool_contentFrom`, and
//! geth's strict parameter parsing.

use alloy::consensus::{Block, Header, ReceiptEnvelope, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rlp::Decodable;
use serde_json::{Value, json};

use crate::common::contracts::Counter;
use crate::common::*;

/// The whole response of a call.
async fn call(node: &TestNode, method: &str, params: Value) -> Value {
    raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

fn bytes(value: &Value) -> Bytes {
    serde_json::from_value(value.clone()).expect("hex bytes")
}

#[tokio::test]
async fn raw_reads_decode_to_what_the_json_methods_report() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let receipt = counter
        .increment()
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    let number = receipt.block_number.expect("mined");
    let tag = json!([format!("0x{number:x}")]);
    let block = rpc_ok(&node, "eth_getBlockByNumber", json!([tag[0], false])).await;

    let header = Header::decode(
        &mut bytes(&rpc_ok(&node, "debug_getRawHeader", tag.clone()).await).as_ref(),
    )
    .expect("header RLP");
    assert_eq!(json!(header.hash_slow()), block["hash"]);

    let raw_block = bytes(&rpc_ok(&node, "debug_getRawBlock", tag.clone()).await);
    assert_eq!(json!(format!("0x{:x}", raw_block.len())), block["size"]);
    let decoded = Block::<TxEnvelope>::decode(&mut raw_block.as_ref()).expect("block RLP");
    assert_eq!(decoded.header, header);
    assert_eq!(decoded.body.transactions.len(), 1);
    assert_eq!(
        *decoded.body.transactions[0].tx_hash(),
        receipt.transaction_hash
    );

    let receipts = rpc_ok(&node, "debug_getRawReceipts", tag.clone()).await;
    let receipts = receipts.as_array().expect("list");
    assert_eq!(receipts.len(), 1);
    let decoded = ReceiptEnvelope::decode_2718(&mut bytes(&receipts[0]).as_ref()).expect("2718");
    assert_eq!(decoded.logs().len(), receipt.inner.logs().len());
    assert!(decoded.status());

    let raw_tx = rpc_ok(
        &node,
        "debug_getRawTransaction",
        json!([receipt.transaction_hash]),
    )
    .await;
    let tx = TxEnvelope::decode_2718(&mut bytes(&raw_tx).as_ref()).expect("2718");
    assert_eq!(*tx.tx_hash(), receipt.transaction_hash);
    assert_eq!(
        rpc_ok(
            &node,
            "debug_getRawTransaction",
            json!([B256::repeat_byte(1)])
        )
        .await,
        Value::Null
    );

    // geth's errors: unknown blocks, numbers and hashes without their 0x prefix.
    let unknown = call(&node, "debug_getRawBlock", json!(["0x3e8"])).await;
    assert_eq!(unknown["error"]["code"], -32000, "{unknown}");
    let unprefixed = call(&node, "debug_getRawHeader", json!(["2"])).await;
    assert_eq!(unprefixed["error"]["code"], -32602, "{unprefixed}");
    let unprefixed = call(
        &node,
        "debug_getRawTransaction",
        json!([format!("{:x}", receipt.transaction_hash)]),
    )
    .await;
    assert_eq!(unprefixed["error"]["code"], -32602, "{unprefixed}");
    // As geth: the parser's reason is the message, and there is no `data`.
    assert!(unprefixed["error"].get("data").is_none(), "{unprefixed}");
    // The genesis block has no receipts.
    assert_eq!(
        rpc_ok(&node, "debug_getRawReceipts", json!(["0x0"])).await,
        json!([])
    );
}

#[tokio::test]
async fn config_capabilities_and_fees() {
    let node = TestNode::spawn().await;
    let config = rpc_ok(&node, "eth_config", json!([])).await;
    let current = &config["current"];
    // The dev chain runs every fork from genesis.
    assert_eq!(current["activationTime"], 0);
    let chain_id = rpc_ok(&node, "eth_chainId", json!([])).await;
    assert_eq!(current["chainId"], chain_id);
    assert_eq!(
        current["precompiles"]["P256VERIFY"],
        "0x0000000000000000000000000000000000000100"
    );
    assert!(current["systemContracts"]["HISTORY_STORAGE_ADDRESS"].is_string());
    assert_eq!(
        current["forkId"].as_str().map(str::len),
        Some(10),
        "{current}"
    );
    assert_eq!(config["next"], Value::Null);
    assert_eq!(config["last"], Value::Null);

    let capabilities = rpc_ok(&node, "eth_capabilities", json!([])).await;
    let head = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(capabilities["head"]["hash"], head["hash"]);
    assert_eq!(capabilities["head"]["number"], head["number"]);
    for kind in ["state", "tx", "logs", "receipts", "blocks", "stateproofs"] {
        assert_eq!(
            capabilities[kind],
            json!({"disabled": false, "oldestBlock": "0x0"}),
            "{kind}"
        );
    }

    let base_fee: U256 =
        serde_json::from_value(rpc_ok(&node, "eth_baseFee", json!([])).await).expect("quantity");
    let gas_price = node.reader().get_gas_price().await.expect("gas price");
    assert!(
        U256::from(gas_price) > base_fee,
        "the suggested price adds a tip"
    );
    // An idle chain's blob base fee is the minimum.
    assert_eq!(rpc_ok(&node, "eth_blobBaseFee", json!([])).await, "0x1");
    let history = rpc_ok(&node, "eth_feeHistory", json!(["0x1", "latest", [50]])).await;
    assert_eq!(history["baseFeePerBlobGas"], json!(["0x1", "0x1"]));
    assert_eq!(history["blobGasUsedRatio"], json!([0.0]));
}

#[tokio::test]
async fn storage_values_read_many_slots_at_once() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    for _ in 0..2 {
        counter
            .increment()
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let address = *counter.address();
    let stranger = Address::repeat_byte(0xc1);
    let values = rpc_ok(
        &node,
        "eth_getStorageValues",
        json!([{ address.to_string(): ["0x0", "0x01"], stranger.to_string(): ["0x0"] }, "latest"]),
    )
    .await;
    let two = B256::with_last_byte(2);
    assert_eq!(
        values[address.to_string().to_lowercase()],
        json!([two, B256::ZERO])
    );
    assert_eq!(
        values[stranger.to_string().to_lowercase()],
        json!([B256::ZERO])
    );
    // The same slot through eth_getStorageAt, with geth's key checks.
    assert_eq!(
        rpc_ok(&node, "eth_getStorageAt", json!([address, "0x0", "latest"])).await,
        json!(two)
    );
    let long = format!("0x0{}", "00".repeat(32));
    let err = call(&node, "eth_getStorageAt", json!([address, long, "latest"])).await;
    assert_eq!(err["error"]["code"], -32602, "{err}");
    let err = call(
        &node,
        "eth_getStorageAt",
        json!([address, "0xasdf", "latest"]),
    )
    .await;
    assert_eq!(err["error"]["code"], -32602, "{err}");
    let empty = call(&node, "eth_getStorageValues", json!([{}, "latest"])).await;
    assert_eq!(empty["error"]["code"], -32602, "{empty}");
}

#[tokio::test]
async fn blocks_logs_and_traces_answer_geths_errors() {
    let node = TestNode::spawn().await;
    let head: u64 = node.reader().get_block_number().await.unwrap();
    let beyond = call(
        &node,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": format!("0x{:x}", head + 5)}]),
    )
    .await;
    assert_eq!(beyond["error"]["code"], -32602, "{beyond}");
    let both = call(
        &node,
        "eth_getLogs",
        json!([{"blockHash": B256::ZERO, "fromBlock": "0x0"}]),
    )
    .await;
    assert_eq!(both["error"]["code"], -32602, "{both}");
    let genesis = call(&node, "debug_traceBlockByNumber", json!(["0x0"])).await;
    assert_eq!(genesis["error"]["code"], -32000, "{genesis}");
    let unknown = call(
        &node,
        "debug_traceBlockByHash",
        json!([B256::with_last_byte(1)]),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32000, "{unknown}");
    // Block objects carry no totalDifficulty; mined transactions their block's time.
    let block = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", true])).await;
    assert!(block.get("totalDifficulty").is_none(), "{block}");
    assert_eq!(block["uncles"], json!([]));
}

#[tokio::test]
async fn content_from_lists_one_senders_pool() {
    let node = TestNode::spawn_with(coco::node::NodeConfig {
        mining: coco::chain::Mining::Manual,
        ..coco::node::NodeConfig::test()
    })
    .await;
    let provider = node.provider(1);
    let pending = provider
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(Address::repeat_byte(2))
                .value(U256::from(5)),
        )
        .await
        .expect("send");
    let sender: Address = DEV_ADDRESSES[1].parse().unwrap();
    let content = rpc_ok(&node, "txpool_contentFrom", json!([sender])).await;
    let tx = &content["pending"]["0"];
    assert_eq!(tx["hash"], json!(pending.tx_hash()));
    // A pending dynamic-fee transaction reports its fee cap as its gas price.
    assert_eq!(tx["gasPrice"], tx["maxFeePerGas"]);
    assert_eq!(content["queued"], json!({}));
    let other = rpc_ok(&node, "txpool_contentFrom", json!([Address::ZERO])).await;
    assert_eq!(other, json!({"pending": {}, "queued": {}}));
}

#[tokio::test]
async fn build_block_v1_builds_on_the_head_without_changing_the_chain() {
    use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
    use alloy::signers::local::PrivateKeySigner;

    let node = TestNode::spawn().await;
    let head = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    let number = u64::from_str_radix(
        head["number"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let timestamp = u64::from_str_radix(
        head["timestamp"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let attributes = json!({
        "timestamp": format!("0x{:x}", timestamp + 12),
        "prevRandao": B256::ZERO,
        "suggestedFeeRecipient": Address::ZERO,
        "withdrawals": [],
        "parentBeaconBlockRoot": B256::repeat_byte(0xbe),
    });

    let empty = rpc_ok(
        &node,
        "testing_buildBlockV1",
        json!([head["hash"], attributes, [], "0x"]),
    )
    .await;
    let payload = &empty["executionPayload"];
    assert_eq!(payload["parentHash"], head["hash"]);
    assert_eq!(payload["blockNumber"], json!(format!("0x{:x}", number + 1)));
    assert_eq!(payload["transactions"], json!([]));
    assert_eq!(payload["gasUsed"], "0x0");
    assert_eq!(empty["blockValue"], "0x0");
    assert_eq!(empty["executionRequests"], json!([]));
    assert_eq!(
        empty["blobsBundle"],
        json!({"commitments": [], "proofs": [], "blobs": []})
    );

    // A signed transfer with a 2 gwei tip: the fee recipient earns 21000 × 2 gwei.
    let signer: PrivateKeySigner = DEV_KEYS[3].parse().unwrap();
    let base_fee: u128 = u128::from_str_radix(
        payload["baseFeePerGas"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let chain_id = node.reader().get_chain_id().await.unwrap();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .with_to(Address::repeat_byte(9))
        .with_value(U256::from(1))
        .with_nonce(0)
        .with_chain_id(chain_id)
        .with_gas_limit(21_000)
        .with_max_priority_fee_per_gas(2_000_000_000)
        .with_max_fee_per_gas(base_fee + 2_000_000_000)
        .build(&EthereumWallet::from(signer))
        .await
        .unwrap();
    let raw = alloy::eips::eip2718::Encodable2718::encoded_2718(&tx);
    let built = rpc_ok(
        &node,
        "testing_buildBlockV1",
        json!([
            head["hash"],
            attributes,
            [Bytes::from(raw.clone())],
            "0x74657374"
        ]),
    )
    .await;
    let payload = &built["executionPayload"];
    assert_eq!(payload["transactions"], json!([Bytes::from(raw)]));
    assert_eq!(payload["gasUsed"], "0x5208");
    assert_eq!(payload["extraData"], "0x74657374");
    assert_eq!(
        built["blockValue"],
        json!(format!("0x{:x}", 21_000u64 * 2_000_000_000))
    );

    // A transaction that cannot apply fails the whole call, as do undecodable bytes.
    let signer: PrivateKeySigner = DEV_KEYS[3].parse().unwrap();
    let future = alloy::rpc::types::TransactionRequest::default()
        .with_to(Address::repeat_byte(9))
        .with_nonce(999)
        .with_chain_id(chain_id)
        .with_gas_limit(21_000)
        .with_max_priority_fee_per_gas(1)
        .with_max_fee_per_gas(base_fee + 1)
        .build(&EthereumWallet::from(signer))
        .await
        .unwrap();
    let future = Bytes::from(alloy::eips::eip2718::Encodable2718::encoded_2718(&future));
    let err = call(
        &node,
        "testing_buildBlockV1",
        json!([head["hash"], attributes, [future], null]),
    )
    .await;
    assert_eq!(err["error"]["code"], -32000, "{err}");
    let err = call(
        &node,
        "testing_buildBlockV1",
        json!([head["hash"], attributes, ["0x02"], null]),
    )
    .await;
    assert_eq!(err["error"]["code"], -32602, "{err}");
    // Nothing was mined.
    let after = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(after["hash"], head["hash"]);
}
