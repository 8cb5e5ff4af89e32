//! Transaction validation: every rejection with geth's message, nonce gaps held until
//! filled, replacement rules.

use alloy::consensus::{
    SidecarBuilder, SignableTransaction, Signed, SimpleCoder, TxEip1559, TxEip4844,
    TxEip4844Variant, TxEip4844WithSidecar, TxEnvelope, TxLegacy,
};
use alloy::eips::Encodable2718;
use alloy::eips::eip7594::BlobTransactionSidecarVariant;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};

use crate::common::*;

const GWEI: u128 = 1_000_000_000;

fn signer(i: usize) -> PrivateKeySigner {
    DEV_KEYS[i].parse().unwrap()
}

fn eip1559(nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(Address::repeat_byte(0x55)),
        value: U256::from(1),
        ..Default::default()
    }
}

fn sign(signer: &PrivateKeySigner, mut tx: TxEip1559) -> String {
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let envelope = TxEnvelope::from(tx.into_signed(sig));
    format!("0x{}", alloy::hex::encode(envelope.encoded_2718()))
}

async fn send(node: &TestNode, raw: &str) -> Value {
    raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[raw]}),
    )
    .await
}

async fn rejected(node: &TestNode, raw: &str) -> String {
    let res = send(node, raw).await;
    assert_eq!(res["error"]["code"], -32000, "expected a rejection: {res}");
    res["error"]["message"].as_str().unwrap().to_string()
}

async fn wait_receipt(node: &TestNode, hash: &str) -> Value {
    for _ in 0..200 {
        let res = raw_rpc(
            &node.url,
            json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[hash]}),
        )
        .await;
        if !res["result"].is_null() {
            return res["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no receipt for {hash}");
}

#[tokio::test]
async fn rejections_use_geth_messages_and_change_nothing() {
    let node = TestNode::spawn().await;
    let s = signer(0);
    let head_before = node.reader().get_block_number().await.unwrap();

    let mut tx = eip1559(0);
    tx.chain_id = 1;
    assert_eq!(
        rejected(&node, &sign(&s, tx)).await,
        "invalid chain id for signer: have 1 want 31337"
    );

    let mut tx = eip1559(0);
    tx.gas_limit = 20_000;
    assert!(
        rejected(&node, &sign(&s, tx))
            .await
            .starts_with("intrinsic gas too low")
    );

    let mut tx = eip1559(0);
    tx.gas_limit = 40_000_000;
    assert_eq!(
        rejected(&node, &sign(&s, tx)).await,
        "exceeds block gas limit"
    );

    let mut tx = eip1559(0);
    tx.max_fee_per_gas = 1;
    tx.max_priority_fee_per_gas = 1;
    assert!(
        rejected(&node, &sign(&s, tx))
            .await
            .starts_with("max fee per gas less than block base fee")
    );

    let mut tx = eip1559(0);
    tx.max_priority_fee_per_gas = 20 * GWEI;
    assert_eq!(
        rejected(&node, &sign(&s, tx)).await,
        "max priority fee per gas higher than max fee per gas"
    );

    let mut tx = eip1559(0);
    tx.value = U256::from(10u64).pow(U256::from(30));
    let msg = rejected(&node, &sign(&s, tx)).await;
    assert!(
        msg.starts_with("insufficient funds for gas * price + value"),
        "{msg}"
    );

    // Bad bytes and a bad signature.
    let msg = rejected(&node, "0x02deadbeef").await;
    assert!(msg.starts_with("rlp:"), "{msg}");
    let mut bytes = alloy::hex::decode(sign(&s, eip1559(0))).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 0xff; // inside s
    bytes[n - 40] ^= 0xff; // inside r
    let res = send(&node, &format!("0x{}", alloy::hex::encode(&bytes))).await;
    assert!(
        res["error"].is_object(),
        "a corrupted signature is refused: {res}"
    );

    // Nothing was mined by any of the above.
    assert_eq!(node.reader().get_block_number().await.unwrap(), head_before);
    assert_eq!(
        node.reader()
            .get_transaction_count(s.address())
            .await
            .unwrap(),
        0
    );
}

