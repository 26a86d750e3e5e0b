//! Built-in connector components, compiled for wasm32-wasip2 and embedded.
