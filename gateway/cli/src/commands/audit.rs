//! `tf audit verify | export | checkpoint | public-key`: proof that the
//! audit trail is whole.
//!
//! Verification runs here, in the client, on records and checkpoints read
//! page by page (from a running gateway's admin API or directly from the
//! data dir), so a gateway cannot vouch for itself; memory stays bounded by
//! one page. Exports carry every hash and, in jsonl, the signed checkpoints,
//! so `tf audit verify --file` can check them with nothing but the public key.

use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use tf_core::{AuditRecord, ChainVerifier, Checkpoint, LedgerSummary, SignatureCheck};
use tf_store::AuditPublicKey;

use crate::args::{AuditCommand, AuditExportArgs, AuditVerifyArgs, ExportFormat};
use crate::backend::Backend;
use tf_runtime::datadir::DataDir;

/// Records (and checkpoints) per page.
const PAGE: usize = tf_admin::api::MAX_AUDIT_PAGE;

pub(crate) async fn audit(dd: &DataDir, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify(args) => verify(dd, &args).await,
        AuditCommand::Export(args) => export(dd, &args).await,
        AuditCommand::Checkpoint => {
            let backend = Backend::connect(dd).await?;
            let Some(cp) = backend.checkpoint_now().await?.checkpoint else {
                bail!("the audit chain is empty: there is no head to sign yet");
            };
            out!("{}", serde_json::to_string(&cp)?);
            Ok(())
        }
        AuditCommand::PublicKey => {
            dd.init()?;
            out!("{}", dd.audit_public_key()?.to_text());
            Ok(())
        }
    }
}

/// One item of the merged stream: each checkpoint right after its record.
#[expect(
    clippy::large_enum_variant,
    reason = "items are handed over one at a time, never stored in bulk"
)]
enum Item {
    Record(AuditRecord),
    Checkpoint(Checkpoint),
}

/// Walks every record in order, each stored checkpoint right after the
/// record it covers, and at the end any checkpoint past the last record.
/// Stops when a fetch of records returns none: a checkpoint is read only
/// after the records it could cover were committed, so a leftover one means
/// records are missing, not that they are still being written.
async fn walk(
    backend: &Backend,
    mut each: impl FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // Walk up to the head as of now: a gateway under load appends faster
    // than a reader pages, so "until an empty page" might never end.
    let end = backend.status().await?.audit_records;
    let mut after = 0u64;
    let mut cp_after = 0u64;
    let mut cps: VecDeque<Checkpoint> = VecDeque::new();
    while after < end {
        let mut page = backend.audit(after, PAGE).await?.records;
        page.retain(|r| r.seq <= end);
        let Some(last) = page.last().map(|r| r.seq) else {
            break;
        };
        // Every checkpoint up to `last` exists by now (each is committed
        // with its record), so a short page ends the fetch.
        while cps.back().is_none_or(|c| c.seq < last) {
            let got = backend.checkpoints(cp_after, PAGE).await?.checkpoints;
            let full = got.len() == PAGE;
            if let Some(c) = got.last() {
                cp_after = c.seq;
            }
            // A checkpoint signed (by a live gateway) after we walked past
            // its record is left for the next run: its record was already
            // checked against the link and the checkpoints before it.
            cps.extend(got.into_iter().filter(|c| c.seq >= after));
            if !full {
                break;
            }
        }
        for r in page {
            let seq = r.seq;
            after = seq;
            each(Item::Record(r))?;
            while cps.front().is_some_and(|c| c.seq <= seq) {
                each(Item::Checkpoint(cps.pop_front().expect("front")))?;
            }
        }
    }
    for cp in cps.into_iter().filter(|c| c.seq <= after) {
        each(Item::Checkpoint(cp))?;
    }
    Ok(())
}

fn read_public_key(path: &Path) -> anyhow::Result<AuditPublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    AuditPublicKey::from_text(&text)
        .with_context(|| format!("the public key in {} is malformed", path.display()))
}

