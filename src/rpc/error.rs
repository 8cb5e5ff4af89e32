//! The one mapping from coco's errors to JSON-RPC error objects.
//!
//! Codes follow geth: `-32000` for transaction and state errors (tools match on the
//! message), `3` with the revert data for reverts, `-32602` for bad parameters,
//! `-32603` for internal failures (whose details go to the log, not the caller).
//!
//! Parameters that fail to parse never reach a method: jsonrpsee answers them itself,
//! with `-32602`, "Invalid params" and the parser's reason as `data`. geth sends the
//! reason as the message and no `data`; [`GethParamErrorsLayer`] rewrites jsonrpsee's
//! answers to that shape (for single calls; inside a batch jsonrpsee's answer stands).

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Request};

use crate::chain::{ChainError, TxError};
use crate::execution::CallError;
use crate::state::StateError;

/// geth's code for a revert.
pub const EXECUTION_REVERTED: i32 = 3;
/// geth's generic server error code (transaction and state errors).
pub const SERVER_ERROR: i32 = -32000;
/// Invalid params.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i32 = -32603;
/// A configured limit was exceeded.
pub const LIMIT_EXCEEDED: i32 = -32005;

/// Everything an RPC method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// A transaction was refused.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// A call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The block named does not exist.
    #[error("header not found")]
    HeaderNotFound,
    /// A parameter is invalid.
    #[error("{0}")]
    InvalidParams(String),
    /// A configured limit was exceeded.
    #[error("{0}")]
    Limit(String),
    /// No installed filter has this id (never installed, uninstalled, or expired).
    #[error("filter not found")]
    FilterNotFound,
    /// No mined transaction has this hash (geth's `debug_traceTransaction` message).
    #[error("transaction not found")]
    TransactionNotFound,
    /// A block named by hash or number does not exist (geth's text for traces and raw
    /// reads).
    #[error("block {0} not found")]
    BlockNotFound(String),
    /// A transaction given for a block cannot be included (geth's reason).
    #[error("{0}")]
    InvalidTransaction(String),
    /// The genesis block has no parent state to replay it on.
    #[error("genesis is not traceable")]
    GenesisNotTraceable,
    /// What was asked needs a fork the chain has not activated (named).
    #[error("{0} is not active on this chain yet")]
    ForkNotActive(&'static str),
    /// The read policy refuses the request.
    #[error("{0}")]
    NotAuthorized(String),
    /// The call ran past its time limit.
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(std::time::Duration),
    /// The node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Result of an RPC method.
pub type RpcResult<T> = Result<T, RpcError>;

impl From<RpcError> for ErrorObjectOwned {
    fn from(err: RpcError) -> Self {
        match err {
            RpcError::Call(CallError::Revert { output }) => {
                let message = CallError::Revert {
                    output: output.clone(),
                }
                .to_string();
                ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(output))
            }
            RpcError::Call(CallError::Request(msg)) | RpcError::InvalidParams(msg) => {
                ErrorObjectOwned::owned(INVALID_PARAMS, msg, None::<()>)
            }
            RpcError::Call(CallError::Db(e)) => state(&e.0),
            RpcError::Chain(ChainError::State(e)) => state(&e),
            RpcError::Chain(e) => internal(&e),
            RpcError::State(e) => state(&e),
            RpcError::Tx(TxError::Internal) => internal(&err),
            RpcError::NotAuthorized(msg) => {
                ErrorObjectOwned::owned(super::policy::NOT_AUTHORIZED, msg, None::<()>)
            }
            RpcError::Limit(msg) => ErrorObjectOwned::owned(LIMIT_EXCEEDED, msg, None::<()>),
            RpcError::Call(e @ CallError::TraceTooLarge(_)) => {
                ErrorObjectOwned::owned(LIMIT_EXCEEDED, e.to_string(), None::<()>)
            }
            other => ErrorObjectOwned::owned(SERVER_ERROR, other.to_string(), None::<()>),
        }
    }
}

/// jsonrpsee middleware giving parameter errors geth's shape (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct GethParamErrorsLayer;

impl<S> tower::Layer<S> for GethParamErrorsLayer {
    type Service = GethParamErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GethParamErrors { inner }
    }
}

/// See [`GethParamErrorsLayer`].
#[derive(Debug, Clone)]
pub struct GethParamErrors<S> {
    inner: S,
}

