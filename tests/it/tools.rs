//! The real Foundry tools (cast and forge 1.7.1, installed into `.tools/` by
//! `scripts/install-tools.sh`) against a coco dev node.
//!
//! Every command line here was first checked by hand against anvil 1.7.1; the
//! output formats asserted on are the stable ones (`--json` where a tool has
//! it, otherwise one value per line). Missing tools make the tests fail (see
//! `common::tool`), never skip.

use crate::common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// Any single tool invocation taking longer than this is a hang.
const TOOL_TIMEOUT: Duration = Duration::from_secs(180);

/// A plain address that no dev account or contract uses.
const STRANGER: &str = "0x1111111111111111111111111111111111111111";

const ONE_ETHER: u128 = 1_000_000_000_000_000_000;

/// keccak256("Incremented(address,uint256)")
const INCREMENTED_TOPIC: &str =
    "0x38ac789ed44572701765277c4d0970f2db1c1a571ed39e84358095ae4eaa5420";
/// keccak256("NumberSet(address,uint256)")
const NUMBER_SET_TOPIC: &str = "0xdf1b3bea69f5a320d08715bed3eaa0ac393a2ecb2b5dca3f8c3c5f8ec8f575e4";
/// keccak256("Transfer(address,address,uint256)")
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
/// Selector of Counter's custom error `TooLarge(uint256,uint256)`.
const TOO_LARGE_SELECTOR: &str = "0x677fd0e3";

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// Runs `cmd` to completion (with a timeout) and returns (success, stdout, stderr).
async fn exec(cmd: Command) -> (bool, String, String) {
    crate::common::exec(cmd, TOOL_TIMEOUT).await
}

/// Runs `cmd`; panics with the command line, stdout and stderr unless it exits 0.
/// Returns stdout.
async fn run(cmd: Command) -> String {
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd).await;
    assert!(
        ok,
        "command failed: {line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    stdout
}

/// Runs `cmd`, which must fail; returns stdout and stderr together.
async fn run_fail(cmd: Command) -> String {
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd).await;
    assert!(
        !ok,
        "command unexpectedly succeeded: {line}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    format!("{stdout}\n{stderr}")
}

/// `cast <args>`.
fn cast(args: &[&str]) -> Command {
    let mut cmd = Command::new(tool("cast"));
    cmd.args(args);
    cmd
}

/// `cast <sub> --rpc-url <node> [extra] <rest>`: options go right after the
/// subcommand, because some positionals are variadic (`send --create CODE
/// [SIG] [ARGS]...` would swallow a trailing `--rpc-url`).
fn cast_at(node: &TestNode, args: &[&str], extra: &[&str]) -> Command {
    let (sub, rest) = args.split_first().expect("a cast subcommand");
    let mut cmd = cast(&[*sub]);
    cmd.args(["--rpc-url", node.url.as_str()])
        .args(extra)
        .args(rest);
    cmd
}

/// `cast <args>` against the node; trimmed stdout.
async fn cast_ok(node: &TestNode, args: &[&str]) -> String {
    run(cast_at(node, args, &[])).await.trim().to_string()
}

/// `cast <args>` against the node, expected to fail; stdout + stderr.
async fn cast_fail(node: &TestNode, args: &[&str]) -> String {
    run_fail(cast_at(node, args, &[])).await
}

/// `cast <args> --json` against the node, parsed.
async fn cast_json(node: &TestNode, args: &[&str]) -> Value {
    let out = run(cast_at(node, args, &["--json"])).await;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("cast {args:?} --json: {e}: {out}"))
}

/// `cast send --json --private-key <key> <args>`; returns the receipt.
async fn cast_send(node: &TestNode, key: &str, args: &[&str]) -> Value {
    let mut all = vec!["send", "--private-key", key];
    all.extend_from_slice(args);
    cast_json(node, &all).await
}

/// cast prints big numbers as `1000000000000000000000000 [1e24]`: the first word.
fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn parse_u128(s: &str) -> u128 {
    let w = first_word(s);
    match w.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16),
        None => w.parse(),
    }
    .unwrap_or_else(|e| panic!("not a number: {s:?}: {e}"))
}

