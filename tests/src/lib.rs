//! End-to-end tests: the real tf binary, real clients, local HTTPS upstreams.
