//! Master key, AES-256-GCM sealing of credentials, injection per placement.
