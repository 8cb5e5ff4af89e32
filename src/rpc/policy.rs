//! The read policy: every served method declares its rule here, and nowhere else.
//!
//! [`rule`] maps a method name to its [`Rule`]; a method without a rule is refused
//! (there is no default-allow, and a test enumerates the served methods). The
//! [`PolicyLayer`] checks the method-level part of each rule before the method runs —
//! for single calls and for every call inside a batch. The record-level part (which
//! transactions, receipts and logs a caller sees) is applied by the methods through
//! [`super::auth::Caller`]'s visibility checks.
//!
//! Refusals answer one code, [`NOT_AUTHORIZED`], with a message naming the rule.

use std::collections::HashSet;
use std::sync::Arc;

use alloy::primitives::Address;
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Request};

use super::auth::{Caller, caller_of};

/// The JSON-RPC error code of every policy refusal.
pub const NOT_AUTHORIZED: i32 = -32030;

/// What a method requires of its caller (under the confidential policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: public data, or data each method filters per caller (hash lookups answer
    /// `null` for what the caller may not see, lists leave it out).
    Public,
    /// The address in parameter 0 must be one of the caller's (or the caller an auditor).
    OwnAddress,
    /// Any authenticated caller; the method checks `from` against the caller's addresses.
    Authenticated,
    /// Signing and sending with the node's dev keys: a key that is not an auditor's;
    /// the method checks the address against the key's.
    Signs,
    /// Auditors only (raw storage, traces, whole pool contents).
    Auditor,
    /// The node's operator only: methods that change state or the chain outside a
    /// signed transaction (`evm_*`, `anvil_*`, `hardhat_*`, state dumps, impersonation).
    Operator,
}

impl Rule {
    fn describe(self) -> &'static str {
        match self {
            Rule::Public => "public",
            Rule::OwnAddress => "reads only the caller's own addresses (or needs an auditor key)",
            Rule::Authenticated => "needs an API key",
            Rule::Signs => "needs an API key for the address (auditors cannot sign or send)",
            Rule::Auditor => "needs an auditor key",
            Rule::Operator => "needs the node operator's key",
        }
    }
}

/// The rule of every method coco serves; `None` for a method without one.
pub fn rule(method: &str) -> Option<Rule> {
    use Rule::*;
    Some(match method {
        // Public chain data.
        "web3_clientVersion"
        | "web3_sha3"
        | "net_version"
        | "net_listening"
        | "net_peerCount"
        | "eth_chainId"
        | "eth_blockNumber"
        | "eth_syncing"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "eth_feeHistory"
        | "eth_getCode"
        | "eth_accounts"
        | "eth_getBlockTransactionCountByNumber"
        | "eth_getBlockTransactionCountByHash"
        | "eth_getUncleCountByBlockNumber"
        | "eth_getUncleCountByBlockHash"
        | "eth_getUncleByBlockNumberAndIndex"
        | "eth_getUncleByBlockHashAndIndex"
        | "eth_blobBaseFee"
        | "eth_baseFee"
        | "eth_config"
        | "eth_capabilities"
        | "debug_getRawHeader"
        | "eth_getHeaderByNumber"
        | "eth_getHeaderByHash"
        | "anvil_nodeInfo"
        | "txpool_status" => Public,
        // Filtered per caller inside the method.
        "eth_getBlockByNumber"
        | "eth_getBlockByHash"
        | "eth_getBlockReceipts"
        | "eth_getTransactionByHash"
        | "eth_getTransactionReceipt"
        | "eth_getTransactionByBlockNumberAndIndex"
        | "eth_getTransactionByBlockHashAndIndex"
        | "eth_getLogs"
        | "eth_newFilter"
        | "eth_newBlockFilter"
        | "eth_newPendingTransactionFilter"
        | "eth_getFilterChanges"
        | "eth_getFilterLogs"
        | "eth_uninstallFilter"
        | "eth_subscribe"
        | "eth_unsubscribe"
        | "eth_sendRawTransaction"
        | "debug_getRawTransaction"
        | "eth_getRawTransactionByHash"
        | "eth_getRawTransactionByBlockNumberAndIndex"
        | "eth_getRawTransactionByBlockHashAndIndex"
        | "coco_loginNonce"
        // A validator's role, leader, term, height and peer endpoints: the cluster's
        // shape, no ledger data (heights are public anyway).
        | "coco_nodeStatus"
        | "coco_login"
        | "coco_logout" => Public,
        // Reads by address.
        "eth_getBalance"
        | "eth_getTransactionCount"
        | "eth_getAccount"
        | "eth_getAccountInfo"
        | "txpool_contentFrom" => OwnAddress,
        // Execution as one of the caller's addresses (auditors: as anyone).
        "eth_call" | "eth_estimateGas" | "eth_createAccessList" => Authenticated,
        // Signing with the dev keys, as one of the caller's addresses.
        "eth_sendTransaction"
        | "eth_signTransaction"
        | "eth_sign"
        | "personal_sign"
        | "eth_signTypedData"
        | "eth_signTypedData_v4" => Signs,
        // Dev controls: they rewrite state and history (snapshots, set*, mining, dumps).
        m if m.starts_with("evm_") || m.starts_with("anvil_") || m.starts_with("hardhat_") => {
            Operator
        }
        // Raw state, traces, unfiltered blocks and receipts, and the whole pool.
        "eth_getStorageAt"
        | "eth_getStorageValues"
        | "eth_getProof"
        | "debug_getRawBlock"
        | "debug_getRawReceipts"
        | "testing_buildBlockV1"
        // Simulation runs arbitrary senders over overridable state (DESIGN: auditors).
        | "eth_simulateV1"
        | "txpool_content"
        | "txpool_inspect"
        | "coco_getBlindingKey" => Auditor,
        m if m.starts_with("debug_") => Auditor,
        _ => return None,
    })
}

