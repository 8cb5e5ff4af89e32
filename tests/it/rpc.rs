//! The Ethereum JSON-RPC surface, driven with alloy providers and raw requests.

use alloy::consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy::consensus::{ReceiptEnvelope, TxEnvelope};
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256, address};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionRequest};
use serde_json::json;

use crate::common::contracts::Counter;
use crate::common::*;

#[tokio::test]
async fn deploy_call_events_and_receipts() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    let receipt = set_counter(&counter, 42).await;
    assert!(receipt.status());
    assert_eq!(counter.number().call().await.unwrap(), U256::from(42));

    // The event, in the receipt and through eth_getLogs.
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    let event = logs[0]
        .log_decode::<Counter::NumberSet>()
        .expect("NumberSet");
    assert_eq!(event.inner.value, U256::from(42));
    assert_eq!(event.inner.by, node.node().signers[0].address());
    let filter = Filter::new().address(*counter.address()).from_block(0u64);
    let found = provider.get_logs(&filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].transaction_hash, Some(receipt.transaction_hash));
    assert_eq!(found[0].block_hash, receipt.block_hash);
    let none = provider
        .get_logs(
            &Filter::new()
                .address(Address::repeat_byte(7))
                .from_block(0u64),
        )
        .await
        .unwrap();
    assert!(none.is_empty());

    // The block is a real Ethereum block: its hash, roots and bloom recompute.
    let number = receipt.block_number.unwrap();
    let block = provider
        .get_block_by_number(number.into())
        .full()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.header.hash, block.header.inner.hash_slow());
    let txs: Vec<TxEnvelope> = block
        .transactions
        .txns()
        .map(|t| t.inner.inner().clone())
        .collect();
    assert_eq!(
        calculate_transaction_root(&txs),
        block.header.transactions_root
    );
    let receipts = provider
        .get_block_receipts(number.into())
        .await
        .unwrap()
        .unwrap();
    let consensus: Vec<ReceiptEnvelope> = receipts
        .iter()
        .map(|r| r.inner.clone().map_logs(|l| l.inner))
        .collect();
    assert_eq!(
        calculate_receipt_root(&consensus),
        block.header.receipts_root
    );
    assert!(
        block
            .header
            .logs_bloom
            .contains_input(alloy::primitives::BloomInput::Raw(
                counter.address().as_slice()
            ))
    );
    let parent = provider
        .get_block_by_number((number - 1).into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.header.parent_hash, parent.header.hash);

    // Lookups by hash and index agree.
    let by_hash = provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.block_number, Some(number));
    let count = provider
        .get_block_transaction_count_by_number(number.into())
        .await
        .unwrap();
    assert_eq!(count, Some(1));
    let raw = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByBlockHashAndIndex",
               "params":[block.header.hash, "0x0"]}),
    )
    .await;
    assert_eq!(raw["result"]["hash"], json!(receipt.transaction_hash));
}

#[tokio::test]
async fn reverts_carry_reason_and_data() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.unwrap();
    let call = |data: String| {
        json!({"jsonrpc":"2.0","id":1,"method":"eth_call",
               "params":[{"to": counter.address(), "data": data}, "latest"]})
    };
    let fail = format!(
        "0x{}",
        alloy::hex::encode(Counter::failCall {}.abi_encode())
    );
    let res = raw_rpc(&node.url, call(fail)).await;
    assert_eq!(res["error"]["code"], 3, "{res}");
    assert_eq!(
        res["error"]["message"],
        "execution reverted: Counter: failed"
    );
    let data = res["error"]["data"].as_str().unwrap();
    assert!(
        data.starts_with("0x08c379a0"),
        "Error(string) selector: {data}"
    );

    // A custom error: code 3, bare message, the error's bytes as data.
    let small = Counter::setSmallCall {
        value: U256::from(1000),
    }
    .abi_encode();
    let res = raw_rpc(&node.url, call(format!("0x{}", alloy::hex::encode(small)))).await;
    assert_eq!(res["error"]["code"], 3);
    assert_eq!(res["error"]["message"], "execution reverted");
    assert!(
        res["error"]["data"]
            .as_str()
            .unwrap()
            .starts_with("0x677fd0e3")
    );

    // eth_estimateGas reports the same revert.
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_estimateGas",
               "params":[{"to": counter.address(), "data": format!("0x{}", alloy::hex::encode(Counter::failCall {}.abi_encode()))}]}),
    )
    .await;
    assert_eq!(res["error"]["code"], 3);
    assert_eq!(
        res["error"]["message"],
        "execution reverted: Counter: failed"
    );
}

use alloy::sol_types::SolCall;

