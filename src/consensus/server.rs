//! The peer endpoint: HTTPS (hyper 1 over tokio-rustls) dispatching Raft RPCs.
//!
//! Every connection completes a mutual-TLS handshake whose verifier admits only
//! certificates endorsed by an allowed validator key (see [`super::tls`]). The
//! endorsing key names the peer ([`node_id_of`]); a request that claims another leader
//! or candidate than the peer itself is refused with 403, so a validator cannot speak
//! for another one.
//!
//! Connections are tasks owned by the accept loop: stopping the server
//! ([`PeerServer::stop`], or dropping it) closes them all, so a stopped node holds no
//! keep-alive connection its peers would keep talking to.

use std::convert::Infallible;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::error::{ConsensusError, Result};
use super::network::SnapshotHeader;
use super::tls::{Allow, TlsIdentity, endorsing_identity};
use super::types::{NodeId, Peer, Raft, Snapshot, TypeConfig, node_id_of};
use super::validator::{JoinGrant, JoinRequest, NotLeader, Verdict, admit, quorum_refusal};
use crate::chain::{Chain, TxError};
use coco_enclave::LedgerSecret;

/// Largest request body accepted (a whole snapshot comes in one request).
pub const MAX_REQUEST_BYTES: usize = 1 << 30;

/// A running peer endpoint.
#[derive(Debug)]
pub struct PeerServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// What a validator's endpoint serves beside Raft: transactions forwarded to the
/// leader and join requests.
pub struct Services {
    /// The chain the leader pools forwarded transactions in.
    pub chain: Arc<Chain>,
    /// The ledger secret handed to joining validators, sealed to their keys.
    pub secret: LedgerSecret,
    /// What another validator pushed to `/session` (a SIWE session made, widened or
    /// ended there) goes to this handler, once the node sets it.
    pub sessions: std::sync::OnceLock<PushHandler>,
}

/// Takes a body another validator pushed.
pub type PushHandler = Arc<dyn Fn(&[u8]) + Send + Sync>;

impl PeerServer {
    /// Serves Raft RPCs for `raft` on `listener`, with TLS credentials `tls` and
    /// peers admitted by `allow`.
    pub fn start(
        listener: TcpListener,
        tls: &TlsIdentity,
        allow: Allow,
        raft: Raft,
    ) -> Result<Self> {
        Self::serve(listener, tls, allow, raft, None)
    }

    /// [`PeerServer::start`], also serving `services` (`/tx`, `/join`). `allow` is
    /// checked again on every request, so a validator governance retired is cut off
    /// on its open connections too.
    pub fn serve(
        listener: TcpListener,
        tls: &TlsIdentity,
        allow: Allow,
        raft: Raft,
        services: Option<Arc<Services>>,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        let acceptor = TlsAcceptor::from(Arc::new(tls.server_config(allow.clone())?));
        let context = Arc::new(Context {
            raft,
            allow,
            services,
        });
        let task = tokio::spawn(accept_loop(listener, acceptor, context));
        Ok(Self { addr, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes every connection.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Context {
    raft: Raft,
    allow: Allow,
    services: Option<Arc<Services>>,
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, context: Arc<Context>) {
    // Dropped (and so aborted) with this future.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "peer endpoint: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let (acceptor, context) = (acceptor.clone(), context.clone());
        conns.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%remote, error = %e, "peer handshake refused");
                    return;
                }
            };
            // The verifier already required an allowed endorsement; this names the peer.
            let identity = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(endorsing_identity);
            let Some(identity) = identity else { return };
            let identity = Arc::new(identity);
            let service = hyper::service::service_fn(move |req| {
                handle(context.clone(), identity.clone(), req)
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%remote, error = %e, "peer connection ended");
            }
        });
    }
}

fn json<T: serde::Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => Response::new(Full::new(Bytes::from(body))),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn status(code: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reason.to_string())));
    *resp.status_mut() = code;
    resp
}

fn forbidden(peer: NodeId, claimed: Option<NodeId>) -> Response<Full<Bytes>> {
    status(
        StatusCode::FORBIDDEN,
        &format!("peer {peer} may not speak for node {claimed:?}"),
    )
}

