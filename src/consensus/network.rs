//! openraft's network over HTTPS with mutual TLS: the client side.
//!
//! [`Network`] is openraft's `RaftNetworkFactory`. openraft asks it for a connection
//! per replication stream and again for every election and every
//! `ensure_linearizable` round, so it keeps **one pooled HTTP client per peer**
//! (keep-alive connections, TLS pinned to that peer's identity key) and hands out
//! cheap handles.
//!
//! Messages are serde JSON in a POST body; the peer answers JSON
//! `Result<Response, RaftError>`. Routes: `/raft/append`, `/raft/vote`,
//! `/raft/snapshot-chunk` (openraft's chunked transfer, unused since
//! [`RaftNetwork::full_snapshot`] is overridden) and `/raft/snapshot`, the whole
//! snapshot in one request: `[u32 BE header length][JSON {vote, meta}][sealed bytes]`.
//!
//! Timeouts: AppendEntries and Vote use openraft's per-RPC deadline
//! (`heartbeat_interval` and `election_timeout_min`); the whole snapshot has its own
//! [`Timeouts::snapshot`] (openraft's chunked default, 200 ms per chunk, is too short
//! for a real state). A refused connection or failed handshake is `Unreachable`
//! (openraft backs off), a failure mid-request is a `NetworkError` (retried at once).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Bytes;
use openraft::OptionalSend;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{ConsensusError, Result};
use super::tls::{Allow, TlsIdentity};
use super::types::{NodeId, Peer, Snapshot, SnapshotMeta, TypeConfig, Vote};

/// Deadlines of the peer transport.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Sending a whole snapshot and having it installed.
    pub snapshot: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(500),
            snapshot: Duration::from_secs(120),
        }
    }
}

/// The header of a whole-snapshot request.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotHeader {
    pub(crate) vote: Vote,
    pub(crate) meta: SnapshotMeta,
}

/// openraft's network factory: one pooled, identity-pinned HTTPS client per peer.
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
}

