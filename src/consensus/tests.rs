//! Tests of the consensus module: openraft's storage suite over the sealed log, the
//! durability of the log across reopening, the peer TLS handshake, and three Rafts over
//! the real mutual-TLS network on loopback.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use alloy::consensus::{Block, BlockBody, Header, TxEnvelope};
use alloy::primitives::B256;
use coco_enclave::{LedgerSecret, NodeIdentity};
use openraft::storage::RaftLogStorage;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{RaftLogReader, ServerState};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::*;
use crate::consensus::state_machine::{Committed, SnapshotImage};
use crate::consensus::types::{LogId, SnapshotMeta, StorageError, StoredMembership};

// ---------------------------------------------------------------- the test applier

#[derive(Default, Clone, Serialize, Deserialize)]
struct MemState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    chain: Vec<BlockRef>,
}

/// An in-memory [`BlockApplier`]: a hash chain of blocks, snapshots sealed like the
/// real ones.
struct MemApplier {
    state: Mutex<MemState>,
    current: Mutex<Option<SnapshotImage>>,
    cipher: SnapshotCipher,
    installs: AtomicUsize,
    seq: AtomicU64,
}

impl MemApplier {
    fn new(secret: &LedgerSecret) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            current: Mutex::default(),
            cipher: SnapshotCipher::new(secret),
            installs: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
        })
    }

    fn chain(&self) -> Vec<BlockRef> {
        self.state.lock().chain.clone()
    }
}

impl BlockApplier for MemApplier {
    fn apply(&self, log_id: LogId, entry: Committed<'_>) -> Result<Option<BlockRef>> {
        let mut state = self.state.lock();
        let applied = match entry {
            Committed::Blank => None,
            Committed::Membership(m) => {
                state.membership = m.clone();
                None
            }
            Committed::Block(proposal) => {
                let block = proposal.decode()?;
                let parent = state.chain.last().map_or(B256::ZERO, |b| b.hash);
                if block.header.parent_hash != parent {
                    return Err(ConsensusError::Apply {
                        number: proposal.number,
                        reason: format!(
                            "parent {} is not the head {parent}",
                            block.header.parent_hash
                        ),
                    });
                }
                let r = BlockRef {
                    number: block.header.number,
                    hash: block.header.hash_slow(),
                };
                state.chain.push(r);
                Some(r)
            }
        };
        state.last_applied = Some(log_id);
        Ok(applied)
    }

    fn applied_state(&self) -> Result<(Option<LogId>, StoredMembership)> {
        let state = self.state.lock();
        Ok((state.last_applied, state.membership.clone()))
    }

