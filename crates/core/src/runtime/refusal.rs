//! Refusals: every reason an action may not be taken now, each with its article and the data
//! needed to act.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::expr::Falsity;
use crate::lang::Lang;
use crate::model::{Citation, Meta};

/// The kind of an unmet condition. Stable: clients match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// The procedure has no action with this id.
    UnknownAction,
    /// The case is not in a state the action may be taken from (or has ended).
    WrongState,
    /// None of the actor's roles may take the action.
    RoleNotAllowed,
    /// The action's guard does not hold.
    GuardFalse,
    /// The payload (or, when opening, the facts) does not fit the schema.
    PayloadInvalid,
    /// A required document is not attached, or an attached one is malformed.
    DocumentMissing,
    /// A minimum period has not run yet.
    TooEarly,
    /// A strict deadline has passed.
    TooLate,
    /// A reason must be recorded (always, under a condition, or to go below a
    /// "generally at least" period).
    ReasonMissing,
    /// The command's time is before the case's last event.
    OutOfOrder,
    /// The action has been taken as many times as the law allows (`max_times`).
    TooManyTimes,
}

/// One unmet condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    /// What kind of condition.
    pub kind: ReasonKind,
    /// What is wrong, for people, in the language asked for ([`Refusal::in_lang`]; Chinese
    /// unless asked otherwise), citing its article at the end.
    pub message: String,
    /// What is wrong in Chinese, built from the rule file's titles, citing the article
    /// (`…（依据：《行政处罚法》第四十四条）`).
    #[serde(default)]
    pub message_zh: String,
    /// What is wrong in English, built from the English titles the rule file gives (else
    /// the ids), citing the article.
    #[serde(default)]
    pub message_en: String,
    /// The article that forbids, as the rule file writes it: the narrowest that applies (a
    /// named condition's, an invariant's, a time rule's, a document's or role's), the
    /// action's own only where nothing narrower exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The cited law's id in `rules/laws.toml` (the first citation of `basis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub law: Option<String>,
    /// The cited article (条).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<u32>,
    /// The cited paragraph (款), when the basis names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<u32>,
    /// The cited item (项), when the basis names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// The first citation as people write it (`《行政处罚法》第四十四条`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation: Option<String>,
    /// Every article `basis` cites, when it cites more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// The named condition of the guard that does not hold, for `guard_false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The invariant whose article forbids, when one does (a step taken before what must
    /// come first, or a guard part an invariant requires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariant: Option<String>,
    /// The time rule, for `too_early`, `too_late` and a `reason_missing` that comes from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The case's current state, for `wrong_state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The states the action may be taken from, for `wrong_state`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected: Vec<String>,
    /// The roles that may take the action, for `role_not_allowed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The parts of the guard that were not true, with the values they read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Falsity>,
    /// The payload field or fact, for `payload_invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The document kind, for `document_missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// From when the action is allowed, for `too_early` (and for a `reason_missing` that a
    /// recorded reason would waive).
    /// Written in China time (`+08:00`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::china::serialize_option"
    )]
    pub allowed_from: Option<DateTime<Utc>>,
    /// The legal day (CST) from which the action is allowed: the date of `allowed_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_from_date: Option<NaiveDate>,
    /// When the deadline passed, for `too_late`, in China time (`+08:00`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::china::serialize_option"
    )]
    pub due: Option<DateTime<Utc>>,
    /// The last legal day (CST) on which the act was in time, for `too_late`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// Whether a date above was counted on a calendar year that is not covered (weekends only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl Reason {
    /// A reason with its Chinese and English messages, before the article is cited (see
    /// [`Reason::finish`]).
    pub(crate) fn new(kind: ReasonKind, zh: impl Into<String>, en: impl Into<String>) -> Self {
        let message_zh = zh.into();
        Reason {
            kind,
            message: message_zh.clone(),
            message_zh,
            message_en: en.into(),
            basis: None,
            law: None,
            article: None,
            paragraph: None,
            item: None,
            citation: None,
            citations: Vec::new(),
            condition: None,
            invariant: None,
            rule: None,
            state: None,
            expected: Vec::new(),
            roles: Vec::new(),
            failed: Vec::new(),
            field: None,
            document: None,
            allowed_from: None,
            allowed_from_date: None,
            due: None,
            due_date: None,
            provisional: false,
        }
    }

    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.message_zh,
            Lang::En => &self.message_en,
        }
    }

    /// The reason with `message` in `lang`.
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.message = self.text(lang).to_owned();
        self
    }

    /// Ends both messages with the article cited, once every citation is known, and sets
    /// `message` to the Chinese one.
    pub(crate) fn finish(&mut self) {
        let cited = crate::lang::cited(
            &self.citations,
            self.citation.as_deref(),
            self.basis.as_deref(),
        );
        self.message_zh
            .push_str(&crate::lang::cite_zh(cited.as_deref()));
        self.message_en
            .push_str(&crate::lang::cite_en(cited.as_deref()));
        self.message.clone_from(&self.message_zh);
    }

    /// Cites an element's basis (text and parsed citations).
    pub(crate) fn cite(mut self, meta: &Meta) -> Self {
        self.set_citation(meta);
        self
    }

    /// Cites the first element that has a basis.
    pub(crate) fn cite_first<'m>(mut self, metas: impl IntoIterator<Item = &'m Meta>) -> Self {
        self.cite_first_of(metas);
        self
    }

    /// [`Reason::cite_first`] in place.
    pub(crate) fn cite_first_of<'m>(&mut self, metas: impl IntoIterator<Item = &'m Meta>) {
        if let Some(m) = metas.into_iter().find(|m| m.basis.is_some()) {
            self.set_citation(m);
        }
    }

    /// Whether the reason cites anything yet.
    pub(crate) fn is_cited(&self) -> bool {
        self.basis.is_some()
    }

    fn set_citation(&mut self, meta: &Meta) {
        self.basis = meta.basis.clone();
        let first = meta.citations.first();
        self.law = first.map(|c| c.law.clone());
        self.article = first.map(|c| c.article);
        self.paragraph = first.and_then(|c| c.paragraph);
        self.item = first.and_then(|c| c.item);
        self.citation = first.map(Citation::readable);
        self.citations = if meta.citations.len() > 1 {
            meta.citations.clone()
        } else {
            Vec::new()
        };
    }
}

/// Why a command was refused: every unmet condition, not only the first. A refused command
/// changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("action `{action}` refused: {}", reasons.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; "))]
pub struct Refusal {
    /// The action asked for (`open` when opening a case).
    pub action: String,
    /// Every unmet condition.
    pub reasons: Vec<Reason>,
}

impl Refusal {
    /// The refusal with every reason's `message` in `lang`.
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> Self {
        for r in &mut self.reasons {
            r.message = r.text(lang).to_owned();
        }
        self
    }

    /// The kinds of the reasons, in order.
    pub fn kinds(&self) -> Vec<ReasonKind> {
        self.reasons.iter().map(|r| r.kind).collect()
    }
}

/// [`Reason::finish`] for every reason.
pub(crate) fn finish_all(reasons: &mut [Reason]) {
    for r in reasons {
        r.finish();
    }
}
