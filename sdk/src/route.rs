//! Route tables: path templates matched against method + path.
//!
//! A template is a path whose segments are literals (`pulls`), parameters
//! (`{pull_number}`), mixed segments (`{base}...{head}`), or, as the last
//! segment only, a tail parameter (`{path+}`) that takes one or more
//! segments. When several templates match, the most literal wins, segment by
//! segment from the left: literal, then mixed, then parameter, then tail. So
//! `/repos/{o}/{r}/pulls/comments` beats `/repos/{o}/{r}/pulls/{n}`.
//!
//! Routes are compiled into a flat trie ([`Router`]) that matching walks
//! without allocating. [`RouterBuilder`] compiles at run time;
//! [`RouterBuf::to_rust`] emits the same trie as Rust source, so a connector
//! with a large table can commit it as a `static` and pay nothing at
//! instantiation. Parameter values are captured as raw slices of the path;
//! empty segments never match a parameter. Literal segments, and the
//! literal parts of mixed segments, match ASCII case-insensitively, so
//! `/REPOS/o/r/PULLS/7/MERGE` is still the merge route (a policy cannot be
//! side-stepped by changing case: a literal that misses would fall through
//! to a parameter route); parameter values are captured as sent; methods
//! match exactly. The gateway hands connectors canonical paths (escapes of
//! unreserved characters decoded, no empty segments, no trailing slash), so
//! matching never needs to decode.

use std::fmt::Write as _;

/// Marks an absent child or route in [`Node`].
pub const NONE: u32 = u32::MAX;

/// Most parameters one template may have.
pub const MAX_CAPTURES: usize = 16;

/// A part of a mixed segment such as `{base}...{head}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// Literal text.
    Lit(&'a str),
    /// A parameter (its name lives with the route, not the trie).
    Param,
}

/// A labelled edge: a method at the top level, a literal segment below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge<'a> {
    /// Method or literal segment text.
    pub text: &'a str,
    /// Index of the child node.
    pub child: u32,
}

/// An edge for a mixed segment: `parts[start..start + len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mixed {
    /// First part in [`Router::parts`].
    pub start: u32,
    /// Number of parts.
    pub len: u32,
    /// Index of the child node.
    pub child: u32,
}

/// One trie node; ranges index the flat arrays of [`Router`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// First literal edge in [`Router::lits`] (edges sorted by text).
    pub lit_start: u32,
    /// Number of literal edges.
    pub lit_len: u32,
    /// First mixed edge in [`Router::mixed`] (most literal first).
    pub mixed_start: u32,
    /// Number of mixed edges.
    pub mixed_len: u32,
    /// Child for a whole-segment parameter, or [`NONE`].
    pub param: u32,
    /// Route taking the remaining segments as a tail parameter, or [`NONE`].
    pub tail: u32,
    /// Route whose template ends at this node, or [`NONE`].
    pub leaf: u32,
}

/// A compiled route trie over borrowed flat arrays.
#[derive(Clone, Copy, Debug)]
pub struct Router<'a> {
    /// Root node per method.
    pub methods: &'a [Edge<'a>],
    /// All nodes.
    pub nodes: &'a [Node],
    /// All literal edges.
    pub lits: &'a [Edge<'a>],
    /// All mixed edges.
    pub mixed: &'a [Mixed],
    /// All parts of mixed segments.
    pub parts: &'a [Part<'a>],
}

/// Parameter values captured by a match, in template order.
#[derive(Clone, Copy, Debug)]
pub struct Captures<'p> {
    values: [&'p str; MAX_CAPTURES],
    len: usize,
}

impl<'p> Captures<'p> {
    fn new() -> Self {
        Captures {
            values: [""; MAX_CAPTURES],
            len: 0,
        }
    }

    fn push(&mut self, v: &'p str) -> bool {
        if self.len == MAX_CAPTURES {
            return false;
        }
        self.values[self.len] = v;
        self.len += 1;
        true
    }

    /// The captured values, in the order the template names them.
    pub fn values(&self) -> &[&'p str] {
        &self.values[..self.len]
    }
}

/// A successful match.
#[derive(Clone, Copy, Debug)]
pub struct Match<'p> {
    /// The value given to the route when it was inserted.
    pub route: u32,
    /// Its parameter values.
    pub captures: Captures<'p>,
}