async fn handle(
    context: Arc<Context>,
    identity: Arc<Vec<u8>>,
    req: Request<hyper::body::Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    if !(context.allow)(&identity) {
        return Ok(status(
            StatusCode::FORBIDDEN,
            "not a validator of this network",
        ));
    }
    let raft = context.raft.clone();
    let peer = node_id_of(&identity);
    let route = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => return Ok(status(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    let bad = |e: serde_json::Error| status(StatusCode::BAD_REQUEST, &e.to_string());
    let resp = match route.as_str() {
        "/raft/append" => match serde_json::from_slice::<AppendEntriesRequest<TypeConfig>>(&body) {
            Ok(rpc) if rpc.vote.leader_id().voted_for() == Some(peer) => {
                json(&raft.append_entries(rpc).await)
            }
            Ok(rpc) => forbidden(peer, rpc.vote.leader_id().voted_for()),
            Err(e) => bad(e),
        },
        "/raft/vote" => match serde_json::from_slice::<VoteRequest<NodeId>>(&body) {
            Ok(rpc) if rpc.vote.leader_id().voted_for() == Some(peer) => {
                json(&raft.vote(rpc).await)
            }
            Ok(rpc) => forbidden(peer, rpc.vote.leader_id().voted_for()),
            Err(e) => bad(e),
        },
        "/raft/snapshot-chunk" => {
            match serde_json::from_slice::<InstallSnapshotRequest<TypeConfig>>(&body) {
                Ok(rpc) if rpc.vote.leader_id().voted_for() == Some(peer) => {
                    json(&raft.install_snapshot(rpc).await)
                }
                Ok(rpc) => forbidden(peer, rpc.vote.leader_id().voted_for()),
                Err(e) => bad(e),
            }
        }
        "/raft/snapshot" => match split_snapshot(&body) {
            Ok((header, _)) if header.vote.leader_id().voted_for() != Some(peer) => {
                forbidden(peer, header.vote.leader_id().voted_for())
            }
            Ok((header, data)) => {
                let snapshot = Snapshot {
                    meta: header.meta,
                    snapshot: Box::new(Cursor::new(data.to_vec())),
                };
                json(&raft.install_full_snapshot(header.vote, snapshot).await)
            }
            Err(reason) => status(StatusCode::BAD_REQUEST, &reason),
        },
        "/ping" => status(StatusCode::OK, "ok"),
        "/session" => match context.services.as_ref().and_then(|s| s.sessions.get()) {
            Some(handler) => {
                handler(&body);
                status(StatusCode::OK, "ok")
            }
            None => status(StatusCode::NOT_FOUND, "no such route"),
        },
        "/tx" => match &context.services {
            Some(services) => forwarded_tx(&raft, services, body).await,
            None => status(StatusCode::NOT_FOUND, "no such route"),
        },
        "/join" => match (
            &context.services,
            serde_json::from_slice::<JoinRequest>(&body),
        ) {
            (Some(services), Ok(request)) => {
                join(&raft, services, &identity, request, context.allow.clone())
            }
            (None, _) => status(StatusCode::NOT_FOUND, "no such route"),
            (_, Err(e)) => bad(e),
        },
        _ => status(StatusCode::NOT_FOUND, "no such route"),
    };
    Ok(resp)
}

/// 421 with the leader's peer address, when this node does not lead.
fn not_leader(raft: &Raft) -> Option<Response<Full<Bytes>>> {
    let m = raft.metrics().borrow().clone();
    if m.state == openraft::ServerState::Leader {
        return None;
    }
    let leader = m
        .current_leader
        .and_then(|id| m.membership_config.membership().get_node(&id).cloned());
    let mut resp = json(&NotLeader {
        identity: leader.as_ref().map(|p| p.identity.clone()),
        leader: leader.map(|p| p.addr),
    });
    *resp.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    Some(resp)
}

/// `/tx`: a transaction another validator forwarded; the leader pools it (or refuses
/// it without a quorum) and answers the verdict.
async fn forwarded_tx(raft: &Raft, services: &Arc<Services>, body: Bytes) -> Response<Full<Bytes>> {
    if let Some(resp) = not_leader(raft) {
        return resp;
    }
    let verdict: Verdict = match quorum_refusal(raft).await {
        Some(refusal) => Err(refusal),
        None => {
            let chain = services.chain.clone();
            tokio::task::spawn_blocking(move || chain.submit_raw(&body))
                .await
                .unwrap_or(Err(TxError::Internal))
        }
    };
    json(&verdict)
}

/// `/join`: a validator governance lists (the handshake checked it) asks to take part.
/// The leader answers the ledger secret sealed to its identity key and adds it.
fn join(
    raft: &Raft,
    services: &Arc<Services>,
    identity: &[u8],
    request: JoinRequest,
    allow: Allow,
) -> Response<Full<Bytes>> {
    if let Some(resp) = not_leader(raft) {
        return resp;
    }
    let sealed = match coco_enclave::seal_ledger_secret_to(identity, &services.secret) {
        Ok(sealed) => sealed,
        Err(e) => return status(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    tokio::spawn(admit(
        raft.clone(),
        Peer::new(request.addr, identity.to_vec()),
        allow,
    ));
    json(&JoinGrant {
        secret: sealed.into(),
    })
}

/// Splits a whole-snapshot body: `[u32 BE header length][JSON header][data]`.
fn split_snapshot(body: &Bytes) -> std::result::Result<(SnapshotHeader, Bytes), String> {
    let len: [u8; 4] = body
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("snapshot body shorter than its length prefix")?;
    let end = 4usize.saturating_add(u32::from_be_bytes(len) as usize);
    let header = body.get(4..end).ok_or("snapshot header truncated")?;
    let header: SnapshotHeader = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    Ok((header, body.slice(end..)))
}
