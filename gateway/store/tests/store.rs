//! Integration tests of tf-store: every test opens its own file in a tempdir.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tf_core::audit::GENESIS_HASH;
use tf_core::{
    AuditEntry, AuditRecord, AuditSink, Decision, DomainError, Outcome, Placement, PlacementError,
    RequestId, Rule,
};
use tf_store::{ConnectorInstance, CredentialMeta, OpenError, Store, VerifyError, WriteError};

fn open_file(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap()
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(open_file(&dir.path().join("tameflare.redb"))).unwrap()
}

fn entry(n: u64) -> AuditEntry {
    let mut e = AuditEntry::new(
        1_700_000_000_000 + n,
        RequestId::new(1_700_000_000_000 + n, n),
        "PUT",
        "api.github.com",
        "/repos/o/r/pulls/7/merge",
    );
    e.gateway = Some("Bot".into());
    e.connector = Some("github".into());
    e.action = Some("github.pr.merge".into());
    e.outcome = Outcome::Allowed;
    e.reason = format!("rule:Bot/github/github.pr.* #{n}");
    e
}

fn rule(gateway: &str, connector: &str, action: &str, decision: Decision) -> Rule {
    Rule {
        gateway: gateway.into(),
        connector: connector.into(),
        action: action.into(),
        decision,
    }
}

#[test]
fn config_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);

    let g = store.ensure_gateway("Bot", || "tok-1".into(), 10).unwrap();
    assert_eq!(
        (g.name.as_str(), g.token.as_str(), g.created_ms),
        ("Bot", "tok-1", 10)
    );
    // Second call returns the existing record and never mints a token.
    let again = store
        .ensure_gateway("Bot", || panic!("must not mint a new token"), 20)
        .unwrap();
    assert_eq!(again, g);
    store.ensure_gateway("ci", || "tok-2".into(), 30).unwrap();
    let names: Vec<_> = store
        .gateways()
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["Bot", "ci"]);
    assert!(store.remove_gateway("ci").unwrap());
    assert!(!store.remove_gateway("ci").unwrap());
    assert!(matches!(
        store.ensure_gateway("../x", || "t".into(), 0),
        Err(WriteError::InvalidName { .. })
    ));

    let gh = ConnectorInstance {
        name: "github".into(),
        kind: "github".into(),
        domains: vec![
            "api.github.com".into(),
            "objects.githubusercontent.com".into(),
        ],
        placement: Some(Placement::bearer()),
        created_ms: 5,
    };
    store.put_connector(&gh).unwrap();
    assert_eq!(store.connector("github").unwrap(), Some(gh.clone()));
    assert_eq!(store.connector("nope").unwrap(), None);
    assert_eq!(store.connectors().unwrap(), vec![gh.clone()]);
    // tf-core's rules, each checked before anything is written.
    type Spoil = fn(&mut ConnectorInstance);
    type Want = fn(&WriteError) -> bool;
    let refused: [(Spoil, Want); 6] = [
        (
            |c| c.domains = vec!["API.github.com".into()],
            |e| matches!(e, WriteError::InvalidDomain(DomainError::Invalid(_))),
        ),
        (
            |c| c.domains = vec!["*.githubusercontent.com".into()],
            |e| matches!(e, WriteError::InvalidDomain(DomainError::Wildcard(_))),
        ),
        (
            |c| c.kind = "GitHub".into(),
            |e| matches!(e, WriteError::InvalidKind(_)),
        ),
        (
            |c| c.name = ".hidden".into(),
            |e| matches!(e, WriteError::InvalidName { .. }),
        ),
        (
            |c| {
                c.placement = Some(Placement::Header {
                    name: "x-token".into(),
                    template: "{secret}\tx".into(),
                })
            },
            |e| {
                matches!(
                    e,
                    WriteError::InvalidPlacement(PlacementError::TemplateText)
                )
            },
        ),
        (
            |c| {
                c.placement = Some(Placement::Header {
                    name: "x token".into(),
                    template: "{secret}".into(),
                })
            },
            |e| {
                matches!(
                    e,
                    WriteError::InvalidPlacement(PlacementError::HeaderName(_))
                )
            },
        ),
    ];
    for (i, (spoil, want)) in refused.into_iter().enumerate() {
        let mut bad = gh.clone();
        bad.name = "bad".into();
        spoil(&mut bad);
        let err = store.put_connector(&bad).expect_err("refused");
        assert!(want(&err), "case {i}: {err}");
        assert_eq!(store.connector(&bad.name).unwrap(), None, "case {i}");
    }
    let wildcard = WriteError::from(DomainError::Wildcard("*.x.com".into())).to_string();
    assert!(wildcard.contains("not supported"), "{wildcard}");

    let meta = CredentialMeta {
        kind: "github".into(),
        domains: vec!["api.github.com".into()],
        port: 443,
        digest: None,
    };
    store.put_secret("github", b"sealed-bytes", &meta).unwrap();
    assert_eq!(
        store.secret("github").unwrap().as_deref(),
        Some(&b"sealed-bytes"[..])
    );
    assert_eq!(store.credential_meta("github").unwrap(), Some(meta.clone()));
    assert!(store.set_credential_digest("github", "ab12").unwrap());
    assert_eq!(
        store
            .credential_meta("github")
            .unwrap()
            .unwrap()
            .digest
            .as_deref(),
        Some("ab12")
    );
    assert!(!store.set_credential_digest("nope", "ab12").unwrap());
    assert!(store.remove_secret("github").unwrap());
    assert_eq!(store.secret("github").unwrap(), None);
    assert_eq!(store.credential_meta("github").unwrap(), None);
    store.put_secret("github", b"sealed-again", &meta).unwrap();
    // The salt is created once and then kept.
    let salt = store.credential_salt(|| "5a17".into()).unwrap();
    assert_eq!(salt, "5a17");
    assert_eq!(store.credential_salt(|| "other".into()).unwrap(), "5a17");

    store
        .set_rule(&rule("Bot", "github", "github.pr.*", Decision::Allow))
        .unwrap();
    // Removing the connector removes its secret and keeps its rules.
    assert!(store.remove_connector("github").unwrap());
    assert!(!store.remove_connector("github").unwrap());
    assert_eq!(store.connector("github").unwrap(), None);
    assert_eq!(store.secret("github").unwrap(), None);
    assert_eq!(store.credential_meta("github").unwrap(), None);
    assert_eq!(store.rules().unwrap().len(), 1);

    // Everything survives a reopen.
    drop(store);
    let store = open(&dir);
    assert_eq!(store.gateways().unwrap(), vec![g]);
    assert_eq!(store.rules().unwrap().len(), 1);
}

