//! Events: what happened to a case, in the form that is stored and hash-chained.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::command::{Actor, DocumentRef};

/// The hash a case's first event names as its predecessor: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A SHA-256 digest, kept as its 64 lowercase hex digits (no allocation: it is `Copy`).
/// Its JSON form is that string; reading one accepts exactly 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash256([u8; 64]);

impl Hash256 {
    /// [`GENESIS`]: 64 zeros, the predecessor of a case's first event.
    pub const GENESIS: Hash256 = Hash256([b'0'; 64]);

    /// The SHA-256 of bytes.
    pub fn of(bytes: &[u8]) -> Hash256 {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(bytes);
        let mut out = [b'0'; 64];
        for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
            if let [hi, lo] = pair {
                *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                *lo = HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
            }
        }
        Hash256(out)
    }

    /// Reads 64 lowercase hex digits; `None` for anything else.
    pub fn parse(hex: &str) -> Option<Hash256> {
        let bytes: [u8; 64] = hex.as_bytes().try_into().ok()?;
        super::case::all_lower_hex(&bytes).then_some(Hash256(bytes))
    }

    /// The 64 lowercase hex digits, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        // Always ASCII hex digits: built only by `of`, `parse` and `GENESIS`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for Hash256 {
    fn default() -> Self {
        Hash256::GENESIS
    }
}

impl std::fmt::Display for Hash256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::str::FromStr for Hash256 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash256::parse(s).ok_or_else(|| format!("`{s}` is not 64 lowercase hex digits"))
    }
}

impl AsRef<str> for Hash256 {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Hash256 {
    fn eq(&self, other: &str) -> bool {
        self.0.as_slice() == other.as_bytes()
    }
}

impl PartialEq<&str> for Hash256 {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_slice() == other.as_bytes()
    }
}

impl PartialEq<String> for Hash256 {
    fn eq(&self, other: &String) -> bool {
        self.0.as_slice() == other.as_bytes()
    }
}

impl PartialEq<Hash256> for &str {
    fn eq(&self, other: &Hash256) -> bool {
        self.as_bytes() == other.0.as_slice()
    }
}

impl PartialEq<Hash256> for String {
    fn eq(&self, other: &Hash256) -> bool {
        self.as_bytes() == other.0.as_slice()
    }
}

impl Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Hash256;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a SHA-256 digest: 64 lowercase hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Hash256, E> {
                Hash256::parse(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Who takes part in a case beyond its opener, as an opening names them: principal ids by the
/// id of the procedure role each holds in it. Ordered, so that its JSON form (and so the
/// event's bytes) is one.
pub type Participants = std::collections::BTreeMap<String, Vec<String>>;

/// What an event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
        /// Who else takes part in the case, named by the opener: principal ids by the role
        /// they hold in it (`{"petitioner": ["p-1"]}`). They read the case as its opener
        /// does. Absent when none is named (and in events written before it existed).
        #[serde(default, skip_serializing_if = "Participants::is_empty")]
        participants: Participants,
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
    /// The case was moved to another version of its procedure by a migration
    /// (`rules/migrations/…`, see `docs/rule-language.md`, "Migrations"). Events before it
    /// are replayed on `from_version`, events after it on `to_version`.
    Migrated {
        /// The procedure's id.
        procedure: String,
        /// The version the case ran on.
        from_version: u32,
        /// The version it runs on from this event on.
        to_version: u32,
        /// The migration file applied (`rules/migrations/major-decision-v1-v2.toml`).
        migration: String,
        /// The main state the case was in.
        from_state: String,
        /// The main state it is in now.
        to_state: String,
        /// The tracks running after the migration: track id → its state.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        tracks: std::collections::BTreeMap<String, String>,
        /// Every place of the old version the file maps (`state`, `track.state`) → the place
        /// of the new version: the times the case entered them carry over, so that the new
        /// version's periods count from the same events.
        places: std::collections::BTreeMap<String, String>,
        /// Actions renamed: old id → new id (the history keeps the old names).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        actions: std::collections::BTreeMap<String, String>,
        /// Facts renamed: new id → the old id whose value it takes.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        renamed_facts: std::collections::BTreeMap<String, String>,
        /// Facts given a value by the migration, by id.
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        facts: serde_json::Map<String, serde_json::Value>,
        /// The deadlines running at the migration, as they were and as the new version's
        /// rules count them from the same events.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deadlines: Vec<DeadlineShift>,
        /// Why the new rules apply to the case (the article, or the operator's decision).
        basis: String,
    },
}

/// A deadline running when a case was migrated: its due time under the old version and
/// under the new one (`None` where that version has no such rule running).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeadlineShift {
    /// The time rule's id.
    pub rule: String,
    /// Its title (the new version's, else the old one's).
    pub title: String,
    /// Its due time under the old version, in China time (`+08:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_before: Option<String>,
    /// Its due time under the new version, in China time (`+08:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_after: Option<String>,
}