/// A blob transaction of `sender` at `nonce` in its network form: with `sidecar`, and
/// versioned hashes `hashes`.
fn blob_tx(
    s: &PrivateKeySigner,
    nonce: u64,
    hashes: Vec<B256>,
    sidecar: Option<BlobTransactionSidecarVariant>,
) -> (String, B256) {
    let mut tx = TxEip4844 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(1),
        max_fee_per_blob_gas: 10 * GWEI,
        blob_versioned_hashes: hashes,
        ..Default::default()
    };
    let signature = s.sign_transaction_sync(&mut tx).unwrap();
    let variant = match sidecar {
        Some(sidecar) => {
            TxEip4844Variant::TxEip4844WithSidecar(TxEip4844WithSidecar { tx, sidecar })
        }
        None => TxEip4844Variant::TxEip4844(tx),
    };
    let envelope = TxEnvelope::Eip4844(Signed::new_unhashed(variant, signature));
    (
        format!("0x{}", alloy::hex::encode(envelope.encoded_2718())),
        *envelope.tx_hash(),
    )
}

#[tokio::test]
async fn blob_transactions_need_valid_cell_proofs_and_are_mined_without_blobs() {
    let node = TestNode::spawn().await;
    let s = signer(0);
    let builder = SidecarBuilder::<SimpleCoder>::from_slice(b"blobs on coco");
    let cells = builder.clone().build_7594().unwrap();
    let hashes: Vec<B256> = cells.versioned_hashes().collect();

    // The canonical form (no blobs) is refused, as are blob proofs after Osaka and
    // blobs that do not match the hashes; nothing is pooled.
    let (bare, _) = blob_tx(&s, 0, hashes.clone(), None);
    assert_eq!(
        rejected(&node, &bare).await,
        "missing sidecar in blob transaction"
    );
    let v0 = BlobTransactionSidecarVariant::Eip4844(builder.build().unwrap());
    let (old_kind, _) = blob_tx(&s, 0, hashes.clone(), Some(v0));
    assert!(rejected(&node, &old_kind).await.contains("version 0"));
    let wrong = vec![B256::with_last_byte(1)];
    let (mismatch, _) = blob_tx(
        &s,
        0,
        wrong,
        Some(BlobTransactionSidecarVariant::Eip7594(cells.clone())),
    );
    assert!(
        rejected(&node, &mismatch)
            .await
            .starts_with("invalid blob sidecar"),
    );
    let (none, _) = blob_tx(
        &s,
        0,
        vec![],
        Some(BlobTransactionSidecarVariant::Eip7594(cells.clone())),
    );
    assert_eq!(rejected(&node, &none).await, "blobless blob transaction");

    // A valid one is pooled under its canonical hash and mined with its blob gas.
    let (raw, hash) = blob_tx(
        &s,
        0,
        hashes.clone(),
        Some(BlobTransactionSidecarVariant::Eip7594(cells)),
    );
    assert_eq!(send(&node, &raw).await["result"], json!(hash));
    let receipt = node
        .reader()
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .expect("mined at once");
    assert!(receipt.status());
    assert_eq!(receipt.blob_gas_used, Some(131_072));
    let block = node
        .reader()
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.header.blob_gas_used, Some(131_072));
    // The block keeps the transaction without its blobs: raw it is the canonical form.
    let raw_mined: Bytes = node
        .reader()
        .raw_request("debug_getRawTransaction".into(), (hash,))
        .await
        .unwrap();
    let (canonical, _) = blob_tx(&s, 0, hashes, None);
    assert_eq!(format!("{raw_mined}"), canonical);
}

