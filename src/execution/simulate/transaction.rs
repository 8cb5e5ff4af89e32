//! Calls as transactions: the unsigned transaction geth makes of a call request, the
//! checks geth makes before executing it that revm makes differently or not at all, the
//! classes of the refusals, and the result a call reports.

use alloy::consensus::{
    Header, Signed, TxEip1559, TxEip4844, TxEip4844Variant, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy::primitives::{Address, B256, Bytes, Log, Signature, TxKind, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::simulate::{SimCallResult, SimulateError as CallFailure};
use alloy_evm::block::{BlockExecutionError, BlockValidationError};
use revm::context_interface::result::{ExecutionResult, HaltReason, InvalidTransaction};

use super::{SimulateError, SimulateFailure};
use crate::execution::call::{CallError, geth_message, halt_message};

/// geth's nonce checks with validation, made before the fee checks as geth makes them.
pub(super) fn check_nonce(from: Address, state: u64, tx: u64) -> Result<(), SimulateError> {
    let (kind, message) = if tx > state {
        (
            SimulateFailure::NonceTooHigh,
            format!("nonce too high: address {from}, tx: {tx} state: {state}"),
        )
    } else if tx < state {
        (
            SimulateFailure::NonceTooLow,
            format!("nonce too low: address {from}, tx: {tx} state: {state}"),
        )
    } else if state == u64::MAX {
        (
            SimulateFailure::OtherInvalid,
            format!("nonce has max value: address {from}, nonce: {state}"),
        )
    } else {
        return Ok(());
    };
    Err(SimulateError::refused(kind, format!("err: {message}")))
}

/// The unsigned transaction geth makes of a call request (`ToTransaction` after
/// `CallDefaults`): legacy with a gas price (or before London), EIP-7702 with
/// authorizations, EIP-4844 with blob hashes, EIP-1559 otherwise; missing fees are zero.
pub(super) fn build_transaction(
    call: &TransactionRequest,
    nonce: u64,
    gas_limit: u64,
    chain_id: u64,
    header: &Header,
) -> Result<TxEnvelope, SimulateError> {
    let invalid =
        |message: &str| SimulateError::refused(SimulateFailure::InvalidParams, message.into());
    if call.gas_price.is_some()
        && (call.max_fee_per_gas.is_some() || call.max_priority_fee_per_gas.is_some())
    {
        return Err(SimulateError::refused(
            SimulateFailure::Rejected,
            "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".to_string(),
        ));
    }
    if let Some(have) = call.chain_id
        && have != chain_id
    {
        return Err(SimulateError::refused(
            SimulateFailure::Rejected,
            format!("chainId does not match node's (have={have}, want={chain_id})"),
        ));
    }
    let input = call
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|e| invalid(&e.to_string()))?
        .unwrap_or_default();
    let to = call.to.unwrap_or(TxKind::Create);
    let value = call.value.unwrap_or_default();
    let access_list = call.access_list.clone().unwrap_or_default();
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    let max_fee_per_gas = call.max_fee_per_gas.unwrap_or_default();
    let max_priority_fee_per_gas = call.max_priority_fee_per_gas.unwrap_or_default();
    if call.gas_price.is_some() || header.base_fee_per_gas.is_none() {
        let tx = TxLegacy {
            chain_id: Some(chain_id),
            nonce,
            gas_price: call.gas_price.unwrap_or_default(),
            gas_limit,
            to,
            value,
            input,
        };
        return Ok(TxEnvelope::Legacy(Signed::new_unhashed(tx, signature)));
    }
    if let Some(authorizations) = &call.authorization_list {
        let TxKind::Call(to) = to else {
            return Err(invalid("missing \"to\" in set-code transaction"));
        };
        let tx = TxEip7702 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            to,
            value,
            access_list,
            authorization_list: authorizations.clone(),
            input,
        };
        return Ok(TxEnvelope::Eip7702(Signed::new_unhashed(tx, signature)));
    }
    if let Some(hashes) = &call.blob_versioned_hashes {
        let TxKind::Call(to) = to else {
            return Err(invalid("missing \"to\" in blob transaction"));
        };
        if hashes.is_empty() {
            return Err(invalid(
                "need at least 1 blobVersionedHash for a blob transaction",
            ));
        }
        let tx = TxEip4844 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            to,
            value,
            access_list,
            blob_versioned_hashes: hashes.clone(),
            max_fee_per_blob_gas: call.max_fee_per_blob_gas.unwrap_or_default(),
            input,
        };
        let tx = TxEip4844Variant::TxEip4844(tx);
        return Ok(TxEnvelope::Eip4844(Signed::new_unhashed(tx, signature)));
    }
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to,
        value,
        access_list,
        input,
    };
    Ok(TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature)))
}

/// Without validation the base fee is not checked for fee-less calls only (geth's
/// `NoBaseFee`): a call that names a fee cap must still meet the base fee.
pub(super) fn check_fee_cap(tx: &TxEnvelope, base_fee: Option<u64>) -> Result<(), SimulateError> {
    use alloy::consensus::Transaction as _;
    let Some(base_fee) = base_fee else {
        return Ok(());
    };
    let cap = tx.max_fee_per_gas();
    let tip = tx.max_priority_fee_per_gas().unwrap_or(cap);
    if (cap != 0 || tip != 0) && cap < u128::from(base_fee) {
        return Err(SimulateError::refused(
            SimulateFailure::BaseFeeTooLow,
            format!(
                "max fee per gas less than block base fee: maxFeePerGas: {cap}, baseFee: {base_fee}"
            ),
        ));
    }
    Ok(())
}