/// One entry of a case's history. Its JSON form is stable: it is what is stored, what is
/// hashed, and what the HTTP API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The case's id (shared with the case: an event does not copy it).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub case: Arc<str>,
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
    /// The SHA-256 of the stored bytes of the previous event; 64 zeros (`GENESIS`) for the
    /// first.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub prev_hash: Hash256,
}

impl Event {
    /// The action's id, or `None` for the opening.
    pub fn action(&self) -> Option<&str> {
        match &self.body {
            EventBody::Action { action, .. } => Some(action),
            EventBody::Opened { .. } | EventBody::Migrated { .. } => None,
        }
    }

    /// Who this event makes a participant of its case (who may read it when its role reads
    /// only its own cases): its actor and, for an opening, every principal the opening names.
    /// A name may come more than once.
    pub fn participants(&self) -> impl Iterator<Item = &str> {
        let named = match &self.body {
            EventBody::Opened { participants, .. } => Some(participants),
            EventBody::Action { .. } | EventBody::Migrated { .. } => None,
        };
        std::iter::once(&*self.actor.id).chain(
            named
                .into_iter()
                .flat_map(|p| p.values().flatten().map(String::as_str)),
        )
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

/// An event as people and clients are shown it: its stored JSON form, except that `at` is
/// written in China time (`+08:00`), with the hash of its stored bytes after it. The stored
/// bytes (and so the chain) keep `at` as they were written.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EventWire<'a> {
    case: &'a str,
    seq: u64,
    #[serde(flatten)]
    body: &'a EventBody,
    actor: &'a Actor,
    #[serde(serialize_with = "crate::time::china::serialize")]
    at: &'a DateTime<Utc>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    imported: bool,
    prev_hash: &'a Hash256,
    hash: &'a str,
}

impl Event {
    /// The event as shown on the wire, with the hash of its stored bytes.
    ///
    /// ```
    /// # use fazhi_core::runtime::{Event, Recorded};
    /// # fn show(recorded: &Recorded) -> String {
    /// serde_json::to_string(&recorded.event.wire(recorded.hash.as_str())).unwrap_or_default()
    /// # }
    /// ```
    pub fn wire<'a>(&'a self, hash: &'a str) -> EventWire<'a> {
        EventWire {
            case: &self.case,
            seq: self.seq,
            body: &self.body,
            actor: &self.actor,
            at: &self.at,
            imported: self.imported,
            prev_hash: &self.prev_hash,
            hash,
        }
    }
}

/// The SHA-256 of bytes, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Hash256::of(bytes).as_str().to_owned()
}

/// An event with its stored bytes and their hash: what a store appends.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The event.
    pub event: Event,
    /// Its stored bytes ([`Event::to_bytes`]).
    pub bytes: Vec<u8>,
    /// The SHA-256 of the bytes; the next event's `prev_hash`.
    pub hash: Hash256,
}

impl Recorded {
    /// Serialises and hashes an event.
    pub fn new(event: Event) -> Self {
        let bytes = event.to_bytes();
        let hash = Hash256::of(&bytes);
        Recorded { event, bytes, hash }
    }
}

/// What is wrong at a broken link of a hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The stored bytes do not read as an event.
    Undecodable,
    /// The event says it is another event of the case (numbering).
    Misnumbered,
    /// The event belongs to another case.
    OtherCase,
    /// The event's stored bytes were changed: they no longer hash to what the next event (or
    /// the case's head) names.
    BytesChanged,
    /// The event names a previous hash that the event before it does not have.
    PrevMismatch,
    /// The last event does not hash to the case's head.
    HeadMismatch,
    /// The store has no such event on the case's chain (a row or a link is gone); found by a
    /// reader of the store, not by [`verify`], which is given the bytes.
    Missing,
}

/// Where a hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("the chain breaks at event {seq}: {problem}")]
pub struct BrokenLink {
    /// The position of the first event that does not fit.
    pub seq: u64,
    /// What kind of break.
    pub kind: BreakKind,
    /// What is wrong with it, in English.
    pub problem: String,
    /// What is wrong with it, in Chinese.
    pub problem_zh: String,
}

impl BrokenLink {
    fn new(seq: u64, kind: BreakKind, zh: String, en: String) -> Self {
        BrokenLink {
            seq,
            kind,
            problem: en,
            problem_zh: zh,
        }
    }
}

/// A mismatch found at an event, kept until the next event (or the head) tells which side of
/// the link was changed.
#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    hash: Hash256,
    named_prev: Hash256,
    prev: Hash256,
}

impl Pending {
    /// The broken link, given what the next event (or the head) names as this event's hash.
    fn resolve(self, named_next: Option<Hash256>) -> BrokenLink {
        let Pending {
            seq,
            hash,
            named_prev,
            prev,
        } = self;
        // Which side of the link changed? If this event still hashes to what the next one
        // (or the head) names, it is intact and the one before it was altered.
        if named_next == Some(hash) && seq > 0 {
            BrokenLink::new(
                seq - 1,
                BreakKind::BytesChanged,
                format!(
                    "第{}号事件的存储内容被改动：其哈希为{prev}，而第{seq}号事件记载的是{named_prev}",
                    seq - 1
                ),
                format!(
                    "its stored bytes were changed: they hash to {prev}, but event {seq} names {named_prev}"
                ),
            )
        } else {
            BrokenLink::new(
                seq,
                BreakKind::PrevMismatch,
                format!("第{seq}号事件记载的前一哈希为{named_prev}，而前一事件的哈希为{prev}"),
                format!(
                    "it names {named_prev} as the previous hash, but the previous event hashes to {prev}"
                ),
            )
        }
    }
}

