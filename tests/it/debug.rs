//! `debug_trace*` (geth's struct logger, callTracer, prestateTracer) and
//! `eth_createAccessList`, checked against receipts and the contracts' known storage.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::trace::geth::{CallFrame, DefaultFrame};
use alloy::sol_types::{SolCall, SolEvent};
use serde_json::{Value, json};

use crate::common::contracts::Counter;
use crate::common::*;

/// `error` of a JSON-RPC call that must fail.
async fn rpc_error(node: &TestNode, method: &str, params: Value) -> Value {
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    assert!(res["result"].is_null(), "{method} should fail: {res}");
    res["error"].clone()
}

fn hex(data: impl AsRef<[u8]>) -> String {
    format!("0x{}", alloy::hex::encode(data))
}

/// The entry of `address` in an object keyed by addresses (any letter case).
fn by_address(object: &Value, address: Address) -> &Value {
    let key = address.to_string().to_lowercase();
    object
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.to_lowercase() == key))
        .map(|(_, v)| v)
        .unwrap_or(&Value::Null)
}

/// The struct logs' opcodes.
fn ops(frame: &Value) -> Vec<String> {
    frame["structLogs"]
        .as_array()
        .expect("structLogs")
        .iter()
        .map(|l| l["op"].as_str().expect("op").to_string())
        .collect()
}

/// Deploys a contract whose runtime calls `increment()` on the address in the first
/// calldata word, then stops. Hand-assembled so the test needs no compiler:
///
/// ```text
/// 63 d09de08a  PUSH4 increment()     60 e0 1b  PUSH1 224 SHL
/// 5f 52        PUSH0 MSTORE          (selector in memory[0..4])
/// 5f 5f 60 04 5f 5f                  retSize retOffset argsSize=4 argsOffset value
/// 5f 35        PUSH0 CALLDATALOAD    (callee)
/// 5a f1 00     GAS CALL STOP
/// ```
async fn deploy_forwarder(provider: &impl Provider) -> Address {
    let runtime = "63d09de08a60e01b5f525f5f60045f5f5f355af100";
    let len = runtime.len() / 2;
    // PUSH1 len PUSH1 10 PUSH0 CODECOPY PUSH1 len PUSH0 RETURN, then the runtime.
    let init = format!("60{len:02x}600a5f3960{len:02x}5ff3{runtime}");
    assert_eq!(init.len() / 2 - len, 10, "the init prefix is 10 bytes");
    let init: Bytes = init.parse().expect("hex");
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    receipt.contract_address.expect("created")
}

#[tokio::test]
async fn struct_logs_of_a_storage_write() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let receipt = set_counter(&counter, 42).await;
    assert!(receipt.status());
    let hash = receipt.transaction_hash;

    // The default tracer: geth's struct logger.
    let trace = rpc_ok(&node, "debug_traceTransaction", json!([hash])).await;
    assert_eq!(trace["failed"], false, "{trace}");
    assert_eq!(
        trace["gas"],
        json!(receipt.gas_used),
        "gas is the receipt's"
    );
    assert_eq!(trace["returnValue"], "0x", "setNumber returns nothing");
    let ops = ops(&trace);
    assert!(ops.contains(&"SSTORE".to_string()), "{ops:?}");
    assert_eq!(ops.last().map(String::as_str), Some("STOP"));
    let logs = trace["structLogs"].as_array().unwrap();
    let sstore = logs.iter().find(|l| l["op"] == "SSTORE").unwrap();
    assert_eq!(sstore["depth"], 1);
    // geth shows the slot written, with the new value, at the SSTORE.
    let slot0 = format!("{:#066x}", 0);
    assert_eq!(sstore["storage"][&slot0], json!(B256::from(U256::from(42))));
    assert!(sstore["stack"].is_array(), "stack by default: {sstore}");
    assert!(sstore.get("memory").is_none(), "memory only when enabled");
    // The typed view parses; gas never grows from step to step (no inner calls here).
    let frame: DefaultFrame = serde_json::from_value(trace.clone()).expect("DefaultFrame");
    assert_eq!(frame.gas, receipt.gas_used);
    assert!(frame.struct_logs.windows(2).all(|w| w[0].gas >= w[1].gas));

    // Options: no storage, no stack; memory on.
    let opts = json!({"disableStorage": true, "disableStack": true, "enableMemory": true});
    let trace = rpc_ok(&node, "debug_traceTransaction", json!([hash, opts])).await;
    let logs = trace["structLogs"].as_array().unwrap();
    assert!(logs.iter().all(|l| l.get("storage").is_none()), "{trace}");
    assert!(logs.iter().all(|l| l.get("stack").is_none()));
    assert!(
        logs.iter().any(|l| l["memory"].is_array()),
        "memory enabled"
    );
    assert_eq!(trace["gas"], json!(receipt.gas_used));

    // prestateTracer: slot 0 held 0 before the write; diff mode shows 42 after.
    let pre = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer"}]),
    )
    .await;
    let account = by_address(&pre, *counter.address());
    assert!(account.is_object(), "counter in prestate: {pre}");
    let slots = account["storage"].as_object().expect("storage");
    assert_eq!(slots[&slot0], json!(B256::ZERO), "{pre}");
    let diff = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
    )
    .await;
    let post = by_address(&diff["post"], *counter.address());
    assert_eq!(
        post["storage"][&slot0],
        json!(B256::from(U256::from(42))),
        "{diff}"
    );

    // Unknown hashes and tracers are refused, as geth does.
    let err = rpc_error(
        &node,
        "debug_traceTransaction",
        json!([B256::repeat_byte(9)]),
    )
    .await;
    assert_eq!(err["code"], -32000);
    assert_eq!(err["message"], "transaction not found");
    let err = rpc_error(
        &node,
        "debug_traceTransaction",
        json!([hash, {"tracer": "noSuchTracer"}]),
    )
    .await;
    assert_eq!(err["code"], -32602, "{err}");
}

