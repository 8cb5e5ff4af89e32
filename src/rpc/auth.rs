//! Who is calling: API keys (header or URL path) resolved to a [`Caller`].
//!
//! A key is presented as `Authorization: Bearer <key>` or, for wallets that take only a
//! URL, as the first path segment (`http://host:port/<key>`). The HTTP layer
//! ([`AuthLayer`]) takes it (stripping the path) and attaches only its hash
//! ([`Presented`]) to the request. The RPC layer ([`CallerLayer`]) resolves that hash
//! against the [`KeyRing`] (which holds only keccak-256 hashes of keys) on every call, so
//! a key revoked, logged out or expired is refused on the next call of every connection,
//! WebSocket ones included, and the subscriptions and filters it opened end. Paths and
//! keys are never logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use alloy::primitives::{Address, B256, keccak256};
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::Request;
use parking_lot::{Mutex, RwLock};
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
    /// The node's operator: a user who may also run the state- and chain-changing
    /// development methods (`evm_*`, `anvil_*`, `hardhat_*`, dumps). In dev mode, the
    /// printed dev key.
    Operator,
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
    /// Unix seconds after which the key is refused: set on SIWE sessions only (the
    /// message's `Expiration Time` or the node's maximum session lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl KeyRecord {
    /// A key without expiry (operator-issued).
    pub fn new(role: Role, addresses: Vec<Address>, label: impl Into<String>) -> Self {
        Self {
            role,
            addresses,
            label: label.into(),
            expires_at: None,
        }
    }

    /// True for a SIWE session (created by `coco_login`, ended by `coco_logout`).
    pub fn is_session(&self) -> bool {
        self.expires_at.is_some()
    }

    fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// The read role governance gives `address`: auditor, else member, else user; `None`
/// for an account it does not know.
pub fn governed_role(
    governance: &crate::governance::GovernanceState,
    address: &Address,
) -> Option<Role> {
    use crate::governance::UserRole;
    match (governance.user_role(address), governance.is_member(address)) {
        (Some(UserRole::Auditor), _) => Some(Role::Auditor),
        (_, true) => Some(Role::Member),
        (Some(UserRole::User), false) => Some(Role::User),
        (None, false) => None,
    }
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

/// Loads the operator-issued keys (`keys.sealed`); see [`KeyRing::with_file`].
pub type KeyLoader = Box<dyn Fn() -> Result<Vec<(B256, KeyRecord)>, String> + Send + Sync>;

/// What identifies a version of the key file: a rewrite (temp file and rename) changes
/// the inode, an edit in place the length or the modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

/// Keys by hash.
type Keys = HashMap<B256, KeyRecord>;

/// The operator-issued keys as last read from their file, with the file's stamp then.
struct FileKeys {
    path: PathBuf,
    load: KeyLoader,
    state: Mutex<(Option<FileStamp>, Arc<Keys>)>,
}

impl FileKeys {
    /// The keys, re-read when the file changed since the last look (`coco keys add`
    /// and `coco keys revoke` edit it while the node runs). A file that cannot be read
    /// yields no keys (fail closed) until it can.
    fn current(&self) -> Arc<Keys> {
        let now = stamp(&self.path);
        let mut state = self.state.lock();
        if state.0.is_none() || state.0 != now {
            let keys = match (self.load)() {
                Ok(records) => records.into_iter().collect(),
                Err(reason) => {
                    tracing::warn!(%reason, "cannot read the API key file; refusing its keys");
                    HashMap::new()
                }
            };
            *state = (now, Arc::new(keys));
        }
        state.1.clone()
    }
}

/// The governance tables as they are now (the chain's cache).
pub type GovernanceSource = Arc<dyn Fn() -> Arc<crate::governance::GovernanceState> + Send + Sync>;

/// Keys known to the node, by hash: the operator-issued ones (from the key file, when
/// the ring has one), those made at run time (the dev key, SIWE sessions) and, on a
/// consortium chain, those governance registered. Shared between the RPC layer and
/// `coco_login`.
#[derive(Default)]
pub struct KeyRing {
    keys: RwLock<HashMap<B256, KeyRecord>>,
    file: Option<FileKeys>,
    governance: Option<GovernanceSource>,
    /// Told of every session made, widened or ended here (validators pass them on).
    sessions: std::sync::OnceLock<SessionSink>,
    /// Sessions ended here or elsewhere, by key hash, with the time after which they
    /// would have expired anyway: a late `Put` never brings one back.
    ended: Mutex<HashMap<B256, u64>>,
}

/// A SIWE session made, widened or ended on one validator, for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionChange {
    /// The session with this key hash is now `record`.
    Put {
        /// keccak256 of the session key.
        hash: B256,
        /// Its role, addresses and expiry.
        record: KeyRecord,
    },
    /// The session with this key hash ended (`coco_logout`).
    Remove {
        /// keccak256 of the session key.
        hash: B256,
    },
}