#[test]
fn component_records_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let record = tf_store::ComponentRecord {
        name: Some("acme".into()),
        version: Some("0.2.0".into()),
        sha256: Some("cd".repeat(32)),
        take_over: true,
        refused_sha256: Some("ef".repeat(32)),
    };
    {
        let s = open(&dir);
        assert!(s.components().unwrap().is_empty());
        s.put_component("acme.wasm", Some(&record)).unwrap();
        s.put_component("gone.wasm", Some(&Default::default()))
            .unwrap();
        s.put_component("gone.wasm", None).unwrap();
    }
    let s = open(&dir);
    assert_eq!(
        s.components().unwrap(),
        vec![("acme.wasm".to_owned(), record)]
    );
}

#[test]
fn rules_replace_in_place_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = rule("Bot", "github", "github.pr.*", Decision::Allow);
    let b = rule("*", "*", "*", Decision::Deny);
    let c = rule("Bot", "slack", "slack.chat.post", Decision::Allow);
    for r in [&a, &b, &c] {
        store.set_rule(r).unwrap();
    }
    assert_eq!(
        store.rules().unwrap(),
        vec![a.clone(), b.clone(), c.clone()]
    );

    // Same key, new decision: replaced where it was.
    let a2 = rule("Bot", "github", "github.pr.*", Decision::Deny);
    store.set_rule(&a2).unwrap();
    assert_eq!(
        store.rules().unwrap(),
        vec![a2.clone(), b.clone(), c.clone()]
    );

    assert!(store.remove_rule("*", "*", "*").unwrap());
    assert!(!store.remove_rule("*", "*", "*").unwrap());
    // A new rule goes after the existing ones even though an id was freed.
    store.set_rule(&b).unwrap();
    assert_eq!(store.rules().unwrap(), vec![a2, c, b]);

    assert!(matches!(
        store.set_rule(&rule("Bot", "github", "github.*.merge", Decision::Allow)),
        Err(WriteError::InvalidRule(_))
    ));
}