/// Checkpoints saved by `tf audit checkpoint` (one JSON object per line;
/// checkpoint lines of an export are accepted too).
fn read_saved(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Checkpoint>> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let cp: Checkpoint = serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {}: not a checkpoint (expected the JSON `tf audit checkpoint` prints)",
                    path.display(),
                    n + 1
                )
            })?;
            out.push(cp);
        }
    }
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

fn start<'k>(
    key: Option<&'k dyn SignatureCheck>,
    saved: Vec<Checkpoint>,
) -> anyhow::Result<ChainVerifier<'k>> {
    let mut verifier = ChainVerifier::new(key);
    for cp in saved {
        verifier.checkpoint(cp).map_err(failed)?;
    }
    Ok(verifier)
}

fn failed(e: tf_core::LedgerError) -> anyhow::Error {
    anyhow!("the audit trail does not verify: {e}")
}

fn report(summary: &LedgerSummary, saved: usize, key: Option<&AuditPublicKey>) {
    out!(
        "verified {} records: every link and hash; {} signed checkpoints (key {}), signed through record {}, {} records after it not yet signed{}",
        summary.records,
        summary.checkpoints,
        key.map_or("-", |k| k.key_id()),
        summary.signed_through,
        summary.records - summary.signed_through,
        if saved > 0 {
            format!("; the chain extends {saved} saved checkpoint(s)")
        } else {
            String::new()
        }
    );
}

async fn verify(dd: &DataDir, args: &AuditVerifyArgs) -> anyhow::Result<()> {
    let key = match &args.public_key {
        Some(p) => read_public_key(p)?,
        None => {
            dd.init()?;
            dd.audit_public_key()?
        }
    };
    let saved = read_saved(&args.checkpoint)?;
    let n_saved = saved.len();
    let backend = Backend::connect(dd).await?;
    let mut verifier = start(Some(&key), saved)?;
    walk(&backend, |item| {
        match item {
            Item::Record(r) => verifier.record(&r),
            Item::Checkpoint(c) => verifier.checkpoint(c),
        }
        .map_err(failed)
    })
    .await?;
    let summary = verifier.finish().map_err(failed)?;
    // The stored head must agree too (records appended outside the writer).
    let stored = backend.verify_audit().await?;
    if !stored.ok {
        bail!(
            "the audit trail does not verify: {}",
            stored
                .error
                .as_deref()
                .unwrap_or("the stored head disagrees")
        );
    }
    report(&summary, n_saved, Some(&key));
    Ok(())
}

/// The `type` field of an export line.
#[derive(Deserialize)]
struct Tagged {
    #[serde(rename = "type")]
    kind: String,
}

/// `tf audit verify --file EXPORT.jsonl`: no data dir involved.
pub(crate) fn verify_file(args: &AuditVerifyArgs) -> anyhow::Result<()> {
    let path = args.file.as_deref().expect("dispatched with --file");
    let key = args
        .public_key
        .as_deref()
        .map(read_public_key)
        .transpose()?;
    let saved = read_saved(&args.checkpoint)?;
    let n_saved = saved.len();
    let mut verifier = start(key.as_ref().map(|k| k as &dyn SignatureCheck), saved)?;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = || {
            format!(
                "{} line {}: not an audit export line",
                path.display(),
                n + 1
            )
        };
        let tag: Tagged = serde_json::from_str(&line).with_context(bad)?;
        match tag.kind.as_str() {
            "record" => {
                let r: AuditRecord = serde_json::from_str(&line).with_context(bad)?;
                verifier.record(&r).map_err(failed)?;
            }
            "checkpoint" => {
                let c: Checkpoint = serde_json::from_str(&line).with_context(bad)?;
                verifier.checkpoint(c).map_err(|e| match e {
                    tf_core::LedgerError::NoKey { .. } => anyhow!(
                        "{e}: the export carries signed checkpoints; pass --public-key FILE (from `tf audit public-key`)"
                    ),
                    other => failed(other),
                })?;
            }
            other => bail!("{}: unknown line type {other:?}", bad()),
        }
    }
    let summary = verifier.finish().map_err(failed)?;
    report(&summary, n_saved, key.as_ref());
    Ok(())
}