impl<'a> Router<'a> {
    /// The most literal route for `method` and `path` (which starts with `/`).
    pub fn lookup<'p>(&self, method: &str, path: &'p str) -> Option<Match<'p>> {
        let root = self.methods.iter().find(|e| e.text == method)?.child;
        let rest = path.strip_prefix('/')?;
        let rest = (!rest.is_empty()).then_some(rest);
        let mut captures = Captures::new();
        let route = self.walk(root, rest, &mut captures)?;
        Some(Match { route, captures })
    }

    fn walk<'p>(&self, node: u32, rest: Option<&'p str>, caps: &mut Captures<'p>) -> Option<u32> {
        let n = &self.nodes[node as usize];
        let Some(rest) = rest else {
            return (n.leaf != NONE).then_some(n.leaf);
        };
        let (seg, next) = match rest.split_once('/') {
            Some((s, r)) => (s, Some(r)),
            None => (rest, None),
        };
        let lits = &self.lits[n.lit_start as usize..(n.lit_start + n.lit_len) as usize];
        if let Ok(i) = lits.binary_search_by(|e| cmp_ignore_case(e.text, seg))
            && let Some(r) = self.walk(lits[i].child, next, caps)
        {
            return Some(r);
        }
        let saved = caps.len;
        for m in &self.mixed[n.mixed_start as usize..(n.mixed_start + n.mixed_len) as usize] {
            let parts = &self.parts[m.start as usize..(m.start + m.len) as usize];
            if match_mixed(parts, seg, caps)
                && let Some(r) = self.walk(m.child, next, caps)
            {
                return Some(r);
            }
            caps.len = saved;
        }
        if n.param != NONE && !seg.is_empty() && caps.push(seg) {
            if let Some(r) = self.walk(n.param, next, caps) {
                return Some(r);
            }
            caps.len = saved;
        }
        if n.tail != NONE && !seg.is_empty() && caps.push(rest) {
            return Some(n.tail);
        }
        None
    }
}

/// Orders strings by their ASCII-lowercase bytes, without allocating.
fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.bytes().map(|c| c.to_ascii_lowercase());
    let b = b.bytes().map(|c| c.to_ascii_lowercase());
    a.cmp(b)
}

/// `s` without the prefix `lit`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'p>(s: &'p str, lit: &str) -> Option<&'p str> {
    let head = s.as_bytes().get(..lit.len())?;
    if head.eq_ignore_ascii_case(lit.as_bytes()) {
        s.get(lit.len()..)
    } else {
        None
    }
}

/// The first offset of `lit` in `s`, compared ASCII case-insensitively.
fn find_ignore_case(s: &str, lit: &str) -> Option<usize> {
    let (h, n) = (s.as_bytes(), lit.as_bytes());
    (0..=h.len().checked_sub(n.len())?)
        .find(|&i| s.is_char_boundary(i) && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Matches one segment against the parts of a mixed segment, pushing each
/// parameter's (non-empty) value.
fn match_mixed<'p>(parts: &[Part<'_>], seg: &'p str, caps: &mut Captures<'p>) -> bool {
    let mut s = seg;
    let mut i = 0;
    while i < parts.len() {
        match parts[i] {
            Part::Lit(l) => match strip_prefix_ignore_case(s, l) {
                Some(r) => s = r,
                None => return false,
            },
            Part::Param => {
                let end = match parts.get(i + 1) {
                    Some(Part::Lit(l)) => match s.get(1..).and_then(|t| find_ignore_case(t, l)) {
                        Some(at) => at + 1,
                        None => return false,
                    },
                    Some(Part::Param) => return false,
                    None => s.len(),
                };
                if end == 0 || !caps.push(&s[..end]) {
                    return false;
                }
                s = &s[end..];
            }
        }
        i += 1;
    }
    s.is_empty()
}

/// One parsed template segment.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg<'t> {
    Lit(&'t str),
    Mixed(Vec<Part<'t>>),
    Param,
    Tail,
}

/// Why a template could not be added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The template is malformed; the message says where.
    BadTemplate {
        /// The template.
        template: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Another route has the same method and the same shape.
    Duplicate {
        /// The method.
        method: String,
        /// The template.
        template: String,
    },
    /// More parameters than [`MAX_CAPTURES`].
    TooManyParams(String),
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::BadTemplate { template, reason } => {
                write!(f, "bad template {template:?}: {reason}")
            }
            RouteError::Duplicate { method, template } => {
                write!(f, "duplicate route {method} {template}")
            }
            RouteError::TooManyParams(t) => write!(f, "template {t:?} has too many parameters"),
        }
    }
}

impl std::error::Error for RouteError {}

/// The parameter names of `template`, in order (tail parameters without `+`).
pub fn param_names(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|s| {
        let name = s.split_once('}')?.0;
        Some(name.strip_suffix('+').unwrap_or(name))
    })
}

