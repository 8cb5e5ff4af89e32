//! `eth_simulateV1` against a dev node: block sequences with overrides, call errors,
//! transfer logs, validation errors, the confidential policy, and the store left alone.

use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::sol_types::{Revert, SolError};
use coco::rpc::auth::{KeyRecord, Role, generate_key, key_hash};
use serde_json::{Value, json};

use crate::common::*;

const FUNDED: Address = address!("0xc000000000000000000000000000000000000000");
const TO: Address = address!("0xc100000000000000000000000000000000000000");
const THIRD: Address = address!("0xc200000000000000000000000000000000000000");
const CONTRACT: Address = address!("0xc300000000000000000000000000000000000000");
/// ERC-7528's pseudo-address for ether transfers, as geth writes it in logs.
const ETH: &str = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
/// `Transfer(address,address,uint256)`.
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// The whole response of `eth_simulateV1` with `payload` on `latest`.
async fn simulate(node: &TestNode, payload: Value) -> Value {
    raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_simulateV1", "params": [payload, "latest"]}),
    )
    .await
}

fn quantity(value: &Value) -> u64 {
    let text = value.as_str().expect("a quantity");
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex")
}

/// Code that reverts with `Error(reason)`: copies the encoded error (appended after
/// the 12 bytes of code) to memory and reverts with it.
fn reverting_code(reason: &str) -> (Bytes, Bytes) {
    let data = Revert::from(reason).abi_encode();
    let len = u8::try_from(data.len()).expect("short reason");
    let mut code = vec![0x60, len, 0x60, 12, 0x60, 0, 0x39, 0x60, len, 0x60, 0, 0xfd];
    code.extend_from_slice(&data);
    (code.into(), data.into())
}

#[tokio::test]
async fn blocks_follow_each_other_with_overrides_gaps_and_state_carried_over() {
    let node = TestNode::spawn().await;
    let head = quantity(&rpc_ok(&node, "eth_blockNumber", json!([])).await);
    let latest = rpc_ok(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    let res = simulate(
        &node,
        json!({"blockStateCalls": [
            {
                "stateOverrides": {FUNDED.to_string(): {"balance": "0x3e8"}},
                "calls": [{"from": FUNDED, "to": TO, "value": "0x3e8"}]
            },
            {
                "blockOverrides": {"number": format!("{:#x}", head + 4), "feeRecipient": THIRD},
                "calls": [{"from": TO, "to": THIRD, "value": "0x1f4"}]
            }
        ]}),
    )
    .await;
    let blocks = res["result"].as_array().unwrap_or_else(|| panic!("{res}"));
    assert_eq!(blocks.len(), 4, "two requested blocks and a gap of two");
    let mut parent = latest["hash"].clone();
    let mut time = quantity(&latest["timestamp"]);
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(quantity(&block["number"]), head + 1 + i as u64);
        assert_eq!(block["parentHash"], parent);
        assert_eq!(quantity(&block["timestamp"]), time + 12);
        parent = block["hash"].clone();
        time += 12;
    }
    let first = &blocks[0]["calls"][0];
    assert_eq!(first["status"], "0x1");
    assert_eq!(first["gasUsed"], "0x5208");
    assert_eq!(first["logs"], json!([]));
    assert_eq!(
        blocks[0]["baseFeePerGas"], "0x0",
        "no validation: no base fee"
    );
    assert_eq!(blocks[1]["calls"], json!([]));
    // The second transfer spends what the first one sent, a block earlier.
    let last = &blocks[3];
    assert_eq!(last["calls"][0]["status"], "0x1");
    assert_eq!(last["miner"], json!(THIRD));
    assert_eq!(last["gasUsed"], "0x5208");
    assert_eq!(last["transactions"].as_array().unwrap().len(), 1);

    // Nothing reached the chain.
    assert_eq!(
        quantity(&rpc_ok(&node, "eth_blockNumber", json!([])).await),
        head
    );
    let balance = rpc_ok(&node, "eth_getBalance", json!([TO, "latest"])).await;
    assert_eq!(balance, "0x0");
}

