//! Durability and confidentiality at rest: restart, kill -9, plaintext scan, tamper.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use coco::node::NodeConfig;
use serde_json::json;

use crate::common::contracts::Counter;
use crate::common::*;

/// A `coco dev` child process on a free port.
struct Process {
    child: Child,
    url: String,
}

fn start_binary(data_dir: &Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coco"))
        .args(["dev", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start coco");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("banner line").expect("read stdout");
        if let Some(url) = line.strip_prefix("Listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, url }
}

#[tokio::test]
async fn restart_keeps_blocks_receipts_logs_and_state() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.unwrap();
    let address = *counter.address();
    let receipt = set_counter(&counter, 77).await;
    let head = provider.get_block_number().await.unwrap();
    let block = provider
        .get_block_by_number(head.into())
        .await
        .unwrap()
        .unwrap();
    let balance = provider
        .get_balance(node.node().signers[0].address())
        .await
        .unwrap();

    let node = node.restart(NodeConfig::test()).await;
    let provider = node.provider(0);
    assert_eq!(provider.get_block_number().await.unwrap(), head);
    let again = provider
        .get_block_by_number(head.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.header.hash, block.header.hash);
    let r = provider
        .get_transaction_receipt(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.block_hash, receipt.block_hash);
    assert_eq!(r.inner.logs().len(), 1);
    assert_eq!(
        provider
            .get_balance(node.node().signers[0].address())
            .await
            .unwrap(),
        balance
    );
    let counter = Counter::new(address, &provider);
    assert_eq!(counter.number().call().await.unwrap(), U256::from(77));
    // The chain goes on from where it was.
    let r = counter
        .increment()
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(r.block_number, Some(head + 1));
    assert_eq!(counter.number().call().await.unwrap(), U256::from(78));
}

#[tokio::test]
async fn receipts_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut process = start_binary(&data);
    let provider = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(
            DEV_KEYS[3]
                .parse::<alloy::signers::local::PrivateKeySigner>()
                .unwrap(),
        ))
        .connect_http(process.url.parse().unwrap());
    let mut hashes = Vec::new();
    for i in 0..20u64 {
        let pending = provider
            .send_transaction(
                TransactionRequest::default()
                    .with_to(Address::with_last_byte(0x70))
                    .with_value(U256::from(i + 1)),
            )
            .await
            .unwrap();
        hashes.push(pending.get_receipt().await.unwrap());
    }
    process.child.kill().unwrap(); // SIGKILL
    process.child.wait().unwrap();

    let mut process = start_binary(&data);
    let reader =
        alloy::providers::ProviderBuilder::new().connect_http(process.url.parse().unwrap());
    for receipt in &hashes {
        let again = reader
            .get_transaction_receipt(receipt.transaction_hash)
            .await
            .unwrap();
        let again = again.expect("a returned receipt is never lost");
        assert_eq!(again.block_hash, receipt.block_hash);
        assert!(again.status());
    }
    assert_eq!(
        reader
            .get_balance(Address::with_last_byte(0x70))
            .await
            .unwrap(),
        U256::from(210)
    );
    process.child.kill().unwrap();
    process.child.wait().unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path)
            } else {
                out.push(path)
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_plaintext_on_disk() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.unwrap();
    // Distinctive values: a storage value that is also event data, a fresh address.
    let secret_value = U256::from_be_bytes(alloy::primitives::keccak256("coco plaintext probe").0);
    counter
        .setNumber(secret_value)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let stranger = Address::from_word(alloy::primitives::keccak256("coco stranger"));
    provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(stranger)
                .with_value(U256::from(0xC0C0u64)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let code = provider.get_code_at(*counter.address()).await.unwrap();
    let data_dir = node.data_dir.clone();
    let _keep = node.stop().await;

    let probes: Vec<(&str, Vec<u8>)> = vec![
        (
            "storage value / event data",
            secret_value.to_be_bytes::<32>().to_vec(),
        ),
        (
            "storage value as hex text",
            alloy::hex::encode(secret_value.to_be_bytes::<32>()).into_bytes(),
        ),
        ("recipient address", stranger.as_slice().to_vec()),
        (
            "recipient address as hex text",
            alloy::hex::encode(stranger.as_slice()).into_bytes(),
        ),
        ("contract address", counter.address().as_slice().to_vec()),
        (
            "dev account address",
            DEV_ADDRESSES[0]
                .parse::<Address>()
                .unwrap()
                .as_slice()
                .to_vec(),
        ),
        (
            "bytecode",
            code[code.len() / 2..code.len() / 2 + 32].to_vec(),
        ),
    ];
    let files = files_under(&data_dir);
    assert!(
        files.len() > 3,
        "the data directory holds the store and the log"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for (what, probe) in &probes {
            assert!(
                !contains(&bytes, probe),
                "{what} found in plaintext in {}",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn tampered_store_record_is_never_served() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::repeat_byte(3))
                .with_value(U256::from(9)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let balance = provider
        .get_balance(DEV_ADDRESSES[0].parse().unwrap())
        .await
        .unwrap();
    let data_dir = node.data_dir.clone();
    let _keep = node.stop().await;

    // Flip one byte in every account record (table id 1), through the engine itself.
    {
        let db = sled::open(data_dir.join("store")).unwrap();
        let records: Vec<_> = db.scan_prefix([1u8]).map(|r| r.unwrap()).collect();
        assert!(!records.is_empty());
        for (key, value) in records {
            let mut value = value.to_vec();
            let i = value.len() - 20;
            value[i] ^= 0x01;
            db.insert(key, value).unwrap();
        }
        db.flush().unwrap();
    }
    // Opening authenticates every account (the Merkle leaves are rebuilt from them):
    // the tampered store is moved aside and rebuilt from the block log, so only the
    // authentic values are ever served.
    let mut config = NodeConfig::test();
    config.data_dir = Some(data_dir.clone());
    let node = TestNode::spawn_with(config).await;
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[DEV_ADDRESSES[0], "latest"]}),
    )
    .await;
    assert_eq!(res["result"], json!(format!("{balance:#x}")), "{res}");
    let aside = std::fs::read_dir(&data_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("store.corrupt-")
        });
    assert!(aside, "the tampered store is kept aside for inspection");
}

