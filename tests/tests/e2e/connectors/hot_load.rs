//! Hot-loading `<data>/connectors/`: a swap under load fails no request, bad
//! files are refused while the old version keeps serving, a bad file found at
//! start falls back to the last good version.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tf_e2e::{MockUpstream, TestCa};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

use super::{
    DOMAIN, acme_gateway, allowed, authored, denied, events, get, land_in_place, list, list_until,
    path_str, sha256_of,
};

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The load client: 4 threads with keep-alive sessions until the stop file
/// exists, one line per request as it completes: start and end time, status
/// (or ERR), action header. It gives up after 5 minutes, so that a failed
/// test (which never writes the stop file) leaves nothing running.
const LOAD_CLIENT: &str = r#"
import os, sys, threading, time, requests
url, stop = sys.argv[1], sys.argv[2]
give_up = time.time() + 300
lock = threading.Lock()
def worker():
    s = requests.Session()
    while not os.path.exists(stop) and time.time() < give_up:
        t = time.time()
        try:
            r = s.get(url, timeout=10)
            line = "%.6f %.6f %d %s" % (t, time.time(), r.status_code, r.headers.get("x-tameflare-action", "-"))
        except Exception as e:
            line = "%.6f %.6f ERR %s" % (t, time.time(), type(e).__name__)
        with lock:
            print(line, flush=True)
threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"#;

/// One answer the load client saw.
#[derive(Debug)]
struct Sample {
    started: f64,
    ended: f64,
    status: String,
    action: String,
}

impl Sample {
    fn parse(line: &str) -> Self {
        let f: Vec<&str> = line.split_whitespace().collect();
        let time = |i: usize| -> f64 {
            f.get(i)
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("load client printed {line:?}"))
        };
        Self {
            started: time(0),
            ended: time(1),
            status: f.get(2).map_or("-", |s| *s).to_owned(),
            action: f.get(3).map_or("-", |s| *s).to_owned(),
        }
    }
}

const V1: &str = "acme.item.get";
const V2: &str = "acme.item.read";