/// Where a key ring sends its [`SessionChange`]s.
pub type SessionSink = Arc<dyn Fn(SessionChange) + Send + Sync>;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("runtime_keys", &self.keys.read().len())
            .field("file", &self.file.as_ref().map(|f| &f.path))
            .finish()
    }
}

impl KeyRing {
    /// A ring holding `records` (by key hash).
    pub fn new(records: impl IntoIterator<Item = (B256, KeyRecord)>) -> Self {
        Self {
            keys: RwLock::new(records.into_iter().collect()),
            file: None,
            governance: None,
            sessions: Default::default(),
            ended: Default::default(),
        }
    }

    /// A ring whose operator-issued keys are `load()`'s, re-read whenever the file at
    /// `path` changes, so `coco keys revoke` takes effect on the next call.
    pub fn with_file(path: PathBuf, load: KeyLoader) -> Self {
        Self {
            keys: RwLock::default(),
            file: Some(FileKeys {
                path,
                load,
                state: Mutex::new((None, Arc::default())),
            }),
            governance: None,
            sessions: Default::default(),
            ended: Default::default(),
        }
    }

    /// Governs the ring (a consortium chain): API keys governance registered are
    /// accepted with the role it gives their user; SIWE sessions hold only registered
    /// accounts and take governance's role for them, checked on every call, so removing
    /// a user ends its keys and sessions on its next request.
    pub fn governed_by(mut self, governance: GovernanceSource) -> Self {
        self.governance = Some(governance);
        self
    }

    /// The read role governance gives `address`; `None` when the ring is not governed.
    pub fn governed_role(&self, address: &Address) -> Option<Option<Role>> {
        self.governance
            .as_ref()
            .map(|g| governed_role(&g(), address))
    }

    /// The SIWE domains governance sets (empty: none set, or not governed).
    pub fn governed_siwe_domains(&self) -> Vec<String> {
        self.governance
            .as_ref()
            .map(|g| g().siwe_domains().to_vec())
            .unwrap_or_default()
    }

    /// A run-time record as governance lets it stand now: a session stands only while
    /// every account it holds is registered, with the widest role governance gives one
    /// of them (its holder signed in as each: auditor, else member, else user).
    fn governed(&self, record: KeyRecord) -> Option<KeyRecord> {
        let Some(governance) = &self.governance else {
            return Some(record);
        };
        if !record.is_session() {
            return Some(record);
        }
        let state = governance();
        let rank = |role: Role| match role {
            Role::User => 0,
            Role::Member => 1,
            Role::Auditor => 2,
            Role::Operator => 3,
        };
        let mut role = None;
        for address in &record.addresses {
            let this = governed_role(&state, address)?;
            if role.is_none_or(|r| rank(this) > rank(r)) {
                role = Some(this);
            }
        }
        Some(KeyRecord {
            role: role?,
            ..record
        })
    }

    /// The record of a key governance registered.
    fn registered(&self, hash: &B256) -> Option<KeyRecord> {
        let state = self.governance.as_ref()?();
        let user = state.api_key_owner(hash)?;
        let role = governed_role(&state, &user)?;
        Some(KeyRecord::new(role, vec![user], "governance"))
    }

    /// Adds (or replaces) a run-time key, dropping expired sessions.
    pub fn insert(&self, hash: B256, record: KeyRecord) {
        let now = crate::chain::now();
        let mut keys = self.keys.write();
        keys.retain(|_, r| !r.expired(now));
        keys.insert(hash, record);
    }

    /// Removes a run-time key; true if it existed.
    pub fn remove(&self, hash: &B256) -> bool {
        self.keys.write().remove(hash).is_some()
    }

    /// Sends every session change made here to `sink` from now on (set once).
    pub fn on_sessions(&self, sink: SessionSink) {
        let _ = self.sessions.set(sink);
    }

    fn tell(&self, change: SessionChange) {
        if let Some(sink) = self.sessions.get() {
            sink(change);
        }
    }

    /// Adds a SIWE session and tells the sink.
    pub fn insert_session(&self, hash: B256, record: KeyRecord) {
        self.insert(hash, record.clone());
        self.tell(SessionChange::Put { hash, record });
    }

