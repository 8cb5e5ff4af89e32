//! Sign-In with Ethereum (EIP-4361): `coco_loginNonce`, `coco_login`, `coco_logout`.
//!
//! A wallet signs (EIP-191 `personal_sign`) a standard SIWE message carrying a nonce
//! from `coco_loginNonce`; `coco_login` checks the signature, the domain (against an
//! allow-list: the node's listen host and localhost), the chain id, the nonce (single
//! use, expires after [`NONCE_TTL`]), the issue time and the expiry, and returns a
//! session key with role `user` for the signing address. Called with a session key, it
//! adds the address to that session instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, Signature};
use jsonrpsee::Extensions;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::auth::{KeyRecord, KeyRing, Role, caller_of, generate_key, key_hash};
use super::error::RpcError;

/// How long a login nonce stays valid.
pub const NONCE_TTL: Duration = Duration::from_secs(300);
/// Tolerated clock skew for `Issued At`.
const SKEW_SECS: u64 = 300;
/// Most outstanding nonces (older ones are dropped first).
const MAX_NONCES: usize = 10_000;

/// The `coco_` login namespace.
#[rpc(server, namespace = "coco")]
pub trait LoginApi {
    /// A fresh single-use nonce for a SIWE message.
    #[method(name = "loginNonce")]
    fn login_nonce(&self) -> RpcResult<String>;
    /// Verifies a signed SIWE message; returns `{key, addresses}` (the key only for a new
    /// session).
    #[method(name = "login", with_extensions)]
    fn login(&self, message: String, signature: Bytes) -> RpcResult<Value>;
    /// Ends the caller's session; true if there was one.
    #[method(name = "logout", with_extensions)]
    fn logout(&self) -> RpcResult<bool>;
}

/// SIWE login over a key ring.
#[derive(Debug, Clone)]
pub struct LoginRpc {
    keys: Arc<KeyRing>,
    chain_id: u64,
    lifetime: Duration,
    hosts: Arc<Vec<String>>,
    nonces: Arc<Mutex<HashMap<String, Instant>>>,
}

impl LoginRpc {
    /// Logins into `keys` for `chain_id`, accepting messages whose domain's host is one
    /// of `hosts` (any port); sessions last at most `lifetime`.
    pub fn new(keys: Arc<KeyRing>, chain_id: u64, hosts: Vec<String>, lifetime: Duration) -> Self {
        Self {
            keys,
            chain_id,
            lifetime,
            hosts: Arc::new(hosts),
            nonces: Arc::default(),
        }
    }

    fn take_nonce(&self, nonce: &str) -> bool {
        let mut nonces = self.nonces.lock();
        nonces.retain(|_, issued| issued.elapsed() < NONCE_TTL);
        nonces.remove(nonce).is_some()
    }
}

/// The fields of an EIP-4361 message coco checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiweMessage {
    /// `host[:port]` asking for the sign-in.
    pub domain: String,
    /// The signing account.
    pub address: Address,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The nonce from `coco_loginNonce`.
    pub nonce: String,
    /// `Issued At`, unix seconds.
    pub issued_at: u64,
    /// `Expiration Time`, unix seconds.
    pub expires_at: Option<u64>,
    /// `Not Before`, unix seconds.
    pub not_before: Option<u64>,
}

fn bad(reason: impl Into<String>) -> RpcError {
    RpcError::NotAuthorized(format!("login refused: {}", reason.into()))
}

/// Parses an EIP-4361 message.
pub fn parse_siwe(message: &str) -> Result<SiweMessage, String> {
    let mut lines = message.lines();
    let first = lines.next().ok_or("empty message")?;
    let domain = first
        .strip_suffix(" wants you to sign in with your Ethereum account:")
        .ok_or("first line is not a SIWE preamble")?
        .trim()
        .to_string();
    let address: Address = lines
        .next()
        .ok_or("no address line")?
        .trim()
        .parse()
        .map_err(|_| "invalid address line")?;
    let mut fields = HashMap::new();
    for line in lines {
        if let Some((key, value)) = line.split_once(": ") {
            fields.insert(key.trim(), value.trim());
        }
    }
    let field = |name: &str| fields.get(name).copied().ok_or(format!("missing `{name}`"));
    if field("Version")? != "1" {
        return Err("unsupported version".into());
    }
    Ok(SiweMessage {
        domain,
        address,
        chain_id: field("Chain ID")?.parse().map_err(|_| "invalid chain id")?,
        nonce: field("Nonce")?.to_string(),
        issued_at: rfc3339(field("Issued At")?).ok_or("invalid `Issued At`")?,
        expires_at: fields
            .get("Expiration Time")
            .map(|t| rfc3339(t).ok_or("invalid `Expiration Time`"))
            .transpose()?,
        not_before: fields
            .get("Not Before")
            .map(|t| rfc3339(t).ok_or("invalid `Not Before`"))
            .transpose()?,
    })
}

