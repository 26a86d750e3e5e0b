//! The one `bindgen!` of `wit/connector.wit` (world `connector`).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "connector",
});

pub(crate) use tameflare::connector::log::Level;
pub(crate) use tameflare::connector::types;
