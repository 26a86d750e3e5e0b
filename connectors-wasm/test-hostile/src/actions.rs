//! The hostile behaviours, by path. Only the harmless ones are tested
//! natively; the others are for the host's sandbox tests.

use std::hint::black_box;

use tameflare_sdk::{Action, ActionSpec, ClassifyError, Request, Risk};

/// Size of the `/huge` resource.
pub(crate) const HUGE: usize = 16 * 1024 * 1024;

pub(crate) fn catalogue() -> Vec<ActionSpec> {
    [
        ("hostile.ok", "A harmless request"),
        ("hostile.huge", "A 16 MiB resource"),
    ]
    .into_iter()
    .map(|(name, description)| ActionSpec {
        name: name.into(),
        description: description.into(),
        method: "*".into(),
        path_template: "/{path+}".into(),
        risk: Risk::Low,
        read_only: true,
    })
    .collect()
}

pub(crate) fn classify(req: &Request) -> Result<Action, ClassifyError> {
    match req.path.as_str() {
        "/loop" => spin(),
        "/oom" => exhaust_memory(),
        "/panic" => panic!("hostile connector panics on purpose"),
        // `wasi:cli/exit`: an interface connectors may import (std does)
        // but whose functions the host does not provide.
        "/quit" => std::process::exit(3),
        "/huge" => Ok(action("hostile.huge", "x".repeat(HUGE))),
        "/deep" => Ok(action("hostile.ok", recurse(black_box(1)).to_string())),
        other => Ok(action("hostile.ok", other.to_string())),
    }
}

fn action(name: &str, resource: String) -> Action {
    Action {
        name: name.into(),
        resource,
        params: Vec::new(),
        risk: Risk::Low,
        parts: Vec::new(),
    }
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1024 * 1024];
        // Touch the pages so they are really committed.
        chunk[black_box(4096)] = 1;
        hoard.push(black_box(chunk));
    }
}

/// Recurses until the stack is exhausted: the condition is opaque to the
/// optimizer, and the frame is kept alive by `black_box`.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == 0 {
        return frame[0];
    }
    recurse(depth + 1).wrapping_add(black_box(frame)[7])
}

#[cfg(test)]
mod tests {
    use tameflare_sdk::testing;

    use crate::Hostile;

    #[test]
    fn harmless_fixtures() {
        testing::check::<Hostile>(include_str!("../fixtures/actions.jsonl"), "hostile.test")
            .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    }

    #[test]
    fn huge_is_sixteen_mebibytes() {
        let a =
            super::classify(&tameflare_sdk::Request::new("GET", "hostile.test", "/huge")).unwrap();
        assert_eq!(
            (a.name.as_str(), a.resource.len()),
            ("hostile.huge", super::HUGE)
        );
    }
}
