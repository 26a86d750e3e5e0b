//! The environment `tf run` gives an agent: the user's own environment
//! without the gateway's variables and with every vault secret replaced by a
//! placeholder ([`filter_user_env`]), then proxy variables, CA trust
//! variables and placeholder credentials ([`agent_env`]). Pure: the caller
//! supplies every input, including how a placeholder is formed and the
//! salted digests of the secrets (never the secrets).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
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

/// The gateway's own variables (every `TF_*` variable `tf` reads): they
/// would lead an agent to the data dir (`admin.token`, `master.key`,
/// `ca.key`) or the master key itself.
pub(crate) const GATEWAY_VARS: &[&str] = &[
    "TF_DATA_DIR",
    "TF_MASTER_KEY",
    "TF_ADMIN_TOKEN",
    "TF_SDK_PATH",
    "TF_LOG",
];

/// Recognizes vault secrets by `SHA-256(salt || value)`, as the vault
/// computed them ([`tf_vault::Vault::digest`]).
#[derive(Debug, Default)]
pub(crate) struct SecretDigests {
    salt: Vec<u8>,
    /// Digest → instance name.
    instances: HashMap<[u8; 32], String>,
}

impl SecretDigests {
    /// From the admin API's answer; entries that are not 32-byte hex are
    /// ignored (their credential cannot be recognized).
    pub(crate) fn new<'a>(
        salt: Vec<u8>,
        digests: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let instances = digests
            .into_iter()
            .filter_map(|(instance, hex_digest)| {
                let mut d = [0u8; 32];
                hex::decode_to_slice(hex_digest, &mut d).ok()?;
                Some((d, instance.to_owned()))
            })
            .collect();
        Self { salt, instances }
    }

    /// The instance whose secret `value` is (also when `value` has
    /// surrounding whitespace, as `--token-env` trims it).
    fn instance_of(&self, value: &OsStr) -> Option<&str> {
        let bytes = value.as_bytes();
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() {
            return None;
        }
        [bytes, trimmed].into_iter().find_map(|candidate| {
            self.instances
                .get(&tf_vault::salted_digest(&self.salt, candidate))
                .map(String::as_str)
        })
    }
}

/// What [`filter_user_env`] did to one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvChange {
    /// A gateway variable, removed.
    Removed(String),
    /// Its value was the secret of this instance: replaced by its placeholder.
    Replaced { var: String, instance: String },
    /// Kept unchanged on purpose (`--keep-env`) although it is one of the above.
    Kept(String),
}