impl<S> RpcServiceT for GethParamErrors<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        async move {
            let id = req.id.clone();
            let response = inner.call(req).await;
            if response.as_error_code() != Some(INVALID_PARAMS) {
                return response;
            }
            match param_error_reason(response.as_json().get()) {
                Some(reason) => {
                    let extensions = response.extensions().clone();
                    let error = ErrorObjectOwned::owned(
                        INVALID_PARAMS,
                        format!("invalid argument: {reason}"),
                        None::<()>,
                    );
                    MethodResponse::error(id, error).with_extensions(extensions)
                }
                None => response,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// The parser's reason in a jsonrpsee "Invalid params" answer (its `data`), if the
/// answer is one.
fn param_error_reason(json: &str) -> Option<String> {
    let response: serde_json::Value = serde_json::from_str(json).ok()?;
    let error = response.get("error")?;
    match error.get("data")? {
        serde_json::Value::String(reason) => Some(reason.clone()),
        _ => None,
    }
}

/// Store failures: tampering is named (table only, never data); the rest is internal.
fn state(err: &StateError) -> ErrorObjectOwned {
    match err {
        StateError::Tampered { .. } => {
            tracing::error!(error = %err, "refusing to serve a record that failed authentication");
            ErrorObjectOwned::owned(INTERNAL_ERROR, err.to_string(), None::<()>)
        }
        other => internal(other),
    }
}

fn internal(err: &dyn std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(error = %err, "internal error serving a request");
    ErrorObjectOwned::owned(INTERNAL_ERROR, "internal error", None::<()>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, Bytes, U256};

    fn object(err: RpcError) -> ErrorObjectOwned {
        err.into()
    }

    #[test]
    fn revert_carries_code_3_reason_and_data() {
        // Error(string) with "nope".
        let data = alloy::sol_types::Revert::from("nope");
        let output = Bytes::from(alloy::sol_types::SolError::abi_encode(&data));
        let obj = object(RpcError::Call(CallError::Revert {
            output: output.clone(),
        }));
        assert_eq!(obj.code(), 3);
        assert_eq!(obj.message(), "execution reverted: nope");
        let got: Bytes = serde_json::from_str(obj.data().unwrap().get()).unwrap();
        assert_eq!(got, output);
    }

    #[test]
    fn tx_errors_use_geth_texts() {
        let cases = [
            (
                TxError::NonceTooLow {
                    sender: Address::ZERO,
                    figures: Some((1, 2)),
                },
                "nonce too low: next nonce 2, tx nonce 1",
            ),
            (
                TxError::Pool(crate::chain::pool::PoolError::AlreadyKnown),
                "already known",
            ),
            (
                TxError::Pool(crate::chain::pool::PoolError::ReplacementUnderpriced),
                "replacement transaction underpriced",
            ),
            (
                TxError::InsufficientFunds { detail: None },
                "insufficient funds for gas * price + value",
            ),
            (
                TxError::InsufficientFunds {
                    detail: Some((Address::ZERO, U256::from(1), U256::from(2))),
                },
                "insufficient funds for gas * price + value: address 0x0000000000000000000000000000000000000000 have 1 want 2",
            ),
            (TxError::GasLimitExceeded, "exceeds block gas limit"),
        ];
        for (err, text) in cases {
            let obj = object(RpcError::Tx(err));
            assert_eq!(obj.code(), SERVER_ERROR);
            assert_eq!(obj.message(), text);
        }
    }

    #[test]
    fn filter_not_found_is_geths_server_error() {
        let obj = object(RpcError::FilterNotFound);
        assert_eq!(obj.code(), SERVER_ERROR);
        assert_eq!(obj.message(), "filter not found");
    }

    #[test]
    fn transaction_not_found_is_geths_server_error() {
        let obj = object(RpcError::TransactionNotFound);
        assert_eq!(obj.code(), SERVER_ERROR);
        assert_eq!(obj.message(), "transaction not found");
    }

    #[test]
    fn trace_and_lookup_errors_are_geths_server_errors() {
        for (err, text) in [
            (RpcError::GenesisNotTraceable, "genesis is not traceable"),
            (
                RpcError::BlockNotFound("0x01".into()),
                "block 0x01 not found",
            ),
            (RpcError::HeaderNotFound, "header not found"),
        ] {
            let obj = object(err);
            assert_eq!(obj.code(), SERVER_ERROR);
            assert_eq!(obj.message(), text);
        }
    }

    #[test]
    fn jsonrpsee_param_errors_yield_their_reason() {
        let answer = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params","data":"hex string without 0x prefix"}}"#;
        assert_eq!(
            param_error_reason(answer).as_deref(),
            Some("hex string without 0x prefix")
        );
        let own = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"empty request"}}"#;
        assert_eq!(param_error_reason(own), None);
    }

    #[test]
    fn an_oversized_trace_is_a_limit() {
        let obj = object(RpcError::Call(CallError::TraceTooLarge(1024)));
        assert_eq!(obj.code(), LIMIT_EXCEEDED);
        assert_eq!(
            obj.message(),
            "tracer output exceeds the limit of 1024 bytes"
        );
    }

    #[test]
    fn internal_errors_hide_details() {
        let obj = object(RpcError::State(StateError::MissingBlock(7)));
        assert_eq!(obj.code(), INTERNAL_ERROR);
        assert_eq!(obj.message(), "internal error");
    }
}
