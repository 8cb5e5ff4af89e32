//! `testing_buildBlockV1`: builds the block that would follow a given parent, from given
//! transactions (or the pool's ready ones), and returns it as an Engine API payload
//! without touching the chain. A tool for producing test fixtures; the read policy
//! gives it to auditors only (every caller on an open-policy node).
//!
//! The block is built as the node builds its own ([`execution::build_block`]): same
//! executor, same system calls, a Merkle-Patricia state root over the parent's state.
//! Its gas limit moves toward geth's default ceiling, as a geth builder's would; its
//! base fee and excess blob gas follow from the parent.

use std::sync::Arc;

use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::Decodable2718;
use alloy::primitives::{B256, Bytes, U256};
use alloy::rpc::types::engine::{
    BlobsBundleV2, ExecutionPayloadEnvelopeV5, ExecutionPayloadV3, PayloadAttributes,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::error::RpcError;
use super::eth::EthRpc;
use crate::chain::{Chain, ChainError, TxError};
use crate::execution::{BlockAttributes, build_block};
use crate::state::StoredBlock;

/// geth's default block gas ceiling, the target a builder moves the gas limit toward.
const GAS_CEILING: u64 = 60_000_000;
/// Most pooled transactions one built block takes.
const MAX_POOLED: usize = 10_000;

/// `testing_*`.
#[rpc(server, namespace = "testing")]
pub trait TestingApi {
    /// Builds a block on `parent` with `attributes`; `transactions` are included in
    /// order (all must apply), or with `null` the pool's ready transactions are. The
    /// chain is not changed.
    #[method(name = "buildBlockV1")]
    async fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<ExecutionPayloadEnvelopeV5>;
}

/// `testing_*` over a chain.
#[derive(Debug, Clone)]
pub struct TestingRpc {
    chain: Arc<Chain>,
    eth: EthRpc,
}

impl TestingRpc {
    /// The namespace over `chain`, resolving blocks and running blocking work as `eth`.
    pub fn new(chain: Arc<Chain>, eth: EthRpc) -> Self {
        Self { chain, eth }
    }
}

/// Decodes and recovers the given raw transactions.
fn decode(raw: &[Bytes]) -> Result<Vec<Recovered<TxEnvelope>>, RpcError> {
    raw.iter()
        .enumerate()
        .map(|(i, bytes)| {
            let tx = TxEnvelope::decode_2718_exact(bytes)
                .map_err(|e| RpcError::InvalidParams(format!("transaction {i}: {e}")))?;
            let sender = tx.recover_signer().map_err(|_| TxError::InvalidSender)?;
            Ok(Recovered::new_unchecked(tx, sender))
        })
        .collect()
}

/// geth's `CalcGasLimit`: one step (1/1024 of the parent's, less one) toward `desired`.
fn next_gas_limit(parent: u64, desired: u64) -> u64 {
    let delta = (parent / 1024).saturating_sub(1);
    if parent < desired {
        (parent + delta).min(desired)
    } else {
        parent.saturating_sub(delta).max(desired)
    }
}

/// What the fee recipient earns from a block: each transaction's tip times its gas.
fn block_value(block: &StoredBlock) -> U256 {
    let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
    let mut previous = 0;
    block
        .transactions
        .iter()
        .zip(&block.receipts)
        .map(|(tx, receipt)| {
            let gas = receipt.cumulative_gas_used() - previous;
            previous = receipt.cumulative_gas_used();
            U256::from(tx.effective_tip_per_gas(base_fee).unwrap_or_default()) * U256::from(gas)
        })
        .sum()
}

#[jsonrpsee::core::async_trait]
impl TestingApiServer for TestingRpc {
    async fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<ExecutionPayloadEnvelopeV5> {
        let parent = self.eth.named_block(parent.into())?;
        let explicit = transactions.is_some();
        let txs = match transactions.as_deref().map(decode).transpose()? {
            Some(txs) => txs,
            None => self
                .chain
                .ready_transactions(MAX_POOLED, parent.header.number),
        };
        let attrs = BlockAttributes {
            number: parent.header.number + 1,
            timestamp: attributes.timestamp,
            beneficiary: attributes.suggested_fee_recipient,
            gas_limit: next_gas_limit(parent.header.gas_limit, GAS_CEILING),
            base_fee: self.chain.spec().base_fee_after(&parent.header),
            prevrandao: attributes.prev_randao,
            extra_data: extra_data.unwrap_or_default(),
            parent_beacon_block_root: attributes.parent_beacon_block_root.unwrap_or_default(),
            withdrawals: attributes.withdrawals.unwrap_or_default(),
        };
        let built = self
            .eth
            .run_blocking(move |chain| {
                let store = chain.store();
                // The parent's Merkle state: the store's latest, or rebuilt for an
                // older block.
                store
                    .with_merkle(parent.header.number, |merkle| {
                        build_block(
                            store.as_ref(),
                            merkle,
                            chain.spec(),
                            &parent.header,
                            &attrs,
                            txs,
                        )
                    })?
                    .map_err(|e| RpcError::Chain(ChainError::Execution(e.to_string())))
            })
            .await?;
        if explicit {
            // Every given transaction must apply, in order.
            if let Some((_, reason)) = built.invalid.first() {
                return Err(RpcError::InvalidTransaction(reason.clone()).into());
            }
            if !built.deferred.is_empty() {
                return Err(RpcError::Tx(TxError::GasLimitExceeded).into());
            }
        }
        let block = built.commit.block;
        let hash = block.header.hash_slow();
        let value = block_value(&block);
        let requests = built.requests;
        let consensus = super::convert::consensus_block(&block);
        Ok(ExecutionPayloadEnvelopeV5 {
            execution_payload: ExecutionPayloadV3::from_block_unchecked(hash, &consensus),
            block_value: value,
            blobs_bundle: BlobsBundleV2::default(),
            should_override_builder: false,
            execution_requests: requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limit_moves_one_step_toward_the_ceiling() {
        // The conformance chain's head has 200M gas: geth's builder goes down to 0xbe8c711.
        assert_eq!(next_gas_limit(200_000_000, GAS_CEILING), 0xbe8c711);
        assert_eq!(next_gas_limit(30_000_000, GAS_CEILING), 30_029_295);
        assert_eq!(next_gas_limit(GAS_CEILING, GAS_CEILING), GAS_CEILING);
        assert_eq!(next_gas_limit(59_990_000, GAS_CEILING), GAS_CEILING);
    }
}
