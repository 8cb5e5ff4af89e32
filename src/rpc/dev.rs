//! Development methods (anvil's and Hardhat's): signing with the dev accounts, mining
//! control, time travel, snapshots, state patches, impersonation. Served by dev nodes only.

use std::sync::Arc;

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{TxEnvelope, TypedTransaction};
use alloy::eips::BlockId;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, Signature, TxKind, U64, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use jsonrpsee::Extensions;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, caller_of};
use super::error::RpcError;
use super::eth::EthRpc;
use crate::chain::dev::DevError;
use crate::chain::{Chain, Mining};

/// A number given as a JSON number or a hex/decimal string (tools send both).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// A JSON number.
    Number(u64),
    /// A `0x…` quantity string.
    Hex(U64),
}

impl Quantity {
    fn get(self) -> u64 {
        match self {
            Quantity::Number(n) => n,
            Quantity::Hex(n) => n.to(),
        }
    }
}

/// `eth_signTransaction`'s answer, as geth's: the EIP-2718 encoding and the transaction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignedTransaction {
    /// The signed transaction's encoding, ready for `eth_sendRawTransaction`.
    pub raw: Bytes,
    /// The signed transaction.
    pub tx: TxEnvelope,
}

/// anvil's and Hardhat's development namespace.
#[rpc(server)]
pub trait DevApi {
    /// Signs (with a dev key) or, for an impersonated sender, accepts unsigned, and submits.
    #[method(name = "eth_sendTransaction", with_extensions)]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;
    /// EIP-191 signature of `message` by a dev account.
    #[method(name = "eth_sign", with_extensions)]
    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;
    /// `personal_sign`: `eth_sign` with the parameters swapped.
    #[method(name = "personal_sign", with_extensions)]
    fn personal_sign(&self, message: Bytes, address: Address) -> RpcResult<Bytes>;
    /// Signs (with a dev key) without sending: geth's `{raw, tx}`.
    #[method(name = "eth_signTransaction", with_extensions)]
    async fn sign_transaction(&self, request: TransactionRequest) -> RpcResult<SignedTransaction>;
    /// EIP-712 signature by a dev account (`eth_signTypedData` is geth's name for it).
    #[method(name = "eth_signTypedData_v4", aliases = ["eth_signTypedData"], with_extensions)]
    fn sign_typed_data_v4(&self, address: Address, data: Value) -> RpcResult<Bytes>;
    /// Mines one block (at `timestamp` if given), or `{timestamp, blocks}`.
    #[method(name = "evm_mine")]
    async fn evm_mine(&self, timestamp: Option<Value>) -> RpcResult<String>;
    /// Mines `count` blocks, `interval` seconds apart.
    #[method(name = "anvil_mine", aliases = ["hardhat_mine"])]
    async fn mine(&self, count: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()>;
    /// Records the current state; returns the snapshot id.
    #[method(name = "evm_snapshot", aliases = ["anvil_snapshot"])]
    fn snapshot(&self) -> RpcResult<U256>;
    /// Returns to a snapshot (dropping it and later ones).
    #[method(name = "evm_revert", aliases = ["anvil_revert"])]
    fn revert(&self, id: U256) -> RpcResult<bool>;
    /// Moves the clock forward; returns the total offset in seconds.
    #[method(name = "evm_increaseTime", aliases = ["anvil_increaseTime"])]
    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64>;
    /// The next block gets this timestamp.
    #[method(name = "evm_setNextBlockTimestamp", aliases = ["anvil_setNextBlockTimestamp"])]
    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()>;
    /// Instant mining on or off.
    #[method(name = "evm_setAutomine", aliases = ["anvil_setAutomine"])]
    fn set_automine(&self, enabled: bool) -> RpcResult<()>;
    /// Interval mining every `ms` milliseconds (0: off).
    #[method(name = "evm_setIntervalMining", aliases = ["anvil_setIntervalMining"])]
    fn set_interval_mining(&self, ms: Quantity) -> RpcResult<()>;
    /// Sets a balance.
    #[method(name = "anvil_setBalance", aliases = ["hardhat_setBalance"])]
    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()>;
    /// Sets code.
    #[method(name = "anvil_setCode", aliases = ["hardhat_setCode"])]
    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()>;
    /// Sets a nonce.
    #[method(name = "anvil_setNonce", aliases = ["hardhat_setNonce"])]
    fn set_nonce(&self, address: Address, nonce: U256) -> RpcResult<()>;
    /// Sets a storage slot.
    #[method(name = "anvil_setStorageAt", aliases = ["hardhat_setStorageAt"])]
    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool>;
    /// Accepts unsigned transactions from `address`.
    #[method(name = "anvil_impersonateAccount", aliases = ["hardhat_impersonateAccount"])]
    fn impersonate(&self, address: Address) -> RpcResult<()>;
    /// Stops impersonating `address`.
    #[method(name = "anvil_stopImpersonatingAccount", aliases = ["hardhat_stopImpersonatingAccount"])]
    fn stop_impersonating(&self, address: Address) -> RpcResult<()>;
    /// Returns the chain to its genesis.
    #[method(name = "anvil_reset", aliases = ["hardhat_reset"])]
    fn reset(&self, options: Option<Value>) -> RpcResult<()>;
    /// anvil's node summary.
    #[method(name = "anvil_nodeInfo")]
    fn node_info(&self) -> RpcResult<Value>;
}

/// The development API.
#[derive(Debug, Clone)]
pub struct DevRpc {
    chain: Arc<Chain>,
    eth: EthRpc,
    signers: Arc<Vec<PrivateKeySigner>>,
    max_mine_blocks: u64,
}

impl DevRpc {
    /// Development methods over `chain`, signing with `signers`, mining at most
    /// `max_mine_blocks` blocks per call ([`super::RpcLimits::max_mine_blocks`]).
    pub fn new(
        chain: Arc<Chain>,
        eth: EthRpc,
        signers: Vec<PrivateKeySigner>,
        max_mine_blocks: u64,
    ) -> Self {
        Self {
            chain,
            eth,
            signers: Arc::new(signers),
            max_mine_blocks,
        }
    }