#[test]
fn chain_verifies_after_batched_writes_from_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (writer, handle) = store.audit_writer();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                for i in 0..500 {
                    writer.record(entry(t * 1000 + i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    handle.flush().unwrap();
    assert_eq!(store.audit_count().unwrap(), 2000);
    let (count, head) = store.verify_audit().unwrap();
    assert_eq!(count, 2000);
    let tail = store.audit_tail(3).unwrap();
    assert_eq!(
        tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1998, 1999, 2000]
    );
    assert_eq!(tail[2].hash, head);
    let page = store.audit_after(10, 5).unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15]
    );
    assert_eq!(store.audit_after(2000, 5).unwrap(), vec![]);
    assert_eq!(store.audit_after(0, 1).unwrap()[0].prev_hash, GENESIS_HASH);
    handle.shutdown().unwrap();
}

#[test]
fn an_empty_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.verify_audit().unwrap(), (0, GENESIS_HASH.to_owned()));
    assert_eq!(store.audit_tail(10).unwrap(), vec![]);
}

#[test]
fn tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (writer, handle) = store.audit_writer();
    for i in 1..=20 {
        writer.record(entry(i));
    }
    handle.shutdown().unwrap();
    store.verify_audit().unwrap();

    let mut record: AuditRecord = store.audit_after(6, 1).unwrap().remove(0);
    assert_eq!(record.seq, 7);
    let original = serde_json::to_vec(&record).unwrap();
    record.entry.outcome = Outcome::Denied;
    store
        .test_overwrite_audit_json(7, &serde_json::to_vec(&record).unwrap())
        .unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(VerifyError::Chain(tf_core::ChainError::Tampered { seq: 7 }))
    ));

    // Restored, it verifies again; appending a forged record past the head is caught.
    store.test_overwrite_audit_json(7, &original).unwrap();
    let (_, head) = store.verify_audit().unwrap();
    let forged = AuditRecord::seal(entry(99), 21, &head);
    store
        .test_overwrite_audit_json(21, &serde_json::to_vec(&forged).unwrap())
        .unwrap();
    assert!(matches!(
        store.verify_audit(),
        Err(VerifyError::HeadMismatch {
            head_seq: 20,
            last_seq: 21
        })
    ));
}

#[test]
fn shutdown_drains_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (writer, handle) = store.audit_writer();
    for i in 1..=5000 {
        writer.record(entry(i));
    }
    // No flush: shutdown alone must commit all of it.
    handle.shutdown().unwrap();
    assert_eq!(store.audit_count().unwrap(), 5000);
    assert_eq!(store.verify_audit().unwrap().0, 5000);
}

#[test]
fn reopen_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let head = {
        let store = open(&dir);
        let (writer, handle) = store.audit_writer();
        for i in 1..=10 {
            writer.record(entry(i));
        }
        handle.shutdown().unwrap();
        store.verify_audit().unwrap().1
    };
    let store = open(&dir);
    let (writer, handle) = store.audit_writer();
    writer.record(entry(11));
    handle.flush().unwrap();
    let next = store.audit_after(10, 10).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].seq, 11);
    assert_eq!(next[0].prev_hash, head);
    assert_eq!(store.verify_audit().unwrap().0, 11);
    drop(handle); // dropping the handle also drains and stops the writer
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tameflare.redb");
    let first = Store::open(open_file(&path)).unwrap();
    let err = Store::open(open_file(&path)).unwrap_err();
    assert!(matches!(err, OpenError::Locked), "{err:?}");
    assert!(err.to_string().contains("locked by another process"));
    // A running audit writer keeps the lock too.
    let (_writer, handle) = first.audit_writer();
    drop(first);
    assert!(matches!(
        Store::open(open_file(&path)),
        Err(OpenError::Locked)
    ));
    handle.shutdown().unwrap();
    Store::open(open_file(&path)).unwrap();
}

#[test]
fn corrupt_files_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic pseudo-random bytes (xorshift), with and without a redb magic.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let path = dir.path().join("random.redb");
    std::fs::write(&path, &noise).unwrap();
    let err = Store::open(open_file(&path)).unwrap_err();
    assert!(matches!(err, OpenError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("corrupt"));

    noise[..9].copy_from_slice(&[b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A]);
    std::fs::write(&path, &noise).unwrap();
    let err = Store::open(open_file(&path)).unwrap_err();
    assert!(
        matches!(err, OpenError::Corrupt(_) | OpenError::Database(_)),
        "{err:?}"
    );

    let short = dir.path().join("short.redb");
    std::fs::write(&short, b"redb").unwrap();
    assert!(matches!(
        Store::open(open_file(&short)),
        Err(OpenError::Corrupt(_))
    ));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    open(&dir).test_set_schema_version(2).unwrap();
    let err = Store::open(open_file(&dir.path().join("tameflare.redb"))).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::NewerSchema {
                found: 2,
                supported: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer"));
}

#[test]
fn gateway_tokens_stay_out_of_debug() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let g = store
        .ensure_gateway("Bot", || "super-secret-token".into(), 0)
        .unwrap();
    assert!(!format!("{g:?}").contains("super-secret-token"));
}

