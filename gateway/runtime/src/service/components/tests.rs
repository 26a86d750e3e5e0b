//! The hot-load state machine as a table, with a fake loader (no wasmtime)
//! and the watcher driven by hand (`sync_components(Scan::Settled)`, no
//! sleeps). Every row says what serves, what `tf connector list` shows and
//! which audit events were written.

use std::collections::BTreeMap;
use std::sync::Arc;

use tf_admin::ControlError;
use tf_admin::api::AddConnector;
use tf_core::{Action, ClassifyError, ConnectorRequest, Descriptor, Placement};
use tf_store::Store;
use tf_vault::{MasterKey, Vault};

use super::Scan;
use crate::loader::{ComponentLoader, LoadFailure, LoadedComponent};
use crate::service::Service;
use crate::snapshot::Kind;

struct NoClassifier;

impl tf_core::Classifier for NoClassifier {
    fn classify(&self, _request: ConnectorRequest) -> Result<Action, ClassifyError> {
        Err(ClassifyError::failed(
            tf_core::ConnectorFailure::Trap,
            "test",
        ))
    }
}

fn descriptor(name: &str, version: &str, domains: &[&str]) -> Arc<Descriptor> {
    Arc::new(Descriptor {
        name: name.into(),
        version: version.into(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        actions: vec![],
        placement: Placement::bearer(),
        needs_body: false,
    })
}

/// A "component" is text: `name=acme v=1 domains=a.example,b.example`, or
/// `refuse=why`. (Rows change a file only to a text of another length, so
/// its signature changes even within one mtime tick.)
struct FakeLoader;

impl ComponentLoader for FakeLoader {
    fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, LoadFailure> {
        let text = std::str::from_utf8(bytes).map_err(|e| LoadFailure::new(e.to_string()))?;
        let fields: BTreeMap<&str, &str> = text
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        if let Some(why) = fields.get("refuse") {
            return Err(LoadFailure::new(format!("fixture failed: {why}")));
        }
        let domains: Vec<&str> = fields
            .get("domains")
            .map(|d| d.split(',').collect())
            .unwrap_or_default();
        Ok(LoadedComponent {
            descriptor: descriptor(fields["name"], fields["v"], &domains),
            classifier: Arc::new(NoClassifier),
            sdk: Some("test-sdk".into()),
            fixtures_passed: 1,
        })
    }
}

/// One step of a scenario.
#[derive(Clone, Copy)]
enum Do {
    /// Write a file into `connectors/` in place.
    Write(&'static str, &'static str),
    Remove(&'static str),
    /// One watcher poll.
    Poll,
    /// Stop the service and open it again over the same data.
    Restart,
    /// `tf connector add KIND --name NAME --domains ...`.
    Instance(&'static str, &'static str, &'static [&'static str]),
    /// `tf connector install [--take-over]`; `Some(text)`: refused with a
    /// message containing `text`.
    Install(&'static str, bool, Option<&'static str>),
    /// What serves a domain now: `instance kind@version`, or `-`.
    Serves(&'static str, &'static str),
}

struct Harness {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    key: MasterKey,
    service: Option<Service>,
}

fn builtins() -> BTreeMap<String, Kind> {
    [
        ("github", descriptor("github", "1.0.0", &["api.github.com"])),
        ("generic", descriptor("generic", "1.0.0", &[])),
    ]
    .into_iter()
    .map(|(k, d)| {
        (
            k.to_owned(),
            Kind {
                descriptor: d,
                classifier: Arc::new(NoClassifier),
            },
        )
    })
    .collect()
}

impl Harness {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        std::fs::create_dir(root.join("connectors")).unwrap();
        let mut h = Self {
            _tmp: tmp,
            root,
            key: MasterKey::generate(),
            service: None,
        };
        h.start();
        h
    }

    fn start(&mut self) {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.root.join("t.redb"))
            .unwrap();
        let dir = cap_std::fs::Dir::open_ambient_dir(
            self.root.join("connectors"),
            cap_std::ambient_authority(),
        )
        .unwrap();
        let service = Service::new(
            Some(Arc::new(FakeLoader)),
            Some(dir),
            Store::open(file).unwrap(),
            builtins(),
            Arc::new(Vault::new(self.key.clone())),
            "PEM".into(),
            "/data".into(),
        )
        .unwrap();
        self.service = Some(service);
    }

    fn s(&self) -> &Service {
        self.service.as_ref().unwrap()
    }

    fn serves(&self, domain: &str) -> String {
        let snap = self.s().snapshot().load_full();
        match snap.route(domain) {
            Some(r) => format!(
                "{} {}@{}",
                r.instance, r.descriptor.name, r.descriptor.version
            ),
            None => "-".to_owned(),
        }
    }

    fn run(&mut self, row: &str, step: Do) {
        match step {
            Do::Write(file, text) => {
                std::fs::write(self.root.join("connectors").join(file), text).unwrap();
            }
            Do::Remove(file) => {
                std::fs::remove_file(self.root.join("connectors").join(file)).unwrap()
            }
            Do::Poll => self.s().sync_components(Scan::Settled),
            Do::Restart => {
                self.service = None;
                self.start();
            }
            Do::Instance(kind, name, domains) => {
                self.s()
                    .add_connector_for_test(kind, name, domains)
                    .unwrap_or_else(|e| panic!("{row}: {e}"));
            }
            Do::Install(text, take_over, refused) => {
                let got = self
                    .s()
                    .install_component(text.as_bytes(), "tester", take_over);
                match (refused, got) {
                    (None, Ok(_)) => {}
                    (Some(want), Err(ControlError::Conflict(m))) => {
                        assert!(m.contains(want), "{row}: {m}");
                    }
                    (want, got) => panic!("{row}: install: want {want:?}, got {got:?}"),
                }
            }
            Do::Serves(domain, want) => {
                assert_eq!(self.serves(domain), want, "{row}: what serves {domain}");
            }
        }
    }

    fn infos(&self) -> Vec<(String, String)> {
        self.s()
            .component_infos()
            .into_iter()
            .map(|i| (i.file, i.state))
            .collect()
    }

    fn events(&self) -> Vec<String> {
        self.s()
            .store()
            .audit_after(0, 1000)
            .unwrap()
            .into_iter()
            .filter_map(|r| r.entry.event)
            .map(|e| format!("{} {}", e.kind.as_str(), e.file))
            .collect()
    }
}

