//! Parameters read as strictly as geth reads them, where alloy's types are lenient.
//!
//! alloy's `B256` accepts hex without the `0x` prefix and `U256` accepts any number of
//! leading zeros; geth refuses both (`-32602`), and Ethereum's conformance tests check
//! that it does. Two mechanisms:
//!
//! - types ([`Hash`], [`StorageKey`]) whose failed parse jsonrpsee answers with `-32602`
//!   and the message given here;
//! - [`signature`], every served method's positional parameters as geth declares them,
//!   which [`check`] holds a request's parameters against before the method runs
//!   (through [`super::input`]): at most that many (geth's `too many arguments, want at
//!   most N`), and quantities without leading zeros where geth reads them with
//!   `hexutil` (geth's `hex number with leading zero digits`). A test derives each
//!   method's parameter count from its `#[rpc]` trait and compares.

use std::fmt;

use alloy::primitives::{B256, hex};
use alloy::rpc::types::BlockOverrides;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// How geth reads one positional parameter, as far as [`check`] looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// Left to the method's own parser.
    Any,
    /// A block number or tag (geth's `rpc.BlockNumber`).
    Block,
    /// A block number, tag or hash, or `{blockNumber | blockHash}` (geth's
    /// `rpc.BlockNumberOrHash`).
    BlockOrHash,
    /// An index (geth's `hexutil.Uint`).
    Index,
    /// A call object (geth's `TransactionArgs`): its quantity fields.
    Call,
    /// A log filter (geth's `FilterCriteria`): `fromBlock` and `toBlock`.
    Filter,
}

/// The positional parameters of every method coco serves (aliases included), as geth
/// declares the methods geth has; `None` for a method coco does not serve.
pub fn signature(method: &str) -> Option<&'static [Param]> {
    use Param::*;
    Some(match method {
        "web3_clientVersion"
        | "net_version"
        | "net_listening"
        | "net_peerCount"
        | "eth_chainId"
        | "eth_blockNumber"
        | "eth_syncing"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "eth_baseFee"
        | "eth_blobBaseFee"
        | "eth_accounts"
        | "eth_newBlockFilter"
        | "eth_config"
        | "eth_capabilities"
        | "txpool_status"
        | "txpool_content"
        | "txpool_inspect"
        | "coco_loginNonce"
        | "coco_logout"
        | "evm_snapshot"
        | "anvil_snapshot"
        | "anvil_nodeInfo" => &[],
        "web3_sha3"
        | "eth_sendRawTransaction"
        | "eth_getTransactionByHash"
        | "eth_getTransactionReceipt"
        | "eth_getBlockTransactionCountByHash"
        | "eth_getUncleCountByBlockHash"
        | "eth_newPendingTransactionFilter"
        | "eth_getFilterChanges"
        | "eth_getFilterLogs"
        | "eth_uninstallFilter"
        | "eth_unsubscribe"
        | "debug_getRawTransaction"
        | "eth_getRawTransactionByHash"
        | "eth_getHeaderByHash"
        | "txpool_contentFrom"
        | "coco_getBlindingKey"
        | "evm_mine"
        | "evm_revert"
        | "anvil_revert"
        | "evm_increaseTime"
        | "anvil_increaseTime"
        | "evm_setNextBlockTimestamp"
        | "anvil_setNextBlockTimestamp"
        | "evm_setAutomine"
        | "anvil_setAutomine"
        | "evm_setIntervalMining"
        | "anvil_setIntervalMining"
        | "anvil_impersonateAccount"
        | "hardhat_impersonateAccount"
        | "anvil_stopImpersonatingAccount"
        | "hardhat_stopImpersonatingAccount"
        | "anvil_reset"
        | "hardhat_reset"
        | "anvil_dumpState"
        | "anvil_loadState" => &[Any],
        "eth_getBlockByHash"
        | "debug_traceTransaction"
        | "debug_traceBlockByHash"
        | "eth_sign"
        | "personal_sign"
        | "eth_signTypedData_v4"
        | "eth_signTypedData"
        | "coco_login"
        | "anvil_mine"
        | "hardhat_mine"
        | "anvil_setBalance"
        | "hardhat_setBalance"
        | "anvil_setCode"
        | "hardhat_setCode"
        | "anvil_setNonce"
        | "hardhat_setNonce" => &[Any, Any],
        "anvil_setStorageAt" | "hardhat_setStorageAt" => &[Any, Any, Any],
        "eth_getBalance"
        | "eth_getTransactionCount"
        | "eth_getCode"
        | "eth_getStorageValues"
        | "eth_getAccount"
        | "eth_getAccountInfo"
        | "eth_simulateV1" => &[Any, BlockOrHash],
        "eth_getStorageAt" | "eth_getProof" => &[Any, Any, BlockOrHash],
        "eth_feeHistory" => &[Any, Block, Any],
        "eth_call" | "eth_estimateGas" => &[Call, BlockOrHash, Any, Any],
        "eth_createAccessList" => &[Call, BlockOrHash],
        "debug_traceCall" => &[Call, BlockOrHash, Any],
        "eth_sendTransaction" | "eth_signTransaction" => &[Call],
        "eth_getBlockByNumber" | "debug_traceBlockByNumber" => &[Block, Any],
        "eth_getBlockTransactionCountByNumber"
        | "eth_getUncleCountByBlockNumber"
        | "eth_getHeaderByNumber" => &[Block],
        "eth_getBlockReceipts"
        | "debug_getRawHeader"
        | "debug_getRawBlock"
        | "debug_getRawReceipts" => &[BlockOrHash],
        "eth_getTransactionByBlockNumberAndIndex"
        | "eth_getUncleByBlockNumberAndIndex"
        | "eth_getRawTransactionByBlockNumberAndIndex" => &[Block, Index],
        "eth_getTransactionByBlockHashAndIndex"
        | "eth_getUncleByBlockHashAndIndex"
        | "eth_getRawTransactionByBlockHashAndIndex" => &[Any, Index],
        "eth_getLogs" | "eth_newFilter" => &[Filter],
        "eth_subscribe" => &[Any, Filter],
        "testing_buildBlockV1" => &[Any, Any, Any, Any],
        _ => return None,
    })
}