/// Why `caller` may not call `method` with `params`, if it may not.
pub fn refusal(
    caller: &Caller,
    method: &str,
    params: Option<&str>,
    served: &HashSet<String>,
) -> Option<String> {
    let Some(rule) = rule(method) else {
        // Unknown methods fall through to jsonrpsee's -32601; served ones without a
        // rule are refused (no default-allow).
        return served
            .contains(method)
            .then(|| format!("{method} has no declared read rule"));
    };
    if caller.bad_key {
        return Some("invalid or revoked API key".to_string());
    }
    if caller.open || rule == Rule::Public {
        return None;
    }
    let auditor = caller.sees_everything();
    let allowed = match rule {
        Rule::Public => true,
        Rule::Authenticated => caller.is_authenticated(),
        Rule::Signs => caller.is_authenticated() && !auditor,
        // Governance's own storage is also its members' (they read its records anyway);
        // not its proofs, whose sibling hashes would let them test guesses about others.
        Rule::Auditor => {
            auditor
                || (caller.role == Some(super::auth::Role::Member)
                    && method == "eth_getStorageAt"
                    && matches!(first_param(params), FirstParam::Address(a) if a == crate::governance::GOVERNANCE))
        }
        Rule::Operator => caller.is_operator(),
        Rule::OwnAddress => {
            auditor
                || match first_param(params) {
                    // A malformed or missing address is the method's -32602.
                    FirstParam::Malformed => true,
                    FirstParam::Address(a) => caller.holds(&a),
                    FirstParam::Unreadable => false,
                }
        }
    };
    (!allowed).then(|| format!("not authorized: {method} {}", rule.describe()))
}

/// What parameter 0 of a call is, for [`Rule::OwnAddress`].
enum FirstParam {
    Address(Address),
    /// Positional parameters whose first is missing or not an address: the method
    /// answers -32602 (it reads it as the same type), so the policy lets it through.
    Malformed,
    /// Parameters that are not a JSON array (by name): refused, since the policy cannot
    /// see which address they name.
    Unreadable,
}

