//! The audit trail's proofs through the real binary: `tf audit verify`,
//! `export`, `checkpoint`, `public-key`, detection of a re-hashed chain
//! against a saved checkpoint, and a `kill -9` under load.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use tf_e2e::{Gateway, ProxyClient, eventually, request};

use super::harness::{github_gateway, setup};

/// Parses `tf audit export --format jsonl` output into (records, checkpoints).
fn parse_export(text: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (mut records, mut checkpoints) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("export line {line:?}: {e}"));
        match v["type"].as_str() {
            Some("record") => records.push(v),
            Some("checkpoint") => checkpoints.push(v),
            other => panic!("export line type {other:?}: {line}"),
        }
    }
    (records, checkpoints)
}

async fn client(g: &Gateway, agent: &str) -> ProxyClient {
    let creds = g.proxy_credentials(agent).await;
    let ca = std::fs::read(g.data_dir().join("ca.pem")).expect("gateway CA");
    ProxyClient::new(g.proxy_addr(), &creds, &ca)
}

/// One request on a fresh tunnel; the status.
async fn one(c: &ProxyClient, method: &str, host: &str, path: &str) -> u16 {
    let mut send = c.connect(host).await.expect("tunnel");
    let resp = request(&mut send, method, host, path, b"{}")
        .await
        .expect("response");
    let status = resp.status().as_u16();
    resp.into_body().collect().await.expect("body");
    status
}

