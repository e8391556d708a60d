//! Running scenarios against a rule set.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::file::{ExpectedDeadline, Scenario, ScenarioFile, StepSpec};
use crate::expr::Value;
use crate::lang::{self, Lang};
use crate::model::{RuleSet, TimeRuleKind};
use crate::runtime::{Case, Command, Deadline, DeadlineStatus, Opening, ReasonKind, Refusal};
use crate::time::{Calendar, cst_date};

/// Why a scenario failed: at which step, and what happened instead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The step (0 = the opening, 1 = the first step).
    pub step: usize,
    /// The action of the step (`open` for the opening, `check` for a step that only checks).
    pub action: String,
    /// The line of the step in the scenario file (0 when unknown).
    pub line: usize,
    /// What was expected and what happened, in the language asked for
    /// ([`Failure::in_lang`]; Chinese unless asked otherwise).
    pub message: String,
    /// What was expected and what happened, in Chinese (names by their titles).
    pub message_zh: String,
    /// What was expected and what happened, in English.
    pub message_en: String,
}

impl Failure {
    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.message_zh,
            Lang::En => &self.message_en,
        }
    }

    /// The failure with `message` in `lang`.
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.message = self.text(lang).to_owned();
        self
    }
}

/// A message in Chinese and in English.
type Two = (String, String);

/// The result of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its description, shown beside a failure.
    pub description: Option<String>,
    /// Empty when it passed.
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn kinds(r: &Refusal) -> BTreeSet<ReasonKind> {
    r.kinds().into_iter().collect()
}

