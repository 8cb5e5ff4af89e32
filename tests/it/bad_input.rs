//! Bad input answered as geth answers it (issue 12): surplus parameters, malformed ids,
//! subscriptions over HTTP, quantities with leading zeros, oversized mining requests and
//! runaway traces. Each as an attacker sends it, and a variant.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// How long a test waits for a WebSocket answer before it fails.
const WAIT: Duration = Duration::from_secs(30);

/// The raw HTTP answer to `body` (any JSON, not necessarily a valid request).
async fn post(node: &TestNode, body: &str) -> Value {
    let res = reqwest::Client::new()
        .post(&node.url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{body}");
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{body} answered {text:?}: {e}"))
}

/// A raw WebSocket connection to `node`.
struct Ws(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Ws {
    async fn connect(node: &TestNode) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(node.ws_url.as_str())
            .await
            .expect("ws connects");
        Ws(stream)
    }

    /// Sends `body` as one text message and reads the next text answer.
    async fn ask(&mut self, body: &str) -> Value {
        self.0.send(Message::text(body)).await.expect("ws send");
        loop {
            let message = tokio::time::timeout(WAIT, self.0.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {body}"))
                .expect("ws open")
                .expect("ws message");
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }
}

fn error(answer: &Value) -> (i64, String) {
    (
        answer["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an error: {answer}")),
        answer["error"]["message"].as_str().unwrap().to_string(),
    )
}

fn request(id: Value, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

#[tokio::test]
async fn surplus_arguments_answer_geths_error() {
    let node = TestNode::spawn().await;
    // As sent: a parameter to a method that takes none.
    let answer = post(
        &node,
        &request(json!(1), "eth_blockNumber", json!(["latest"])),
    )
    .await;
    assert_eq!(answer["id"], 1);
    assert_eq!(
        error(&answer),
        (-32602, "too many arguments, want at most 0".into())
    );
    // Variant: one too many for a method with optional parameters, alone and in a batch,
    // over HTTP and WebSocket; the right count still answers.
    let account = DEV_ADDRESSES[0];
    let surplus = request(json!(7), "eth_getBalance", json!([account, "latest", true]));
    let want = (-32602, "too many arguments, want at most 2".to_string());
    assert_eq!(error(&post(&node, &surplus).await), want);
    let fine = request(json!(8), "eth_getBalance", json!([account, "latest"]));
    let batch = post(&node, &format!("[{surplus},{fine}]")).await;
    assert_eq!(error(&batch[0]), want);
    assert_eq!(batch[0]["id"], 7);
    assert!(batch[1]["result"].is_string(), "{batch}");
    let mut ws = Ws::connect(&node).await;
    assert_eq!(error(&ws.ask(&surplus).await), want);
    let subscribe = request(json!(9), "eth_subscribe", json!(["newHeads", {}, 1]));
    assert_eq!(
        error(&ws.ask(&subscribe).await),
        (-32602, "too many arguments, want at most 2".into())
    );
}

#[tokio::test]
async fn every_served_method_has_a_signature() {
    let node = TestNode::spawn().await;
    let mut module = coco::rpc::module(
        node.node().chain.clone(),
        coco::rpc::RpcLimits::default(),
        vec![],
        true,
        false,
    );
    module
        .merge(coco::rpc::login_module(
            std::sync::Arc::new(coco::rpc::auth::KeyRing::default()),
            1,
            vec![],
            std::time::Duration::from_secs(60),
        ))
        .unwrap();
    let missing: Vec<&str> = module
        .method_names()
        .filter(|m| coco::rpc::params::signature(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "served without a signature: {missing:?}"
    );
    assert!(module.method_names().count() > 100);
}

#[tokio::test]
async fn malformed_ids_answer_invalid_request_with_a_null_id() {
    let node = TestNode::spawn().await;
    let invalid = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "invalid request"}});
    // As sent: an object id over HTTP (it answered `null`, HTTP 200).
    let object = request(json!({}), "eth_chainId", json!([]));
    assert_eq!(post(&node, &object).await, invalid);
    // Variants: arrays, fractions and booleans; over WebSocket; per element in a batch,
    // beside a valid call and a true notification (which gets no answer).
    let mut ws = Ws::connect(&node).await;
    for id in [json!({"a": 1}), json!([1]), json!(1.5), json!(true)] {
        let bad = request(id.clone(), "eth_chainId", json!([]));
        assert_eq!(post(&node, &bad).await, invalid, "HTTP, id {id}");
        assert_eq!(ws.ask(&bad).await, invalid, "WebSocket, id {id}");
    }
    let good = request(json!(3), "eth_chainId", json!([]));
    let notification = json!({"jsonrpc": "2.0", "method": "eth_chainId", "params": []});
    let bad = request(json!(false), "eth_chainId", json!([]));
    let batch = format!("[{good},{notification},{bad}]");
    let answers = post(&node, &batch).await;
    assert_eq!(answers.as_array().unwrap().len(), 2, "{answers}");
    assert_eq!(answers[0]["id"], 3);
    assert_eq!(answers[0]["result"], "0x7a69");
    assert_eq!(answers[1], invalid);
    let answers = ws.ask(&format!("[{good},{bad}]")).await;
    assert_eq!(answers[0]["result"], "0x7a69", "{answers}");
    assert_eq!(answers[1], invalid);
    // Well-formed ids keep working.
    for id in [json!("abc"), json!(0), json!(null)] {
        let answer = post(&node, &request(id.clone(), "eth_chainId", json!([]))).await;
        assert_eq!(answer["id"], id);
        assert_eq!(answer["result"], "0x7a69");
    }
}

#[tokio::test]
async fn subscriptions_over_http_answer_notifications_not_supported() {
    let node = TestNode::spawn().await;
    let want = (-32601, "notifications not supported".to_string());
    // As sent.
    let subscribe = request(json!(1), "eth_subscribe", json!(["newHeads"]));
    let answer = post(&node, &subscribe).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(error(&answer), want);
    // Variant: another kind, inside a batch; over WebSocket the same request subscribes.
    let logs = request(json!(2), "eth_subscribe", json!(["logs", {}]));
    let batch = post(&node, &format!("[{logs}]")).await;
    assert_eq!(error(&batch[0]), want);
    let mut ws = Ws::connect(&node).await;
    let answer = ws.ask(&subscribe).await;
    assert!(answer["result"].is_string(), "{answer}");
}

#[tokio::test]
async fn quantities_with_leading_zeros_answer_geths_error() {
    let node = TestNode::spawn().await;
    let zero = "hex number with leading zero digits";
    // As sent: a block number.
    let answer = post(
        &node,
        &request(json!(1), "eth_getBlockByNumber", json!(["0x01", false])),
    )
    .await;
    assert_eq!(
        error(&answer),
        (-32602, format!("invalid argument 0: {zero}"))
    );
    // Variants: a block parameter, a call object's quantity, an index, a log filter;
    // the same values without the zeros answer.
    let account = DEV_ADDRESSES[0];
    for (method, params, message) in [
        (
            "eth_getBalance",
            json!([account, "0x00"]),
            format!("invalid argument 1: {zero}"),
        ),
        (
            "eth_call",
            json!([{"to": account, "gas": "0x05208"}, "latest"]),
            format!(
                "invalid argument 0: json: cannot unmarshal {zero} into Go struct field \
                 TransactionArgs.gas of type hexutil.Uint64"
            ),
        ),
        (
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["0x0", "0x00"]),
            format!(
                "invalid argument 1: json: cannot unmarshal {zero} into Go value of type \
                 hexutil.Uint"
            ),
        ),
        (
            "eth_getLogs",
            json!([{"fromBlock": "0x00"}]),
            format!("invalid argument 0: {zero}"),
        ),
    ] {
        let answer = post(&node, &request(json!(1), method, params.clone())).await;
        assert_eq!(error(&answer), (-32602, message), "{method} {params}");
    }
    for (method, params) in [
        ("eth_getBlockByNumber", json!(["0x0", false])),
        ("eth_getBalance", json!([account, "0x0"])),
        (
            "eth_call",
            json!([{"to": account, "gas": "0x5208"}, "latest"]),
        ),
        (
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["0x0", "0x0"]),
        ),
        ("eth_getLogs", json!([{"fromBlock": "0x0"}])),
    ] {
        let answer = post(&node, &request(json!(1), method, params.clone())).await;
        assert!(answer.get("error").is_none(), "{method} {params}: {answer}");
    }
}