impl Service {
    fn add_connector_for_test(
        &self,
        kind: &str,
        name: &str,
        domains: &[&str],
    ) -> Result<tf_admin::api::ConnectorInfo, ControlError> {
        tf_admin::Control::add_connector(
            self,
            AddConnector {
                kind: kind.into(),
                name: Some(name.into()),
                domains: domains.iter().map(|d| (*d).to_owned()).collect(),
                token: None,
                placement: None,
                keep_credential: false,
                actor: None,
            },
        )
    }
}

const ACME_V1: &str = "name=acme v=1 domains=a.example";
const ACME_V2: &str = "name=acme v=2 domains=a.example,b.example";
const BAD: &str = "refuse=expected-200";

struct Row {
    name: &'static str,
    steps: &'static [Do],
    /// `tf connector list`'s components: (file, state).
    list: &'static [(&'static str, &'static str)],
    /// Audit events: `kind file`.
    events: &'static [&'static str],
}

#[test]
fn the_hot_load_state_machine() {
    use Do::*;
    let rows = [
        Row {
            name: "a file appears and serves once it held still over two polls",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Serves("a.example", "-"),
                Poll,
                Serves("a.example", "acme acme@1"),
                Poll,
            ],
            list: &[("acme.wasm", "loaded")],
            events: &["installed acme.wasm"],
        },
        Row {
            name: "a change applies once it settled; until then the old version serves",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Write("acme.wasm", ACME_V2),
                Poll,
                Serves("a.example", "acme acme@1"),
                Serves("b.example", "-"),
                Poll,
                Serves("a.example", "acme acme@2"),
                Serves("b.example", "acme acme@2"),
            ],
            list: &[("acme.wasm", "loaded")],
            events: &["installed acme.wasm", "replaced acme.wasm"],
        },
        Row {
            name: "a refused file keeps the previous version serving, audited once",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Write("acme.wasm", BAD),
                Poll,
                Poll,
                Poll,
                Serves("a.example", "acme acme@1"),
            ],
            list: &[("acme.wasm", "loaded (newer file refused)")],
            events: &["installed acme.wasm", "refused acme.wasm"],
        },
        Row {
            name: "a bad edit undone serves again without an event",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Write("acme.wasm", BAD),
                Poll,
                Poll,
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Serves("a.example", "acme acme@1"),
            ],
            list: &[("acme.wasm", "loaded")],
            events: &["installed acme.wasm", "refused acme.wasm"],
        },
        Row {
            name: "a new file that is refused serves nothing",
            steps: &[
                Write("acme.wasm", BAD),
                Poll,
                Poll,
                Serves("a.example", "-"),
            ],
            list: &[("acme.wasm", "refused")],
            events: &["refused acme.wasm"],
        },
        Row {
            name: "a file refused at start is replaced by the last version that loaded",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Restart,
                Serves("a.example", "acme acme@1"),
                Write("acme.wasm", BAD),
                Restart,
                Serves("a.example", "acme acme@1"),
                Restart,
                Serves("a.example", "acme acme@1"),
            ],
            list: &[("acme.wasm", "loaded (newer file refused)")],
            events: &["installed acme.wasm", "refused acme.wasm"],
        },
        Row {
            name: "a removed file stops serving",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Remove("acme.wasm"),
                Poll,
                Serves("a.example", "-"),
            ],
            list: &[],
            events: &["installed acme.wasm", "removed acme.wasm"],
        },
        Row {
            name: "a file removed while stopped is forgotten at start",
            steps: &[
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Remove("acme.wasm"),
                Restart,
                Serves("a.example", "-"),
            ],
            list: &[],
            events: &["installed acme.wasm", "removed acme.wasm"],
        },
        Row {
            name: "a component named after a built-in is refused without --take-over",
            steps: &[
                Instance("github", "gh", &[]),
                Write("github.wasm", "name=github v=9 domains=api.github.com"),
                Poll,
                Poll,
                Serves("api.github.com", "gh github@1.0.0"),
            ],
            list: &[("github.wasm", "refused")],
            events: &["refused github.wasm"],
        },
        Row {
            name: "a component named like an instance of another kind is refused",
            steps: &[
                Instance("generic", "acme", &["x.example"]),
                Write("acme.wasm", ACME_V1),
                Poll,
                Poll,
                Serves("a.example", "-"),
                Serves("x.example", "acme generic@1.0.0"),
            ],
            list: &[("acme.wasm", "refused")],
            events: &["refused acme.wasm"],
        },
        Row {
            name: "a component claiming another instance's domain is refused",
            steps: &[
                Instance("github", "gh", &[]),
                Write("acme.wasm", "name=acme v=1 domains=api.github.com"),
                Poll,
                Poll,
                Serves("api.github.com", "gh github@1.0.0"),
            ],
            list: &[("acme.wasm", "refused")],
            events: &["refused acme.wasm"],
        },
        Row {
            name: "a component whose name is not its file's is refused",
            steps: &[
                Write("other.wasm", ACME_V1),
                Poll,
                Poll,
                Serves("a.example", "-"),
            ],
            list: &[("other.wasm", "refused")],
            events: &["refused other.wasm"],
        },
        Row {
            name: "an install collides like a file, and takes over with --take-over",
            steps: &[
                Instance("github", "gh", &[]),
                Install(
                    "name=acme v=1 domains=api.github.com",
                    false,
                    Some("claimed by both"),
                ),
                Serves("api.github.com", "gh github@1.0.0"),
                Install("name=acme v=1 domains=api.github.com", true, None),
                Serves("api.github.com", "acme acme@1"),
                Poll,
                Poll,
                Restart,
                Serves("api.github.com", "acme acme@1"),
            ],
            list: &[("acme.wasm", "loaded")],
            events: &["refused acme.wasm", "installed acme.wasm"],
        },
        Row {
            name: "a built-in is replaced with --take-over",
            steps: &[
                Instance("github", "gh", &[]),
                Install(
                    "name=github v=9 domains=api.github.com",
                    false,
                    Some("built-in"),
                ),
                Install("name=github v=9 domains=api.github.com", true, None),
                Serves("api.github.com", "gh github@9"),
                Poll,
                Poll,
            ],
            list: &[("github.wasm", "loaded")],
            events: &["refused github.wasm", "installed github.wasm"],
        },
    ];
    for row in rows {
        let mut h = Harness::new();
        for step in row.steps {
            h.run(row.name, *step);
        }
        let want: Vec<(String, String)> = row
            .list
            .iter()
            .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
            .collect();
        assert_eq!(h.infos(), want, "{}: tf connector list", row.name);
        assert_eq!(h.events(), row.events, "{}: audit events", row.name);
    }
}

#[test]
fn a_refusal_has_one_reason_shown_by_the_list() {
    let mut h = Harness::new();
    h.run("refusal", Do::Write("acme.wasm", BAD));
    h.run("refusal", Do::Poll);
    h.run("refusal", Do::Poll);
    let info = h.s().component_infos().remove(0);
    assert_eq!(
        info.last_error.as_deref(),
        Some("fixture failed: expected-200")
    );
    let comps = h.s().lock_components();
    let refused = comps.files["acme.wasm"].refused.as_ref().unwrap();
    assert!(matches!(refused.reason, super::Refusal::Load(_)));
    assert_eq!(info.sha256.as_deref(), Some(refused.sha256.as_str()));
}
