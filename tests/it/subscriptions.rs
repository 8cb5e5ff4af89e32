//! `eth_subscribe` over WebSocket and the `eth_*Filter*` methods over HTTP.

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, WsConnect};
use alloy::pubsub::Subscription;
use alloy::rpc::types::{Filter, Log, Transaction, TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolEvent;
use alloy::transports::TransportError;
use coco::chain::Mining;
use coco::node::NodeConfig;
use serde_json::{Value, json};

use crate::common::contracts::Counter;
use crate::common::*;

/// How long a test waits for an item before it fails.
const WAIT: Duration = Duration::from_secs(30);

async fn ws(node: &TestNode) -> DynProvider {
    ProviderBuilder::new()
        .connect_ws(WsConnect::new(node.ws_url.clone()))
        .await
        .expect("ws connects")
        .erased()
}

async fn next<T: serde::de::DeserializeOwned>(sub: &mut Subscription<T>) -> T {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("an item arrives")
        .expect("subscription open")
}

/// Sends 1 wei from dev account 0 to account 1 and waits for the receipt.
async fn transfer(provider: &DynProvider) -> TransactionReceipt {
    let to: Address = DEV_ADDRESSES[1].parse().unwrap();
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(1));
    provider
        .send_transaction(tx)
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined")
}

/// Mines one block by hand (the node must mine manually) holding the pooled
/// transactions `sent`; returns their receipts, checked to share that block.
async fn mine(node: &TestNode, provider: &DynProvider, sent: &[B256]) -> Vec<TransactionReceipt> {
    let block = node
        .node()
        .chain
        .mine(64, false)
        .expect("mined")
        .expect("a block");
    let mut receipts = Vec::new();
    for hash in sent {
        let receipt = provider
            .get_transaction_receipt(*hash)
            .await
            .unwrap()
            .expect("in the block");
        assert!(receipt.status(), "{hash} failed");
        assert_eq!(receipt.block_number, Some(block.header.number));
        receipts.push(receipt);
    }
    receipts
}

fn error_of(err: &TransportError) -> (i64, String) {
    let payload = err.as_error_resp().expect("a JSON-RPC error response");
    (payload.code, payload.message.to_string())
}

#[tokio::test]
async fn new_heads_delivers_each_new_block_header() {
    let node = TestNode::spawn().await;
    let ws = ws(&node).await;
    let mut heads = ws.subscribe_blocks().await.expect("subscribed");
    let receipt = transfer(&node.provider(0)).await;
    let head = next(&mut heads).await;
    assert_eq!(Some(head.hash), receipt.block_hash);
    assert_eq!(Some(head.number), receipt.block_number);
    // The same header eth_getBlockByNumber serves.
    let block = node
        .reader()
        .get_block_by_number(head.number.into())
        .await
        .unwrap()
        .expect("block");
    assert_eq!(head, block.header);
}