/// A transaction the block executor refused, in geth's classes.
pub(super) fn transaction_error(err: BlockExecutionError) -> SimulateError {
    use InvalidTransaction as E;
    use SimulateFailure as F;
    let invalid = match &err {
        BlockExecutionError::Validation(BlockValidationError::InvalidTx { error, .. }) => {
            error.as_invalid_tx_err()
        }
        BlockExecutionError::Validation(
            BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
        ) => {
            return SimulateError::refused(F::BlockGasLimit, err.to_string());
        }
        _ => None,
    };
    let Some(invalid) = invalid else {
        return SimulateError::Execution(err.to_string());
    };
    let kind = match invalid {
        E::NonceTooLow { .. } => F::NonceTooLow,
        E::NonceTooHigh { .. } => F::NonceTooHigh,
        E::GasPriceLessThanBasefee => F::BaseFeeTooLow,
        E::PriorityFeeGreaterThanMaxFee => F::InvalidParams,
        E::LackOfFundForMaxFee { .. } | E::OverflowPaymentInTransaction => F::InsufficientFunds,
        E::CallGasCostMoreThanGasLimit { .. } | E::GasFloorMoreThanGasLimit { .. } => {
            F::IntrinsicGas
        }
        E::CallerGasLimitMoreThanBlock => F::BlockGasLimit,
        E::RejectCallerWithCode => F::SenderNotEoa,
        E::CreateInitCodeSizeLimit => F::InitCodeTooLarge,
        _ => F::OtherInvalid,
    };
    SimulateError::refused(kind, format!("err: {}", geth_message(invalid)))
}

/// A call's result: status, return data, gas, logs and, for a failure, its error.
pub(super) fn call_result(
    result: ExecutionResult<HaltReason>,
    logs: Vec<(u64, Log)>,
    header: &Header,
    tx_hash: B256,
    index: usize,
) -> SimCallResult {
    let gas = *result.gas();
    let gas_used = gas.tx_gas_used();
    let logs = logs
        .into_iter()
        .map(|(log_index, inner)| alloy::rpc::types::Log {
            inner,
            block_hash: None,
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_index),
            removed: false,
        })
        .collect();
    let (status, return_data, error) = match result {
        ExecutionResult::Success { output, .. } => (true, output.into_data(), None),
        ExecutionResult::Revert { output, .. } => {
            let message = CallError::Revert {
                output: output.clone(),
            }
            .to_string();
            let error = CallFailure {
                code: CallFailure::EXECUTION_REVERTED_CODE,
                message,
                data: Some(output),
            };
            (false, Bytes::new(), Some(error))
        }
        ExecutionResult::Halt { reason, .. } => {
            let error = CallFailure {
                code: CallFailure::VM_EXECUTION_ERROR_CODE,
                message: halt_message(&reason),
                data: None,
            };
            (false, Bytes::new(), Some(error))
        }
    };
    SimCallResult {
        return_data,
        logs,
        gas_used,
        max_used_gas: Some(gas.total_gas_spent().max(gas_used)),
        status,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::Transaction as _;

    fn header(base_fee: Option<u64>) -> Header {
        Header {
            base_fee_per_gas: base_fee,
            ..Default::default()
        }
    }

    #[test]
    fn calls_become_the_transactions_geth_makes() {
        let request = TransactionRequest::default()
            .to(Address::repeat_byte(1))
            .max_fee_per_gas(16);
        let tx = build_transaction(&request, 3, 50_000, 7, &header(Some(15))).unwrap();
        assert!(matches!(tx, TxEnvelope::Eip1559(_)));
        assert_eq!(
            (tx.nonce(), tx.gas_limit(), tx.chain_id()),
            (3, 50_000, Some(7))
        );
        assert_eq!(tx.max_priority_fee_per_gas(), Some(0));
        let legacy = TransactionRequest::default().gas_price(5);
        let tx = build_transaction(&legacy, 0, 21_000, 7, &header(Some(1))).unwrap();
        assert!(matches!(tx, TxEnvelope::Legacy(_)));
        let pre_london = TransactionRequest::default();
        let tx = build_transaction(&pre_london, 0, 21_000, 7, &header(None)).unwrap();
        assert!(matches!(tx, TxEnvelope::Legacy(_)));
        let wrong_chain = TransactionRequest {
            chain_id: Some(8),
            ..Default::default()
        };
        assert!(build_transaction(&wrong_chain, 0, 21_000, 7, &header(Some(1))).is_err());
    }

    #[test]
    fn fee_less_calls_skip_the_base_fee_check_without_validation() {
        let free =
            build_transaction(&TransactionRequest::default(), 0, 1, 1, &header(Some(9))).unwrap();
        assert!(check_fee_cap(&free, Some(9)).is_ok());
        let priced = TransactionRequest::default().max_fee_per_gas(5);
        let priced = build_transaction(&priced, 0, 1, 1, &header(Some(9))).unwrap();
        assert!(matches!(
            check_fee_cap(&priced, Some(9)),
            Err(SimulateError::Refused {
                kind: SimulateFailure::BaseFeeTooLow,
                ..
            })
        ));
    }

    #[test]
    fn validation_checks_nonces_as_geth_does() {
        let from = Address::ZERO;
        assert!(check_nonce(from, 3, 3).is_ok());
        let kind = |r: Result<(), SimulateError>| match r {
            Err(SimulateError::Refused { kind, .. }) => kind,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(kind(check_nonce(from, 3, 2)), SimulateFailure::NonceTooLow);
        assert_eq!(kind(check_nonce(from, 3, 4)), SimulateFailure::NonceTooHigh);
        let max = u64::MAX;
        assert_eq!(
            kind(check_nonce(from, max, max)),
            SimulateFailure::OtherInvalid
        );
    }
}
