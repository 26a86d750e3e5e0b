//! What an observation of one file in `<data>/connectors/` means.
//!
//! Pure: given what the service knows about the file and what was just
//! observed (its signature in a listing, its absence, the hash of its
//! bytes, or that those bytes were refused), name the next step. `watch`
//! observes and `apply` acts; nothing here reads a file or takes a lock.

use super::watch::{Scan, Sig};

/// What the service knows about one file.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Known<'a> {
    /// The signature seen on the previous poll.
    pub(super) observed: Option<Sig>,
    /// The signature last applied (loaded or refused).
    pub(super) applied: Option<Sig>,
    /// SHA-256 of the bytes that serve from this file.
    pub(super) loaded_sha: Option<&'a str>,
    /// SHA-256 of the newest bytes refused for this file.
    pub(super) refused_sha: Option<&'a str>,
}

/// What was just observed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Observation<'a> {
    /// The file is listed with this signature.
    Listed(Sig, Scan),
    /// The file is no longer listed.
    Missing,
    /// The file's bytes were read; their SHA-256.
    Read(&'a str),
    /// The bytes just read were refused.
    Refused,
}

/// What to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing changed.
    Nothing,
    /// The file changed since the last poll: wait until it holds still.
    Wait,
    /// A version not applied yet held still: read its bytes.
    Read,
    /// These bytes already serve (e.g. a bad edit was undone): clear the
    /// refusal, mark the version applied.
    AlreadyLoaded,
    /// These bytes were already refused: mark the version applied.
    AlreadyRefused,
    /// New bytes: load and apply them.
    Load,
    /// Refused while nothing serves from this file (e.g. a bad file was
    /// dropped while no gateway ran): serve the last version that loaded.
    RestoreLastGood,
    /// The file is gone: stop serving it.
    Remove,
}

pub(super) fn decide(known: &Known<'_>, seen: Observation<'_>) -> Step {
    match seen {
        Observation::Listed(sig, scan) => {
            let settled = scan == Scan::Immediate || known.observed == Some(sig);
            if !settled {
                Step::Wait
            } else if known.applied == Some(sig) {
                Step::Nothing
            } else {
                Step::Read
            }
        }
        Observation::Missing => {
            if known.loaded_sha.is_some() || known.applied.is_some() {
                Step::Remove
            } else {
                Step::Nothing
            }
        }
        Observation::Read(sha) => {
            if known.loaded_sha == Some(sha) {
                Step::AlreadyLoaded
            } else if known.refused_sha == Some(sha) {
                Step::AlreadyRefused
            } else {
                Step::Load
            }
        }
        Observation::Refused => {
            if known.loaded_sha.is_none() {
                Step::RestoreLastGood
            } else {
                Step::Nothing
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u64) -> Sig {
        Sig::for_test(n)
    }

    #[test]
    fn observations_map_to_steps() {
        let none = Known::default();
        let seen_once = Known {
            observed: Some(sig(1)),
            ..Known::default()
        };
        let applied = Known {
            observed: Some(sig(1)),
            applied: Some(sig(1)),
            loaded_sha: Some("aa"),
            ..Known::default()
        };
        let refused = Known {
            observed: Some(sig(2)),
            applied: Some(sig(2)),
            loaded_sha: None,
            refused_sha: Some("bb"),
        };
        let serving_newer_refused = Known {
            refused_sha: Some("bb"),
            ..applied
        };
        let settled = Scan::Settled;
        #[rustfmt::skip]
        let rows: &[(&str, Known<'_>, Observation<'_>, Step)] = &[
            ("new file, first poll", none, Observation::Listed(sig(1), settled), Step::Wait),
            ("new file at start", none, Observation::Listed(sig(1), Scan::Immediate), Step::Read),
            ("held still over two polls", seen_once, Observation::Listed(sig(1), settled), Step::Read),
            ("still changing", seen_once, Observation::Listed(sig(2), settled), Step::Wait),
            ("unchanged and applied", applied, Observation::Listed(sig(1), settled), Step::Nothing),
            ("changed after applied", applied, Observation::Listed(sig(2), settled), Step::Wait),
            ("change settled", Known { observed: Some(sig(2)), ..applied }, Observation::Listed(sig(2), settled), Step::Read),
            ("same bytes as serve", applied, Observation::Read("aa"), Step::AlreadyLoaded),
            ("same bytes as refused", refused, Observation::Read("bb"), Step::AlreadyRefused),
            ("refused, then undone", serving_newer_refused, Observation::Read("aa"), Step::AlreadyLoaded),
            ("new bytes", applied, Observation::Read("cc"), Step::Load),
            ("new bytes after a refusal", refused, Observation::Read("cc"), Step::Load),
            ("refused, something serves", applied, Observation::Refused, Step::Nothing),
            ("refused, nothing serves", none, Observation::Refused, Step::RestoreLastGood),
            ("removed while serving", applied, Observation::Missing, Step::Remove),
            ("removed after a refusal", refused, Observation::Missing, Step::Remove),
            ("gone before it settled", seen_once, Observation::Missing, Step::Nothing),
        ];
        for (name, known, seen, want) in rows {
            assert_eq!(decide(known, *seen), *want, "{name}");
        }
    }
}
