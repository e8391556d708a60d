//! Deadlines: every running or past time rule of a case, with its due time and status.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::case::{Case, Ctx};
use super::decide::anchor_name;
use crate::model::TimeRuleKind;
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
            out.push(Deadline {
                rule: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
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
