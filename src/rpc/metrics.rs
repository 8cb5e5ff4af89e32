//! `GET /metrics` on the RPC port: the node's metrics in Prometheus' text format
//! (OpenMetrics 1.0), rendered by the composition root at every scrape. Public, like
//! `txpool_status`: counts and gauges of the node and its cluster, no ledger data.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// Renders the metrics text.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The HTTP layer answering `GET /metrics` (before keys are read from the path).
#[derive(Clone)]
pub struct MetricsLayer {
    render: Option<Render>,
}

impl std::fmt::Debug for MetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer").finish_non_exhaustive()
    }
}

impl MetricsLayer {
    /// Serves `render`'s text; `None` serves nothing (every request passes on).
    pub fn new(render: Option<Render>) -> Self {
        Self { render }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            render: self.render.clone(),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    render: Option<Render>,
}

impl<S, B> tower::Service<HttpRequest<B>> for MetricsService<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if let Some(render) = &self.render
            && req.method() == http::Method::GET
            && req.uri().path() == "/metrics"
        {
            let render = render.clone();
            return Box::pin(async move {
                // Rendering reads the pool and Raft's metrics: cheap, but off the workers.
                let text = tokio::task::spawn_blocking(move || render())
                    .await
                    .unwrap_or_default();
                let mut resp = HttpResponse::new(HttpBody::new(Full::new(Bytes::from(text))));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(CONTENT_TYPE),
                );
                Ok(resp)
            });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(req))
    }
}
