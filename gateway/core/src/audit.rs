//! Audit records and their hash chain.
//!
//! An [`AuditEntry`] is what the proxy knows about one request. It is
//! redacted by construction: it has no field that can hold a header, a body,
//! a query string or a credential. The store seals entries into
//! [`AuditRecord`]s: a sequence number, the previous record's hash and the
//! record's own hash, so the chain can be verified offline with
//! [`verify_chain`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::Param;
use crate::ids::RequestId;
use crate::ports::ConnectorFailure;

/// What happened to a request. Also the value of `X-TameFlare-Decision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Forwarded upstream.
    Allowed,
    /// Refused by the gateway; the reason says why.
    Denied,
    /// Forwarded without inspection (a configured passthrough host).
    Tunneled,
    /// Not a request: an administrative change (see [`AuditEntry::event`]).
    Changed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Tunneled => "tunneled",
            Outcome::Changed => "changed",
        }
    }
}

/// Which of a request's two records this is, for a request audited
/// write-ahead (an action that is not read-only): the `write_ahead` record is
/// committed before the request is forwarded, the `completed` record follows
/// when the response ends. Both carry the same `request_id`. Requests
/// recorded once (read-only actions, denials) have no phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Durably committed before the request went upstream: the intent.
    WriteAhead,
    /// What happened, after a write-ahead record of the same request.
    Completed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::WriteAhead => "write_ahead",
            Phase::Completed => "completed",
        }
    }
}

/// One request, as the proxy saw it. Redacted by construction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix time in milliseconds when the request arrived.
    pub time_ms: u64,
    pub request_id: String,
    /// The authenticated gateway name, if authentication succeeded.
    pub gateway: Option<String>,
    /// Connector instance that handled the host, if any.
    pub connector: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    /// Params the connector extracted (never a credential: connectors never see one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    pub method: String,
    pub host: String,
    /// Path without the query string (queries can carry secrets).
    pub path: String,
    /// Serialized as `decision`, the word users see in `X-TameFlare-Decision`.
    #[serde(rename = "decision")]
    pub outcome: Outcome,
    /// Machine-readable reason: the deciding rule for allows, a code for denials.
    pub reason: String,
    pub upstream_status: Option<u16>,
    pub latency_us: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Set on administrative records (outcome [`Outcome::Changed`]): what
    /// changed. Absent on request records, so their hashes are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ConnectorEvent>,
    /// The request was handed to the upstream connection, so it may have
    /// reached the API (and the action may have run) even if no response
    /// came back. Serialized only when true: records written before this
    /// field existed hash as they did (in them, `allowed` meant forwarded).
    #[serde(default, skip_serializing_if = "is_false")]
    pub forwarded: bool,
    /// Set on the two records of a write-ahead request (see [`Phase`]);
    /// absent on requests recorded once, and on records written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Set on a `connector_error` denial: what kind of failure the connector
    /// call ended in. Absent otherwise, and on records written before, so
    /// their hashes are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_failure: Option<ConnectorFailure>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What happened to a connector component in `<data>/connectors/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorEventKind {
    /// A new component was loaded and now serves.
    Installed,
    /// A component replaced the previous version of the same file.
    Replaced,
    /// The file was removed: its domains are denied again.
    Removed,
    /// The file was refused; whatever served before keeps serving.
    Refused,
    /// A connector instance's credential was confirmed for a new kind or
    /// new domains (`tf connector add … --keep-credential`) without being
    /// entered again. `file` names the instance, `error` says what changed.
    CredentialRebound,
}

impl ConnectorEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorEventKind::Installed => "installed",
            ConnectorEventKind::Replaced => "replaced",
            ConnectorEventKind::Removed => "removed",
            ConnectorEventKind::Refused => "refused",
            ConnectorEventKind::CredentialRebound => "credential_rebound",
        }
    }
}