    /// Mines `count` blocks (`interval` seconds apart), the first at timestamp `at` if
    /// given, on the blocking pool. Each block takes and releases the producer's lock,
    /// so other callers' reads and blocks interleave with a long run.
    async fn mine_blocks(
        &self,
        at: Option<u64>,
        count: u64,
        interval: Option<u64>,
    ) -> Result<(), RpcError> {
        if count > self.max_mine_blocks {
            return Err(RpcError::Limit(format!(
                "cannot mine {count} blocks in one call: the limit is {}",
                self.max_mine_blocks
            )));
        }
        super::blocking(&self.chain, move |chain| {
            if let Some(at) = at {
                chain.set_next_block_timestamp(at).map_err(dev_err)?;
            }
            chain.mine_blocks(count, interval).map_err(dev_err)?;
            Ok(())
        })
        .await
    }

    fn signer(&self, address: Address) -> Result<&PrivateKeySigner, RpcError> {
        self.signers
            .iter()
            .find(|s| s.address() == address)
            .ok_or_else(|| RpcError::InvalidParams("unknown account".into()))
    }

    /// A dev signing request completed as geth and anvil complete it: `from` (default:
    /// the first dev account; one of the caller's), nonce (pending), chain id, fees (a
    /// legacy gas price when the caller gave `gasPrice`, else EIP-1559 fees from the base
    /// fee and the suggested tip), gas (estimated at pending), and `to` absent meaning a
    /// contract creation. Returns the sender, the unsigned transaction and its dev key
    /// (`None` for an impersonated sender).
    async fn prepare(
        &self,
        caller: &Caller,
        mut request: TransactionRequest,
    ) -> Result<(Address, TypedTransaction, Option<PrivateKeySigner>), RpcError> {
        let from = match request.from {
            Some(from) => from,
            None => self
                .signers
                .first()
                .map(|s| s.address())
                .ok_or_else(|| RpcError::InvalidParams("no account to send from".into()))?,
        };
        own(caller, from)?;
        request.from = Some(from);
        let signer = if self.chain.is_impersonated(from) {
            None
        } else {
            Some(self.signer(from)?.clone())
        };
        if request.nonce.is_none() {
            request.nonce = Some(self.chain.pending_nonce(from).map_err(RpcError::from)?);
        }
        request.chain_id = Some(self.chain.spec().chain_id());
        if request.to.is_none() {
            request.to = Some(TxKind::Create);
        }
        let base_fee = self.chain.next_base_fee() as u128;
        if request.gas_price.is_none() {
            let tip = request
                .max_priority_fee_per_gas
                .unwrap_or(super::eth::SUGGESTED_TIP as u128);
            let max_fee = *request.max_fee_per_gas.get_or_insert(2 * base_fee + tip);
            request.max_priority_fee_per_gas = Some(tip.min(max_fee));
        }
        if request.gas.is_none() {
            let gas = self
                .eth
                .estimate_gas_inner(request.clone(), Some(BlockId::pending()))
                .await?;
            request.gas = Some(gas);
        }
        let typed = request
            .build_typed_tx()
            .map_err(|_| RpcError::InvalidParams("incomplete transaction".into()))?;
        Ok((from, typed, signer))
    }

