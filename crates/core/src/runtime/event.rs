//! Events: what happened to a case, in the form that is stored and hash-chained.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::command::{Actor, DocumentRef};

/// The hash a case's first event names as its predecessor: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventBody {
    /// The case was opened.
    Opened {
        /// The procedure's id.
        procedure: String,
        /// The procedure's version the case runs on.
        version: u32,
        /// The case's title.
        title: String,
        /// The initial facts as given (defaults are not repeated here).
        facts: serde_json::Value,
    },
    /// An action was taken.
    Action {
        /// The action's id.
        action: String,
        /// The payload as given.
        payload: serde_json::Value,
        /// The documents attached.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        documents: Vec<DocumentRef>,
        /// The recorded reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// One entry of a case's history. Its JSON form is stable: it is what is stored, what is
/// hashed, and what the HTTP API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The case's id.
    pub case: String,
    /// Its position in the case's history, from 0 (the opening).
    pub seq: u64,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
    /// Who did it.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether the time was given by an importer rather than stamped by the service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
    /// The SHA-256 (hex) of the stored bytes of the previous event; [`GENESIS`] for the first.
    pub prev_hash: String,
}

impl Event {
    /// The action's id, or `None` for the opening.
    pub fn action(&self) -> Option<&str> {
        match &self.body {
            EventBody::Action { action, .. } => Some(action),
            EventBody::Opened { .. } => None,
        }
    }

    /// The exact bytes that are stored and hashed: the event's JSON, fields in a fixed order
    /// and object keys sorted.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an event from stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The SHA-256 of bytes, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// An event with its stored bytes and their hash: what a store appends.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The event.
    pub event: Event,
    /// Its stored bytes ([`Event::to_bytes`]).
    pub bytes: Vec<u8>,
    /// The SHA-256 of the bytes; the next event's `prev_hash`.
    pub hash: String,
}

impl Recorded {
    /// Serialises and hashes an event.
    pub fn new(event: Event) -> Self {
        let bytes = event.to_bytes();
        let hash = sha256_hex(&bytes);
        Recorded { event, bytes, hash }
    }
}

/// Where a hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("the chain breaks at event {seq}: {problem}")]
pub struct BrokenLink {
    /// The position of the first event that does not fit.
    pub seq: u64,
    /// What is wrong with it.
    pub problem: String,
}

/// Checks a case's history, given as the stored bytes of each event in order: each event
/// parses, numbers follow from 0, all belong to one case, and each names the hash of the bytes
/// before it. When `head` is given, the last event must hash to it (so that a change to the
/// last event is found too). Names the first broken link.
pub fn verify<B: AsRef<[u8]>>(stored: &[B], head: Option<&str>) -> Result<(), BrokenLink> {
    let mut prev = GENESIS.to_owned();
    let mut case: Option<String> = None;
    for (i, bytes) in stored.iter().enumerate() {
        let seq = u64::try_from(i).unwrap_or(u64::MAX);
        let event = Event::from_bytes(bytes.as_ref()).map_err(|e| BrokenLink {
            seq,
            problem: format!("the stored bytes are not an event: {e}"),
        })?;
        if event.seq != seq {
            return Err(BrokenLink {
                seq,
                problem: format!("it says it is event {}", event.seq),
            });
        }
        match &case {
            Some(c) if *c != event.case => {
                return Err(BrokenLink {
                    seq,
                    problem: format!("it belongs to case `{}`, not `{c}`", event.case),
                });
            }
            None => case = Some(event.case.clone()),
            _ => {}
        }
        if event.prev_hash != prev {
            // Which side of the link changed? If this event still hashes to what the next one
            // (or the head) names, it is intact and the one before it was altered.
            let named_next = match stored.get(i + 1) {
                Some(next) => Event::from_bytes(next.as_ref()).ok().map(|e| e.prev_hash),
                None => head.map(str::to_owned),
            };
            let intact = named_next.is_some_and(|n| n == sha256_hex(bytes.as_ref()));
            return Err(if intact && seq > 0 {
                BrokenLink {
                    seq: seq - 1,
                    problem: format!(
                        "its stored bytes were changed: they hash to {prev}, but event {seq} names {}",
                        event.prev_hash
                    ),
                }
            } else {
                BrokenLink {
                    seq,
                    problem: format!(
                        "it names {} as the previous hash, but the previous event hashes to {prev}",
                        event.prev_hash
                    ),
                }
            });
        }
        prev = sha256_hex(bytes.as_ref());
    }
    if let Some(head) = head
        && head != prev
    {
        let seq = u64::try_from(stored.len())
            .unwrap_or(u64::MAX)
            .saturating_sub(1);
        return Err(BrokenLink {
            seq,
            problem: format!("the last event hashes to {prev}, but the case's head is {head}"),
        });
    }
    Ok(())
}
