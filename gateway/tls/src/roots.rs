//! The system's trusted roots as PEM, for agents that need one bundle file
//! (`<data>/ca-bundle.pem`: the system roots plus the local CA). The only
//! other reader of the system roots is [`crate::upstream_client_config`].

use base64::Engine as _;

/// PEM for one DER certificate (64-character lines).
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The system roots followed by `extra_pem` (e.g. the local CA), as one
/// PEM bundle. Unreadable system roots are skipped.
pub fn ca_bundle_pem(extra_pem: &str) -> String {
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "skipping an unreadable system root");
    }
    let mut out = String::new();
    for cert in &native.certs {
        out.push_str(&pem(cert.as_ref()));
    }
    out.push_str(extra_pem);
    if !extra_pem.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_at_64_and_the_bundle_ends_with_the_extra_ca() {
        let p = pem(&[0u8; 100]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(*lines.last().unwrap(), "-----END CERTIFICATE-----");
        let bundle = ca_bundle_pem("OURS");
        assert!(bundle.ends_with("OURS\n"), "{bundle}");
    }
}