fn json_u128(v: &Value) -> u128 {
    parse_u128(v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}")))
}

/// A receipt field as a lowercase string.
fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no `{name}` in {v}"))
        .to_lowercase()
}

/// A 32-byte topic holding `addr`.
fn address_topic(addr: &str) -> String {
    format!("0x{:0>64}", addr.trim_start_matches("0x").to_lowercase())
}

fn bytecode(artifact: &str, which: &str) -> String {
    let path = repo_root().join("contracts/out").join(artifact);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json[which]["object"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------
// The forge project (tests/forge) in a temp dir
// ---------------------------------------------------------------------------

/// A copy of the forge project: `<tmp>/contracts/*.sol` and
/// `<tmp>/tests/forge/{foundry.toml,script/}`, so that foundry.toml's
/// `src = "../../contracts"` resolves and out/, cache/, broadcast/ land in the
/// temp dir, never in the repository.
pub(crate) struct ForgeProject {
    _tmp: tempfile::TempDir,
    pub(crate) root: PathBuf,
    contracts: PathBuf,
}

impl ForgeProject {
    fn new() -> ForgeProject {
        Self::with_sources("script")
    }

    /// The project with `tests/forge/<dir>/*.sol` (scripts, or a test suite).
    pub(crate) fn with_sources(dir: &str) -> ForgeProject {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo_root();
        let contracts = tmp.path().join("contracts");
        let root = tmp.path().join("tests/forge");
        copy_files(&repo.join("contracts"), &contracts, "sol");
        copy_files(&repo.join("tests/forge"), &root, "toml");
        copy_files(&repo.join("tests/forge").join(dir), &root.join(dir), "sol");
        ForgeProject {
            _tmp: tmp,
            root,
            contracts,
        }
    }

    /// `forge <args>` in the project. The solc shim and an absolute remapping
    /// come from the environment (foundry.toml cannot hold absolute paths; a
    /// relative remapping makes forge compile the contracts twice under two
    /// names, and then `forge create Counter` is ambiguous).
    pub(crate) fn forge(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(tool("forge"));
        cmd.args(args)
            .current_dir(&self.root)
            .env("FOUNDRY_SOLC", tool("solc"))
            .env(
                "FOUNDRY_REMAPPINGS",
                format!("contracts/={}/", self.contracts.display()),
            )
            .env("FOUNDRY_OFFLINE", "true")
            .env_remove("ETH_RPC_URL")
            .env_remove("FOUNDRY_PROFILE");
        cmd
    }

    /// `forge create <contract> --broadcast --json` (1.7.1 only simulates
    /// without `--broadcast`, and still exits 0). Returns (address, tx hash).
    async fn create(
        &self,
        node: &TestNode,
        key: &str,
        contract: &str,
        ctor_args: &[&str],
    ) -> (String, String) {
        let mut args = vec![
            "create",
            contract,
            "--rpc-url",
            node.url.as_str(),
            "--private-key",
            key,
            "--broadcast",
            "--json",
        ];
        if !ctor_args.is_empty() {
            // Variadic: must come last.
            args.push("--constructor-args");
            args.extend_from_slice(ctor_args);
        }
        let out = run(self.forge(&args)).await;
        let json = parse_json_in(&out);
        (field(&json, "deployedTo"), field(&json, "transactionHash"))
    }
}

fn copy_files(from: &Path, to: &Path, ext: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The JSON object in a tool's stdout (skipping any text before it).
fn parse_json_in(out: &str) -> Value {
    let start = out
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in output:\n{out}"));
    serde_json::Deserializer::from_str(&out[start..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("bad JSON in output: {e}\n{out}"))
}

/// `forge script --json` prints one JSON object per line.
fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ---------------------------------------------------------------------------
// cast: chain queries
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cast_reads_chain_info() {
    let node = TestNode::spawn().await;

    let chain_id: u64 = cast_ok(&node, &["chain-id"])
        .await
        .parse()
        .expect("cast chain-id prints a decimal");
    assert!(chain_id > 0);
    let raw = cast_ok(&node, &["rpc", "eth_chainId"]).await;
    assert_eq!(raw, format!("\"{chain_id:#x}\""), "cast rpc eth_chainId");

    let number: u64 = cast_ok(&node, &["block-number"])
        .await
        .parse()
        .expect("decimal block number");

    let block = cast_json(&node, &["block", "latest"]).await;
    assert_eq!(json_u128(&block["number"]) as u64, number);
    assert_eq!(field(&block, "hash").len(), 66);
    let hash = cast_ok(&node, &["block", "latest", "--field", "hash"]).await;
    assert_eq!(hash.to_lowercase(), field(&block, "hash"));
    let genesis = cast_json(&node, &["block", "0"]).await;
    assert_eq!(json_u128(&genesis["number"]), 0);

    let gas_price = parse_u128(&cast_ok(&node, &["gas-price"]).await);
    assert!(gas_price > 0, "gas price {gas_price}");
    assert!(
        !cast_ok(&node, &["client"]).await.is_empty(),
        "web3_clientVersion"
    );

    // Dev accounts are funded and unused.
    for addr in &DEV_ADDRESSES[..3] {
        let balance = parse_u128(&cast_ok(&node, &["balance", addr]).await);
        assert!(balance >= 1000 * ONE_ETHER, "{addr} has {balance}");
        assert_eq!(cast_ok(&node, &["nonce", addr]).await, "0");
        assert_eq!(cast_ok(&node, &["code", addr]).await, "0x");
    }
    assert_eq!(cast_ok(&node, &["balance", STRANGER]).await, "0");
    assert_eq!(
        cast_ok(
            &node,
            &[
                "estimate",
                STRANGER,
                "--value",
                "1ether",
                "--from",
                DEV_ADDRESSES[0]
            ]
        )
        .await,
        "21000"
    );
}

// ---------------------------------------------------------------------------
// cast: value transfer
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cast_send_value_moves_balances() {
    let node = TestNode::spawn().await;
    let from = DEV_ADDRESSES[0];
    let before = parse_u128(&cast_ok(&node, &["balance", from]).await);
    let nonce_before: u64 = cast_ok(&node, &["nonce", from]).await.parse().unwrap();

    let receipt = cast_send(&node, DEV_KEYS[0], &[STRANGER, "--value", "1ether"]).await;
    assert_eq!(field(&receipt, "status"), "0x1", "{receipt}");
    assert_eq!(json_u128(&receipt["gasUsed"]), 21000);
    assert_eq!(field(&receipt, "from"), from.to_lowercase());
    assert_eq!(field(&receipt, "to"), STRANGER);
    let hash = field(&receipt, "transactionHash");

    // Exact accounting: value plus gasUsed * effectiveGasPrice.
    assert_eq!(
        cast_ok(&node, &["balance", STRANGER]).await,
        ONE_ETHER.to_string()
    );
    assert_eq!(
        cast_ok(&node, &["balance", STRANGER, "--ether"]).await,
        "1.000000000000000000"
    );
    let after = parse_u128(&cast_ok(&node, &["balance", from]).await);
    let fee = json_u128(&receipt["gasUsed"]) * json_u128(&receipt["effectiveGasPrice"]);
    assert_eq!(before - after, ONE_ETHER + fee, "sender pays value + fee");
    assert_eq!(
        cast_ok(&node, &["nonce", from]).await,
        (nonce_before + 1).to_string()
    );

    // The same receipt by hash, the transaction, and the block holding it.
    let again = cast_json(&node, &["receipt", &hash]).await;
    assert_eq!(field(&again, "status"), "0x1");
    assert_eq!(
        field(&again, "blockHash"),
        field(&receipt, "blockHash"),
        "receipts agree"
    );
    assert_eq!(cast_ok(&node, &["receipt", &hash, "status"]).await, "true");

    let tx = cast_json(&node, &["tx", &hash]).await;
    assert_eq!(field(&tx, "hash"), hash);
    assert_eq!(json_u128(&tx["value"]), ONE_ETHER);
    assert_eq!(field(&tx, "from"), from.to_lowercase());
    assert_eq!(json_u128(&tx["nonce"]) as u64, nonce_before);

    let block_number = json_u128(&receipt["blockNumber"]).to_string();
    let block = cast_json(&node, &["block", &block_number]).await;
    assert_eq!(field(&block, "hash"), field(&receipt, "blockHash"));
    let txs: Vec<String> = block["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|t| t.as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        txs.contains(&hash),
        "block {block_number} lists {txs:?}, not {hash}"
    );
    assert!(
        parse_u128(&cast_ok(&node, &["block-number"]).await) >= json_u128(&receipt["blockNumber"])
    );

    // More than the balance: refused, nothing changes.
    let err = cast_fail(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[5],
            STRANGER,
            "--value",
            "100000000ether",
        ],
    )
    .await;
    assert!(err.to_lowercase().contains("insufficient funds"), "{err}");
    assert_eq!(cast_ok(&node, &["nonce", DEV_ADDRESSES[5]]).await, "0");
}

// ---------------------------------------------------------------------------
// cast: contracts from the committed artifacts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cast_deploys_committed_artifacts() {
    let node = TestNode::spawn().await;

    // `cast send --create` takes variadic arguments: options go before it.
    let counter_code = bytecode("Counter.json", "bytecode");
    let receipt = cast_json(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[0],
            "--create",
            &counter_code,
        ],
    )
    .await;
    assert_eq!(field(&receipt, "status"), "0x1", "{receipt}");
    let counter = field(&receipt, "contractAddress");
    assert_eq!(
        cast_ok(&node, &["code", &counter]).await,
        bytecode("Counter.json", "deployedBytecode")
    );
    assert_eq!(
        cast_ok(&node, &["call", &counter, "number()(uint256)"]).await,
        "0"
    );

    let token_code = bytecode("Token.json", "bytecode");
    let receipt = cast_json(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[0],
            "--create",
            &token_code,
            "constructor(string,string,uint256)",
            "Coco Token",
            "COCO",
            "1000",
        ],
    )
    .await;
    assert_eq!(field(&receipt, "status"), "0x1", "{receipt}");
    let token = field(&receipt, "contractAddress");
    assert_eq!(
        cast_ok(&node, &["call", &token, "symbol()(string)"]).await,
        "\"COCO\""
    );
    assert_eq!(
        cast_ok(
            &node,
            &[
                "call",
                &token,
                "balanceOf(address)(uint256)",
                DEV_ADDRESSES[0]
            ]
        )
        .await,
        "1000"
    );
    // The constructor's mint is a Transfer from address(0).
    let logs = receipt["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(field(&logs[0], "address"), token);
    assert_eq!(logs[0]["topics"][0].as_str().unwrap(), TRANSFER_TOPIC);
    assert_eq!(
        logs[0]["topics"][2].as_str().unwrap(),
        address_topic(DEV_ADDRESSES[0])
    );
}

// ---------------------------------------------------------------------------
// forge create + cast against Counter
// ---------------------------------------------------------------------------

#[tokio::test]
async fn forge_create_counter_then_cast() {
    let node = TestNode::spawn().await;
    let project = ForgeProject::new();
    let (key, me) = (DEV_KEYS[0], DEV_ADDRESSES[0]);

    let (counter, tx) = project.create(&node, key, "Counter", &[]).await;
    let receipt = cast_json(&node, &["receipt", &tx]).await;
    assert_eq!(field(&receipt, "status"), "0x1");
    assert_eq!(field(&receipt, "contractAddress"), counter);
    let code = cast_ok(&node, &["code", &counter]).await;
    assert!(
        code.starts_with("0x6080604052") && code.len() > 100,
        "no code at {counter}: {code}"
    );
    assert!(parse_u128(&cast_ok(&node, &["codesize", &counter]).await) > 100);
    assert_eq!(cast_ok(&node, &["nonce", me]).await, "1");

    // Writes, reads, events.
    let gas = parse_u128(
        &cast_ok(
            &node,
            &[
                "estimate",
                &counter,
                "setNumber(uint256)",
                "41",
                "--from",
                me,
            ],
        )
        .await,
    );
    assert!(gas > 21000 && gas < 100_000, "estimate {gas}");
    let r = cast_send(&node, key, &[&counter, "setNumber(uint256)", "41"]).await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    assert_eq!(
        r["logs"][0]["topics"][0].as_str().unwrap(),
        NUMBER_SET_TOPIC
    );
    assert_eq!(
        cast_ok(&node, &["call", &counter, "number()(uint256)"]).await,
        "41"
    );

    let r = cast_send(&node, key, &[&counter, "increment()"]).await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    let inc_block = json_u128(&r["blockNumber"]);
    assert_eq!(
        cast_ok(&node, &["call", &counter, "number()(uint256)"]).await,
        "42"
    );
    assert_eq!(
        cast_ok(&node, &["call", &counter, "number()"]).await,
        format!("0x{:064x}", 42),
        "raw return data"
    );

    // cast logs: by event signature, and by topic.
    let logs = cast_json(
        &node,
        &[
            "logs",
            "--from-block",
            "0",
            "--to-block",
            "latest",
            "--address",
            &counter,
            "Incremented(address indexed,uint256)",
        ],
    )
    .await;
    let logs = logs.as_array().expect("cast logs --json prints an array");
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = &logs[0];
    assert_eq!(field(log, "address"), counter);
    assert_eq!(log["topics"][0].as_str().unwrap(), INCREMENTED_TOPIC);
    assert_eq!(log["topics"][1].as_str().unwrap(), address_topic(me));
    assert_eq!(log["data"].as_str().unwrap(), format!("0x{:064x}", 42));
    assert_eq!(json_u128(&log["blockNumber"]), inc_block);
    assert_eq!(field(log, "transactionHash"), field(&r, "transactionHash"));
    assert_eq!(log["removed"], Value::Bool(false));
    let by_topic = cast_json(
        &node,
        &[
            "logs",
            "--from-block",
            "0",
            "--address",
            &counter,
            NUMBER_SET_TOPIC,
        ],
    )
    .await;
    assert_eq!(by_topic.as_array().unwrap().len(), 1);
    let none = cast_json(&node, &["logs", "--from-block", "0", "--address", STRANGER]).await;
    assert_eq!(none, Value::Array(vec![]));

    // Reverts with a reason string: eth_call and eth_estimateGas report it.
    let err = cast_fail(&node, &["call", &counter, "fail()"]).await;
    assert!(err.contains("Counter: failed"), "{err}");
    let err = cast_fail(&node, &["send", "--private-key", key, &counter, "fail()"]).await;
    assert!(err.contains("Counter: failed"), "{err}");
    // Custom error: the revert data reaches the tool.
    let err = cast_fail(&node, &["call", &counter, "setSmall(uint256)", "1000"]).await;
    assert!(err.contains(TOO_LARGE_SELECTOR), "{err}");
    let err = cast_fail(
        &node,
        &[
            "send",
            "--private-key",
            key,
            &counter,
            "setSmall(uint256)",
            "1000",
        ],
    )
    .await;
    assert!(err.contains(TOO_LARGE_SELECTOR), "{err}");
    assert_eq!(
        cast_ok(&node, &["call", &counter, "number()(uint256)"]).await,
        "42",
        "reverts change nothing"
    );

    // With a gas limit, no estimate: the reverting transaction is mined, status 0.
    let nonce: u64 = cast_ok(&node, &["nonce", me]).await.parse().unwrap();
    let r = cast_send(&node, key, &["--gas-limit", "100000", &counter, "fail()"]).await;
    assert_eq!(field(&r, "status"), "0x0", "{r}");
    assert_eq!(r["logs"].as_array().unwrap().len(), 0);
    let hash = field(&r, "transactionHash");
    assert_eq!(
        field(&cast_json(&node, &["receipt", &hash]).await, "status"),
        "0x0"
    );
    assert_eq!(
        cast_ok(&node, &["nonce", me]).await,
        (nonce + 1).to_string(),
        "a failed tx still uses its nonce"
    );

    // Ether to the contract's receive().
    let r = cast_send(&node, DEV_KEYS[1], &[&counter, "--value", "0.5ether"]).await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    assert_eq!(
        cast_ok(&node, &["balance", &counter]).await,
        (ONE_ETHER / 2).to_string()
    );
}

// ---------------------------------------------------------------------------
// forge create + cast against Token (ERC-20)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn forge_create_token_then_cast() {
    let node = TestNode::spawn().await;
    let project = ForgeProject::new();
    let supply = "1000000000000000000000000"; // 1e24
    let (owner, alice, bob) = (DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]);

    let (token, _) = project
        .create(&node, DEV_KEYS[0], "Token", &["Coco Token", "COCO", supply])
        .await;
    let balance_of = |who: &'static str| {
        let (node, token) = (&node, token.clone());
        async move {
            first_word(&cast_ok(node, &["call", &token, "balanceOf(address)(uint256)", who]).await)
                .to_string()
        }
    };
    assert_eq!(
        cast_ok(&node, &["call", &token, "name()(string)"]).await,
        "\"Coco Token\""
    );
    assert_eq!(
        cast_ok(&node, &["call", &token, "decimals()(uint8)"]).await,
        "18"
    );
    assert_eq!(
        first_word(&cast_ok(&node, &["call", &token, "totalSupply()(uint256)"]).await),
        supply
    );
    assert_eq!(balance_of(owner).await, supply);

    // transfer
    let r = cast_send(
        &node,
        DEV_KEYS[0],
        &[&token, "transfer(address,uint256)", alice, "1000"],
    )
    .await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    let log = &r["logs"][0];
    assert_eq!(log["topics"][0].as_str().unwrap(), TRANSFER_TOPIC);
    assert_eq!(log["topics"][1].as_str().unwrap(), address_topic(owner));
    assert_eq!(log["topics"][2].as_str().unwrap(), address_topic(alice));
    assert_eq!(balance_of(alice).await, "1000");

    // Require messages come back through estimateGas and eth_call.
    let err = cast_fail(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[2],
            &token,
            "transfer(address,uint256)",
            owner,
            "1",
        ],
    )
    .await;
    assert!(err.contains("ERC20: insufficient balance"), "{err}");
    let err = cast_fail(
        &node,
        &[
            "call",
            &token,
            "transfer(address,uint256)(bool)",
            owner,
            "5000",
            "--from",
            alice,
        ],
    )
    .await;
    assert!(err.contains("ERC20: insufficient balance"), "{err}");
    assert_eq!(
        cast_ok(
            &node,
            &[
                "call",
                &token,
                "transfer(address,uint256)(bool)",
                owner,
                "5",
                "--from",
                alice
            ]
        )
        .await,
        "true"
    );

    // approve / allowance / transferFrom
    let r = cast_send(
        &node,
        DEV_KEYS[0],
        &[&token, "approve(address,uint256)", bob, "500"],
    )
    .await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    assert_eq!(
        cast_ok(
            &node,
            &[
                "call",
                &token,
                "allowance(address,address)(uint256)",
                owner,
                bob
            ]
        )
        .await,
        "500"
    );
    let r = cast_send(
        &node,
        DEV_KEYS[2],
        &[
            &token,
            "transferFrom(address,address,uint256)",
            owner,
            DEV_ADDRESSES[3],
            "300",
        ],
    )
    .await;
    assert_eq!(field(&r, "status"), "0x1", "{r}");
    assert_eq!(balance_of(DEV_ADDRESSES[3]).await, "300");
    assert_eq!(
        cast_ok(
            &node,
            &[
                "call",
                &token,
                "allowance(address,address)(uint256)",
                owner,
                bob
            ]
        )
        .await,
        "200"
    );
    let err = cast_fail(
        &node,
        &[
            "send",
            "--private-key",
            DEV_KEYS[2],
            &token,
            "transferFrom(address,address,uint256)",
            owner,
            bob,
            "201",
        ],
    )
    .await;
    assert!(err.contains("ERC20: insufficient allowance"), "{err}");

    // Every Transfer so far: mint, transfer, transferFrom.
    let logs = cast_json(
        &node,
        &[
            "logs",
            "--from-block",
            "0",
            "--address",
            &token,
            "Transfer(address indexed,address indexed,uint256)",
        ],
    )
    .await;
    assert_eq!(logs.as_array().unwrap().len(), 3, "{logs}");
    let approvals = cast_json(
        &node,
        &[
            "logs",
            "--from-block",
            "0",
            "--address",
            &token,
            "Approval(address indexed,address indexed,uint256)",
        ],
    )
    .await;
    assert_eq!(approvals.as_array().unwrap().len(), 1, "{approvals}");
}

