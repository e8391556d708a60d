//! The `[report]` section of a procedure: the counters it contributes to the town's annual
//! rule-of-law report (法治政府建设年度报告).
//!
//! Each counter counts the cases of the procedure whose date (opened, closed, or the time of a
//! named action or state) falls in the year, optionally only those a guard over the facts
//! admits, and optionally split by the value of one fact.

use crate::expr::Expr;

use super::{Meta, Place};

/// What date places a case in a year, for one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateBy {
    /// The case's opening.
    Opened,
    /// The time the case entered the terminal state it is in (open cases have none).
    Closed,
    /// The time one of these actions was (last) taken: the earliest of them.
    Actions(Vec<usize>),
    /// The time the case (last) entered this state or track state.
    Place(Place),
}

/// One counter of the annual report (`[report.reviews]`).
#[derive(Debug, Clone)]
pub struct Counter {
    /// Id, Chinese heading (`title`), English heading and basis.
    pub meta: Meta,
    /// The section of the annual report it belongs to, as the report's heading reads
    /// (`一（三） 推动行政决策科学民主`).
    pub section: String,
    /// What date places a case in a year.
    pub date: DateBy,
    /// The source of `date` as written (`opened`, `closed`, `action:find_lawful`,
    /// `state:filed`), for people and the API.
    pub date_source: String,
    /// Only the cases this guard admits (`when`).
    pub(crate) when: Option<Expr>,
    /// The fact `by` names, by id.
    pub by_fact: Option<String>,
    /// Headings of the groups (`labels`): value → Chinese heading; values without one are
    /// shown as written.
    pub labels: Vec<(String, String)>,
    /// The groups always shown, in order (the values of an enum or bool `by` fact), so that
    /// a value with no case shows 0.
    pub groups: Vec<String>,
}

impl Counter {
    /// The guard's source, when the counter has one.
    pub fn when_source(&self) -> Option<&str> {
        self.when.as_ref().map(Expr::source)
    }
    /// The heading of a group: its label, or the value as written.
    pub fn label<'a>(&'a self, group: &'a str) -> &'a str {
        self.labels
            .iter()
            .find(|(v, _)| v == group)
            .map_or(group, |(_, l)| l.as_str())
    }
}