#[tokio::test]
async fn a_revert_is_a_call_result_with_its_reason_and_data() {
    let node = TestNode::spawn().await;
    let (code, data) = reverting_code("nope");
    let res = simulate(
        &node,
        json!({"blockStateCalls": [{
            "stateOverrides": {CONTRACT.to_string(): {"code": code}},
            "calls": [
                {"from": FUNDED, "to": CONTRACT},
                {"from": FUNDED, "to": TO}
            ]
        }]}),
    )
    .await;
    let calls = &res["result"][0]["calls"];
    assert_eq!(calls[0]["status"], "0x0", "{res}");
    assert_eq!(calls[0]["returnData"], "0x");
    assert_eq!(calls[0]["error"]["code"], 3);
    assert_eq!(calls[0]["error"]["message"], "execution reverted: nope");
    assert_eq!(calls[0]["error"]["data"], json!(data));
    assert_eq!(calls[1]["status"], "0x1", "later calls still run");
    assert!(calls[1].get("error").is_none());
    // The reverted call still consumed its nonce: the second transaction has nonce 1.
    let full = simulate(
        &node,
        json!({"blockStateCalls": [{
            "stateOverrides": {CONTRACT.to_string(): {"code": code}},
            "calls": [{"from": FUNDED, "to": CONTRACT}, {"from": FUNDED, "to": TO}]
        }], "returnFullTransactions": true}),
    )
    .await;
    let txs = &full["result"][0]["transactions"];
    assert_eq!(txs[1]["nonce"], "0x1", "{full}");
    assert_eq!(txs[1]["from"], json!(FUNDED));
    assert_eq!(txs[1]["type"], "0x2");
}

#[tokio::test]
async fn trace_transfers_logs_ether_moves_as_erc7528_events() {
    let node = TestNode::spawn().await;
    let payload = |trace: bool| {
        json!({"blockStateCalls": [{
            "stateOverrides": {FUNDED.to_string(): {"balance": "0x3e8"}},
            "calls": [{"from": FUNDED, "to": TO, "value": "0x3e8"}]
        }], "traceTransfers": trace})
    };
    let res = simulate(&node, payload(true)).await;
    let block = &res["result"][0];
    let logs = block["calls"][0]["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("{res}"));
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    assert_eq!(log["address"], ETH);
    assert_eq!(log["topics"][0], TRANSFER_TOPIC);
    assert_eq!(log["topics"][1], json!(FUNDED.into_word()));
    assert_eq!(log["topics"][2], json!(TO.into_word()));
    assert_eq!(log["data"], json!(B256::from(U256::from(1000))));
    assert_eq!(log["blockHash"], block["hash"]);
    assert_eq!(log["transactionHash"], block["transactions"][0]);
    assert_eq!(log["logIndex"], "0x0");
    // Pseudo-logs are not real logs: the receipts (and so the bloom) do not have them.
    assert_eq!(block["logsBloom"], json!(alloy::primitives::Bloom::ZERO));

    let quiet = simulate(&node, payload(false)).await;
    assert_eq!(quiet["result"][0]["calls"][0]["logs"], json!([]));
}

#[tokio::test]
async fn invalid_requests_get_geths_codes_and_change_nothing() {
    let node = TestNode::spawn().await;
    let head = rpc_ok(&node, "eth_blockNumber", json!([])).await;
    let code = |res: &Value| {
        res["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{res}"))
    };
    // With validation the base fee applies, and a call without fees cannot pay it.
    let validated = simulate(
        &node,
        json!({"blockStateCalls": [{"calls": [{"from": FUNDED, "to": TO}]}], "validation": true}),
    )
    .await;
    assert_eq!(code(&validated), -38012);
    // Value the sender does not have.
    let poor = simulate(
        &node,
        json!({"blockStateCalls": [{"calls": [{"from": FUNDED, "to": TO, "value": "0x1"}]}]}),
    )
    .await;
    assert_eq!(code(&poor), -38014);
    // A gas limit below the intrinsic gas.
    let starved = simulate(
        &node,
        json!({"blockStateCalls": [{"calls": [{"from": FUNDED, "to": TO, "gas": "0x0"}]}]}),
    )
    .await;
    assert_eq!(code(&starved), -38013);
    // A nonce below the sender's, with validation.
    let stale = simulate(
        &node,
        json!({"blockStateCalls": [{
            "stateOverrides": {FUNDED.to_string(): {"nonce": "0x5", "balance": "0xffffffffffffffffff"}},
            "blockOverrides": {"baseFeePerGas": "0x0"},
            "calls": [{"from": FUNDED, "to": TO, "nonce": "0x4"}]
        }], "validation": true}),
    )
    .await;
    assert_eq!(code(&stale), -38010);
    // Block numbers that go back, timestamps that do not advance.
    let numbers = simulate(
        &node,
        json!({"blockStateCalls": [
            {"blockOverrides": {"number": "0x20"}}, {"blockOverrides": {"number": "0x10"}}
        ]}),
    )
    .await;
    assert_eq!(code(&numbers), -38020);
    let times = simulate(
        &node,
        json!({"blockStateCalls": [{"blockOverrides": {"time": "0x0"}}]}),
    )
    .await;
    assert_eq!(code(&times), -38021);
    let many = simulate(&node, json!({"blockStateCalls": vec![json!({}); 257]})).await;
    assert_eq!(code(&many), -38026);
    // Moving an account that is not a precompile.
    let moved = simulate(
        &node,
        json!({"blockStateCalls": [{
            "stateOverrides": {TO.to_string(): {"movePrecompileToAddress": THIRD}}
        }]}),
    )
    .await;
    assert_eq!(code(&moved), -32000);
    // A block that does not exist.
    let future = raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_simulateV1",
               "params": [{"blockStateCalls": [{}]}, "0x1000"]}),
    )
    .await;
    assert_eq!(code(&future), -32000);
    assert_eq!(rpc_ok(&node, "eth_blockNumber", json!([])).await, head);
}

