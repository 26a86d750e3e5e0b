//! Connector descriptors, requests and actions: the host-side mirror of the
//! types in `wit/connector.wit` (package `tameflare:connector@0.1.0`).

use serde::{Deserialize, Serialize};

/// How much harm an action can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// One entry of a connector's action catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub name: String,
    pub description: String,
    pub method: String,
    pub path_template: String,
    pub risk: Risk,
    pub read_only: bool,
}

impl ActionSpec {
    /// Whether an action named `name` is this catalogue entry. An entry
    /// named `prefix.*` stands for a family of names decided at runtime
    /// (e.g. `mcp.tools.*` for one action per MCP tool): it covers
    /// `prefix.<segment>` for one more segment of `[A-Za-z0-9_-]`.
    pub fn covers(&self, name: &str) -> bool {
        match self.family() {
            None => self.name == name,
            Some(prefix) => in_family(prefix, name),
        }
    }

    /// `Some("mcp.tools.")` for a family entry `mcp.tools.*`.
    fn family(&self) -> Option<&str> {
        self.name
            .strip_suffix('*')
            .filter(|prefix| prefix.ends_with('.'))
    }
}

/// `name` is `prefix` (ending in `.`) followed by one action segment.
fn in_family(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(is_action_segment)
}

/// One segment of an action name: non-empty, `[A-Za-z0-9_-]`. The one rule
/// for action names in catalogues, families and permission patterns.
pub fn is_action_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// One or more [action segments](is_action_segment) joined by `.`.
pub fn is_action_path(s: &str) -> bool {
    s.split('.').all(is_action_segment)
}

/// A name a catalogue may list: at most [`MAX_ACTION_NAME`] bytes, two or
/// more segments (`github.pr.merge`), optionally ending in `.*` for a family
/// decided at runtime (`mcp.tools.*`, see [`ActionSpec::covers`]).
pub fn is_catalogue_name(name: &str) -> bool {
    let stem = name.strip_suffix(".*").unwrap_or(name);
    name.len() <= MAX_ACTION_NAME && stem.contains('.') && is_action_path(stem)
}

/// A connector's catalogue indexed for the request path: exact names in a
/// sorted list (binary search), families (`prefix.*`) as prefixes. Covers
/// exactly the names some [`ActionSpec::covers`]; built once per loaded
/// connector, so checking an action is O(log n) instead of a scan of the
/// catalogue (GitHub's has over 1,200 entries).
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    exact: Vec<Box<str>>,
    families: Vec<Box<str>>,
}

impl Catalogue {
    pub fn new(specs: &[ActionSpec]) -> Self {
        Self::of(specs)
    }

    fn of<'a>(specs: impl IntoIterator<Item = &'a ActionSpec>) -> Self {
        let mut c = Catalogue::default();
        for spec in specs {
            match spec.family() {
                Some(prefix) => c.families.push(prefix.into()),
                None => c.exact.push(spec.name.as_str().into()),
            }
        }
        c.exact.sort_unstable();
        c.exact.dedup();
        c
    }

    /// Whether some entry of the catalogue covers `name`.
    pub fn covers(&self, name: &str) -> bool {
        self.exact.binary_search_by(|e| (**e).cmp(name)).is_ok()
            || self.families.iter().any(|p| in_family(p, name))
    }
}

/// Which action names are read-only, for the audit policy: a request whose
/// action is not read-only is recorded write-ahead (durably, before it is
/// forwarded). Built once per route when a snapshot is built, so the check
/// on the request path is two binary searches, not a scan of the catalogue.
///
/// Fails closed: a name is read-only only if some catalogue entry with
/// `read_only: true` covers it and no entry without it does (an exact entry
/// inside a mutating family, such as `mcp.tools.list` beside `mcp.tools.*`,
/// is therefore a mutation); a name no entry covers is a mutation.
#[derive(Clone, Debug, Default)]
pub struct ReadOnlyIndex {
    read_only: Catalogue,
    mutating: Catalogue,
}

impl ReadOnlyIndex {
    pub fn new(specs: &[ActionSpec]) -> Self {
        Self {
            read_only: Catalogue::of(specs.iter().filter(|s| s.read_only)),
            mutating: Catalogue::of(specs.iter().filter(|s| !s.read_only)),
        }
    }

    /// Whether the action named `name` is read-only.
    pub fn is_read_only(&self, name: &str) -> bool {
        self.read_only.covers(name) && !self.mutating.covers(name)
    }

