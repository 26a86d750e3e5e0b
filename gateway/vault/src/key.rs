//! The master key: 32 bytes that never leave a zeroizing buffer unencoded.

use rand::RngCore;
use zeroize::Zeroizing;

/// The AES-256 key sealing every credential. `Debug` prints no key bytes.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

/// Why a hex master key was refused. Never echoes the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("master key must be 64 hex characters, found {0} characters")]
    Length(usize),
    #[error("master key contains a character that is not a hex digit")]
    NotHex,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A fresh random key (thread-local CSPRNG seeded from the OS).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut key[..]);
        Self(key)
    }

    /// Parses 64 hex characters (surrounding whitespace ignored), the format
    /// of the `master.key` file and of `TF_MASTER_KEY`.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(KeyError::Length(text.chars().count()));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, &mut key[..]).map_err(|_| KeyError::NotHex)?;
        Ok(Self(key))
    }

    /// The key as 64 lower-case hex characters, for writing `master.key`.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}
