//! A validator: Raft over the chain, the peer endpoint, the leader's block production,
//! forwarding of transactions to the leader, and joining a running cluster.
//!
//! Who may take part is governance's validator table, read at the head on every
//! handshake and every peer request ([`governance_allow`]); a node the table no longer
//! lists is refused by its peers, and the leader removes it from Raft's membership
//! ([`Validator::start`] runs that reconciliation). Joining is the same path for the
//! genesis validators and for one admitted later by `addNode`: the new node dials a
//! validator, is accepted once the table lists its identity key, receives the ledger
//! secret sealed to that key, and is added by the leader as a learner, then a voter.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes};
use coco_enclave::{LedgerSecret, NodeIdentity};
use openraft::ServerState;
use parking_lot::Mutex;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::chain_applier::ChainApplier;
use super::error::{ConsensusError, Result};
use super::log_store::LogStore;
use super::network::{Network, Timeouts};
use super::server::{PeerServer, PushHandler, Services};
use super::state_machine::StateMachine;
use super::tls::{Allow, TlsIdentity};
use super::types::{NodeId, Peer, Raft, node_id_of};
use crate::chain::{Chain, Forwarded, TxError, TxForward};

/// How a validator runs.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Where the peer (node-to-node) endpoint listens.
    pub listen: SocketAddr,
    /// The `host:port` peers dial to reach it (default: `listen`).
    pub advertise: Option<String>,
    /// How often the leader proposes a block.
    pub block_time: Duration,
    /// Committed entries between two snapshots (Raft's log is purged behind them).
    pub snapshot_every: u64,
    /// What this node's proposals carry while it leads, so how the others commit them.
    pub apply: super::producer::Apply,
}

/// A validator's view of the cluster, for `coco node status` and the startup banner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// This node's Raft id (hex).
    pub id: String,
    /// `leader`, `follower`, `candidate`, `learner`, or `joining` (no membership yet).
    pub role: String,
    /// The current term.
    pub term: u64,
    /// The leader's Raft id (hex), if one is known.
    pub leader: Option<String>,
    /// The block number of the head.
    pub height: u64,
    /// Raft's last applied log index.
    pub applied: Option<u64>,
    /// The log index of this node's latest snapshot.
    pub snapshot: Option<u64>,
    /// The log index up to which Raft's log was purged (behind a snapshot).
    pub purged: Option<u64>,
    /// Every validator of the membership.
    pub peers: Vec<PeerStatus>,
}

/// One validator as [`Status`] shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    /// Raft id (hex).
    pub id: String,
    /// Peer endpoint.
    pub addr: String,
    /// True for a voter, false for a learner.
    pub voter: bool,
    /// Log entries it lags behind the leader (known on the leader only).
    pub lag: Option<u64>,
}

/// The hex form of a Raft id, as logs and `coco node status` show it.
pub fn id_hex(id: NodeId) -> String {
    format!("{id:016x}")
}

/// The SEC1 compressed form of a secp256k1 public key given in either form.
pub fn compressed_key(key: &[u8]) -> Option<Vec<u8>> {
    let key = k256::PublicKey::from_sec1_bytes(key).ok()?;
    Some(
        k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, true)
            .as_bytes()
            .to_vec(),
    )
}

/// Admits the identity keys governance's validator table lists at the head of `chain`.
pub fn governance_allow(chain: Arc<Chain>) -> Allow {
    Arc::new(move |identity: &[u8]| {
        chain
            .governance()
            .nodes()
            .iter()
            .any(|n| compressed_key(&n.public_key).as_deref() == Some(identity))
    })
}

/// The session changes waiting for one validator, each with its deadline.
type SessionQueue = mpsc::Sender<(Instant, Bytes)>;

/// Most session changes waiting for one unreachable validator.
pub const SESSION_QUEUE: usize = 4_096;

