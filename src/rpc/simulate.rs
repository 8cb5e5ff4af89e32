//! `eth_simulateV1`: blocks of calls simulated on top of a block of the chain (see
//! [`crate::execution::simulate`]), answered as geth answers: each block as
//! `eth_getBlockByNumber` would show it, plus its calls' results.
//!
//! Under the confidential policy the method is for auditors (DESIGN.md: a simulation
//! runs any sender over overridable state, which could swap any contract's code or read
//! any slot). The checks below (`from` among the caller's addresses, no state overrides
//! for non-auditors) are a second line behind that rule. As mined headers, simulated headers carry blinded roots (see
//! [`crate::chain::Blinder`]), so a simulation cannot be used to test a guess about the
//! confidential state. Simulations never touch the store.
//!
//! Refusals carry geth's codes (the execution-apis `-380xx` family): see
//! [`error_object`].

use alloy::consensus::Header;
use alloy::eips::BlockId;
use alloy::rpc::types::Block;
use alloy::rpc::types::simulate::{SimulatePayload, SimulatedBlock};
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

use super::auth::{Caller, caller_of};
use super::convert;
use super::error::RpcError;
use super::eth::{EthRpc, check_from};
use crate::execution::{self, CallError, SimulateError, SimulateFailure, SimulatedBlockOutput};
use crate::state::merkle::MerkleState;

/// `eth_simulateV1`.
#[rpc(server, namespace = "eth")]
pub trait SimulateApi {
    /// Simulates `payload`'s blocks of calls on top of `block` (default: latest).
    #[method(name = "simulateV1", with_extensions)]
    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<Block>>>;
}

/// `eth_simulateV1` over the chain [`EthRpc`] serves.
#[derive(Debug, Clone)]
pub struct SimulateRpc {
    eth: EthRpc,
}

impl SimulateRpc {
    /// Simulations on `eth`'s chain, with its call limits (gas cap for all calls together,
    /// time limit for the whole simulation).
    pub fn new(eth: EthRpc) -> Self {
        Self { eth }
    }
}

#[async_trait]
impl SimulateApiServer for SimulateRpc {
    async fn simulate_v1(
        &self,
        ext: &Extensions,
        mut payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<Block>>> {
        restrict(&caller_of(ext), &mut payload)?;
        let base = self.eth.state_block(block)?;
        let limits = self.eth.call_limits();
        let full = payload.return_full_transactions;
        let blocks = self
            .eth
            .run_blocking(move |chain| {
                let merkle = chain
                    .store()
                    .with_merkle(base.header.number, MerkleState::clone)?;
                let blinding = chain.settings().blinding.as_ref();
                let seal = |header: &mut Header| {
                    if let Some(blinder) = blinding {
                        blinder.blind_header(header, Default::default());
                    }
                };
                Ok(execution::simulate(
                    chain.store().as_ref(),
                    &merkle,
                    chain.spec(),
                    &base.header,
                    payload,
                    limits,
                    &seal,
                ))
            })
            .await?
            .map_err(error_object)?;
        Ok(blocks.into_iter().map(|b| rpc_block(b, full)).collect())
    }
}

/// Applies the confidential policy: callers who do not see everything simulate only
/// from their own addresses and without state overrides.
fn restrict(caller: &Caller, payload: &mut SimulatePayload) -> Result<(), RpcError> {
    if caller.sees_everything() {
        return Ok(());
    }
    for block in &mut payload.block_state_calls {
        if block
            .state_overrides
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            return Err(RpcError::NotAuthorized(
                "not authorized: state overrides need an auditor key".into(),
            ));
        }
        for call in &mut block.calls {
            check_from(caller, call)?;
        }
    }
    Ok(())
}

/// A simulated block as geth shows it: the block (`full`: transaction objects) and
/// `calls`.
fn rpc_block(output: SimulatedBlockOutput, full: bool) -> SimulatedBlock<Block> {
    SimulatedBlock {
        inner: convert::block(&output.block, full, |_| true),
        calls: output.calls,
    }
}