struct Shared {
    tls: Arc<TlsIdentity>,
    allow: Allow,
    timeouts: Timeouts,
    /// Per peer: the identity key its client pins, and the client.
    clients: Mutex<HashMap<NodeId, (Bytes, reqwest::Client)>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("tls", &self.shared.tls)
            .field("timeouts", &self.shared.timeouts)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// The network of a node with TLS credentials `tls`, accepting peers `allow` admits.
    pub fn new(tls: Arc<TlsIdentity>, allow: Allow, timeouts: Timeouts) -> Self {
        Self {
            shared: Arc::new(Shared {
                tls,
                allow,
                timeouts,
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn client(&self, target: NodeId, node: &Peer) -> Result<reqwest::Client> {
        let mut clients = self.shared.clients.lock();
        // Checked on every request, not only at the handshake: nothing more goes to a
        // validator governance retired, not even over an open connection.
        if !(self.shared.allow)(&node.identity) {
            clients.remove(&target);
            return Err(ConsensusError::Transport(format!(
                "validator {target} is not admitted by governance"
            )));
        }
        if let Some((pinned, client)) = clients.get(&target)
            && *pinned == node.identity
        {
            return Ok(client.clone());
        }
        let tls = self
            .shared
            .tls
            .client_config(self.shared.allow.clone(), &node.identity)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .http1_only()
            .tcp_nodelay(true)
            .connect_timeout(self.shared.timeouts.connect)
            .build()
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        clients.insert(target, (node.identity.clone(), client.clone()));
        Ok(client)
    }
}

impl Network {
    /// Hands a raw transaction to the leader `target`: its verdict, or `None` when it
    /// no longer leads.
    pub(crate) async fn forward_tx(
        &self,
        target: NodeId,
        node: &Peer,
        raw: alloy::primitives::Bytes,
    ) -> Result<Option<super::validator::Verdict>> {
        let resp = self
            .client(target, node)?
            .post(format!("https://{}/tx", node.addr))
            .timeout(FORWARD_TIMEOUT)
            .body(raw.to_vec())
            .send()
            .await
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        if resp.status() == reqwest::StatusCode::MISDIRECTED_REQUEST {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(ConsensusError::Transport(format!(
                "leader {target} answered {}",
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ConsensusError::decode("forwarded transaction verdict", e))
    }

    /// Posts `body` to `route` of the validator `target`; true when it took it (within
    /// 2 s).
    pub(crate) async fn push(
        &self,
        target: NodeId,
        node: &Peer,
        route: &str,
        body: alloy::primitives::Bytes,
    ) -> bool {
        let Ok(client) = self.client(target, node) else {
            return false;
        };
        client
            .post(format!("https://{}{route}", node.addr))
            .timeout(Duration::from_secs(2))
            .body(body.to_vec())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// True when the validator `target` answers a ping within 300 ms.
    pub(crate) async fn ping(&self, target: NodeId, node: &Peer) -> bool {
        let Ok(client) = self.client(target, node) else {
            return false;
        };
        client
            .post(format!("https://{}/ping", node.addr))
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

/// How long a forwarded transaction may take at the leader (a blob's proofs included).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &Peer) -> Connection {
        Connection {
            client: self.client(target, node).map_err(Arc::new),
            target,
            node: node.clone(),
            timeouts: self.shared.timeouts,
        }
    }
}

/// A handle on the pooled client of one peer.
pub struct Connection {
    client: std::result::Result<reqwest::Client, Arc<ConsensusError>>,
    target: NodeId,
    node: Peer,
    timeouts: Timeouts,
}

enum SendError {
    Unreachable(Unreachable),
    Network(NetworkError),
}

impl SendError {
    fn rpc<E: std::error::Error>(self) -> RPCError<NodeId, Peer, E> {
        match self {
            SendError::Unreachable(e) => RPCError::Unreachable(e),
            SendError::Network(e) => RPCError::Network(e),
        }
    }
}

impl Connection {
    async fn send(
        &self,
        route: &str,
        body: Vec<u8>,
        ttl: Duration,
    ) -> Result<bytes::Bytes, SendError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| SendError::Unreachable(Unreachable::new(e.as_ref())))?;
        let resp = client
            .post(format!("https://{}/raft/{route}", self.node.addr))
            .timeout(ttl)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    SendError::Unreachable(Unreachable::new(&e))
                } else {
                    SendError::Network(NetworkError::new(&e))
                }
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| SendError::Network(NetworkError::new(&e)))?;
        if !status.is_success() {
            let reason = ConsensusError::Transport(format!(
                "peer {} answered {status} on /raft/{route}: {}",
                self.target,
                String::from_utf8_lossy(&bytes)
            ));
            return Err(SendError::Network(NetworkError::new(&reason)));
        }
        Ok(bytes)
    }

    async fn rpc<Req, Resp, E>(
        &self,
        route: &str,
        req: &Req,
        ttl: Duration,
    ) -> std::result::Result<Resp, RPCError<NodeId, Peer, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let bytes = self.send(route, body, ttl).await.map_err(SendError::rpc)?;
        let answer: std::result::Result<Resp, RaftError<NodeId, E>> =
            serde_json::from_slice(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        answer.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> std::result::Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>>
    {
        self.rpc("append", &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> std::result::Result<VoteResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>> {
        self.rpc("vote", &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> std::result::Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Peer, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc("snapshot-chunk", &rpc, option.hard_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> std::result::Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>>
    {
        let header = serde_json::to_vec(&SnapshotHeader {
            vote,
            meta: snapshot.meta.clone(),
        })
        .map_err(|e| NetworkError::new(&e))?;
        let data = snapshot.snapshot.into_inner();
        let len = u32::try_from(header.len()).map_err(|e| NetworkError::new(&e))?;
        let mut body = Vec::with_capacity(4 + header.len() + data.len());
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&header);
        body.extend_from_slice(&data);
        let bytes = tokio::select! {
            sent = self.send("snapshot", body, self.timeouts.snapshot) => sent.map_err(|e| match e {
                SendError::Unreachable(e) => StreamingError::Unreachable(e),
                SendError::Network(e) => StreamingError::Network(e),
            })?,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        let answer: std::result::Result<SnapshotResponse<NodeId>, Fatal<NodeId>> =
            serde_json::from_slice(&bytes).map_err(|e| NetworkError::new(&e))?;
        answer.map_err(|f| {
            StreamingError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                f,
            ))
        })
    }
}