// ---------------------------------------------------------------------------
// forge script --broadcast
// ---------------------------------------------------------------------------

#[tokio::test]
async fn forge_script_broadcasts() {
    let node = TestNode::spawn().await;
    let project = ForgeProject::new();
    let me = DEV_ADDRESSES[0];
    let chain_id = cast_ok(&node, &["chain-id"]).await;

    // First with forge's local simulation (it forks the node's state: reads
    // balances, nonces and code at a fixed block), then without it (it then
    // calls eth_estimateGas against "pending" for every transaction).
    let mut nonce = 0;
    for skip_simulation in [false, true] {
        let mut args = vec![
            "script",
            "script/Deploy.s.sol",
            "--broadcast",
            "--rpc-url",
            node.url.as_str(),
            "--private-key",
            DEV_KEYS[0],
            "--json",
        ];
        if skip_simulation {
            args.push("--skip-simulation");
        }
        let out = run(project.forge(&args)).await;
        let lines = json_lines(&out);
        let returns = lines
            .iter()
            .find_map(|l| l.get("returns"))
            .unwrap_or_else(|| panic!("no `returns` in forge script output:\n{out}"));
        let counter = returns["counter"]["value"].as_str().unwrap().to_lowercase();
        let token = returns["token"]["value"].as_str().unwrap().to_lowercase();
        assert!(
            lines.iter().any(
                |l| l.get("status").and_then(Value::as_str) == Some("success")
                    && l.get("transactions").is_some()
            ),
            "forge script did not report success:\n{out}"
        );

        // The broadcast log: four transactions, all mined with status 1.
        let run_latest = project
            .root
            .join(format!("broadcast/Deploy.s.sol/{chain_id}/run-latest.json"));
        let broadcast: Value =
            serde_json::from_str(&std::fs::read_to_string(&run_latest).unwrap()).unwrap();
        let receipts = broadcast["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 4, "{broadcast}");
        for r in receipts {
            assert_eq!(field(r, "status"), "0x1", "{r}");
            let on_chain = cast_json(&node, &["receipt", &field(r, "transactionHash")]).await;
            assert_eq!(field(&on_chain, "status"), "0x1");
        }

        nonce += 4;
        assert_eq!(cast_ok(&node, &["nonce", me]).await, nonce.to_string());
        assert_ne!(cast_ok(&node, &["code", &counter]).await, "0x");
        assert_ne!(cast_ok(&node, &["code", &token]).await, "0x");
        assert_eq!(
            cast_ok(&node, &["call", &counter, "number()(uint256)"]).await,
            "42"
        );
        assert_eq!(
            first_word(&cast_ok(&node, &["call", &token, "balanceOf(address)(uint256)", me]).await),
            "1000000000000000000000000"
        );
        let incremented = cast_json(
            &node,
            &[
                "logs",
                "--from-block",
                "0",
                "--address",
                &counter,
                INCREMENTED_TOPIC,
            ],
        )
        .await;
        assert_eq!(incremented.as_array().unwrap().len(), 1);
    }
}
