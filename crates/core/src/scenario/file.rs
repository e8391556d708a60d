//! The scenario file format, read with serde (unknown keys are errors).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;

use crate::runtime::{Actor, DocumentRef, ReasonKind, sha256_hex};
use crate::time::cst_start_of_day;

/// A scenario file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ScenarioError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A time as scenario authors write it: a TOML date-time (local = China Standard Time), or a
/// date alone (09:00 CST that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let dt = toml::value::Datetime::deserialize(d)?;
        to_utc(&dt).map(At).map_err(D::Error::custom)
    }
}

fn to_utc(dt: &toml::value::Datetime) -> Result<DateTime<Utc>, String> {
    let date = dt.date.ok_or_else(|| format!("`{dt}` has no date"))?;
    let date = NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
    .ok_or_else(|| format!("`{dt}` is not a date"))?;
    let Some(time) = dt.time else {
        return Ok(cst_start_of_day(date) + chrono::Duration::hours(9));
    };
    let t = NaiveTime::from_hms_nano_opt(
        u32::from(time.hour),
        u32::from(time.minute),
        u32::from(time.second.unwrap_or(0)),
        time.nanosecond.unwrap_or(0),
    )
    .ok_or_else(|| format!("`{dt}` is not a time of day"))?;
    let local = date.and_time(t);
    let offset_minutes = match dt.offset {
        None => 8 * 60,
        Some(toml::value::Offset::Z) => 0,
        Some(toml::value::Offset::Custom { minutes }) => i32::from(minutes),
    };
    Ok(DateTime::from_naive_utc_and_offset(
        local - chrono::Duration::minutes(i64::from(offset_minutes)),
        Utc,
    ))
}

/// An actor as scenario authors write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActor {
    id: String,
    roles: Vec<String>,
}

/// A document: a kind alone, or the full reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawDocument {
    Kind(String),
    Full {
        kind: String,
        name: String,
        sha256: String,
        #[serde(default)]
        uri: Option<String>,
    },
}

/// An expected deadline: its due date, or a table with the date and/or status.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ExpectedDeadline {
    Due(#[serde(deserialize_with = "text_or_date")] String),
    Full {
        #[serde(default, deserialize_with = "opt_text_or_date")]
        due: Option<String>,
        #[serde(default)]
        status: Option<String>,
    },
}

/// A date written as a string (`"2025-03-13"`) or as a TOML date (`2025-03-13`, unquoted):
/// both mean the same day, so the unquoted one is not an error.
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrDate {
    Text(String),
    Date(toml::value::Datetime),
}

impl TextOrDate {
    fn text(self) -> String {
        match self {
            TextOrDate::Text(s) => s,
            TextOrDate::Date(d) => d.to_string(),
        }
    }
}

fn text_or_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    TextOrDate::deserialize(d).map(TextOrDate::text)
}

fn opt_text_or_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<TextOrDate>::deserialize(d).map(|o| o.map(TextOrDate::text))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpen {
    at: At,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    actor: Option<RawActor>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    facts: Option<toml::Table>,
    #[serde(default)]
    refused: Option<Vec<ReasonKind>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: At,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    actor: Option<RawActor>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    payload: Option<toml::Table>,
    #[serde(default)]
    documents: Vec<RawDocument>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    refused: Option<Vec<ReasonKind>>,
    #[serde(default)]
    cites: Option<Vec<String>>,
    #[serde(default)]
    allowed_from: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    tracks: Option<BTreeMap<String, String>>,
    #[serde(default)]
    facts: Option<toml::Table>,
    #[serde(default)]
    deadlines: Option<BTreeMap<String, ExpectedDeadline>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: Option<String>,
    open: toml::Spanned<RawOpen>,
    #[serde(default)]
    steps: Vec<toml::Spanned<RawStep>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    procedure: String,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    scenarios: Vec<RawScenario>,
}

/// The opening of a scenario's case.
#[derive(Debug, Clone)]
pub(crate) struct OpenSpec {
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: Actor,
    pub(crate) title: String,
    pub(crate) facts: serde_json::Value,
    pub(crate) refused: Option<Vec<ReasonKind>>,
    /// The line of `[scenarios.open]` in the file.
    pub(crate) line: usize,
}

/// One step and what is expected of it.
#[derive(Debug, Clone)]
pub(crate) struct StepSpec {
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: Actor,
    /// `None`: a step that only checks, at its time, without acting.
    pub(crate) action: Option<String>,
    pub(crate) payload: serde_json::Value,
    pub(crate) documents: Vec<DocumentRef>,
    pub(crate) reason: Option<String>,
    pub(crate) refused: Option<Vec<ReasonKind>>,
    /// Citations the refusal must give (`《行政处罚法》第四十四条`), each by some reason.
    pub(crate) cites: Vec<String>,
    /// The day from which the refused action is allowed (a `too_early` reason's).
    pub(crate) allowed_from: Option<NaiveDate>,
    pub(crate) state: Option<String>,
    pub(crate) tracks: BTreeMap<String, String>,
    pub(crate) facts: serde_json::Map<String, serde_json::Value>,
    pub(crate) deadlines: BTreeMap<String, ExpectedDeadline>,
    /// The line of the step's `[[scenarios.steps]]` in the file.
    pub(crate) line: usize,
}

/// One scenario.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) open: OpenSpec,
    pub(crate) steps: Vec<StepSpec>,
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// The procedure's id.
    pub procedure: String,
    /// The version to open cases on; the newest when `None`.
    pub version: Option<u32>,
    pub(crate) scenarios: Vec<Scenario>,
}

