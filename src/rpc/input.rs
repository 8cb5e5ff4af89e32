//! Requests geth refuses before any method runs, refused the same way.
//!
//! [`InputLayer`] (jsonrpsee RPC middleware, outside the read policy) answers, for single
//! calls and for every call inside a batch:
//!
//! - parameters [`params::check`] refuses (more than the method takes, quantities with
//!   leading zeros): `-32602` with geth's message;
//! - `eth_subscribe` over HTTP: geth's `-32601` "notifications not supported";
//! - an `id` that is an object, an array, a fractional number or a boolean: `-32600`
//!   "invalid request" with `id: null` (geth's answer to the first two; JSON-RPC 2.0
//!   allows only strings, integers and null).
//!
//! jsonrpsee reads a request whose `id` it cannot represent as a notification (it has
//! no `id` field of its own), and answers notifications with nothing. Over HTTP the raw
//! body, kept by [`RawBodyLayer`], tells the two apart: a true notification (no `id`
//! member) still gets no answer. A WebSocket message is not kept, so there every message
//! jsonrpsee reads as a notification is answered `-32600`: coco runs no notification
//! (jsonrpsee drops them), and this says so rather than staying silent.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::server::http::response;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::INVALID_PARAMS;
use super::params;

/// JSON-RPC's code for an invalid request object.
pub const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC's code for an unknown method, which geth also gives subscriptions over HTTP.
pub const METHOD_NOT_FOUND: i32 = -32601;

/// The body of an HTTP request, as it arrived (attached to the request's extensions by
/// [`RawBodyLayer`]; absent on WebSocket connections).
#[derive(Debug, Clone)]
pub struct RawBody(Bytes);

fn invalid_request() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_REQUEST, "invalid request", None::<()>)
}

fn notifications_unsupported() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(METHOD_NOT_FOUND, "notifications not supported", None::<()>)
}

/// What [`InputLayer`] answers instead of the method, if anything.
fn refusal(req: &Request<'_>) -> Option<ErrorObjectOwned> {
    let method = req.method_name();
    if method == "eth_subscribe" && req.extensions().get::<RawBody>().is_some() {
        return Some(notifications_unsupported());
    }
    params::check(method, req.params.as_ref().map(|p| p.get()))
        .err()
        .map(|message| ErrorObjectOwned::owned(INVALID_PARAMS, message, None::<()>))
}

/// A request object's `id` member, present or not (`null` reads as absent, and is a
/// valid id anyway).
#[derive(Deserialize)]
struct IdMember<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// Whether the request object `json` has an `id` member.
fn has_id(json: &str) -> bool {
    serde_json::from_str::<IdMember<'_>>(json).is_ok_and(|m| m.id.is_some())
}

/// Whether a call jsonrpsee read as a notification was one with an `id` it could not
/// represent: `element` is its place in the batch, `None` for a single call. Without
/// the raw body (WebSocket) it cannot be told, and is taken to be.
fn malformed_id(raw: Option<&RawBody>, element: Option<usize>) -> bool {
    let Some(RawBody(body)) = raw else {
        return true;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    match element {
        None => has_id(text),
        Some(i) => serde_json::from_str::<Vec<&RawValue>>(text)
            .ok()
            .and_then(|elements| elements.get(i).map(|e| has_id(e.get())))
            .unwrap_or(false),
    }
}

/// jsonrpsee middleware refusing bad input as geth does (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct InputLayer;

impl<S> tower::Layer<S> for InputLayer {
    type Service = InputService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InputService { inner }
    }
}

/// See [`InputLayer`].
#[derive(Debug, Clone)]
pub struct InputService<S> {
    inner: S,
}

impl<S> RpcServiceT for InputService<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let refused = refusal(&req);
        let inner = self.inner.clone();
        async move {
            match refused {
                Some(error) => MethodResponse::error(req.id, error),
                None => inner.call(req).await,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // jsonrpsee keeps the batch's order: entry i is element i of the body.
        let entries = batch
            .into_iter()
            .enumerate()
            .map(|(i, entry)| match entry {
                Ok(BatchEntry::Call(req)) => match refusal(&req) {
                    Some(error) => Err(BatchEntryErr::new(req.id, error)),
                    None => Ok(BatchEntry::Call(req)),
                },
                Ok(BatchEntry::Notification(n)) => {
                    if malformed_id(n.extensions().get::<RawBody>(), Some(i)) {
                        Err(BatchEntryErr::new(Id::Null, invalid_request()))
                    } else {
                        Ok(BatchEntry::Notification(n))
                    }
                }
                Err(err) => Err(err),
            })
            .collect();
        self.inner.batch(Batch::from(entries))
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        let inner = self.inner.clone();
        async move {
            if malformed_id(n.extensions().get::<RawBody>(), None) {
                MethodResponse::error(Id::Null, invalid_request())
            } else {
                inner.notification(n).await
            }
        }
    }
}

/// HTTP middleware reading a `POST` body (within the request size limit, as jsonrpsee
/// would) and attaching it to the request as [`RawBody`] before jsonrpsee reads it.
#[derive(Debug, Clone, Copy)]
pub struct RawBodyLayer {
    max_request_body: u32,
}

impl RawBodyLayer {
    /// A layer refusing bodies over `max_request_body` bytes, as jsonrpsee does.
    pub fn new(max_request_body: u32) -> Self {
        Self { max_request_body }
    }
}

impl<S> tower::Layer<S> for RawBodyLayer {
    type Service = RawBodyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawBodyService {
            inner,
            max_request_body: self.max_request_body,
        }
    }
}

/// See [`RawBodyLayer`].
#[derive(Debug, Clone)]
pub struct RawBodyService<S> {
    inner: S,
    max_request_body: u32,
}

impl<S, B> tower::Service<HttpRequest<B>> for RawBodyService<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        // The clone is ready only after its own poll_ready; take the one that was polled.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if req.method() != http::Method::POST {
            return Box::pin(inner.call(req.map(HttpBody::new)));
        }
        let max = self.max_request_body;
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            // jsonrpsee reads the copy passed on as it would have read the original
            // (content type, emptiness, JSON); only the size limit is applied here first.
            let body = match Limited::new(body, max as usize).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<LengthLimitError>() => return Ok(response::too_large(max)),
                Err(e) => {
                    tracing::debug!(error = %e, "reading a request body failed");
                    return Ok(response::internal_error());
                }
            };
            parts.extensions.insert(RawBody(body.clone()));
            let body = HttpBody::new(Full::new(body));
            inner.call(HttpRequest::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawBody {
        RawBody(Bytes::from(text.to_string()))
    }

    #[test]
    fn a_malformed_id_is_told_from_a_notification_over_http() {
        let single = raw(r#"{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}"#);
        assert!(malformed_id(Some(&single), None));
        let notification = raw(r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#);
        assert!(!malformed_id(Some(&notification), None));
        let batch = raw(r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},
                {"jsonrpc":"2.0","method":"eth_chainId"},
                {"jsonrpc":"2.0","id":true,"method":"eth_chainId"}]"#);
        assert!(!malformed_id(Some(&batch), Some(1)));
        assert!(malformed_id(Some(&batch), Some(2)));
        assert!(!malformed_id(Some(&batch), Some(7)), "no such element");
        assert!(malformed_id(None, None), "WebSocket: cannot be told");
    }
}