#[tokio::test]
async fn logs_subscriptions_deliver_exactly_the_matching_logs() {
    // Mined by hand so that matching and unmatched logs share blocks: a block's bloom
    // alone cannot tell them apart.
    let node = TestNode::spawn_with(NodeConfig {
        mining: Mining::Manual,
        ..NodeConfig::test()
    })
    .await;
    let http = node.provider(0);
    let deploy_a = Counter::deploy_builder(&http).send().await.unwrap();
    let deploy_b = Counter::deploy_builder(&http).send().await.unwrap();
    let receipts = mine(&node, &http, &[*deploy_a.tx_hash(), *deploy_b.tx_hash()]).await;
    let a = Counter::new(receipts[0].contract_address.unwrap(), &http);
    let b = Counter::new(receipts[1].contract_address.unwrap(), &http);

    let ws = ws(&node).await;
    let mut by_address = ws
        .subscribe_logs(&Filter::new().address(*a.address()))
        .await
        .expect("subscribed");
    let mut by_topic = ws
        .subscribe_logs(
            &Filter::new()
                .address(vec![*a.address(), *b.address()])
                .event_signature(Counter::Incremented::SIGNATURE_HASH),
        )
        .await
        .expect("subscribed");

    let sent = [
        *b.setNumber(U256::from(1)).send().await.unwrap().tx_hash(),
        *a.setNumber(U256::from(2)).send().await.unwrap().tx_hash(),
        *b.increment().send().await.unwrap().tx_hash(),
        *a.increment().send().await.unwrap().tx_hash(),
    ];
    let [_, a_set, b_inc, a_inc] = mine(&node, &http, &sent).await.try_into().unwrap();

    // Items arrive in log order: a wrongly matched log would come first.
    let mut got_address = Vec::new();
    let mut got_topic = Vec::new();
    for _ in 0..2 {
        got_address.push(next(&mut by_address).await);
        got_topic.push(next(&mut by_topic).await);
    }
    let hashes = |logs: &[Log]| {
        logs.iter()
            .map(|l| l.transaction_hash.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        hashes(&got_address),
        vec![a_set.transaction_hash, a_inc.transaction_hash]
    );
    assert_eq!(
        hashes(&got_topic),
        vec![b_inc.transaction_hash, a_inc.transaction_hash]
    );
    // One notification per log, as the receipts have them.
    assert_eq!(got_address[0], a_set.inner.logs()[0]);
    assert_eq!(got_address[1], a_inc.inner.logs()[0]);
    assert_eq!(got_topic[0], b_inc.inner.logs()[0]);

    // Nothing unmatched trails them: the next item of each is the next match.
    let sent = [
        *b.setNumber(U256::from(3)).send().await.unwrap().tx_hash(),
        *a.increment().send().await.unwrap().tx_hash(),
    ];
    let last = sent[1];
    mine(&node, &http, &sent).await;
    assert_eq!(next(&mut by_address).await.transaction_hash, Some(last));
    assert_eq!(next(&mut by_topic).await.transaction_hash, Some(last));
}

#[tokio::test]
async fn new_pending_transactions_delivers_hashes_or_full_objects() {
    let node = TestNode::spawn().await;
    let ws = ws(&node).await;
    let mut hashes = ws.subscribe_pending_transactions().await.expect("hashes");
    let mut full = ws
        .subscribe_full_pending_transactions()
        .await
        .expect("full");
    let receipt = transfer(&node.provider(0)).await;
    assert_eq!(next(&mut hashes).await, receipt.transaction_hash);
    let tx: Transaction = next(&mut full).await;
    assert_eq!(*tx.inner.tx_hash(), receipt.transaction_hash);
    assert_eq!(tx.inner.signer(), receipt.from);
}

#[tokio::test]
async fn unknown_subscription_kinds_are_invalid_params() {
    let node = TestNode::spawn().await;
    let ws = ws(&node).await;
    let err = ws
        .client()
        .request::<_, U256>("eth_subscribe", ("newBlocks",))
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).0, -32602, "{err}");
    let err = ws
        .client()
        .request::<_, U256>("eth_subscribe", ("newHeads", true))
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).0, -32602, "{err}");
}

/// Sends a raw request to an in-process module; returns the response and the
/// subscription's notification channel.
async fn raw(
    module: &jsonrpsee::RpcModule<()>,
    method: &str,
    params: Value,
) -> (
    Value,
    tokio::sync::mpsc::Receiver<Box<serde_json::value::RawValue>>,
) {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (response, rx) = module
        .raw_json_request(&request.to_string(), 64)
        .await
        .expect("valid request");
    (serde_json::from_str(response.get()).unwrap(), rx)
}

#[tokio::test]
async fn unsubscribe_returns_true_and_ends_the_stream() {
    // alloy hides server subscription ids, so this drives jsonrpsee's module directly,
    // on the running node's chain.
    let node = TestNode::spawn().await;
    let module = coco::rpc::module(
        node.node().chain.clone(),
        coco::rpc::RpcLimits::default(),
        vec![],
        false,
        false,
    );
    let (response, mut items) = raw(&module, "eth_subscribe", json!(["newHeads"])).await;
    let id = response["result"].clone();
    assert!(!id.is_null(), "{response}");

    let first = transfer(&node.provider(0)).await;
    let item = tokio::time::timeout(WAIT, items.recv())
        .await
        .expect("an item arrives")
        .expect("open");
    let item: Value = serde_json::from_str(item.get()).unwrap();
    assert_eq!(item["params"]["subscription"], id);
    assert_eq!(item["params"]["result"]["hash"], json!(first.block_hash));

    let (response, _) = raw(&module, "eth_unsubscribe", json!([id])).await;
    assert_eq!(response["result"], json!(true), "{response}");
    let (response, _) = raw(&module, "eth_unsubscribe", json!([id])).await;
    assert_ne!(response["result"], json!(true), "{response}");

    // The next block is not delivered: the stream ends instead.
    transfer(&node.provider(0)).await;
    let after = tokio::time::timeout(WAIT, items.recv())
        .await
        .expect("the stream ends");
    assert!(after.is_none(), "an item after unsubscribing: {after:?}");
}

