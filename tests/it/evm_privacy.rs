//! The one EVM deviation of confidential chains: `BALANCE` and `EXTCODEHASH` of an
//! account without code (or with only an EIP-7702 delegation), other than the
//! transaction's origin, answer as for an empty account. The attacks of issue 12, each
//! asserting that the figure is absent, and the open policy reading the real figures.

use alloy::consensus::{SignableTransaction, TxEip7702, TxEnvelope};
use alloy::eips::Encodable2718;
use alloy::eips::eip7702::Authorization;
use alloy::network::{EthereumWallet, TransactionBuilder, TxSignerSync};
use alloy::primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use coco::rpc::auth::Role;
use serde_json::{Value, json};

use crate::common::*;
use crate::confidential::add_key;

const BALANCE: u8 = 0x31;
const EXTCODEHASH: u8 = 0x3f;

/// The attack as written: init code `PUSH20 <target> <op> PUSH1 0 MSTORE PUSH1 32
/// PUSH1 0 RETURN`, sent as an `eth_call` without `to`.
fn probe(op: u8, target: Address) -> Bytes {
    let mut code = vec![0x73];
    code.extend_from_slice(target.as_slice());
    code.extend_from_slice(&[op, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
    code.into()
}

/// A contract whose code logs `BALANCE(<address in calldata>)` (LOG0, one word) and
/// accepts value: runtime `PUSH1 0 CALLDATALOAD BALANCE PUSH1 0 MSTORE PUSH1 32 PUSH1 0
/// LOG0 STOP` behind init code that returns it.
fn logger_init() -> Bytes {
    let runtime = [
        0x60, 0x00, 0x35, BALANCE, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xa0, 0x00,
    ];
    let mut code = vec![
        0x60,
        runtime.len() as u8,
        0x80,
        0x60,
        0x0b,
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
    ];
    code.extend_from_slice(&runtime);
    code.into()
}

/// A confidential dev node, with user keys for A (account 0), C (account 2) and D
/// (account 3).
struct Confidential {
    node: TestNode,
    a: Address,
    c: Address,
    d: Address,
    key_a: String,
    key_c: String,
    key_d: String,
}

async fn confidential() -> Confidential {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config).await;
    let account = |i: usize| DEV_ADDRESSES[i].parse::<Address>().unwrap();
    let (a, c, d) = (account(0), account(2), account(3));
    Confidential {
        key_a: add_key(&node, Role::User, vec![a]),
        key_c: add_key(&node, Role::User, vec![c]),
        key_d: add_key(&node, Role::User, vec![d]),
        node,
        a,
        c,
        d,
    }
}

/// A provider that signs with dev account `index` and presents `key`.
fn signer(node: &TestNode, key: &str, index: usize) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(
            DEV_KEYS[index].parse::<PrivateKeySigner>().unwrap(),
        ))
        .connect_http(format!("{}/{}", node.url, key).parse().unwrap())
        .erased()
}

/// The word an `eth_call` of `data` from `from` (with `key`) returns at `block`.
async fn call_word(
    node: &TestNode,
    key: Option<&str>,
    from: Address,
    data: Bytes,
    block: Value,
) -> U256 {
    let res = call_as(
        node,
        key,
        "eth_call",
        json!([{"from": from, "data": data}, block]),
    )
    .await;
    let word: B256 = serde_json::from_value(res["result"].clone())
        .unwrap_or_else(|_| panic!("eth_call answers a word: {res}"));
    word.into()
}

/// `key`'s view of `address`'s balance through `eth_getBalance` at `block`.
async fn balance_of(node: &TestNode, key: &str, address: Address, block: Value) -> U256 {
    let res = call_as(node, Some(key), "eth_getBalance", json!([address, block])).await;
    serde_json::from_value(res["result"].clone()).unwrap_or_else(|_| panic!("{res}"))
}

async fn send(provider: &DynProvider, request: TransactionRequest) -> TransactionReceipt {
    let receipt = provider
        .send_transaction(request)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "{receipt:?}");
    receipt
}

/// The one word logged by the only log of `receipt`.
fn logged_word(receipt: &TransactionReceipt) -> U256 {
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1, "{receipt:?}");
    U256::from_be_slice(&logs[0].data().data)
}

