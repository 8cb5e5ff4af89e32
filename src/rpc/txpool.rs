//! The `txpool_*` namespace, in geth's shapes: what the pool holds, split into
//! *pending* (ready: the sender's next nonce and the unbroken run after it) and *queued*
//! (behind a nonce gap, waiting for it to fill).
//!
//! Senders are keyed as geth keys them (EIP-55 checksummed), nonces as decimal strings.
//! A pooled transaction whose nonce the sender's state has already passed (possible
//! after `anvil_setNonce`) can never be mined: it is listed in neither part, as geth
//! would have dropped it.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, U64};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;

use super::convert::{self, PooledTransaction};
use super::error::RpcError;
use crate::chain::{Chain, PoolTx};

/// `txpool_status`: how many transactions are pending and queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TxPoolStatus {
    /// Ready transactions.
    pub pending: U64,
    /// Transactions behind a nonce gap.
    pub queued: U64,
}

/// One sender's transactions by nonce (decimal string).
pub type ByNonce<T> = BTreeMap<String, T>;

/// `txpool_content` and `txpool_inspect`: per sender (checksummed), per nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxPoolContent<T> {
    /// Ready transactions.
    pub pending: BTreeMap<String, ByNonce<T>>,
    /// Transactions behind a nonce gap.
    pub queued: BTreeMap<String, ByNonce<T>>,
}

/// `txpool_contentFrom`: one sender's transactions, per nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxPoolContentFrom<T> {
    /// Ready transactions.
    pub pending: ByNonce<T>,
    /// Transactions behind a nonce gap.
    pub queued: ByNonce<T>,
}

/// geth's `txpool` namespace.
#[rpc(server, namespace = "txpool")]
pub trait TxPoolApi {
    /// Numbers of pending and queued transactions.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxPoolStatus>;
    /// Every pooled transaction, as RPC transaction objects.
    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxPoolContent<PooledTransaction>>;
    /// One sender's pooled transactions, as RPC transaction objects.
    #[method(name = "contentFrom")]
    fn content_from(&self, address: Address) -> RpcResult<TxPoolContentFrom<PooledTransaction>>;
    /// Every pooled transaction as a one-line summary:
    /// `"<to>: <value> wei + <gas> gas × <fee cap> wei"`.
    #[method(name = "inspect")]
    fn inspect(&self) -> RpcResult<TxPoolContent<String>>;
}

/// The `txpool` namespace over a chain's pool.
#[derive(Debug, Clone)]
pub struct TxPoolRpc {
    chain: Arc<Chain>,
}

/// One sender's pooled transactions, split.
struct Split {
    sender: Address,
    pending: Vec<Arc<PoolTx>>,
    queued: Vec<Arc<PoolTx>>,
}

impl TxPoolRpc {
    /// The namespace over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }

    /// Every sender's transactions, split against its nonce after the latest block.
    fn snapshot(&self) -> Result<Vec<Split>, RpcError> {
        let mut by_sender: BTreeMap<Address, Vec<Arc<PoolTx>>> = BTreeMap::new();
        self.chain.with_pool(|pool| {
            for tx in pool.all() {
                by_sender
                    .entry(tx.tx.signer())
                    .or_default()
                    .push(tx.clone());
            }
        });
        by_sender
            .into_iter()
            .map(|(sender, txs)| {
                let (pending, queued) = split(self.chain.state_nonce(sender)?, txs);
                Ok(Split {
                    sender,
                    pending,
                    queued,
                })
            })
            .collect()
    }

    fn content_with<T>(&self, f: impl Fn(&PoolTx) -> T) -> RpcResult<TxPoolContent<T>> {
        let mut content = TxPoolContent {
            pending: BTreeMap::new(),
            queued: BTreeMap::new(),
        };
        for s in self.snapshot()? {
            let key = s.sender.to_checksum(None);
            if !s.pending.is_empty() {
                content
                    .pending
                    .insert(key.clone(), by_nonce(&s.pending, &f));
            }
            if !s.queued.is_empty() {
                content.queued.insert(key, by_nonce(&s.queued, &f));
            }
        }
        Ok(content)
    }
}

/// Splits one sender's transactions (any order) into the ready run starting at
/// `state_nonce` and the rest above it; those below it are dropped.
fn split(state_nonce: u64, mut txs: Vec<Arc<PoolTx>>) -> (Vec<Arc<PoolTx>>, Vec<Arc<PoolTx>>) {
    txs.sort_unstable_by_key(|t| t.tx.nonce());
    let mut next = state_nonce;
    let (mut pending, mut queued) = (Vec::new(), Vec::new());
    for tx in txs {
        let nonce = tx.tx.nonce();
        if nonce < state_nonce {
            continue;
        }
        if nonce == next && queued.is_empty() {
            next += 1;
            pending.push(tx);
        } else {
            queued.push(tx);
        }
    }
    (pending, queued)
}

