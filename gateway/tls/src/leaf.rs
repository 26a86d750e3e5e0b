//! Leaf certificates minted on demand for intercepted host names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::ca::CertificateAuthority;

/// Why a leaf certificate could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("{0:?} is not a valid DNS name or IP address for a certificate")]
    InvalidName(String),
    #[error("could not generate a leaf key pair: {0}")]
    KeyGeneration(rcgen::Error),
    #[error("could not sign the leaf certificate: {0}")]
    Sign(rcgen::Error),
    #[error("rustls rejected the leaf key: {0}")]
    SigningKey(rustls::Error),
}

/// How long a leaf is valid.
const LEAF_VALIDITY: Duration = Duration::days(365);
/// Leaves are back-dated so clients with a slightly slow clock accept them.
const BACKDATE: Duration = Duration::days(1);
/// A cached leaf is re-minted this long before it expires.
const RENEW_BEFORE: Duration = Duration::days(7);
/// Default bound on the number of cached leaves.
pub(crate) const DEFAULT_CACHE_CAPACITY: usize = 4096;

pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and without a leading zero byte
    SerialNumber::from(bytes.to_vec())
}

pub(crate) struct Cached {
    key: Arc<CertifiedKey>,
    not_after: OffsetDateTime,
}

/// Mints leaf certificates per SNI name, signed by the local CA, and caches
/// them (bounded). Implements rustls' [`ResolvesServerCert`].
pub struct LeafResolver {
    ca: CertificateAuthority,
    pub(crate) cache: Mutex<HashMap<String, Cached>>,
    capacity: usize,
}

impl std::fmt::Debug for LeafResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafResolver")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl LeafResolver {
    /// A resolver with the default cache bound.
    pub fn new(ca: CertificateAuthority) -> Self {
        Self::with_capacity(ca, DEFAULT_CACHE_CAPACITY)
    }

    /// A resolver caching at most `capacity` leaves (at least one).
    pub fn with_capacity(ca: CertificateAuthority, capacity: usize) -> Self {
        Self {
            ca,
            cache: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The CA this resolver signs with.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// The leaf for `name` (a DNS name or an IP address), from the cache or
    /// freshly minted. Names are compared case-insensitively.
    pub fn certified_key(&self, name: &str) -> Result<Arc<CertifiedKey>, MintError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let now = OffsetDateTime::now_utc();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(&name)
                && c.not_after - RENEW_BEFORE > now
            {
                return Ok(c.key.clone());
            }
        }
        let (key, not_after) = self.mint(&name, now)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&name)
            && c.not_after - RENEW_BEFORE > now
        {
            // Another thread minted it meanwhile: keep one Arc per name.
            return Ok(c.key.clone());
        }
        if cache.len() >= self.capacity && !cache.contains_key(&name) {
            let victim = cache.keys().next().cloned();
            if let Some(v) = victim {
                cache.remove(&v);
            }
        }
        cache.insert(
            name,
            Cached {
                key: key.clone(),
                not_after,
            },
        );
        Ok(key)
    }

    fn mint(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(Arc<CertifiedKey>, OffsetDateTime), MintError> {
        if name.is_empty() {
            return Err(MintError::InvalidName(name.to_owned()));
        }
        let mut params = CertificateParams::new(vec![name.to_owned()])
            .map_err(|_| MintError::InvalidName(name.to_owned()))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        params.serial_number = Some(random_serial());
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(MintError::KeyGeneration)?;
        let cert = params
            .signed_by(&key, &self.ca.issuer)
            .map_err(MintError::Sign)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key =
            rustls::crypto::ring::sign::any_ecdsa_type(&key_der).map_err(MintError::SigningKey)?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing_key);
        Ok((Arc::new(certified), params.not_after))
    }
}

impl ResolvesServerCert for LeafResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name()?;
        match self.certified_key(name) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(error = %e, "could not mint a leaf certificate");
                None
            }
        }
    }
}