#[tokio::test]
async fn call_objects_take_input_data_or_both() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.unwrap();
    set_counter(&counter, 7).await;
    let number = format!(
        "0x{}",
        alloy::hex::encode(Counter::numberCall {}.abi_encode())
    );
    let expect = format!("0x{:064x}", 7);
    for params in [
        json!({"to": counter.address(), "data": number}),
        json!({"to": counter.address(), "input": number}),
        json!({"to": counter.address(), "input": number, "data": number}),
    ] {
        let res = raw_rpc(
            &node.url,
            json!({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[params]}),
        )
        .await;
        assert_eq!(res["result"], json!(expect), "{res}");
    }
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_call",
               "params":[{"to": counter.address(), "input": number, "data": "0x00"}]}),
    )
    .await;
    assert_eq!(res["error"]["code"], -32602, "{res}");
}

#[tokio::test]
async fn unknown_methods_and_malformed_requests() {
    let node = TestNode::spawn().await;
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}),
    )
    .await;
    assert_eq!(res["error"]["code"], -32601);
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}),
    )
    .await;
    assert_eq!(res["error"]["code"], -32602, "{res}");
    let client = reqwest::Client::new();
    let res: serde_json::Value = client
        .post(&node.url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["error"]["code"], -32700);
}

#[tokio::test]
async fn limits_are_enforced_with_clear_errors() {
    let mut config = coco::node::NodeConfig::test();
    config.rpc.max_batch = 3;
    config.rpc.max_request_body = 4096;
    config.rpc.logs_max_range = 5;
    let node = TestNode::spawn_with(config).await;
    let one = json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]});
    let ok = raw_rpc(&node.url, json!([one, one, one])).await;
    assert_eq!(ok.as_array().unwrap().len(), 3);
    let too_many = raw_rpc(&node.url, json!([one, one, one, one])).await;
    assert!(
        too_many.to_string().contains("atch"),
        "batch limit: {too_many}"
    );
    let big = "0x".to_string() + &"00".repeat(5000);
    let client = reqwest::Client::new();
    let res = client
        .post(&node.url)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[big]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "oversized body is refused");
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0x64"}]}),
    )
    .await;
    // A range naming blocks past the head is refused, as geth refuses it…
    assert_eq!(res["error"]["code"], -32602, "{res}");
    // …and so is a range over existing blocks wider than the limit.
    let provider = node.provider(0);
    for _ in 0..6 {
        provider
            .send_transaction(
                TransactionRequest::default()
                    .with_to(Address::repeat_byte(1))
                    .with_value(U256::from(1)),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"latest"}]}),
    )
    .await;
    assert_eq!(res["error"]["code"], -32005, "{res}");
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max block range 5")
    );
}