    fn build_snapshot(&self) -> Result<SnapshotImage> {
        let state = self.state.lock().clone();
        let meta = SnapshotMeta {
            last_log_id: state.last_applied,
            last_membership: state.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                state.last_applied.map_or(0, |l| l.index),
                self.seq.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let plain =
            serde_json::to_vec(&state).map_err(|e| ConsensusError::decode("snapshot", e))?;
        let image = SnapshotImage {
            sealed: self.cipher.seal(&meta, &plain),
            meta,
        };
        *self.current.lock() = Some(image.clone());
        Ok(image)
    }

    fn install_snapshot(&self, image: SnapshotImage) -> Result<()> {
        let plain = self.cipher.open(&image.meta, &image.sealed)?;
        let mut state: MemState =
            serde_json::from_slice(&plain).map_err(|e| ConsensusError::decode("snapshot", e))?;
        state.last_applied = image.meta.last_log_id;
        state.membership = image.meta.last_membership.clone();
        *self.state.lock() = state;
        *self.current.lock() = Some(image);
        self.installs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn current_snapshot(&self) -> Result<Option<SnapshotImage>> {
        Ok(self.current.lock().clone())
    }
}

// ---------------------------------------------------------------- storage

struct Builder {
    secret: LedgerSecret,
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine<MemApplier>, TempDir> for Builder {
    async fn build(
        &self,
    ) -> std::result::Result<(TempDir, LogStore, StateMachine<MemApplier>), StorageError> {
        let dir = TempDir::new().expect("temp dir");
        let log = LogStore::open(&dir.path().join("raft"), &self.secret, b"node-1")
            .expect("open the raft log");
        Ok((dir, log, StateMachine::new(MemApplier::new(&self.secret))))
    }
}

#[test]
fn log_store_passes_openraft_suite() {
    Suite::test_all(Builder {
        secret: LedgerSecret::generate(1),
    })
    .expect("openraft storage suite");
}

fn block(number: u64, parent: B256) -> Block<TxEnvelope> {
    Block {
        header: Header {
            number,
            parent_hash: parent,
            gas_limit: 30_000_000,
            ..Default::default()
        },
        body: BlockBody::default(),
    }
}

fn normal(term: u64, index: u64, proposal: BlockProposal) -> types::Entry {
    types::Entry {
        log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index),
        payload: openraft::EntryPayload::Normal(proposal),
    }
}

#[test]
fn proposal_roundtrip_and_mismatch() {
    let b = block(7, B256::repeat_byte(1));
    let p = BlockProposal::new(&b, None);
    assert_eq!(p.decode().expect("decodes").header, b.header);
    // Debug shows sizes, not the plain block.
    let shown = format!("{p:?}");
    assert!(
        shown.contains("number: 7") && !shown.contains(&p.block.to_string()[2..40]),
        "{shown}"
    );
    let wrong = BlockProposal {
        number: 8,
        ..p.clone()
    };
    assert!(matches!(wrong.decode(), Err(ConsensusError::Decode { .. })));
    let mut trailing = p.block.to_vec();
    trailing.push(0);
    let trailing = BlockProposal {
        number: 7,
        block: trailing.into(),
        write_set: None,
    };
    assert!(matches!(
        trailing.decode(),
        Err(ConsensusError::Decode { .. })
    ));
}

/// Vote, commit index, entries, truncation and purge survive reopening; nothing on
/// disk is plaintext; a record from another node's key does not open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_store_is_durable_and_sealed() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("raft");
    let secret = LedgerSecret::generate(1);
    // A recognisable marker inside a block: the extra data of its header.
    let marker = b"PLAINTEXT-MARKER-coco-raft-log";
    let proposal = |n: u64| {
        let mut b = block(n, B256::ZERO);
        b.header.extra_data = marker.to_vec().into();
        BlockProposal::new(&b, None)
    };
    let vote = openraft::Vote::new_committed(3, 1);
    {
        let mut log = LogStore::open(&path, &secret, b"n1").unwrap();
        log.save_vote(&vote).await.unwrap();
        let entries: Vec<_> = (1..=10).map(|i| normal(3, i, proposal(i))).collect();
        // `append` minus the callback (openraft builds `LogFlushed` only inside its core;
        // the suite covers the callback).
        log.write_entries(entries).await.unwrap();
        log.save_committed(Some(entries_id(3, 6))).await.unwrap();
        log.truncate(entries_id(3, 9)).await.unwrap();
        log.purge(entries_id(3, 2)).await.unwrap();
    }
    let mut log = LogStore::open(&path, &secret, b"n1").unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.read_committed().await.unwrap(), Some(entries_id(3, 6)));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(entries_id(3, 2)));
    assert_eq!(state.last_log_id, Some(entries_id(3, 8)));
    let got = log.try_get_log_entries(0..100).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
        (3..=8).collect::<Vec<_>>()
    );
    drop(log);

    // No plaintext anywhere under the directory.
    for file in walk(&path) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "plaintext in {}",
            file.display()
        );
    }

    // Another node id (other keys) cannot read the records: opening names the record.
    let err = LogStore::open(&path, &secret, b"n2").unwrap_err();
    assert!(
        matches!(&err, ConsensusError::Tampered { what, .. } if what == "purged"),
        "{err}"
    );
}

