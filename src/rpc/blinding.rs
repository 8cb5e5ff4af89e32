//! `coco_getBlindingKey`: the per-block key auditors use to unblind public headers.
//!
//! Under the confidential policy a header's `stateRoot` and `receiptsRoot` are
//! `keccak(root ‖ r_n)` (see [`crate::chain::Blinder`]), so an outsider cannot test a
//! guess about confidential data against them. An auditor fetches `r_n`, recomputes the
//! receipts root from the receipts it can read, and checks `keccak(root ‖ r_n)`.

use std::sync::Arc;

use alloy::primitives::{B256, U64};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::error::RpcError;
use crate::chain::Chain;

/// The blinding namespace (auditors only, see the policy).
#[rpc(server, namespace = "coco")]
pub trait BlindingApi {
    /// `r_n` of block `number`; an error when headers are not blinded.
    #[method(name = "getBlindingKey")]
    fn blinding_key(&self, number: U64) -> RpcResult<B256>;
}

/// [`BlindingApi`] over a chain.
#[derive(Debug, Clone)]
pub struct BlindingRpc {
    chain: Arc<Chain>,
}

impl BlindingRpc {
    /// Blinding keys of `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

impl BlindingApiServer for BlindingRpc {
    fn blinding_key(&self, number: U64) -> RpcResult<B256> {
        let number: u64 = number.to();
        if number > self.chain.head().header.number {
            return Err(RpcError::HeaderNotFound.into());
        }
        match &self.chain.settings().blinding {
            Some(blinder) => Ok(blinder.key(number)),
            None => Err(RpcError::InvalidParams(
                "headers of this chain are not blinded (open policy)".into(),
            )
            .into()),
        }
    }
}