fn first_param(params: Option<&str>) -> FirstParam {
    let Some(params) = params else {
        return FirstParam::Malformed;
    };
    match serde_json::from_str::<Vec<serde_json::Value>>(params) {
        Ok(values) => match values.into_iter().next().map(serde_json::from_value) {
            Some(Ok(address)) => FirstParam::Address(address),
            _ => FirstParam::Malformed,
        },
        Err(_) => FirstParam::Unreadable,
    }
}

fn denied(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(NOT_AUTHORIZED, message, None::<()>)
}

/// jsonrpsee middleware applying [`refusal`] to every call.
#[derive(Debug, Clone)]
pub struct PolicyLayer {
    served: Arc<HashSet<String>>,
}

impl PolicyLayer {
    /// A layer for a module serving `served` methods.
    pub fn new(served: impl IntoIterator<Item = String>) -> Self {
        Self {
            served: Arc::new(served.into_iter().collect()),
        }
    }
}

impl<S> tower::Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            served: self.served.clone(),
        }
    }
}

/// See [`PolicyLayer`].
#[derive(Debug, Clone)]
pub struct PolicyService<S> {
    inner: S,
    served: Arc<HashSet<String>>,
}

impl<S> PolicyService<S> {
    fn refuses_notification(&self, n: &Notification<'_>) -> bool {
        let caller = caller_of(n.extensions());
        let params = n.params().as_ref().map(|p| p.get());
        refusal(&caller, n.method_name(), params, &self.served).is_some()
    }

    fn check(&self, req: &Request<'_>) -> Option<String> {
        let caller = caller_of(&req.extensions);
        refusal(
            &caller,
            req.method_name(),
            req.params.as_ref().map(|p| p.get()),
            &self.served,
        )
    }
}