impl ScenarioFile {
    /// The names of the scenarios, in order.
    pub fn names(&self) -> Vec<&str> {
        self.scenarios.iter().map(|s| s.name.as_str()).collect()
    }
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => table_to_json(t),
    }
}

fn table_to_json(t: &toml::Table) -> serde_json::Value {
    serde_json::Value::Object(
        t.iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
    )
}

fn actor(by: Option<String>, actor: Option<RawActor>, line: &str) -> Result<Actor, String> {
    match (by, actor) {
        (Some(role), None) => Ok(Actor::new(role.clone(), [role])),
        (None, Some(a)) => Ok(Actor::new(a.id, a.roles)),
        (Some(_), Some(_)) => Err(format!("{line} gives both `by` and `actor`: give one")),
        (None, None) => Err(format!(
            "{line} names no actor: add `by = \"<role>\"` or `actor = {{ id = \"...\", roles = [...] }}`"
        )),
    }
}

fn document(d: RawDocument) -> DocumentRef {
    match d {
        RawDocument::Kind(kind) => DocumentRef {
            name: format!("{kind}.pdf"),
            sha256: sha256_hex(kind.as_bytes()),
            uri: None,
            kind,
        },
        RawDocument::Full {
            kind,
            name,
            sha256,
            uri,
        } => DocumentRef {
            kind,
            name,
            sha256,
            uri,
        },
    }
}

/// Parses a scenario file's text.
pub fn parse(text: &str) -> Result<ScenarioFile, ScenarioError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = line_col(text, offset);
        ScenarioError {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let mut scenarios = Vec::new();
    for (si, s) in raw.scenarios.into_iter().enumerate() {
        let at_line = |msg: String| {
            // Point at the scenario's name, the closest thing with a place in the file.
            let offset = text
                .match_indices(&format!("\"{}\"", s.name))
                .next()
                .map_or(0, |(i, _)| i);
            let (line, column) = line_col(text, offset);
            ScenarioError {
                line,
                column,
                message: msg,
            }
        };
        let open_line = line_col(text, s.open.span().start).0;
        let raw_open = s.open.into_inner();
        let open_actor = actor(
            raw_open.by,
            raw_open.actor,
            &format!("scenario {} (`{}`): `open`", si + 1, s.name),
        )
        .map_err(at_line)?;
        let open = OpenSpec {
            at: raw_open.at.0,
            actor: open_actor,
            title: raw_open.title.unwrap_or_else(|| s.name.clone()),
            facts: raw_open
                .facts
                .as_ref()
                .map_or_else(crate::runtime::empty_json_object, table_to_json),
            refused: raw_open.refused,
            line: open_line,
        };
        let mut steps = Vec::new();
        for (i, spanned) in s.steps.into_iter().enumerate() {
            let (line, column) = line_col(text, spanned.span().start);
            let located = |message: String| ScenarioError {
                line,
                column,
                message,
            };
            let st = spanned.into_inner();
            let what = format!(
                "scenario `{}`, step {} (`{}`)",
                s.name,
                i + 1,
                st.action.as_deref().unwrap_or("check")
            );
            let a = match (&st.action, &st.by, &st.actor) {
                // A step that only checks needs no actor.
                (None, None, None) => Actor::new("check", Vec::<String>::new()),
                _ => actor(st.by, st.actor, &what).map_err(located)?,
            };
            if st.action.is_none() {
                let acting = [
                    ("refused", st.refused.is_some()),
                    ("cites", st.cites.is_some()),
                    ("allowed_from", st.allowed_from.is_some()),
                    ("payload", st.payload.is_some()),
                    ("documents", !st.documents.is_empty()),
                    ("reason", st.reason.is_some()),
                ];
                if let Some((key, _)) = acting.iter().find(|(_, given)| *given) {
                    return Err(located(format!(
                        "{what} has no `action` but gives `{key}`: a step without an action only checks the case at its time"
                    )));
                }
            }
            if (st.cites.is_some() || st.allowed_from.is_some()) && st.refused.is_none() {
                return Err(located(format!(
                    "{what} expects `cites` or `allowed_from` of a refusal, but no `refused`: add `refused = [...]`"
                )));
            }
            let allowed_from = match &st.allowed_from {
                None => None,
                Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    located(format!(
                        "{what}: `allowed_from = \"{d}\"` is not a date: write `\"YYYY-MM-DD\"`"
                    ))
                })?),
            };
            steps.push(StepSpec {
                at: st.at.0,
                actor: a,
                action: st.action,
                payload: st
                    .payload
                    .as_ref()
                    .map_or_else(crate::runtime::empty_json_object, table_to_json),
                documents: st.documents.into_iter().map(document).collect(),
                reason: st.reason,
                refused: st.refused,
                cites: st.cites.unwrap_or_default(),
                allowed_from,
                state: st.state,
                tracks: st.tracks.unwrap_or_default(),
                facts: st
                    .facts
                    .as_ref()
                    .map(|t| {
                        t.iter()
                            .map(|(k, v)| (k.clone(), toml_to_json(v)))
                            .collect()
                    })
                    .unwrap_or_default(),
                deadlines: st.deadlines.unwrap_or_default(),
                line,
            });
        }
        scenarios.push(Scenario {
            name: s.name,
            description: s.description,
            open,
            steps,
        });
    }
    Ok(ScenarioFile {
        procedure: raw.procedure,
        version: raw.version,
        scenarios,
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        line,
        before.get(start..).map_or(0, |s| s.chars().count()) + 1,
    )
}