    /// Ends a session and tells the sink; true if it was a live session here.
    pub fn end_session(&self, hash: &B256) -> bool {
        let record = self.record(hash).filter(|r| r.is_session());
        let removed = record.is_some() && self.remove(hash);
        if let Some(record) = record.filter(|_| removed) {
            self.bury(*hash, record.expires_at.unwrap_or(u64::MAX));
            self.tell(SessionChange::Remove { hash: *hash });
        }
        removed
    }

    /// Remembers an ended session until it would have expired.
    fn bury(&self, hash: B256, until: u64) {
        let now = crate::chain::now();
        let mut ended = self.ended.lock();
        ended.retain(|_, t| *t > now);
        ended.insert(hash, until);
    }

    /// Applies a session change another validator made (not told on). Only sessions,
    /// never longer than `max_lifetime` from now, and never one that ended here.
    pub fn apply_session(&self, change: SessionChange, max_lifetime: std::time::Duration) {
        let now = crate::chain::now();
        let cap = now.saturating_add(max_lifetime.as_secs());
        match change {
            SessionChange::Put { hash, mut record } if record.is_session() => {
                if self.ended.lock().contains_key(&hash) {
                    return;
                }
                record.expires_at = record.expires_at.map(|t| t.min(cap));
                self.insert(hash, record)
            }
            SessionChange::Put { .. } => {}
            SessionChange::Remove { hash } => {
                let removed = {
                    let mut keys = self.keys.write();
                    match keys.get(&hash) {
                        Some(r) if r.is_session() => keys.remove(&hash),
                        _ => None,
                    }
                };
                self.bury(hash, removed.and_then(|r| r.expires_at).unwrap_or(cap));
            }
        }
    }

    /// The record of the key with this hash, if it is valid now (an expired session is
    /// removed).
    pub fn record(&self, hash: &B256) -> Option<KeyRecord> {
        let now = crate::chain::now();
        {
            let keys = self.keys.read();
            match keys.get(hash) {
                Some(record) if !record.expired(now) => return self.governed(record.clone()),
                Some(_) => {}
                None => {
                    drop(keys);
                    if let Some(record) = self.registered(hash) {
                        return Some(record);
                    }
                    return self.file.as_ref()?.current().get(hash).cloned();
                }
            }
        }
        self.keys.write().remove(hash);
        None
    }

    /// The record of a presented key.
    pub fn lookup(&self, key: &str) -> Option<KeyRecord> {
        self.record(&key_hash(key))
    }

    /// Adds an address to a session and lets it end no later than `expires_at`. False
    /// if `hash` is not a live session.
    pub fn extend_session(&self, hash: &B256, address: Address, expires_at: u64) -> bool {
        let now = crate::chain::now();
        let widened = match self.keys.write().get_mut(hash) {
            Some(record) if record.is_session() && !record.expired(now) => {
                if !record.addresses.contains(&address) {
                    record.addresses.push(address);
                }
                record.expires_at = record.expires_at.map(|t| t.min(expires_at));
                Some(record.clone())
            }
            _ => None,
        };
        match widened {
            Some(record) => {
                self.tell(SessionChange::Put {
                    hash: *hash,
                    record,
                });
                true
            }
            None => false,
        }
    }

    /// Every valid record, by hash (run-time keys first).
    pub fn records(&self) -> Vec<(B256, KeyRecord)> {
        let now = crate::chain::now();
        let mut all: Vec<_> = self
            .keys
            .read()
            .iter()
            .filter(|(_, r)| !r.expired(now))
            .map(|(h, r)| (*h, r.clone()))
            .collect();
        if let Some(file) = &self.file {
            all.extend(file.current().iter().map(|(h, r)| (*h, r.clone())));
        }
        all
    }

