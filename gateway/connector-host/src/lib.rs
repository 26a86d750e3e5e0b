//! The only wasmtime user: loads, caches and calls connector components.
