//! Operation tables: the rows a table-driven connector classifies with
//! ([`Op`], usually generated into `src/routes.rs` by [`crate::codegen`]),
//! the [`Router`] trie over them, and the lookup every such connector does
//! around the trie ([`Table`]): `HEAD` looked up as `GET` when the table has
//! no `HEAD` route, the `<connector>.unknown` fallback for everything else,
//! the resource rule (the path up to the operation's last parameter), path
//! parameters as params, and the catalogue built from the rows.
//!
//! Never reads a body or a query: params that depend on them stay in the
//! connector, which builds on [`Table::lookup`] and [`Op`]'s helpers.

use crate::route::{Match, Router};
use crate::{Action, ActionSpec, Param, Request, Risk};

/// [`Op::keep`] when the whole path is the resource.
pub const KEEP_ALL: u8 = u8::MAX;

/// The resource rule: `path` without its leading `/`, cut after `keep`
/// segments ([`KEEP_ALL`] or more than it has: the whole path).
pub fn resource(path: &str, keep: u8) -> &str {
    let r = path.trim_start_matches('/');
    if keep == KEEP_ALL {
        return r;
    }
    match usize::from(keep)
        .checked_sub(1)
        .and_then(|n| r.match_indices('/').nth(n))
    {
        Some((end, _)) => &r[..end],
        None => r,
    }
}

/// One operation of a connector's table. `X` holds what one connector
/// needs beyond the common columns (body fields to read, a host, …).
#[derive(Debug)]
pub struct Op<X = ()> {
    /// HTTP method in upper case.
    pub method: &'static str,
    /// The path as the spec writes it (the catalogue's template).
    pub path: &'static str,
    /// The spec's id of the operation (may be empty).
    pub operation_id: &'static str,
    /// The action name.
    pub action: &'static str,
    /// One line for humans.
    pub summary: &'static str,
    /// Path parameter names, in path order.
    pub params: &'static [&'static str],
    /// Leading path segments that form the resource ([`KEEP_ALL`]: all).
    pub keep: u8,
    /// Risk of the action.
    pub risk: Risk,
    /// True when the operation changes nothing.
    pub read_only: bool,
    /// The connector's own columns.
    pub extra: X,
}

impl<X> Op<X> {
    /// The resource of a request to this operation: `path` without its
    /// leading `/`, cut after [`Op::keep`] segments (`v1/items/42` for
    /// `/v1/items/42/archive` when the template is
    /// `/v1/items/{id}/archive`).
    pub fn resource<'p>(&self, path: &'p str) -> &'p str {
        resource(path, self.keep)
    }

    /// The path parameters of `m` as params ([`Param::infer`]), with room
    /// for `more` params the connector adds.
    pub fn path_params(&self, m: &Match<'_>, more: usize) -> Vec<Param> {
        let values = m.captures.values();
        let mut params = Vec::with_capacity(values.len() + more);
        for (&name, &value) in self.params.iter().zip(values) {
            params.push(Param::infer(name, value));
        }
        params
    }

    /// The catalogue entry of this row, with `description`.
    pub fn spec(&self, description: String) -> ActionSpec {
        ActionSpec {
            name: self.action.into(),
            description,
            method: self.method.into(),
            path_template: self.path.into(),
            risk: self.risk,
            read_only: self.read_only,
        }
    }
}

/// A connector's table: its rows, the trie over them, and the action of a
/// request no row matches.
#[derive(Debug)]
pub struct Table<X: 'static = ()> {
    /// Every row; the router's routes are indices into it.
    pub ops: &'static [Op<X>],
    /// The route trie.
    pub router: &'static Router<'static>,
    /// The action of requests no row matches, e.g. `github.unknown`.
    pub unknown: &'static str,
    /// The catalogue's description of [`Table::unknown`].
    pub unknown_description: &'static str,
}

impl<X> Table<X> {
    /// The match of `method` + `path`; `HEAD` is looked up as `GET` (a
    /// `GET` without a body) unless the table has a `HEAD` route for it.
    pub fn lookup_match<'p>(&self, method: &str, path: &'p str) -> Option<Match<'p>> {
        match self.router.lookup(method, path) {
            None if method == "HEAD" => self.router.lookup("GET", path),
            found => found,
        }
    }

    /// The row and match of `method` + `path` ([`Table::lookup_match`]).
    pub fn lookup<'p>(&self, method: &str, path: &'p str) -> Option<(&'static Op<X>, Match<'p>)> {
        let m = self.lookup_match(method, path)?;
        Some((&self.ops[m.route as usize], m))
    }

    /// The action of a request no row matches: [`Table::unknown`], high
    /// risk (so policy decides), the whole path as resource, no params.
    pub fn unknown_action(&self, path: &str) -> Action {
        Action {
            name: self.unknown.into(),
            resource: path.trim_start_matches('/').into(),
            params: Vec::new(),
            risk: Risk::High,
            parts: Vec::new(),
        }
    }

    /// The plain classification: the row's action, its resource and path
    /// params, or [`Table::unknown_action`]. Never fails.
    pub fn classify(&self, req: &Request) -> Action {
        let Some((op, m)) = self.lookup(&req.method, &req.path) else {
            return self.unknown_action(&req.path);
        };
        Action {
            name: op.action.into(),
            resource: op.resource(&req.path).into(),
            params: op.path_params(&m, 0),
            risk: op.risk,
            parts: Vec::new(),
        }
    }

    /// One catalogue entry per row, described by `describe`.
    pub fn catalogue(&self, describe: impl Fn(&Op<X>) -> String) -> Vec<ActionSpec> {
        self.ops.iter().map(|op| op.spec(describe(op))).collect()
    }

    /// The catalogue entry of [`Table::unknown`]: any method, any path.
    pub fn unknown_spec(&self) -> ActionSpec {
        ActionSpec {
            name: self.unknown.into(),
            description: self.unknown_description.into(),
            method: "*".into(),
            path_template: "/{path+}".into(),
            risk: Risk::High,
            read_only: false,
        }
    }
}

#[cfg(test)]
mod tests;
