//! Local CA, leaf minting per SNI, rustls server and upstream configs.