impl<S> RpcServiceT for PolicyService<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, NotificationResponse = MethodResponse>
        + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let refusal = self.check(&req);
        let inner = self.inner.clone();
        async move {
            match refusal {
                Some(message) => MethodResponse::error(req.id, denied(message)),
                None => inner.call(req).await,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let entries = batch
            .into_iter()
            .filter_map(|entry| match entry {
                Ok(BatchEntry::Call(req)) => Some(match self.check(&req) {
                    Some(message) => Err(BatchEntryErr::new(req.id, denied(message))),
                    None => Ok(BatchEntry::Call(req)),
                }),
                // A refused notification gets no answer: it is dropped.
                Ok(BatchEntry::Notification(n)) => {
                    (!self.refuses_notification(&n)).then_some(Ok(BatchEntry::Notification(n)))
                }
                Err(err) => Some(Err(err)),
            })
            .collect();
        self.inner.batch(Batch::from(entries))
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        // jsonrpsee answers notifications with nothing and runs no method for them;
        // a refused one is dropped here all the same, so that stays true whatever
        // serves them.
        let refused = self.refuses_notification(&n);
        let inner = self.inner.clone();
        async move {
            if refused {
                MethodResponse::notification()
            } else {
                inner.notification(n).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::auth::Role;

    #[test]
    fn rules_are_enforced() {
        let served: HashSet<String> = ["eth_getBalance", "made_up_served"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let me = Address::repeat_byte(1);
        let user = Caller {
            role: Some(Role::User),
            addresses: Arc::new(vec![me]),
            ..Caller::anonymous(false)
        };
        let mine = format!("[\"{me}\", \"latest\"]");
        let other = format!("[\"{}\", \"latest\"]", Address::repeat_byte(2));
        assert!(refusal(&user, "eth_getBalance", Some(&mine), &served).is_none());
        let no = refusal(&user, "eth_getBalance", Some(&other), &served).unwrap();
        assert!(no.contains("own addresses"), "{no}");
        assert!(refusal(&Caller::anonymous(false), "eth_call", None, &served).is_some());
        assert!(refusal(&user, "eth_call", None, &served).is_none());
        assert!(refusal(&user, "debug_traceTransaction", None, &served).is_some());
        assert!(refusal(&user, "eth_getStorageAt", None, &served).is_some());
        assert!(
            refusal(&Caller::anonymous(true), "eth_getStorageAt", None, &served).is_none(),
            "open policy"
        );
        assert!(refusal(&user, "eth_chainId", None, &served).is_none());
        assert!(
            refusal(&user, "made_up_served", None, &served)
                .unwrap()
                .contains("no declared read rule")
        );
        assert!(
            refusal(&user, "not_served_at_all", None, &served).is_none(),
            "-32601 comes from jsonrpsee"
        );
        let bad = Caller {
            bad_key: true,
            ..Caller::anonymous(false)
        };
        assert!(
            refusal(&bad, "eth_chainId", None, &served)
                .unwrap()
                .contains("invalid")
        );
    }

    #[test]
    fn dev_controls_are_the_operators_and_signing_is_not_the_auditors() {
        let served = HashSet::new();
        let me = Address::repeat_byte(1);
        let with = |role| Caller {
            role: Some(role),
            addresses: Arc::new(vec![me]),
            ..Caller::anonymous(false)
        };
        let (user, auditor, operator) =
            (with(Role::User), with(Role::Auditor), with(Role::Operator));
        for method in [
            "evm_snapshot",
            "evm_revert",
            "anvil_setCode",
            "hardhat_setBalance",
            "anvil_impersonateAccount",
            "anvil_dumpState",
            "anvil_loadState",
            "hardhat_mine",
        ] {
            assert!(refusal(&user, method, None, &served).is_some(), "{method}");
            assert!(
                refusal(&auditor, method, None, &served).is_some(),
                "{method}"
            );
            assert!(
                refusal(&operator, method, None, &served).is_none(),
                "{method}"
            );
            assert!(
                refusal(&Caller::anonymous(true), method, None, &served).is_none(),
                "open policy: {method}"
            );
        }
        for method in [
            "personal_sign",
            "eth_sendTransaction",
            "eth_signTypedData_v4",
        ] {
            assert!(
                refusal(&auditor, method, None, &served).is_some(),
                "{method}"
            );
            assert!(refusal(&user, method, None, &served).is_none(), "{method}");
        }
        assert!(refusal(&auditor, "eth_call", None, &served).is_none());
        assert!(!auditor.may_act_for(&me) && user.may_act_for(&me));
    }

    #[test]
    fn a_malformed_address_is_left_to_the_method() {
        let served = HashSet::new();
        let user = Caller {
            role: Some(Role::User),
            addresses: Arc::new(vec![Address::repeat_byte(1)]),
            ..Caller::anonymous(false)
        };
        for params in [r#"["0x12", "latest"]"#, "[]", r#"[7]"#] {
            assert!(
                refusal(&user, "eth_getBalance", Some(params), &served).is_none(),
                "{params}: the method answers -32602"
            );
        }
        assert!(refusal(&user, "eth_getBalance", None, &served).is_none());
        // Named parameters name an address the policy cannot check: refused.
        let named = r#"{"address": "0x0202020202020202020202020202020202020202"}"#;
        assert!(refusal(&user, "eth_getBalance", Some(named), &served).is_some());
    }

    #[test]
    fn raw_reads_follow_the_records_they_expose() {
        let served = HashSet::new();
        let me = Address::repeat_byte(1);
        let user = Caller {
            role: Some(Role::User),
            addresses: Arc::new(vec![me]),
            ..Caller::anonymous(false)
        };
        // Headers are public; a transaction is filtered by the method; whole blocks,
        // receipts and raw state are unfiltered: auditors only.
        for public in [
            "debug_getRawHeader",
            "debug_getRawTransaction",
            "eth_config",
        ] {
            assert!(refusal(&user, public, None, &served).is_none(), "{public}");
        }
        for audit in [
            "debug_getRawBlock",
            "debug_getRawReceipts",
            "eth_getStorageValues",
            "testing_buildBlockV1",
        ] {
            assert!(refusal(&user, audit, None, &served).is_some(), "{audit}");
        }
        let mine = format!("[\"{me}\"]");
        assert!(refusal(&user, "txpool_contentFrom", Some(&mine), &served).is_none());
        let other = format!("[\"{}\"]", Address::repeat_byte(2));
        assert!(refusal(&user, "txpool_contentFrom", Some(&other), &served).is_some());
    }
}