/// Unix seconds of an RFC 3339 timestamp (`2026-11-24T17:00:00Z`, offsets, fractions).
fn rfc3339(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once(['T', 't'])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let clock = clock.split('.').next()?;
    let mut t = clock.split(':');
    let (hh, mm, ss): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss - offset).ok()
}

impl LoginApiServer for LoginRpc {
    fn login_nonce(&self) -> RpcResult<String> {
        let nonce = alloy::hex::encode(rand::random::<[u8; 16]>());
        let mut nonces = self.nonces.lock();
        if nonces.len() >= MAX_NONCES
            && let Some(oldest) = nonces
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(n, _)| n.clone())
        {
            nonces.remove(&oldest);
        }
        nonces.insert(nonce.clone(), Instant::now());
        Ok(nonce)
    }

    fn login(&self, ext: &Extensions, message: String, signature: Bytes) -> RpcResult<Value> {
        let siwe = parse_siwe(&message).map_err(bad)?;
        let signature =
            Signature::try_from(signature.as_ref()).map_err(|_| bad("malformed signature"))?;
        let signer = signature
            .recover_address_from_msg(message.as_bytes())
            .map_err(|_| bad("signature does not recover"))?;
        if signer != siwe.address {
            return Err(bad("the signature is not the message's address's").into());
        }
        let host = siwe
            .domain
            .rsplit_once(':')
            .map_or(siwe.domain.as_str(), |(h, _)| h);
        // Governance's domains when it set any, else the node's own hosts.
        let governed = self.keys.governed_siwe_domains();
        let allowed = if governed.is_empty() {
            self.hosts.as_slice()
        } else {
            governed.as_slice()
        };
        if !allowed.iter().any(|h| h == host) {
            return Err(bad(format!("domain `{}` is not allowed", siwe.domain)).into());
        }
        if siwe.chain_id != self.chain_id {
            return Err(bad(format!(
                "chain id {} is not {}",
                siwe.chain_id, self.chain_id
            ))
            .into());
        }
        let now = crate::chain::now();
        if siwe.issued_at > now + SKEW_SECS {
            return Err(bad("issued in the future").into());
        }
        if siwe.expires_at.is_some_and(|t| t <= now) {
            return Err(bad("the message has expired").into());
        }
        if siwe.not_before.is_some_and(|t| t > now) {
            return Err(bad("the message is not valid yet").into());
        }
        // On a consortium chain only registered accounts sign in, with governance's role.
        let role = match self.keys.governed_role(&siwe.address) {
            None => Role::User,
            Some(Some(role)) => role,
            Some(None) => {
                return Err(bad(format!(
                    "{} is not a registered user of this network",
                    siwe.address
                ))
                .into());
            }
        };
        // Last, so a refused message does not burn the nonce.
        if !self.take_nonce(&siwe.nonce) {
            return Err(bad("unknown, expired or already used nonce").into());
        }
        let caller = caller_of(ext);
        if caller.role == Some(Role::Auditor) {
            return Err(bad("an auditor key cannot log in for an address").into());
        }
        let expires_at = siwe
            .expires_at
            .unwrap_or(u64::MAX)
            .min(now.saturating_add(self.lifetime.as_secs()));
        if let Some(hash) = caller.key
            && self.keys.extend_session(&hash, siwe.address, expires_at)
        {
            let addresses = self
                .keys
                .record(&hash)
                .map(|r| r.addresses)
                .unwrap_or_default();
            return Ok(json!({ "addresses": addresses }));
        }
        let key = generate_key();
        self.keys.insert_session(
            key_hash(&key),
            KeyRecord {
                expires_at: Some(expires_at),
                ..KeyRecord::new(role, vec![siwe.address], format!("session:{}", &key[5..13]))
            },
        );
        Ok(json!({ "key": key, "addresses": [siwe.address] }))
    }

    fn logout(&self, ext: &Extensions) -> RpcResult<bool> {
        let caller = caller_of(ext);
        let Some(hash) = caller.key else {
            return Ok(false);
        };
        Ok(self.keys.end_session(&hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339("2021-09-30T16:25:24Z"), Some(1_633_019_124));
        assert_eq!(
            rfc3339("2021-09-30T18:25:24.123+02:00"),
            Some(1_633_019_124)
        );
        assert_eq!(rfc3339("2021-13-30T16:25:24Z"), None);
    }

    #[test]
    fn messages_parse() {
        let text = "localhost:8545 wants you to sign in with your Ethereum account:\n\
            0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n\nSign in to coco.\n\n\
            URI: http://localhost:8545\nVersion: 1\nChain ID: 31337\nNonce: abcdef12\n\
            Issued At: 2021-09-30T16:25:24Z\nExpiration Time: 2031-09-30T16:25:24Z";
        let m = parse_siwe(text).unwrap();
        assert_eq!(m.domain, "localhost:8545");
        assert_eq!(m.chain_id, 31337);
        assert_eq!(m.nonce, "abcdef12");
        assert!(m.expires_at.is_some());
        assert!(parse_siwe("hello").is_err());
    }
}
