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
    /// Auditors only (raw storage, traces, whole pool contents).
    Auditor,
}

impl Rule {
    fn describe(self) -> &'static str {
        match self {
            Rule::Public => "public",
            Rule::OwnAddress => "reads only the caller's own addresses (or needs an auditor key)",
            Rule::Authenticated => "needs an API key",
            Rule::Auditor => "needs an auditor key",
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
        | "coco_loginNonce"
        | "coco_login"
        | "coco_logout" => Public,
        // Reads by address.
        "eth_getBalance"
        | "eth_getTransactionCount"
        | "eth_getAccount"
        | "eth_getAccountInfo"
        | "txpool_contentFrom" => OwnAddress,
        // Execution as one of the caller's addresses; dev signing and controls.
        "eth_call"
        | "eth_estimateGas"
        | "eth_createAccessList"
        | "eth_sendTransaction"
        | "eth_sign"
        | "personal_sign"
        | "eth_signTypedData_v4" => Authenticated,
        // A state dump reads every account.
        "anvil_dumpState" | "anvil_loadState" => Auditor,
        m if m.starts_with("evm_") || m.starts_with("anvil_") || m.starts_with("hardhat_") => {
            Authenticated
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
    if caller.sees_everything() || rule == Rule::Public {
        return None;
    }
    let allowed = match rule {
        Rule::Public => true,
        Rule::Authenticated => caller.is_authenticated(),
        Rule::Auditor => false,
        Rule::OwnAddress => first_address(params).is_some_and(|a| caller.holds(&a)),
    };
    (!allowed).then(|| format!("not authorized: {method} {}", rule.describe()))
}

fn first_address(params: Option<&str>) -> Option<Address> {
    let values: Vec<serde_json::Value> = serde_json::from_str(params?).ok()?;
    serde_json::from_value(values.into_iter().next()?).ok()
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
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
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
                    let caller = caller_of(n.extensions());
                    let params = n.params().as_ref().map(|p| p.get().to_string());
                    refusal(&caller, n.method_name(), params.as_deref(), &self.served)
                        .is_none()
                        .then_some(Ok(BatchEntry::Notification(n)))
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
        self.inner.notification(n)
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
