//! A small JSON-RPC 2.0 client over HTTP (reqwest): batches, typed results, an
//! optional API key (`Authorization: Bearer`). `coco bench` and `coco gov` share it.

use std::time::Duration;

use alloy::primitives::{B256, Bytes, U64};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Why a call did not return a result.
#[derive(Debug, thiserror::Error)]
pub enum RpcClientError {
    /// The HTTP request failed (connection, timeout, body).
    #[error("HTTP request to the node failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The node answered with a JSON-RPC error object.
    #[error("{method}: {error}")]
    Node {
        /// The JSON-RPC method.
        method: String,
        /// The node's error object.
        error: Box<ErrorObject>,
    },
    /// The answer did not have the expected shape.
    #[error("{method}: {message}")]
    Answer {
        /// The JSON-RPC method.
        method: String,
        /// What was wrong with the answer.
        message: String,
    },
}

impl RpcClientError {
    fn answer(method: &str, message: impl ToString) -> Self {
        Self::Answer {
            method: method.into(),
            message: message.to_string(),
        }
    }

    /// The node's error object, when the node answered with one.
    pub fn node_error(&self) -> Option<&ErrorObject> {
        match self {
            Self::Node { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A JSON-RPC error object (`code`, `message`, optional `data`), and the raw object it
/// was read from.
#[derive(Debug, Clone)]
pub struct ErrorObject {
    /// The error code (`3`: a revert, `-32000`: a transaction refused, …).
    pub code: i64,
    /// The node's message.
    pub message: String,
    /// `data`, if any (a revert's output as hex for code 3).
    pub data: Option<Value>,
    raw: Value,
}

impl ErrorObject {
    /// Reads an error object; one without a numeric code or a message keeps code 0 and
    /// its JSON as the message.
    pub fn from_value(raw: Value) -> Self {
        let code = raw.get("code").and_then(Value::as_i64).unwrap_or_default();
        let message = match raw.get("message").and_then(Value::as_str) {
            Some(message) => message.to_string(),
            None => raw.to_string(),
        };
        Self {
            code,
            message,
            data: raw.get("data").cloned(),
            raw,
        }
    }

    /// `data` as bytes, when it is a hex string (a revert's output).
    pub fn data_bytes(&self) -> Option<Bytes> {
        self.data.as_ref()?.as_str()?.parse().ok()
    }
}

impl std::fmt::Display for ErrorObject {
    /// The whole object as JSON, as the node sent it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.raw)
    }
}

/// A JSON-RPC reply; `result` is decoded by the caller's type.
#[derive(Deserialize)]
pub struct Reply<T> {
    /// The request id it answers.
    pub id: Option<u64>,
    /// The result (absent on an error).
    pub result: Option<T>,
    /// The error object, if the call failed.
    pub error: Option<Value>,
}

/// A batch answer, or one error object when the whole batch was refused.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Replies<T> {
    /// One reply per call.
    Many(Vec<Reply<T>>),
    /// A single reply.
    One(Reply<T>),
}

/// The part of a receipt the benchmark reads.
#[derive(Deserialize)]
pub struct ReceiptLite {
    /// The transaction's hash.
    #[serde(rename = "transactionHash")]
    pub hash: B256,
    /// 1: success, 0: reverted.
    pub status: Option<U64>,
    /// The block that holds it.
    #[serde(rename = "blockNumber")]
    pub block: Option<U64>,
}

/// A JSON-RPC client over one pooled HTTP client. Its API key never appears in
/// `Debug` output (it has none).
#[derive(Clone)]
pub struct Rpc {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

impl Rpc {
    /// A client of the node at `url`; each request gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RpcClientError> {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(timeout);
        let url = url.to_string();
        Ok(Self {
            http: http.build()?,
            url,
            api_key: None,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `key` as `Authorization: Bearer <key>` from now on (`None`: no key).
    pub fn set_api_key(&mut self, key: Option<String>) {
        self.api_key = key;
    }

    /// True when requests carry an API key.
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The same client without an API key.
    pub fn anonymous(&self) -> Self {
        Self {
            api_key: None,
            ..self.clone()
        }
    }

    /// Posts a request body; the answer's bytes.
    pub async fn post(&self, body: String) -> Result<Vec<u8>, RpcClientError> {
        let mut request = self.http.post(&self.url).body(body);
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        // Without the URL in the error: it may carry an API key (`http://host/<key>`).
        let response = request
            .header("content-type", "application/json")
            .send()
            .await
            .map_err(|e| e.without_url())?;
        let body = response.bytes().await.map_err(|e| e.without_url())?;
        Ok(body.to_vec())
    }

    /// Calls in one batch; each answer decoded as `T` in order (`None`: a null result).
    pub async fn batch<T: DeserializeOwned>(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Option<T>>, RpcClientError> {
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
        let replies = serde_json::from_slice(&bytes).map_err(|e| {
            let text = String::from_utf8_lossy(&bytes);
            let text: String = text.chars().take(200).collect();
            RpcClientError::answer(method, format!("{e} (answer: {text})"))
        })?;
        let mut replies = match replies {
            Replies::Many(replies) => replies,
            Replies::One(reply) => vec![reply],
        };
        // Servers may answer a batch in any order.
        replies.sort_by_key(|r| r.id);
        if replies.len() != calls.len() {
            // A batch refused as a whole answers one error object.
            if let [Reply { error: Some(e), .. }] = replies.as_slice() {
                return Err(RpcClientError::Node {
                    method: method.into(),
                    error: Box::new(ErrorObject::from_value(e.clone())),
                });
            }
            let message = format!("{} answers to {} calls", replies.len(), calls.len());
            return Err(RpcClientError::answer(method, message));
        }
        (replies.into_iter().zip(calls))
            .map(|(r, (method, _))| match r.error {
                Some(e) => Err(RpcClientError::Node {
                    method: method.to_string(),
                    error: Box::new(ErrorObject::from_value(e)),
                }),
                None => Ok(r.result),
            })
            .collect()
    }

    /// One call (a plain request) whose result may be null (`None`).
    pub async fn call_opt<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Option<T>, RpcClientError> {
        let mut answers = self.batch(&[(method, params)]).await?;
        Ok(answers.pop().flatten())
    }

    /// One call (a plain request) whose result must not be null.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcClientError> {
        self.call_opt(method, params)
            .await?
            .ok_or_else(|| RpcClientError::answer(method, "null result"))
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, RpcClientError> {
        Ok(self.call::<U64>("eth_blockNumber", json!([])).await?.to())
    }
}
