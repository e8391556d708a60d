//! Deadlines: every running or past time rule of a case, with its due time and status.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::case::{Case, Ctx};
use super::decide::{anchor_en, anchor_name, anchor_zh};
use crate::lang::{self, Lang};
use crate::model::{Anchor, TimeRule, TimeRuleKind};
use crate::time::china::last_day_before;
use crate::time::{Calendar, Period, cst_date};

/// Where a time rule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// A deadline whose action was taken in time, or a minimum period that has run.
    Met,
    /// A deadline whose first action since the period started came at or after its due
    /// time (allowed, the rule not being `strict`, but irregular).
    Late,
    /// Still running.
    Pending,
    /// A deadline that has passed with none of its actions taken: pending and past due.
    Overdue,
    /// The rule does not apply: its `unless` holds, or its `applies_if` is false.
    Waived,
    /// A deadline not yet met whose clock is stopped: the case is in one of its `stops`.
    /// Its due time is reckoned as if the clock resumed at the time asked.
    Stopped,
    /// An optional right's window (`optional = true`) has passed unused.
    Lapsed,
}

/// One time rule as it applies to a case now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    /// The time rule's id.
    pub rule: String,
    /// Its title.
    pub title: String,
    /// What it asks and where it stands, for people, in the language asked for
    /// ([`Deadline::in_lang`]; Chinese unless asked otherwise), citing its article.
    pub description: String,
    /// The description in Chinese, from the rule file's titles
    /// (`“陈述申辩期限”：自“告知拟处罚”起3日内办理“陈述申辩”，最后一日为2027年1月5日（期间进行中）（依据：…）`).
    pub description_zh: String,
    /// The description in English, from the English titles the rule file gives (else the ids).
    pub description_en: String,
    /// Its basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// A minimum period or a deadline.
    pub kind: TimeRuleKind,
    /// The period.
    pub period: Period,
    /// What it is counted from (of several anchors, the latest that has happened).
    pub after: String,
    /// When the period started, in China time (`+08:00`).
    #[serde(serialize_with = "crate::time::china::serialize")]
    pub from: DateTime<Utc>,
    /// For a deadline, when it ends (exclusive); for a minimum, from when the actions are
    /// allowed. In China time (`+08:00`).
    #[serde(serialize_with = "crate::time::china::serialize")]
    pub due: DateTime<Utc>,
    /// For a deadline, the last legal day (CST) on which the act is in time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// For a minimum period, the legal day (CST) from which the actions are allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_from_date: Option<NaiveDate>,
    /// For a period in days, its last day (CST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_day: Option<NaiveDate>,
    /// The actions it restrains or expects.
    pub actions: Vec<String>,
    /// Where it stands at the time asked.
    pub status: DeadlineStatus,
    /// Whether the action came at or after the due time: the same as `status == late`, kept
    /// for clients that read it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
    /// Whether a deadline's extension has been granted (the due time includes it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extended: bool,
    /// Whether the due time was counted on a calendar year that is not covered (weekends only).
    pub provisional: bool,
}

impl Case {
    /// Every time rule whose period has started, with its due time and its status at `now`.
    /// A closed case lists only the deadlines that were met (in time or late).
    pub fn deadlines(&self, now: DateTime<Utc>, calendar: &Calendar) -> Vec<Deadline> {
        let p = self.procedure.as_ref();
        let ctx = Ctx {
            case: self,
            payload: &[],
            documents: &[],
            clock: Some((now, calendar)),
        };
        let mut out = Vec::new();
        for rule in &p.time_rules {
            let Some(period) = self.period_of(rule, calendar, now) else {
                continue;
            };
            let from = period.from;
            let taken_since = rule
                .actions
                .iter()
                .filter_map(|a| self.taken_at(*a))
                .filter(|t| *t >= period.counts_from)
                .min();
            let (due, last_day, provisional) = (period.due, period.last_day, period.provisional);
            let waived = rule.waived(&ctx);
            let (status, late) = match (rule.kind, taken_since) {
                _ if waived => (DeadlineStatus::Waived, false),
                (TimeRuleKind::Within, Some(t)) if t >= due => (DeadlineStatus::Late, true),
                (TimeRuleKind::Within, Some(_)) => (DeadlineStatus::Met, false),
                (TimeRuleKind::Within, None) if period.stopped => (DeadlineStatus::Stopped, false),
                (TimeRuleKind::Within, None) if now >= due && rule.optional => {
                    (DeadlineStatus::Lapsed, false)
                }
                (TimeRuleKind::Within, None) if now >= due => (DeadlineStatus::Overdue, false),
                (TimeRuleKind::Within, None) => (DeadlineStatus::Pending, false),
                (TimeRuleKind::AtLeast, _) if now >= due || taken_since.is_some() => {
                    (DeadlineStatus::Met, false)
                }
                (TimeRuleKind::AtLeast, _) => (DeadlineStatus::Pending, false),
            };
            if self.is_closed() && !matches!(status, DeadlineStatus::Met | DeadlineStatus::Late) {
                continue;
            }
            let (description_zh, description_en) =
                describe(self, rule, period.anchor, due, status, provisional);
            out.push(Deadline {
                rule: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                description: description_zh.clone(),
                description_zh,
                description_en,
                basis: rule.meta.basis.clone(),
                kind: rule.kind,
                period: rule.period,
                after: anchor_name(self, period.anchor),
                from,
                due,
                due_date: matches!(rule.kind, TimeRuleKind::Within).then(|| last_day_before(due)),
                allowed_from_date: matches!(rule.kind, TimeRuleKind::AtLeast)
                    .then(|| cst_date(due)),
                last_day,
                actions: rule
                    .actions
                    .iter()
                    .map(|a| p.action_id(*a).to_owned())
                    .collect(),
                status,
                late,
                extended: period.extended,
                provisional,
            });
        }
        out
    }

