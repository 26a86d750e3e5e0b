//! The local certificate authority: generate or load, sign leaves.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// A CA certificate and its private key, PEM encoded. The key is secret:
/// `Debug` does not print it.
#[derive(Clone)]
pub struct CaPem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CaPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Why a CA could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("could not generate the CA key pair: {0}")]
    KeyGeneration(rcgen::Error),
    #[error("could not sign the CA certificate: {0}")]
    Sign(rcgen::Error),
    /// The key PEM is not a usable private key (the key itself is never printed).
    #[error("the CA private key is not a valid PEM private key")]
    InvalidKey,
    #[error("the CA certificate is not a valid PEM certificate: {0}")]
    InvalidCertificate(rcgen::Error),
    #[error("the CA private key is not ECDSA P-256")]
    UnsupportedKey,
}

/// The gateway's local CA. Signs leaf certificates for intercepted hosts.
pub struct CertificateAuthority {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// How long a generated CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);

impl CertificateAuthority {
    /// Generates a new CA (ECDSA P-256, CA:true, keyCertSign + cRLSign, 10 years).
    pub fn generate(common_name: &str) -> Result<(Self, CaPem), CaError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(CaError::KeyGeneration)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "TameFlare");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(crate::leaf::random_serial());
        let cert = params.self_signed(&key).map_err(CaError::Sign)?;
        let pem = CaPem {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        let issuer = Issuer::new(params, key);
        Ok((
            Self {
                issuer,
                cert_pem: pem.cert_pem.clone(),
            },
            pem,
        ))
    }

    /// Loads a CA from its PEM certificate and PEM private key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, CaError> {
        let key_str = std::str::from_utf8(key_pem).map_err(|_| CaError::InvalidKey)?;
        let key = KeyPair::from_pem(key_str).map_err(|_| CaError::InvalidKey)?;
        if !key.is_compatible(&PKCS_ECDSA_P256_SHA256) {
            return Err(CaError::UnsupportedKey);
        }
        let cert_str = std::str::from_utf8(cert_pem)
            .map_err(|_| CaError::InvalidCertificate(rcgen::Error::CouldNotParseCertificate))?;
        let issuer =
            Issuer::from_ca_cert_pem(cert_str, key).map_err(CaError::InvalidCertificate)?;
        Ok(Self {
            issuer,
            cert_pem: cert_str.to_owned(),
        })
    }

    /// The CA certificate, PEM encoded (what agents must trust).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}
