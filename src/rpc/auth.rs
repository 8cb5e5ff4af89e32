//! Who is calling: API keys (header or URL path) resolved to a [`Caller`].
//!
//! A key is presented as `Authorization: Bearer <key>` or, for wallets that take only a
//! URL, as the first path segment (`http://host:port/<key>`). The HTTP layer
//! ([`AuthLayer`]) resolves it against the [`KeyRing`] (which holds only keccak-256 hashes
//! of keys), strips the path, and attaches the [`Caller`] to the request; every RPC call
//! on that HTTP request or WebSocket connection sees it. Paths and keys are never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use alloy::primitives::{Address, B256, keccak256};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// What a key may do beyond reading its own addresses' data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads its own addresses' accounts, transactions and logs.
    User,
    /// Reads everything (raw storage, traces, every transaction and log).
    Auditor,
    /// A consortium member: a user who may also govern.
    Member,
}

/// A key as the key ring stores it (the key itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's role.
    pub role: Role,
    /// The addresses it speaks for.
    pub addresses: Vec<Address>,
    /// A name for operators (`coco keys list`).
    pub label: String,
}

/// Hash of a key, as stored.
pub fn key_hash(key: &str) -> B256 {
    keccak256(key.as_bytes())
}

/// A new random API key (`coco_` and 64 hex digits).
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("coco_{}", alloy::hex::encode(bytes))
}

/// Keys known to the node, by hash. Shared between the HTTP layer and `coco_login`.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: RwLock<HashMap<B256, KeyRecord>>,
}

impl KeyRing {
    /// A ring holding `records` (by key hash).
    pub fn new(records: impl IntoIterator<Item = (B256, KeyRecord)>) -> Self {
        Self {
            keys: RwLock::new(records.into_iter().collect()),
        }
    }

    /// Adds (or replaces) a key.
    pub fn insert(&self, hash: B256, record: KeyRecord) {
        self.keys.write().insert(hash, record);
    }

    /// Removes a key; true if it existed.
    pub fn remove(&self, hash: &B256) -> bool {
        self.keys.write().remove(hash).is_some()
    }

    /// The record of a presented key.
    pub fn lookup(&self, key: &str) -> Option<KeyRecord> {
        self.keys.read().get(&key_hash(key)).cloned()
    }

    /// Adds an address to an existing key (SIWE login with a session).
    pub fn add_address(&self, hash: &B256, address: Address) -> bool {
        match self.keys.write().get_mut(hash) {
            Some(record) => {
                if !record.addresses.contains(&address) {
                    record.addresses.push(address);
                }
                true
            }
            None => false,
        }
    }

    /// Every record, by hash.
    pub fn records(&self) -> Vec<(B256, KeyRecord)> {
        self.keys
            .read()
            .iter()
            .map(|(h, r)| (*h, r.clone()))
            .collect()
    }
}

/// The caller of a request, as the read policy sees it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `None` for anonymous callers.
    pub role: Option<Role>,
    /// Addresses the caller speaks for.
    pub addresses: Arc<Vec<Address>>,
    /// Hash of the key used (binds filters and subscriptions to it).
    pub key: Option<B256>,
    /// A key was presented but is unknown or revoked.
    pub bad_key: bool,
    /// The node runs the open policy: every caller reads everything.
    pub open: bool,
}

impl Caller {
    /// An anonymous caller under the given policy.
    pub fn anonymous(open: bool) -> Self {
        Self {
            role: None,
            addresses: Arc::new(Vec::new()),
            key: None,
            bad_key: false,
            open,
        }
    }

    /// True when the caller sees every record (open policy or auditor).
    pub fn sees_everything(&self) -> bool {
        self.open || self.role == Some(Role::Auditor)
    }

    /// True when the caller holds a valid key.
    pub fn is_authenticated(&self) -> bool {
        self.role.is_some()
    }

    /// True when the caller speaks for `address`.
    pub fn holds(&self, address: &Address) -> bool {
        self.addresses.contains(address)
    }

    /// True when the caller may read `address`'s balance and nonce.
    pub fn can_read_account(&self, address: &Address) -> bool {
        self.sees_everything() || self.holds(address)
    }

    /// True when the caller may see a transaction from `from` to `to`.
    pub fn can_see_transaction(&self, from: &Address, to: Option<&Address>) -> bool {
        self.sees_everything() || self.holds(from) || to.is_some_and(|t| self.holds(t))
    }

