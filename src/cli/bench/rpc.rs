//! A small JSON-RPC 2.0 client over HTTP (reqwest): batches, typed results.

use std::time::Duration;

use alloy::primitives::{B256, U64};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{BenchError, rpc_err};

/// A JSON-RPC reply; `result` is decoded by the caller's type.
#[derive(Deserialize)]
pub(super) struct Reply<T> {
    pub(super) id: Option<u64>,
    pub(super) result: Option<T>,
    pub(super) error: Option<Value>,
}

/// A batch answer, or one error object when the whole batch was refused.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Replies<T> {
    /// One reply per call.
    Many(Vec<Reply<T>>),
    /// A single reply.
    One(Reply<T>),
}

/// The part of a receipt the benchmark reads.
#[derive(Deserialize)]
pub(super) struct ReceiptLite {
    #[serde(rename = "transactionHash")]
    pub(super) hash: B256,
    pub(super) status: Option<U64>,
    #[serde(rename = "blockNumber")]
    pub(super) block: Option<U64>,
}

/// A JSON-RPC client over one pooled HTTP client.
#[derive(Clone)]
pub(super) struct Rpc {
    http: reqwest::Client,
    url: String,
}

impl Rpc {
    pub(super) fn new(url: &str, timeout: Duration) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(timeout);
        let url = url.to_string();
        Ok(Self {
            http: http.build()?,
            url,
        })
    }

    pub(super) async fn post(&self, body: String) -> Result<Vec<u8>, BenchError> {
        let request = self.http.post(&self.url).body(body);
        let response = request
            .header("content-type", "application/json")
            .send()
            .await?;
        Ok(response.bytes().await?.to_vec())
    }

    /// Calls in one batch; each answer decoded as `T` in order (`None`: a null result).
    pub(super) async fn batch<T: DeserializeOwned>(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Option<T>>, BenchError> {
        let method = calls.first().map_or("batch", |c| c.0);
        let mut body: Vec<Value> = (calls.iter().enumerate())
            .map(|(id, (m, p))| json!({"jsonrpc": "2.0", "id": id, "method": m, "params": p}))
            .collect();
        // One call goes as a plain request, as a client would send it.
        let body = match body.len() {
            1 => body.pop().unwrap_or_default(),
            _ => Value::Array(body),
        };
        let bytes = self.post(body.to_string()).await?;
        let mut replies = match serde_json::from_slice(&bytes).map_err(|e| rpc_err(method, e))? {
            Replies::Many(replies) => replies,
            Replies::One(reply) => vec![reply],
        };
        // Servers may answer a batch in any order.
        replies.sort_by_key(|r| r.id);
        if replies.len() != calls.len() {
            let message = format!("{} answers to {} calls", replies.len(), calls.len());
            return Err(rpc_err(method, message));
        }
        (replies.into_iter())
            .map(|r| match r.error {
                Some(e) => Err(rpc_err(method, e)),
                None => Ok(r.result),
            })
            .collect()
    }

    /// One call (a plain request) whose result must not be null.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, BenchError> {
        let mut answers = self.batch(&[(method, params)]).await?;
        answers
            .pop()
            .flatten()
            .ok_or_else(|| rpc_err(method, "null result"))
    }

    pub(super) async fn block_number(&self) -> Result<u64, BenchError> {
        Ok(self.call::<U64>("eth_blockNumber", json!([])).await?.to())
    }
}