#[test]
fn measure_audit_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (writer, handle) = store.audit_writer();
    let n = 20_000u64;
    let started = Instant::now();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                for i in 0..n / 4 {
                    writer.record(entry(t * n + i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    handle.flush().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(store.audit_count().unwrap(), n);
    println!(
        "audit throughput: {n} records in {elapsed:?} = {:.0} records/s (group commit, Durability::Immediate)",
        n as f64 / elapsed.as_secs_f64()
    );

    // One record per commit, for comparison.
    let m = 200u64;
    let started = Instant::now();
    for i in 0..m {
        writer.record(entry(n + i));
        handle.flush().unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "audit latency: {m} single-record commits in {elapsed:?} = {:.0} µs per commit",
        elapsed.as_secs_f64() * 1e6 / m as f64
    );
    let started = Instant::now();
    let (count, _) = store.verify_audit().unwrap();
    println!("verify: {count} records in {:?}", started.elapsed());
    handle.shutdown().unwrap();
}

#[test]
fn two_writers_on_one_store_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (a, ha) = store.audit_writer();
    let (b, hb) = store.audit_writer();
    for i in 0..300 {
        a.record(entry(i));
        b.record(entry(10_000 + i));
    }
    ha.shutdown().unwrap();
    hb.shutdown().unwrap();
    assert_eq!(store.verify_audit().unwrap().0, 600);
}

#[test]
fn flush_and_shutdown_commit_everything_despite_a_commit_delay() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // A delay far longer than a commit: flush and shutdown still see everything.
    let (writer, handle) = store.audit_writer_with_delay(std::time::Duration::from_millis(300));
    for n in 0..10 {
        writer.record(entry(n));
    }
    handle.flusher().flush().unwrap();
    assert_eq!(
        store.audit_count().unwrap(),
        10,
        "flush commits what was queued"
    );
    for n in 10..15 {
        writer.record(entry(n));
    }
    handle.shutdown().unwrap();
    assert_eq!(
        store.audit_count().unwrap(),
        15,
        "shutdown drains the queue"
    );
    assert_eq!(store.verify_audit().unwrap().0, 15);
}

fn signer() -> Arc<tf_store::AuditSigner> {
    let pkcs8 = tf_store::AuditSigner::generate_pkcs8().unwrap();
    Arc::new(tf_store::AuditSigner::from_pkcs8(&pkcs8).unwrap())
}

fn signing_writer(
    store: &Store,
    signer: &Arc<tf_store::AuditSigner>,
    every_records: u64,
) -> (Arc<tf_store::AuditWriter>, tf_store::AuditHandle) {
    store.audit_writer_with(tf_store::WriterOptions {
        commit_delay: std::time::Duration::ZERO,
        checkpoints: Some(tf_store::CheckpointPolicy {
            signer: Arc::clone(signer),
            every_records,
            every: std::time::Duration::from_secs(3600),
        }),
    })
}

#[test]
fn the_writer_signs_checkpoints_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let key = signer();
    let (writer, handle) = signing_writer(&store, &key, 100);
    for i in 1..=250 {
        writer.record(entry(i));
        if i % 50 == 0 {
            handle.flush().unwrap();
        }
    }
    handle.shutdown().unwrap();
    let cps = store.checkpoints_after(0, 100).unwrap();
    // Every 100 records, and the tail at clean shutdown.
    assert_eq!(
        cps.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [100, 200, 250]
    );
    assert_eq!(store.latest_checkpoint().unwrap().unwrap().seq, 250);
    let summary = store.verify_ledger(Some(key.public_key()), &[]).unwrap();
    assert_eq!(
        (summary.records, summary.checkpoints, summary.signed_through),
        (250, 3, 250)
    );

    // A restarted writer signs what it finds unsigned; a checkpoint request signs at once.
    store.append_audit(&entry(251)).unwrap();
    let (writer, handle) = signing_writer(&store, &key, 100);
    handle.flush().unwrap();
    assert_eq!(store.latest_checkpoint().unwrap().unwrap().seq, 251);
    writer.record(entry(252));
    handle.flusher().checkpoint().unwrap();
    assert_eq!(store.latest_checkpoint().unwrap().unwrap().seq, 252);
    handle.shutdown().unwrap();
    store.verify_ledger(Some(key.public_key()), &[]).unwrap();
}