/// The user's environment as the agent gets it: without [`GATEWAY_VARS`],
/// and with every variable whose value is a vault secret replaced by that
/// instance's placeholder, except the variables named in `keep`. Returns
/// the environment and what changed, in the input's order.
pub(crate) fn filter_user_env(
    user: impl IntoIterator<Item = (OsString, OsString)>,
    secrets: &SecretDigests,
    keep: &[String],
    placeholder: impl Fn(&str) -> String,
) -> (Vec<(OsString, OsString)>, Vec<EnvChange>) {
    let mut env = Vec::new();
    let mut changes = Vec::new();
    for (name, value) in user {
        let shown = name.to_string_lossy().into_owned();
        let own = GATEWAY_VARS.iter().any(|v| OsStr::new(v) == name);
        let secret_of = secrets.instance_of(&value);
        if (own || secret_of.is_some()) && keep.iter().any(|k| OsStr::new(k) == name) {
            changes.push(EnvChange::Kept(shown));
            env.push((name, value));
        } else if own {
            changes.push(EnvChange::Removed(shown));
        } else if let Some(instance) = secret_of {
            changes.push(EnvChange::Replaced {
                var: shown,
                instance: instance.to_owned(),
            });
            env.push((name, OsString::from(placeholder(instance))));
        } else {
            env.push((name, value));
        }
    }
    (env, changes)
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
    fn the_user_environment_loses_gateway_variables_and_secrets() {
        let salt = b"0123456789abcdef0123456789abcdef".to_vec();
        let digest = |v: &str| hex::encode(tf_vault::salted_digest(&salt, v.as_bytes()));
        let (mcp, gh) = (digest("mcp-real-token"), digest("ghp_real"));
        let secrets = SecretDigests::new(
            salt.clone(),
            [
                ("mcp", mcp.as_str()),
                ("github", gh.as_str()),
                ("bad", "zz"),
            ],
        );
        let user = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect()
        };
        let ph = |i: &str| format!("ph-{i}");
        type Case<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            Vec<&'a str>,
            Vec<(&'a str, &'a str)>,
            Vec<EnvChange>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "ordinary variables pass",
                vec![("HOME", "/home/me"), ("PATH", "/bin"), ("EMPTY", "")],
                vec![],
                vec![("HOME", "/home/me"), ("PATH", "/bin"), ("EMPTY", "")],
                vec![],
            ),
            (
                "gateway variables are removed",
                vec![
                    ("TF_DATA_DIR", "/d"),
                    ("TF_MASTER_KEY", "00ff"),
                    ("TF_ADMIN_TOKEN", "t"),
                    ("TF_LOG", "debug"),
                    ("TF_SDK_PATH", "/sdk"),
                    ("TF_OTHER", "kept"),
                ],
                vec![],
                vec![("TF_OTHER", "kept")],
                vec![
                    EnvChange::Removed("TF_DATA_DIR".into()),
                    EnvChange::Removed("TF_MASTER_KEY".into()),
                    EnvChange::Removed("TF_ADMIN_TOKEN".into()),
                    EnvChange::Removed("TF_LOG".into()),
                    EnvChange::Removed("TF_SDK_PATH".into()),
                ],
            ),
            (
                "a secret under any name becomes its placeholder",
                vec![
                    ("MCP_TOKEN", "mcp-real-token"),
                    ("WHATEVER", "ghp_real\n"),
                    ("NEAR_MISS", "mcp-real-token2"),
                ],
                vec![],
                vec![
                    ("MCP_TOKEN", "ph-mcp"),
                    ("WHATEVER", "ph-github"),
                    ("NEAR_MISS", "mcp-real-token2"),
                ],
                vec![
                    EnvChange::Replaced {
                        var: "MCP_TOKEN".into(),
                        instance: "mcp".into(),
                    },
                    EnvChange::Replaced {
                        var: "WHATEVER".into(),
                        instance: "github".into(),
                    },
                ],
            ),
            (
                "--keep-env keeps one on purpose",
                vec![
                    ("MCP_TOKEN", "mcp-real-token"),
                    ("TF_DATA_DIR", "/d"),
                    ("HOME", "/h"),
                ],
                vec!["MCP_TOKEN", "HOME"],
                vec![("MCP_TOKEN", "mcp-real-token"), ("HOME", "/h")],
                vec![
                    EnvChange::Kept("MCP_TOKEN".into()),
                    EnvChange::Removed("TF_DATA_DIR".into()),
                ],
            ),
        ];
        for (name, input, keep, want_env, want_changes) in cases {
            let keep: Vec<String> = keep.into_iter().map(str::to_owned).collect();
            let (env, changes) = filter_user_env(user(&input), &secrets, &keep, ph);
            assert_eq!(env, user(&want_env), "{name}");
            assert_eq!(changes, want_changes, "{name}");
        }
        // Another salt recognizes nothing.
        let other = SecretDigests::new(b"other".to_vec(), [("mcp", mcp.as_str())]);
        let (env, changes) =
            filter_user_env(user(&[("MCP_TOKEN", "mcp-real-token")]), &other, &[], ph);
        assert_eq!(env, user(&[("MCP_TOKEN", "mcp-real-token")]));
        assert!(changes.is_empty());
    }

    #[test]
    fn userinfo_is_encoded() {
        let url = proxy_url("127.0.0.1:1".parse().unwrap(), "a:b@c/d", "t~_-.");
        assert_eq!(url, "http://a%3Ab%40c%2Fd:t~_-.@127.0.0.1:1");
    }
}
