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
use super::types::{NodeId, Raft, Snapshot, TypeConfig, node_id_of};

/// Largest request body accepted (a whole snapshot comes in one request).
pub const MAX_REQUEST_BYTES: usize = 1 << 30;

/// A running peer endpoint.
#[derive(Debug)]
pub struct PeerServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl PeerServer {
    /// Serves Raft RPCs for `raft` on `listener`, with TLS credentials `tls` and
    /// peers admitted by `allow`.
    pub fn start(
        listener: TcpListener,
        tls: &TlsIdentity,
        allow: Allow,
        raft: Raft,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map_err(|e| ConsensusError::Transport(e.to_string()))?;
        let acceptor = TlsAcceptor::from(Arc::new(tls.server_config(allow)?));
        let task = tokio::spawn(accept_loop(listener, acceptor, raft));
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

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, raft: Raft) {
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
        let (acceptor, raft) = (acceptor.clone(), raft.clone());
        conns.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%remote, error = %e, "peer handshake refused");
                    return;
                }
            };
            // The verifier already required an allowed endorsement; this names the peer.
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(endorsing_identity)
                .map(|identity| node_id_of(&identity));
            let Some(peer) = peer else { return };
            let service = hyper::service::service_fn(move |req| handle(raft.clone(), peer, req));
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
    raft: Raft,
    peer: NodeId,
    req: Request<hyper::body::Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
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
        _ => status(StatusCode::NOT_FOUND, "no such route"),
    };
    Ok(resp)
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