    /// Whether a classified action is read-only: for a batch every part must
    /// be (the batch's own name is not consulted), otherwise the action.
    pub fn action_is_read_only(&self, action: &Action) -> bool {
        if action.parts.is_empty() {
            self.is_read_only(&action.name)
        } else {
            action.parts.iter().all(|p| self.is_read_only(&p.name))
        }
    }
}

/// Where the credential goes on an allowed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// No credential.
    None,
    /// Header `name` set to `template` with `{secret}` replaced.
    Header { name: String, template: String },
    /// HTTP Basic; the secret is `user:password`.
    Basic,
}

/// Longest credential header name accepted.
pub const MAX_HEADER_NAME: usize = 128;
/// Longest credential header template accepted.
pub const MAX_TEMPLATE: usize = 1024;

/// Why a credential placement is refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlacementError {
    #[error(
        "credential placement header name {0:?} is not a valid lowercase header name (an HTTP token of at most {MAX_HEADER_NAME} bytes, e.g. x-api-key)"
    )]
    HeaderName(String),
    #[error("credential placement template must contain `{{secret}}`, e.g. 'Bearer {{secret}}'")]
    NoSecret,
    #[error(
        "credential placement template must be at most {MAX_TEMPLATE} bytes of visible ASCII or spaces (no control characters)"
    )]
    TemplateText,
}

impl Placement {
    /// The bearer placement most APIs use.
    pub fn bearer() -> Self {
        Placement::Header {
            name: "authorization".into(),
            template: "Bearer {secret}".into(),
        }
    }

    /// The lower-case header name this placement writes, if any.
    pub fn header_name(&self) -> Option<&str> {
        match self {
            Placement::None => None,
            Placement::Header { name, .. } => Some(name),
            Placement::Basic => Some("authorization"),
        }
    }

    /// The one rule for a placement, wherever it comes from (a connector's
    /// descriptor, `tf connector add --header`, the admin API, the store): a
    /// header name that is a lowercase HTTP token of at most
    /// [`MAX_HEADER_NAME`] bytes, and a template of at most [`MAX_TEMPLATE`]
    /// bytes of visible ASCII or spaces that contains `{secret}`. No control
    /// character, so no value can split a header.
    pub fn validate(&self) -> Result<(), PlacementError> {
        let Placement::Header { name, template } = self else {
            return Ok(());
        };
        if !is_header_name(name) {
            return Err(PlacementError::HeaderName(name.clone()));
        }
        if template.len() > MAX_TEMPLATE
            || !template.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(PlacementError::TemplateText);
        }
        if !template.contains("{secret}") {
            return Err(PlacementError::NoSecret);
        }
        Ok(())
    }
}

/// A lowercase HTTP header name: a token (RFC 9110 `tchar`s) of at most
/// [`MAX_HEADER_NAME`] bytes.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_HEADER_NAME
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// What a connector says about itself when loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    pub name: String,
    pub version: String,
    pub domains: Vec<String>,
    pub actions: Vec<ActionSpec>,
    pub placement: Placement,
    pub needs_body: bool,
}

/// The normalized request handed to a connector: exactly what will be
/// forwarded, minus credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectorRequest {
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A typed parameter value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

/// A named parameter of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: ParamValue,
}

/// The classification of one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub resource: String,
    pub params: Vec<Param>,
    pub risk: Risk,
    /// For a request carrying several operations (a JSON-RPC batch): each
    /// one's action, decided separately; the most restrictive decision
    /// applies. Parts have no parts of their own. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Action>,
}

/// Why an action returned by a connector is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidAction {
    #[error("action name {0:?} is not in the connector's catalogue")]
    NotInCatalogue(String),
    #[error("action output exceeds limits: {0}")]
    TooLarge(&'static str),
}

/// Output limits the host enforces on a connector's action.
pub const MAX_ACTION_NAME: usize = 128;
pub const MAX_RESOURCE: usize = 1024;
pub const MAX_PARAMS: usize = 64;
pub const MAX_PARAM_BYTES: usize = 4096;
pub const MAX_PARTS: usize = 64;