fn kinds_text(k: &BTreeSet<ReasonKind>) -> String {
    k.iter()
        .map(|k| {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every reason of a refusal with its kind (each message cites its article).
fn refusal_text(r: &Refusal, lang: Lang) -> String {
    r.reasons
        .iter()
        .map(|x| {
            let kind = kinds_text(&[x.kind].into_iter().collect());
            format!("{kind}: {}", x.text(lang))
        })
        .collect::<Vec<_>>()
        .join(if lang == Lang::Zh { "；" } else { "; " })
}

/// Whether a reason cites `want`: one of its parsed citations reads the same
/// (`《行政处罚法》第四十四条`, or in the short form `apl §44`), or its basis text holds it.
fn reason_cites(r: &crate::runtime::Reason, want: &str) -> bool {
    let want = want.trim();
    let mut readable: Vec<String> = r.citations.iter().map(|c| c.readable()).collect();
    readable.extend(r.citation.clone());
    let short = |c: &crate::model::Citation| {
        let mut s = format!("{} §{}", c.law, c.article);
        if let Some(p) = c.paragraph {
            s.push_str(&format!(".{p}"));
            if let Some(i) = c.item {
                s.push_str(&format!(".{i}"));
            }
        }
        s
    };
    let mut shorts: Vec<String> = r.citations.iter().map(short).collect();
    if let (Some(law), Some(article)) = (&r.law, r.article) {
        shorts.push(short(&crate::model::Citation {
            law: law.clone(),
            law_title: String::new(),
            article,
            paragraph: r.paragraph,
            item: r.item,
            through: None,
        }));
    }
    readable.iter().any(|c| c == want)
        || shorts.iter().any(|c| c == want)
        || r.basis.as_deref().is_some_and(|b| b.contains(want))
}

/// Checks the citations and the `allowed_from` day a refused step expects.
fn check_refusal(step: &StepSpec, r: &Refusal) -> Vec<Two> {
    let mut out = Vec::new();
    for want in &step.cites {
        if !r.reasons.iter().any(|x| reason_cites(x, want)) {
            let got: Vec<String> = r
                .reasons
                .iter()
                .map(|x| {
                    let kind = kinds_text(&[x.kind].into_iter().collect());
                    let cited = x.citation.as_deref().or(x.basis.as_deref());
                    format!("{kind} cites {}", cited.unwrap_or("nothing"))
                })
                .collect();
            out.push((
                format!("应引用{want}，但拒绝理由引用的是：{}", got.join("；")),
                format!(
                    "expected the refusal to cite {want}, but {}",
                    got.join("; ")
                ),
            ));
        }
    }
    if let Some(day) = step.allowed_from {
        let got: Vec<chrono::NaiveDate> = r
            .reasons
            .iter()
            .filter_map(|x| x.allowed_from.map(cst_date))
            .collect();
        if !got.contains(&day) {
            let days_zh: Vec<String> = got.iter().map(|d| lang::date_zh(*d)).collect();
            out.push((
                format!(
                    "应自{}起方可办理，但{}",
                    lang::date_zh(day),
                    if days_zh.is_empty() {
                        "拒绝理由未给出日期".to_owned()
                    } else {
                        format!("拒绝理由给出的是{}", days_zh.join("、"))
                    }
                ),
                format!(
                    "expected the refusal to allow the action from {day}, but {}",
                    if got.is_empty() {
                        "no reason gives a day".to_owned()
                    } else {
                        format!(
                            "it gives {}",
                            got.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            ));
        }
    }
    out
}

/// Compares the outcome of a command with what the step expects; returns the failure text.
fn check_outcome(expected: Option<&Vec<ReasonKind>>, got: Result<(), &Refusal>) -> Option<Two> {
    match (expected, got) {
        (None, Ok(())) => None,
        (None, Err(r)) => Some((
            format!("应予办理，但被拒绝：{}", refusal_text(r, Lang::Zh)),
            format!(
                "expected it to be accepted, but it was refused: {}",
                refusal_text(r, Lang::En)
            ),
        )),
        (Some(k), Ok(())) => {
            let kinds = kinds_text(&k.iter().copied().collect());
            Some((
                format!("应被拒绝（{kinds}），但已办理"),
                format!("expected a refusal ({kinds}), but it was accepted"),
            ))
        }
        (Some(k), Err(r)) => {
            let want: BTreeSet<ReasonKind> = k.iter().copied().collect();
            (want != kinds(r)).then(|| {
                (
                    format!(
                        "应以{}被拒绝，实际为：{}",
                        kinds_text(&want),
                        refusal_text(r, Lang::Zh)
                    ),
                    format!(
                        "expected a refusal with {}, but got {}",
                        kinds_text(&want),
                        refusal_text(r, Lang::En)
                    ),
                )
            })
        }
    }
}

fn due_date(d: &Deadline) -> String {
    match (d.kind, d.last_day) {
        (TimeRuleKind::Within, Some(day)) => day.to_string(),
        _ => cst_date(d.due).to_string(),
    }
}

/// Every status a scenario may expect, as [`status_name`] writes them.
const STATUSES: [&str; 7] = [
    "met", "late", "pending", "overdue", "waived", "lapsed", "stopped",
];

fn status_name(s: DeadlineStatus) -> &'static str {
    match s {
        DeadlineStatus::Met => "met",
        DeadlineStatus::Late => "late",
        DeadlineStatus::Pending => "pending",
        DeadlineStatus::Overdue => "overdue",
        DeadlineStatus::Waived => "waived",
        DeadlineStatus::Lapsed => "lapsed",
        DeadlineStatus::Stopped => "stopped",
    }
}

/// Where a time rule stands, in Chinese, for failure messages.
fn status_zh(s: &str) -> &str {
    match s {
        "met" => "已按期办理（met）",
        "late" => "逾期办理（late）",
        "pending" => "期间进行中（pending）",
        "overdue" => "已逾期（overdue）",
        "waived" => "不适用（waived）",
        "lapsed" => "期间届满未行使（lapsed）",
        "stopped" => "期间中止计算（stopped）",
        other => other,
    }
}

/// A state, track state, fact or time rule by its title in Chinese quotes, else its id.
fn titled(meta: Option<&crate::model::Meta>, id: &str) -> String {
    meta.map_or_else(|| format!("`{id}`"), crate::lang::zh)
}

/// Checks the state, tracks, facts and deadlines a step expects.
fn check_after(case: &Case, step: &StepSpec, at: DateTime<Utc>, calendar: &Calendar) -> Vec<Two> {
    let p = case.procedure();
    let state_title = |id: &str| titled(p.find_state(id).map(|(_, s)| &s.meta), id);
    let mut out = Vec::new();
    if let Some(s) = &step.state
        && case.state() != s
    {
        out.push((
            format!(
                "应处于{}阶段，实际处于{}阶段",
                state_title(s),
                state_title(case.state())
            ),
            format!(
                "expected state `{s}`, but the case is in `{}`",
                case.state()
            ),
        ));
    }
    let running = case.track_states();
    for (track, want) in &step.tracks {
        let Some((_, t)) = p.find_track(track) else {
            out.push((
                format!("程序中没有`{track}`这一并行程序"),
                format!("the procedure has no track `{track}`"),
            ));
            continue;
        };
        let got = running
            .iter()
            .find(|(t, _)| t == track)
            .map_or("inactive", |(_, s)| *s);
        if got != want {
            let st = |id: &str| {
                if id == "inactive" {
                    "未启动".to_owned()
                } else {
                    titled(t.states.iter().find(|m| m.id == id), id)
                }
            };
            out.push((
                format!(
                    "{}应处于{}，实际为{}",
                    crate::lang::zh(&t.meta),
                    st(want),
                    st(got)
                ),
                format!("expected track `{track}` in `{want}`, but it is `{got}`"),
            ));
        }
    }
    for (fact, want) in &step.facts {
        let Some((_, f)) = p.find_fact(fact) else {
            out.push((
                format!("程序中没有`{fact}`这一事实"),
                format!("the procedure has no fact `{fact}`"),
            ));
            continue;
        };
        let got = case.fact(fact);
        let same = match (&got, want) {
            (None, serde_json::Value::Null) => true,
            (None, _) => false,
            (Some(g), w) => match (Value::from_json(&f.ty, g), Value::from_json(&f.ty, w)) {
                (Ok(a), Ok(b)) => a == b,
                (_, Err(e)) => {
                    out.push((
                        format!("事实{}的预期值无效：{e}", crate::lang::zh(&f.meta)),
                        format!("the expected value of fact `{fact}` is not valid: {e}"),
                    ));
                    continue;
                }
                _ => false,
            },
        };
        if !same {
            let shown = got
                .as_ref()
                .map_or_else(|| "unset".to_owned(), ToString::to_string);
            let shown_zh = got.map_or_else(|| "未设置".to_owned(), |g| g.to_string());
            out.push((
                format!(
                    "事实{}应为 {want}，实际为 {shown_zh}",
                    crate::lang::zh(&f.meta)
                ),
                format!("expected fact `{fact}` = {want}, but it is {shown}"),
            ));
        }
    }
    if !step.deadlines.is_empty() {
        let deadlines = case.deadlines(at, calendar);
        for (rule, want) in &step.deadlines {
            let rule_meta = p
                .time_rules
                .iter()
                .find(|r| r.meta.id == *rule)
                .map(|r| &r.meta);
            let Some(d) = deadlines.iter().find(|d| d.rule == *rule) else {
                let ids: Vec<&str> = p.time_rules.iter().map(|r| r.meta.id.as_str()).collect();
                if let Some(m) = rule_meta {
                    out.push((
                        format!("期限{}尚未开始计算（或本案已办结）", crate::lang::zh(m)),
                        format!("expected deadline `{rule}`, but it is not running (its period has not started, or the case has ended)"),
                    ));
                } else {
                    let near = crate::load::closest(rule, ids.iter().copied());
                    out.push((
                        format!(
                            "程序中没有`{}`这一期限{}",
                            crate::load::shown(rule),
                            near.map(|n| format!("（是否指`{n}`？）"))
                                .unwrap_or_default()
                        ),
                        format!(
                            "the procedure has no time rule `{}`{}",
                            crate::load::shown(rule),
                            near.map(|n| format!(": did you mean `{n}`?"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                continue;
            };
            let rule_zh = titled(rule_meta, rule);
            let (due, status) = match want {
                ExpectedDeadline::Due(due) => (Some(due), None),
                ExpectedDeadline::Full { due, status } => (due.as_ref(), status.as_ref()),
            };
            if let Some(due) = due {
                let got = if due.contains('T') {
                    crate::time::china::rfc3339(d.due)
                } else {
                    due_date(d)
                };
                let same = if due.contains('T') {
                    DateTime::parse_from_rfc3339(due).is_ok_and(|w| w.with_timezone(&Utc) == d.due)
                } else {
                    got == *due
                };
                if !same {
                    out.push((
                        format!(
                            "期限{rule_zh}应于{due}届满，实际为{got}{}",
                            if d.provisional { "（暂算）" } else { "" }
                        ),
                        format!(
                            "expected deadline `{rule}` due {due}, but it is due {got}{}",
                            if d.provisional { " (provisional)" } else { "" }
                        ),
                    ));
                }
            }
            if let Some(status) = status
                && !STATUSES.contains(&status.as_str())
            {
                out.push((
                    format!(
                        "期限{rule_zh}：没有`{status}`这一状态（可用：{}）",
                        STATUSES.join("、")
                    ),
                    format!(
                        "deadline `{rule}`: unknown status `{status}` (one of {})",
                        STATUSES.join(", ")
                    ),
                ));
            } else if let Some(status) = status
                && status_name(d.status) != status
            {
                out.push((
                    format!(
                        "期限{rule_zh}应为{}，实际为{}",
                        status_zh(status),
                        status_zh(status_name(d.status))
                    ),
                    format!(
                        "expected deadline `{rule}` to be {status}, but it is {}",
                        status_name(d.status)
                    ),
                ));
            }
        }
    }
    out
}

fn run_one(
    s: &Scenario,
    file: &ScenarioFile,
    rules: &RuleSet,
    calendar: &Calendar,
    n: usize,
) -> Outcome {
    let mut failures = Vec::new();
    let open_line = s.open.line;
    let line_of = |step: usize| {
        if step == 0 {
            open_line
        } else {
            s.steps.get(step - 1).map_or(0, |st| st.line)
        }
    };
    let fail = |step: usize, action: &str, (zh, en): Two| Failure {
        step,
        action: action.to_owned(),
        line: line_of(step),
        message: zh.clone(),
        message_zh: zh,
        message_en: en,
    };
    let Some(procedure) = rules.get(&file.procedure, file.version) else {
        let v = file
            .version
            .map(|v| format!(" version {v}"))
            .unwrap_or_default();
        return Outcome {
            name: s.name.clone(),
            description: s.description.clone(),
            failures: vec![fail(
                0,
                "open",
                (
                    format!("程序`{}`{v}未加载", file.procedure),
                    format!("procedure `{}`{v} is not loaded", file.procedure),
                ),
            )],
        };
    };
    let opening = Opening {
        case: format!("scenario-{n}"),
        title: s.open.title.clone(),
        actor: s.open.actor.clone(),
        at: s.open.at,
        facts: s.open.facts.clone(),
        imported: false,
    };
    let mut case = match Case::open_recorded(procedure, opening) {
        Ok((case, _)) => {
            if let Some(m) = check_outcome(s.open.refused.as_ref(), Ok(())) {
                failures.push(fail(0, "open", m));
                return Outcome {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    failures,
                };
            }
            case
        }
        Err(r) => {
            if let Some(m) = check_outcome(s.open.refused.as_ref(), Err(&r)) {
                failures.push(fail(0, "open", m));
            }
            return Outcome {
                name: s.name.clone(),
                description: s.description.clone(),
                failures,
            };
        }
    };
    for (i, step) in s.steps.iter().enumerate() {
        let Some(action) = &step.action else {
            // A step that only checks the case at its time.
            let problems = check_after(&case, step, step.at, calendar);
            if !problems.is_empty() {
                failures.extend(problems.into_iter().map(|m| fail(i + 1, "check", m)));
                break;
            }
            continue;
        };
        let command = Command {
            action: action.clone(),
            actor: step.actor.clone(),
            at: step.at,
            payload: step.payload.clone(),
            documents: step.documents.clone(),
            reason: step.reason.clone(),
            imported: false,
        };
        let before = case.view();
        let result = case.decide(command, calendar);
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(r) => Err(r),
        };
        if let Some(m) = check_outcome(step.refused.as_ref(), outcome) {
            failures.push(fail(i + 1, action, m));
            break;
        }
        if let Err(r) = &result {
            let problems = check_refusal(step, r);
            if !problems.is_empty() {
                failures.extend(problems.into_iter().map(|m| fail(i + 1, action, m)));
                break;
            }
        }
        if let Ok(event) = result {
            if let Err(e) = case.record(event) {
                failures.push(fail(
                    i + 1,
                    action,
                    (
                        format!("已准予办理的事件无法适用：{e}"),
                        format!("the accepted event could not be applied: {e}"),
                    ),
                ));
                break;
            }
        } else if case.view() != before {
            failures.push(fail(
                i + 1,
                action,
                (
                    "被拒绝的办理改变了案件".into(),
                    "a refused command changed the case".into(),
                ),
            ));
            break;
        }
        let problems = check_after(&case, step, step.at, calendar);
        if !problems.is_empty() {
            failures.extend(problems.into_iter().map(|m| fail(i + 1, action, m)));
            break;
        }
    }
    Outcome {
        name: s.name.clone(),
        description: s.description.clone(),
        failures,
    }
}

/// Runs every scenario of a file; one outcome per scenario, in order.
pub fn run(file: &ScenarioFile, rules: &RuleSet, calendar: &Calendar) -> Vec<Outcome> {
    file.scenarios
        .iter()
        .enumerate()
        .map(|(n, s)| run_one(s, file, rules, calendar, n + 1))
        .collect()
}