#[tokio::test]
async fn block_filter_returns_new_block_hashes_once() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let id = provider.new_block_filter().await.expect("installed");
    let first = transfer(&provider).await;
    let second = transfer(&provider).await;
    let changes: Vec<B256> = provider.get_filter_changes(id).await.unwrap();
    assert_eq!(
        changes,
        vec![first.block_hash.unwrap(), second.block_hash.unwrap()]
    );
    let again: Vec<B256> = provider.get_filter_changes(id).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn log_filter_changes_and_logs() {
    let node = TestNode::spawn_with(NodeConfig {
        mining: Mining::Manual,
        ..NodeConfig::test()
    })
    .await;
    let provider = node.provider(0);
    let deploy = Counter::deploy_builder(&provider).send().await.unwrap();
    let deployed = mine(&node, &provider, &[*deploy.tx_hash()]).await;
    let counter = Counter::new(deployed[0].contract_address.unwrap(), &provider);
    let sent = *counter
        .setNumber(U256::from(1))
        .send()
        .await
        .unwrap()
        .tx_hash();
    let [before] = mine(&node, &provider, &[sent]).await.try_into().unwrap();

    let filter = Filter::new()
        .from_block(0u64)
        .address(*counter.address())
        .event_signature(Counter::NumberSet::SIGNATURE_HASH);
    let id = provider.new_filter(&filter).await.expect("installed");
    // One block with a matching and an unmatched log.
    let sent = [
        *counter
            .setNumber(U256::from(2))
            .send()
            .await
            .unwrap()
            .tx_hash(),
        *counter.increment().send().await.unwrap().tx_hash(),
    ];
    let [set, incremented] = mine(&node, &provider, &sent).await.try_into().unwrap();
    assert_eq!(set.block_hash, incremented.block_hash);

    // Changes: only what matched since installation.
    let changes: Vec<Log> = provider.get_filter_changes(id).await.unwrap();
    assert_eq!(changes, set.inner.logs().to_vec());
    let again: Vec<Log> = provider.get_filter_changes(id).await.unwrap();
    assert!(again.is_empty(), "{again:?}");

    // Logs: everything the criteria match, as eth_getLogs answers.
    let logs = provider.get_filter_logs(id).await.unwrap();
    assert_eq!(
        logs.iter().map(|l| l.transaction_hash).collect::<Vec<_>>(),
        vec![Some(before.transaction_hash), Some(set.transaction_hash)]
    );
    assert_eq!(logs, provider.get_logs(&filter).await.unwrap());
}

#[tokio::test]
async fn pending_transaction_filter_returns_new_hashes() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let hashes = provider
        .new_pending_transactions_filter(false)
        .await
        .unwrap();
    let full = provider
        .new_pending_transactions_filter(true)
        .await
        .unwrap();
    let receipt = transfer(&provider).await;
    let got: Vec<B256> = provider.get_filter_changes(hashes).await.unwrap();
    assert_eq!(got, vec![receipt.transaction_hash]);
    let got: Vec<Transaction> = provider.get_filter_changes(full).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(*got[0].inner.tx_hash(), receipt.transaction_hash);
    let again: Vec<B256> = provider.get_filter_changes(hashes).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn uninstalled_and_unknown_filters_are_not_found() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let id = provider.new_block_filter().await.unwrap();
    assert!(provider.uninstall_filter(id).await.unwrap());
    assert!(!provider.uninstall_filter(id).await.unwrap());
    let err = provider.get_filter_changes::<B256>(id).await.unwrap_err();
    assert_eq!(error_of(&err), (-32000, "filter not found".to_string()));
    let err = provider
        .get_filter_changes::<B256>(U256::from(12345))
        .await
        .unwrap_err();
    assert_eq!(error_of(&err), (-32000, "filter not found".to_string()));

    // eth_getFilterLogs answers only for log filters.
    let blocks = provider.new_block_filter().await.unwrap();
    let err = provider.get_filter_logs(blocks).await.unwrap_err();
    assert_eq!(error_of(&err), (-32000, "filter not found".to_string()));

    // Ids are random 16-byte hex quantities.
    let raw = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_newBlockFilter","params":[]}),
    )
    .await;
    let id = raw["result"].as_str().expect("a string id");
    let digits = id.strip_prefix("0x").expect("hex");
    assert!(
        digits.len() <= 32 && u128::from_str_radix(digits, 16).is_ok(),
        "{id}"
    );
}