    /// The caller presenting `presented` (a key's hash; `None`: no key) on connection
    /// `connection`, now.
    pub fn caller(
        self: &Arc<Self>,
        presented: Option<B256>,
        open: bool,
        connection: Option<u64>,
    ) -> Caller {
        let base = Caller {
            connection,
            ..Caller::anonymous(open)
        };
        let Some(hash) = presented else {
            return base;
        };
        match self.record(&hash) {
            Some(record) => Caller {
                role: Some(record.role),
                addresses: Arc::new(record.addresses),
                key: Some(hash),
                ring: Some(self.clone()),
                ..base
            },
            None => Caller {
                bad_key: true,
                ..base
            },
        }
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
    /// The connection the call arrived on (binds anonymous filters to it).
    pub connection: Option<u64>,
    /// The ring the key was found in, to tell later whether it is still valid.
    pub ring: Option<Arc<KeyRing>>,
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
            connection: None,
            ring: None,
        }
    }

    /// True unless the caller's key has since been revoked, logged out, expired or had
    /// its role or addresses changed.
    /// Filters and subscriptions check this before every delivery.
    pub fn is_current(&self) -> bool {
        match (&self.key, &self.ring) {
            // Still valid, with the role it had and every address it had (a session may
            // have gained some): a key governance demoted (an auditor made a user) must
            // not keep reading through what it opened before.
            (Some(hash), Some(ring)) => ring.record(hash).is_some_and(|r| {
                Some(r.role) == self.role && self.addresses.iter().all(|a| r.addresses.contains(a))
            }),
            _ => true,
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

    /// True when the caller may sign and send as `address` (dev signing, SIWE):
    /// everyone under the open policy, else a key holding it that is not an auditor's
    /// (auditors read; they never act for an address).
    pub fn may_act_for(&self, address: &Address) -> bool {
        self.open || (self.role != Some(Role::Auditor) && self.holds(address))
    }

    /// True when the caller may run the state- and chain-changing development methods:
    /// everyone under the open policy, else the operator only.
    pub fn is_operator(&self) -> bool {
        self.open || self.role == Some(Role::Operator)
    }

    /// True when the caller may read `address`'s balance and nonce.
    pub fn can_read_account(&self, address: &Address) -> bool {
        self.sees_everything() || self.holds(address)
    }

    /// True when the caller may see a transaction from `from` to `to` (members also see
    /// every transaction to governance: proposals and votes).
    pub fn can_see_transaction(&self, from: &Address, to: Option<&Address>) -> bool {
        self.sees_everything()
            || self.holds(from)
            || to.is_some_and(|t| {
                self.holds(t)
                    || (*t == crate::governance::GOVERNANCE && self.role == Some(Role::Member))
            })
    }

    /// [`Caller::can_see_log`] with governance's rules: the logs of contracts it made
    /// public are everyone's, and its own logs are also every member's.
    pub fn sees_log(
        &self,
        tx_from: &Address,
        log: &alloy::primitives::Log,
        governance: &crate::governance::GovernanceState,
    ) -> bool {
        let public = governance.logs_public(&log.address)
            || (log.address == crate::governance::GOVERNANCE && self.role == Some(Role::Member));
        self.can_see_log(tx_from, log, public)
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

/// The hash of the API key an HTTP request (or WebSocket upgrade) presented; the
/// [`CallerLayer`] turns it into a [`Caller`] on every call.
#[derive(Debug, Clone, Copy)]
pub struct Presented(pub Option<B256>);

/// The HTTP layer taking API keys from requests (and stripping them from the path).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthLayer;

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
}

/// The hash of the key `req` presents, if any; strips a key from the path.
fn presented<B>(req: &mut http::Request<B>) -> Presented {
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
    Presented(header.or(from_path).map(|key| key_hash(&key)))
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
        let presented = presented(&mut req);
        req.extensions_mut().insert(presented);
        if let Some(min) = super::consistency::MinBlock::of(req.headers()) {
            req.extensions_mut().insert(min);
        }
        self.inner.call(req)
    }
}

/// The RPC layer resolving the presented key into a [`Caller`] on every call (and every
/// call of a batch), against the ring as it is at that moment.
#[derive(Debug, Clone)]
pub struct CallerLayer {
    keys: Arc<KeyRing>,
    open: bool,
}

impl CallerLayer {
    /// Resolves keys against `keys`; `open` selects the open read policy.
    pub fn new(keys: Arc<KeyRing>, open: bool) -> Self {
        Self { keys, open }
    }

    fn resolve(&self, extensions: &mut http::Extensions) {
        let presented = extensions.get::<Presented>().and_then(|p| p.0);
        let connection = extensions
            .get::<jsonrpsee::server::ConnectionId>()
            .map(|c| c.0 as u64);
        let caller = self.keys.caller(presented, self.open, connection);
        extensions.insert(caller);
    }
}

impl<S> tower::Layer<S> for CallerLayer {
    type Service = CallerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`CallerLayer`].
#[derive(Debug, Clone)]
pub struct CallerService<S> {
    inner: S,
    layer: CallerLayer,
}

impl<S> RpcServiceT for CallerService<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        mut req: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.layer.resolve(req.extensions_mut());
        self.inner.call(req)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let entries = batch
            .into_iter()
            .map(|entry| {
                entry.map(|mut entry| {
                    match &mut entry {
                        BatchEntry::Call(req) => self.layer.resolve(req.extensions_mut()),
                        BatchEntry::Notification(n) => self.layer.resolve(n.extensions_mut()),
                    }
                    entry
                })
            })
            .collect();
        self.inner.batch(Batch::from(entries))
    }

    fn notification<'a>(
        &self,
        mut n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.layer.resolve(n.extensions_mut());
        self.inner.notification(n)
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
        ring.insert(key_hash("k1"), KeyRecord::new(Role::User, vec![alice], "a"));
        let resolve = |req: &mut http::Request<()>| ring.caller(presented(req).0, false, None);
        let mut req = http::Request::builder().uri("/k1").body(()).unwrap();
        let caller = resolve(&mut req);
        assert_eq!(req.uri().path(), "/");
        assert!(caller.holds(&alice) && !caller.sees_everything());
        let mut req = http::Request::builder()
            .uri("/")
            .header("authorization", "Bearer k1")
            .body(())
            .unwrap();
        assert!(resolve(&mut req).is_authenticated());
        let mut req = http::Request::builder().uri("/nope").body(()).unwrap();
        let caller = resolve(&mut req);
        assert!(caller.bad_key && !caller.is_authenticated());
        let mut req = http::Request::builder().uri("/").body(()).unwrap();
        assert!(!resolve(&mut req).is_authenticated());
    }

    #[test]
    fn a_removed_or_expired_key_stops_being_current() {
        let ring = Arc::new(KeyRing::default());
        ring.insert(key_hash("k1"), KeyRecord::new(Role::User, vec![], "a"));
        let caller = ring.caller(Some(key_hash("k1")), false, None);
        assert!(caller.is_current());
        ring.remove(&key_hash("k1"));
        assert!(!caller.is_current());
        assert!(ring.caller(Some(key_hash("k1")), false, None).bad_key);
        let session = KeyRecord {
            expires_at: Some(crate::chain::now() - 1),
            ..KeyRecord::new(Role::User, vec![], "session:x")
        };
        ring.insert(key_hash("k2"), session);
        assert!(ring.lookup("k2").is_none(), "expired");
        assert!(ring.records().is_empty(), "and gone");
    }

    #[test]
    fn file_keys_are_reread_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "k1").unwrap();
        let source = path.clone();
        let ring = KeyRing::with_file(
            path.clone(),
            Box::new(move || {
                let text = std::fs::read_to_string(&source).map_err(|e| e.to_string())?;
                Ok(text
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(|k| (key_hash(k), KeyRecord::new(Role::User, vec![], k)))
                    .collect())
            }),
        );
        assert!(ring.lookup("k1").is_some());
        // A rewrite by rename, as `coco keys revoke` does.
        std::fs::write(dir.path().join("tmp"), "k2,k3").unwrap();
        std::fs::rename(dir.path().join("tmp"), &path).unwrap();
        assert!(ring.lookup("k1").is_none());
        assert!(ring.lookup("k3").is_some());
        std::fs::remove_file(&path).unwrap();
        assert!(ring.lookup("k3").is_none(), "an unreadable file: no keys");
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