/// Delivers the session changes queued for the validator `id`, in order, each retried
/// until it arrives or its deadline passes (see [`Validator::session_pusher`]).
async fn deliver_sessions(
    raft: Raft,
    network: Network,
    id: NodeId,
    queue: mpsc::Receiver<(Instant, Bytes)>,
) {
    // Where it is now; a validator no longer in the membership gets nothing.
    let locate = || {
        raft.metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .cloned()
    };
    let send = |peer: Peer, body: Bytes| {
        let network = network.clone();
        async move { network.push(id, &peer, "/session", body).await }
    };
    deliver_in_order(queue, locate, send, Duration::from_millis(250)).await;
    tracing::debug!(peer = %id_hex(id), "session pushes to the validator end");
}

/// Sends each queued body with `send` to where `locate` says the peer is, in order:
/// one that fails is sent again after `first_wait`, doubling up to 5 s, until it
/// arrives or its deadline passes; one for a peer `locate` no longer finds is dropped.
async fn deliver_in_order<F, Fut>(
    mut queue: mpsc::Receiver<(Instant, Bytes)>,
    locate: impl Fn() -> Option<Peer>,
    send: F,
    first_wait: Duration,
) where
    F: Fn(Peer, Bytes) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while let Some((deadline, body)) = queue.recv().await {
        let mut wait = first_wait;
        // One that expired while it waited behind others is not sent at all.
        while let Some(peer) = locate().filter(|_| Instant::now() <= deadline) {
            if send(peer.clone(), body.clone()).await {
                break;
            }
            if Instant::now() + wait > deadline {
                tracing::warn!(peer = %peer.addr, "a session change never reached the validator before it expired");
                break;
            }
            if wait == first_wait {
                tracing::info!(peer = %peer.addr, "a session change did not reach the validator; sending it again until it does");
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// A running validator.
pub struct Validator {
    id: NodeId,
    raft: Raft,
    chain: Arc<Chain>,
    me: Peer,
    commit_latency: Histogram,
    applied_blocks: super::chain_applier::AppliedBlocks,
    services: Arc<Services>,
    network: Network,
    server: Option<PeerServer>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("id", &id_hex(self.id))
            .field("addr", &self.me.addr)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts Raft over `chain` with its state in `dir` (`<data>/raft`), serving peers
    /// on `config.listen`, producing blocks when it leads and routing the chain's
    /// submissions to the leader. A node whose Raft log is empty waits to be added by
    /// a leader, unless it founds the cluster ([`Validator::found`]).
    pub async fn start(
        chain: Arc<Chain>,
        identity: &NodeIdentity,
        secret: &LedgerSecret,
        dir: &Path,
        config: &ValidatorConfig,
    ) -> Result<Self> {
        let key = identity.public_key_sec1();
        let id = node_id_of(&key);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ConsensusError::Transport(format!("{}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        let me = Peer::new(
            config.advertise.clone().unwrap_or_else(|| addr.to_string()),
            key,
        );
        let tls = Arc::new(TlsIdentity::new(identity)?);
        let allow = governance_allow(chain.clone());
        let node_key = id.to_be_bytes();
        let log = LogStore::open(&dir.join("log"), secret, &node_key)?;
        let applier = Arc::new(ChainApplier::open(
            chain.clone(),
            &dir.join("applier"),
            secret,
            &node_key,
        )?);
        let applied_blocks = applier.applied_blocks();
        let network = Network::new(tls.clone(), allow.clone(), Timeouts::default());
        let cluster = format!("coco-{}", chain.spec().chain_id());
        let raft = Raft::new(
            id,
            Arc::new(super::raft_config(&cluster, config.snapshot_every)?),
            network.clone(),
            log,
            StateMachine::new(applier),
        )
        .await
        .map_err(|e| ConsensusError::Transport(format!("raft: {e}")))?;
        let services = Arc::new(Services {
            chain: chain.clone(),
            secret: secret.clone(),
            sessions: Default::default(),
        });
        let server =
            PeerServer::serve(listener, &tls, allow, raft.clone(), Some(services.clone()))?;
        chain.set_forward(Arc::new(Forwarder {
            raft: raft.clone(),
            network: network.clone(),
        }));
        let (stop, stopped) = watch::channel(false);
        // 5 ms to 10 s.
        let commit_latency = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let tasks = vec![
            tokio::spawn(super::producer::run_measured(
                raft.clone(),
                chain.clone(),
                config.block_time,
                config.apply,
                stopped.clone(),
                commit_latency.clone(),
            )),
            tokio::spawn(reconcile(raft.clone(), chain.clone(), stopped)),
        ];
        tracing::info!(id = %id_hex(id), addr = %me.addr, "validator started");
        Ok(Self {
            id,
            raft,
            chain,
            me,
            commit_latency,
            applied_blocks,
            services,
            network,
            server: Some(server),
            stop,
            tasks,
        })
    }

    /// Founds the cluster with this validator as its only voter, if its Raft log is
    /// empty; the others join it. Returns false when the log already had a membership.
    pub async fn found(&self) -> Result<bool> {
        if self.initialized().await? {
            return Ok(false);
        }
        let members = BTreeMap::from([(self.id, self.me.clone())]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| ConsensusError::Transport(format!("initialize: {e}")))?;
        // Alone, it leads within an election timeout.
        let _ = self
            .raft
            .wait(Some(Duration::from_secs(5)))
            .state(ServerState::Leader, "the founder leads")
            .await;
        tracing::info!(id = %id_hex(self.id), "founded the cluster as its first validator");
        Ok(true)
    }

    /// True when this node's Raft log holds a membership (it founded or joined).
    pub async fn initialized(&self) -> Result<bool> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Transport(format!("raft: {e}")))
    }

    /// Hands what other validators push to `/session` to `handler` (set once).
    pub fn on_session_push(&self, handler: PushHandler) {
        let _ = self.services.sessions.set(handler);
    }

    /// A function pushing a body to `/session` of every other member, in the background.
    ///
    /// Each member gets the bodies in the order they were pushed, from one task of its
    /// own; one that does not arrive is sent again (after 250 ms, doubling up to 5 s)
    /// until it does or `retry_for` has passed, so a logout reaches a validator that
    /// was unreachable for a while once it answers again. At most
    /// [`SESSION_QUEUE`] bodies wait per member; more are dropped, and logged.
    pub fn session_pusher(&self, retry_for: Duration) -> impl Fn(Vec<u8>) + Send + Sync + 'static {
        let (raft, network, me) = (self.raft.clone(), self.network.clone(), self.id);
        // Each member's queue, and whether a change for it was dropped since the last
        // one queued (warned once per such run).
        let queues: Mutex<HashMap<NodeId, (SessionQueue, bool)>> = Mutex::default();
        move |body| {
            let deadline = Instant::now() + retry_for;
            let body = Bytes::from(body);
            let members: Vec<NodeId> = raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| *id)
                .filter(|id| *id != me)
                .collect();
            let mut queues = queues.lock();
            // A member that left: its queue goes, which ends its task.
            queues.retain(|id, _| members.contains(id));
            for id in members {
                let (queue, dropping) = queues.entry(id).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(SESSION_QUEUE);
                    tokio::spawn(deliver_sessions(raft.clone(), network.clone(), id, rx));
                    (tx, false)
                });
                match queue.try_send((deadline, body.clone())) {
                    Ok(()) => *dropping = false,
                    Err(_) if !*dropping => {
                        *dropping = true;
                        tracing::warn!(
                            peer = %id_hex(id),
                            "session changes for a validator that has been unreachable are dropped: its queue is full"
                        );
                    }
                    Err(_) => {}
                }
            }
        }
    }

    /// Seconds from proposing a block to its commit (observed while leading).
    pub fn commit_latency(&self) -> &Histogram {
        &self.commit_latency
    }

    /// Blocks committed by the state machine, by where they came from.
    pub fn applied_blocks(&self) -> &super::chain_applier::AppliedBlocks {
        &self.applied_blocks
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// This validator's Raft id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Where peers reach it.
    pub fn addr(&self) -> &str {
        &self.me.addr
    }

    /// Role, leader, term, height and peers now.
    pub fn status(&self) -> Status {
        status_of(&self.raft, &self.chain)
    }

    /// Stops producing, serving peers and Raft.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let _ = self.raft.shutdown().await;
    }
}