/// Reads the client's lines into `samples` until `done` holds for them (at
/// most 60 s; panics if the client stops first).
async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    samples: &mut Vec<Sample>,
    what: &str,
    done: impl Fn(&[Sample]) -> bool,
) {
    let reading = async {
        while !done(samples) {
            match lines.next_line().await.expect("read the load client") {
                Some(line) => samples.push(Sample::parse(&line)),
                None => panic!("the load client stopped before {what}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .unwrap_or_else(|_| panic!("no {what} within 60 s: {} answers", samples.len()));
}

fn answers_from(samples: &[Sample], action: &str) -> usize {
    samples.iter().filter(|s| s.action == action).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load_fails_no_request_and_switches_to_v2_for_good() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    let url = format!("https://{DOMAIN}/v1/items/7");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let stop = scratch.path().join("stop");
    let mut client = g.spawn_agent(
        "Bot",
        &["python3", "-c", LOAD_CLIENT, &url, path_str(&stop)],
    );
    let mut lines = BufReader::new(client.stdout.take().expect("stdout")).lines();
    let mut samples = Vec::new();
    // The swap happens under load: v1 has answered a good number already.
    read_until(&mut lines, &mut samples, "50 answers from v1", |s| {
        answers_from(s, V1) >= 50
    })
    .await;

    // An atomic deploy: write beside, rename over.
    let dir = g.data_dir().join("connectors");
    std::fs::write(dir.join(".acme.wasm.new"), &v2).expect("write");
    std::fs::rename(dir.join(".acme.wasm.new"), dir.join("acme.wasm")).expect("rename");
    let landed = now_s();

    read_until(&mut lines, &mut samples, "50 answers from v2", |s| {
        answers_from(s, V2) >= 50
    })
    .await;
    std::fs::write(&stop, "").expect("stop the load client");
    let rest = async {
        while let Some(line) = lines.next_line().await.expect("read the load client") {
            samples.push(Sample::parse(&line));
        }
        client.wait().await.expect("load client")
    };
    let status = tokio::time::timeout(Duration::from_secs(30), rest)
        .await
        .expect("the load client stops once the stop file exists");
    assert!(status.success(), "load client failed: {status}");

    samples.sort_by(|a, b| a.started.total_cmp(&b.started));
    let failed: Vec<_> = samples.iter().filter(|s| s.status != "200").collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the swap, e.g. {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
    // Once v2 has answered, it serves every request that starts later: the
    // switch is one atomic swap, never a flap back to v1.
    let first_v2_done = samples
        .iter()
        .filter(|s| s.action == V2)
        .map(|s| s.ended)
        .fold(f64::MAX, f64::min);
    let late_v1: Vec<_> = samples
        .iter()
        .filter(|s| s.started > first_v2_done && s.action != V2)
        .collect();
    assert!(
        late_v1.is_empty(),
        "answered by v1 after v2 had answered: {late_v1:?}"
    );
    // How long the swap took is reported, not asserted (it depends on the
    // machine; the bound above is on correctness).
    let last_v1 = samples
        .iter()
        .filter(|s| s.action == V1)
        .map(|s| s.started)
        .fold(f64::MIN, f64::max);
    let first_v2 = samples
        .iter()
        .find(|s| s.action == V2)
        .map(|s| s.started)
        .expect("v2 answered");
    eprintln!(
        "hot swap: {} requests, none failed; v2 first answered a request started {:.0} ms after the file landed; last v1 answer for a request started {:.0} ms after",
        samples.len(),
        (first_v2 - landed) * 1000.0,
        (last_v1 - landed) * 1000.0
    );
    if std::env::var_os("TF_E2E_SWAP_LOG").is_some() {
        eprintln!("landed at {landed:.3}");
        for l in g
            .logs()
            .lines()
            .filter(|l| l.contains("acme") || l.contains("applied"))
        {
            eprintln!("{l}");
        }
    }
    let audit = g.audit().await;
    let replaced = events(&audit)
        .into_iter()
        .find(|e| e["kind"] == "replaced")
        .unwrap_or_else(|| panic!("no replace event"));
    assert_eq!(replaced["sha256"], sha256_of(&built.v2).as_str());
    assert!(
        replaced["actor"]
            .as_str()
            .unwrap_or("")
            .starts_with("file owner uid"),
        "{replaced}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_components_are_refused_and_the_old_version_keeps_serving() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    let stale = std::fs::read(&built.v2_stale_fixtures).expect("stale");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not wasm",
            b"#!/bin/sh\necho not a component\n".to_vec(),
            "not a WebAssembly binary",
        ),
        (
            "a core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "a core WebAssembly module, not a component",
        ),
        (
            "the wrong world (a component with no exports)",
            b"\0asm\x0d\0\x01\0".to_vec(),
            "does not export the tameflare:connector@0.1.0",
        ),
        (
            "a truncated file",
            v2[..v2.len() / 2].to_vec(),
            "the file is truncated",
        ),
        (
            "failing fixtures",
            stale,
            "fails its own fixtures: 1 of 4 fixtures failed",
        ),
    ];
    for (what, bytes, error) in &cases {
        land_in_place(&g, "acme.wasm", bytes);
        let listed = list_until(&g, what, |s| s.contains(error)).await;
        assert!(
            listed.contains("loaded (newer file refused)"),
            "{what}: {listed}"
        );
        assert_eq!(
            get(&g, "/v1/items/1").await,
            allowed("acme.item.get"),
            "after {what}, v1 must keep serving"
        );
    }
    // A component whose name does not match its file.
    land_in_place(&g, "other.wasm", &v2);
    list_until(&g, "name mismatch", |s| {
        s.contains("declares connector name \"acme\" but the file is other.wasm")
    })
    .await;
    std::fs::remove_file(g.data_dir().join("connectors/other.wasm")).expect("rm");

    // The good v2, written in place, loads.
    land_in_place(&g, "acme.wasm", &v2);
    let v2_sha = sha256_of(&built.v2);
    list_until(&g, "v2 serving", |s| {
        s.contains(&v2_sha[..12]) && !s.contains("last error")
    })
    .await;
    assert_eq!(get(&g, "/v1/items/1").await, allowed("acme.item.read"));

    // Removed: its domain is denied again.
    std::fs::remove_file(g.data_dir().join("connectors/acme.wasm")).expect("rm");
    list_until(&g, "removal", |s| !s.contains("acme.wasm")).await;
    assert_eq!(get(&g, "/v1/items/1").await, denied(403, "no_connector"));

    let audit = g.audit().await;
    let kinds: Vec<&str> = events(&audit)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "installed",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "replaced",
            "removed"
        ],
        "{audit:?}"
    );
    for (e, (what, _, error)) in events(&audit)[1..6].iter().zip(&cases) {
        let text = e["error"].as_str().unwrap_or("");
        assert!(text.contains(error), "{what}: {text}");
        assert!(e["sha256"].as_str().is_some_and(|s| s.len() == 64), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_found_at_start_keeps_the_last_good_version_serving() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let mut g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    assert_eq!(g.stop().await, Some(0));
    // Overwritten while no gateway runs, and cut short.
    land_in_place(&g, "acme.wasm", &v2[..v2.len() / 3]);
    g.serve().await;
    assert_eq!(get(&g, "/v1/items/5").await, allowed("acme.item.get"));
    let listed = list(&g).await;
    assert!(listed.contains("loaded (newer file refused)"), "{listed}");
    assert!(listed.contains("the file is truncated"), "{listed}");
    assert!(listed.contains(&sha256_of(&built.v1)[..12]), "{listed}");

    // Without a gateway, every `tf` command looks at the directory again;
    // the refusal is audited once all the same.
    assert_eq!(g.stop().await, Some(0));
    list(&g).await;
    list(&g).await;
    let audit = g.audit().await;
    let refused = events(&audit)
        .iter()
        .filter(|e| e["kind"] == "refused")
        .count();
    assert_eq!(refused, 1, "{audit:?}");
}
