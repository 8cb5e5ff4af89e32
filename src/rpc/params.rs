//! Parameter types that parse as strictly as geth does where alloy's are lenient.
//!
//! alloy's `B256` accepts hex without the `0x` prefix and `U256` accepts any number of
//! leading zeros; geth refuses both (`-32602`), and Ethereum's conformance tests check
//! that it does. A failed parse is answered by jsonrpsee with `-32602` and the message
//! given here.

use std::fmt;

use alloy::primitives::{B256, hex};
use alloy::rpc::types::BlockOverrides;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

/// A 32-byte hash that must be written `0x` followed by 64 hex digits (geth's
/// `common.Hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Hash(pub B256);

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) else {
            return Err(D::Error::custom(
                "cannot unmarshal hex string without 0x prefix into a hash",
            ));
        };
        if digits.len() != 64 {
            return Err(D::Error::custom(format!(
                "hex string has length {}, want 64 for a hash",
                digits.len()
            )));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|e| D::Error::custom(format!("invalid hash {text:?}: {e}")))?;
        Ok(Self(B256::from(bytes)))
    }
}

/// A storage slot key as geth reads it: `0x` and up to 64 hex digits (odd lengths and
/// leading zeros allowed, at most 32 bytes), left-padded to 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StorageKey(pub B256);

impl StorageKey {
    /// Parses `text` with geth's rules; the error is geth's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let padded;
        let even = if digits.len() % 2 == 1 {
            padded = format!("0{digits}");
            padded.as_str()
        } else {
            digits
        };
        let bytes =
            hex::decode(even).map_err(|_| format!("invalid hex in storage key: {text:?}"))?;
        if bytes.len() > 32 {
            return Err(format!(
                "storage key too long (want at most 32 bytes): {text:?}"
            ));
        }
        Ok(Self(B256::left_padding_from(&bytes)))
    }
}

impl<'de> Deserialize<'de> for StorageKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A block override as `eth_call` and `eth_estimateGas` take it: alloy's, plus geth's
/// `withdrawals`, which these methods refuse (alloy's type would drop it unseen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallBlockOverrides {
    /// The fields a call may override.
    pub overrides: BlockOverrides,
    /// Withdrawals (only `eth_simulateV1`'s blocks have them).
    pub withdrawals: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for CallBlockOverrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a JSON object rather than `#[serde(flatten)]`: flattened, the numeric
        // keys of `blockHash` would no longer parse.
        let mut fields = serde_json::Map::deserialize(d)?;
        let withdrawals = fields.remove("withdrawals").filter(|w| !w.is_null());
        let overrides =
            serde_json::from_value(serde_json::Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(Self {
            overrides,
            withdrawals,
        })
    }
}

impl CallBlockOverrides {
    /// True when the override changes nothing (`{}`): accepted from every caller.
    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty() && self.withdrawals.is_none()
    }

    /// The overrides to apply; geth's refusal for `withdrawals`.
    pub fn into_overrides(self) -> Result<BlockOverrides, String> {
        if self.withdrawals.is_some() {
            return Err(
                r#"block override "withdrawals" is not supported for this RPC method"#.into(),
            );
        }
        Ok(self.overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(json: &str) -> Result<Hash, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn hashes_need_the_prefix_and_64_digits() {
        let h = format!("\"0x{}\"", "ab".repeat(32));
        assert_eq!(hash(&h).unwrap().0, B256::repeat_byte(0xab));
        assert!(hash(&format!("\"{}\"", "ab".repeat(32))).is_err());
        assert!(hash("\"0xabcd\"").is_err());
        assert!(hash(&format!("\"0x{}\"", "zz".repeat(32))).is_err());
    }

    #[test]
    fn storage_keys_follow_geth() {
        let one = StorageKey::parse("0x1").unwrap();
        assert_eq!(one.0, B256::with_last_byte(1));
        assert_eq!(StorageKey::parse("0x").unwrap().0, B256::ZERO);
        let full = format!("0x{}", "00".repeat(32));
        assert_eq!(StorageKey::parse(&full).unwrap().0, B256::ZERO);
        let long = format!("0x0{}", "00".repeat(32));
        assert_eq!(
            StorageKey::parse(&long).unwrap_err(),
            format!("storage key too long (want at most 32 bytes): {long:?}")
        );
        assert_eq!(
            StorageKey::parse("0xasdf").unwrap_err(),
            "invalid hex in storage key: \"0xasdf\""
        );
    }

    #[test]
    fn call_block_overrides_keep_geth_names_and_see_withdrawals() {
        let o: CallBlockOverrides = serde_json::from_str(
            r#"{"number":"0x10","time":"0x20","gasLimit":"0x30","feeRecipient":"0x0000000000000000000000000000000000000001","prevRandao":"0x0000000000000000000000000000000000000000000000000000000000000002","baseFeePerGas":"0x7","blobBaseFee":"0x8"}"#,
        )
        .unwrap();
        let b = &o.overrides;
        assert_eq!(b.number, Some(alloy::primitives::U256::from(0x10)));
        assert_eq!(b.time, Some(0x20));
        assert_eq!(b.gas_limit, Some(0x30));
        assert_eq!(
            b.coinbase,
            Some(alloy::primitives::Address::with_last_byte(1))
        );
        assert_eq!(b.random, Some(B256::with_last_byte(2)));
        assert_eq!(b.base_fee, Some(alloy::primitives::U256::from(7)));
        assert_eq!(b.blob_base_fee, Some(alloy::primitives::U256::from(8)));
        assert!(!o.is_empty());
        let empty: CallBlockOverrides = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        let w: CallBlockOverrides = serde_json::from_str(r#"{"withdrawals":[]}"#).unwrap();
        assert!(!w.is_empty());
        assert_eq!(
            w.into_overrides().unwrap_err(),
            r#"block override "withdrawals" is not supported for this RPC method"#
        );
        assert!(serde_json::from_str::<CallBlockOverrides>(r#"{"time":"soon"}"#).is_err());
        let hashes: CallBlockOverrides =
            serde_json::from_str(&format!(r#"{{"blockHash":{{"4080":"{}"}}}}"#, B256::ZERO))
                .unwrap();
        assert_eq!(
            hashes.overrides.block_hash,
            Some([(4080, B256::ZERO)].into_iter().collect())
        );
        let null: CallBlockOverrides = serde_json::from_str(r#"{"withdrawals":null}"#).unwrap();
        assert!(null.is_empty());
    }
}
