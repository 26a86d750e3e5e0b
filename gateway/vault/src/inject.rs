//! Credential injection: the only place plaintext leaves the vault, as a
//! sensitive header value on an allowed request.

use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use tf_core::{InjectError, Injector, Placement};
use zeroize::Zeroizing;

use crate::{Binding, Vault};

/// The marker replaced by the secret in a header template.
const SECRET_MARKER: &[u8] = b"{secret}";

/// Injects one connector instance's sealed credential.
struct CredentialInjector {
    vault: Arc<Vault>,
    binding: Binding,
    sealed: Vec<u8>,
    placement: Placement,
}

impl Vault {
    /// An injector for the credential `sealed` for `binding`, written per
    /// `placement`. Decryption happens on every `inject`, into a zeroizing
    /// buffer; a credential sealed for another binding never opens.
    pub fn injector(
        self: &Arc<Self>,
        binding: &Binding,
        sealed: Vec<u8>,
        placement: Placement,
    ) -> Arc<dyn Injector> {
        Arc::new(CredentialInjector {
            vault: Arc::clone(self),
            binding: binding.clone(),
            sealed,
            placement,
        })
    }
}

/// `template` with every `{secret}` replaced by `secret`.
pub(crate) fn fill_template(template: &str, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let template = template.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(template.len() + secret.len()));
    let mut rest = template;
    while let Some(at) = rest
        .windows(SECRET_MARKER.len())
        .position(|w| w == SECRET_MARKER)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(secret);
        rest = &rest[at + SECRET_MARKER.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `Basic <base64(secret)>`.
fn basic(secret: &[u8]) -> Zeroizing<Vec<u8>> {
    const PREFIX: &[u8] = b"Basic ";
    let encoded = base64::encoded_len(secret.len(), true).unwrap_or(usize::MAX / 2);
    let mut out = Zeroizing::new(vec![0u8; PREFIX.len() + encoded]);
    out[..PREFIX.len()].copy_from_slice(PREFIX);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(secret, &mut out[PREFIX.len()..])
        .expect("buffer sized by encoded_len");
    out.truncate(PREFIX.len() + written);
    out
}

impl Injector for CredentialInjector {
    fn inject(&self, headers: &mut HeaderMap) -> Result<(), InjectError> {
        let Some(name) = self.placement.header_name() else {
            return Ok(());
        };
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| InjectError::InvalidHeader)?;
        let secret = self
            .vault
            .open(&self.binding, &self.sealed)
            .map_err(|_| InjectError::Decrypt(self.binding.instance().to_owned()))?;
        let value = match &self.placement {
            Placement::None => return Ok(()),
            Placement::Header { template, .. } => fill_template(template, &secret),
            Placement::Basic => basic(&secret),
        };
        let mut value = HeaderValue::from_bytes(&value).map_err(|_| InjectError::InvalidHeader)?;
        value.set_sensitive(true);
        // Whatever the agent sent (its placeholder) goes, every value of it.
        headers.remove(&name);
        headers.insert(name, value);
        Ok(())
    }
}
