//! The import allowlist: what a connector may ask the host for.
//!
//! A std Rust guest built for `wasm32-wasip2` imports `wasi:cli/*` and
//! `wasi:io/*` even when it does no I/O, and may import `wasi:random/*` for
//! hash-map seeds; the host links those against an empty WASI context (no
//! environment, arguments, preopens or sockets). Everything else — sockets,
//! filesystem, HTTP, clocks, unknown packages — is refused at load.

/// The WIT package version of our own interfaces this host implements.
pub(crate) const CONTRACT_VERSION: &str = "0.1.0";

/// Why an import is not allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// The import is not an interface of the form `ns:pkg/iface@version`.
    #[error("import {0:?} is not a versioned WIT interface")]
    Malformed(String),
    /// The interface is outside the allowlist.
    #[error(
        "import {0:?} is not allowed (connectors get wasi:cli, wasi:io, wasi:random and tameflare:connector/log only)"
    )]
    Disallowed(String),
    /// Our own package, but at a version this host does not implement.
    #[error(
        "import {0:?} needs a contract version this host does not implement (it implements {CONTRACT_VERSION})"
    )]
    UnsupportedVersion(String),
}

/// Checks one import name against the allowlist.
pub(crate) fn check_import(name: &str) -> Result<(), ImportError> {
    let malformed = || ImportError::Malformed(name.to_owned());
    let (package, rest) = name.split_once('/').ok_or_else(malformed)?;
    let (namespace, package) = package.split_once(':').ok_or_else(malformed)?;
    let (interface, version) = match rest.split_once('@') {
        Some((i, v)) => (i, Some(v)),
        None => (rest, None),
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !ident(namespace) || !ident(package) || !ident(interface) {
        return Err(malformed());
    }
    match (namespace, package) {
        ("wasi", "cli" | "io" | "random") => Ok(()),
        ("tameflare", "connector") => {
            if !matches!(interface, "log" | "types") {
                return Err(ImportError::Disallowed(name.to_owned()));
            }
            if version == Some(CONTRACT_VERSION) {
                Ok(())
            } else {
                Err(ImportError::UnsupportedVersion(name.to_owned()))
            }
        }
        _ => Err(ImportError::Disallowed(name.to_owned())),
    }
}

/// Every refused import of one component (never empty).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ForbiddenImports(pub Vec<ImportError>);

/// Checks every import; returns all refused ones.
pub(crate) fn check_imports<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), ForbiddenImports> {
    let refused: Vec<ImportError> = names
        .into_iter()
        .filter_map(|n| check_import(n).err())
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ForbiddenImports(refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_guest_imports_are_allowed() {
        let names = [
            "wasi:cli/environment@0.2.6",
            "wasi:cli/exit@0.2.6",
            "wasi:io/error@0.2.6",
            "wasi:io/streams@0.2.6",
            "wasi:cli/stderr@0.2.6",
            "wasi:cli/terminal-output@0.2.6",
            "wasi:random/insecure-seed@0.2.6",
            "tameflare:connector/types@0.1.0",
            "tameflare:connector/log@0.1.0",
        ];
        assert_eq!(check_imports(names), Ok(()));
    }

    #[test]
    fn reaching_out_is_refused() {
        for name in [
            "wasi:sockets/tcp@0.2.6",
            "wasi:sockets/ip-name-lookup@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "evil:pkg/anything@1.0.0",
            "tameflare:connector/vault@0.1.0",
        ] {
            assert_eq!(
                check_import(name),
                Err(ImportError::Disallowed(name.into())),
                "{name}"
            );
        }
    }

    #[test]
    fn all_refused_imports_are_reported() {
        let err = check_imports([
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:io/error@0.2.6",
            "wasi:filesystem/types@0.2.6",
        ])
        .expect_err("refused");
        assert_eq!(
            err,
            ForbiddenImports(vec![
                ImportError::Disallowed("wasi:clocks/wall-clock@0.2.6".into()),
                ImportError::Disallowed("wasi:filesystem/types@0.2.6".into()),
            ])
        );
        assert!(err.to_string().contains("; "));
    }

    #[test]
    fn odd_names_are_refused() {
        for name in [
            "log",
            "wasi:cli",
            "wasi/cli@0.2.6",
            "WASI:cli/exit@0.2.6",
            ":x/y",
            "",
        ] {
            assert_eq!(
                check_import(name),
                Err(ImportError::Malformed(name.into())),
                "{name}"
            );
        }
        assert_eq!(
            check_import("tameflare:connector/log@0.2.0"),
            Err(ImportError::UnsupportedVersion(
                "tameflare:connector/log@0.2.0".into()
            ))
        );
        assert_eq!(
            check_import("tameflare:connector/log"),
            Err(ImportError::UnsupportedVersion(
                "tameflare:connector/log".into()
            ))
        );
    }
}
