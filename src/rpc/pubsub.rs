//! `eth_subscribe` over WebSocket, with geth's kinds and shapes.
//!
//! - `newHeads`: the RPC header of each new block (as in `eth_getBlockByNumber`).
//! - `logs`: each log of a new block matching the optional `address` / `topics` filter,
//!   one notification per log.
//! - `newPendingTransactions`: the hash of each transaction entering the pool, or the
//!   whole transaction object when the second parameter is `true`.
//! - `syncing`: accepted and silent, as this node is never syncing.
//!
//! Anything else is refused with invalid params. Each subscription listens on its own
//! receiver of the chain's broadcast channels, opened before the subscription is
//! accepted, so nothing that happens after the reply is missed. A subscriber too slow
//! for the channel skips what it missed (logged at debug); a closed connection or
//! `eth_unsubscribe` ends its task.

use alloy::consensus::Transaction as _;
use alloy::consensus::TxReceipt as _;
use std::sync::Arc;

use super::auth::{Caller, caller_of};
use alloy::rpc::types::pubsub::{Params, SubscriptionKind};
use alloy::rpc::types::{Filter, Log};
use jsonrpsee::Extensions;
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::types::SubscriptionId;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionSink};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast::{self, error::RecvError};

use super::api::EthPubSubApiServer;
use super::convert;
use super::error::RpcError;
use super::filters::check_log_filter;
use crate::chain::Chain;
use crate::state::StoredBlock;

/// What one subscription streams.
#[derive(Debug, Clone, PartialEq)]
enum Stream {
    /// Headers of new blocks.
    Heads,
    /// Matching logs of new blocks.
    Logs(Box<Filter>),
    /// Transactions entering the pool: hashes, or full objects when `true`.
    Pending { full: bool },
    /// Sync status changes (there are none).
    Syncing,
}

/// The stream a subscription request asks for, or why it is refused.
fn stream_for(kind: SubscriptionKind, params: Option<Params>) -> Result<Stream, RpcError> {
    let stream = match (kind, params.unwrap_or_default()) {
        (SubscriptionKind::NewHeads, Params::None) => Stream::Heads,
        (SubscriptionKind::Logs, Params::None) => Stream::Logs(Box::default()),
        (SubscriptionKind::Logs, Params::Logs(filter)) => {
            check_log_filter(&filter)?;
            Stream::Logs(filter)
        }
        (SubscriptionKind::NewPendingTransactions, Params::None) => Stream::Pending { full: false },
        (SubscriptionKind::NewPendingTransactions, Params::Bool(full)) => Stream::Pending { full },
        (SubscriptionKind::Syncing, Params::None) => Stream::Syncing,
        (SubscriptionKind::TransactionReceipts, _) => {
            return Err(RpcError::InvalidParams(format!(
                "unsupported subscription kind: {kind}"
            )));
        }
        (kind, _) => {
            return Err(RpcError::InvalidParams(format!(
                "invalid parameters for a {kind} subscription"
            )));
        }
    };
    Ok(stream)
}

/// Subscription ids as geth makes them: random 128-bit hex quantities.
#[derive(Debug, Clone, Copy, Default)]
pub struct EthSubscriptionIdProvider;

impl IdProvider for EthSubscriptionIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format!("{:#x}", rand::random::<u128>()).into())
    }
}

/// The `eth_subscribe` implementation over a chain.
#[derive(Debug, Clone)]
pub struct EthPubSub {
    chain: Arc<Chain>,
}

impl EthPubSub {
    /// Subscriptions to `chain`'s blocks and pool.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

#[async_trait]
impl EthPubSubApiServer for EthPubSub {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        ext: &Extensions,
        kind: SubscriptionKind,
        params: Option<Params>,
    ) -> SubscriptionResult {
        // Items are filtered for the caller who subscribed, as every read is.
        let caller = caller_of(ext);
        let stream = match stream_for(kind, params) {
            Ok(stream) => stream,
            Err(err) => {
                pending.reject(ErrorObjectOwned::from(err)).await;
                return Ok(());
            }
        };
        match stream {
            Stream::Heads => {
                let blocks = self.chain.subscribe_blocks();
                let Ok(sink) = pending.accept().await else {
                    return Ok(());
                };
                forward(
                    sink,
                    &caller,
                    blocks,
                    "newHeads",
                    |block: &Arc<StoredBlock>| raw(&convert::header(block)).into_iter().collect(),
                )
                .await;
            }
            Stream::Logs(filter) => {
                let blocks = self.chain.subscribe_blocks();
                let Ok(sink) = pending.accept().await else {
                    return Ok(());
                };
                let chain = self.chain.clone();
                forward(sink, &caller, blocks, "logs", |block: &Arc<StoredBlock>| {
                    let governance = chain.governance();
                    matching_logs(block, &filter)
                        .iter()
                        .filter(|log| {
                            let sender = log
                                .transaction_index
                                .and_then(|i| block.senders.get(i as usize));
                            sender.is_some_and(|s| caller.sees_log(s, &log.inner, &governance))
                        })
                        .filter_map(raw)
                        .collect()
                })
                .await;
            }
            Stream::Pending { full } => {
                let txs = self.chain.subscribe_pending();
                let Ok(sink) = pending.accept().await else {
                    return Ok(());
                };
                forward(sink, &caller, txs, "newPendingTransactions", |tx| {
                    if !caller.can_see_transaction(&tx.tx.signer(), tx.tx.to().as_ref()) {
                        return Vec::new();
                    }
                    let item = if full {
                        raw(&convert::pending_transaction(&tx.tx))
                    } else {
                        raw(&tx.hash)
                    };
                    item.into_iter().collect()
                })
                .await;
            }
            Stream::Syncing => {
                let Ok(sink) = pending.accept().await else {
                    return Ok(());
                };
                let never = broadcast::channel::<()>(1);
                forward(sink, &caller, never.1, "syncing", |_| Vec::new()).await;
            }
        }
        Ok(())
    }
}