#[tokio::test]
async fn nonce_gaps_wait_and_replacement_rules() {
    let node = TestNode::spawn().await;
    let s = signer(1);
    // Nonce 1 first: held, not mined.
    let gap = sign(&s, eip1559(1));
    let gap_hash = send(&node, &gap).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rejected(&node, &gap).await, "already known");
    let mut same_price = eip1559(1);
    same_price.value = U256::from(2);
    assert_eq!(
        rejected(&node, &sign(&s, same_price)).await,
        "replacement transaction underpriced"
    );
    let pending = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByHash","params":[gap_hash]}),
    )
    .await;
    assert!(
        pending["result"]["blockNumber"].is_null(),
        "held transaction is pending: {pending}"
    );

    // A 10 % bump replaces it.
    let mut bumped = eip1559(1);
    bumped.max_fee_per_gas = 11 * GWEI;
    bumped.max_priority_fee_per_gas = 11 * GWEI / 10;
    bumped.value = U256::from(3);
    let bumped_hash = send(&node, &sign(&s, bumped)).await["result"]
        .as_str()
        .unwrap()
        .to_string();

    // Filling the gap mines both, in nonce order.
    let first = send(&node, &sign(&s, eip1559(0))).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let r0 = wait_receipt(&node, &first).await;
    let r1 = wait_receipt(&node, &bumped_hash).await;
    assert_eq!(r0["status"], "0x1");
    assert_eq!(r1["status"], "0x1");
    let replaced = raw_rpc(
        &node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[gap_hash]}),
    )
    .await;
    assert!(
        replaced["result"].is_null(),
        "the replaced transaction is gone"
    );

    // Now nonce 0 is too low.
    assert_eq!(
        rejected(&node, &sign(&s, eip1559(0))).await,
        "nonce too low: next nonce 2, tx nonce 0"
    );
    assert_eq!(
        node.reader()
            .get_balance(Address::repeat_byte(0x55))
            .await
            .unwrap(),
        U256::from(4)
    );
}

#[tokio::test]
async fn legacy_and_access_list_transactions_execute() {
    let node = TestNode::spawn().await;
    let s = signer(2);
    let mut legacy = TxLegacy {
        chain_id: Some(31337),
        nonce: 0,
        gas_price: 10 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x66)),
        value: U256::from(5),
        input: Bytes::new(),
    };
    let sig = s.sign_transaction_sync(&mut legacy).unwrap();
    let raw = format!(
        "0x{}",
        alloy::hex::encode(TxEnvelope::from(legacy.into_signed(sig)).encoded_2718())
    );
    let hash = send(&node, &raw).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let receipt = wait_receipt(&node, &hash).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["type"], "0x0");

    let mut al = alloy::consensus::TxEip2930 {
        chain_id: 31337,
        nonce: 1,
        gas_price: 10 * GWEI,
        gas_limit: 30_000,
        to: TxKind::Call(Address::repeat_byte(0x66)),
        value: U256::from(5),
        ..Default::default()
    };
    let sig = s.sign_transaction_sync(&mut al).unwrap();
    let raw = format!(
        "0x{}",
        alloy::hex::encode(TxEnvelope::from(al.into_signed(sig)).encoded_2718())
    );
    let hash = send(&node, &raw).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let receipt = wait_receipt(&node, &hash).await;
    assert_eq!(receipt["type"], "0x1");
    assert_eq!(
        node.reader()
            .get_balance(Address::repeat_byte(0x66))
            .await
            .unwrap(),
        U256::from(10)
    );
}

#[tokio::test]
async fn a_transaction_that_cannot_run_yet_waits_in_the_pool() {
    let node = TestNode::spawn().await;
    let poor = PrivateKeySigner::random();
    let cost = U256::from(21_000u64 * 10 * GWEI as u64 + 1);
    let rpc = |method: &'static str, params: Value| {
        let url = node.url.clone();
        async move {
            raw_rpc(
                &url,
                json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}),
            )
            .await
        }
    };
    rpc(
        "anvil_setBalance",
        json!([poor.address(), format!("{cost:#x}")]),
    )
    .await;
    rpc("evm_setAutomine", json!([false])).await;
    // Both pass validation (each alone is affordable); only the first can run.
    let mut first = eip1559(0);
    first.chain_id = 31337;
    let h0 = send(&node, &sign(&poor, first)).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let h1 = send(&node, &sign(&poor, eip1559(1))).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    rpc("evm_mine", json!([])).await;
    assert_eq!(wait_receipt(&node, &h0).await["status"], "0x1");
    let pending = rpc("eth_getTransactionByHash", json!([h1])).await;
    assert!(
        pending["result"].is_object() && pending["result"]["blockNumber"].is_null(),
        "kept, not dropped: {pending}"
    );
    // Funded, it runs in the next block.
    rpc(
        "anvil_setBalance",
        json!([
            poor.address(),
            format!("{:#x}", U256::from(10u64).pow(U256::from(18)))
        ]),
    )
    .await;
    rpc("evm_mine", json!([])).await;
    assert_eq!(wait_receipt(&node, &h1).await["status"], "0x1");
}
