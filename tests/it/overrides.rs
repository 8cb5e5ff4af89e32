//! geth's state and block overrides of `eth_call` and `eth_estimateGas`: the same
//! requests sent to coco and to anvil 1.7.1 side by side must get the same answers —
//! as raw JSON-RPC, from viem 2.57.20 (`tests/js/overrides.mjs`) and from cast 1.7.1's
//! `--override-*` and `--block.*` flags — and nothing an override sets may outlive its
//! call. Under the confidential policy a non-empty override needs an auditor key: users
//! and anonymous callers get -32030, never the un-overridden answer.

use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use coco::rpc::auth::{KeyRecord, Role, generate_key, key_hash};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::common::contracts::Counter;
use crate::common::*;
use crate::js_tools::node_script;

/// Addresses nothing was ever sent to.
const EMPTY: &str = "0x00000000000000000000000000000000000c0de0";
const RICH: &str = "0x00000000000000000000000000000000000c0de1";
const UNFUNDED: &str = "0x00000000000000000000000000000000000c0de2";
const SINK: &str = "0x00000000000000000000000000000000000c0de3";
const MOVED: &str = "0x00000000000000000000000000000000000c0de4";
/// The identity precompile.
const IDENTITY: &str = "0x0000000000000000000000000000000000000004";
/// `return 42` (one word).
const RETURN_42: &str = "0x602a60005260206000f3";
/// `return balance(address(this))`.
const SELF_BALANCE: &str = "0x303160005260206000f3";
/// `return (sload(0), sload(1))`.
const SLOTS: &str = "0x60005460005260015460205260406000f3";
/// `return (number, timestamp, coinbase, gaslimit, prevrandao, basefee, blobbasefee,
/// blockhash(0xff0))`.
const BLOCK_FIELDS: &str =
    "0x43600052426020524160405245606052446080524860a0524a60c052610ff04060e0526101006000f3";
/// `return (number, timestamp)`.
const NUMBER_AND_TIME: &str = "0x436000524260205260406000f3";
/// A hash for `BLOCKHASH(0xff0)` to answer.
const HASH: &str = "0x00000000000000000000000000000000000000000000000000000000000b10c5";
const RANDAO: &str = "0x000000000000000000000000000000000000000000000000000000000000abcd";

/// Any single tool run taking longer than this is a hang.
const TOOL_TIMEOUT: Duration = Duration::from_secs(300);

/// A 32-byte word holding `n`.
fn word(n: u128) -> String {
    format!("0x{n:064x}")
}

/// Return data of `words` (each `0x`-prefixed).
fn concat(words: &[String]) -> String {
    let hex: String = words.iter().map(|w| w.trim_start_matches("0x")).collect();
    format!("0x{hex}")
}

/// The 32-byte words of return data.
fn words(data: &Value) -> Vec<String> {
    let hex = data
        .as_str()
        .expect("hex return data")
        .trim_start_matches("0x");
    (0..hex.len() / 64)
        .map(|i| format!("0x{}", &hex[i * 64..(i + 1) * 64]))
        .collect()
}

/// A provider signing with dev account 0 at `url`.
fn wallet(url: &str) -> DynProvider {
    let signer: PrivateKeySigner = DEV_KEYS[0].parse().expect("dev key");
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().expect("url"))
        .erased()
}

/// Deploys Counter from dev account 0 and sets its number to 7; its address.
async fn counter_with_seven(url: &str) -> String {
    let provider = wallet(url);
    let counter = Counter::deploy(provider).await.expect("deploy Counter");
    let receipt = counter
        .setNumber(alloy::primitives::U256::from(7))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    counter.address().to_string()
}