/// An install, swap, removal or refusal of a connector component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorEvent {
    pub kind: ConnectorEventKind,
    /// File name in `<data>/connectors/` (for
    /// [`ConnectorEventKind::CredentialRebound`]: the instance name).
    pub file: String,
    /// Connector name and version the component declared, when it loaded.
    pub name: Option<String>,
    pub version: Option<String>,
    /// Hex SHA-256 of the file's bytes (absent for removals of files never read).
    pub sha256: Option<String>,
    /// Who made the change, e.g. `alice via tf connector install` or
    /// `file owner uid 1000`.
    pub actor: String,
    /// Why a refused component was refused (for
    /// [`ConnectorEventKind::CredentialRebound`]: what the credential was
    /// rebound from and to).
    pub error: Option<String>,
}

impl AuditEntry {
    /// An administrative record for a connector event.
    pub fn connector_event(time_ms: u64, request_id: RequestId, event: ConnectorEvent) -> Self {
        let mut entry = AuditEntry::new(time_ms, request_id, "-", "-", "-");
        entry.outcome = Outcome::Changed;
        entry.connector = event.name.clone();
        entry.action = Some(format!("connector.{}", event.kind.as_str()));
        entry.reason = event.error.clone().unwrap_or_default();
        entry.event = Some(event);
        entry
    }
}

impl AuditEntry {
    /// Starts an entry for a request; the proxy fills in the rest as it goes.
    pub fn new(time_ms: u64, request_id: RequestId, method: &str, host: &str, path: &str) -> Self {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        Self {
            time_ms,
            request_id: request_id.to_string(),
            gateway: None,
            connector: None,
            action: None,
            resource: None,
            params: Vec::new(),
            method: method.to_owned(),
            host: host.to_owned(),
            path: path.to_owned(),
            outcome: Outcome::Denied,
            reason: String::new(),
            upstream_status: None,
            latency_us: 0,
            bytes_up: 0,
            bytes_down: 0,
            event: None,
            forwarded: false,
            phase: None,
            connector_failure: None,
        }
    }
}

/// A sealed entry in the append-only chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1-based position in the chain.
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `seq`, `prev_hash` and the entry's canonical JSON.
    pub hash: String,
}

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn chain_hash(seq: u64, prev_hash: &str, entry: &AuditEntry) -> String {
    // Field order is fixed by the struct definition, so this is canonical.
    let json = serde_json::to_vec(entry).expect("audit entry serializes");
    hash_entry_json(seq, prev_hash, &json)
}

fn hash_entry_json(seq: u64, prev_hash: &str, entry_json: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"tameflare-audit-v1\n");
    h.update(seq.to_be_bytes());
    h.update(prev_hash.as_bytes());
    h.update(entry_json);
    hex::encode(h.finalize())
}

