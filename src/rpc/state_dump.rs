//! `anvil_dumpState` / `anvil_loadState` (dev nodes only): the latest state as
//! gzip-compressed JSON in anvil's format ([`crate::chain::state_dump`]), and back.
//! `anvil_loadState` also takes uncompressed JSON, as anvil does.

use std::io::{Read, Write};
use std::sync::Arc;

use alloy::primitives::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use serde_json::Value;

use super::error::RpcError;
use crate::chain::state_dump::StateDump;
use crate::chain::{Chain, ChainError};

/// anvil's state dump methods.
#[rpc(server)]
pub trait StateDumpApi {
    /// The latest state: gzip-compressed JSON in anvil's format. anvil's optional
    /// "preserve historical states" flag is accepted and ignored (coco dumps the
    /// latest state only).
    #[method(name = "anvil_dumpState")]
    async fn dump_state(&self, preserve_historical_states: Option<Value>) -> RpcResult<Bytes>;
    /// Applies a dump (gzip-compressed or plain JSON) to the latest state.
    #[method(name = "anvil_loadState")]
    async fn load_state(&self, dump: Bytes) -> RpcResult<bool>;
}

/// State dumps over a chain.
#[derive(Debug, Clone)]
pub struct StateDumpRpc {
    chain: Arc<Chain>,
}

impl StateDumpRpc {
    /// State dumps of `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

/// A failure that is not the caller's (logged; the caller sees "internal error").
fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::Chain(ChainError::Execution(e.to_string()))
}

/// gzip's magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compresses `json` with gzip.
fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(json)?;
    encoder.finish()
}

/// The dump in `bytes`, decompressing it first if it is gzip.
fn parse(bytes: &[u8]) -> Result<StateDump, RpcError> {
    let invalid = |e: &dyn std::fmt::Display| RpcError::InvalidParams(format!("state dump: {e}"));
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut json = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut json)
            .map_err(|e| invalid(&e))?;
        StateDump::from_json(&json).map_err(|e| invalid(&e))
    } else {
        StateDump::from_json(bytes).map_err(|e| invalid(&e))
    }
}

#[async_trait]
impl StateDumpApiServer for StateDumpRpc {
    async fn dump_state(&self, _preserve_historical_states: Option<Value>) -> RpcResult<Bytes> {
        let bytes = super::blocking(&self.chain, |chain| {
            let json = chain.dump_state()?.to_json().map_err(internal)?;
            gzip(&json).map_err(internal)
        })
        .await?;
        Ok(Bytes::from(bytes))
    }

    async fn load_state(&self, dump: Bytes) -> RpcResult<bool> {
        let dump = parse(&dump)?;
        super::blocking(&self.chain, move |chain| Ok(chain.load_state(&dump)?)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gzip_and_plain_json() {
        let json = br#"{"block": null, "best_block_number": null, "accounts": {
            "0x1111111111111111111111111111111111111111": {"nonce": 1, "balance": "0x2",
              "code": "0x", "storage": {}}}}"#;
        let plain = parse(json).unwrap();
        assert_eq!(plain.accounts.len(), 1);
        assert_eq!(parse(&gzip(json).unwrap()).unwrap(), plain);
        assert!(matches!(parse(b"{}"), Err(RpcError::InvalidParams(_))));
    }
}