    fn sign_message(&self, address: Address, message: &[u8]) -> RpcResult<Bytes> {
        let sig = self
            .signer(address)?
            .sign_message_sync(message)
            .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
        Ok(Bytes::from(sig.as_bytes().to_vec()))
    }
}

/// Under the confidential policy, a caller signs and sends only as its own addresses
/// (and an auditor as none).
fn own(caller: &Caller, address: Address) -> Result<(), RpcError> {
    if caller.may_act_for(&address) {
        return Ok(());
    }
    Err(RpcError::NotAuthorized(format!(
        "not authorized: {address} is not one of the API key's addresses"
    )))
}

fn dev_err(err: DevError) -> RpcError {
    match err {
        DevError::TimestampTooLow { .. } => RpcError::InvalidParams(err.to_string()),
        DevError::Chain(e) => RpcError::Chain(e),
    }
}

#[async_trait]
impl DevApiServer for DevRpc {
    async fn send_transaction(
        &self,
        ext: &Extensions,
        request: TransactionRequest,
    ) -> RpcResult<B256> {
        let caller = caller_of(ext);
        let (from, mut typed, signer) = self.prepare(&caller, request).await?;
        let signature = match signer {
            Some(signer) => signer
                .sign_transaction_sync(&mut typed)
                .map_err(|e| RpcError::InvalidParams(e.to_string()))?,
            // Impersonation: a fixed placeholder signature; the sender is given, not recovered.
            None => Signature::new(U256::from(1), U256::from(1), false),
        };
        let envelope: TxEnvelope = typed.into_envelope(signature);
        let blocks = self.eth.inclusion_watch();
        let hash = self
            .chain
            .submit(Recovered::new_unchecked(envelope, from))
            .map_err(|e| super::eth::rejection(&caller, e))?;
        self.eth.await_inclusion(hash, blocks).await;
        Ok(hash)
    }

    async fn sign_transaction(
        &self,
        ext: &Extensions,
        request: TransactionRequest,
    ) -> RpcResult<SignedTransaction> {
        let caller = caller_of(ext);
        let (from, mut typed, signer) = self.prepare(&caller, request).await?;
        // An impersonated account has no key here: nothing can sign for it.
        let signer =
            signer.ok_or_else(|| RpcError::InvalidParams(format!("unknown account {from}")))?;
        let signature = signer
            .sign_transaction_sync(&mut typed)
            .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
        let envelope: TxEnvelope = typed.into_envelope(signature);
        Ok(SignedTransaction {
            raw: envelope.encoded_2718().into(),
            tx: envelope,
        })
    }

    fn sign(&self, ext: &Extensions, address: Address, message: Bytes) -> RpcResult<Bytes> {
        own(&caller_of(ext), address)?;
        self.sign_message(address, &message)
    }

    fn personal_sign(
        &self,
        ext: &Extensions,
        message: Bytes,
        address: Address,
    ) -> RpcResult<Bytes> {
        own(&caller_of(ext), address)?;
        self.sign_message(address, &message)
    }

    fn sign_typed_data_v4(
        &self,
        ext: &Extensions,
        address: Address,
        data: Value,
    ) -> RpcResult<Bytes> {
        own(&caller_of(ext), address)?;
        // Wallets send the typed data as an object or as a JSON string.
        let data = match data {
            Value::String(text) => serde_json::from_str(&text)
                .map_err(|e| RpcError::InvalidParams(format!("typed data: {e}")))?,
            other => other,
        };
        let typed: alloy::dyn_abi::TypedData = serde_json::from_value(data)
            .map_err(|e| RpcError::InvalidParams(format!("typed data: {e}")))?;
        let hash = typed
            .eip712_signing_hash()
            .map_err(|e| RpcError::InvalidParams(format!("typed data: {e}")))?;
        let sig = self
            .signer(address)?
            .sign_hash_sync(&hash)
            .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
        Ok(Bytes::from(sig.as_bytes().to_vec()))
    }