fn parse(template: &str) -> Result<Vec<Seg<'_>>, RouteError> {
    let bad = |reason| RouteError::BadTemplate {
        template: template.to_string(),
        reason,
    };
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| bad("must start with '/'"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segs = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        if s.is_empty() {
            return Err(bad("empty segment"));
        }
        if !s.contains('{') && !s.contains('}') {
            segs.push(Seg::Lit(s));
            continue;
        }
        let mut parts = Vec::new();
        let mut t = *s;
        while !t.is_empty() {
            if let Some(after) = t.strip_prefix('{') {
                let (name, r) = after.split_once('}').ok_or_else(|| bad("unclosed '{'"))?;
                if name.is_empty() || name.contains('{') {
                    return Err(bad("bad parameter name"));
                }
                if name.ends_with('+') {
                    if i + 1 != raw.len() || s.len() != name.len() + 2 {
                        return Err(bad("a tail parameter must be the whole last segment"));
                    }
                    parts.push(Part::Param);
                    segs.push(Seg::Tail);
                    break;
                }
                if matches!(parts.last(), Some(Part::Param)) {
                    return Err(bad("adjacent parameters"));
                }
                parts.push(Part::Param);
                t = r;
            } else {
                let end = t.find('{').unwrap_or(t.len());
                if t[..end].contains('}') {
                    return Err(bad("stray '}'"));
                }
                parts.push(Part::Lit(&t[..end]));
                t = &t[end..];
            }
        }
        if matches!(segs.last(), Some(Seg::Tail)) {
            continue;
        }
        segs.push(match parts.as_slice() {
            [Part::Param] => Seg::Param,
            _ => Seg::Mixed(parts),
        });
    }
    Ok(segs)
}

#[derive(Debug, Default)]
struct BNode<'t> {
    lits: Vec<(&'t str, usize)>,
    mixed: Vec<(Vec<Part<'t>>, usize)>,
    param: Option<usize>,
    tail: Option<u32>,
    leaf: Option<u32>,
}

/// Builds a route trie.
#[derive(Debug, Default)]
pub struct RouterBuilder<'t> {
    methods: Vec<(&'t str, usize)>,
    nodes: Vec<BNode<'t>>,
}

impl<'t> RouterBuilder<'t> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn add_node(&mut self) -> usize {
        self.nodes.push(BNode::default());
        self.nodes.len() - 1
    }

    /// Adds `template` for `method`; a match returns `route`.
    pub fn insert(
        &mut self,
        method: &'t str,
        template: &'t str,
        route: u32,
    ) -> Result<(), RouteError> {
        let segs = parse(template)?;
        if param_names(template).count() > MAX_CAPTURES {
            return Err(RouteError::TooManyParams(template.to_string()));
        }
        let root = match self.methods.iter().find(|(m, _)| *m == method) {
            Some(&(_, r)) => r,
            None => {
                let r = self.add_node();
                self.methods.push((method, r));
                r
            }
        };
        let dup = || RouteError::Duplicate {
            method: method.to_string(),
            template: template.to_string(),
        };
        let mut node = root;
        for seg in segs {
            node = match seg {
                Seg::Lit(l) => match self.nodes[node]
                    .lits
                    .iter()
                    .find(|(t, _)| t.eq_ignore_ascii_case(l))
                {
                    Some(&(_, c)) => c,
                    None => {
                        let c = self.add_node();
                        self.nodes[node].lits.push((l, c));
                        c
                    }
                },
                Seg::Mixed(parts) => match self.nodes[node].mixed.iter().find(|(p, _)| *p == parts)
                {
                    Some(&(_, c)) => c,
                    None => {
                        let c = self.add_node();
                        self.nodes[node].mixed.push((parts, c));
                        c
                    }
                },
                Seg::Param => match self.nodes[node].param {
                    Some(c) => c,
                    None => {
                        let c = self.add_node();
                        self.nodes[node].param = Some(c);
                        c
                    }
                },
                Seg::Tail => {
                    if self.nodes[node].tail.is_some() {
                        return Err(dup());
                    }
                    self.nodes[node].tail = Some(route);
                    return Ok(());
                }
            };
        }
        if self.nodes[node].leaf.is_some() {
            return Err(dup());
        }
        self.nodes[node].leaf = Some(route);
        Ok(())
    }

    /// Flattens the trie into owned arrays.
    pub fn build(&self) -> RouterBuf<'t> {
        let mut buf = RouterBuf::default();
        // Breadth-first numbering keeps every node's children contiguous.
        let mut order: Vec<usize> = self.methods.iter().map(|&(_, r)| r).collect();
        let mut index = vec![NONE; self.nodes.len()];
        let mut i = 0;
        while i < order.len() {
            let n = &self.nodes[order[i]];
            index[order[i]] = i as u32;
            let mut lits = n.lits.clone();
            lits.sort_by(|a, b| cmp_ignore_case(a.0, b.0));
            order.extend(lits.iter().map(|&(_, c)| c));
            order.extend(sorted_mixed(&n.mixed).iter().map(|&(_, c)| c));
            order.extend(n.param);
            i += 1;
        }
        let opt = |o: Option<u32>| o.unwrap_or(NONE);
        for &old in &order {
            let n = &self.nodes[old];
            let mut lits = n.lits.clone();
            lits.sort_by(|a, b| cmp_ignore_case(a.0, b.0));
            let lit_start = buf.lits.len() as u32;
            buf.lits.extend(lits.iter().map(|&(t, c)| Edge {
                text: t,
                child: index[c],
            }));
            let mixed_start = buf.mixed.len() as u32;
            for (parts, c) in sorted_mixed(&n.mixed) {
                buf.mixed.push(Mixed {
                    start: buf.parts.len() as u32,
                    len: parts.len() as u32,
                    child: index[c],
                });
                buf.parts.extend_from_slice(&parts);
            }
            buf.nodes.push(Node {
                lit_start,
                lit_len: lits.len() as u32,
                mixed_start,
                mixed_len: n.mixed.len() as u32,
                param: opt(n.param.map(|c| index[c])),
                tail: opt(n.tail),
                leaf: opt(n.leaf),
            });
        }
        buf.methods = self
            .methods
            .iter()
            .map(|&(m, r)| Edge {
                text: m,
                child: index[r],
            })
            .collect();
        buf
    }
}