#[tokio::test]
async fn evm_code_reads_zero_for_other_accounts_balances_at_every_block() {
    let f = confidential().await;
    let node = &f.node;
    let b: Address = DEV_ADDRESSES[1].parse().unwrap();
    // A pays B: the block holding it is the history C wants to read.
    let paid = send(
        &signer(node, &f.key_a, 0),
        TransactionRequest::default()
            .with_to(b)
            .with_value(U256::from(987_654_321u64)),
    )
    .await;
    let number = paid.block_number.unwrap();
    let at = json!(format!("{number:#x}"));
    let before = json!(format!("{:#x}", number - 1));
    let key_c = Some(f.key_c.as_str());
    for block in [json!("latest"), at.clone(), before.clone()] {
        for target in [f.a, b] {
            assert_eq!(
                call_word(node, key_c, f.c, probe(BALANCE, target), block.clone()).await,
                U256::ZERO,
                "C reads BALANCE({target}) at {block}"
            );
            assert_eq!(
                call_word(node, key_c, f.c, probe(EXTCODEHASH, target), block.clone()).await,
                U256::ZERO,
                "C reads EXTCODEHASH({target}) at {block}"
            );
        }
    }
    // An account that never existed answers the same.
    let nobody = Address::repeat_byte(0x5a);
    assert_eq!(
        call_word(
            node,
            key_c,
            f.c,
            probe(EXTCODEHASH, nobody),
            json!("latest")
        )
        .await,
        U256::ZERO
    );
    // Gas does not tell them apart either: both are cold reads of the same price.
    let gas = |target: Address| {
        let params = json!([{"from": f.c, "data": probe(BALANCE, target)}]);
        async move {
            call_as(node, key_c, "eth_estimateGas", params).await["result"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(gas(f.a).await, gas(nobody).await);

    // A reads its own balance, now and in the past, as eth_getBalance answers A.
    let key_a = Some(f.key_a.as_str());
    for block in [json!("latest"), at, before] {
        let own = call_word(node, key_a, f.a, probe(BALANCE, f.a), block.clone()).await;
        assert_eq!(own, balance_of(node, &f.key_a, f.a, block.clone()).await);
        assert!(own > U256::ZERO);
        assert_eq!(
            call_word(node, key_a, f.a, probe(EXTCODEHASH, f.a), block).await,
            U256::from_be_bytes(KECCAK256_EMPTY.0)
        );
    }
}

#[tokio::test]
async fn transactions_log_zero_for_other_accounts_and_real_figures_for_contracts() {
    let f = confidential().await;
    let node = &f.node;
    let c = signer(node, &f.key_c, 2);
    let deploy = |c: DynProvider| async move {
        send(
            &c,
            TransactionRequest::default().with_deploy_code(logger_init()),
        )
        .await
        .contract_address
        .unwrap()
    };
    let logger = deploy(c.clone()).await;
    let funded = deploy(c.clone()).await;
    // A contract's balance: C sends value to one, the other logs it.
    send(
        &c,
        TransactionRequest::default()
            .with_to(funded)
            .with_input(B256::left_padding_from(logger.as_slice()))
            .with_value(U256::from(4_321u64)),
    )
    .await;
    let read = |target: Address| {
        let c = c.clone();
        async move {
            let receipt = send(
                &c,
                TransactionRequest::default()
                    .with_to(logger)
                    .with_input(B256::left_padding_from(target.as_slice())),
            )
            .await;
            logged_word(&receipt)
        }
    };
    assert_eq!(read(f.a).await, U256::ZERO, "A's balance is not in C's log");
    assert_eq!(
        read(funded).await,
        U256::from(4_321u64),
        "contracts stay readable"
    );
    assert!(
        read(f.c).await > U256::ZERO,
        "the origin reads its own balance"
    );
    assert_eq!(
        call_word(
            node,
            Some(&f.key_c),
            f.c,
            probe(BALANCE, funded),
            json!("latest")
        )
        .await,
        U256::from(4_321u64)
    );
    assert_eq!(
        call_word(
            node,
            Some(&f.key_c),
            f.c,
            probe(EXTCODEHASH, funded),
            json!("latest")
        )
        .await,
        U256::from_be_bytes(keccak256(rpc_code(node, &f.key_c, funded).await).0)
    );

    // D delegates to the logger (EIP-7702): D has code now, and still counts as code-less.
    let authority: PrivateKeySigner = DEV_KEYS[3].parse().unwrap();
    let auth = Authorization {
        chain_id: U256::from(31337),
        address: logger,
        nonce: 0,
    };
    let sig = authority.sign_hash_sync(&auth.signature_hash()).unwrap();
    let signed_auth = auth.into_signed(sig);
    let sponsor: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let a_nonce: U256 = serde_json::from_value(
        call_as(
            node,
            Some(&f.key_a),
            "eth_getTransactionCount",
            json!([f.a, "latest"]),
        )
        .await["result"]
            .clone(),
    )
    .unwrap();
    let mut tx = TxEip7702 {
        chain_id: 31337,
        nonce: a_nonce.to(),
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: f.d,
        authorization_list: vec![signed_auth],
        input: B256::left_padding_from(f.d.as_slice()).into(),
        ..Default::default()
    };
    let sig = sponsor.sign_transaction_sync(&mut tx).unwrap();
    let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let receipt = signer(node, &f.key_a, 0)
        .send_raw_transaction(&raw)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let code = rpc_code(node, &f.key_c, f.d).await;
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00], "D is delegated");
    let d_balance = balance_of(node, &f.key_d, f.d, json!("latest")).await;
    assert!(d_balance > U256::ZERO);
    // D's own code (its delegate's) runs in D's context and reads D, as SELFBALANCE
    // would: the account itself chose that code. A, the origin, is not D.
    assert_eq!(logged_word(&receipt), d_balance);
    let key_c = Some(f.key_c.as_str());
    for op in [BALANCE, EXTCODEHASH] {
        assert_eq!(
            call_word(node, key_c, f.c, probe(op, f.d), json!("latest")).await,
            U256::ZERO,
            "C reads op {op:#x} of the delegated D"
        );
    }
    assert_eq!(
        read(f.d).await,
        U256::ZERO,
        "the logger reads D as code-less"
    );
    let key_d = Some(f.key_d.as_str());
    assert_eq!(
        call_word(node, key_d, f.d, probe(BALANCE, f.d), json!("latest")).await,
        d_balance,
        "D reads its own balance"
    );
}

/// `eth_getCode` (public) of `address`.
async fn rpc_code(node: &TestNode, key: &str, address: Address) -> Bytes {
    let res = call_as(node, Some(key), "eth_getCode", json!([address, "latest"])).await;
    serde_json::from_value(res["result"].clone()).unwrap_or_else(|_| panic!("{res}"))
}

#[tokio::test]
async fn open_policy_evm_reads_every_balance() {
    let node = TestNode::spawn().await;
    assert!(!node.node().chain.spec().evm().private_balances());
    let a: Address = DEV_ADDRESSES[0].parse().unwrap();
    let c: Address = DEV_ADDRESSES[2].parse().unwrap();
    let balance: U256 =
        serde_json::from_value(rpc_ok(&node, "eth_getBalance", json!([a, "latest"])).await)
            .unwrap();
    assert!(balance > U256::ZERO);
    assert_eq!(
        call_word(&node, None, c, probe(BALANCE, a), json!("latest")).await,
        balance
    );
    assert_eq!(
        call_word(&node, None, c, probe(EXTCODEHASH, a), json!("latest")).await,
        U256::from_be_bytes(KECCAK256_EMPTY.0)
    );
}

#[tokio::test]
async fn the_rule_is_fixed_in_the_genesis() {
    // A confidential dev chain writes the rule into its genesis.
    let f = confidential().await;
    let spec = f.node.node().chain.spec();
    assert!(spec.evm().private_balances());
    assert_eq!(
        spec.genesis.config.extra_fields.get("coco"),
        Some(&json!({"privateBalances": true, "governance": true}))
    );
    drop(f);

    // A chain created open keeps its EVM: the confidential policy refuses to serve it.
    let open = TestNode::spawn().await;
    let data_dir = open.data_dir.clone();
    let _dir = open.stop().await;
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    config.data_dir = Some(data_dir);
    let err = coco::node::Node::spawn(config)
        .await
        .expect_err("a confidential node over an open chain is refused")
        .to_string();
    assert!(err.contains("created without --confidential"), "{err}");
}
