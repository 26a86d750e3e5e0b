//! The TameFlare connector author's kit.
//!
//! Owns everything a connector crate needs to become a WebAssembly component
//! implementing `tameflare:connector@0.1.0`: plain-Rust [`types`] mirroring
//! the WIT records, the [`Connector`] trait and [`export_connector!`] macro
//! that wire an implementation to the generated bindings, [`route`] tables
//! (templates matched against method + path, most literal wins, no
//! allocation per lookup), and [`extract`] helpers for query parameters and
//! JSON body fields. A connector built from a table uses [`table`] for the
//! lookup around the trie (HEAD as GET, the `<connector>.unknown` fallback,
//! the resource rule, the catalogue). With the `testing` feature,
//! [`testing`] runs fixture files natively; with the host-only `codegen`
//! feature, [`codegen`] generates a connector's table from an OpenAPI 3
//! document or a trimmed spec (the generator behind the built-in connectors
//! and `tf connector new --from-openapi`). The default `guest` feature holds
//! the component bindings; host programs turn it off.
//!
//! It never touches credentials, sockets, files or clocks, and connector code
//! built on it never names a wit-bindgen type.
//!
//! ```
//! use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request, Risk};
//!
//! struct Echo;
//!
//! impl Connector for Echo {
//!     fn describe() -> Descriptor {
//!         Descriptor {
//!             name: "echo".into(),
//!             version: "0.1.0".into(),
//!             domains: vec!["echo.test".into()],
//!             actions: vec![],
//!             placement: Placement::bearer(),
//!             needs_body: false,
//!         }
//!     }
//!
//!     fn classify(req: &Request) -> Result<Action, ClassifyError> {
//!         Ok(Action { name: "echo.any".into(), resource: req.path.clone(), params: vec![], risk: Risk::Low, parts: vec![] })
//!     }
//! }
//!
//! tameflare_sdk::export_connector!(Echo);
//! # fn main() { assert_eq!(Echo::classify(&Request::new("GET", "echo.test", "/x")).unwrap().resource, "/x"); }
//! ```

#![deny(missing_docs)]

// Lets generated code name this crate the same way from inside and outside.
extern crate self as tameflare_sdk;

#[cfg(feature = "guest")]
pub mod bindings;
#[cfg(feature = "codegen")]
pub mod codegen;
pub mod extract;
pub mod json;
pub mod route;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;

pub use types::{
    Action, ActionSpec, ClassifyError, Descriptor, Param, ParamValue, Placement, Request, Risk,
};

/// The SDK version, readable by hosts and connectors.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The WIT package this SDK implements.
pub const WIT_PACKAGE: &str = "tameflare:connector@0.1.0";

/// A connector: one API's knowledge, as pure functions.
pub trait Connector {
    /// What the connector serves; called once at load.
    fn describe() -> Descriptor;
    /// Turns one request into one action, or refuses it.
    fn classify(req: &Request) -> Result<Action, ClassifyError>;
}

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Noise for connector authors.
    Debug,
    /// Normal events.
    Info,
    /// Something odd, still handled.
    Warn,
    /// Something failed.
    Error,
}

/// Logs `message` through the host (rate-limited and truncated there).
/// Natively (in tests) it writes to stderr.
pub fn log(level: Level, message: &str) {
    #[cfg(all(target_arch = "wasm32", feature = "guest"))]
    bindings::log(level, message);
    #[cfg(not(all(target_arch = "wasm32", feature = "guest")))]
    eprintln!("[{level:?}] {message}");
}

/// Name of the wasm custom section in which [`export_connector!`] records the
/// SDK that built a component.
pub const SDK_SECTION_NAME: &str = "tameflare:sdk";

/// Exports a [`Connector`] implementation as the component's `describe` and
/// `classify`. Expands to nothing on non-wasm targets, so the same crate
/// tests natively.
///
/// On wasm32 it also records which SDK built the component: a custom section
/// named [`SDK_SECTION_NAME`] (`tameflare:sdk`) whose payload is the UTF-8
/// text `tameflare-sdk <SDK_VERSION>`, e.g. `tameflare-sdk 0.1.0`. It is a
/// `#[used]` static byte array placed with `#[link_section]`, built at compile
/// time from [`SDK_VERSION`]; it survives `lto` and `strip = true` and lands
/// in the core module embedded in the final component (the component's
/// first nested module), where a host can read it without instantiating
/// anything.
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __TameflareAdapter = $crate::bindings::Adapter<$ty>;
            $crate::bindings::__export_connector_world!(__TameflareAdapter with_types_in $crate::bindings);

            #[used]
            #[unsafe(link_section = "tameflare:sdk")]
            static __TAMEFLARE_SDK_SECTION: [u8; $crate::__private::SDK_SECTION_LEN] =
                $crate::__private::SDK_SECTION;
        };
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "guest")]
    pub use wit_bindgen;

    const PREFIX: &str = "tameflare-sdk ";

    /// Length of [`SDK_SECTION`].
    pub const SDK_SECTION_LEN: usize = PREFIX.len() + crate::SDK_VERSION.len();

    /// Payload of the `tameflare:sdk` custom section: `tameflare-sdk <version>`.
    pub const SDK_SECTION: [u8; SDK_SECTION_LEN] = {
        let mut out = [0u8; SDK_SECTION_LEN];
        let (prefix, version) = (PREFIX.as_bytes(), crate::SDK_VERSION.as_bytes());
        let mut i = 0;
        while i < prefix.len() {
            out[i] = prefix[i];
            i += 1;
        }
        let mut j = 0;
        while j < version.len() {
            out[i + j] = version[j];
            j += 1;
        }
        out
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn sdk_section_payload_names_the_version() {
        let payload = std::str::from_utf8(&crate::__private::SDK_SECTION).unwrap();
        assert_eq!(payload, format!("tameflare-sdk {}", crate::SDK_VERSION));
        // The macro spells the section name as a literal; keep it in step.
        let src = include_str!("lib.rs");
        let attr = format!("link_section = \"{}\"", crate::SDK_SECTION_NAME);
        assert!(src.contains(&attr), "export_connector! must use {attr}");
    }
}