fn entries_id(term: u64, index: u64) -> LogId {
    openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

// ---------------------------------------------------------------- TLS

fn allow_keys(keys: &[Vec<u8>]) -> Allow {
    let keys: BTreeSet<Vec<u8>> = keys.iter().cloned().collect();
    Arc::new(move |k: &[u8]| keys.contains(k))
}

/// A TLS 1.3 handshake between `client` (dialling `pin`) and `server`; Ok if both
/// sides accepted.
async fn handshake(
    client: &TlsIdentity,
    server: &TlsIdentity,
    allow: Allow,
    pin: &[u8],
) -> std::result::Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor =
        tokio_rustls::TlsAcceptor::from(Arc::new(server.server_config(allow.clone()).unwrap()));
    let accept = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        s.write_all(b"y").await.map_err(|e| e.to_string())
    });
    let connector =
        tokio_rustls::TlsConnector::from(Arc::new(client.client_config(allow, pin).unwrap()));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(tls::PEER_SERVER_NAME).unwrap();
    let dialled = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        // TLS 1.3: the server checks the client certificate after the client finished;
        // a refusal shows as an alert (or a closed stream) on the first read.
        s.write_all(b"x").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok(())
    };
    let (dialled, accepted) = tokio::join!(dialled, accept);
    // Both sides must have accepted.
    accepted.unwrap().and(dialled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_admits_validators_only() {
    let (a, b, stranger) = (
        NodeIdentity::generate(),
        NodeIdentity::generate(),
        NodeIdentity::generate(),
    );
    let (ta, tb, ts) = (
        TlsIdentity::new(&a).unwrap(),
        TlsIdentity::new(&b).unwrap(),
        TlsIdentity::new(&stranger).unwrap(),
    );
    assert_eq!(
        tls::endorsing_identity(ta.certificate()),
        Some(a.public_key_sec1())
    );
    let allow = allow_keys(&[a.public_key_sec1(), b.public_key_sec1()]);

    // Two validators: accepted both ways.
    handshake(&ta, &tb, allow.clone(), &b.public_key_sec1())
        .await
        .expect("validators connect");
    // A non-validator client is refused by the server.
    let refused = handshake(&ts, &tb, allow.clone(), &b.public_key_sec1()).await;
    assert!(refused.is_err(), "a non-validator client was accepted");
    // A non-validator server is refused by the client, even when pinned.
    let refused = handshake(&ta, &ts, allow.clone(), &stranger.public_key_sec1()).await;
    assert!(refused.is_err(), "a non-validator server was accepted");
    // A validator answering for another one fails the client's pin.
    let refused = handshake(&ta, &tb, allow.clone(), &a.public_key_sec1()).await;
    assert!(refused.is_err(), "the pin was not enforced");
    // The allow-list is asked on every handshake: a removed validator is cut off.
    let only_b = allow_keys(&[b.public_key_sec1()]);
    let refused = handshake(&ta, &tb, only_b, &b.public_key_sec1()).await;
    assert!(refused.is_err(), "a removed validator was accepted");
}

// ---------------------------------------------------------------- three Rafts

struct TestNode {
    id: NodeId,
    raft: Raft,
    applier: Arc<MemApplier>,
    server: Option<PeerServer>,
    _dir: TempDir,
}

fn test_config() -> Arc<openraft::Config> {
    Arc::new(
        openraft::Config {
            cluster_name: "coco-test".into(),
            heartbeat_interval: 100,
            election_timeout_min: 500,
            election_timeout_max: 1_000,
            max_payload_entries: 16,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(4),
            max_in_snapshot_log_to_keep: 1,
            ..Default::default()
        }
        .validate()
        .unwrap(),
    )
}

async fn start_node(
    identity: &NodeIdentity,
    listener: tokio::net::TcpListener,
    allow: Allow,
    secret: &LedgerSecret,
) -> TestNode {
    let id = node_id_of(&identity.public_key_sec1());
    let dir = TempDir::new().unwrap();
    let tls = Arc::new(TlsIdentity::new(identity).unwrap());
    let log = LogStore::open(&dir.path().join("raft"), secret, &id.to_be_bytes()).unwrap();
    let applier = MemApplier::new(secret);
    let network = Network::new(tls.clone(), allow.clone(), Timeouts::default());
    let raft = Raft::new(
        id,
        test_config(),
        network,
        log,
        StateMachine::new(applier.clone()),
    )
    .await
    .unwrap();
    let server = PeerServer::start(listener, &tls, allow, raft.clone()).unwrap();
    TestNode {
        id,
        raft,
        applier,
        server: Some(server),
        _dir: dir,
    }
}

async fn stop(node: &mut TestNode) {
    if let Some(server) = node.server.take() {
        server.stop().await;
    }
    node.raft.shutdown().await.unwrap();
}

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

/// Waits until one of `nodes` is leader (other than `not`), and returns its index.
async fn leader(nodes: &[&TestNode], not: Option<NodeId>) -> usize {
    let m = nodes[0]
        .raft
        .wait(WAIT)
        .metrics(
            |m| m.current_leader.is_some() && m.current_leader != not,
            "a leader is known",
        )
        .await
        .unwrap();
    let id = m.current_leader.unwrap();
    let i = nodes
        .iter()
        .position(|n| n.id == id)
        .expect("leader is a live node");
    nodes[i]
        .raft
        .wait(WAIT)
        .state(ServerState::Leader, "the leader knows it")
        .await
        .unwrap();
    i
}

async fn write(node: &TestNode, number: u64, parent: B256) -> BlockRef {
    let r = node
        .raft
        .client_write(BlockProposal::new(&block(number, parent), None))
        .await
        .expect("client_write on the leader");
    let applied = r.data.block.expect("a block entry returns its block");
    assert_eq!(applied.number, number);
    applied
}

async fn caught_up(node: &TestNode, leader: &TestNode) {
    let last = leader.raft.metrics().borrow().last_log_index;
    node.raft
        .wait(WAIT)
        .applied_index_at_least(last, "follower applied the leader's log")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_validators_replicate_fail_over_and_refuse_without_quorum() {
    let secret = LedgerSecret::generate(1);
    let keys: Vec<NodeIdentity> = (0..3).map(|_| NodeIdentity::generate()).collect();
    let allow = allow_keys(&keys.iter().map(|k| k.public_key_sec1()).collect::<Vec<_>>());
    let mut members = BTreeMap::new();
    let mut listeners = Vec::new();
    for key in &keys {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer::new(l.local_addr().unwrap().to_string(), key.public_key_sec1());
        members.insert(peer.node_id(), peer);
        listeners.push(l);
    }
    let mut listeners = listeners.into_iter();

    // Two of three start; the third joins late and must catch up from a snapshot.
    let a = start_node(&keys[0], listeners.next().unwrap(), allow.clone(), &secret).await;
    let b = start_node(&keys[1], listeners.next().unwrap(), allow.clone(), &secret).await;
    a.raft.initialize(members.clone()).await.unwrap();
    let l = leader(&[&a, &b], None).await;
    let mut parent = B256::ZERO;
    for n in 1..=8 {
        parent = write([&a, &b][l], n, parent).await.hash;
    }
    let c = start_node(&keys[2], listeners.next().unwrap(), allow.clone(), &secret).await;
    {
        let nodes = [&a, &b];
        caught_up(&c, nodes[l]).await;
        caught_up(nodes[1 - l], nodes[l]).await;
        let chain = nodes[l].applier.chain();
        assert_eq!(chain.len(), 8);
        assert_eq!(
            nodes[1 - l].applier.chain(),
            chain,
            "follower applied the same blocks"
        );
        assert_eq!(
            c.applier.chain(),
            chain,
            "the late node applied the same blocks"
        );
        assert!(
            c.applier.installs.load(Ordering::Relaxed) >= 1,
            "the late node caught up from a snapshot (the log was purged)"
        );
    }

    // A write on a follower is refused with the leader to forward to.
    let mut nodes = vec![a, b, c];
    let li = leader(&nodes.iter().collect::<Vec<_>>(), None).await;
    let fi = (li + 1) % 3;
    let err = nodes[fi]
        .raft
        .client_write(BlockProposal::new(&block(9, parent), None))
        .await
        .unwrap_err();
    let forward = err.forward_to_leader().expect("ForwardToLeader");
    assert_eq!(forward.leader_id, Some(nodes[li].id));
    assert_eq!(forward.leader_node.as_ref(), members.get(&nodes[li].id));

    // The leader stops: a new one is elected and writes continue.
    let old = nodes[li].id;
    stop(&mut nodes[li]).await;
    let old_chain = nodes[li].applier.chain();
    let mut live: Vec<TestNode> = Vec::new();
    let mut stopped = Vec::new();
    for (i, n) in nodes.into_iter().enumerate() {
        if i == li {
            stopped.push(n)
        } else {
            live.push(n)
        }
    }
    let nl = leader(&live.iter().collect::<Vec<_>>(), Some(old)).await;
    assert_ne!(live[nl].id, old);
    for n in 9..=11 {
        parent = write(&live[nl], n, parent).await.hash;
    }
    caught_up(&live[1 - nl], &live[nl]).await;
    let chain = live[nl].applier.chain();
    assert_eq!(chain.len(), 11);
    assert_eq!(live[1 - nl].applier.chain(), chain);
    assert_eq!(
        &chain[..old_chain.len()],
        &old_chain[..],
        "the old leader's blocks are a prefix"
    );

    // Two of three down: no quorum, and the message says so.
    let follower = 1 - nl;
    stop(&mut live[follower]).await;
    let err = live[nl].raft.ensure_linearizable().await.unwrap_err();
    assert_eq!(
        no_quorum_message(&live[nl].raft, &err).as_deref(),
        Some("no quorum: 1 of 3 validators reachable"),
        "{err}"
    );
    live[nl].raft.shutdown().await.unwrap();
    drop(stopped);
}

// ---------------------------------------------------------------- over the chain

/// A consortium chain (account 0 the member, accounts 1..4 users) in `dir`, blinded
/// with the cluster's `secret`, as every validator of one cluster has it.
fn consortium_chain(
    dir: &std::path::Path,
    secret: &LedgerSecret,
    genesis: &alloy::genesis::Genesis,
) -> Arc<crate::chain::Chain> {
    use crate::chain::{Blinder, Chain, ChainSettings, ChainSpec, Mining, PoolLimits};
    use crate::state::{Store, StoreConfig};
    let store = Store::open(
        &StoreConfig {
            dir: dir.to_path_buf(),
            cache_bytes: 8 << 20,
            fsync: false,
            block_cache: 16,
        },
        secret,
        b"validator",
    )
    .unwrap();
    let blinding = secret.clone();
    let settings = ChainSettings {
        beneficiary: alloy::primitives::Address::ZERO,
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        blinding: Some(Blinder(Arc::new(move |n| {
            B256::from(blinding.blinding_key(n))
        }))),
        permissioned: true,
    };
    Arc::new(Chain::open(Arc::new(store), ChainSpec::new(genesis.clone()), settings).unwrap())
}

fn dev_genesis() -> (
    alloy::genesis::Genesis,
    Vec<alloy::signers::local::PrivateKeySigner>,
) {
    use crate::governance::{Consortium, MemberEntry, UserEntry, UserRole};
    let signers: Vec<_> = (0..4)
        .map(|_| alloy::signers::local::PrivateKeySigner::random())
        .collect();
    let mut g = crate::chain::genesis::parse_genesis(crate::chain::genesis::DEV_GENESIS).unwrap();
    g.timestamp = crate::chain::now();
    crate::chain::genesis::fund(
        &mut g,
        signers.iter().map(|s| s.address()),
        alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(20u64)),
    );
    Consortium {
        members: vec![MemberEntry {
            address: signers[0].address(),
            encryption_key: alloy::primitives::Bytes::from_static(&[4; 65]),
        }],
        users: signers
            .iter()
            .map(|s| UserEntry {
                address: s.address(),
                role: UserRole::User,
                api_key_hashes: Vec::new(),
            })
            .collect(),
        ..Default::default()
    }
    .write(&mut g);
    crate::governance::genesis::place(&mut g).unwrap();
    (g, signers)
}

fn transfer(signer: &alloy::signers::local::PrivateKeySigner, nonce: u64) -> Vec<u8> {
    use alloy::consensus::SignableTransaction;
    use alloy::eips::Encodable2718;
    use alloy::network::TxSignerSync;
    let mut tx = alloy::consensus::TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy::primitives::TxKind::Call(alloy::primitives::Address::repeat_byte(7)),
        value: alloy::primitives::U256::from(1),
        ..Default::default()
    };
    let signature = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

struct ChainNode {
    raft: Raft,
    chain: Arc<crate::chain::Chain>,
    applied: super::chain_applier::AppliedBlocks,
    _dir: TempDir,
    server: Option<PeerServer>,
}

async fn start_chain_node(
    identity: &NodeIdentity,
    listener: tokio::net::TcpListener,
    allow: Allow,
    secret: &LedgerSecret,
    genesis: &alloy::genesis::Genesis,
) -> ChainNode {
    let id = node_id_of(&identity.public_key_sec1());
    let dir = TempDir::new().unwrap();
    let chain = consortium_chain(&dir.path().join("chain"), secret, genesis);
    let tls = Arc::new(TlsIdentity::new(identity).unwrap());
    let log = LogStore::open(&dir.path().join("raft/log"), secret, &id.to_be_bytes()).unwrap();
    let applier = Arc::new(
        ChainApplier::open(
            chain.clone(),
            &dir.path().join("raft/applier"),
            secret,
            &id.to_be_bytes(),
        )
        .unwrap(),
    );
    let applied = applier.applied_blocks();
    let network = Network::new(tls.clone(), allow.clone(), Timeouts::default());
    let raft = Raft::new(id, test_config(), network, log, StateMachine::new(applier))
        .await
        .unwrap();
    let server = PeerServer::start(listener, &tls, allow, raft.clone()).unwrap();
    ChainNode {
        raft,
        chain,
        applied,
        _dir: dir,
        server: Some(server),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_validators_commit_the_same_chain() {
    let secret = LedgerSecret::generate(1);
    let (genesis, signers) = dev_genesis();
    let keys: Vec<NodeIdentity> = (0..3).map(|_| NodeIdentity::generate()).collect();
    let allow = allow_keys(&keys.iter().map(|k| k.public_key_sec1()).collect::<Vec<_>>());
    let mut members = BTreeMap::new();
    let mut listeners = Vec::new();
    for key in &keys {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer::new(l.local_addr().unwrap().to_string(), key.public_key_sec1());
        members.insert(peer.node_id(), peer);
        listeners.push(l);
    }
    let mut listeners = listeners.into_iter();
    // Two start; the third joins after the log was purged behind a snapshot.
    let a = start_chain_node(
        &keys[0],
        listeners.next().unwrap(),
        allow.clone(),
        &secret,
        &genesis,
    )
    .await;
    let b = start_chain_node(
        &keys[1],
        listeners.next().unwrap(),
        allow.clone(),
        &secret,
        &genesis,
    )
    .await;
    a.raft.initialize(members.clone()).await.unwrap();
    let m = a
        .raft
        .wait(WAIT)
        .metrics(|m| m.current_leader.is_some(), "a leader")
        .await
        .unwrap();
    let leader_id = m.current_leader.unwrap();
    let (lead, other) = if a.raft.metrics().borrow().id == leader_id {
        (&a, &b)
    } else {
        (&b, &a)
    };
    lead.raft
        .wait(WAIT)
        .state(ServerState::Leader, "the leader knows it")
        .await
        .unwrap();

    // The leader pools, proposes; every validator commits what a quorum has.
    let mut nonces = [0u64; 4];
    for round in 0..8 {
        for (i, s) in signers.iter().enumerate().take(1 + round % 4) {
            lead.chain.submit_raw(&transfer(s, nonces[i])).unwrap();
            nonces[i] += 1;
        }
        // Odd rounds ship the write set (`--apply write-set`), even ones are re-executed:
        // both reach the same chain, and the snapshot the late node installs has both.
        let (block, write_set) = lead
            .chain
            .propose_block(usize::MAX, round % 2 == 1)
            .unwrap()
            .expect("a block");
        assert_eq!(write_set.is_some(), round % 2 == 1);
        let applied = lead
            .raft
            .client_write(BlockProposal::new(&block, write_set.as_ref()))
            .await
            .expect("committed")
            .data
            .block
            .expect("a block entry");
        assert_eq!(applied.number, round as u64 + 1);
        assert_eq!(
            lead.chain.head().header.number,
            applied.number,
            "the leader applied it"
        );
    }
    // A follower's block applied from the committed entry, never from its own pool.
    let c = start_chain_node(
        &keys[2],
        listeners.next().unwrap(),
        allow,
        &secret,
        &genesis,
    )
    .await;
    let last = lead.raft.metrics().borrow().last_log_index;
    for n in [other, &c] {
        n.raft
            .wait(WAIT)
            .applied_index_at_least(last, "applied the leader's log")
            .await
            .unwrap();
    }
    let head = lead.chain.head();
    assert_eq!(head.header.number, 8);
    for n in [other, &c] {
        let theirs = n.chain.head();
        assert_eq!(
            theirs.header.hash_slow(),
            head.header.hash_slow(),
            "same blinded head"
        );
        assert_eq!(
            n.chain.store().merkle().root(),
            lead.chain.store().merkle().root(),
            "same state"
        );
    }
    // The late node installed the purged part from the snapshot, executing nothing.
    let from = |n: &ChainNode, what: &str| {
        n.applied
            .get_or_create(&vec![("from".to_owned(), what.to_owned())])
            .get()
    };
    assert!(from(&c, "snapshot") > 0, "installed from a snapshot");
    assert_eq!(from(other, "snapshot"), 0);
    assert_eq!(
        from(other, "write-set"),
        4,
        "odd rounds, from their write sets"
    );
    assert_eq!(from(other, "block"), 4, "even rounds, re-executed");
    assert_eq!(
        from(lead, "own"),
        8,
        "the leader commits its blocks as built"
    );
    assert_eq!(from(lead, "block") + from(lead, "write-set"), 0);
    // Headers are blinded like a mined block's; the plain root is the Merkle root.
    assert_ne!(head.header.state_root, lead.chain.store().merkle().root());
    for n in [&a, &b, &c] {
        n.raft.shutdown().await.unwrap();
    }
}

/// Polls `done` every 20 ms for up to 20 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_produces_blocks_and_a_new_leader_continues() {
    let secret = LedgerSecret::generate(1);
    let (genesis, signers) = dev_genesis();
    let keys: Vec<NodeIdentity> = (0..3).map(|_| NodeIdentity::generate()).collect();
    let allow = allow_keys(&keys.iter().map(|k| k.public_key_sec1()).collect::<Vec<_>>());
    let mut members = BTreeMap::new();
    let mut nodes = Vec::new();
    let mut listeners = Vec::new();
    for key in &keys {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer::new(l.local_addr().unwrap().to_string(), key.public_key_sec1());
        members.insert(peer.node_id(), peer);
        listeners.push(l);
    }
    for (key, l) in keys.iter().zip(listeners) {
        nodes.push(start_chain_node(key, l, allow.clone(), &secret, &genesis).await);
    }
    nodes[0].raft.initialize(members).await.unwrap();
    let mut stops = Vec::new();
    let mut loops = Vec::new();
    for n in &nodes {
        let (tx, rx) = tokio::sync::watch::channel(false);
        stops.push(tx);
        loops.push(tokio::spawn(producer::run(
            n.raft.clone(),
            n.chain.clone(),
            Duration::from_millis(50),
            producer::Apply::WriteSet,
            rx,
        )));
    }
    let leader_of = |nodes: &[ChainNode], not: Option<NodeId>| {
        nodes.iter().position(|n| {
            let m = n.raft.metrics().borrow().clone();
            m.state == ServerState::Leader && Some(m.id) != not
        })
    };
    eventually("a leader", || leader_of(&nodes, None).is_some()).await;
    let li = leader_of(&nodes, None).unwrap();
    // Transactions pooled at the leader end up in every validator's chain.
    let send = |chain: &crate::chain::Chain, count: usize| {
        for _ in 0..count {
            for s in &signers {
                let nonce = chain.pending_nonce(s.address()).unwrap();
                chain.submit_raw(&transfer(s, nonce)).unwrap();
            }
        }
    };
    send(&nodes[li].chain, 3);
    let settled = |nodes: &[&ChainNode], txs: u64| {
        let heads: Vec<_> = nodes
            .iter()
            .map(|n| n.chain.head().header.hash_slow())
            .collect();
        heads.windows(2).all(|w| w[0] == w[1])
            && nodes.iter().all(|n| {
                n.chain.state_nonce(signers[0].address()).unwrap() == txs
                    && n.chain.with_pool(|p| p.is_empty())
            })
    };
    eventually("every validator has the 12 transfers", || {
        settled(&nodes.iter().collect::<Vec<_>>(), 3)
    })
    .await;

    // The leader goes away; the others elect one and go on producing.
    let old = nodes[li].raft.metrics().borrow().id;
    stops[li].send(true).unwrap();
    if let Some(server) = nodes[li].server.take() {
        server.stop().await;
    }
    nodes[li].raft.shutdown().await.unwrap();
    let live: Vec<&ChainNode> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, n)| n)
        .collect();
    eventually("a new leader", || {
        live.iter().any(|n| {
            let m = n.raft.metrics().borrow().clone();
            m.state == ServerState::Leader && m.id != old
        })
    })
    .await;
    let new = live
        .iter()
        .find(|n| n.raft.metrics().borrow().state == ServerState::Leader)
        .unwrap();
    send(&new.chain, 2);
    eventually("both live validators have the 8 more", || settled(&live, 5)).await;
    for (i, stop) in stops.iter().enumerate() {
        if i != li {
            stop.send(true).unwrap();
        }
    }
    for l in loops {
        l.await.unwrap();
    }
    for n in live {
        n.raft.shutdown().await.unwrap();
    }
}