/// The chain's head number.
async fn head(node: &TestNode) -> u64 {
    let number = rpc_ok(node, "eth_blockNumber", json!([])).await;
    u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test]
async fn mining_is_capped_and_never_stalls_other_callers() {
    let mut config = coco::node::NodeConfig::test();
    config.rpc.max_mine_blocks = 2_000;
    let node = TestNode::spawn_with(config).await;
    // As sent: a huge count. Refused, naming the limit; nothing is mined.
    let want = (
        -32005,
        "cannot mine 1000000000000 blocks in one call: the limit is 2000".to_string(),
    );
    let huge = request(json!(1), "anvil_mine", json!(["0xe8d4a51000"]));
    assert_eq!(error(&post(&node, &huge).await), want);
    // Variants: hardhat_mine and evm_mine's `blocks`, one past the limit.
    let over = (
        -32005,
        "cannot mine 2001 blocks in one call: the limit is 2000".to_string(),
    );
    let hardhat = request(json!(2), "hardhat_mine", json!(["0x7d1"]));
    assert_eq!(error(&post(&node, &hardhat).await), over);
    let evm = request(json!(3), "evm_mine", json!([{"blocks": 2001}]));
    assert_eq!(error(&post(&node, &evm).await), over);
    assert_eq!(head(&node).await, 0, "a refused request mines nothing");

    // The limit itself is mined; while it runs, other callers are answered and see it
    // advance (a head between the first and the last block of the run).
    let url = node.url.clone();
    let mine = tokio::spawn(async move {
        raw_rpc(
            &url,
            json!({"jsonrpc": "2.0", "id": 4, "method": "anvil_mine", "params": ["0x7d0"]}),
        )
        .await
    });
    let mut seen_during = None;
    while !mine.is_finished() {
        let number = head(&node).await;
        if number > 0 && number < 2_000 {
            seen_during = Some(number);
            break;
        }
    }
    let answer = mine.await.unwrap();
    assert!(answer["error"].is_null(), "{answer}");
    assert_eq!(head(&node).await, 2_000);
    assert!(
        seen_during.is_some(),
        "no eth_blockNumber was answered while 2000 blocks were mined"
    );
}

