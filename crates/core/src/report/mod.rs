//! The year in figures: the counters of the procedures' `[report]` sections, counted over
//! cases (issue 18).
//!
//! Pure: the caller replays the cases (from whatever store) and hands them to a [`Tally`];
//! [`Tally::finish`] gives the [`AnnualReport`], which renders as Markdown ([`to_markdown`]),
//! CSV ([`to_csv`]) or JSON (serde). A case counts in a year when the date its counter names
//! (opened, closed, an action's or a state's time) falls in that year **in China time**
//! (`2021-01-01T00:00:00+08:00` up to, not including, `2022-01-01T00:00:00+08:00`).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::model::{Counter, DateBy, RuleSet};
use crate::runtime::Case;
use crate::time::cst_date;

/// The group key of cases whose `by` fact is unset.
pub const UNSET: &str = "unset";

/// The id of a counter across procedures: `<procedure>.<counter>` (`legality-review.reviews`).
pub fn figure_id(procedure: &str, counter: &str) -> String {
    format!("{procedure}.{counter}")
}

/// The time that places `case` in a year for `counter`, if it has one yet.
pub fn date_of(case: &Case, counter: &Counter) -> Option<DateTime<Utc>> {
    let p = case.procedure();
    match &counter.date {
        DateBy::Opened => Some(case.opened_at()),
        DateBy::Closed => case
            .is_closed()
            .then(|| case.entered_at(p.place_number(crate::model::Place::State(case.state))))
            .flatten(),
        DateBy::Actions(actions) => actions.iter().filter_map(|a| case.taken_at(*a)).min(),
        DateBy::Place(place) => case.entered_at(p.place_number(*place)),
    }
}

/// The group `case` falls in for `counter`: the value of its `by` fact (`unset` when it has
/// none); `None` for a counter that is not split.
pub fn group_of(case: &Case, counter: &Counter) -> Option<String> {
    let fact = counter.by_fact.as_deref()?;
    Some(match case.fact(fact) {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
        None => UNSET.to_owned(),
    })
}

/// Whether `case` counts for `counter` in `year` (China time), and in which group.
/// `Some(None)`: it counts, the counter is not split; `None`: it does not count.
pub fn counts_in(case: &Case, counter: &Counter, year: i32) -> Option<Option<String>> {
    let at = date_of(case, counter)?;
    if cst_date(at).year() != year {
        return None;
    }
    if let Some(when) = &counter.when
        && !case.holds(when)
    {
        return None;
    }
    Some(group_of(case, counter))
}

/// Whether `case` is one of the cases behind figure `figure` (`<procedure>.<counter>`) of
/// `year`, in group `group` when one is given. A case of another procedure, or on a version
/// without that counter, is not.
pub fn is_behind(case: &Case, figure: &str, year: i32, group: Option<&str>) -> bool {
    let p = case.procedure();
    let Some(counter) = figure
        .strip_prefix(p.meta.id.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    let Some(c) = p.counters().iter().find(|c| c.meta.id == counter) else {
        return false;
    };
    match (counts_in(case, c, year), group) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(g), Some(want)) => g.as_deref() == Some(want),
    }
}

/// The annual report: the year and its figures by section.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnualReport {
    /// The year (China time).
    pub year: i32,
    /// The sections, in the order of the annual report's headings.
    pub sections: Vec<Section>,
    /// Cases that could not be read (a chain that does not verify, a history that does not
    /// replay): not counted. Empty when every case was read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// One section of the annual report and its figures.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    /// The section's heading as the counters declare it (`一（三） 推动行政决策科学民主`).
    pub title: String,
    /// Its figures, by procedure and declaration order.
    pub figures: Vec<Figure>,
}

/// One figure: a counter's total in the year and, when it is split, its groups.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figure {
    /// `<procedure>.<counter>`: what `GET /v1/cases?report=` takes.
    pub id: String,
    /// The procedure's id.
    pub procedure: String,
    /// The procedure's Chinese title.
    pub procedure_title: String,
    /// The Chinese heading.
    pub title: String,
    /// The English heading, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// What places a case in the year: `opened`, `closed`, `action:<ids>` or `state:<id>`.
    pub date: String,
    /// The guard that admits cases, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The fact the count is split by, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// How many cases.
    pub total: u64,
    /// The query listing its cases: `/v1/cases?report=<id>&year=<year>`.
    pub cases: String,
    /// The groups, when split: every value of the fact (0 included), then `unset` if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// One group of a split figure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The fact's value (`contract`; `unset` for cases without one).
    pub key: String,
    /// Its Chinese heading (the counter's `labels`), or the value.
    pub label: String,
    /// How many cases.
    pub count: u64,
    /// The query listing its cases: `/v1/cases?report=<id>&year=<year>&group=<key>`.
    pub cases: String,
}

/// Counts cases into the figures of one year.
#[derive(Debug)]
pub struct Tally<'r> {
    rules: &'r RuleSet,
    year: i32,
    /// Per figure id: total and per group.
    counts: BTreeMap<String, (u64, BTreeMap<String, u64>)>,
    unreadable: Vec<String>,
}

impl<'r> Tally<'r> {
    /// A tally of `year` (China time) over the counters of `rules`.
    pub fn new(rules: &'r RuleSet, year: i32) -> Self {
        Tally {
            rules,
            year,
            counts: BTreeMap::new(),
            unreadable: Vec::new(),
        }
    }