#[tokio::test]
async fn replay_applies_earlier_transactions_of_the_block() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    // Two writes in one block: the second (5 -> 6) costs far less than a write from
    // zero, so its trace matches its receipt only if the first one was replayed.
    rpc_ok(&node, "evm_setAutomine", json!([false])).await;
    let first = counter
        .setNumber(U256::from(5))
        .gas(100_000)
        .send()
        .await
        .unwrap();
    let second = counter
        .setNumber(U256::from(6))
        .gas(100_000)
        .send()
        .await
        .unwrap();
    rpc_ok(&node, "evm_mine", json!([])).await;
    let first = first.get_receipt().await.unwrap();
    let second = second.get_receipt().await.unwrap();
    assert_eq!(first.block_number, second.block_number, "one block");
    assert!(second.gas_used < first.gas_used);
    for receipt in [&first, &second] {
        let trace = rpc_ok(
            &node,
            "debug_traceTransaction",
            json!([receipt.transaction_hash]),
        )
        .await;
        assert_eq!(trace["gas"], json!(receipt.gas_used), "{receipt:?}");
    }

    // The whole block, by number and by hash, in order.
    let number = first.block_number.unwrap();
    let block_hash = first.block_hash.unwrap();
    let by_number = rpc_ok(
        &node,
        "debug_traceBlockByNumber",
        json!([format!("{number:#x}"), {"tracer": "callTracer"}]),
    )
    .await;
    let by_hash = rpc_ok(
        &node,
        "debug_traceBlockByHash",
        json!([block_hash, {"tracer": "callTracer"}]),
    )
    .await;
    assert_eq!(by_number, by_hash);
    let traces = by_number.as_array().unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0]["txHash"], json!(first.transaction_hash));
    assert_eq!(traces[1]["txHash"], json!(second.transaction_hash));
    assert_eq!(
        traces[1]["result"]["gasUsed"],
        json!(U256::from(second.gas_used))
    );
}

#[tokio::test]
async fn call_tracer_shows_nested_calls() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let forwarder = deploy_forwarder(&provider).await;
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(forwarder)
                .with_input(counter.address().into_word()),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(counter.number().call().await.unwrap(), U256::from(1));

    let opts = json!({"tracer": "callTracer", "tracerConfig": {"withLog": true}});
    let trace = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([receipt.transaction_hash, opts]),
    )
    .await;
    let frame: CallFrame = serde_json::from_value(trace.clone()).expect("CallFrame");
    assert_eq!(frame.typ, "CALL");
    assert_eq!(frame.from, node.node().signers[0].address());
    assert_eq!(frame.to, Some(forwarder));
    assert_eq!(frame.gas_used, U256::from(receipt.gas_used));
    assert_eq!(frame.calls.len(), 1, "{trace}");
    let inner = &frame.calls[0];
    assert_eq!(inner.typ, "CALL");
    assert_eq!(inner.from, forwarder);
    assert_eq!(inner.to, Some(*counter.address()));
    assert_eq!(
        inner.input,
        Bytes::from(Counter::incrementCall {}.abi_encode())
    );
    assert_eq!(inner.logs.len(), 1, "withLog: {trace}");
    assert_eq!(
        inner.logs[0].topics.as_ref().unwrap()[0],
        Counter::Incremented::SIGNATURE_HASH
    );

    let top = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([receipt.transaction_hash, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]),
    )
    .await;
    assert!(
        top.get("calls")
            .is_none_or(|c| c.as_array().is_some_and(|c| c.is_empty())),
        "onlyTopCall: {top}"
    );
    assert_eq!(top["to"], json!(forwarder));
}

