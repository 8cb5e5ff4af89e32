//! The node enforcing governance (issue 13): a chain's governance placed by its genesis
//! and read by the contract's own views, admission of senders at the pool and at block
//! building, API keys and SIWE logins from governance, public logs (and the public
//! bloom), private code, code replacement by vote, and the same tables after a restart
//! and after re-executing the blocks.

use alloy::consensus::TxEnvelope;
use alloy::eips::Encodable2718;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use coco::governance::GOVERNANCE;
use coco::governance::abi::IGovernance;
use coco::rpc::auth::{generate_key, key_hash};
use serde_json::{Value, json};

use crate::common::contracts::Token;
use crate::common::*;

const ADD_USER: u8 = 3;
const REMOVE_USER: u8 = 4;
const ADD_API_KEY: u8 = 5;
const SET_LOGS_PUBLIC: u8 = 9;
const SET_CODE_PRIVATE: u8 = 10;
const REPLACE_CODE: u8 = 16;

/// AddUser's args: `(address user, uint8 role)`.
fn user_args(user: Address, role: u8) -> Vec<u8> {
    use alloy::sol_types::{SolType, sol_data};
    <(sol_data::Address, sol_data::Uint<8>)>::abi_encode_params(&(user, role))
}

fn action(kind: u8, args: Vec<u8>) -> IGovernance::Action {
    IGovernance::Action {
        kind,
        args: args.into(),
    }
}

/// A provider signing as dev account `index`, reading with `key` (none: open policy).
fn wallet(node: &TestNode, index: usize, key: Option<&str>) -> DynProvider {
    let signer: PrivateKeySigner = DEV_KEYS[index].parse().unwrap();
    let url = match key {
        Some(key) => format!("{}/{key}", node.url),
        None => node.url.clone(),
    };
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().unwrap())
        .erased()
}

async fn send<C: SolCall>(p: &DynProvider, call: C) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(GOVERNANCE)
        .with_input(call.abi_encode());
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "{receipt:?}");
    receipt
}

async fn view<C: SolCall>(p: &DynProvider, call: C) -> C::Return {
    let tx = TransactionRequest::default()
        .with_to(GOVERNANCE)
        .with_input(call.abi_encode());
    C::abi_decode_returns(&p.call(tx).await.unwrap()).unwrap()
}

/// Proposes `actions` as the member `p` signs for and votes yes: accepted at once in a
/// consortium of one. Returns the proposal id.
async fn decide(p: &DynProvider, actions: Vec<IGovernance::Action>) -> U256 {
    send(p, IGovernance::proposeCall { actions }).await;
    let id = view(p, IGovernance::proposalCountCall {}).await;
    send(p, IGovernance::voteCall { id, support: true }).await;
    let info = view(p, IGovernance::proposalCall { id }).await;
    assert_eq!(info.state, IGovernance::ProposalState::Accepted, "{info:?}");
    id
}

/// `from` signs a transfer of 1 wei to itself with `nonce` and sends it raw.
async fn raw_transfer(node: &TestNode, from: &PrivateKeySigner, nonce: u64) -> Value {
    let raw = signed_transfer(from, nonce, 31337).await;
    call_as(node, None, "eth_sendRawTransaction", json!([raw])).await
}

fn error_message(res: &Value) -> String {
    res["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {res}"))
        .to_string()
}