/// Checks a hash chain one event at a time, so that a long history can be checked page by
/// page in bounded memory. [`verify`] is this walk over a whole history.
///
/// A walk started with [`ChainWalk::new`] checks from the first event (whose previous hash
/// must be [`GENESIS`]); one started with [`ChainWalk::resume_at`] takes the first event it is
/// given as it is (the page before checks that link) and checks every link after it.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    /// The hash the next event must name; `None` before the first event of a resumed walk.
    prev: Option<Hash256>,
    next_seq: u64,
    case: Option<Arc<str>>,
    pending: Option<Pending>,
    broken: Option<BrokenLink>,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk::new()
    }
}

impl ChainWalk {
    /// A walk from a case's first event.
    pub fn new() -> Self {
        ChainWalk {
            prev: Some(Hash256::GENESIS),
            next_seq: 0,
            case: None,
            pending: None,
            broken: None,
        }
    }

    /// A walk from event `seq` on, trusting that event's own link to the one before it.
    pub fn resume_at(seq: u64) -> Self {
        ChainWalk {
            prev: (seq == 0).then_some(Hash256::GENESIS),
            next_seq: seq,
            case: None,
            pending: None,
            broken: None,
        }
    }

    /// How many events have been taken (the seq the next one must have).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Takes the stored bytes of the next event. Answers the first broken link once one is
    /// known (a changed event is known only at the event after it, or at [`finish`]).
    ///
    /// [`finish`]: ChainWalk::finish
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), BrokenLink> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        let parsed = Event::from_bytes(bytes);
        if let Some(p) = self.pending.take() {
            let named_next = parsed.as_ref().ok().map(|e| e.prev_hash);
            return Err(self.fail(p.resolve(named_next)));
        }
        let seq = self.next_seq;
        let event = match parsed {
            Ok(e) => e,
            Err(e) => {
                return Err(self.fail(BrokenLink::new(
                    seq,
                    BreakKind::Undecodable,
                    format!("存储内容不是事件：{e}"),
                    format!("the stored bytes are not an event: {e}"),
                )));
            }
        };
        if event.seq != seq {
            return Err(self.fail(BrokenLink::new(
                seq,
                BreakKind::Misnumbered,
                format!("它自称第{}号事件", event.seq),
                format!("it says it is event {}", event.seq),
            )));
        }
        match &self.case {
            Some(c) if *c != event.case => {
                let zh = format!("它属于案件`{}`，而非`{c}`", event.case);
                let en = format!("it belongs to case `{}`, not `{c}`", event.case);
                return Err(self.fail(BrokenLink::new(seq, BreakKind::OtherCase, zh, en)));
            }
            None => self.case = Some(event.case.clone()),
            _ => {}
        }
        let hash = Hash256::of(bytes);
        self.next_seq = seq.saturating_add(1);
        if let Some(prev) = self.prev
            && event.prev_hash != prev
        {
            self.pending = Some(Pending {
                seq,
                hash,
                named_prev: event.prev_hash,
                prev,
            });
        }
        self.prev = Some(hash);
        Ok(())
    }

    /// Ends the walk. When `head` is given, the last event must hash to it (so that a change
    /// to the last event is found too). Answers how many events were taken.
    pub fn finish(mut self, head: Option<&str>) -> Result<u64, BrokenLink> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        if let Some(p) = self.pending.take() {
            return Err(p.resolve(head.and_then(Hash256::parse)));
        }
        if let (Some(head), Some(prev)) = (head, self.prev)
            && head != prev.as_str()
        {
            let seq = self.next_seq.saturating_sub(1);
            return Err(BrokenLink::new(
                seq,
                BreakKind::HeadMismatch,
                format!("最后一个事件的哈希为{prev}，而案件记载的最新哈希为{head}"),
                format!("the last event hashes to {prev}, but the case's head is {head}"),
            ));
        }
        Ok(self.next_seq)
    }

    fn fail(&mut self, b: BrokenLink) -> BrokenLink {
        self.broken = Some(b.clone());
        b
    }
}

/// Checks a case's history, given as the stored bytes of each event in order: each event
/// parses, numbers follow from 0, all belong to one case, and each names the hash of the bytes
/// before it. When `head` is given, the last event must hash to it (so that a change to the
/// last event is found too). Names the first broken link.
pub fn verify<B: AsRef<[u8]>>(stored: &[B], head: Option<&str>) -> Result<(), BrokenLink> {
    let mut walk = ChainWalk::new();
    for bytes in stored {
        walk.push(bytes.as_ref())?;
    }
    walk.finish(head).map(|_| ())
}
