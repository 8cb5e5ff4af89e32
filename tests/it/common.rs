//! Test harness: spawn nodes, providers for them, paths to the installed tools.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use coco::node::{Node, NodeConfig};

/// The ten well-known dev private keys (mnemonic "test test … junk").
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Their addresses.
pub const DEV_ADDRESSES: [&str; 10] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
];

/// A node started in-process on a free loopback port.
pub struct TestNode {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `ws://127.0.0.1:PORT`
    pub ws_url: String,
    /// The node's data directory.
    pub data_dir: PathBuf,
    /// The running node.
    pub node: Option<Node>,
    dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// A dev node (instant mining) with a fresh, persistent temporary data directory.
    pub async fn spawn() -> TestNode {
        Self::spawn_with(NodeConfig::test()).await
    }

    /// A node with `config`; a temporary data directory unless the config names one.
    pub async fn spawn_with(mut config: NodeConfig) -> TestNode {
        let dir = match config.data_dir {
            Some(_) => None,
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("coco-it-")
                    .tempdir()
                    .expect("temp dir");
                config.data_dir = Some(dir.path().join("data"));
                Some(dir)
            }
        };
        let node = Node::spawn(config).await.expect("node starts");
        TestNode {
            url: node.http_url(),
            ws_url: node.ws_url(),
            data_dir: node.data_dir.clone(),
            node: Some(node),
            dir,
        }
    }

    /// Stops the node cleanly and starts it again on the same data directory.
    pub async fn restart(mut self, config: NodeConfig) -> TestNode {
        self.node.take().expect("running").stop().await;
        let mut config = config;
        config.data_dir = Some(self.data_dir.clone());
        let mut next = Self::spawn_with(config).await;
        next.dir = self.dir.take();
        next
    }

    /// The running node.
    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("running")
    }

    /// A provider that signs with dev account `index`.
    pub fn provider(&self, index: usize) -> DynProvider {
        let signer: PrivateKeySigner = DEV_KEYS[index].parse().expect("dev key");
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.url.parse().expect("url"))
            .erased()
    }

    /// A provider that does not sign.
    pub fn reader(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.url.parse().expect("url"))
            .erased()
    }

    /// Stops the node; the returned guard keeps its temporary data directory alive.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(node) = self.node.take() {
            node.stop().await;
        }
        self.dir.take()
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An installed tool: `.tools/bin/<name>`. Panics (the test fails) when missing.
pub fn tool(name: &str) -> PathBuf {
    let path = repo_root().join(".tools").join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-tools.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Raw JSON-RPC call over HTTP; returns the whole response object.
pub async fn raw_rpc(url: &str, body: serde_json::Value) -> serde_json::Value {
    let client = reqwest::Client::new();
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// The committed contract artifacts, bound once for every test file.
pub mod contracts {
    alloy::sol!(
        #[sol(rpc)]
        Counter,
        "contracts/out/Counter.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        Token,
        "contracts/out/Token.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        ConfidentialToken,
        "contracts/out/ConfidentialToken.json"
    );
}

/// Sets `counter` to `value` in a transaction and waits for its receipt.
pub async fn set_counter<P: Provider>(
    counter: &contracts::Counter::CounterInstance<P>,
    value: u64,
) -> alloy::rpc::types::TransactionReceipt {
    counter
        .setNumber(alloy::primitives::U256::from(value))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
}

/// The `result` of a JSON-RPC call to `node`; panics on an error answer.
pub async fn rpc_ok(node: &TestNode, method: &str, params: serde_json::Value) -> serde_json::Value {
    let res = raw_rpc(
        &node.url,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    assert!(res.get("error").is_none(), "{method} {params}: {res}");
    res["result"].clone()
}

/// Runs `coco <args> --data-dir <data>` (a `coco keys` command); its standard output.
pub fn coco_keys(data: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The whole JSON-RPC response of a call made with API key `key` (or anonymously).
pub async fn call_as(
    node: &TestNode,
    key: Option<&str>,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let mut req = reqwest::Client::new()
        .post(&node.url)
        .json(&serde_json::json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}));
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// A command line (with its directory) for failure messages. Secrets go in the
/// environment, so they never appear here.
pub fn describe(cmd: &tokio::process::Command) -> String {
    let std = cmd.as_std();
    let mut s = String::new();
    if let Some(dir) = std.get_current_dir() {
        s.push_str(&format!("(in {}) ", dir.display()));
    }
    s.push_str(&std.get_program().to_string_lossy());
    for a in std.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs an external tool to completion without blocking the runtime the node runs on;
/// killed when dropped, a panic past `timeout`. Returns (success, stdout, stderr).
pub async fn exec(
    mut cmd: tokio::process::Command,
    timeout: std::time::Duration,
) -> (bool, String, String) {
    let line = describe(&cmd);
    cmd.kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0");
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {timeout:?}: {line}"))
        .unwrap_or_else(|e| panic!("could not start `{line}`: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts the `coco` binary with `args` (`dev …` or `node …`, on port 0), killed when
/// dropped; returns it and its URL, read from the line `coco dev` ("Listening on …") or
/// `coco node` ("serving chain … on …") prints once it listens.
pub async fn spawn_coco(args: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if !(line.starts_with("Listening on ") || line.starts_with("serving chain ")) {
                continue;
            }
            if let Some(at) = line.find("http://") {
                let url = line[at..].split_whitespace().next().unwrap_or_default();
                return url.to_string();
            }
        }
        panic!("coco {args:?} exited before listening");
    };
    let url = tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("coco starts");
    // Keep reading: a closed pipe would fail coco's next write to stdout.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// A signed EIP-1559 transfer of 1 wei from `from` to itself with `nonce`, on chain
/// `chain_id`, ready for `eth_sendRawTransaction`.
pub async fn signed_transfer(
    from: &PrivateKeySigner,
    nonce: u64,
    chain_id: u64,
) -> alloy::primitives::Bytes {
    use alloy::eips::Encodable2718;
    use alloy::network::{NetworkTransactionBuilder, TransactionBuilder};
    let tx = alloy::rpc::types::TransactionRequest::default()
        .with_from(from.address())
        .with_to(from.address())
        .with_value(alloy::primitives::U256::from(1))
        .with_nonce(nonce)
        .with_chain_id(chain_id)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(20_000_000_000)
        .with_max_priority_fee_per_gas(1);
    let wallet = EthereumWallet::from(from.clone());
    let envelope: alloy::consensus::TxEnvelope =
        <alloy::rpc::types::TransactionRequest as NetworkTransactionBuilder<
            alloy::network::Ethereum,
        >>::build(tx, &wallet)
        .await
        .unwrap();
    envelope.encoded_2718().into()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