#[tokio::test]
async fn balances_nonces_and_history() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let from = node.node().signers[0].address();
    let to = Address::repeat_byte(0x42);
    let before = provider.get_balance(from).await.unwrap();
    assert_eq!(
        before,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );
    let start = provider.get_block_number().await.unwrap();
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(12345)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(provider.get_balance(to).await.unwrap(), U256::from(12345));
    assert_eq!(provider.get_transaction_count(from).await.unwrap(), 1);
    // History: the state before the transaction is still readable.
    assert_eq!(
        provider.get_balance(to).number(start).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        provider.get_balance(from).number(start).await.unwrap(),
        before
    );
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        provider.get_balance(from).await.unwrap(),
        before - U256::from(12345) - fee
    );
    // A block that does not exist yet: geth's error.
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[to, "0xffff"]}),
    )
    .await;
    assert_eq!(res["error"]["message"], "header not found");
    // Tags.
    for tag in ["earliest", "latest", "pending", "safe", "finalized"] {
        let res = raw_rpc(
            &node.url,
            json!({"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[tag, false]}),
        )
        .await;
        // geth's pending block is not sealed: no hash (tests/it/geth_methods.rs).
        assert_eq!(
            res["result"]["hash"].is_string(),
            tag != "pending",
            "{tag}: {res}"
        );
    }
    assert!(
        provider
            .get_block_by_number(BlockNumberOrTag::Number(999))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn predeploys_and_chain_info() {
    let node = TestNode::spawn().await;
    let provider = node.reader();
    assert_eq!(provider.get_chain_id().await.unwrap(), 31337);
    let create2 = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");
    let multicall = address!("0xcA11bde05977b3631167028862bE2a173976CA11");
    assert!(!provider.get_code_at(create2).await.unwrap().is_empty());
    assert!(!provider.get_code_at(multicall).await.unwrap().is_empty());
    let accounts = provider.get_accounts().await.unwrap();
    assert_eq!(accounts.len(), 10);
    assert_eq!(accounts[0], DEV_ADDRESSES[0].parse::<Address>().unwrap());
    let fees = provider
        .get_fee_history(4, BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .unwrap();
    assert_eq!(
        fees.base_fee_per_gas.len(),
        2,
        "one block so far plus the next"
    );
    let version: String = provider
        .raw_request("web3_clientVersion".into(), ())
        .await
        .unwrap();
    assert!(version.starts_with("coco/"));
    let net: String = provider
        .raw_request("net_version".into(), ())
        .await
        .unwrap();
    assert_eq!(net, "31337");
    let sha: B256 = provider
        .raw_request("web3_sha3".into(), ("0x68656c6c6f20776f726c64",))
        .await
        .unwrap();
    assert_eq!(sha, alloy::primitives::keccak256("hello world"));
}

#[tokio::test]
async fn interval_mining_batches_transactions() {
    let mut config = coco::node::NodeConfig::test();
    config.mining = coco::chain::Mining::Interval(std::time::Duration::from_millis(300));
    let node = TestNode::spawn_with(config).await;
    let mut pending = Vec::new();
    for i in 0..3usize {
        let provider = node.provider(i);
        pending.push(
            provider
                .send_transaction(
                    TransactionRequest::default()
                        .with_to(Address::repeat_byte(9))
                        .with_value(U256::from(1)),
                )
                .await
                .unwrap(),
        );
    }
    let mut blocks = Vec::new();
    for p in pending {
        blocks.push(p.get_receipt().await.unwrap().block_number.unwrap());
    }
    blocks.dedup();
    assert!(
        blocks.len() < 3,
        "several transactions share a block: {blocks:?}"
    );
}

#[tokio::test]
async fn eip7702_delegation_executes() {
    use alloy::consensus::{SignableTransaction, TxEip7702};
    use alloy::eips::Encodable2718;
    use alloy::eips::eip7702::Authorization;
    use alloy::network::TxSignerSync;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    let node = TestNode::spawn().await;
    let counter = Counter::deploy(node.provider(0)).await.unwrap();
    let authority: PrivateKeySigner = DEV_KEYS[5].parse().unwrap();
    let sender: PrivateKeySigner = DEV_KEYS[4].parse().unwrap();
    let auth = Authorization {
        chain_id: U256::from(31337),
        address: *counter.address(),
        nonce: 0,
    };
    let sig = authority.sign_hash_sync(&auth.signature_hash()).unwrap();
    let signed_auth = auth.into_signed(sig);
    let mut tx = TxEip7702 {
        chain_id: 31337,
        nonce: 0,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: authority.address(),
        authorization_list: vec![signed_auth],
        input: Counter::incrementCall {}.abi_encode().into(),
        ..Default::default()
    };
    let sig = sender.sign_transaction_sync(&mut tx).unwrap();
    let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let pending = node.reader().send_raw_transaction(&raw).await.unwrap();
    let receipt = pending.get_receipt().await.unwrap();
    assert!(receipt.status());
    let code = node
        .reader()
        .get_code_at(authority.address())
        .await
        .unwrap();
    let mut expected = vec![0xef, 0x01, 0x00];
    expected.extend_from_slice(counter.address().as_slice());
    assert_eq!(
        code.to_vec(),
        expected,
        "the authority delegates to Counter"
    );
    // The increment ran in the authority's storage, not the contract's.
    let delegated = Counter::new(authority.address(), node.reader());
    assert_eq!(delegated.number().call().await.unwrap(), U256::from(1));
    assert_eq!(counter.number().call().await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn call_gas_cap_and_timeout() {
    // Runtime code `JUMPDEST PUSH1 0 JUMP`: loops until gas runs out.
    let init = alloy::hex::decode("6004600c60003960046000f35b600056").unwrap();
    let mut config = coco::node::NodeConfig::test();
    config.rpc.call_gas_cap = 1_000_000;
    let node = TestNode::spawn_with(config).await;
    let provider = node.provider(0);
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(init.clone()))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let looper = receipt.contract_address.unwrap();
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to": looper, "gas": "0xffffffffff"}]}),
    )
    .await;
    assert_eq!(
        res["error"]["message"], "out of gas",
        "the gas cap bounds the call: {res}"
    );
    let _keep = node.stop().await;

    let mut config = coco::node::NodeConfig::test();
    config.rpc.call_gas_cap = u64::MAX / 2;
    config.rpc.call_timeout = std::time::Duration::from_millis(200);
    let node = TestNode::spawn_with(config).await;
    let provider = node.provider(0);
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let looper = receipt.contract_address.unwrap();
    let res = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to": looper, "gas": "0xffffffffffff"}]}),
    )
    .await;
    assert_eq!(res["error"]["code"], -32000, "{res}");
    assert_eq!(
        res["error"]["message"],
        "execution aborted (timeout = 200ms)"
    );
}

#[tokio::test]
async fn ephemeral_keeps_nothing() {
    let mut config = coco::node::NodeConfig::test();
    config.data_dir = None;
    let node = coco::node::Node::spawn(config).await.unwrap();
    let dir = node.data_dir.clone();
    assert!(dir.exists());
    node.stop().await;
    assert!(!dir.exists(), "an ephemeral node removes its state on stop");
}