fn by_nonce<T>(txs: &[Arc<PoolTx>], f: impl Fn(&PoolTx) -> T) -> ByNonce<T> {
    txs.iter()
        .map(|t| (t.tx.nonce().to_string(), f(t)))
        .collect()
}

/// geth's one-line summary; the price is the legacy gas price or the fee cap.
fn summary(tx: &PoolTx) -> String {
    let tx = tx.tx.inner();
    let to = match tx.to() {
        Some(to) => to.to_checksum(None),
        None => "contract creation".to_string(),
    };
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.value(),
        tx.gas_limit(),
        tx.max_fee_per_gas()
    )
}

fn rpc_tx(tx: &PoolTx) -> PooledTransaction {
    convert::PooledTransaction(convert::pending_transaction(&tx.tx))
}

impl TxPoolApiServer for TxPoolRpc {
    fn status(&self) -> RpcResult<TxPoolStatus> {
        let (pending, queued) = self.snapshot()?.iter().fold((0, 0), |(p, q), s| {
            (p + s.pending.len(), q + s.queued.len())
        });
        Ok(TxPoolStatus {
            pending: U64::from(pending),
            queued: U64::from(queued),
        })
    }

    fn content(&self) -> RpcResult<TxPoolContent<PooledTransaction>> {
        self.content_with(rpc_tx)
    }

    fn content_from(&self, address: Address) -> RpcResult<TxPoolContentFrom<PooledTransaction>> {
        let txs = self.chain.with_pool(|pool| {
            pool.all()
                .filter(|t| t.tx.signer() == address)
                .cloned()
                .collect()
        });
        let (pending, queued) = split(
            self.chain.state_nonce(address).map_err(RpcError::from)?,
            txs,
        );
        Ok(TxPoolContentFrom {
            pending: by_nonce(&pending, rpc_tx),
            queued: by_nonce(&queued, rpc_tx),
        })
    }

    fn inspect(&self) -> RpcResult<TxPoolContent<String>> {
        self.content_with(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Pool;
    use alloy::consensus::{SignableTransaction, TxEnvelope, TxLegacy};
    use alloy::network::TxSignerSync;
    use alloy::primitives::{TxKind, U256};
    use alloy::signers::local::PrivateKeySigner;

    fn pooled(signer: &PrivateKeySigner, nonces: &[u64], to: TxKind) -> Vec<Arc<PoolTx>> {
        let mut pool = Pool::default();
        nonces
            .iter()
            .map(|&nonce| {
                let mut tx = TxLegacy {
                    nonce,
                    gas_price: 7,
                    gas_limit: 21_000,
                    to,
                    value: U256::from(3),
                    ..Default::default()
                };
                let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                let envelope = TxEnvelope::from(tx.into_signed(sig));
                pool.add(alloy::consensus::transaction::Recovered::new_unchecked(
                    envelope,
                    signer.address(),
                ))
                .unwrap()
            })
            .collect()
    }

    fn nonces(txs: &[Arc<PoolTx>]) -> Vec<u64> {
        txs.iter().map(|t| t.tx.nonce()).collect()
    }

    #[test]
    fn split_stops_the_ready_run_at_the_first_gap() {
        let s = PrivateKeySigner::random();
        let txs = pooled(&s, &[6, 2, 3, 4, 1], TxKind::Create);
        let (pending, queued) = split(2, txs.clone());
        assert_eq!(nonces(&pending), vec![2, 3, 4]);
        assert_eq!(nonces(&queued), vec![6], "1 is stale, 6 waits for 5");
        let (pending, queued) = split(0, txs);
        assert!(pending.is_empty());
        assert_eq!(nonces(&queued), vec![1, 2, 3, 4, 6]);
    }

    #[test]
    fn summary_is_geths_format() {
        let s = PrivateKeySigner::random();
        let to = Address::repeat_byte(0xab);
        let call = &pooled(&s, &[0], TxKind::Call(to))[0];
        assert_eq!(
            summary(call),
            format!("{}: 3 wei + 21000 gas × 7 wei", to.to_checksum(None))
        );
        let create = &pooled(&s, &[0], TxKind::Create)[0];
        assert_eq!(
            summary(create),
            "contract creation: 3 wei + 21000 gas × 7 wei"
        );
    }
}