#[tokio::test]
async fn under_the_confidential_policy_only_auditors_simulate() {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let me: Address = DEV_ADDRESSES[0].parse().unwrap();
    let (user, auditor) = (generate_key(), generate_key());
    for (key, role) in [(&user, Role::User), (&auditor, Role::Auditor)] {
        node.node().keys.insert(
            key_hash(key),
            KeyRecord::new(role, vec![me], format!("{role:?}")),
        );
    }
    let params = |payload: Value| json!([payload, "latest"]);
    let own_call = json!({"blockStateCalls": [{"calls": [{"from": me, "to": TO}]}]});
    // A simulation can run any sender over overridden state: DESIGN.md gives it to
    // auditors only, so even a user simulating as itself is refused.
    for key in [None, Some(user.as_str())] {
        let refused = call_as(&node, key, "eth_simulateV1", params(own_call.clone())).await;
        assert_eq!(refused["error"]["code"], -32030, "{refused}");
    }
    let overrides = call_as(
        &node,
        Some(&auditor),
        "eth_simulateV1",
        params(json!({"blockStateCalls": [{
            "stateOverrides": {TO.to_string(): {"balance": "0x1"}},
            "calls": [{"from": TO, "to": me}]
        }]})),
    )
    .await;
    assert!(overrides.get("error").is_none(), "{overrides}");
    assert_eq!(
        overrides["result"][0]["calls"][0]["status"], "0x1",
        "{overrides}"
    );
}

#[tokio::test]
async fn under_the_confidential_policy_simulated_roots_are_blinded_as_mined_ones() {
    let open = TestNode::spawn().await;
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let confidential = TestNode::spawn_with(config).await;
    let auditor = generate_key();
    confidential.node().keys.insert(
        key_hash(&auditor),
        KeyRecord::new(Role::Auditor, vec![], "auditor"),
    );
    // The same call on the same genesis state: the same receipt, so the same receipts
    // root, published blinded with block 1's key (known once block 1 is mined).
    let operator = confidential.node().dev_key.clone().unwrap();
    let mined = call_as(&confidential, Some(&operator), "evm_mine", json!([])).await;
    assert!(mined.get("error").is_none(), "{mined}");
    let params = json!([{"blockStateCalls": [{
        "calls": [{"from": DEV_ADDRESSES[0], "to": TO, "value": "0x1"}]
    }]}, "0x0"]);
    let plain = call_as(&open, None, "eth_simulateV1", params.clone()).await;
    let blinded = call_as(&confidential, Some(&auditor), "eth_simulateV1", params).await;
    let (plain, blinded) = (&plain["result"][0], &blinded["result"][0]);
    assert_eq!(plain["number"], "0x1", "{plain}");
    assert_eq!(blinded["number"], "0x1", "{blinded}");
    assert_eq!(plain["transactionsRoot"], blinded["transactionsRoot"]);
    let key: B256 = serde_json::from_value(
        call_as(
            &confidential,
            Some(&auditor),
            "coco_getBlindingKey",
            json!(["0x1"]),
        )
        .await["result"]
            .clone(),
    )
    .unwrap();
    let root: B256 = serde_json::from_value(plain["receiptsRoot"].clone()).unwrap();
    let expected = alloy::primitives::keccak256([root.as_slice(), key.as_slice()].concat());
    assert_eq!(blinded["receiptsRoot"], json!(expected));
    assert_ne!(plain["stateRoot"], blinded["stateRoot"]);
    let genesis = rpc_ok(&confidential, "eth_getBlockByNumber", json!(["0x0", false])).await;
    assert_eq!(blinded["parentHash"], genesis["hash"]);
}
