//! The workload: the token, the funded senders, the pre-signed transfers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolConstructor};
use rayon::prelude::*;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::{BenchArgs, BenchError, TRANSFER_GAS, rpc_err};
use crate::cli::rpc::{ReceiptLite, Rpc};

alloy::sol! {
    /// The interface of `contracts/Token.sol` the benchmark uses.
    contract Token {
        constructor(string name, string symbol, uint256 initialSupply);
        function transfer(address to, uint256 value) external returns (bool);
    }
}

/// The compiled token (forge artifact; only `bytecode.object` is read).
const TOKEN_ARTIFACT: &str = include_str!("../../../contracts/out/Token.json");

/// Signs EIP-1559 transactions for one chain at one fee.
#[derive(Clone, Copy)]
pub(super) struct Signing {
    /// Chain id.
    pub(super) chain_id: u64,
    /// maxFeePerGas, wei.
    pub(super) max_fee: u128,
}

impl Signing {
    /// The transaction's hash and raw bytes.
    pub(super) fn sign(
        &self,
        signer: &PrivateKeySigner,
        nonce: u64,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas: u64,
    ) -> Result<(B256, Bytes), BenchError> {
        let mut tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value,
            input,
            ..Default::default()
        };
        let signed = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let envelope = TxEnvelope::from(tx.into_signed(signed));
        Ok((*envelope.tx_hash(), envelope.encoded_2718().into()))
    }
}

fn transfer(to: Address, value: U256) -> Bytes {
    Token::transferCall { to, value }.abi_encode().into()
}

fn send_call(raw: &Bytes, id: usize) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw]})
}

/// The token's creation code followed by its constructor arguments.
fn token_deploy_code() -> Result<Bytes, BenchError> {
    let fail = |e: &dyn std::fmt::Display| rpc_err("contracts/out/Token.json", e);
    let artifact: Value = serde_json::from_str(TOKEN_ARTIFACT).map_err(|e| fail(&e))?;
    let hex = artifact["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| fail(&"no bytecode"))?;
    let mut code: Vec<u8> = hex.parse::<Bytes>().map_err(|e| fail(&e))?.into();
    let supply = U256::from(10u64).pow(U256::from(30u64));
    let args = Token::constructorCall::new(("Bench".into(), "BNCH".into(), supply));
    code.extend(args.abi_encode());
    Ok(code.into())
}

/// The timed transactions, ready to send.
pub(super) struct Plan {
    /// Request bodies; body `j` holds transactions `j*B .. (j+1)*B`.
    pub(super) bodies: Vec<String>,
    /// Transaction hash → index.
    pub(super) index: HashMap<B256, usize>,
    /// Index → transaction hash.
    pub(super) hashes: Vec<B256>,
}

/// Deploys the token and gives each sender ether and tokens; returns the token and
/// the senders' next nonces.
pub(super) async fn fund(
    args: &BenchArgs,
    rpc: &Rpc,
    signing: Signing,
    funder: &PrivateKeySigner,
    senders: &[PrivateKeySigner],
    timeout: Duration,
) -> Result<(Address, Vec<u64>), BenchError> {
    let accounts = std::iter::once(funder).chain(senders);
    let queries: Vec<(&str, Value)> = accounts
        .map(|s| ("eth_getTransactionCount", json!([s.address(), "pending"])))
        .collect();
    let counts: Vec<Option<U64>> = rpc.batch(&queries).await?;
    let mut nonces: Vec<u64> = counts
        .into_iter()
        .map(|c| c.map_or(0, |c| c.to()))
        .collect();
    let mut nonce = nonces.remove(0);

    let token = funder.address().create(nonce);
    // Enough for every transfer at its fee cap, but at most 90 % of the funder's
    // ether shared out (the node checks each transaction's cap against the balance;
    // what is spent is the gas used at the base fee, far less).
    let per_sender = args.txs.div_ceil(senders.len()) as u128 + 1;
    let need = U256::from(per_sender * u128::from(TRANSFER_GAS) * signing.max_fee);
    let balance: U256 = rpc
        .call("eth_getBalance", json!([funder.address(), "latest"]))
        .await?;
    let share = balance / U256::from(10) * U256::from(9) / U256::from(senders.len());
    let ether = need.min(share);
    let tokens = U256::from(10u64).pow(U256::from(24u64));
    let code = token_deploy_code()?;
    let mut txs = vec![signing.sign(funder, nonce, TxKind::Create, U256::ZERO, code, 2_000_000)?];
    for s in senders {
        let (to, input) = (TxKind::Call(s.address()), transfer(s.address(), tokens));
        txs.push(signing.sign(funder, nonce + 1, to, ether, Bytes::new(), 21_000)?);
        txs.push(signing.sign(
            funder,
            nonce + 2,
            TxKind::Call(token),
            U256::ZERO,
            input,
            100_000,
        )?);
        nonce += 2;
    }
    for chunk in txs.chunks(50) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|(_, raw)| ("eth_sendRawTransaction", json!([raw])))
            .collect();
        rpc.batch::<IgnoredAny>(&calls)
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
    }
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<B256> = txs.iter().map(|(hash, _)| *hash).collect();
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!(
                "{} funding receipts missing",
                pending.len()
            )));
        }
        let calls: Vec<_> = pending
            .iter()
            .map(|h| ("eth_getTransactionReceipt", json!([h])))
            .collect();
        let receipts: Vec<Option<ReceiptLite>> = rpc.batch(&calls).await?;
        for r in receipts.iter().flatten() {
            if r.status != Some(U64::from(1)) {
                return Err(BenchError::Setup(format!(
                    "funding transaction {} failed",
                    r.hash
                )));
            }
            pending.retain(|h| *h != r.hash);
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok((token, nonces))
}

/// Signs the timed transfers in parallel and serialises them into request bodies.
pub(super) fn plan(
    args: &BenchArgs,
    signing: Signing,
    token: Address,
    senders: &[PrivateKeySigner],
    nonces: &[u64],
) -> Result<Plan, BenchError> {
    let s = senders.len();
    let signed: Vec<(B256, Bytes)> = (0..args.txs)
        .into_par_iter()
        .map(|i| {
            let (from, to) = (i % s, senders[(i + 1) % s].address());
            let nonce = nonces[from] + (i / s) as u64;
            let input = transfer(to, U256::from(1));
            signing.sign(
                &senders[from],
                nonce,
                TxKind::Call(token),
                U256::ZERO,
                input,
                TRANSFER_GAS,
            )
        })
        .collect::<Result<_, _>>()?;
    let bodies = (signed.par_chunks(args.batch as usize))
        .map(|chunk| match chunk {
            [(_, raw)] => send_call(raw, 0).to_string(),
            many => {
                let calls = many
                    .iter()
                    .enumerate()
                    .map(|(k, (_, raw))| send_call(raw, k));
                Value::Array(calls.collect()).to_string()
            }
        })
        .collect();
    let index = signed
        .iter()
        .enumerate()
        .map(|(i, (hash, _))| (*hash, i))
        .collect();
    let hashes = signed.iter().map(|(hash, _)| *hash).collect();
    Ok(Plan {
        bodies,
        index,
        hashes,
    })
}