/// [`Status`] of `raft` over `chain`.
pub fn status_of(raft: &Raft, chain: &Chain) -> Status {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let last = m.last_log_index.unwrap_or(0);
    let peers = membership
        .nodes()
        .map(|(id, peer)| PeerStatus {
            id: id_hex(*id),
            addr: peer.addr.clone(),
            voter: voters.contains(id),
            lag: m.replication.as_ref().map(|r| {
                r.get(id)
                    .and_then(|matched| matched.as_ref())
                    .map_or(last + 1, |l| last.saturating_sub(l.index))
            }),
        })
        .collect();
    let role = match m.state {
        _ if voters.is_empty() => "joining",
        ServerState::Leader => "leader",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Follower if voters.contains(&m.id) => "follower",
        ServerState::Follower => "learner",
        ServerState::Shutdown => "stopped",
    };
    Status {
        id: id_hex(m.id),
        role: role.to_string(),
        term: m.current_term,
        leader: m.current_leader.map(id_hex),
        height: chain.head().header.number,
        applied: m.last_applied.map(|l| l.index),
        snapshot: m.snapshot.map(|l| l.index),
        purged: m.purged.map(|l| l.index),
        peers,
    }
}

/// The leader's side of governance: a voter or learner that the validator table no
/// longer lists is removed from the membership (its peers already refuse it) — the
/// leader itself included, which then steps down.
async fn reconcile(raft: Raft, chain: Arc<Chain>, mut stop: watch::Receiver<bool>) {
    let mut ticks = super::producer::Ticks::every(Duration::from_millis(500));
    while ticks.next(&mut stop).await {
        let m = raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            continue;
        }
        // An empty table is no reason to remove anyone (a chain without governance).
        if chain.governance().nodes().is_empty() {
            continue;
        }
        let allow = governance_allow(chain.clone());
        let membership = m.membership_config.membership();
        let retired: BTreeSet<NodeId> = membership
            .nodes()
            // The leader itself too: a retired leader removes itself and steps down.
            .filter(|(_, peer)| !allow(&peer.identity))
            .map(|(id, _)| *id)
            .collect();
        if retired.is_empty() || membership.get_joint_config().len() > 1 {
            continue;
        }
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let retired_voters: BTreeSet<NodeId> = retired.intersection(&voters).copied().collect();
        for id in &retired {
            tracing::info!(id = %id_hex(*id), "validator retired by governance: removing it");
        }
        let changed = if retired_voters.is_empty() {
            raft.change_membership(openraft::ChangeMembers::RemoveNodes(retired), false)
                .await
        } else {
            raft.change_membership(openraft::ChangeMembers::RemoveVoters(retired_voters), false)
                .await
        };
        if let Err(e) = changed {
            tracing::warn!(error = %e, "could not remove a retired validator");
        }
    }
}