/// The logs of `block` that match `filter`.
fn matching_logs(block: &StoredBlock, filter: &Filter) -> Vec<Log> {
    // Receipts' blooms, not the header's: under the confidential policy the header
    // carries the bloom of public logs only.
    if !block
        .receipts
        .iter()
        .any(|r| filter.matches_bloom(r.bloom()))
    {
        return Vec::new();
    }
    let hash = block.header.hash_slow();
    (0..block.transactions.len())
        .flat_map(|i| convert::logs_at(block, hash, i))
        .filter(|log| filter.rpc_matches(log))
        .collect()
}

/// `value` as JSON for a notification; `None` (logged) if it cannot be serialised.
fn raw(value: &impl Serialize) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(value)
        .inspect_err(|e| tracing::error!(error = %e, "cannot serialise a notification"))
        .ok()
}

/// How often a quiet subscription checks that its key is still valid.
const KEY_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Sends `items(event)` for every event of `events` until the subscriber goes away, the
/// channel closes or `owner`'s key is revoked, logged out or expires (checked before
/// every delivery, and every [`KEY_CHECK_EVERY`] when quiet). Events missed by a slow
/// subscriber are skipped.
async fn forward<T: Clone>(
    sink: SubscriptionSink,
    owner: &Caller,
    mut events: broadcast::Receiver<T>,
    kind: &'static str,
    mut items: impl FnMut(&T) -> Vec<Box<RawValue>>,
) {
    let mut check = tokio::time::interval(KEY_CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return,
            _ = check.tick() => {
                if !owner.is_current() {
                    return;
                }
                continue;
            }
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                if !owner.is_current() {
                    return;
                }
                for item in items(&event) {
                    if sink.send(item).await.is_err() {
                        return;
                    }
                }
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(kind, skipped, "subscriber lagged behind; skipping");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256};

    fn params(json: &str) -> Option<Params> {
        Some(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn kinds_and_params_map_to_streams() {
        assert_eq!(
            stream_for(SubscriptionKind::NewHeads, None).unwrap(),
            Stream::Heads
        );
        assert_eq!(
            stream_for(SubscriptionKind::NewPendingTransactions, None).unwrap(),
            Stream::Pending { full: false }
        );
        assert_eq!(
            stream_for(SubscriptionKind::NewPendingTransactions, params("true")).unwrap(),
            Stream::Pending { full: true }
        );
        assert_eq!(
            stream_for(SubscriptionKind::Logs, None).unwrap(),
            Stream::Logs(Box::default())
        );
        let one = Address::repeat_byte(1);
        let two = Address::repeat_byte(2);
        let topic = B256::repeat_byte(3);
        let json = format!(r#"{{"address":["{one}","{two}"],"topics":[["{topic}"],null]}}"#);
        let Stream::Logs(filter) = stream_for(SubscriptionKind::Logs, params(&json)).unwrap()
        else {
            panic!("not a logs stream");
        };
        assert!(filter.matches_address(one) && filter.matches_address(two));
        assert!(!filter.matches_address(Address::ZERO));
        assert!(filter.matches_topics(&[topic, B256::ZERO]));
        assert!(!filter.matches_topics(&[B256::ZERO]));
        let json = format!(r#"{{"address":"{one}"}}"#);
        let Stream::Logs(filter) = stream_for(SubscriptionKind::Logs, params(&json)).unwrap()
        else {
            panic!("not a logs stream");
        };
        assert!(filter.matches_address(one) && !filter.matches_address(two));
    }

    #[test]
    fn bad_kinds_and_params_are_invalid_params() {
        let cases = [
            (SubscriptionKind::NewHeads, params("true")),
            (SubscriptionKind::NewPendingTransactions, params("{}")),
            (SubscriptionKind::Logs, params("true")),
            (SubscriptionKind::TransactionReceipts, None),
            (SubscriptionKind::Logs, params(r#"{"fromBlock":"pending"}"#)),
        ];
        for (kind, params) in cases {
            let err = ErrorObjectOwned::from(stream_for(kind, params).unwrap_err());
            assert_eq!(err.code(), super::super::error::INVALID_PARAMS, "{kind}");
        }
        // An unknown kind fails to parse (jsonrpsee answers invalid params).
        assert!(serde_json::from_str::<SubscriptionKind>(r#""newBlocks""#).is_err());
    }

    #[test]
    fn subscription_ids_are_hex_quantities() {
        let SubscriptionId::Str(id) = EthSubscriptionIdProvider.next_id() else {
            panic!("not a string id");
        };
        let digits = id.strip_prefix("0x").expect("0x prefix");
        assert!(u128::from_str_radix(digits, 16).is_ok(), "{id}");
        assert!(digits == "0" || !digits.starts_with('0'), "{id}");
        assert_ne!(
            EthSubscriptionIdProvider.next_id(),
            EthSubscriptionIdProvider.next_id()
        );
    }
}