/// Init code that never ends: `JUMPDEST PUSH1 0 JUMP`.
const LOOP: &str = "0x5b600056";
/// Init code that never ends and grows memory by a word per turn:
/// `JUMPDEST MSIZE MSIZE MSTORE PUSH1 0 JUMP`.
const GROWING_LOOP: &str = "0x5b59595260005600";

#[tokio::test]
async fn trace_output_is_capped() {
    let mut config = coco::node::NodeConfig::test();
    config.rpc.max_trace_bytes = 1 << 20;
    let node = TestNode::spawn_with(config).await;
    let from = DEV_ADDRESSES[0];
    let want = (
        -32005,
        "tracer output exceeds the limit of 1048576 bytes".to_string(),
    );
    // As sent: an endless loop under the struct logger with memory.
    let trace = |code: &str, opts: Value| {
        request(
            json!(1),
            "debug_traceCall",
            json!([{"from": from, "input": code, "gas": "0xffffffffff"}, "latest", opts]),
        )
    };
    let answer = post(&node, &trace(GROWING_LOOP, json!({"enableMemory": true}))).await;
    assert_eq!(error(&answer), want);
    // Variant: the loop that leaves memory alone, with the default options (the stack
    // fills the output). A short trace still answers under the same cap.
    let answer = post(&node, &trace(LOOP, json!({}))).await;
    assert_eq!(error(&answer), want);
    // PUSH1 1 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    let small = post(
        &node,
        &trace("0x600160005260206000f3", json!({"enableMemory": true})),
    )
    .await;
    assert_eq!(small["result"]["failed"], false, "{small}");
    assert_eq!(small["result"]["structLogs"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn trace_deadline_holds() {
    let timeout = Duration::from_secs(1);
    let mut config = coco::node::NodeConfig::test();
    config.rpc.call_timeout = timeout;
    config.rpc.call_gas_cap = u64::MAX / 2;
    let node = TestNode::spawn_with(config).await;
    let from = DEV_ADDRESSES[0];
    let want = (-32000, "execution aborted (timeout = 1s)".to_string());
    // As sent: an endless loop under the struct logger with memory (only the first
    // thousand steps recorded, so that the deadline, not the output cap, stops it).
    for (code, opts) in [
        (LOOP, json!({"enableMemory": true, "limit": 1000})),
        // Variant: the callTracer, which records nothing per step.
        (LOOP, json!({"tracer": "callTracer"})),
    ] {
        let body = request(
            json!(1),
            "debug_traceCall",
            json!([{"from": from, "input": code, "gas": "0xffffffffffff"}, "latest", opts]),
        );
        let started = Instant::now();
        let answer = post(&node, &body).await;
        let took = started.elapsed();
        assert_eq!(error(&answer), want, "{opts}");
        println!("{opts}: answered after {took:?} for a {timeout:?} limit");
    }
}