impl AuditRecord {
    /// Seals `entry` as record `seq` after a record with hash `prev_hash`.
    pub fn seal(entry: AuditEntry, seq: u64, prev_hash: &str) -> Self {
        let hash = chain_hash(seq, prev_hash, &entry);
        Self {
            seq,
            entry,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// Seals `entry` as [`AuditRecord::seal`] does and returns the record's
    /// hash and its JSON (byte for byte what serializing the sealed record
    /// gives), serializing the entry once for both: the audit writer's
    /// per-record work.
    pub fn seal_to_json(entry: &AuditEntry, seq: u64, prev_hash: &str) -> (String, Vec<u8>) {
        let entry_json = serde_json::to_vec(entry).expect("audit entry serializes");
        let hash = hash_entry_json(seq, prev_hash, &entry_json);
        // `{"seq":N,` + the entry's fields + `,"prev_hash":…,"hash":…}`: the
        // order `#[serde(flatten)]` writes them in.
        let fields = entry_json
            .strip_prefix(b"{")
            .and_then(|j| j.strip_suffix(b"}"))
            .expect("an audit entry serializes as a JSON object");
        let mut out = Vec::with_capacity(entry_json.len() + 180);
        out.extend_from_slice(b"{\"seq\":");
        out.extend_from_slice(seq.to_string().as_bytes());
        if !fields.is_empty() {
            out.push(b',');
            out.extend_from_slice(fields);
        }
        out.extend_from_slice(b",\"prev_hash\":");
        serde_json::to_writer(&mut out, prev_hash).expect("a string serializes");
        out.extend_from_slice(b",\"hash\":");
        serde_json::to_writer(&mut out, &hash).expect("a string serializes");
        out.push(b'}');
        (hash, out)
    }
}

/// Where a chain fails to verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("record {seq}: expected sequence number {expected}")]
    Gap { seq: u64, expected: u64 },
    #[error("record {seq}: prev_hash does not match the previous record's hash")]
    Link { seq: u64 },
    #[error("record {seq}: hash does not match its contents")]
    Tampered { seq: u64 },
}

/// Checks one record against the hash of the record before it: its
/// `prev_hash` links to `prev` and its `hash` matches its contents.
pub fn verify_link(prev: &str, r: &AuditRecord) -> Result<(), ChainError> {
    if r.prev_hash != prev {
        return Err(ChainError::Link { seq: r.seq });
    }
    if chain_hash(r.seq, &r.prev_hash, &r.entry) != r.hash {
        return Err(ChainError::Tampered { seq: r.seq });
    }
    Ok(())
}

/// Verifies a contiguous run of records. `prev` is the hash before the
/// first record (`GENESIS_HASH` when starting at seq 1). Returns the last hash.
pub fn verify_chain<'a>(
    prev: &str,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<String, ChainError> {
    let mut prev = prev.to_owned();
    let mut expected: Option<u64> = None;
    for r in records {
        if let Some(e) = expected
            && r.seq != e
        {
            return Err(ChainError::Gap {
                seq: r.seq,
                expected: e,
            });
        }
        verify_link(&prev, r)?;
        prev.clone_from(&r.hash);
        expected = Some(r.seq + 1);
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ParamValue;

    fn entry(n: u64) -> AuditEntry {
        let mut e = AuditEntry::new(
            1_700_000_000_000 + n,
            RequestId::new(n, n),
            "GET",
            "api.github.com",
            "/user?token=x",
        );
        e.reason = "no_permission".into();
        e
    }

    #[test]
    fn request_records_carry_no_event_key_and_events_round_trip() {
        // Request records serialize exactly as before events existed, so
        // chains written by earlier versions still verify.
        let json = serde_json::to_string(&entry(1)).unwrap();
        assert!(!json.contains("\"event\""), "{json}");
        let e = AuditEntry::connector_event(
            5,
            RequestId::new(5, 5),
            ConnectorEvent {
                kind: ConnectorEventKind::Refused,
                file: "acme.wasm".into(),
                name: None,
                version: None,
                sha256: Some("ab".repeat(32)),
                actor: "file owner uid 1000".into(),
                error: Some("the file is truncated".into()),
            },
        );
        assert_eq!(e.outcome, Outcome::Changed);
        assert_eq!(e.action.as_deref(), Some("connector.refused"));
        let back: AuditEntry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn records_sealed_before_forwarded_and_phase_existed_still_verify() {
        // A record as an earlier version wrote it: no `forwarded`, no `phase`.
        let old = r#"{"seq":1,"time_ms":1700000000001,"request_id":"0000000000001-0000000000001","gateway":"Bot","connector":"github","action":"github.pr.merge","resource":"octo/hello/pulls/7","method":"PUT","host":"api.github.com","path":"/repos/octo/hello/pulls/7/merge","decision":"allowed","reason":"rule:Bot/github/github.pr.*","upstream_status":200,"latency_us":812,"bytes_up":0,"bytes_down":17,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"HASH"}"#;
        let mut record: AuditRecord = serde_json::from_str(old).unwrap();
        assert!(!record.entry.forwarded);
        assert_eq!(record.entry.phase, None);
        assert_eq!(record.entry.connector_failure, None);
        // The hash an earlier version computed: over the entry's JSON exactly
        // as it was written (without the new keys).
        let start = old.find("\"time_ms\"").unwrap();
        let end = old.find(",\"prev_hash\"").unwrap();
        let entry_json = format!("{{{}}}", &old[start..end]);
        record.hash = hash_entry_json(1, GENESIS_HASH, entry_json.as_bytes());
        assert_eq!(serde_json::to_string(&record.entry).unwrap(), entry_json);
        assert!(verify_chain(GENESIS_HASH, [&record]).is_ok());

        // New records carry the fields and round-trip.
        let mut e = record.entry.clone();
        e.forwarded = true;
        e.phase = Some(Phase::WriteAhead);
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            json.ends_with(r#","forwarded":true,"phase":"write_ahead"}"#),
            "{json}"
        );
        let back: AuditEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        let sealed = AuditRecord::seal(e, 2, &record.hash);
        assert!(verify_chain(GENESIS_HASH, [&record, &sealed]).is_ok());

        // A connector failure is recorded by kind, after the older keys.
        let mut failed = record.entry.clone();
        failed.outcome = Outcome::Denied;
        failed.reason = "connector_error".into();
        failed.connector_failure = Some(ConnectorFailure::OutOfMemory);
        let json = serde_json::to_string(&failed).unwrap();
        assert!(
            json.ends_with(r#","connector_failure":"out_of_memory"}"#),
            "{json}"
        );
        let back: AuditEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, failed);
        let third = AuditRecord::seal(failed, 3, &sealed.hash);
        assert!(verify_chain(GENESIS_HASH, [&record, &sealed, &third]).is_ok());
        let mut edited = third.clone();
        edited.entry.connector_failure = Some(ConnectorFailure::Trap);
        assert_eq!(
            verify_chain(GENESIS_HASH, [&record, &sealed, &edited]),
            Err(ChainError::Tampered { seq: 3 })
        );
    }

    #[test]
    fn sealing_to_json_matches_serializing_the_sealed_record() {
        let mut full = entry(7);
        full.action = Some("github.pr.merge".into());
        full.resource = Some("octo/hello/pulls/7".into());
        full.params = vec![
            Param {
                name: "pull_number".into(),
                value: ParamValue::Integer(7),
            },
            Param {
                name: "title".into(),
                value: ParamValue::Text("quote \" and \\ and \u{1f600} and \n".into()),
            },
            Param {
                name: "draft".into(),
                value: ParamValue::Boolean(false),
            },
        ];
        full.gateway = Some("Bot".into());
        full.upstream_status = Some(200);
        let event = AuditEntry::connector_event(
            9,
            RequestId::new(9, 9),
            ConnectorEvent {
                kind: ConnectorEventKind::Installed,
                file: "acme.wasm".into(),
                name: Some("acme".into()),
                version: Some("0.1.0".into()),
                sha256: Some("cd".repeat(32)),
                actor: "uid 0 via \"tf\"".into(),
                error: None,
            },
        );
        for (seq, e) in [(1, entry(1)), (2, full), (u64::MAX, event)] {
            for prev in [GENESIS_HASH.to_owned(), "ab".repeat(32)] {
                let sealed = AuditRecord::seal(e.clone(), seq, &prev);
                let (hash, json) = AuditRecord::seal_to_json(&e, seq, &prev);
                assert_eq!(hash, sealed.hash);
                assert_eq!(
                    String::from_utf8(json.clone()).unwrap(),
                    serde_json::to_string(&sealed).unwrap()
                );
                let back: AuditRecord = serde_json::from_slice(&json).unwrap();
                assert_eq!(back, sealed);
            }
        }
    }

    #[test]
    fn entries_drop_the_query() {
        assert_eq!(entry(1).path, "/user");
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let mut prev = GENESIS_HASH.to_owned();
        let mut chain = Vec::new();
        for seq in 1..=5 {
            let r = AuditRecord::seal(entry(seq), seq, &prev);
            prev.clone_from(&r.hash);
            chain.push(r);
        }
        assert_eq!(verify_chain(GENESIS_HASH, &chain).unwrap(), prev);

        let mut edited = chain.clone();
        edited[2].entry.outcome = Outcome::Allowed;
        assert_eq!(
            verify_chain(GENESIS_HASH, &edited),
            Err(ChainError::Tampered { seq: 3 })
        );

        let mut dropped = chain.clone();
        dropped.remove(1);
        assert_eq!(
            verify_chain(GENESIS_HASH, &dropped),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );

        // A record re-sealed consistently onto the wrong predecessor breaks the link.
        let mut relinked = chain.clone();
        relinked[2] = AuditRecord::seal(relinked[2].entry.clone(), 3, &chain[0].hash);
        assert_eq!(
            verify_chain(GENESIS_HASH, &relinked),
            Err(ChainError::Link { seq: 3 })
        );
    }
}