    /// The year counted.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// Counts one case in every figure it is behind.
    pub fn add(&mut self, case: &Case) {
        let p = case.procedure();
        for c in p.counters() {
            if let Some(group) = counts_in(case, c, self.year) {
                let entry = self
                    .counts
                    .entry(figure_id(&p.meta.id, &c.meta.id))
                    .or_default();
                entry.0 = entry.0.saturating_add(1);
                if let Some(g) = group {
                    let n = entry.1.entry(g).or_default();
                    *n = n.saturating_add(1);
                }
            }
        }
    }

    /// Notes a case that could not be read, so the report says it was not counted.
    pub fn skip(&mut self, case: impl Into<String>) {
        self.unreadable.push(case.into());
    }

    /// The report: every counter of the newest version of each procedure (and those only
    /// older versions declare), 0 where no case counts.
    pub fn finish(self) -> AnnualReport {
        let year = self.year;
        // The heading of each figure from the newest version that declares it.
        let mut declared: Vec<(String, &crate::model::Procedure, &Counter)> = Vec::new();
        for latest in self.rules.latest() {
            let mut versions: Vec<&crate::model::Procedure> = self
                .rules
                .all()
                .filter(|p| p.meta.id == latest.meta.id)
                .map(|p| &**p)
                .collect();
            versions.sort_by_key(|p| std::cmp::Reverse(p.version));
            for p in versions {
                for c in p.counters() {
                    let id = figure_id(&p.meta.id, &c.meta.id);
                    if !declared.iter().any(|(d, _, _)| *d == id) {
                        declared.push((id, p, c));
                    }
                }
            }
        }
        let mut sections: Vec<Section> = Vec::new();
        for (id, p, c) in declared {
            let (total, by_group) = self.counts.get(&id).cloned().unwrap_or_default();
            let link = format!("/v1/cases?report={id}&year={year}");
            let mut keys: Vec<String> = c.groups.clone();
            for k in by_group.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let groups = if c.by_fact.is_some() {
                keys.iter()
                    .map(|k| Group {
                        key: k.clone(),
                        label: if k == UNSET {
                            "未设定".to_owned()
                        } else {
                            c.label(k).to_owned()
                        },
                        count: by_group.get(k).copied().unwrap_or(0),
                        cases: format!("{link}&group={k}"),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let figure = Figure {
                id,
                procedure: p.meta.id.clone(),
                procedure_title: p.meta.title.clone(),
                title: c.meta.title.clone(),
                title_en: c.meta.title_en.clone(),
                date: c.date_source.clone(),
                when: c.when_source().map(str::to_owned),
                by: c.by_fact.clone(),
                total,
                cases: link,
                groups,
            };
            match sections.iter_mut().find(|s| s.title == c.section) {
                Some(s) => s.figures.push(figure),
                None => sections.push(Section {
                    title: c.section.clone(),
                    figures: vec![figure],
                }),
            }
        }
        sections.sort_by_key(|s| section_key(&s.title));
        AnnualReport {
            year,
            sections,
            unreadable: self.unreadable,
        }
    }
}

/// Sorts headings as the report numbers them: `一（三）` before `一（四）` before `二`.
fn section_key(title: &str) -> String {
    title
        .chars()
        .map(|c| match c {
            '一' => '1',
            '二' => '2',
            '三' => '3',
            '四' => '4',
            '五' => '5',
            '六' => '6',
            '七' => '7',
            '八' => '8',
            '九' => '9',
            other => other,
        })
        .collect()
}

/// The report as a section of the annual report: headings, then one line per figure with
/// its groups and the query listing its cases.
pub fn to_markdown(r: &AnnualReport) -> String {
    let mut out = format!(
        "# {}年法治政府建设工作数据（由案件统计）\n\n_Figures of {} computed from the cases; each links to its cases._\n",
        r.year, r.year
    );
    if !r.unreadable.is_empty() {
        out.push_str(&format!(
            "\n> 注意：{} 个案件无法读取（哈希链不符或无法重放），未计入：{}\n> Not counted, unreadable: {}\n",
            r.unreadable.len(),
            r.unreadable.join("、"),
            r.unreadable.join(", ")
        ));
    }
    for s in &r.sections {
        out.push_str(&format!("\n## {}\n\n", s.title));
        for f in &s.figures {
            let en = f
                .title_en
                .as_deref()
                .map(|e| format!("（{e}）"))
                .unwrap_or_default();
            out.push_str(&format!(
                "- {}{en}：共{}件 [案件]({})",
                f.title, f.total, f.cases
            ));
            if !f.groups.is_empty() {
                let parts: Vec<String> = f
                    .groups
                    .iter()
                    .map(|g| format!("{} {}件 [案件]({})", g.label, g.count, g.cases))
                    .collect();
                out.push_str(&format!("；其中 {}", parts.join("，")));
            }
            out.push_str(&format!("。（{}，{}）\n", f.procedure_title, f.procedure));
        }
    }
    out
}

/// The report as CSV: one row per figure (group empty) and per group, with its query.
pub fn to_csv(r: &AnnualReport) -> String {
    fn cell(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut out = String::from("年度,部分,指标,分组,件数,year,section,figure,group,count,cases\n");
    for s in &r.sections {
        for f in &s.figures {
            let mut row = |label: &str, key: &str, count: u64, cases: &str| {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.year,
                    cell(&s.title),
                    cell(&f.title),
                    cell(label),
                    count,
                    r.year,
                    cell(&s.title),
                    cell(&f.id),
                    cell(key),
                    count,
                    cell(cases)
                ));
            };
            row("", "", f.total, &f.cases);
            for g in &f.groups {
                row(&g.label, &g.key, g.count, &g.cases);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
