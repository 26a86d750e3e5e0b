use sha2::{Digest, Sha256};

use super::*;
use crate::audit::AuditEntry;
use crate::ids::RequestId;

/// A stand-in "signature": SHA-256 of a secret and the message. Enough to
/// test the verifier's logic; real signatures are the store's.
struct FakeKey {
    id: &'static str,
    secret: &'static [u8],
}

impl FakeKey {
    fn sign(&self, seq: u64, hash: &str) -> Checkpoint {
        let time_ms = 1_700_000_000_000 + seq;
        let msg = Checkpoint::message(seq, hash, time_ms, self.id);
        Checkpoint {
            seq,
            hash: hash.to_owned(),
            time_ms,
            key_id: self.id.to_owned(),
            signature: hex::encode(self.mac(&msg)),
        }
    }

    fn mac(&self, msg: &[u8]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(msg);
        h.finalize().to_vec()
    }
}

impl SignatureCheck for FakeKey {
    fn key_id(&self) -> &str {
        self.id
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.mac(message) == signature
    }
}

const KEY: FakeKey = FakeKey {
    id: "k1",
    secret: b"one",
};

fn chain(n: u64, tag: &str) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let mut e = AuditEntry::new(seq, RequestId::new(seq, seq), "GET", "h", "/");
            e.reason = format!("{tag}{seq}");
            let r = AuditRecord::seal(e, seq, &prev);
            prev.clone_from(&r.hash);
            r
        })
        .collect()
}

fn run(
    key: Option<&dyn SignatureCheck>,
    records: &[AuditRecord],
    checkpoints: Vec<Checkpoint>,
) -> Result<LedgerSummary, LedgerError> {
    let mut v = ChainVerifier::new(key);
    for cp in checkpoints {
        v.checkpoint(cp)?;
    }
    for r in records {
        v.record(r)?;
    }
    v.finish()
}

#[test]
fn message_is_domain_separated_and_length_prefixed() {
    let m = Checkpoint::message(1, "ab", 2, "k");
    assert!(m.starts_with(CHECKPOINT_DOMAIN));
    // Moving a byte from the hash to the key id changes the message.
    assert_ne!(m, Checkpoint::message(1, "a", 2, "bk"));
}

/// Name, key, records, checkpoints fed first, expected (records, signed through).
type Case<'a> = (
    &'a str,
    Option<&'a dyn SignatureCheck>,
    &'a [AuditRecord],
    Vec<Checkpoint>,
    Result<(u64, u64), LedgerError>,
);

#[test]
fn verification_table() {
    let good = chain(10, "r");
    // The attacker's chain: record 4 edited, every later record re-sealed.
    let mut rehashed = good[..3].to_vec();
    let mut prev = good[2].hash.clone();
    for r in &good[3..] {
        let mut e = r.entry.clone();
        if r.seq == 4 {
            e.reason = "edited".into();
        }
        let s = AuditRecord::seal(e, r.seq, &prev);
        prev.clone_from(&s.hash);
        rehashed.push(s);
    }
    let other = FakeKey {
        id: "k2",
        secret: b"two",
    };
    let mut forged = KEY.sign(5, &good[4].hash);
    forged.time_ms += 1;

    let gapped = [good[0].clone(), good[2].clone()];
    let cases: Vec<Case<'_>> = vec![
        ("no checkpoints", None, &good, vec![], Ok((10, 0))),
        (
            "checkpoints verify",
            Some(&KEY),
            &good,
            vec![KEY.sign(5, &good[4].hash), KEY.sign(10, &good[9].hash)],
            Ok((10, 10)),
        ),
        (
            "re-hashed chain passes alone",
            None,
            &rehashed,
            vec![],
            Ok((10, 0)),
        ),
        (
            "re-hashed chain fails at the checkpoint",
            Some(&KEY),
            &rehashed,
            vec![KEY.sign(5, &good[4].hash)],
            Err(LedgerError::CheckpointMismatch {
                seq: 5,
                found: rehashed[4].hash.clone(),
                signed: good[4].hash.clone(),
            }),
        ),
        (
            "truncated below a checkpoint",
            Some(&KEY),
            &good[..7],
            vec![KEY.sign(9, &good[8].hash)],
            Err(LedgerError::Truncated { last: 7, seq: 9 }),
        ),
        (
            "bad signature is named",
            Some(&KEY),
            &good,
            vec![KEY.sign(2, &good[1].hash), forged],
            Err(LedgerError::BadSignature { seq: 5 }),
        ),
        (
            "wrong public key",
            Some(&other),
            &good,
            vec![KEY.sign(5, &good[4].hash)],
            Err(LedgerError::WrongKey {
                seq: 5,
                key_id: "k1".into(),
                expected: "k2".into(),
            }),
        ),
        (
            "checkpoint without a key",
            None,
            &good,
            vec![KEY.sign(5, &good[4].hash)],
            Err(LedgerError::NoKey { seq: 5 }),
        ),
        (
            "gap",
            None,
            &gapped,
            vec![],
            Err(ChainError::Gap {
                seq: 3,
                expected: 2,
            }
            .into()),
        ),
        (
            "empty chain at checkpoint 0",
            Some(&KEY),
            &[],
            vec![KEY.sign(0, GENESIS_HASH)],
            Ok((0, 0)),
        ),
    ];
    for (name, key, records, cps, want) in cases {
        let got = run(key, records, cps).map(|s| (s.records, s.signed_through));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn a_checkpoint_right_after_its_record_is_compared_and_an_earlier_one_refused() {
    let good = chain(3, "r");
    let mut v = ChainVerifier::new(Some(&KEY));
    v.record(&good[0]).unwrap();
    v.record(&good[1]).unwrap();
    v.checkpoint(KEY.sign(2, &good[1].hash)).unwrap();
    assert_eq!(
        v.checkpoint(KEY.sign(1, &good[0].hash)),
        Err(LedgerError::OutOfOrder {
            seq: 1,
            verified: 2
        })
    );
    v.record(&good[2]).unwrap();
    let s = v.finish().unwrap();
    assert_eq!((s.records, s.checkpoints, s.signed_through), (3, 1, 2));
}