    /// True when the caller may see a log emitted in a transaction sent by `tx_from`:
    /// the sender, any address among its indexed topics, auditors, or everyone when the
    /// emitting contract is public.
    pub fn can_see_log(
        &self,
        tx_from: &Address,
        log: &alloy::primitives::Log,
        public: bool,
    ) -> bool {
        if public || self.sees_everything() || self.holds(tx_from) {
            return true;
        }
        log.topics().iter().skip(1).any(|topic| {
            topic[..12].iter().all(|b| *b == 0) && self.holds(&Address::from_slice(&topic[12..]))
        })
    }
}

/// The caller of a request; anonymous if the request carries none (internal calls).
pub fn caller_of(extensions: &http::Extensions) -> Caller {
    extensions
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::anonymous(false))
}

/// The HTTP layer resolving keys into [`Caller`]s.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    keys: Arc<KeyRing>,
    open: bool,
}

impl AuthLayer {
    /// Resolves keys against `keys`; `open` selects the open read policy.
    pub fn new(keys: Arc<KeyRing>, open: bool) -> Self {
        Self { keys, open }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl AuthLayer {
    fn resolve<B>(&self, req: &mut http::Request<B>) -> Caller {
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|v| v.trim().to_string());
        let path = req.uri().path().trim_matches('/').to_string();
        let from_path = (!path.is_empty()).then_some(path);
        if from_path.is_some() {
            // Strip the key from the path before anything else sees the URI.
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        let Some(key) = header.or(from_path) else {
            return Caller::anonymous(self.open);
        };
        match self.keys.lookup(&key) {
            Some(record) => Caller {
                role: Some(record.role),
                addresses: Arc::new(record.addresses),
                key: Some(key_hash(&key)),
                bad_key: false,
                open: self.open,
            },
            None => Caller {
                bad_key: true,
                ..Caller::anonymous(self.open)
            },
        }
    }
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let caller = self.layer.resolve(&mut req);
        req.extensions_mut().insert(caller);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{LogData, address};

    #[test]
    fn keys_from_header_or_path_and_path_is_stripped() {
        let alice = address!("0x00000000000000000000000000000000000000a1");
        let ring = Arc::new(KeyRing::default());
        ring.insert(
            key_hash("k1"),
            KeyRecord {
                role: Role::User,
                addresses: vec![alice],
                label: "a".into(),
            },
        );
        let layer = AuthLayer::new(ring, false);
        let mut req = http::Request::builder().uri("/k1").body(()).unwrap();
        let caller = layer.resolve(&mut req);
        assert_eq!(req.uri().path(), "/");
        assert!(caller.holds(&alice) && !caller.sees_everything());
        let mut req = http::Request::builder()
            .uri("/")
            .header("authorization", "Bearer k1")
            .body(())
            .unwrap();
        assert!(layer.resolve(&mut req).is_authenticated());
        let mut req = http::Request::builder().uri("/nope").body(()).unwrap();
        let caller = layer.resolve(&mut req);
        assert!(caller.bad_key && !caller.is_authenticated());
        let mut req = http::Request::builder().uri("/").body(()).unwrap();
        assert!(!layer.resolve(&mut req).is_authenticated());
    }

    #[test]
    fn logs_are_visible_to_sender_topic_addresses_and_auditors() {
        let (a, b, c) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let topic = |x: Address| B256::left_padding_from(x.as_slice());
        let log = alloy::primitives::Log {
            address: Address::repeat_byte(9),
            data: LogData::new_unchecked(
                vec![B256::repeat_byte(0xdd), topic(a), topic(b)],
                Default::default(),
            ),
        };
        let user = |x: Address| Caller {
            role: Some(Role::User),
            addresses: Arc::new(vec![x]),
            ..Caller::anonymous(false)
        };
        assert!(user(a).can_see_log(&c, &log, false));
        assert!(user(b).can_see_log(&c, &log, false));
        assert!(user(c).can_see_log(&c, &log, false), "the sender");
        assert!(!user(Address::repeat_byte(4)).can_see_log(&c, &log, false));
        assert!(!Caller::anonymous(false).can_see_log(&c, &log, false));
        assert!(
            Caller::anonymous(false).can_see_log(&c, &log, true),
            "public contracts"
        );
        assert!(
            Caller::anonymous(true).can_see_log(&c, &log, false),
            "open policy"
        );
        let auditor = Caller {
            role: Some(Role::Auditor),
            ..Caller::anonymous(false)
        };
        assert!(auditor.can_see_log(&c, &log, false));
    }
}