/// geth's code for each refusal: the `-380xx` family of the execution-apis spec for
/// transactions that cannot be included and for malformed block sequences, `-32602` for
/// malformed calls, `-32000` for geth's generic errors and `-32603` for the rest.
pub fn error_object(err: SimulateError) -> ErrorObjectOwned {
    use SimulateFailure as F;
    let (kind, message) = match err {
        SimulateError::Refused { kind, message } => (kind, message),
        SimulateError::Timeout(limit) => return RpcError::Timeout(limit).into(),
        SimulateError::Db(e) => return RpcError::Call(CallError::Db(e)).into(),
        SimulateError::Execution(reason) => {
            tracing::error!(%reason, "eth_simulateV1 failed");
            return ErrorObjectOwned::owned(
                super::error::INTERNAL_ERROR,
                "internal error",
                None::<()>,
            );
        }
    };
    let code = match kind {
        F::NonceTooLow => -38010,
        F::NonceTooHigh => -38011,
        F::BaseFeeTooLow => -38012,
        F::IntrinsicGas => -38013,
        F::InsufficientFunds => -38014,
        F::BlockGasLimit => -38015,
        F::BlockNumberOrder => -38020,
        F::TimestampOrder => -38021,
        F::SenderNotEoa => -38024,
        F::InitCodeTooLarge => -38025,
        F::TooManyBlocks => -38026,
        F::InvalidParams => super::error::INVALID_PARAMS,
        F::Rejected => super::error::SERVER_ERROR,
        F::OtherInvalid => super::error::INTERNAL_ERROR,
    };
    ErrorObjectOwned::owned(code, message, None::<()>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::auth::Role;
    use alloy::primitives::Address;
    use alloy::rpc::types::TransactionRequest;
    use alloy::rpc::types::simulate::SimBlock;
    use std::sync::Arc;

    fn refused(kind: SimulateFailure) -> i32 {
        error_object(SimulateError::Refused {
            kind,
            message: "x".into(),
        })
        .code()
    }

    #[test]
    fn refusals_carry_geths_codes() {
        assert_eq!(refused(SimulateFailure::NonceTooLow), -38010);
        assert_eq!(refused(SimulateFailure::BaseFeeTooLow), -38012);
        assert_eq!(refused(SimulateFailure::InsufficientFunds), -38014);
        assert_eq!(refused(SimulateFailure::BlockNumberOrder), -38020);
        assert_eq!(refused(SimulateFailure::TooManyBlocks), -38026);
        assert_eq!(refused(SimulateFailure::Rejected), -32000);
        assert_eq!(refused(SimulateFailure::OtherInvalid), -32603);
        let internal = error_object(SimulateError::Execution("disk".into()));
        assert_eq!(internal.message(), "internal error");
    }

    #[test]
    fn users_simulate_from_their_addresses_without_overrides() {
        let me = Address::repeat_byte(1);
        let user = Caller {
            role: Some(Role::User),
            addresses: Arc::new(vec![me]),
            ..Caller::anonymous(false)
        };
        let mut payload = SimulatePayload::default()
            .extend(SimBlock::default().call(TransactionRequest::default()));
        restrict(&user, &mut payload).unwrap();
        assert_eq!(payload.block_state_calls[0].calls[0].from, Some(me));

        let other = TransactionRequest::default().from(Address::repeat_byte(2));
        let mut payload = SimulatePayload::default().extend(SimBlock::default().call(other));
        assert!(restrict(&user, &mut payload).is_err());

        let overrides = [(me, Default::default())].into_iter().collect();
        let mut payload =
            SimulatePayload::default().extend(SimBlock::default().with_state_overrides(overrides));
        assert!(restrict(&user, &mut payload).is_err());
        assert!(restrict(&Caller::anonymous(true), &mut payload).is_ok());
    }
}
