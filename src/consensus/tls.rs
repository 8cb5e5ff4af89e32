//! Mutual TLS between validators, authenticated by their identity keys.
//!
//! A node's identity key is secp256k1 ([`NodeIdentity`]); neither rustls (no
//! secp256k1 signature scheme) nor rcgen (no secp256k1 algorithm) can use it as a TLS
//! key. So each node makes a **P-256 TLS key** when it starts, and its identity key
//! **endorses** it: a self-signed certificate for the TLS key carries, in a private
//! extension, the identity key's recoverable signature over
//! `keccak256("coco/tls-endorsement/v1" ‖ SPKI)` (the DER SubjectPublicKeyInfo of the
//! TLS key).
//!
//! One verifier, [`PeerVerifier`], serves both sides of a handshake. It recovers the
//! identity key from the endorsement and accepts the certificate only if the key is in
//! the allow-list ([`Allow`], backed by the governance validator table), and, on the
//! client side, only if it is the key of the node being dialled (pinned). The handshake
//! signature itself is checked against the certificate's TLS key, which proves
//! possession of the endorsed key. No CA is involved; certificate validity times are
//! not checked (the TLS key lives as long as the process).
//!
//! Only TLS 1.3, with the aws-lc-rs provider passed explicitly (never a process
//! default: both aws-lc-rs and ring are in coco's dependency graph).

use std::sync::Arc;

use alloy::primitives::keccak256;
use coco_enclave::NodeIdentity;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use rcgen::{CertificateParams, CustomExtension, KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::error::{ConsensusError, Result};

/// The endorsement extension's OID. An unregistered private arc, read only by coco
/// peers; replace it by one under coco's own enterprise number once there is one.
const ENDORSEMENT_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 55555, 7, 1];
const ENDORSEMENT_OID_STR: &str = "1.3.6.1.4.1.55555.7.1";
const DOMAIN: &[u8] = b"coco/tls-endorsement/v1";
/// DER OCTET STRING header of the 65-byte endorsement (`r ‖ s ‖ v`).
const OCTET_STRING_65: [u8; 2] = [0x04, 0x41];
/// The subject name of every peer certificate (peers are pinned by key, not by name).
pub const PEER_SERVER_NAME: &str = "coco-peer";

/// Decides whether an identity public key (SEC1 compressed) may take part: the node
/// backs it with the governance validator table, so every new handshake sees the
/// current table.
pub type Allow = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

fn digest(spki: &[u8]) -> [u8; 32] {
    let mut msg = Vec::with_capacity(DOMAIN.len() + spki.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(spki);
    keccak256(msg).0
}

/// This node's TLS credentials: a fresh P-256 key and its endorsed certificate.
pub struct TlsIdentity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    identity: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("identity", &alloy::primitives::hex::encode(&self.identity))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// Makes a TLS key and a certificate endorsed by `identity`.
    pub fn new(identity: &NodeIdentity) -> Result<Self> {
        let tls = |e: rcgen::Error| ConsensusError::Tls(e.to_string());
        let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(tls)?;
        let (sig, v) = identity.sign_prehash_recoverable(&digest(&kp.subject_public_key_info()));
        let mut content = OCTET_STRING_65.to_vec();
        content.extend_from_slice(&sig);
        content.push(v);
        let mut params = CertificateParams::new(vec![PEER_SERVER_NAME.to_string()]).map_err(tls)?;
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(ENDORSEMENT_OID, content));
        let cert = params.self_signed(&kp).map_err(tls)?;
        Ok(Self {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(kp.serialize_der())),
            identity: identity.public_key_sec1(),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        })
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The endorsing identity public key (SEC1 compressed).
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The server side: requires a client certificate endorsed by an allowed key.
    pub fn server_config(&self, allow: Allow) -> Result<rustls::ServerConfig> {
        let verifier = PeerVerifier::new(allow, None, &self.provider);
        rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ConsensusError::Tls(e.to_string()))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
            .map_err(|e| ConsensusError::Tls(e.to_string()))
    }

    /// The client side dialling the node with identity key `pin`: its certificate must
    /// be endorsed by `pin`, and `pin` must be allowed.
    pub fn client_config(&self, allow: Allow, pin: &[u8]) -> Result<rustls::ClientConfig> {
        self.client_with(allow, Some(pin.to_vec()))
    }

    /// The client side dialling a node whose identity is not known in advance (a
    /// joining node dials a validator it was pointed at): any key `allow` admits.
    pub fn client_config_any(&self, allow: Allow) -> Result<rustls::ClientConfig> {
        self.client_with(allow, None)
    }

    fn client_with(&self, allow: Allow, pin: Option<Vec<u8>>) -> Result<rustls::ClientConfig> {
        let verifier = PeerVerifier::new(allow, pin, &self.provider);
        rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ConsensusError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(vec![self.cert.clone()], self.key.clone_key())
            .map_err(|e| ConsensusError::Tls(e.to_string()))
    }
}

/// The identity key (SEC1 compressed) that endorsed `cert`'s key, if the certificate
/// carries a well-formed endorsement.
pub fn endorsing_identity(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let tbs = &x509.tbs_certificate;
    let ext = tbs
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == ENDORSEMENT_OID_STR)?;
    let body = ext.value.strip_prefix(&OCTET_STRING_65)?;
    if body.len() != 65 {
        return None;
    }
    let sig = Signature::from_slice(&body[..64]).ok()?;
    let recid = RecoveryId::from_byte(body[64])?;
    let key = VerifyingKey::recover_from_prehash(&digest(tbs.subject_pki.raw), &sig, recid).ok()?;
    Some(key.to_encoded_point(true).as_bytes().to_vec())
}

/// Accepts a peer certificate only if it is endorsed by an allowed identity key (and,
/// when dialling, by the pinned one). Implements both rustls verifier traits.
pub struct PeerVerifier {
    allow: Allow,
    pin: Option<Vec<u8>>,
    algs: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for PeerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerVerifier")
            .field(
                "pin",
                &self.pin.as_ref().map(alloy::primitives::hex::encode),
            )
            .finish_non_exhaustive()
    }
}

impl PeerVerifier {
    fn new(allow: Allow, pin: Option<Vec<u8>>, provider: &CryptoProvider) -> Self {
        Self {
            allow,
            pin,
            algs: provider.signature_verification_algorithms,
        }
    }

    fn check(&self, cert: &CertificateDer<'_>) -> std::result::Result<(), rustls::Error> {
        let refused =
            || rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure);
        let identity = endorsing_identity(cert).ok_or_else(refused)?;
        if self.pin.as_ref().is_some_and(|pin| *pin != identity) || !(self.allow)(&identity) {
            return Err(refused());
        }
        Ok(())
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