/// Holds `params` (the request's raw `params`) against `method`'s [`signature`]; the
/// error is geth's message. Parameters that are not an array, and methods coco does
/// not serve, are left to jsonrpsee.
pub fn check(method: &str, params: Option<&str>) -> Result<(), String> {
    let (Some(signature), Some(params)) = (signature(method), params) else {
        return Ok(());
    };
    let Ok(values) = serde_json::from_str::<Vec<&RawValue>>(params) else {
        return Ok(());
    };
    // geth reads the arguments in order: a bad one is reported before a surplus one.
    for (i, raw) in values.iter().enumerate() {
        let Some(param) = signature.get(i) else {
            return Err(format!(
                "too many arguments, want at most {}",
                signature.len()
            ));
        };
        if *param == Param::Any {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(raw.get()) else {
            continue;
        };
        param
            .check(&value)
            .map_err(|reason| format!("invalid argument {i}: {reason}"))?;
    }
    Ok(())
}

/// geth's `hexutil` error for a quantity with leading zeros.
const LEADING_ZERO: &str = "hex number with leading zero digits";

/// `TransactionArgs`' quantity fields and their geth types.
const CALL_QUANTITIES: [(&str, &str); 8] = [
    ("gas", "hexutil.Uint64"),
    ("gasPrice", "hexutil.Big"),
    ("maxFeePerGas", "hexutil.Big"),
    ("maxPriorityFeePerGas", "hexutil.Big"),
    ("value", "hexutil.Big"),
    ("nonce", "hexutil.Uint64"),
    ("chainId", "hexutil.Big"),
    ("maxFeePerBlobGas", "hexutil.Big"),
];

impl Param {
    /// geth's reason for refusing `value` as this parameter, for the reasons checked here.
    fn check(self, value: &Value) -> Result<(), String> {
        match (self, value) {
            (Param::Block, Value::String(text)) if leading_zero(text) => {
                Err(LEADING_ZERO.to_string())
            }
            // 66 characters are a block hash, read as one.
            (Param::BlockOrHash, Value::String(text)) if text.len() != 66 && leading_zero(text) => {
                Err(LEADING_ZERO.to_string())
            }
            (Param::BlockOrHash, Value::Object(fields))
                if field_leading_zero(fields, "blockNumber") =>
            {
                Err(LEADING_ZERO.to_string())
            }
            (Param::Index, Value::String(text)) if leading_zero(text) => Err(format!(
                "json: cannot unmarshal {LEADING_ZERO} into Go value of type hexutil.Uint"
            )),
            (Param::Call, Value::Object(fields)) => {
                for (field, go_type) in CALL_QUANTITIES {
                    if field_leading_zero(fields, field) {
                        return Err(format!(
                            "json: cannot unmarshal {LEADING_ZERO} into Go struct field \
                             TransactionArgs.{field} of type {go_type}"
                        ));
                    }
                }
                Ok(())
            }
            (Param::Filter, Value::Object(fields))
                if ["fromBlock", "toBlock"]
                    .into_iter()
                    .any(|field| field_leading_zero(fields, field)) =>
            {
                Err(LEADING_ZERO.to_string())
            }
            _ => Ok(()),
        }
    }
}

/// Whether `text` is a `0x` quantity with leading zero digits (`0x0` is zero; `0x00`,
/// `0x01` are refused), as geth's `hexutil` decides.
fn leading_zero(text: &str) -> bool {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .is_some_and(|digits| digits.len() > 1 && digits.starts_with('0'))
}

/// Whether the field `name` of `fields` is a quantity with leading zeros.
fn field_leading_zero(fields: &serde_json::Map<String, Value>, name: &str) -> bool {
    matches!(fields.get(name), Some(Value::String(text)) if leading_zero(text))
}

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

    /// Every `#[rpc]` method in `src/rpc` with its parameter count, read from the trait
    /// definitions: `(full name, count)`, aliases and unsubscribe methods included.
    fn declared_methods() -> Vec<(String, usize)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rpc");
        let mut files = vec![dir];
        let mut methods = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                methods.extend(trait_methods(&text));
            }
        }
        methods
    }

    /// The text from `open` (just past an opening bracket) to its closing bracket.
    fn bracketed(text: &str, open: char, close: char) -> &str {
        let mut depth = 1;
        for (i, c) in text.char_indices() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
        }
        panic!("unbalanced {open}{close}");
    }

    /// The string values of `key = "…"` in an attribute (`aliases = ["…", …]` too).
    fn attr_strings<'a>(attr: &'a str, key: &str) -> Vec<&'a str> {
        let Some(at) = attr.find(&format!("{key} = ")) else {
            return Vec::new();
        };
        let rest = &attr[at + key.len() + 3..];
        let list = match rest.strip_prefix('[') {
            Some(list) => bracketed(list, '[', ']'),
            None => rest.split(',').next().unwrap().split("=>").next().unwrap(),
        };
        list.split(',')
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn trait_methods(text: &str) -> Vec<(String, usize)> {
        // Doc comments may hold brackets; only code is read, and attributes start lines.
        let code: String = text
            .lines()
            .map(str::trim_start)
            .filter(|l| !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut methods = Vec::new();
        for (at, marker) in code.match_indices("\n#[rpc(") {
            let at = at + marker.len();
            let attr = bracketed(&code[at..], '(', ')');
            let prefix = attr_strings(attr, "namespace")
                .first()
                .map(|ns| format!("{ns}_"))
                .unwrap_or_default();
            let body_at = at + code[at..].find('{').unwrap() + 1;
            let body = bracketed(&code[body_at..], '{', '}');
            for (kind, marker) in [
                ("method", "\n#[method("),
                ("subscription", "\n#[subscription("),
            ] {
                for (m, _) in body.match_indices(marker) {
                    let attr = bracketed(&body[m + marker.len()..], '(', ')');
                    let after = &body[m..];
                    let fn_at = after.find("fn ").unwrap();
                    let open = fn_at + after[fn_at..].find('(').unwrap() + 1;
                    let params = bracketed(&after[open..], '(', ')');
                    let mut depth = 0i32;
                    let mut count = 0;
                    let mut item = String::new();
                    for c in params.chars().chain([',']) {
                        match c {
                            '<' | '(' | '[' => depth += 1,
                            '>' | ')' | ']' => depth -= 1,
                            _ => {}
                        }
                        if c == ',' && depth == 0 {
                            let trimmed = item.trim();
                            if !trimmed.is_empty() && trimmed != "&self" {
                                count += 1;
                            }
                            item.clear();
                        } else {
                            item.push(c);
                        }
                    }
                    let name = attr_strings(attr, "name")[0];
                    methods.push((format!("{prefix}{name}"), count));
                    for alias in attr_strings(attr, "aliases") {
                        methods.push((alias.to_string(), count));
                    }
                    if kind == "subscription" {
                        let unsubscribe = attr_strings(attr, "unsubscribe")[0];
                        methods.push((format!("{prefix}{unsubscribe}"), 1));
                    }
                }
            }
        }
        methods
    }

    #[test]
    fn signatures_match_the_rpc_traits() {
        let methods = declared_methods();
        assert!(methods.len() > 100, "{methods:?}");
        for (method, count) in methods {
            let declared =
                signature(&method).unwrap_or_else(|| panic!("{method} has no signature"));
            assert_eq!(
                declared.len(),
                count,
                "{method}: the signature has {} parameters, the trait {count}",
                declared.len()
            );
        }
    }

    #[test]
    fn surplus_arguments_are_refused_with_geths_message() {
        assert_eq!(
            check("eth_blockNumber", Some("[1]")).unwrap_err(),
            "too many arguments, want at most 0"
        );
        let balance = r#"["0x0000000000000000000000000000000000000001","latest",{}]"#;
        assert_eq!(
            check("eth_getBalance", Some(balance)).unwrap_err(),
            "too many arguments, want at most 2"
        );
        assert!(check("eth_getBalance", Some(&balance.replace(",{}", ""))).is_ok());
        assert!(check("eth_blockNumber", Some("[]")).is_ok());
        assert!(check("eth_blockNumber", None).is_ok());
        assert!(
            check("eth_blockNumber", Some("{}")).is_ok(),
            "left to jsonrpsee"
        );
        assert!(
            check("not_served", Some("[1, 2, 3]")).is_ok(),
            "-32601 comes later"
        );
    }

    #[test]
    fn quantities_with_leading_zeros_are_refused_as_geth_refuses_them() {
        let zero = "hex number with leading zero digits";
        for (method, params, message) in [
            (
                "eth_getBlockByNumber",
                r#"["0x01", false]"#,
                format!("invalid argument 0: {zero}"),
            ),
            (
                "eth_getBlockByNumber",
                r#"["0x00", false]"#,
                format!("invalid argument 0: {zero}"),
            ),
            (
                "eth_getBalance",
                r#"["0x00", "0x01"]"#,
                format!("invalid argument 1: {zero}"),
            ),
            (
                "eth_getCode",
                r#"["0x00", {"blockNumber": "0x01"}]"#,
                format!("invalid argument 1: {zero}"),
            ),
            (
                "eth_call",
                r#"[{"to": "0x00", "gas": "0x01"}]"#,
                format!(
                    "invalid argument 0: json: cannot unmarshal {zero} into Go struct field \
                     TransactionArgs.gas of type hexutil.Uint64"
                ),
            ),
            (
                "eth_estimateGas",
                r#"[{"value": "0x0001"}]"#,
                format!(
                    "invalid argument 0: json: cannot unmarshal {zero} into Go struct field \
                     TransactionArgs.value of type hexutil.Big"
                ),
            ),
            (
                "eth_getTransactionByBlockNumberAndIndex",
                r#"["latest", "0x00"]"#,
                format!(
                    "invalid argument 1: json: cannot unmarshal {zero} into Go value of type \
                     hexutil.Uint"
                ),
            ),
            (
                "eth_getLogs",
                r#"[{"toBlock": "0x010"}]"#,
                format!("invalid argument 0: {zero}"),
            ),
        ] {
            assert_eq!(
                check(method, Some(params)).unwrap_err(),
                message,
                "{method} {params}"
            );
        }
        let hash = format!("\"0x00{}\"", "ab".repeat(31));
        for (method, params) in [
            ("eth_getBlockByNumber", r#"["0x0", false]"#.to_string()),
            ("eth_getBlockByNumber", r#"["0x10", true]"#.to_string()),
            ("eth_getBlockByNumber", r#"["latest", true]"#.to_string()),
            ("eth_getBalance", format!("[\"0x00\", {hash}]")),
            // Data, not quantities: leading zeros are digits like any other.
            (
                "eth_call",
                r#"[{"to": "0x0000000000000000000000000000000000000001", "input": "0x00"}]"#
                    .to_string(),
            ),
            (
                "eth_getProof",
                r#"["0x00", ["0x00"], "latest"]"#.to_string(),
            ),
            // geth reads eth_feeHistory's count as math.HexOrDecimal64, which allows them.
            ("eth_feeHistory", r#"["0x01", "latest", []]"#.to_string()),
        ] {
            assert!(check(method, Some(&params)).is_ok(), "{method} {params}");
        }
    }

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