#[test]
fn a_rehashed_chain_passes_alone_but_fails_against_a_saved_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let key = signer();
    let (writer, handle) = signing_writer(&store, &key, 10);
    for i in 1..=30 {
        writer.record(entry(i));
    }
    handle.shutdown().unwrap();
    let saved = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!(saved.seq, 30);

    // The attacker edits record 12, re-seals every later record, rewrites
    // the head and deletes the stored checkpoints.
    let records = store.audit_after(0, 100).unwrap();
    let mut prev = records[10].hash.clone();
    for r in &records[11..] {
        let mut e = r.entry.clone();
        if r.seq == 12 {
            e.outcome = Outcome::Denied;
        }
        let sealed = AuditRecord::seal(e, r.seq, &prev);
        store
            .test_overwrite_audit_json(r.seq, &serde_json::to_vec(&sealed).unwrap())
            .unwrap();
        prev = sealed.hash;
    }
    store.test_set_audit_head(30, &prev).unwrap();
    store.test_put_checkpoint(None).unwrap();

    // The plain chain check and the stored-checkpoint check both pass…
    assert_eq!(store.verify_audit().unwrap(), (30, prev.clone()));
    store.verify_ledger(Some(key.public_key()), &[]).unwrap();
    // …the saved checkpoint does not.
    let err = store
        .verify_ledger(Some(key.public_key()), std::slice::from_ref(&saved))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "record 30: hash {prev} differs from the signed checkpoint of record 30 ({}): the chain was rewritten",
            saved.hash
        )
    );
}

#[test]
fn bad_signatures_wrong_keys_and_truncation_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let key = signer();
    let (writer, handle) = signing_writer(&store, &key, 5);
    for i in 1..=20 {
        writer.record(entry(i));
        if i % 5 == 0 {
            handle.flush().unwrap();
        }
    }
    handle.shutdown().unwrap();
    store.verify_ledger(Some(key.public_key()), &[]).unwrap();

    let other = signer();
    let err = store
        .verify_ledger(Some(other.public_key()), &[])
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("checkpoint of record 5: signed by key"),
        "{err}"
    );

    let mut forged = store.checkpoints_after(9, 1).unwrap().remove(0);
    assert_eq!(forged.seq, 10);
    forged.time_ms += 1;
    store.test_put_checkpoint(Some(&forged)).unwrap();
    let err = store
        .verify_ledger(Some(key.public_key()), &[])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "checkpoint of record 10: the signature does not verify with the public key"
    );

    // A checkpoint of record 25 where the chain ends at 20: truncated.
    store.test_put_checkpoint(None).unwrap();
    let beyond = key.sign(25, &"ab".repeat(32), 1);
    store.test_put_checkpoint(Some(&beyond)).unwrap();
    let err = store
        .verify_ledger(Some(key.public_key()), &[])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the chain ends at record 20, but a signed checkpoint covers record 25: records were removed"
    );
}

#[test]
fn public_keys_round_trip_as_text() {
    let key = signer();
    let text = key.public_key().to_text();
    assert_eq!(text.len(), 64);
    let back = tf_store::AuditPublicKey::from_text(&format!("{text}\n")).unwrap();
    assert_eq!(&back, key.public_key());
    assert!(tf_store::AuditPublicKey::from_text("zz").is_err());
    assert!(tf_store::AuditSigner::from_pkcs8(b"not a key").is_err());
}

#[test]
fn an_idle_writer_signs_its_unsigned_tail_after_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let key = signer();
    let (writer, handle) = store.audit_writer_with(tf_store::WriterOptions {
        commit_delay: std::time::Duration::ZERO,
        checkpoints: Some(tf_store::CheckpointPolicy {
            signer: Arc::clone(&key),
            every_records: 1000,
            every: std::time::Duration::from_millis(50),
        }),
    });
    for i in 1..=3 {
        writer.record(entry(i));
    }
    handle.flush().unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while store.latest_checkpoint().unwrap().map(|c| c.seq) != Some(3) {
        assert!(Instant::now() < deadline, "no checkpoint of the idle tail");
        std::thread::yield_now();
    }
    handle.shutdown().unwrap();
    store.verify_ledger(Some(key.public_key()), &[]).unwrap();
}
