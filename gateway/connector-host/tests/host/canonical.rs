//! No spelling of a route that an upstream may fold into the same request
//! classifies as another action: for every operation in the GitHub and
//! Stripe catalogues, generated variants of its path (trailing, doubled
//! and leading slashes, percent-encoded unreserved characters in either hex
//! case, case changes of literal segments; and the ambiguous ones: encoded
//! slashes, `;` parameters, backslashes, double encoding, dot segments) go
//! through the gateway's canonicalizer (`tf_core::canonical_path`) and the
//! real built-in component. Each variant is refused, or classified exactly
//! like the route's own path.
//!
//! Every route is checked, with a few deterministic cases each, so the test
//! stays within seconds in a debug build.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use tf_connector_host::Connector;
use tf_core::{Classifier, canonical_path};

use super::{GITHUB, STRIPE, request};

/// Cases per route.
const CASES: u32 = 10;

/// One piece of a path: a character, an escape, or a separator.
#[derive(Clone, Debug)]
struct Atom {
    text: String,
    /// Inside a literal segment of the template (its case may change).
    literal: bool,
}

impl Atom {
    fn is_sep(&self) -> bool {
        self.text == "/"
    }

    /// A single unreserved character, which may be spelled as an escape.
    fn unreserved(&self) -> Option<u8> {
        match self.text.as_bytes() {
            [c] if c.is_ascii_alphanumeric() || b"-._~".contains(c) => Some(*c),
            _ => None,
        }
    }
}

/// A transformation of the path. Indices pick among the eligible atoms.
#[derive(Clone, Debug)]
enum Op {
    // Folded by the canonicalizer or the router: must classify alike.
    TrailingSlash,
    DoubleSlash(usize),
    LeadingSlashes(usize),
    Encode(usize, bool),
    FlipCase(usize),
    // Ambiguous: must be refused.
    EncodedSlash(usize, bool),
    Semicolon(usize),
    Backslash(usize, bool),
    DoubleEncode(usize),
    DotSegment(usize, bool),
}

impl Op {
    fn ambiguous(&self) -> bool {
        matches!(
            self,
            Op::EncodedSlash(..)
                | Op::Semicolon(_)
                | Op::Backslash(..)
                | Op::DoubleEncode(_)
                | Op::DotSegment(..)
        )
    }
}

fn op() -> impl Strategy<Value = Op> {
    let i = any::<usize>;
    prop_oneof![
        3 => Just(Op::TrailingSlash),
        3 => i().prop_map(Op::DoubleSlash),
        2 => (1..3usize).prop_map(Op::LeadingSlashes),
        6 => (i(), any::<bool>()).prop_map(|(a, b)| Op::Encode(a, b)),
        4 => i().prop_map(Op::FlipCase),
        1 => (i(), any::<bool>()).prop_map(|(a, b)| Op::EncodedSlash(a, b)),
        1 => i().prop_map(Op::Semicolon),
        1 => (i(), any::<bool>()).prop_map(|(a, b)| Op::Backslash(a, b)),
        1 => i().prop_map(Op::DoubleEncode),
        1 => (i(), any::<bool>()).prop_map(|(a, b)| Op::DotSegment(a, b)),
    ]
}

/// The `n`-th (modulo) index of `atoms` satisfying `pred`.
fn pick(atoms: &[Atom], n: usize, pred: impl Fn(&Atom) -> bool) -> Option<usize> {
    let eligible: Vec<usize> = (0..atoms.len()).filter(|&i| pred(&atoms[i])).collect();
    (!eligible.is_empty()).then(|| eligible[n % eligible.len()])
}

fn escape(c: u8, lower: bool) -> String {
    if lower {
        format!("%{c:02x}")
    } else {
        format!("%{c:02X}")
    }
}

fn atom(text: impl Into<String>) -> Atom {
    Atom {
        text: text.into(),
        literal: false,
    }
}

/// Applies `op`; false if it found nothing to change.
fn apply(atoms: &mut Vec<Atom>, op: &Op) -> bool {
    match *op {
        Op::TrailingSlash => atoms.push(atom("/")),
        Op::DoubleSlash(n) => match pick(atoms, n, Atom::is_sep) {
            Some(i) => atoms.insert(i, atom("/")),
            None => return false,
        },
        Op::LeadingSlashes(k) => {
            for _ in 0..k {
                atoms.insert(0, atom("/"));
            }
        }
        Op::Encode(n, lower) => match pick(atoms, n, |a| a.unreserved().is_some()) {
            Some(i) => {
                let c = atoms[i].unreserved().unwrap_or_default();
                atoms[i].text = escape(c, lower);
            }
            None => return false,
        },
        Op::FlipCase(n) => {
            match pick(atoms, n, |a| {
                a.literal && a.unreserved().is_some_and(|c| c.is_ascii_alphabetic())
            }) {
                Some(i) => {
                    let c = atoms[i].unreserved().unwrap_or_default();
                    let flipped = if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                    atoms[i].text = char::from(flipped).to_string();
                }
                None => return false,
            }
        }
        Op::EncodedSlash(n, lower) => match pick(atoms, n, |a| !a.is_sep()) {
            Some(i) => atoms.insert(i + 1, atom(escape(b'/', lower))),
            None => return false,
        },
        Op::Semicolon(n) => match pick(atoms, n, |a| !a.is_sep()) {
            Some(i) => atoms.insert(i + 1, atom(";v=1")),
            None => atoms.push(atom(";")),
        },
        Op::Backslash(n, encoded) => match pick(atoms, n, Atom::is_sep) {
            Some(i) if encoded => atoms.insert(i + 1, atom("%5C")),
            Some(i) => atoms[i].text = "\\".into(),
            None => return false,
        },
        Op::DoubleEncode(n) => match pick(atoms, n, |a| a.unreserved().is_some()) {
            Some(i) => {
                let c = atoms[i].unreserved().unwrap_or_default();
                atoms[i].text = format!("%25{c:02X}");
            }
            None => return false,
        },
        Op::DotSegment(n, two) => match pick(atoms, n, Atom::is_sep) {
            Some(i) => {
                let dots = if two { "x/.." } else { "." };
                atoms.insert(i + 1, atom(format!("{dots}/")));
            }
            None => return false,
        },
    }
    true
}