#[tokio::test]
async fn a_dev_chain_is_a_consortium_of_one_read_by_the_contracts_views() {
    let node = TestNode::spawn().await;
    let p = node.provider(0);
    let account0: Address = DEV_ADDRESSES[0].parse().unwrap();
    let members = view(&p, IGovernance::membersCall {}).await;
    assert_eq!(members, vec![account0]);
    let users = view(&p, IGovernance::usersCall {}).await;
    assert_eq!(users.len(), 10);
    let role = view(
        &p,
        IGovernance::roleOfCall {
            account: DEV_ADDRESSES[9].parse().unwrap(),
        },
    )
    .await;
    assert_eq!(role, IGovernance::Role::User);
    let key = view(
        &p,
        IGovernance::memberEncryptionKeyCall { member: account0 },
    )
    .await;
    assert_eq!(key.len(), 65, "an uncompressed secp256k1 public key");
    // Open: governed but not enforced; anyone transacts.
    let stranger = PrivateKeySigner::random();
    node.provider(0)
        .send_transaction(
            TransactionRequest::default()
                .with_to(stranger.address())
                .with_value(U256::from(10u64).pow(U256::from(17u64))),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let res = raw_transfer(&node, &stranger, 0).await;
    assert!(res["result"].is_string(), "{res}");

    // A decision changes the node's tables in the block that accepted it.
    let x = Address::repeat_byte(0x42);
    decide(&p, vec![action(ADD_USER, user_args(x, 1))]).await;
    let tables = node.node().chain.governance();
    assert_eq!(tables.user_role(&x), Some(coco::governance::UserRole::User));
}

#[tokio::test]
async fn a_consortium_admits_reads_and_publishes_by_governance() {
    let mut config = coco::node::NodeConfig::test();
    config.confidential = true;
    let node = TestNode::spawn_with(config.clone()).await;
    let dev = node.node().dev_key.clone().unwrap();
    let member = wallet(&node, 0, Some(&dev));

    // A stranger, funded by a member, is refused at admission and at login.
    let x = PrivateKeySigner::random();
    member
        .send_transaction(
            TransactionRequest::default()
                .with_to(x.address())
                .with_value(U256::from(10u64).pow(U256::from(18u64))),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let res = raw_transfer(&node, &x, 0).await;
    assert_eq!(
        error_message(&res),
        "sender not permitted: not a registered user of this network",
        "{res}"
    );
    let login = siwe_login(&node, &x).await;
    assert!(
        error_message(&login).contains("not a registered user of this network"),
        "{login}"
    );

    // Registered with an API key, in one proposal.
    let key = generate_key();
    decide(
        &member,
        vec![
            action(ADD_USER, user_args(x.address(), 1)),
            action(
                ADD_API_KEY,
                (x.address(), key_hash(&key)).abi_encode_params(),
            ),
        ],
    )
    .await;
    let res = raw_transfer(&node, &x, 0).await;
    assert!(res["result"].is_string(), "{res}");
    let res = call_as(
        &node,
        Some(&key),
        "eth_getBalance",
        json!([x.address(), "latest"]),
    )
    .await;
    assert!(
        res["result"].is_string(),
        "the governed key reads its user's balance: {res}"
    );
    let res = call_as(
        &node,
        Some(&key),
        "eth_getBalance",
        json!([DEV_ADDRESSES[1], "latest"]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32030, "and only its user's: {res}");
    let login = siwe_login(&node, &x).await;
    let session = login["result"]["key"]
        .as_str()
        .expect("a session")
        .to_string();

    // A transaction waiting in the pool (a nonce gap), then the user is removed.
    let res = raw_transfer(&node, &x, 5).await;
    let queued: B256 = serde_json::from_value(res["result"].clone()).unwrap();
    assert!(node.node().chain.pool_tx(&queued).is_some());
    decide(
        &member,
        vec![action(REMOVE_USER, (x.address(),).abi_encode_params())],
    )
    .await;
    assert!(
        node.node().chain.pool_tx(&queued).is_none(),
        "its pooled transaction is dropped with it"
    );
    for k in [&key, &session] {
        let res = call_as(
            &node,
            Some(k),
            "eth_getBalance",
            json!([x.address(), "latest"]),
        )
        .await;
        assert_eq!(
            res["error"]["code"], -32030,
            "its key and session end: {res}"
        );
    }
    let res = raw_transfer(&node, &x, 1).await;
    assert!(
        error_message(&res).starts_with("sender not permitted"),
        "{res}"
    );
    // Attack: replaying the removed user's mined transaction (the same signed bytes)
    // tells an outsider nothing of its registration: bare "nonce too low", as for the
    // replay of a registered member's mined transaction.
    let replay = raw_transfer(&node, &x, 0).await;
    let account0: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let registered_replay = raw_transfer(&node, &account0, 0).await;
    assert_eq!(error_message(&replay), "nonce too low", "{replay}");
    assert_eq!(error_message(&replay), error_message(&registered_replay));

    // Logs: a third party sees a token's transfers only once governance makes them public.
    let alice = wallet(&node, 1, Some(&dev));
    let token = Token::deploy(&alice, "T".into(), "T".into(), U256::from(1000))
        .await
        .unwrap();
    let bob: Address = DEV_ADDRESSES[2].parse().unwrap();
    let receipt = token
        .transfer(bob, U256::from(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let carol_key = add_user_key(&node, &member, DEV_ADDRESSES[3].parse().unwrap()).await;
    let logs = |key: String| {
        let node = &node;
        let token = *token.address();
        async move {
            call_as(
                node,
                Some(&key),
                "eth_getLogs",
                json!([{"address": token, "fromBlock": "0x0"}]),
            )
            .await["result"]
                .as_array()
                .map(Vec::len)
        }
    };
    assert_eq!(logs(carol_key.clone()).await, Some(0));
    let block = |n: u64| {
        let node = &node;
        async move {
            call_as(
                node,
                None,
                "eth_getBlockByNumber",
                json!([format!("{n:#x}"), false]),
            )
            .await["result"]
                .clone()
        }
    };
    let mined = receipt.block_number.unwrap();
    assert_eq!(
        block(mined).await["logsBloom"],
        json!(format!("0x{}", "0".repeat(512))),
        "nothing public yet"
    );
    decide(
        &member,
        vec![action(
            SET_LOGS_PUBLIC,
            (*token.address(), true).abi_encode_params(),
        )],
    )
    .await;
    assert_eq!(
        logs(carol_key.clone()).await,
        Some(2),
        "public now: the mint and the transfer"
    );
    let receipt = token
        .transfer(bob, U256::from(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let bloom = block(receipt.block_number.unwrap()).await["logsBloom"].clone();
    assert_ne!(
        bloom,
        json!(format!("0x{}", "0".repeat(512))),
        "a public log is in the header's bloom"
    );

    // Code: private to everyone but auditors once governance says so.
    let code = |key: String| {
        let node = &node;
        let token = *token.address();
        async move {
            call_as(node, Some(&key), "eth_getCode", json!([token, "latest"])).await["result"]
                .clone()
        }
    };
    assert_ne!(code(carol_key.clone()).await, json!("0x"));
    // EVM code copying it (an eth_call running init code that EXTCODECOPYs 64 bytes).
    let mut copier = vec![0x60, 0x40, 0x60, 0x00, 0x60, 0x00, 0x73];
    copier.extend_from_slice(token.address().as_slice());
    copier.extend_from_slice(&[0x3c, 0x60, 0x40, 0x60, 0x00, 0xf3]);
    let copied = |key: String| {
        let node = &node;
        let copier = Bytes::from(copier.clone());
        async move {
            let res = call_as(
                node,
                Some(&key),
                "eth_call",
                json!([{"from": DEV_ADDRESSES[3], "data": copier}, "latest"]),
            )
            .await;
            res["result"]
                .as_str()
                .unwrap_or_else(|| panic!("{res}"))
                .to_string()
        }
    };
    let zeros = format!("0x{}", "0".repeat(128));
    assert_ne!(copied(carol_key.clone()).await, zeros, "readable before");
    decide(
        &member,
        vec![action(
            SET_CODE_PRIVATE,
            (*token.address(), true).abi_encode_params(),
        )],
    )
    .await;
    assert_eq!(code(carol_key.clone()).await, json!("0x"));
    assert_eq!(
        code(dev.clone()).await,
        json!("0x"),
        "the operator is no auditor"
    );
    assert_eq!(
        copied(carol_key.clone()).await,
        zeros,
        "EXTCODECOPY copies zeros"
    );

    // Governance's own records: a user's eth_call is refused by the contract (its
    // origin is the user's own address), a member's answered.
    let users = IGovernance::usersCall {}.abi_encode();
    let call = |key: String, from: &'static str| {
        let node = &node;
        let users = Bytes::from(users.clone());
        async move {
            call_as(
                node,
                Some(&key),
                "eth_call",
                json!([{"from": from, "to": GOVERNANCE, "data": users}, "latest"]),
            )
            .await
        }
    };
    let res = call(carol_key.clone(), DEV_ADDRESSES[3]).await;
    assert_eq!(res["error"]["code"], 3, "{res}");
    let not_a_reader = IGovernance::NotAReader {
        origin: DEV_ADDRESSES[3].parse().unwrap(),
    };
    assert_eq!(
        res["error"]["data"],
        json!(Bytes::from(alloy::sol_types::SolError::abi_encode(
            &not_a_reader
        ))),
        "{res}"
    );
    let res = call(dev.clone(), DEV_ADDRESSES[0]).await;
    assert!(res["result"].is_string(), "a member reads the users: {res}");

    // Governance's storage: its members' too, not its users'.
    let account0: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let member_session = siwe_login(&node, &account0).await["result"]["key"]
        .as_str()
        .expect("a member's session")
        .to_string();
    let members_slot = json!([GOVERNANCE, "0x7", "latest"]);
    let res = call_as(
        &node,
        Some(&member_session),
        "eth_getStorageAt",
        members_slot.clone(),
    )
    .await;
    assert_eq!(
        res["result"],
        json!(format!("0x{:064x}", 1)),
        "one member: {res}"
    );
    let res = call_as(&node, Some(&carol_key), "eth_getStorageAt", members_slot).await;
    assert_eq!(res["error"]["code"], -32030, "{res}");
    let res = call_as(
        &node,
        Some(&member_session),
        "eth_getStorageAt",
        json!([token.address(), "0x0", "latest"]),
    )
    .await;
    assert_eq!(
        res["error"]["code"], -32030,
        "other contracts' storage stays auditors': {res}"
    );

    // A demoted auditor keeps nothing it opened as an auditor.
    let account6: PrivateKeySigner = DEV_KEYS[6].parse().unwrap();
    let to_role = |role: u8| {
        vec![
            action(REMOVE_USER, (account6.address(),).abi_encode_params()),
            action(ADD_USER, user_args(account6.address(), role)),
        ]
    };
    decide(&member, to_role(2)).await;
    // Attack: an auditor's signed transaction, submitted by anyone, is refused with the
    // stranger's text: the refusal tells nothing of the sender's role.
    let nonce6 = node.node().chain.state_nonce(account6.address()).unwrap();
    let auditor_tx = raw_transfer(&node, &account6, nonce6).await;
    let stranger_tx = raw_transfer(&node, &PrivateKeySigner::random(), 0).await;
    assert_eq!(
        error_message(&auditor_tx),
        "sender not permitted: not a registered user of this network"
    );
    assert_eq!(error_message(&auditor_tx), error_message(&stranger_tx));
    let auditor = siwe_login(&node, &account6).await["result"]["key"]
        .as_str()
        .expect("an auditor's session")
        .to_string();
    let filter =
        call_as(&node, Some(&auditor), "eth_newFilter", json!([{}])).await["result"].clone();
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_getFilterChanges",
        json!([filter]),
    )
    .await;
    assert!(res["result"].is_array(), "{res}");
    decide(&member, to_role(1)).await;
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_getFilterChanges",
        json!([filter]),
    )
    .await;
    assert!(
        res["error"].is_object(),
        "the auditor's filter ends with its role: {res}"
    );
    let res = call_as(
        &node,
        Some(&auditor),
        "eth_getStorageAt",
        json!([token.address(), "0x0", "latest"]),
    )
    .await;
    assert_eq!(res["error"]["code"], -32030, "a user now: {res}");

    // The same tables after a restart (the block log replayed).
    let before = node.node().chain.governance();
    let node = node.restart(config).await;
    assert_eq!(*node.node().chain.governance(), *before);
}

/// Registers `user`'s new API key by a decision of `member`; returns the key.
async fn add_user_key(node: &TestNode, member: &DynProvider, user: Address) -> String {
    let key = generate_key();
    decide(
        member,
        vec![action(
            ADD_API_KEY,
            (user, key_hash(&key)).abi_encode_params(),
        )],
    )
    .await;
    assert!(
        node.node()
            .chain
            .governance()
            .api_key_owner(&key_hash(&key))
            == Some(user)
    );
    key
}

/// Signs in as `signer` with SIWE; the raw answer.
async fn siwe_login(node: &TestNode, signer: &PrivateKeySigner) -> Value {
    use alloy::signers::SignerSync;
    let nonce = call_as(node, None, "coco_loginNonce", json!([])).await["result"]
        .as_str()
        .unwrap()
        .to_string();
    let text = format!(
        "localhost:8545 wants you to sign in with your Ethereum account:\n{}\n\nSign in.\n\n\
         URI: http://localhost:8545\nVersion: 1\nChain ID: 31337\nNonce: {nonce}\n\
         Issued At: 2026-01-01T00:00:00Z\nExpiration Time: 2099-01-01T00:00:00Z",
        signer.address()
    );
    let signature = signer.sign_message_sync(text.as_bytes()).unwrap();
    call_as(
        node,
        None,
        "coco_login",
        json!([
            text,
            format!("0x{}", alloy::hex::encode(signature.as_bytes()))
        ]),
    )
    .await
}

#[tokio::test]
async fn code_replaced_by_vote_runs_from_the_next_block_and_replays_alike() {
    let node = TestNode::spawn().await;
    let p = node.provider(0);
    // The source: the committed governance code deployed elsewhere (a contract whose
    // init code returns it), with the same storage layout.
    let code = coco::governance::runtime_code();
    let init = [deployer(&code), code.to_vec()].concat();
    let receipt = p
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let source = receipt.contract_address.unwrap();
    let id = decide(
        &p,
        vec![action(
            REPLACE_CODE,
            (source, keccak256(&code)).abi_encode_params(),
        )],
    )
    .await;
    let pending = view(&p, IGovernance::pendingCodeCall {}).await;
    assert_eq!(pending.source, source, "recorded until the next block");
    assert_eq!(pending.proposalId, id);
    // The next block applies it.
    let other: Address = DEV_ADDRESSES[1].parse().unwrap();
    p.send_transaction(
        TransactionRequest::default()
            .with_to(other)
            .with_value(U256::from(1)),
    )
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    let pending = view(&p, IGovernance::pendingCodeCall {}).await;
    assert_eq!(pending.source, Address::ZERO, "cleared");
    assert_eq!(p.get_code_at(GOVERNANCE).await.unwrap(), code);
    let members = view(&p, IGovernance::membersCall {}).await;
    assert_eq!(members.len(), 1, "storage kept");

    // Re-executing every block on a fresh chain of the same genesis reproduces the
    // same state root and governance tables.
    let chain = &node.node().chain;
    let head = chain.head().header.number;
    let fresh = TestNode::spawn_with(coco::node::NodeConfig {
        genesis: Some(serde_json::to_string(&chain.spec().genesis).unwrap()),
        accounts: 0,
        mining: coco::chain::Mining::Manual,
        ..coco::node::NodeConfig::test()
    })
    .await;
    let replica = &fresh.node().chain;
    assert_eq!(
        replica.head().header.hash_slow(),
        chain.store().block(0).unwrap().unwrap().header.hash_slow()
    );
    for n in 1..=head {
        let stored = chain.store().block(n).unwrap().unwrap();
        let block = alloy::consensus::Block {
            header: stored.header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: stored.transactions.clone(),
                ommers: vec![],
                withdrawals: Some(stored.withdrawals.clone().into()),
            },
        };
        replica.import(block).unwrap();
    }
    assert_eq!(
        replica.head().header.state_root,
        chain.head().header.state_root
    );
    assert_eq!(*replica.governance(), *chain.governance());
}

/// Init code returning the `code` that follows it.
fn deployer(code: &[u8]) -> Vec<u8> {
    // PUSH2 len, DUP1, PUSH1 offset, PUSH1 0, CODECOPY, PUSH1 0, RETURN
    let len = code.len() as u16;
    let mut init = vec![
        0x61,
        (len >> 8) as u8,
        len as u8,
        0x80,
        0x60,
        0x0e,
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
    ];
    init.resize(14, 0x00);
    init
}

/// A chain of `genesis` in a temporary directory, admitting by governance or not.
fn bare_chain(
    genesis: alloy::genesis::Genesis,
    permissioned: bool,
) -> (coco::chain::Chain, tempfile::TempDir) {
    use coco::chain::{Chain, ChainSettings, ChainSpec, Mining, PoolLimits};
    use coco::state::{Store, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &StoreConfig {
            dir: dir.path().to_path_buf(),
            cache_bytes: 8 << 20,
            fsync: false,
            block_cache: 16,
        },
        &coco_enclave::LedgerSecret::generate(1),
        b"test-node",
    )
    .unwrap();
    let settings = ChainSettings {
        beneficiary: Address::ZERO,
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        blinding: None,
        permissioned,
    };
    let chain = Chain::open(
        std::sync::Arc::new(store),
        ChainSpec::new(genesis),
        settings,
    )
    .unwrap();
    (chain, dir)
}

#[tokio::test]
async fn a_block_with_a_sender_governance_does_not_admit_is_refused() {
    use coco::chain::genesis::{DEV_GENESIS, fund, parse_genesis};
    use coco::governance::{Consortium, MemberEntry};
    let member: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let stranger = PrivateKeySigner::random();
    let mut g = parse_genesis(DEV_GENESIS).unwrap();
    g.timestamp = coco::chain::now();
    fund(
        &mut g,
        [member.address(), stranger.address()],
        U256::from(10u64).pow(U256::from(20u64)),
    );
    Consortium {
        members: vec![MemberEntry {
            address: member.address(),
            encryption_key: Bytes::from_static(&[4; 65]),
        }],
        ..Default::default()
    }
    .write(&mut g);
    coco::governance::genesis::place(&mut g).unwrap();
    // A builder that does not check (a faulty or hostile leader) and one that does.
    let (builder, _a) = bare_chain(g.clone(), false);
    let (follower, _b) = bare_chain(g, true);
    let sign = |signer: &PrivateKeySigner, nonce: u64| {
        let tx = alloy::consensus::TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1,
            to: alloy::primitives::TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(1),
            ..Default::default()
        };
        use alloy::consensus::SignableTransaction;
        use alloy::network::TxSignerSync;
        let mut tx = tx;
        let signature = signer.sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    };
    let block_of = |chain: &coco::chain::Chain| {
        let stored = chain.mine(usize::MAX, false).unwrap().unwrap();
        alloy::consensus::Block {
            header: stored.header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: stored.transactions.clone(),
                ommers: vec![],
                withdrawals: Some(stored.withdrawals.clone().into()),
            },
        }
    };
    // The follower's pool refuses the stranger; the builder's takes it.
    let raw = sign(&stranger, 0);
    assert!(matches!(
        follower.submit_raw(&raw),
        Err(coco::chain::TxError::NotPermitted(_))
    ));
    builder.submit_raw(&sign(&member, 0)).unwrap();
    follower
        .import(block_of(&builder))
        .expect("a member's block imports");
    builder.submit_raw(&raw).unwrap();
    let err = follower.import(block_of(&builder)).unwrap_err();
    assert!(
        matches!(err, coco::chain::ChainError::NotAdmitted { sender, .. } if sender == stranger.address()),
        "{err}"
    );
}
