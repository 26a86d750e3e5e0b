//! The environment `tf run` gives an agent: proxy variables, CA trust
//! variables and placeholder credentials. Pure: the caller supplies every
//! input, including how a placeholder is formed.

use std::net::SocketAddr;
use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters allowed verbatim in URL userinfo (RFC 3986 unreserved).
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A configured connector instance, as far as the agent's env is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstanceRef {
    pub(crate) name: String,
    pub(crate) kind: String,
}

/// Inputs for [`agent_env`].
#[derive(Debug)]
pub(crate) struct AgentEnvInput<'a> {
    pub(crate) proxy: SocketAddr,
    pub(crate) gateway: &'a str,
    pub(crate) token: &'a str,
    /// Absolute path of `<data>/ca-bundle.pem`.
    pub(crate) ca_bundle: &'a Path,
    /// Absolute path of `<data>/ca.pem`.
    pub(crate) ca_pem: &'a Path,
    /// Absolute path of `<data>/python` (the start-up hook for Python SDKs).
    pub(crate) python_hooks: &'a Path,
    /// The caller's own `PYTHONPATH`, kept after the hook.
    pub(crate) pythonpath: Option<&'a std::ffi::OsStr>,
    pub(crate) instances: &'a [InstanceRef],
}

/// `http://NAME:TOKEN@127.0.0.1:PORT`, userinfo percent-encoded.
pub(crate) fn proxy_url(proxy: SocketAddr, gateway: &str, token: &str) -> String {
    format!(
        "http://{}:{}@{}",
        utf8_percent_encode(gateway, USERINFO),
        utf8_percent_encode(token, USERINFO),
        proxy
    )
}

/// `TF_<INSTANCE>_TOKEN`, upper-cased, non-alphanumerics as `_`.
pub(crate) fn instance_token_var(instance: &str) -> String {
    let upper: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("TF_{upper}_TOKEN")
}

/// The variables to set on the agent's process, in a stable order.
pub(crate) fn agent_env(
    input: &AgentEnvInput<'_>,
    placeholder: impl Fn(&str) -> String,
) -> Vec<(String, String)> {
    let url = proxy_url(input.proxy, input.gateway, input.token);
    let bundle = input.ca_bundle.display().to_string();
    let mut env: Vec<(String, String)> = Vec::new();
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        env.push((var.into(), url.clone()));
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.push((var.into(), "localhost,127.0.0.1,::1".into()));
    }
    for var in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
    ] {
        env.push((var.into(), bundle.clone()));
    }
    env.push((
        "NODE_EXTRA_CA_CERTS".into(),
        input.ca_pem.display().to_string(),
    ));
    env.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    // Python SDKs that pin their own CA bundle (stripe) are pointed at ours.
    let mut pythonpath = input.python_hooks.display().to_string();
    if let Some(rest) = input.pythonpath.filter(|p| !p.is_empty()) {
        pythonpath.push(':');
        pythonpath.push_str(&rest.to_string_lossy());
    }
    env.push(("PYTHONPATH".into(), pythonpath));
    for instance in input.instances {
        let value = placeholder(&instance.name);
        for var in sdk_key_vars(&instance.kind) {
            env.push(((*var).into(), value.clone()));
        }
        env.push((instance_token_var(&instance.name), value));
    }
    env
}

/// The variables each API's official SDKs and CLIs read their key from, so
/// unmodified clients start with a placeholder (the gateway injects the key).
fn sdk_key_vars(kind: &str) -> &'static [&'static str] {
    match kind {
        "github" => &["GITHUB_TOKEN", "GH_TOKEN"],
        "stripe" => &["STRIPE_API_KEY", "STRIPE_SECRET_KEY"],
        "slack" => &["SLACK_BOT_TOKEN", "SLACK_TOKEN"],
        "openai" => &["OPENAI_API_KEY"],
        "anthropic" => &["ANTHROPIC_API_KEY"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_agent_environment() {
        let instances = [
            InstanceRef {
                name: "github".into(),
                kind: "github".into(),
            },
            InstanceRef {
                name: "my api.v2".into(),
                kind: "generic".into(),
            },
        ];
        let input = AgentEnvInput {
            proxy: "127.0.0.1:4321".parse().unwrap(),
            gateway: "My Bot",
            token: "tok",
            ca_bundle: Path::new("/d/ca-bundle.pem"),
            ca_pem: Path::new("/d/ca.pem"),
            python_hooks: Path::new("/d/python"),
            pythonpath: Some(std::ffi::OsStr::new("/mine")),
            instances: &instances,
        };
        let env = agent_env(&input, |i| format!("ph-{i}"));
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{k} missing"))
        };
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            assert_eq!(get(k), "http://My%20Bot:tok@127.0.0.1:4321");
        }
        assert_eq!(get("NO_PROXY"), "localhost,127.0.0.1,::1");
        assert_eq!(get("no_proxy"), "localhost,127.0.0.1,::1");
        for k in [
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "GIT_SSL_CAINFO",
        ] {
            assert_eq!(get(k), "/d/ca-bundle.pem");
        }
        assert_eq!(get("NODE_EXTRA_CA_CERTS"), "/d/ca.pem");
        assert_eq!(get("NODE_USE_ENV_PROXY"), "1");
        assert_eq!(get("PYTHONPATH"), "/d/python:/mine");
        assert_eq!(get("GITHUB_TOKEN"), "ph-github");
        assert_eq!(get("GH_TOKEN"), "ph-github");
        assert_eq!(get("TF_GITHUB_TOKEN"), "ph-github");
        assert_eq!(get("TF_MY_API_V2_TOKEN"), "ph-my api.v2");
        for (kind, vars) in [
            ("stripe", &["STRIPE_API_KEY", "STRIPE_SECRET_KEY"][..]),
            ("slack", &["SLACK_BOT_TOKEN", "SLACK_TOKEN"]),
            ("openai", &["OPENAI_API_KEY"]),
            ("anthropic", &["ANTHROPIC_API_KEY"]),
        ] {
            assert_eq!(sdk_key_vars(kind), vars);
        }
        assert!(!env.iter().any(|(k, _)| k == "TF_MY API.V2_TOKEN"));
    }

    #[test]
    fn userinfo_is_encoded() {
        let url = proxy_url("127.0.0.1:1".parse().unwrap(), "a:b@c/d", "t~_-.");
        assert_eq!(url, "http://a%3Ab%40c%2Fd:t~_-.@127.0.0.1:1");
    }
}