/// The route's own path: `{name}` → a sample value; atoms remember which
/// segments are template literals.
fn instantiate(template: &str) -> Vec<Atom> {
    let mut atoms = Vec::new();
    let mut n = 0;
    for seg in template.trim_start_matches('/').split('/') {
        atoms.push(atom("/"));
        let literal = !seg.contains('{');
        let mut value = String::new();
        let mut rest = seg;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let (name, r) = after.split_once('}').expect("closed parameter");
                value.push_str(&if name.ends_with('+') {
                    format!("t{n}a/t{n}b")
                } else {
                    format!("p{n}x")
                });
                n += 1;
                rest = r;
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                value.push_str(&rest[..end]);
                rest = &rest[end..];
            }
        }
        for c in value.chars() {
            atoms.push(Atom {
                text: if c == '/' { "/".into() } else { c.to_string() },
                literal,
            });
        }
    }
    atoms
}

fn render(atoms: &[Atom]) -> String {
    atoms.iter().map(|a| a.text.as_str()).collect()
}

fn classify(connector: &Connector, host: &str, method: &str, path: &str) -> String {
    connector
        .classify(request(method, host, path))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
        .name
}

/// Runs the property over every (method, template) of `connector`;
/// returns how many routes, variants classified and variants refused.
fn check_catalogue(connector: &Arc<Connector>, host: &str) -> (usize, usize, usize) {
    let (folded, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let routes: BTreeSet<(String, String)> = connector
        .descriptor()
        .actions
        .iter()
        .filter(|a| a.method != "*")
        .map(|a| (a.method.clone(), a.path_template.clone()))
        .collect();
    let strategy = prop::collection::vec(op(), 1..4);
    for (index, (method, template)) in routes.iter().enumerate() {
        let base_atoms = instantiate(template);
        let base = render(&base_atoms);
        let base_action = classify(connector, host, method, &base);
        assert!(
            connector
                .descriptor()
                .actions
                .iter()
                .any(|a| a.name == base_action
                    && a.method == *method
                    && a.path_template == *template),
            "{method} {template} (as {base}) classifies as {base_action}, not its own entry"
        );
        let config = Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        };
        // Deterministic, but a different stream of variants per route.
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
        seed[8..16].copy_from_slice(&(host.len() as u64).to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let result = runner.run(&strategy, |ops| {
            let mut atoms = base_atoms.clone();
            let mut ambiguous = false;
            for op in &ops {
                if apply(&mut atoms, op) {
                    ambiguous |= op.ambiguous();
                }
            }
            let variant = render(&atoms);
            match canonical_path(&variant) {
                Err(_) => {
                    refused.fetch_add(1, Ordering::Relaxed);
                    prop_assert!(ambiguous, "{method} {variant} was refused: it folds into {base}");
                }
                Ok(canonical) => {
                    prop_assert!(!ambiguous, "{method} {variant} was not refused");
                    prop_assert!(
                        canonical.eq_ignore_ascii_case(&base),
                        "{method} {variant} → {canonical}, not {base}"
                    );
                    folded.fetch_add(1, Ordering::Relaxed);
                    let action = classify(connector, host, method, &canonical);
                    if action != base_action {
                        return Err(TestCaseError::fail(format!(
                            "{method} {variant} (canonical {canonical}) is {action}, but {base} is {base_action}"
                        )));
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{method} {template}: {e}");
        }
    }
    (routes.len(), folded.into_inner(), refused.into_inner())
}

#[test]
fn every_github_and_stripe_route_classifies_alike_under_every_variant_or_is_refused() {
    for (name, connector, host, least) in [
        ("GitHub", &GITHUB, "api.github.com", 1_000),
        ("Stripe", &STRIPE, "api.stripe.com", 600),
    ] {
        let (routes, folded, refused) = check_catalogue(connector, host);
        assert!(routes > least, "{routes} {name} routes");
        // Both kinds of variant were exercised on (nearly) every route.
        assert!(folded > routes * 3, "{name}: {folded} variants classified");
        assert!(refused > routes, "{name}: {refused} variants refused");
    }
}
