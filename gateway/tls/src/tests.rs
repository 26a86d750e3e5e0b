use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;

fn resolver() -> (LeafResolver, CaPem) {
    let (ca, pem) = CertificateAuthority::generate("TameFlare test CA").unwrap();
    (LeafResolver::new(ca), pem)
}

fn verifier(ca_pem: &str) -> Arc<WebPkiServerVerifier> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap()
}

fn verify(v: &WebPkiServerVerifier, leaf: &CertificateDer<'_>, name: &str) -> bool {
    v.verify_server_cert(
        leaf,
        &[],
        &ServerName::try_from(name.to_owned()).unwrap(),
        &[],
        UnixTime::now(),
    )
    .is_ok()
}

#[test]
fn minted_leaf_verifies_for_its_name_only() {
    let (r, pem) = resolver();
    let v = verifier(&pem.cert_pem);
    let key = r.certified_key("API.GitHub.com").unwrap();
    let leaf = &key.cert[0];
    assert!(verify(&v, leaf, "api.github.com"));
    assert!(!verify(&v, leaf, "evil.example.com"));

    let ip = r.certified_key("127.0.0.1").unwrap();
    assert!(verify(&v, &ip.cert[0], "127.0.0.1"));
    assert!(!verify(&v, &ip.cert[0], "127.0.0.2"));
}

#[test]
fn leaf_has_aki_no_ski_and_server_auth() {
    let (r, _) = resolver();
    let key = r.certified_key("example.com").unwrap();
    let (_, cert) = X509Certificate::from_der(&key.cert[0]).unwrap();
    let mut aki = false;
    let mut eku_server = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(_) => panic!("leaf must not carry an SKI"),
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.is_some(),
            ParsedExtension::ExtendedKeyUsage(e) => eku_server = e.server_auth,
            ParsedExtension::BasicConstraints(bc) => assert!(!bc.ca),
            _ => {}
        }
    }
    assert!(aki, "leaf must carry an AKI");
    assert!(eku_server, "leaf must be valid for serverAuth");
    let validity = cert.validity();
    let span = validity.not_after.timestamp() - validity.not_before.timestamp();
    assert!((365 * 86400..=367 * 86400).contains(&span), "{span}");
    assert!(
        validity.not_before.timestamp() < time::OffsetDateTime::now_utc().unix_timestamp() - 86000
    );
}

#[test]
fn ca_is_a_ca_and_round_trips_through_pem() {
    let (_, pem) = resolver();
    let der = CertificateDer::from_pem_slice(pem.cert_pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(cert.is_ca());
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());

    let loaded =
        CertificateAuthority::from_pem(pem.cert_pem.as_bytes(), pem.key_pem.as_bytes()).unwrap();
    assert_eq!(loaded.cert_pem(), pem.cert_pem);
    let r = LeafResolver::new(loaded);
    let v = verifier(&pem.cert_pem);
    assert!(verify(
        &v,
        &r.certified_key("a.example").unwrap().cert[0],
        "a.example"
    ));
    assert!(!format!("{pem:?}").contains("PRIVATE KEY"));
}

#[test]
fn bad_key_pem_is_rejected_without_echoing_it() {
    let (_, pem) = resolver();
    let err = CertificateAuthority::from_pem(pem.cert_pem.as_bytes(), b"not a key").unwrap_err();
    assert!(matches!(err, CaError::InvalidKey));
    assert!(!err.to_string().contains("not a key"));
}

#[test]
fn cache_returns_the_same_arc_and_is_bounded() {
    let (ca, _) = CertificateAuthority::generate("t").unwrap();
    let r = LeafResolver::with_capacity(ca, 2);
    let a = r.certified_key("a.example").unwrap();
    assert!(Arc::ptr_eq(&a, &r.certified_key("A.example").unwrap()));
    r.certified_key("b.example").unwrap();
    r.certified_key("c.example").unwrap();
    assert!(r.cache.lock().unwrap().len() <= 2);
}

#[test]
fn configs_offer_h2_and_http11() {
    let (r, pem) = resolver();
    let server = server_config(Arc::new(r)).unwrap();
    assert_eq!(
        server.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let client = upstream_client_config(Some(pem.cert_pem.as_bytes())).unwrap();
    assert_eq!(
        client.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(matches!(
        upstream_client_config(Some(b"garbage")),
        Err(ConfigError::ExtraCaEmpty)
    ));
}