    async fn evm_mine(&self, timestamp: Option<Value>) -> RpcResult<String> {
        // Hardhat passes a timestamp; anvil also accepts `{timestamp, blocks}`.
        let (ts, blocks) = match timestamp {
            Some(Value::Object(map)) => (
                map.get("timestamp")
                    .and_then(|v| serde_json::from_value::<Quantity>(v.clone()).ok()),
                map.get("blocks")
                    .and_then(|v| serde_json::from_value::<Quantity>(v.clone()).ok()),
            ),
            Some(Value::Null) | None => (None, None),
            Some(other) => (
                Some(
                    serde_json::from_value::<Quantity>(other)
                        .map_err(|e| RpcError::InvalidParams(format!("timestamp: {e}")))?,
                ),
                None,
            ),
        };
        self.mine_blocks(ts.map(Quantity::get), blocks.map_or(1, Quantity::get), None)
            .await?;
        Ok("0x0".to_string())
    }

    async fn mine(&self, count: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()> {
        self.mine_blocks(
            None,
            count.map_or(1, Quantity::get),
            interval.map(Quantity::get),
        )
        .await?;
        Ok(())
    }

    fn snapshot(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain.snapshot().map_err(RpcError::from)?))
    }

    fn revert(&self, id: U256) -> RpcResult<bool> {
        let Ok(id) = u64::try_from(id) else {
            return Ok(false);
        };
        Ok(self.chain.revert_to(id).map_err(RpcError::from)?)
    }

    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64> {
        Ok(self.chain.increase_time(seconds.get()))
    }

    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()> {
        self.chain
            .set_next_block_timestamp(timestamp.get())
            .map_err(dev_err)?;
        Ok(())
    }

    fn set_automine(&self, enabled: bool) -> RpcResult<()> {
        self.chain.set_mining(if enabled {
            Mining::Instant
        } else {
            Mining::Manual
        });
        Ok(())
    }

    fn set_interval_mining(&self, ms: Quantity) -> RpcResult<()> {
        let mining = match ms.get() {
            0 => Mining::Manual,
            ms => Mining::Interval(std::time::Duration::from_millis(ms)),
        };
        self.chain.set_mining(mining);
        Ok(())
    }

    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()> {
        self.chain
            .patch(|s| s.set_balance(address, balance))
            .map_err(RpcError::from)?;
        Ok(())
    }

    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()> {
        self.chain
            .patch(|s| s.set_code(address, code))
            .map_err(RpcError::from)?;
        Ok(())
    }

    fn set_nonce(&self, address: Address, nonce: U256) -> RpcResult<()> {
        let nonce =
            u64::try_from(nonce).map_err(|_| RpcError::InvalidParams("nonce too large".into()))?;
        self.chain
            .patch(|s| s.set_nonce(address, nonce))
            .map_err(RpcError::from)?;
        Ok(())
    }

    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool> {
        self.chain
            .patch(|s| s.set_storage(address, slot, value.into()))
            .map_err(RpcError::from)?;
        Ok(true)
    }

    fn impersonate(&self, address: Address) -> RpcResult<()> {
        self.chain.impersonate(address);
        Ok(())
    }

    fn stop_impersonating(&self, address: Address) -> RpcResult<()> {
        self.chain.stop_impersonating(address);
        Ok(())
    }

    fn reset(&self, _options: Option<Value>) -> RpcResult<()> {
        self.chain.reset().map_err(RpcError::from)?;
        Ok(())
    }

    fn node_info(&self) -> RpcResult<Value> {
        let head = self.chain.head();
        let h = &head.header;
        let spec = self.chain.spec().spec_id(h.number + 1, h.timestamp);
        let mining = match self.chain.mining() {
            Mining::Instant => "automine".to_string(),
            Mining::Interval(d) => format!("interval {}ms", d.as_millis()),
            Mining::Manual => "manual".to_string(),
        };
        Ok(json!({
            "currentBlockNumber": h.number,
            "currentBlockTimestamp": h.timestamp,
            "currentBlockHash": h.hash_slow(),
            "hardFork": format!("{spec:?}"),
            "transactionOrder": "fifo",
            "environment": {
                "baseFee": self.chain.next_base_fee().to_string(),
                "chainId": self.chain.spec().chain_id(),
                "gasLimit": h.gas_limit.to_string(),
                "gasPrice": (self.chain.next_base_fee() as u128 + 1_000_000_000).to_string(),
            },
            "forkConfig": {},
            "mining": mining,
        }))
    }
}