#[tokio::test]
async fn tampered_block_log_stops_the_node_naming_the_file() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::repeat_byte(3))
                .with_value(U256::from(9)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let data_dir = node.data_dir.clone();
    let _keep = node.stop().await;
    let log = data_dir.join("blocks.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let i = bytes.len() - 30;
    bytes[i] ^= 0x80;
    std::fs::write(&log, bytes).unwrap();
    let mut config = NodeConfig::test();
    config.data_dir = Some(data_dir);
    let err = coco::node::Node::spawn(config)
        .await
        .expect_err("a tampered log stops the node");
    let text = err.to_string();
    assert!(
        text.contains("blocks.log"),
        "the error names the file: {text}"
    );
}

#[tokio::test]
async fn lost_or_corrupt_store_is_rebuilt_from_the_log() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::repeat_byte(4))
                .with_value(U256::from(11)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let data_dir = node.data_dir.clone();
    let _keep = node.stop().await;
    // Corrupt the engine's files: garbage over every file of the store.
    for file in files_under(&data_dir.join("store")) {
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        std::fs::write(&file, vec![0xA5u8; len.max(64)]).unwrap();
    }
    let mut config = NodeConfig::test();
    config.data_dir = Some(data_dir.clone());
    let node = TestNode::spawn_with(config).await;
    let reader = node.reader();
    let again = reader
        .get_transaction_receipt(receipt.transaction_hash)
        .await
        .unwrap()
        .expect("rebuilt");
    assert_eq!(again.block_hash, receipt.block_hash);
    assert_eq!(
        reader.get_balance(Address::repeat_byte(4)).await.unwrap(),
        U256::from(11)
    );
}