    /// The earliest due time among the deadlines (`within`) still pending or overdue at `now`.
    pub fn next_due(&self, now: DateTime<Utc>, calendar: &Calendar) -> Option<DateTime<Utc>> {
        next_due(&self.deadlines(now, calendar))
    }
}

impl Deadline {
    /// The deadline with `description` in `lang`.
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.description = match lang {
            Lang::Zh => self.description_zh.clone(),
            Lang::En => self.description_en.clone(),
        };
        self
    }
}

/// A time rule as it applies to a case, in Chinese and in English.
fn describe(
    case: &Case,
    rule: &TimeRule,
    anchor: Anchor,
    due: DateTime<Utc>,
    status: DeadlineStatus,
    provisional: bool,
) -> (String, String) {
    let p = case.procedure.as_ref();
    let metas: Vec<&crate::model::Meta> = rule
        .actions
        .iter()
        .filter_map(|a| p.actions.get(*a))
        .map(|a| &a.meta)
        .collect();
    let actions_zh: Vec<String> = metas.iter().map(|m| lang::zh(m)).collect();
    let actions_en: Vec<String> = metas.iter().map(|m| lang::en(m)).collect();
    let (actions_zh, actions_en) = (
        lang::list_zh(&actions_zh, "或"),
        lang::list_en(&actions_en, " or "),
    );
    let first = rule
        .meta
        .citations
        .first()
        .map(crate::model::Citation::readable);
    let cited = lang::cited(
        &rule.meta.citations,
        first.as_deref(),
        rule.meta.basis.as_deref(),
    );
    let (status_zh, status_en) = status_words(rule.kind, status);
    let (provisional_zh, provisional_en) = if provisional {
        (
            "；所涉年份尚无节假日安排，日期仅按周末暂算",
            "; provisional: a year without a calendar was counted with weekends only",
        )
    } else {
        ("", "")
    };
    let from_zh = anchor_zh(case, anchor);
    let from_en = anchor_en(case, anchor);
    match rule.kind {
        TimeRuleKind::Within => {
            let last = last_day_before(due);
            (
                format!(
                    "{}：{}办理{actions_zh}，最后一日为{}（{status_zh}{provisional_zh}）{}",
                    lang::zh(&rule.meta),
                    lang::within_zh(&from_zh, rule.period),
                    lang::date_zh(last),
                    lang::cite_zh(cited.as_deref())
                ),
                format!(
                    "{}: {actions_en} within {} after {from_en}, last day {last} ({status_en}{provisional_en}){}",
                    lang::en(&rule.meta),
                    rule.period,
                    lang::cite_en(cited.as_deref())
                ),
            )
        }
        TimeRuleKind::AtLeast => (
            format!(
                "{}：{}，{}起方可办理{actions_zh}（{status_zh}{provisional_zh}）{}",
                lang::zh(&rule.meta),
                lang::at_least_zh(&from_zh, rule.period),
                lang::instant_zh(due),
                lang::cite_zh(cited.as_deref())
            ),
            format!(
                "{}: {actions_en} not before {} after {from_en}, from {} ({status_en}{provisional_en}){}",
                lang::en(&rule.meta),
                rule.period,
                lang::instant_en(due),
                lang::cite_en(cited.as_deref())
            ),
        ),
    }
}

/// Where a time rule stands, in words: Chinese and English.
fn status_words(kind: TimeRuleKind, status: DeadlineStatus) -> (&'static str, &'static str) {
    match (kind, status) {
        (TimeRuleKind::AtLeast, DeadlineStatus::Met) => ("期间已满", "it has run"),
        (TimeRuleKind::AtLeast, DeadlineStatus::Pending) => ("期间未满", "still running"),
        (_, DeadlineStatus::Met) => ("已按期办理", "met in time"),
        (_, DeadlineStatus::Late) => ("逾期办理", "met late"),
        (_, DeadlineStatus::Pending) => ("期间进行中", "pending"),
        (_, DeadlineStatus::Overdue) => ("已逾期", "overdue"),
        (_, DeadlineStatus::Waived) => ("不适用", "waived"),
        (_, DeadlineStatus::Stopped) => ("期间中止计算", "stopped"),
        (_, DeadlineStatus::Lapsed) => ("期间届满未行使", "lapsed unused"),
    }
}

/// The earliest due time among deadlines (as [`Case::deadlines`] gives them) that are still
/// to be met, pending or overdue: what [`Case::next_due`] answers, without reckoning the
/// deadlines again when they are at hand.
pub fn next_due(deadlines: &[Deadline]) -> Option<DateTime<Utc>> {
    deadlines
        .iter()
        .filter(|d| {
            d.kind == TimeRuleKind::Within
                && matches!(d.status, DeadlineStatus::Pending | DeadlineStatus::Overdue)
        })
        .map(|d| d.due)
        .min()
}