/// Adds the validator `peer` (identity checked by the caller) as a learner, then, once
/// it has caught up, as a voter. Idempotent, and retried while another change of
/// membership is in progress and this node leads.
pub(crate) async fn admit(raft: Raft, peer: Peer, allow: Allow) {
    let id = peer.node_id();
    for _ in 0..120 {
        let m = raft.metrics().borrow().clone();
        // Stop when this node no longer leads, or governance retired the joiner.
        if m.state != ServerState::Leader || !allow(&peer.identity) {
            return;
        }
        let membership = m.membership_config.membership();
        if membership.voter_ids().any(|v| v == id) {
            return;
        }
        let step = if membership.get_node(&id).is_none() {
            tracing::info!(id = %id_hex(id), addr = %peer.addr, "validator joining: adding it as a learner");
            raft.add_learner(id, peer.clone(), true).await.map(|_| ())
        } else {
            raft.change_membership(
                openraft::ChangeMembers::AddVoterIds(BTreeSet::from([id])),
                false,
            )
            .await
            .map(|_| tracing::info!(id = %id_hex(id), "validator joined: it is a voter"))
        };
        if let Err(e) = step {
            tracing::debug!(id = %id_hex(id), error = %e, "membership change not done yet");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    tracing::warn!(id = %id_hex(id), "gave up adding the validator; it asks again");
}

/// True when this node is a voter of its membership.
pub fn is_voter(raft: &Raft) -> bool {
    let m = raft.metrics().borrow().clone();
    m.membership_config
        .membership()
        .voter_ids()
        .any(|v| v == m.id)
}

// ---------------------------------------------------------------- forwarding

/// How long a validator without a leader waits for an election before it refuses.
const ELECTION_WAIT: Duration = Duration::from_secs(3);
/// The leader refuses writes when no quorum acknowledged it for this long.
const QUORUM_STALE_MS: u64 = 1_000;

/// Routes a validator's submissions: to the leader over the peer channel, or here
/// when this node leads and a quorum acknowledges it.
struct Forwarder {
    raft: Raft,
    network: Network,
}

impl TxForward for Forwarder {
    fn forward(&self, raw: Bytes) -> Forwarded {
        let (raft, network) = (self.raft.clone(), self.network.clone());
        Box::pin(async move { route(&raft, &network, raw).await })
    }
}

/// The answer of a leader to a forwarded transaction.
pub(crate) type Verdict = std::result::Result<B256, TxError>;

async fn route(raft: &Raft, network: &Network, raw: Bytes) -> Option<Verdict> {
    let deadline = tokio::time::Instant::now() + ELECTION_WAIT;
    loop {
        // Read in place (every submission passes here): no copy of the metrics.
        let (leads, leader) = {
            let metrics = raft.metrics();
            let m = metrics.borrow();
            let leader = m.current_leader.and_then(|id| {
                let peer = m.membership_config.membership().get_node(&id).cloned();
                peer.map(|p| (id, p))
            });
            (m.state == ServerState::Leader, leader)
        };
        if leads {
            return quorum_refusal(raft).await.map(Err);
        }
        if let Some((leader, peer)) = leader {
            // Otherwise the leader no longer leads, or is unreachable: wait for the next.
            if let Ok(Some(verdict)) = network.forward_tx(leader, &peer, raw.clone()).await {
                return Some(verdict);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Some(Err(no_quorum(raft, network).await));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// On the leader: `Some(NoQuorum)` when no quorum acknowledged it lately.
pub(crate) async fn quorum_refusal(raft: &Raft) -> Option<TxError> {
    let fresh = raft
        .metrics()
        .borrow()
        .millis_since_quorum_ack
        .is_some_and(|ms| ms < QUORUM_STALE_MS);
    if fresh {
        return None;
    }
    let alone = || TxError::NoQuorum {
        reachable: 1,
        voters: super::voter_count(raft),
    };
    match tokio::time::timeout(Duration::from_secs(1), raft.ensure_linearizable()).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(match super::no_quorum_error(raft, &e) {
            Some(ConsensusError::NoQuorum { reachable, voters }) => {
                TxError::NoQuorum { reachable, voters }
            }
            _ => alone(),
        }),
        Err(_) => Some(alone()),
    }
}

/// A follower without a leader: counts the voters that answer a ping (itself included).
async fn no_quorum(raft: &Raft, network: &Network) -> TxError {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: Vec<(NodeId, Peer)> = membership
        .voter_ids()
        .filter_map(|id| membership.get_node(&id).map(|p| (id, p.clone())))
        .collect();
    let mut pings = tokio::task::JoinSet::new();
    for (id, peer) in voters.clone() {
        let (network, me) = (network.clone(), m.id);
        pings.spawn(async move { id == me || network.ping(id, &peer).await });
    }
    let reachable = pings.join_all().await.into_iter().filter(|up| *up).count();
    TxError::NoQuorum {
        reachable,
        voters: voters.len(),
    }
}

// ---------------------------------------------------------------- joining

/// What a validator grants a node that joins: the ledger secret sealed to its identity.
#[derive(Serialize, Deserialize)]
pub(crate) struct JoinGrant {
    pub(crate) secret: Bytes,
}

/// A joining node's request: where its peer endpoint will listen.
#[derive(Serialize, Deserialize)]
pub(crate) struct JoinRequest {
    pub(crate) addr: String,
}

/// The answer of a validator that does not lead: who does.
#[derive(Serialize, Deserialize)]
pub(crate) struct NotLeader {
    pub(crate) leader: Option<String>,
    /// The leader's identity key, so a joiner that pinned this validator pins it too.
    #[serde(default)]
    pub(crate) identity: Option<Bytes>,
}

/// A `--join` value: `[PUBLIC_KEY@]HOST:PORT`, the key (hex, SEC1) pinning the validator.
fn parse_join(peer: &str) -> Result<(Option<Vec<u8>>, String)> {
    let Some((key, addr)) = peer.split_once('@') else {
        return Ok((None, peer.to_string()));
    };
    let key = alloy::primitives::hex::decode(key)
        .ok()
        .and_then(|k| compressed_key(&k))
        .ok_or_else(|| {
            ConsensusError::Transport(format!(
                "--join {peer}: before `@` must be a validator's public key (hex, as `coco node id` prints it)"
            ))
        })?;
    Ok((Some(key), addr.to_string()))
}

fn join_client(tls: &TlsIdentity, allow: &Allow, pin: Option<&[u8]>) -> Result<reqwest::Client> {
    let config = match pin {
        Some(pin) => tls.client_config(allow.clone(), pin)?,
        None => tls.client_config_any(allow.clone())?,
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .http1_only()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ConsensusError::Transport(e.to_string()))
}

/// Before a joining node has a chain: dials `peer` (`[PUBLIC_KEY@]HOST:PORT`: the
/// validator with that key, or else one whose identity `allow` admits, e.g. one of the
/// genesis's validators) with `identity`, asks to join as the
/// validator reachable at `advertise`, and returns the cluster's ledger secret once a
/// leader accepts. Retries, logging why, until `give_up` passes (a node not admitted
/// by governance waits here).
pub async fn join(
    identity: &NodeIdentity,
    peer: &str,
    allow: Allow,
    advertise: &str,
    give_up: Duration,
) -> Result<LedgerSecret> {
    let tls = TlsIdentity::new(identity)?;
    let (pinned, first) = parse_join(peer)?;
    // Pinned, only that key (and the leader it names) is trusted; otherwise any `allow`
    // admits.
    let allow: Allow = match &pinned {
        Some(_) => Arc::new(|_: &[u8]| true),
        None => {
            tracing::warn!(
                peer = %first,
                "joining unpinned: any validator the genesis lists is trusted to hand over the ledger secret, retired ones too; give --join <publicKey>@<host:port> (`coco node id` on that validator prints the key) to trust that one only"
            );
            allow
        }
    };
    let deadline = tokio::time::Instant::now() + give_up;
    let mut target = first.clone();
    let mut pin = pinned.clone();
    let mut last_reason = String::new();
    let request = serde_json::to_vec(&JoinRequest {
        addr: advertise.to_string(),
    })
    .map_err(|e| ConsensusError::decode("join request", e))?;
    loop {
        let client = join_client(&tls, &allow, pin.as_deref())?;
        let sent = client
            .post(format!("https://{target}/join"))
            .header("content-type", "application/json")
            .body(request.clone())
            .send()
            .await;
        let reason = match sent {
            Ok(resp) if resp.status().is_success() => {
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| ConsensusError::Transport(e.to_string()))?;
                let grant: JoinGrant = serde_json::from_slice(&body)
                    .map_err(|e| ConsensusError::decode("join grant", e))?;
                return identity
                    .open_ledger_secret(&grant.secret)
                    .map_err(|source| ConsensusError::Tampered {
                        what: "join grant".into(),
                        source,
                    });
            }
            Ok(resp) if resp.status() == reqwest::StatusCode::MISDIRECTED_REQUEST => {
                let body = resp.bytes().await.unwrap_or_default();
                match serde_json::from_slice::<NotLeader>(&body) {
                    Ok(NotLeader {
                        leader: Some(leader),
                        identity,
                    }) if leader != target && tokio::time::Instant::now() < deadline => {
                        if pin.is_some() {
                            match identity.and_then(|k| compressed_key(&k)) {
                                Some(key) => pin = Some(key),
                                None => {
                                    return Err(ConsensusError::Transport(format!(
                                        "{target} names {leader} as the leader without its key"
                                    )));
                                }
                            }
                        }
                        target = leader;
                        continue;
                    }
                    Ok(NotLeader {
                        leader: Some(leader),
                        ..
                    }) => format!("{target} names {leader} as the leader, which does not lead"),
                    _ => format!("{target} knows no leader yet"),
                }
            }
            Ok(resp) => format!("{target} answered {}", resp.status()),
            Err(e) => {
                let cause = chain_of(&e);
                if cause.contains("Connection refused") {
                    format!("{target} is not up ({cause})")
                } else {
                    format!(
                        "{target} did not accept this node (is it listed by governance yet?): {cause}"
                    )
                }
            }
        };
        if reason != last_reason {
            tracing::info!(%reason, "waiting to join");
            last_reason = reason;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ConsensusError::Transport(format!(
                "could not join through {peer}: {last_reason}"
            )));
        }
        target = first.clone();
        pin = pinned.clone();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An error and its sources, as one line.
fn chain_of(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod join_tests {
    use super::*;

    #[test]
    fn a_join_value_may_pin_the_validator() {
        let key = NodeIdentity::generate().public_key_sec1();
        let hex = alloy::primitives::hex::encode(&key);
        assert_eq!(
            parse_join("127.0.0.1:9545").unwrap(),
            (None, "127.0.0.1:9545".to_string())
        );
        assert_eq!(
            parse_join(&format!("{hex}@v1:9545")).unwrap(),
            (Some(key), "v1:9545".to_string())
        );
        let err = parse_join("0x1234@v1:9545").unwrap_err().to_string();
        assert!(err.contains("must be a validator's public key"), "{err}");
    }
}

#[cfg(test)]
mod push_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Session changes reach a peer in order, each sent again while it fails; one past
    /// its deadline, or for a peer that left the membership, is dropped.
    #[tokio::test]
    async fn session_changes_are_retried_in_order_until_they_expire() {
        let peer = Peer::new("127.0.0.1:1", vec![2u8; 33]);
        let (tx, rx) = mpsc::channel(8);
        let later = Instant::now() + Duration::from_secs(30);
        for body in ["put", "end"] {
            tx.try_send((later, Bytes::from(body))).unwrap();
        }
        // Expired by the time its turn comes: never sent.
        tx.try_send((Instant::now(), Bytes::from("stale"))).unwrap();
        tx.try_send((later, Bytes::from("after"))).unwrap();
        drop(tx);
        let attempts = AtomicUsize::new(0);
        let delivered = Mutex::new(Vec::new());
        let tried = Mutex::new(Vec::new());
        deliver_in_order(
            rx,
            || Some(peer.clone()),
            |_, body: Bytes| {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                tried.lock().push(body.clone());
                // The peer is unreachable for the first three attempts.
                let ok = n >= 3;
                if ok {
                    delivered.lock().push(body);
                }
                async move { ok }
            },
            Duration::from_millis(1),
        )
        .await;
        let names = |v: &[Bytes]| {
            v.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&delivered.lock()), ["put", "end", "after"]);
        assert_eq!(
            names(&tried.lock()),
            ["put", "put", "put", "put", "end", "after"],
            "the first sent until it arrives, before anything after it"
        );

        // A peer no longer in the membership gets nothing.
        let (tx, rx) = mpsc::channel(8);
        tx.try_send((later, Bytes::from("put"))).unwrap();
        drop(tx);
        let sent = AtomicUsize::new(0);
        deliver_in_order(
            rx,
            || None,
            |_, _| {
                sent.fetch_add(1, Ordering::SeqCst);
                async { true }
            },
            Duration::from_millis(1),
        )
        .await;
        assert_eq!(sent.load(Ordering::SeqCst), 0);
    }
}