/// A write set that does not match the header is refused, naming the block and the
/// field, and leaves the chain as it was; the leader's own one commits the same block.
#[test]
fn a_write_set_is_checked_against_the_header() {
    let secret = LedgerSecret::generate(1);
    let (genesis, signers) = dev_genesis();
    let (da, db) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let lead = consortium_chain(da.path(), &secret, &genesis);
    let other = consortium_chain(db.path(), &secret, &genesis);
    lead.submit_raw(&transfer(&signers[0], 0)).unwrap();
    lead.submit_raw(&transfer(&signers[1], 0)).unwrap();
    let (block, write_set) = lead.propose_block(usize::MAX, true).unwrap().unwrap();
    let write_set = write_set.expect("asked for");
    let head = other.head().header.hash_slow();
    let refused = |ws: crate::state::WriteSet| {
        let err = other.apply_write_set(block.clone(), ws).unwrap_err();
        assert_eq!(other.head().header.hash_slow(), head, "nothing committed");
        err.to_string()
    };

    let mut richer = write_set.clone();
    let sender = richer
        .diff
        .accounts
        .iter_mut()
        .find(|a| a.address == signers[0].address())
        .unwrap();
    sender.record.balance += alloy::primitives::U256::from(1);
    let err = refused(richer.clone());
    assert!(
        err.contains("block 1") && err.contains("stateRoot mismatch"),
        "{err}"
    );
    // What a validator logs and stops with names the block and field, not the roots.
    let redacted = other
        .apply_write_set(block.clone(), richer)
        .unwrap_err()
        .redacted();
    assert!(
        redacted.ends_with("stateRoot mismatch") && !redacted.contains("header has"),
        "{redacted}"
    );

    let mut fewer = write_set.clone();
    fewer.receipts.pop();
    let err = refused(fewer);
    assert!(
        err.contains("2 senders and 1 receipts for 2 transactions"),
        "{err}"
    );

    let mut forged_sender = write_set.clone();
    forged_sender.senders[0] = signers[2].address();
    let err = refused(forged_sender);
    assert!(
        err.contains("transaction 0: the sender shipped is not"),
        "{err}"
    );

    let mut other_code = write_set.clone();
    other_code.diff.code.push(crate::state::CodeEntry {
        hash: B256::repeat_byte(5),
        code: vec![0x60, 0x00].into(),
    });
    let err = refused(other_code);
    assert!(err.contains("code entry 0 does not hash"), "{err}");

    assert!(block.header.requests_hash.is_some(), "a Prague block");
    let mut other_requests = write_set.clone();
    other_requests.requests.push(vec![0x01, 0xaa].into());
    let err = refused(other_requests);
    assert!(err.contains("requestsHash mismatch"), "{err}");

    let mut other_gas = write_set.clone();
    other_gas.receipts.swap(0, 1);
    let err = refused(other_gas);
    assert!(
        err.contains("receiptsRoot mismatch") || err.contains("gasUsed"),
        "{err}"
    );

    let committed = other
        .apply_write_set(block.clone(), write_set.clone())
        .unwrap();
    // The leader commits its own proposal as it built it: whatever the write set says
    // (a tampered one here), nothing is checked or executed again.
    let mut ignored = write_set.clone();
    ignored.receipts.clear();
    assert!(lead.is_own_proposal(&block.header));
    let built = lead.apply_write_set(block, ignored).unwrap();
    assert!(!lead.is_own_proposal(&built.header));
    assert_eq!(committed.header.hash_slow(), built.header.hash_slow());
    assert_eq!(
        other.store().merkle().root(),
        lead.store().merkle().root(),
        "the same state without executing"
    );
    assert_eq!(committed.receipts, built.receipts);

    // What a snapshot carries: the block log's commits, installed without executing,
    // each checked against its (blinded) header first.
    let dc = TempDir::new().unwrap();
    let fresh = consortium_chain(dc.path(), &secret, &genesis);
    let commit = lead.store().block_commits(1, 1).unwrap().remove(0);
    let head = fresh.head().header.hash_slow();
    let refused = |c: crate::state::BlockCommit| {
        let err = fresh.install_committed(c).unwrap_err().to_string();
        assert_eq!(fresh.head().header.hash_slow(), head, "nothing installed");
        err
    };
    let mut richer = commit.clone();
    richer.diff.accounts[0].record.balance += alloy::primitives::U256::from(1);
    let err = refused(richer);
    assert!(
        err.contains("block 1") && err.contains("stateRoot mismatch"),
        "{err}"
    );
    let mut other_receipts = commit.clone();
    other_receipts.block.receipts.swap(0, 1);
    assert!(refused(other_receipts).contains("receiptsRoot mismatch"));
    let mut forged_sender = commit.clone();
    forged_sender.block.senders[1] = signers[3].address();
    assert!(refused(forged_sender).contains("transaction 1: the sender shipped is not"));
    let mut orphan = commit.clone();
    orphan.block.header.parent_hash = B256::repeat_byte(9);
    assert!(refused(orphan).contains("does not extend the head"));
    let installed = fresh.install_committed(commit.clone()).unwrap();
    assert_eq!(installed.header.hash_slow(), built.header.hash_slow());
    assert_eq!(fresh.store().merkle().root(), lead.store().merkle().root());
    // Again: the block is held, nothing changes; another block 1 is a divergence.
    fresh.install_committed(commit.clone()).unwrap();
    let mut forged = commit;
    forged.block.header.extra_data = b"another block 1".to_vec().into();
    let err = fresh.install_committed(forged).unwrap_err().to_string();
    assert!(err.contains("the chains diverged"), "{err}");
}