/// The whole JSON-RPC response of `method` at `url`.
async fn answer(url: &str, method: &str, params: Value) -> Value {
    raw_rpc(
        url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

/// The result of `method` at `url`; panics on an error answer.
async fn result(url: &str, method: &str, params: Value) -> Value {
    let res = answer(url, method, params.clone()).await;
    assert!(res.get("error").is_none(), "{url} {method} {params}: {res}");
    res["result"].clone()
}

/// The error of `method` at `url`; panics on a result.
async fn error(url: &str, method: &str, params: Value) -> Value {
    let res = answer(url, method, params.clone()).await;
    assert!(
        res.get("result").is_none(),
        "{url} {method} {params}: {res}"
    );
    res["error"].clone()
}

/// What a node answers to the reads an override must not have changed.
async fn persisted(url: &str, counter: &str) -> Value {
    let number = format!(
        "0x{}",
        alloy::hex::encode(Counter::numberCall {}.abi_encode())
    );
    json!([
        result(url, "eth_getBalance", json!([RICH, "latest"])).await,
        result(url, "eth_getBalance", json!([UNFUNDED, "latest"])).await,
        result(url, "eth_getCode", json!([EMPTY, "latest"])).await,
        result(url, "eth_getCode", json!([RICH, "latest"])).await,
        result(url, "eth_getTransactionCount", json!([RICH, "latest"])).await,
        result(url, "eth_getStorageAt", json!([counter, "0x0", "latest"])).await,
        result(url, "eth_getStorageAt", json!([counter, "0x1", "latest"])).await,
        result(url, "eth_call", json!([{"to": EMPTY}, "latest"])).await,
        result(
            url,
            "eth_call",
            json!([{"to": counter, "data": number}, "latest"])
        )
        .await,
        result(
            url,
            "eth_call",
            json!([{"to": IDENTITY, "data": "0x1234"}, "latest"])
        )
        .await,
    ])
}

/// A quantity (`0x…`) as a number.
fn quantity(v: &Value) -> u64 {
    let hex = v.as_str().expect("a quantity").trim_start_matches("0x");
    u64::from_str_radix(hex, 16).expect("a quantity")
}

/// Calldata of `setNumber(3)`.
fn set_three_data() -> String {
    let call = Counter::setNumberCall {
        newNumber: alloy::primitives::U256::from(3),
    };
    format!("0x{}", alloy::hex::encode(call.abi_encode()))
}

/// coco estimates as geth does — the first limit found within 1.5 % above the least
/// that succeeds — where anvil searches down to that least: `ours` must lie between.
fn assert_estimate(ours: u64, anvil: u64, what: &str) {
    assert!(
        anvil <= ours && ours * 1000 < anvil * 1016,
        "{what}: coco estimates {ours}, anvil {anvil}"
    );
}

/// The requests both nodes must answer alike (estimates: see [`assert_estimate`]), each with what it must answer, for the
/// node whose Counter is at `counter`.
fn agreed_requests(counter: &str) -> Vec<(&'static str, &'static str, Value, Value)> {
    let number = format!(
        "0x{}",
        alloy::hex::encode(Counter::numberCall {}.abi_encode())
    );
    let set_three = set_three_data();
    let ether = |n: u128| format!("{:#x}", n * 10u128.pow(18));
    let block = json!({
        "number": "0x1000",
        "time": "0x713fb300",
        "gasLimit": "0xbc614e",
        "feeRecipient": SINK,
        "prevRandao": RANDAO,
        "baseFeePerGas": "0x7",
        "blockHash": {"4080": HASH},
    });
    vec![
        (
            "a code override on an empty address runs the code",
            "eth_call",
            json!([{"to": EMPTY}, "latest", {EMPTY: {"code": RETURN_42}}]),
            json!(word(42)),
        ),
        (
            "a balance override is what BALANCE reads",
            "eth_call",
            json!([{"to": RICH}, "latest", {RICH: {"code": SELF_BALANCE, "balance": "0x75bcd15"}}]),
            json!(word(123_456_789)),
        ),
        (
            "stateDiff changes only the slots it names",
            "eth_call",
            json!([{"to": counter}, "latest", {counter: {"code": SLOTS, "stateDiff": {word(1): word(9)}}}]),
            json!(concat(&[word(7), word(9)])),
        ),
        (
            "state replaces the whole storage",
            "eth_call",
            json!([{"to": counter}, "latest", {counter: {"code": SLOTS, "state": {word(1): word(9)}}}]),
            json!(concat(&[word(0), word(9)])),
        ),
        (
            "stateDiff under the contract's own code",
            "eth_call",
            json!([{"to": counter, "data": number}, "latest", {counter: {"stateDiff": {word(0): word(5)}}}]),
            json!(word(5)),
        ),
        (
            "an empty state leaves no slot",
            "eth_call",
            json!([{"to": counter, "data": number}, "latest", {counter: {"state": {}}}]),
            json!(word(0)),
        ),
        (
            "a sender given code may still call (no EOA check in calls)",
            "eth_call",
            json!([{"from": RICH, "to": EMPTY}, "latest", {RICH: {"code": RETURN_42}, EMPTY: {"code": RETURN_42}}]),
            json!(word(42)),
        ),
        (
            "block overrides are what the block opcodes read",
            "eth_call",
            json!([
                {"from": DEV_ADDRESSES[0], "to": EMPTY, "gasPrice": "0x7"},
                "latest",
                {EMPTY: {"code": BLOCK_FIELDS}},
                block,
            ]),
            json!(concat(&[
                word(0x1000),
                word(0x713fb300),
                format!("0x{:0>64}", SINK.trim_start_matches("0x")),
                word(0xbc614e),
                RANDAO.to_string(),
                word(7),
                word(1),
                HASH.to_string(),
            ])),
        ),
        (
            "a balance override lets an unfunded sender estimate",
            "eth_estimateGas",
            json!([{"from": UNFUNDED, "to": SINK, "value": ether(1)}, "latest", {UNFUNDED: {"balance": ether(10)}}]),
            json!("0x5208"),
        ),
        (
            "a priced estimate is capped by the overridden balance",
            "eth_estimateGas",
            json!([
                {"from": UNFUNDED, "to": SINK, "value": ether(1), "gasPrice": "0x3b9aca00"},
                "latest",
                {UNFUNDED: {"balance": ether(10)}},
            ]),
            json!("0x5208"),
        ),
        (
            "an estimate runs the overridden storage",
            "eth_estimateGas",
            json!([
                {"from": UNFUNDED, "to": counter, "data": set_three},
                "latest",
                {counter: {"stateDiff": {word(0): word(3)}}},
            ]),
            Value::Null,
        ),
        (
            "empty overrides change nothing",
            "eth_call",
            json!([{"to": counter, "data": number}, "latest", {}, {}]),
            json!(word(7)),
        ),
        (
            "null overrides change nothing",
            "eth_call",
            json!([{"to": counter, "data": number}, "latest", null, null]),
            json!(word(7)),
        ),
    ]
}

/// Starts anvil 1.7.1 (chain 31337, the same dev accounts).
async fn anvil() -> (Child, String) {
    crate::state_dump::anvil(&[]).await
}

#[tokio::test]
async fn overrides_answer_as_anvil_does() {
    let node = TestNode::spawn().await;
    let (_anvil, anvil_url) = anvil().await;
    let coco_counter = counter_with_seven(&node.url).await;
    let anvil_counter = counter_with_seven(&anvil_url).await;
    let coco_before = persisted(&node.url, &coco_counter).await;
    let anvil_before = persisted(&anvil_url, &anvil_counter).await;
    assert_eq!(coco_before, anvil_before);

    for ((what, method, coco_params, expected), (_, _, anvil_params, _)) in
        agreed_requests(&coco_counter)
            .into_iter()
            .zip(agreed_requests(&anvil_counter))
    {
        let ours = result(&node.url, method, coco_params).await;
        let theirs = result(&anvil_url, method, anvil_params).await;
        if expected.is_null() {
            assert_estimate(quantity(&ours), quantity(&theirs), what);
        } else {
            assert_eq!(ours, theirs, "{what}: coco and anvil differ");
            assert_eq!(ours, expected, "{what}");
        }
    }

    // The overridden slot made the estimate: rewriting 3 over 3 is cheaper than 7 with 3.
    let set_three = json!({"from": UNFUNDED, "to": coco_counter, "data": set_three_data()});
    let plain = result(&node.url, "eth_estimateGas", json!([set_three, "latest"])).await;
    let overridden = result(
        &node.url,
        "eth_estimateGas",
        json!([set_three, "latest", {coco_counter.as_str(): {"stateDiff": {word(0): word(3)}}}]),
    )
    .await;
    assert!(
        quantity(&overridden) < quantity(&plain),
        "estimates with and without the stateDiff: {overridden} and {plain}"
    );

    // Without the override the unfunded sender cannot estimate (geth's answer; anvil
    // estimates it anyway).
    let unfunded = json!([{"from": UNFUNDED, "to": SINK, "value": "0xde0b6b3a7640000"}, "latest"]);
    let err = error(&node.url, "eth_estimateGas", unfunded).await;
    assert_eq!(
        err["message"], "insufficient funds for gas * price + value",
        "{err}"
    );

    // Nothing an override set outlives its call.
    assert_eq!(persisted(&node.url, &coco_counter).await, coco_before);
    assert_eq!(persisted(&anvil_url, &anvil_counter).await, anvil_before);
}

/// geth's answers where anvil has none to compare with, or words its own.
#[tokio::test]
async fn overrides_refuse_bad_input_as_geth_does() {
    let node = TestNode::spawn().await;
    let url = node.url.as_str();
    let call = |overrides: Value| json!([{"to": EMPTY}, "latest", overrides]);

    let both = error(
        url,
        "eth_call",
        call(json!({EMPTY: {"state": {}, "stateDiff": {}}})),
    )
    .await;
    assert_eq!(both["code"], -32000, "{both}");
    let checksummed: alloy::primitives::Address = EMPTY.parse().unwrap();
    assert_eq!(
        both["message"],
        format!("account {checksummed} has both 'state' and 'stateDiff'"),
        "{both}"
    );
    let estimate = error(
        url,
        "eth_estimateGas",
        call(json!({EMPTY: {"state": {}, "stateDiff": {}}})),
    )
    .await;
    assert_eq!(estimate, both);

    for malformed in [
        json!({EMPTY: {"balance": "plenty"}}),
        json!({EMPTY: {"code": "0xzz"}}),
        json!({EMPTY: {"nonce": "0x1", "codes": "0x00"}}),
        json!({"0x1234": {"balance": "0x1"}}),
        json!([EMPTY]),
    ] {
        let err = error(url, "eth_call", call(malformed.clone())).await;
        assert_eq!(err["code"], -32602, "{malformed}: {err}");
        let err = error(url, "eth_estimateGas", call(malformed.clone())).await;
        assert_eq!(err["code"], -32602, "{malformed}: {err}");
    }
    let err = error(
        url,
        "eth_call",
        json!([{"to": EMPTY}, "latest", {}, {"time": "soon"}]),
    )
    .await;
    assert_eq!(err["code"], -32602, "{err}");

    for (field, value) in [("beaconRoot", json!(HASH)), ("withdrawals", json!([]))] {
        let err = error(
            url,
            "eth_call",
            json!([{"to": EMPTY}, "latest", null, {field: value}]),
        )
        .await;
        assert_eq!(err["code"], -32000, "{err}");
        assert_eq!(
            err["message"],
            format!("block override \"{field}\" is not supported for this RPC method")
        );
    }

    // The blob base fee is overridden too (anvil keeps its own), and a call that names
    // no gas price runs at base fee zero whatever the override says: geth zeroes it after
    // applying the block override.
    let fields = result(
        url,
        "eth_call",
        json!([
            {"to": EMPTY},
            "latest",
            {EMPTY: {"code": BLOCK_FIELDS}},
            {"baseFeePerGas": "0x7", "blobBaseFee": "0x3"},
        ]),
    )
    .await;
    assert_eq!(words(&fields)[5..7], [word(0), word(3)], "{fields}");

    // A precompile moved away answers at its new address and no longer at its own
    // (geth's movePrecompileToAddress); only precompiles move.
    let moved = json!({IDENTITY: {"movePrecompileToAddress": MOVED}});
    assert_eq!(
        result(
            url,
            "eth_call",
            json!([{"to": MOVED, "data": "0x1234"}, "latest", moved.clone()])
        )
        .await,
        json!("0x1234")
    );
    assert_eq!(
        result(
            url,
            "eth_call",
            json!([{"to": IDENTITY, "data": "0x1234"}, "latest", moved])
        )
        .await,
        json!("0x")
    );
    let err = error(
        url,
        "eth_call",
        call(json!({EMPTY: {"movePrecompileToAddress": MOVED}})),
    )
    .await;
    let empty: alloy::primitives::Address = EMPTY.parse().unwrap();
    assert_eq!(
        err["message"],
        format!("account {empty} is not a precompile")
    );
    // Code put on a precompile's address replaces it in a call.
    assert_eq!(
        result(
            url,
            "eth_call",
            json!([{"to": IDENTITY, "data": "0x1234"}, "latest", {IDENTITY: {"code": RETURN_42}}])
        )
        .await,
        json!(word(42))
    );
    // Nothing of it stayed.
    assert_eq!(
        result(
            url,
            "eth_call",
            json!([{"to": IDENTITY, "data": "0x1234"}, "latest"])
        )
        .await,
        json!("0x1234")
    );
    assert_eq!(
        result(url, "eth_getCode", json!([IDENTITY, "latest"])).await,
        json!("0x")
    );
}

/// Runs `tests/js/overrides.mjs` against `url`; its `result` lines. Panics with the
/// script's output unless every check passed.
async fn viem_results(url: &str) -> Vec<String> {
    let mut cmd = node_script("overrides.mjs", "viem");
    cmd.env("COCO_URL", url)
        .env("COCO_WS_URL", url.replacen("http", "ws", 1))
        .env("COCO_PRIVATE_KEY", DEV_KEYS[0]);
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, TOOL_TIMEOUT).await;
    assert!(
        ok && stdout.lines().any(|l| l.trim() == "all checks passed"),
        "{line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    stdout
        .lines()
        .filter(|l| l.starts_with("result "))
        .map(str::to_string)
        .collect()
}

/// viem's `stateOverride` and `blockOverrides` (call, readContract, estimateGas) get
/// the same answers from coco as from anvil.
#[tokio::test]
async fn viem_overrides_match_anvil() {
    let node = TestNode::spawn().await;
    let (_anvil, anvil_url) = anvil().await;
    let mut ours = viem_results(&node.url).await;
    let mut theirs = viem_results(&anvil_url).await;
    assert_eq!(ours.len(), 8, "{ours:?}");
    assert_eq!(theirs.len(), 8, "{theirs:?}");
    // The estimate of code (not a plain transfer) comes last: see `assert_estimate`.
    let gas = |line: String| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
    let (our_gas, their_gas) = (ours.pop().unwrap(), theirs.pop().unwrap());
    assert!(our_gas.starts_with("result estimateCode "), "{our_gas}");
    assert_estimate(gas(our_gas), gas(their_gas), "viem estimateGas of code");
    assert_eq!(ours, theirs);
}

/// `cast call` against `url` with `args`; trimmed stdout.
async fn cast_call(url: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(tool("cast"));
    cmd.arg("call").args(["--rpc-url", url]).args(args);
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, TOOL_TIMEOUT).await;
    assert!(
        ok,
        "{line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    stdout.trim().to_string()
}

/// cast's `--override-balance/-code/-nonce/-state/-state-diff` and `--block.number/.time`
/// get the same answers from coco as from anvil.
#[tokio::test]
async fn cast_call_overrides_match_anvil() {
    let node = TestNode::spawn().await;
    let (_anvil, anvil_url) = anvil().await;
    let coco_counter = counter_with_seven(&node.url).await;
    let anvil_counter = counter_with_seven(&anvil_url).await;
    assert_eq!(coco_counter, anvil_counter, "the same deployment on both");
    let counter = coco_counter.as_str();
    let code = |who: &str, code: &str| format!("{who}:{code}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                EMPTY.into(),
                "--override-code".into(),
                code(EMPTY, RETURN_42),
            ],
            "0x000000000000000000000000000000000000000000000000000000000000002a",
        ),
        (
            vec![
                RICH.into(),
                "--override-code".into(),
                code(RICH, SELF_BALANCE),
                "--override-balance".into(),
                format!("{RICH}:123456789"),
            ],
            "0x00000000000000000000000000000000000000000000000000000000075bcd15",
        ),
        (
            vec![
                counter.into(),
                "number()(uint256)".into(),
                "--override-state-diff".into(),
                format!("{counter}:0:5"),
            ],
            "5",
        ),
        (
            vec![
                counter.into(),
                "number()(uint256)".into(),
                "--override-state".into(),
                format!("{counter}:1:9"),
            ],
            "0",
        ),
        (
            vec![
                counter.into(),
                "--override-code".into(),
                code(counter, SLOTS),
                "--override-state-diff".into(),
                format!("{counter}:1:9"),
            ],
            "0x00000000000000000000000000000000000000000000000000000000000000070000000000000000000000000000000000000000000000000000000000000009",
        ),
        (
            vec![
                EMPTY.into(),
                "--override-code".into(),
                code(EMPTY, NUMBER_AND_TIME),
                "--block.number".into(),
                "4096".into(),
                "--block.time".into(),
                "1900000000".into(),
            ],
            "0x000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000713fb300",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = cast_call(&node.url, &args).await;
        let theirs = cast_call(&anvil_url, &args).await;
        assert_eq!(ours, theirs, "cast call {args:?}: coco and anvil differ");
        assert_eq!(ours, expected, "cast call {args:?}");
    }
    // The plain reads afterwards see none of it.
    assert_eq!(
        cast_call(&node.url, &[counter, "number()(uint256)"]).await,
        "7"
    );
    assert_eq!(
        result(&node.url, "eth_getCode", json!([EMPTY, "latest"])).await,
        json!("0x")
    );
    assert_eq!(
        result(&node.url, "eth_getBalance", json!([RICH, "latest"])).await,
        json!("0x0")
    );
}

/// A key for `addresses` with `role`, added to the running node.
fn add_key(node: &TestNode, role: Role, addresses: &[&str]) -> String {
    let key = generate_key();
    node.node().keys.insert(
        key_hash(&key),
        KeyRecord::new(
            role,
            addresses.iter().map(|a| a.parse().unwrap()).collect(),
            format!("{role:?}"),
        ),
    );
    key
}

/// Under the confidential policy: a user's or an anonymous caller's non-empty override
/// (state or block, eth_call or eth_estimateGas) is refused with -32030; an empty or
/// null one is accepted; an auditor's is applied; and none of it stays.
#[tokio::test]
async fn confidential_overrides_need_an_auditor_key() {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let me = DEV_ADDRESSES[0];
    let user = add_key(&node, Role::User, &[me]);
    let auditor = add_key(&node, Role::Auditor, &[]);

    let code = json!({EMPTY: {"code": RETURN_42}});
    let funded = json!({UNFUNDED: {"balance": "0xde0b6b3a7640000"}});
    let block = json!({"number": "0x1000"});
    let call = json!({"from": me, "to": EMPTY});
    let transfer = json!({"from": me, "to": SINK, "value": "0x1"});
    let refused = [
        ("eth_call", json!([call, "latest", code])),
        ("eth_call", json!([call, "latest", {}, block])),
        ("eth_call", json!([call, "latest", null, block])),
        ("eth_call", json!([call, "latest", {EMPTY: {}}])),
        ("eth_estimateGas", json!([transfer, "latest", funded])),
        ("eth_estimateGas", json!([transfer, "latest", {}, block])),
    ];
    for (method, params) in &refused {
        for key in [Some(user.as_str()), None] {
            let res = call_as(&node, key, method, params.clone()).await;
            assert_eq!(
                res["error"]["code"],
                -32030,
                "{method} {params} (key: {}): {res}",
                key.is_some()
            );
            assert!(res.get("result").is_none(), "{res}");
        }
    }
    let res = call_as(&node, Some(&user), "eth_call", refused[0].1.clone()).await;
    assert_eq!(
        res["error"]["message"],
        "not authorized: state and block overrides need an auditor key"
    );

    // Empty and null overrides are harmless: the user gets the plain answer.
    for params in [
        json!([call, "latest", {}]),
        json!([call, "latest", {}, {}]),
        json!([call, "latest", null, null]),
    ] {
        let res = call_as(&node, Some(&user), "eth_call", params.clone()).await;
        assert_eq!(res["result"], "0x", "{params}: {res}");
    }
    let res = call_as(
        &node,
        Some(&user),
        "eth_estimateGas",
        json!([transfer, "latest", {}, {}]),
    )
    .await;
    assert_eq!(res["result"], "0x5208", "{res}");

    // The auditor's overrides apply.
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_call",
        json!([{"to": EMPTY}, "latest", code]),
    )
    .await;
    assert_eq!(res["result"], word(42), "{res}");
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_call",
        json!([
            {"to": EMPTY},
            "latest",
            {EMPTY: {"code": BLOCK_FIELDS}},
            block,
        ]),
    )
    .await;
    assert_eq!(words(&res["result"])[0], word(0x1000), "{res}");
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_estimateGas",
        json!([{"from": UNFUNDED, "to": SINK, "value": "0x1"}, "latest", funded]),
    )
    .await;
    assert_eq!(res["result"], "0x5208", "{res}");

    // And left nothing behind.
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_getCode",
        json!([EMPTY, "latest"]),
    )
    .await;
    assert_eq!(res["result"], "0x", "{res}");
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_getBalance",
        json!([UNFUNDED, "latest"]),
    )
    .await;
    assert_eq!(res["result"], "0x0", "{res}");
}
