//! Who takes part in which case, as far as one PostgreSQL store has seen: a participant
//! stays one (no row of `participants` is ever deleted, by any node), so a pair seen here is
//! in the database for good. [`crate::EventStore::takes_part`] answers a pair seen without a
//! query, and an append does not send its participants seen already (most appends are by
//! someone who took part before), so `fazhi_write_batch` skips its `participants` insert.

use std::collections::HashSet;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// How many pairs a store keeps at most (16 bytes each, about 20 MB in a hash set); past
/// that it forgets them all and learns again (a pair forgotten is asked of, or sent to, the
/// database once more: nothing is wrong, only slower).
const KEPT: usize = 1_000_000;

/// The (case, actor) pairs seen taking part, each by the first 128 bits of the SHA-256 of
/// `case`, a NUL and `actor` (a case id and an actor id hold no NUL: the store refuses
/// them): two pairs share a key with odds of about one in 10^38 per pair.
#[derive(Debug, Default)]
pub(crate) struct Known(Mutex<HashSet<u128>>);

impl Known {
    /// The key of `actor` taking part in `case`.
    pub(crate) fn key(case: &str, actor: &str) -> u128 {
        let mut h = Sha256::new();
        h.update(case.as_bytes());
        h.update([0]);
        h.update(actor.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        u128::from_le_bytes(first)
    }

    /// Whether the pair of `key` was seen.
    pub(crate) fn contains(&self, key: u128) -> bool {
        self.0.lock().is_ok_and(|seen| seen.contains(&key))
    }

    /// Keeps the pairs of `keys`, which are in the database (committed, or read from it).
    pub(crate) fn insert(&self, keys: impl IntoIterator<Item = u128>) {
        if let Ok(mut seen) = self.0.lock() {
            for key in keys {
                if seen.len() >= KEPT {
                    seen.clear();
                }
                seen.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Known;

    #[test]
    fn a_pair_is_known_once_kept_and_only_that_pair() {
        let known = Known::default();
        let ab = Known::key("a", "b");
        assert!(!known.contains(ab));
        known.insert([ab]);
        assert!(known.contains(ab));
        // The separator keeps `a`+`bc` apart from `ab`+`c`.
        assert_ne!(Known::key("a", "bc"), Known::key("ab", "c"));
        assert!(!known.contains(Known::key("b", "a")));
    }
}
