//! Read-your-writes across validators: a request may carry `coco-min-block: N`
//! (decimal or `0x` hex), and is served only once this node's head has reached block N.
//!
//! A validator applies a committed block a moment after the leader does, so a receipt
//! the leader just served may not be on a follower yet (at most one apply behind). A
//! client that read block N anywhere sends `coco-min-block: N` with its next requests,
//! to any node, and sees at least that state. A single call waits up to
//! [`MAX_WAIT`] and then answers `block N not reached within 5 s (head M)` (-32000); a
//! batch waits the same way and is then served as of the head.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Request};

use super::error::SERVER_ERROR;
use crate::chain::Chain;

/// The request header naming the block a request must see.
pub const MIN_BLOCK_HEADER: &str = "coco-min-block";
/// The longest a request waits for its block.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// The block an HTTP request asked to see (`coco-min-block`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinBlock(pub u64);

impl MinBlock {
    /// The header's value, if the request has a well-formed one.
    pub fn of(headers: &http::HeaderMap) -> Option<Self> {
        let text = headers.get(MIN_BLOCK_HEADER)?.to_str().ok()?.trim();
        let n = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok()?,
            None => text.parse().ok()?,
        };
        Some(Self(n))
    }
}

/// How far past the head a request may ask: a block further away will not come within
/// [`MAX_WAIT`], so such a request is answered at once rather than held.
pub const MAX_AHEAD: u64 = 100;

/// Waits until `chain`'s head is at least `n`, up to [`MAX_WAIT`] (not at all for a
/// block more than [`MAX_AHEAD`] past the head); true if reached.
pub async fn reach(chain: &Chain, n: u64) -> bool {
    if n > chain.head().header.number.saturating_add(MAX_AHEAD) {
        return false;
    }
    let mut blocks = chain.subscribe_blocks();
    let wait = async {
        while chain.head().header.number < n {
            if blocks.recv().await.is_err() {
                // Lagged or closed: re-read the head (and subscribe again if closed).
                blocks = chain.subscribe_blocks();
            }
        }
    };
    tokio::time::timeout(MAX_WAIT, wait).await.is_ok()
}

/// The RPC layer holding requests until their [`MinBlock`] is reached.
#[derive(Debug, Clone)]
pub struct ConsistencyLayer {
    chain: Arc<Chain>,
}

impl ConsistencyLayer {
    /// Waits on `chain`'s head.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

impl<S> tower::Layer<S> for ConsistencyLayer {
    type Service = ConsistencyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConsistencyService {
            inner,
            chain: self.chain.clone(),
        }
    }
}

/// See [`ConsistencyLayer`].
#[derive(Debug, Clone)]
pub struct ConsistencyService<S> {
    inner: S,
    chain: Arc<Chain>,
}

impl<S> RpcServiceT for ConsistencyService<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let (inner, chain) = (self.inner.clone(), self.chain.clone());
        let wanted = req.extensions().get::<MinBlock>().copied();
        async move {
            if let Some(MinBlock(n)) = wanted
                && !reach(&chain, n).await
            {
                let head = chain.head().header.number;
                let message = if n > head.saturating_add(MAX_AHEAD) {
                    format!("block {n} is more than {MAX_AHEAD} blocks past the head ({head})")
                } else {
                    format!(
                        "block {n} not reached within {} s (head {head})",
                        MAX_WAIT.as_secs()
                    )
                };
                let error = ErrorObjectOwned::owned(SERVER_ERROR, message, None::<()>);
                return MethodResponse::error(req.id, error);
            }
            inner.call(req).await
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let (inner, chain) = (self.inner.clone(), self.chain.clone());
        let wanted = batch
            .iter()
            .filter_map(|entry| match entry {
                Ok(BatchEntry::Call(req)) => req.extensions().get::<MinBlock>().copied(),
                Ok(BatchEntry::Notification(n)) => n.extensions().get::<MinBlock>().copied(),
                Err(_) => None,
            })
            .map(|m| m.0)
            .max();
        async move {
            if let Some(n) = wanted {
                reach(&chain, n).await;
            }
            inner.batch(batch).await
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_decimal_or_hex() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(MinBlock::of(&headers), None);
        headers.insert(MIN_BLOCK_HEADER, "17".parse().unwrap());
        assert_eq!(MinBlock::of(&headers), Some(MinBlock(17)));
        headers.insert(MIN_BLOCK_HEADER, "0x11".parse().unwrap());
        assert_eq!(MinBlock::of(&headers), Some(MinBlock(17)));
        headers.insert(MIN_BLOCK_HEADER, "latest".parse().unwrap());
        assert_eq!(MinBlock::of(&headers), None);
    }
}