#[cfg(test)]
mod session_push_tests {
    use super::*;

    fn session(expires_at: u64) -> KeyRecord {
        KeyRecord {
            expires_at: Some(expires_at),
            ..KeyRecord::new(Role::User, vec![Address::repeat_byte(1)], "session:x")
        }
    }

    #[test]
    fn pushed_sessions_are_capped_and_never_come_back_after_a_logout() {
        let lifetime = std::time::Duration::from_secs(3600);
        let ring = KeyRing::default();
        let now = crate::chain::now();
        let (a, b) = (B256::repeat_byte(0xa), B256::repeat_byte(0xb));
        // A session pushed with a far expiry lives no longer than the lifetime here.
        ring.apply_session(
            SessionChange::Put {
                hash: a,
                record: session(u64::MAX),
            },
            lifetime,
        );
        let expires = ring.record(&a).unwrap().expires_at.unwrap();
        assert!(expires <= now + 3600 + 1, "{expires}");
        // A key without an expiry is not a session: refused.
        ring.apply_session(
            SessionChange::Put {
                hash: b,
                record: KeyRecord::new(Role::Auditor, vec![], "forged"),
            },
            lifetime,
        );
        assert!(ring.record(&b).is_none());
        // Ended (here, then pushed elsewhere, or the other way round): a late Put of the
        // same session is ignored.
        assert!(ring.end_session(&a));
        ring.apply_session(
            SessionChange::Put {
                hash: a,
                record: session(now + 60),
            },
            lifetime,
        );
        assert!(
            ring.record(&a).is_none(),
            "a late Put revived a logged-out session"
        );
        ring.apply_session(SessionChange::Remove { hash: b }, lifetime);
        ring.apply_session(
            SessionChange::Put {
                hash: b,
                record: session(now + 60),
            },
            lifetime,
        );
        assert!(ring.record(&b).is_none(), "a Put after a pushed Remove");
    }
}