/// Mixed edges, most literal characters first (stable for ties).
fn sorted_mixed<'t>(mixed: &[(Vec<Part<'t>>, usize)]) -> Vec<(Vec<Part<'t>>, usize)> {
    let literal_len = |parts: &[Part<'_>]| -> usize {
        parts
            .iter()
            .map(|p| match p {
                Part::Lit(l) => l.len(),
                Part::Param => 0,
            })
            .sum()
    };
    let mut v = mixed.to_vec();
    v.sort_by_key(|(p, _)| std::cmp::Reverse(literal_len(p)));
    v
}

/// The owned form of a [`Router`], produced by [`RouterBuilder::build`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterBuf<'t> {
    methods: Vec<Edge<'t>>,
    nodes: Vec<Node>,
    lits: Vec<Edge<'t>>,
    mixed: Vec<Mixed>,
    parts: Vec<Part<'t>>,
}

impl<'t> RouterBuf<'t> {
    /// Borrows the arrays as a [`Router`].
    pub fn router(&self) -> Router<'_> {
        Router {
            methods: &self.methods,
            nodes: &self.nodes,
            lits: &self.lits,
            mixed: &self.mixed,
            parts: &self.parts,
        }
    }

    /// Rust source of a constant expression of type `Router<'static>`,
    /// using `path` as the path to this module (e.g. `tameflare_sdk::route`).
    pub fn to_rust(&self, path: &str) -> String {
        let mut s = String::new();
        let edge = |s: &mut String, e: &Edge<'_>| {
            let _ = writeln!(
                s,
                "        {path}::Edge {{ text: {:?}, child: {} }},",
                e.text, e.child
            );
        };
        let _ = writeln!(s, "{path}::Router {{");
        s.push_str("    methods: &[\n");
        self.methods.iter().for_each(|e| edge(&mut s, e));
        s.push_str("    ],\n    nodes: &[\n");
        for n in &self.nodes {
            let _ = writeln!(
                s,
                "        {path}::Node {{ lit_start: {}, lit_len: {}, mixed_start: {}, mixed_len: {}, param: {}, tail: {}, leaf: {} }},",
                n.lit_start,
                n.lit_len,
                n.mixed_start,
                n.mixed_len,
                rust_u32(n.param, path),
                rust_u32(n.tail, path),
                rust_u32(n.leaf, path)
            );
        }
        s.push_str("    ],\n    lits: &[\n");
        self.lits.iter().for_each(|e| edge(&mut s, e));
        s.push_str("    ],\n    mixed: &[\n");
        for m in &self.mixed {
            let _ = writeln!(
                s,
                "        {path}::Mixed {{ start: {}, len: {}, child: {} }},",
                m.start, m.len, m.child
            );
        }
        s.push_str("    ],\n    parts: &[\n");
        for p in &self.parts {
            match p {
                Part::Lit(l) => {
                    let _ = writeln!(s, "        {path}::Part::Lit({l:?}),");
                }
                Part::Param => {
                    let _ = writeln!(s, "        {path}::Part::Param,");
                }
            }
        }
        s.push_str("    ],\n}");
        s
    }
}

fn rust_u32(v: u32, path: &str) -> String {
    if v == NONE {
        format!("{path}::NONE")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests;