#[tokio::test]
async fn reverted_transactions_trace_as_failed() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    // A fixed gas limit: estimation would refuse a call that always reverts.
    let receipt = counter
        .fail()
        .gas(100_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status());

    let trace = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([receipt.transaction_hash]),
    )
    .await;
    assert_eq!(trace["failed"], true, "{trace}");
    assert_eq!(trace["gas"], json!(receipt.gas_used));
    assert_eq!(ops(&trace).last().map(String::as_str), Some("REVERT"));
    let data = trace["returnValue"].as_str().unwrap();
    assert!(data.contains("08c379a0"), "Error(string) data: {data}");

    let call = rpc_ok(
        &node,
        "debug_traceTransaction",
        json!([receipt.transaction_hash, {"tracer": "callTracer"}]),
    )
    .await;
    assert_eq!(call["error"], "execution reverted", "{call}");
    assert_eq!(call["revertReason"], "Counter: failed");
}

#[tokio::test]
async fn trace_call_runs_on_a_block_state() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let set = set_counter(&counter, 7).await;
    let number = set.block_number.unwrap();
    let read = json!({"to": counter.address(), "data": hex(Counter::numberCall {}.abi_encode())});

    let trace = rpc_ok(&node, "debug_traceCall", json!([read, "latest"])).await;
    assert_eq!(trace["failed"], false, "{trace}");
    assert_eq!(trace["returnValue"], json!(B256::from(U256::from(7))));
    assert!(ops(&trace).contains(&"SLOAD".to_string()));

    // Before the write, through callTracer.
    let before = format!("{:#x}", number - 1);
    let call = rpc_ok(
        &node,
        "debug_traceCall",
        json!([read, before, {"tracer": "callTracer"}]),
    )
    .await;
    assert_eq!(call["output"], json!(B256::ZERO), "{call}");
    assert_eq!(call["to"], json!(counter.address()));

    // State overrides apply to the traced call.
    let slot0 = format!("{:#066x}", 0);
    let overrides = json!({
        "tracer": "callTracer",
        "stateOverrides": {counter.address().to_string(): {"stateDiff": {slot0: B256::from(U256::from(99))}}}
    });
    let call = rpc_ok(&node, "debug_traceCall", json!([read, "latest", overrides])).await;
    assert_eq!(call["output"], json!(B256::from(U256::from(99))), "{call}");

    // A reverting call is a failed trace, not an error.
    let fail = json!({"to": counter.address(), "data": hex(Counter::failCall {}.abi_encode())});
    let trace = rpc_ok(&node, "debug_traceCall", json!([fail, "latest"])).await;
    assert_eq!(trace["failed"], true);
    // A block that does not exist is.
    let err = rpc_error(&node, "debug_traceCall", json!([read, "0xffffff"])).await;
    assert_eq!(err["message"], "header not found");
}

#[tokio::test]
async fn create_access_list_lists_touched_storage() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let from = node.node().signers[0].address();
    let increment = json!({
        "from": from,
        "to": counter.address(),
        "data": hex(Counter::incrementCall {}.abi_encode()),
    });
    let result = rpc_ok(&node, "eth_createAccessList", json!([increment, "latest"])).await;
    assert!(result.get("error").is_none(), "{result}");
    let list = result["accessList"].as_array().expect("accessList");
    assert_eq!(list.len(), 1, "{result}");
    assert_eq!(list[0]["address"], json!(counter.address()));
    assert_eq!(list[0]["storageKeys"], json!([B256::ZERO]));
    let gas_used: u64 = serde_json::from_value::<alloy::primitives::U64>(result["gasUsed"].clone())
        .unwrap()
        .to();

    // Sent with that list, increment uses exactly that gas.
    let access_list: alloy::rpc::types::AccessList =
        serde_json::from_value(result["accessList"].clone()).unwrap();
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(*counter.address())
                .with_input(Counter::incrementCall {}.abi_encode())
                .with_access_list(access_list),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, gas_used);

    // A reverting call still answers, with geth's `error` field.
    let fail = json!({"from": from, "to": counter.address(), "data": hex(Counter::failCall {}.abi_encode())});
    let result = rpc_ok(&node, "eth_createAccessList", json!([fail])).await;
    assert_eq!(
        result["error"], "execution reverted: Counter: failed",
        "{result}"
    );
    assert_eq!(result["accessList"], json!([]));
}