const CSV_HEADER: &str = "seq,time_ms,request_id,gateway,connector,action,resource,method,host,path,decision,reason,upstream_status,latency_us,bytes_up,bytes_down,params,event,prev_hash,hash";

/// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_row(r: &AuditRecord) -> anyhow::Result<String> {
    let e = &r.entry;
    let params = if e.params.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&e.params)?
    };
    let event = match &e.event {
        Some(ev) => serde_json::to_string(ev)?,
        None => String::new(),
    };
    let fields: [String; 20] = [
        r.seq.to_string(),
        e.time_ms.to_string(),
        e.request_id.clone(),
        e.gateway.clone().unwrap_or_default(),
        e.connector.clone().unwrap_or_default(),
        e.action.clone().unwrap_or_default(),
        e.resource.clone().unwrap_or_default(),
        e.method.clone(),
        e.host.clone(),
        e.path.clone(),
        e.outcome.as_str().to_owned(),
        e.reason.clone(),
        e.upstream_status.map(|s| s.to_string()).unwrap_or_default(),
        e.latency_us.to_string(),
        e.bytes_up.to_string(),
        e.bytes_down.to_string(),
        params,
        event,
        r.prev_hash.clone(),
        r.hash.clone(),
    ];
    let mut row = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            row.push(',');
        }
        csv_field(&mut row, f);
    }
    Ok(row)
}

/// A jsonl export line: the object with `"type"` first.
fn jsonl_line(kind: &str, json: &str) -> String {
    let fields = json.strip_prefix('{').unwrap_or(json);
    if fields == "}" {
        format!("{{\"type\":\"{kind}\"}}")
    } else {
        format!("{{\"type\":\"{kind}\",{fields}")
    }
}

async fn export(dd: &DataDir, args: &AuditExportArgs) -> anyhow::Result<()> {
    let backend = Backend::connect(dd).await?;
    let sink: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::new(sink);
    let format = args.format;
    if format == ExportFormat::Csv {
        writeln!(w, "{CSV_HEADER}")?;
    }
    let (mut records, mut checkpoints) = (0u64, 0u64);
    walk(&backend, |item| {
        match (item, format) {
            (Item::Record(r), ExportFormat::Jsonl) => {
                writeln!(w, "{}", jsonl_line("record", &serde_json::to_string(&r)?))?;
                records += 1;
            }
            (Item::Record(r), ExportFormat::Csv) => {
                writeln!(w, "{}", csv_row(&r)?)?;
                records += 1;
            }
            (Item::Checkpoint(c), ExportFormat::Jsonl) => {
                writeln!(
                    w,
                    "{}",
                    jsonl_line("checkpoint", &serde_json::to_string(&c)?)
                )?;
                checkpoints += 1;
            }
            (Item::Checkpoint(_), ExportFormat::Csv) => {}
        }
        Ok(())
    })
    .await?;
    w.flush().context("cannot write the export")?;
    if let Some(p) = &args.output {
        eprintln!(
            "exported {records} records and {checkpoints} checkpoints to {}",
            p.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            csv_field(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn jsonl_lines_put_the_type_first_and_still_parse() {
        let line = jsonl_line(
            "checkpoint",
            r#"{"seq":1,"hash":"h","time_ms":2,"key_id":"k","signature":"s"}"#,
        );
        assert!(
            line.starts_with(r#"{"type":"checkpoint","seq":1"#),
            "{line}"
        );
        let cp: Checkpoint = serde_json::from_str(&line).unwrap();
        assert_eq!(cp.seq, 1);
        assert_eq!(jsonl_line("x", "{}"), r#"{"type":"x"}"#);
    }
}