/// The attacker's export: record `edit` changed, every later record
/// re-sealed onto it, and the checkpoint lines dropped.
fn rehash(records: &[serde_json::Value], edit: u64) -> String {
    let mut prev = tf_core::audit::GENESIS_HASH.to_owned();
    let mut out = String::new();
    for v in records {
        let mut r: tf_core::AuditRecord = serde_json::from_value(v.clone()).expect("record");
        if r.seq >= edit {
            if r.seq == edit {
                r.entry.reason = "nothing to see here".into();
            }
            r = tf_core::AuditRecord::seal(r.entry, r.seq, &prev);
        }
        prev.clone_from(&r.hash);
        let json = serde_json::to_string(&r).expect("serialize");
        out.push_str(&format!("{{\"type\":\"record\",{}\n", &json[1..]));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_export_and_a_rehashed_chain_through_the_binary() {
    let (ca, up) = setup().await;
    let mut g = github_gateway(&ca, &up).await;
    let c = client(&g, "Bot").await;
    for n in 0..5 {
        let path = format!("/repos/octo/hello/pulls/{n}/merge");
        assert_eq!(one(&c, "PUT", "api.github.com", &path).await, 200);
    }
    assert_eq!(
        one(&c, "DELETE", "api.github.com", "/repos/octo/hello").await,
        403
    );
    assert_eq!(one(&c, "GET", "api.example.com", "/items").await, 200);

    // Through the running gateway's admin API.
    let v = g.tf(&["audit", "verify"]).await.ok();
    assert!(v.stdout.starts_with("verified "), "{}", v.stdout);
    let aux = tempfile::tempdir().expect("aux");
    let saved = aux.path().join("checkpoint.json");
    let cp = g.tf(&["audit", "checkpoint"]).await.ok();
    std::fs::write(&saved, &cp.stdout).expect("save checkpoint");
    let cp: serde_json::Value = serde_json::from_str(cp.stdout.trim()).expect("checkpoint JSON");
    let public = aux.path().join("audit.pub");
    let pk = g.tf(&["audit", "public-key"]).await.ok();
    assert_eq!(pk.stdout.trim().len(), 64, "{}", pk.stdout);
    std::fs::write(&public, &pk.stdout).expect("save public key");

    let export = aux.path().join("audit.jsonl");
    let export_s = export.display().to_string();
    g.tf(&[
        "audit", "export", "--format", "jsonl", "--output", &export_s,
    ])
    .await
    .ok();
    let text = std::fs::read_to_string(&export).expect("export");
    let (records, checkpoints) = parse_export(&text);
    assert_eq!(records.len() as u64, cp["seq"].as_u64().unwrap(), "{text}");
    assert!(!checkpoints.is_empty(), "{text}");
    assert!(
        records
            .iter()
            .all(|r| r["hash"].is_string() && r["prev_hash"].is_string())
    );
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with(r#"{"type":"record","seq":1,"#)
    );

    let csv = g.tf(&["audit", "export", "--format", "csv"]).await.ok();
    let mut rows = csv.stdout.lines();
    assert!(rows.next().unwrap().starts_with("seq,time_ms,request_id,"));
    assert_eq!(rows.count(), records.len(), "{}", csv.stdout);

    // The export verifies with the public key alone, no data dir involved.
    let public_s = public.display().to_string();
    let saved_s = saved.display().to_string();
    let offline = g
        .tf(&[
            "audit",
            "verify",
            "--file",
            &export_s,
            "--public-key",
            &public_s,
            "--checkpoint",
            &saved_s,
        ])
        .await
        .ok();
    assert!(
        offline
            .stdout
            .contains("the chain extends 1 saved checkpoint"),
        "{}",
        offline.stdout
    );

    // Stopped: the same checks directly on the data dir.
    g.stop().await;
    let direct = g
        .tf(&[
            "audit",
            "verify",
            "--public-key",
            &public_s,
            "--checkpoint",
            &saved_s,
        ])
        .await
        .ok();
    assert!(direct.stdout.starts_with("verified "), "{}", direct.stdout);
    // The clean shutdown signed the head; a direct checkpoint returns it.
    let last_cp = g.tf(&["audit", "checkpoint"]).await.ok();
    let last_cp: serde_json::Value = serde_json::from_str(last_cp.stdout.trim()).expect("JSON");
    assert_eq!(last_cp["seq"].as_u64(), Some(records.len() as u64));
    assert!(
        g.tf(&["status"])
            .await
            .ok()
            .stdout
            .contains("chain:      verified")
    );

    // A re-hashed chain: every link checks out, the saved checkpoint does not.
    let forged = aux.path().join("forged.jsonl");
    std::fs::write(&forged, rehash(&records, 3)).expect("write forged");
    let forged_s = forged.display().to_string();
    g.tf(&["audit", "verify", "--file", &forged_s]).await.ok();
    let caught = g
        .tf(&[
            "audit",
            "verify",
            "--file",
            &forged_s,
            "--public-key",
            &public_s,
            "--checkpoint",
            &saved_s,
        ])
        .await;
    assert_ne!(caught.code, Some(0));
    let last = records.len();
    assert!(
        caught.stderr.contains(&format!(
            "record {last}: hash {} differs from the signed checkpoint of record {last}",
            serde_json::from_str::<serde_json::Value>(rehash(&records, 3).lines().last().unwrap())
                .unwrap()["hash"]
                .as_str()
                .unwrap()
        )),
        "{}",
        caught.stderr
    );

    // A forged signature is named by its record; so is a wrong public key.
    let bad_sig: String = text
        .lines()
        .map(|l| {
            if l.starts_with(r#"{"type":"checkpoint""#) {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["time_ms"] = serde_json::json!(v["time_ms"].as_u64().unwrap() + 1);
                format!("{v}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let bad = aux.path().join("bad-sig.jsonl");
    std::fs::write(&bad, bad_sig).expect("write");
    let bad_s = bad.display().to_string();
    let out = g
        .tf(&[
            "audit",
            "verify",
            "--file",
            &bad_s,
            "--public-key",
            &public_s,
        ])
        .await;
    assert_ne!(out.code, Some(0));
    let first_cp = checkpoints[0]["seq"].as_u64().unwrap();
    assert!(
        out.stderr.contains(&format!(
            "checkpoint of record {first_cp}: the signature does not verify with the public key"
        )),
        "{}",
        out.stderr
    );
    let other = aux.path().join("other.pub");
    std::fs::write(&other, "11".repeat(32)).expect("write");
    let other_s = other.display().to_string();
    let out = g
        .tf(&[
            "audit",
            "verify",
            "--file",
            &export_s,
            "--public-key",
            &other_s,
        ])
        .await;
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("signed by key"), "{}", out.stderr);
}

/// What one load worker does, by its number.
#[derive(Clone, Copy)]
enum Kind {
    /// PUT …/pulls/N/merge: allowed, a mutation.
    Merge,
    /// POST …/pulls: allowed, a mutation.
    Create,
    /// DELETE the repository: denied.
    Delete,
    /// GET on the generic connector: allowed read.
    Read,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_committed_record_and_the_chain_verifies() {
    let (ca, up) = setup().await;
    let mut g = github_gateway(&ca, &up).await;
    let c = client(&g, "Bot").await;
    let aux = tempfile::tempdir().expect("aux");

    // Phase 1: a committed prefix, read back through the API.
    for n in 0..20 {
        let path = format!("/repos/octo/hello/pulls/{n}/merge");
        assert_eq!(one(&c, "PUT", "api.github.com", &path).await, 200);
    }
    assert_eq!(
        one(&c, "DELETE", "api.github.com", "/repos/octo/hello").await,
        403
    );
    let before = g.tf(&["audit", "export"]).await.ok();
    let (committed, _) = parse_export(&before.stdout);
    assert!(committed.len() >= 21);
    let saved = aux.path().join("checkpoint.json");
    let cp = g.tf(&["audit", "checkpoint"]).await.ok();
    std::fs::write(&saved, &cp.stdout).expect("save checkpoint");

    // Phase 2: hundreds of concurrent requests, some streams held open.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..48usize {
        let kind = [Kind::Merge, Kind::Create, Kind::Delete, Kind::Read][w % 4];
        let (c, stop, answered) = (c.clone(), Arc::clone(&stop), Arc::clone(&answered));
        workers.push(tokio::spawn(async move {
            let host = match kind {
                Kind::Read => "api.example.com",
                Kind::Merge | Kind::Create | Kind::Delete => "api.github.com",
            };
            let Ok(mut send) = c.connect(host).await else {
                return;
            };
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (method, path) = match kind {
                    Kind::Merge => ("PUT", format!("/repos/octo/load/pulls/{w}{n:04}/merge")),
                    Kind::Create => ("POST", "/repos/octo/load/pulls".to_owned()),
                    Kind::Delete => ("DELETE", "/repos/octo/load".to_owned()),
                    Kind::Read => ("GET", format!("/items/{w}/{n}")),
                };
                let Ok(resp) = request(&mut send, method, host, &path, b"{\"title\":\"t\"}").await
                else {
                    return;
                };
                if resp.into_body().collect().await.is_err() {
                    return;
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Streams: the upstream sends the first event and holds the rest.
    let mut streams = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        streams.push(tokio::spawn(async move {
            let mut send = c.connect("api.example.com").await.ok()?;
            let resp = request(&mut send, "GET", "api.example.com", "/sse", b"")
                .await
                .ok()?;
            let mut body = resp.into_body();
            let first = body.frame().await?.ok()?;
            // Hold the stream open until the gateway dies.
            let _ = body.collect().await;
            Some(first.into_data().ok()?.len())
        }));
    }
    let answered2 = Arc::clone(&answered);
    eventually(
        "300 answered requests under load",
        Duration::from_secs(40),
        || (answered2.load(Ordering::Relaxed) >= 300).then_some(()),
    )
    .await;
    // Read back and checkpoint mid-load: all of this was committed before the kill.
    let during = g.tf(&["audit", "export"]).await.ok();
    let (committed_under_load, _) = parse_export(&during.stdout);
    let saved_under_load = aux.path().join("checkpoint-under-load.json");
    let cp = g.tf(&["audit", "checkpoint"]).await.ok();
    std::fs::write(&saved_under_load, &cp.stdout).expect("save checkpoint");
    assert!(!up.requests_to("/sse").is_empty(), "streams are open");
    g.kill().await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    for s in streams {
        let _ = s.await;
    }
    let seen = up.requests();

    // Restart on the same data dir.
    g.serve().await;
    let verify = g
        .tf(&[
            "audit",
            "verify",
            "--checkpoint",
            &saved.display().to_string(),
            "--checkpoint",
            &saved_under_load.display().to_string(),
        ])
        .await
        .ok();
    assert!(
        verify
            .stdout
            .contains("the chain extends 2 saved checkpoint"),
        "{}",
        verify.stdout
    );
    let after = g.tf(&["audit", "export"]).await.ok();
    let (records, _) = parse_export(&after.stdout);
    assert!(
        records.len() > committed.len() + 100,
        "{} records",
        records.len()
    );

    // Nothing committed before the kill is lost or changed.
    let by_seq: BTreeMap<u64, &serde_json::Value> = records
        .iter()
        .map(|r| (r["seq"].as_u64().unwrap(), r))
        .collect();
    assert!(committed_under_load.len() > committed.len());
    for r in committed.iter().chain(&committed_under_load) {
        assert_eq!(
            by_seq.get(&r["seq"].as_u64().unwrap()),
            Some(&r),
            "record lost or changed"
        );
    }

    // Depends on the proxy's write-ahead `forwarded` records: every mutation
    // the upstream saw has its record in the audit.
    let recorded: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    let mutations: Vec<String> = seen
        .iter()
        .filter(|s| matches!(s.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
        .filter_map(|s| s.header("x-tameflare-request-id").map(str::to_owned))
        .collect();
    assert!(
        mutations.iter().any(|id| recorded.contains(id.as_str())),
        "the upstream's request ids are the audit's"
    );
    let missing: Vec<&String> = mutations
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} mutations reached the upstream without an audit record, e.g. {:?}",
        missing.len(),
        missing.iter().take(3).collect::<Vec<_>>()
    );
}