impl Action {
    /// Checks an action returned by a connector with catalogue `catalogue`.
    pub fn validate(&self, catalogue: &Catalogue) -> Result<(), InvalidAction> {
        if self.name.len() > MAX_ACTION_NAME {
            return Err(InvalidAction::TooLarge("name"));
        }
        if self.resource.len() > MAX_RESOURCE {
            return Err(InvalidAction::TooLarge("resource"));
        }
        if self.params.len() > MAX_PARAMS {
            return Err(InvalidAction::TooLarge("params"));
        }
        for p in &self.params {
            let len = p.name.len()
                + match &p.value {
                    ParamValue::Text(s) => s.len(),
                    ParamValue::Integer(_) | ParamValue::Boolean(_) => 8,
                };
            if len > MAX_PARAM_BYTES {
                return Err(InvalidAction::TooLarge("param"));
            }
        }
        if !catalogue.covers(&self.name) {
            return Err(InvalidAction::NotInCatalogue(self.name.clone()));
        }
        if self.parts.len() > MAX_PARTS {
            return Err(InvalidAction::TooLarge("parts"));
        }
        for part in &self.parts {
            if !part.parts.is_empty() {
                return Err(InvalidAction::TooLarge("nested parts"));
            }
            part.validate(catalogue)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> ActionSpec {
        ActionSpec {
            name: name.into(),
            description: String::new(),
            method: "POST".into(),
            path_template: "/".into(),
            risk: Risk::Medium,
            read_only: false,
        }
    }

    #[test]
    fn catalogue_entries_cover_exact_names_and_one_segment_families() {
        let table = [
            ("mcp.tools.list", "mcp.tools.list", true),
            ("mcp.tools.list", "mcp.tools.lists", false),
            ("mcp.tools.*", "mcp.tools.deploy", true),
            ("mcp.tools.*", "mcp.tools.deploy-prod_2", true),
            ("mcp.tools.*", "mcp.tools", false),
            ("mcp.tools.*", "mcp.tools.", false),
            ("mcp.tools.*", "mcp.tools.a.b", false),
            ("mcp.tools.*", "mcp.toolsx.a", false),
            ("mcp.tools.*", "mcp.tools.a b", false),
        ];
        for (entry, name, want) in table {
            assert_eq!(spec(entry).covers(name), want, "{entry} covers {name}");
            let indexed = Catalogue::new(&[spec("zz.other"), spec(entry), spec("aa.other")]);
            assert_eq!(
                indexed.covers(name),
                want,
                "catalogue [{entry}] covers {name}"
            );
        }
    }

    #[test]
    fn read_only_index_fails_closed() {
        let ro = |name: &str| ActionSpec {
            read_only: true,
            ..spec(name)
        };
        let index = ReadOnlyIndex::new(&[
            ro("github.pr.get"),
            spec("github.pr.merge"),
            ro("mcp.tools.list"),
            spec("mcp.tools.*"),
            ro("x.reads.*"),
            ro("both.same"),
            spec("both.same"),
        ]);
        let table = [
            ("github.pr.get", true),
            ("github.pr.merge", false),
            ("github.pr.unknown", false),
            ("mcp.tools.list", false),
            ("mcp.tools.deploy", false),
            ("x.reads.one", true),
            ("x.reads.one.two", false),
            ("both.same", false),
            ("", false),
        ];
        for (name, want) in table {
            assert_eq!(index.is_read_only(name), want, "{name}");
        }
        let act = |name: &str| Action {
            name: name.into(),
            resource: String::new(),
            params: vec![],
            risk: Risk::Low,
            parts: vec![],
        };
        let batch = |parts: &[&str]| Action {
            parts: parts.iter().map(|p| act(p)).collect(),
            ..act("github.batch")
        };
        assert!(index.action_is_read_only(&act("github.pr.get")));
        assert!(!index.action_is_read_only(&act("github.pr.merge")));
        assert!(index.action_is_read_only(&batch(&["github.pr.get", "x.reads.a"])));
        assert!(!index.action_is_read_only(&batch(&["github.pr.get", "github.pr.merge"])));
        assert!(!ReadOnlyIndex::default().action_is_read_only(&act("github.pr.get")));
    }

    #[test]
    fn the_catalogue_index_agrees_with_a_scan_of_the_entries() {
        let specs: Vec<ActionSpec> = [
            "github.pr.merge",
            "github.pr.list",
            "mcp.tools.*",
            "mcp.tools.list",
            "github.pr.merge",
            "x.*",
            "*",
        ]
        .into_iter()
        .map(spec)
        .collect();
        let index = Catalogue::new(&specs);
        for name in [
            "github.pr.merge",
            "github.pr.list",
            "github.pr",
            "github.pr.merged",
            "mcp.tools.list",
            "mcp.tools.deploy",
            "mcp.tools.a.b",
            "x.y",
            "x.",
            "*",
            "",
        ] {
            let scanned = specs.iter().any(|s| s.covers(name));
            assert_eq!(index.covers(name), scanned, "{name}");
        }
        assert!(!Catalogue::new(&[]).covers("github.pr.merge"));
    }

    #[test]
    fn action_segments_paths_and_catalogue_names() {
        let longest = format!("a.{}", "b".repeat(MAX_ACTION_NAME - 2));
        let too_long = format!("a.{}", "b".repeat(MAX_ACTION_NAME - 1));
        // (text, segment, path, catalogue name)
        let table: &[(&str, bool, bool, bool)] = &[
            ("merge", true, true, false),
            ("deploy-prod_2", true, true, false),
            ("A9", true, true, false),
            ("github.pr.merge", false, true, true),
            ("mcp.tools.*", false, false, true),
            ("mcp.*", false, false, false),
            (&longest, false, true, true),
            (&too_long, false, true, false),
            ("", false, false, false),
            ("*", false, false, false),
            ("github.*.merge", false, false, false),
            ("github..merge", false, false, false),
            (".github", false, false, false),
            ("github.", false, false, false),
            ("github.pr.merge!", false, false, false),
            ("a b", false, false, false),
            ("a/b", false, false, false),
            ("ünïcode.x", false, false, false),
            ("tab\t.x", false, false, false),
            ("nl.x\n", false, false, false),
            ("nul.\0", false, false, false),
        ];
        for &(text, segment, path, catalogue) in table {
            assert_eq!(is_action_segment(text), segment, "segment {text:?}");
            assert_eq!(is_action_path(text), path, "path {text:?}");
            assert_eq!(is_catalogue_name(text), catalogue, "catalogue {text:?}");
        }
    }

    #[test]
    fn placements() {
        let header = |name: &str, template: &str| Placement::Header {
            name: name.into(),
            template: template.into(),
        };
        let long_name = "x".repeat(MAX_HEADER_NAME);
        let too_long_name = "x".repeat(MAX_HEADER_NAME + 1);
        let long_template = format!("{{secret}}{}", "a".repeat(MAX_TEMPLATE - 8));
        let too_long_template = format!("{{secret}}{}", "a".repeat(MAX_TEMPLATE - 7));
        let name_err = |n: &str| Err(PlacementError::HeaderName(n.into()));
        let table: Vec<(Placement, Result<(), PlacementError>)> = vec![
            (Placement::None, Ok(())),
            (Placement::Basic, Ok(())),
            (Placement::bearer(), Ok(())),
            (header("x-api-key", "{secret}"), Ok(())),
            (header("x-api-key", "Token {secret} and {secret}"), Ok(())),
            (header("!#$%&'*+-.^_`|~09az", "{secret}"), Ok(())),
            (header(&long_name, "{secret}"), Ok(())),
            (header("x", &long_template), Ok(())),
            (header("", "{secret}"), name_err("")),
            (header("X-Api-Key", "{secret}"), name_err("X-Api-Key")),
            (header("x token", "{secret}"), name_err("x token")),
            (header("x:token", "{secret}"), name_err("x:token")),
            (header("x\r\nevil", "{secret}"), name_err("x\r\nevil")),
            (header("x\0", "{secret}"), name_err("x\0")),
            (header("tökén", "{secret}"), name_err("tökén")),
            (header(&too_long_name, "{secret}"), name_err(&too_long_name)),
            (header("x", "static"), Err(PlacementError::NoSecret)),
            (header("x", ""), Err(PlacementError::NoSecret)),
            (
                header("x", "{secret}\r\nx-evil: 1"),
                Err(PlacementError::TemplateText),
            ),
            (header("x", "{secret}\n"), Err(PlacementError::TemplateText)),
            (
                header("x", "a\tb {secret}"),
                Err(PlacementError::TemplateText),
            ),
            (header("x", "{secret}\0"), Err(PlacementError::TemplateText)),
            (
                header("x", "{secret}\x1b[0m"),
                Err(PlacementError::TemplateText),
            ),
            (
                header("x", "{secret}\x7f"),
                Err(PlacementError::TemplateText),
            ),
            (
                header("x", "Jeton {secret} é"),
                Err(PlacementError::TemplateText),
            ),
            (
                header("x", &too_long_template),
                Err(PlacementError::TemplateText),
            ),
        ];
        for (i, (placement, want)) in table.into_iter().enumerate() {
            assert_eq!(placement.validate(), want, "case {i}: {placement:?}");
        }
    }
}
