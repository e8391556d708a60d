//! Resolving a raw procedure: every reference checked, every guard compiled, the model built.

use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::raw::{
    RawBound, RawCondition, RawDate, RawField, RawMeta, RawPeriod, RawProcedure, RawReason,
};
use super::reader::{Cx, Lit, S};
use crate::expr::{self, Env, Expr, Ids, Satisfiability, TrackInfo, Type, Value, VarInfo, VarSlot};
use crate::model::Laws;
use crate::model::procedure_index as index;
use crate::model::{
    Action, Anchor, BoundPer, Condition, Counter, DateBy, Document, Fact, Field, Invariant,
    InvariantKind, Meta, Node, Place, Procedure, ReasonRule, Role, State, TimeRule, TimeRuleKind,
    TimesBound, Track,
};
use crate::time::Period;

use super::citation::{self, Cited};
use super::diagnostic::did_you_mean;

/// Where each element was declared, for diagnostics found after resolution (graph checks).
#[derive(Debug, Clone, Default)]
pub(crate) struct Spans {
    pub(crate) header: Range<usize>,
    pub(crate) initial: Range<usize>,
    pub(crate) states: Vec<Range<usize>>,
    pub(crate) tracks: Vec<Range<usize>>,
    pub(crate) track_states: Vec<Vec<Range<usize>>>,
    pub(crate) actions: Vec<Range<usize>>,
    pub(crate) roles: Vec<Range<usize>>,
    pub(crate) invariants: Vec<Range<usize>>,
    /// The id of each time rule, in the order of [`Procedure::time_rules`].
    pub(crate) time_rules: Vec<Range<usize>>,
}

fn meta(cited: &Cited, m: &RawMeta) -> Meta {
    Meta {
        citations: cited.of(m),
        id: m.id.v.clone(),
        title: m
            .title
            .as_ref()
            .map_or_else(|| m.id.v.clone(), |t| t.v.clone()),
        title_en: m.title_en.as_ref().map(|t| t.v.clone()),
        basis: m.basis.as_ref().map(|t| t.v.clone()),
    }
}

/// An action's `max_times`: at least 1, counted per case or per entry of its state.
fn times_bound(
    cx: &mut Cx<'_>,
    cited: &Cited,
    b: &RawBound,
    action_basis: bool,
) -> Option<TimesBound> {
    if b.meta.basis.is_none() && !action_basis {
        cx.error(
            "bound-without-basis",
            b.n.span.clone(),
            "`max_times` bounds an action only where the law does, and neither it nor the action cites a basis".to_owned(),
        )
        .help = Some("write the article that bounds it: `max_times = { n = 1, basis = \"《…》第…条\" }`".into());
        return None;
    }
    let n = match u32::try_from(b.n.v) {
        Ok(n) if n >= 1 => n,
        _ => {
            cx.error(
                "invalid-bound",
                b.n.span.clone(),
                format!("`max_times` must be at least 1, found {}", b.n.v),
            )
            .help = Some(
                "write how many times the law allows the action (`max_times = 1`); remove `max_times` if the law sets no bound".into(),
            );
            return None;
        }
    };
    let per = match b.per.as_ref().map(|p| p.v.as_str()) {
        None | Some("case") => BoundPer::Case,
        Some("entry") => BoundPer::Entry,
        Some(other) => {
            if let Some(p) = &b.per {
                cx.error(
                    "invalid-bound",
                    p.span.clone(),
                    format!("`max_times.per` must be `\"case\"` or `\"entry\"`, found `{other}`"),
                )
                .help = Some("`per = \"case\"` counts every time the action was taken in the case; `per = \"entry\"` counts since the case last entered the state the action is taken in".into());
            }
            return None;
        }
    };
    Some(TimesBound {
        n,
        per,
        meta: meta(cited, &b.meta),
    })
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(id).collect()
}

/// Parses the `type` (and `values`) of a fact or payload field.
fn field_type(cx: &mut Cx<'_>, f: &RawField) -> Option<Type> {
    let ty = f.ty.as_ref()?;
    const TYPES: [&str; 6] = ["bool", "integer", "amount", "text", "enum", "date"];
    let parsed = match ty.v.as_str() {
        "bool" => Type::Bool,
        "integer" => Type::Integer,
        "amount" => Type::Amount,
        "text" => Type::Text,
        "date" => Type::Date,
        "enum" => {
            let Some(values) = &f.values else {
                cx.error(
                    "enum-without-values",
                    ty.span.clone(),
                    format!("`{}` is an enum but lists no `values`", f.meta.id.v),
                )
                .help = Some(
                    "add `values = [\"a\", \"b\"]` listing every value the enum may take".into(),
                );
                return None;
            };
            if values.v.is_empty() {
                cx.error(
                    "enum-without-values",
                    values.span.clone(),
                    format!("enum `{}` has an empty list of values", f.meta.id.v),
                )
                .help = Some("list at least one value".into());
                return None;
            }
            let mut seen: Vec<&str> = Vec::new();
            let mut seen_set = std::collections::HashSet::new();
            for v in &values.v {
                if !seen_set.insert(v.v.as_str()) {
                    cx.error(
                        "duplicate-id",
                        v.span.clone(),
                        format!("enum value `{}` is listed twice", v.v),
                    )
                    .help = Some("remove the second one".into());
                } else {
                    seen.push(&v.v);
                }
            }
            Type::Enum(
                seen.iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        other => {
            let help = did_you_mean(other, TYPES)
                .unwrap_or_else(|| format!("the types are {}", super::reader::list(&TYPES)));
            cx.error(
                "unknown-type",
                ty.span.clone(),
                format!("unknown type `{other}`"),
            )
            .help = Some(help);
            return None;
        }
    };
    if let (Some(values), false) = (&f.values, matches!(parsed, Type::Enum(_))) {
        cx.error(
            "values-on-non-enum",
            values.span.clone(),
            format!("`{}` has `values` but its type is `{}`", f.meta.id.v, ty.v),
        )
        .help =
            Some("only `type = \"enum\"` takes `values`; remove them or change the type".into());
    }
    Some(parsed)
}

/// Checks the `labels` of a fact or payload field against its `values`: every label names a
/// value of the enum. Returns the labels kept, in the order of `values`.
fn field_labels(cx: &mut Cx<'_>, f: &RawField, ty: Option<&Type>) -> Vec<(String, String)> {
    let Some((first, _)) = f.labels.first() else {
        return Vec::new();
    };
    let Some(Type::Enum(values)) = ty else {
        if ty.is_some() {
            cx.error(
                "labels-on-non-enum",
                first.span.clone(),
                format!(
                    "“{}”不是枚举，不能有 `labels` (`{}` has `labels` but is not an enum)",
                    f.meta
                        .title
                        .as_ref()
                        .map_or(f.meta.id.v.as_str(), |t| t.v.as_str()),
                    f.meta.id.v
                ),
            )
            .help = Some(
                "only `type = \"enum\"` takes `labels`; remove them or change the type".into(),
            );
        }
        return Vec::new();
    };
    let known: Vec<&str> = values.iter().map(String::as_str).collect();
    for (value, _) in &f.labels {
        if !known.contains(&value.v.as_str()) {
            let help = did_you_mean(&value.v, known.iter().copied()).unwrap_or_else(|| {
                format!(
                    "label one of the enum's values: {}",
                    super::reader::list(&known)
                )
            });
            cx.error(
                "unknown-value",
                value.span.clone(),
                format!(
                    "`labels` 中的 `{}` 不是“{}”的取值 (`{}` in the labels of `{}` is not one of its `values`)",
                    value.v,
                    f.meta.title.as_ref().map_or(f.meta.id.v.as_str(), |t| t.v.as_str()),
                    value.v,
                    f.meta.id.v
                ),
            )
            .help = Some(help);
        }
    }
    values
        .iter()
        .filter_map(|v| {
            f.labels
                .iter()
                .find(|(l, _)| &l.v == v)
                .map(|(_, t)| (v.clone(), t.v.clone()))
        })
        .collect()
}

/// A TOML literal as a value of a type (facts' defaults).
fn literal(cx: &mut Cx<'_>, lit: &S<Lit>, ty: &Type, what: &str) -> Option<Value> {
    let v = match (&lit.v, ty) {
        (Lit::Bool(b), Type::Bool) => Some(Value::Bool(*b)),
        (Lit::Integer(i), Type::Integer) => Some(Value::Integer(*i)),
        (Lit::Integer(i), Type::Amount) => Some(Value::Amount(Decimal::from(*i))),
        (Lit::Float(s) | Lit::Str(s), Type::Amount) => s.parse::<Decimal>().ok().map(Value::Amount),
        (Lit::Str(s), Type::Text) => Some(Value::Text(s.as_str().into())),
        (Lit::Date(s) | Lit::Str(s), Type::Date) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(Value::Date),
        (Lit::Str(s), Type::Enum(values)) => values
            .iter()
            .position(|v| v == s)
            .and_then(|i| u16::try_from(i).ok())
            .map(Value::Enum),
        _ => None,
    };
    if v.is_none() {
        cx.error(
            "wrong-type",
            lit.span.clone(),
            format!("{what} is not a valid {ty}"),
        )
        .help = Some(match ty {
            Type::Enum(values) => format!(
                "write one of the values: {}",
                values
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Date => "write a date as `2025-10-08`".into(),
            Type::Amount => "write an amount as a number, e.g. `200` or `3000.50`".into(),
            other => format!("write a {} value", other.name()),
        });
    }
    v
}

/// Compiles one guard or value expression, turning its errors into diagnostics at the exact
/// column inside the TOML string.
fn compile(cx: &mut Cx<'_>, src: &S<String>, env: &Env, expected: &Type) -> Option<Expr> {
    match expr::compile(&src.v, env, expected) {
        Ok(e) => Some(e),
        Err(errors) => {
            let offsets = cx.string_offsets(&src.v, &src.span);
            for e in errors {
                let span =
                    Cx::span_within(offsets.as_deref(), &src.span, &(e.span.start..e.span.end));
                // Every guard error says how to fix it; the parser's few without their own
                // help get the guard language's summary.
                let mut help = e.help.clone().or_else(|| {
                    Some("guards are names, literals, `==` `!=` `<` `<=` `>` `>=`, `in [..]`, `&&`, `||`, `!`, parentheses and the functions of docs/rule-language.md (Guards)".into())
                });
                // `sets = { outcome = "lawful" }`: the TOML quotes are not the guard's.
                if let Type::Enum(values) = expected
                    && e.code == crate::expr::codes::UNKNOWN_NAME
                    && values.iter().any(|v| **v == *src.v.trim())
                {
                    help = Some(format!(
                        "to mean the value `{0}`, quote it inside the string: `'\"{0}\"'` (a bare word is a fact's name)",
                        src.v.trim()
                    ));
                }
                cx.error(e.code, span, e.message.clone()).help = help;
            }
            None
        }
    }
}

/// Compiles a guard written as a table of named conditions: each condition on its own (its
/// errors at its own string), and their conjunction as the guard.
fn conditions(
    cx: &mut Cx<'_>,
    cited: &Cited,
    raw: &[RawCondition],
    env: &Env,
    what: &str,
) -> (Option<Expr>, Vec<Condition>) {
    let mut out = Vec::new();
    for c in raw {
        if let Some(e) = compile(cx, &c.guard, env, &Type::Bool) {
            warn_never(cx, &e, &c.guard, what);
            out.push(Condition {
                meta: meta(cited, &c.meta),
                guard: e,
            });
        }
    }
    let (Some(first), true) = (raw.first(), out.len() == raw.len()) else {
        return (None, out);
    };
    let joined = out
        .iter()
        .map(|c| {
            // Parentheses only where `&&` would bind differently.
            if c.guard.source().contains("||") {
                format!("({})", c.guard.source())
            } else {
                c.guard.source().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" && ");
    let whole = S::new(joined, first.guard.span.clone());
    let e = compile(cx, &whole, env, &Type::Bool);
    if let Some(e) = &e {
        warn_never(cx, e, &whole, what);
    }
    (e, out)
}

fn warn_never(cx: &mut Cx<'_>, e: &Expr, src: &S<String>, what: &str) {
    if e.satisfiability() == Satisfiability::Never {
        cx.warning("guard-never-true", src.span.clone(), format!("{what} `{}` can never be true", src.v))
            .help = Some("given the declared values and ranges it contradicts itself; the action or track it guards can never happen".into());
    } else if e.always_true() {
        cx.warning(
            "guard-always-true",
            src.span.clone(),
            format!("{what} `{}` is always true, whatever the facts are", src.v),
        )
        .help =
            Some("it restrains nothing: remove it, or write the condition the article sets".into());
    }
}

/// The longest period a rule may write, per unit: a hundred years. No statute sets a longer
/// one, and every deadline stays far inside the dates the engine can write.
pub(crate) const MAX_PERIOD: [(&str, u32); 4] = [
    ("days", 36_500),
    ("working_days", 10_000),
    ("hours", 876_000),
    ("months", 1_200),
];

fn read_period(cx: &mut Cx<'_>, p: &RawPeriod, allow_zero: bool) -> Option<Period> {
    let max = MAX_PERIOD
        .iter()
        .find(|(u, _)| *u == p.unit.v)
        .map_or(36_500, |(_, m)| *m);
    let n = match u32::try_from(p.n.v) {
        Ok(n) if (n > 0 || allow_zero) && n <= max => n,
        Ok(n) if n > max => {
            cx.error(
                "invalid-period",
                p.n.span.clone(),
                format!(
                    "a period of {} {} is longer than any statute sets",
                    p.n.v, p.unit.v
                ),
            )
            .help = Some(format!(
                "the longest period a rule may write is {max} {} (a hundred years); check the number against the article",
                p.unit.v
            ));
            return None;
        }
        _ => {
            cx.error(
                "invalid-period",
                p.n.span.clone(),
                format!("a period of {} {} is not allowed", p.n.v, p.unit.v),
            )
            .help = Some(if allow_zero {
                format!("write a whole number from 0 up to {max}")
            } else {
                format!("write a whole number from 1 up to {max}")
            });
            return None;
        }
    };
    match p.unit.v.as_str() {
        "days" => Some(Period::Days(n)),
        "working_days" => Some(Period::WorkingDays(n)),
        "months" => Some(Period::Months(n)),
        _ => Some(Period::Hours(n)),
    }
}

/// An id → index table with a fast hash and a fixed seed (the keys are the file's own ids):
/// the procedure's own index keeps those of states, tracks and actions.
type IdTable = crate::model::IdMap;

struct Names {
    /// Shared with the guards' environment ([`Env::states`]), kept by the procedure's index.
    states: Arc<IdTable>,
    tracks: IdTable,
    track_states: Vec<IdTable>,
    /// Shared with the guards' environment ([`Env::actions`]), kept by the procedure's index.
    actions: Arc<IdTable>,
}

impl Names {
    /// `drafting` (a state) or `participation.open` (a track state).
    fn place(&self, id: &str) -> Option<Place> {
        match id.split_once('.') {
            None => self.states.get(id).map(|s| Place::State(*s)),
            Some((t, s)) => {
                let track = *self.tracks.get(t)?;
                let state = *self.track_states.get(track)?.get(s)?;
                Some(Place::Track { track, state })
            }
        }
    }

    fn place_candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = self.states.keys().cloned().collect();
        for (t, ti) in &self.tracks {
            if let Some(ts) = self.track_states.get(*ti) {
                out.extend(ts.keys().map(|s| format!("{t}.{s}")));
            }
        }
        out.sort();
        out
    }
}

fn unknown_place(cx: &mut Cx<'_>, names: &Names, r: &S<String>, what: &str) {
    let candidates = names.place_candidates();
    let help = did_you_mean(&r.v, candidates.iter().map(String::as_str)).unwrap_or_else(|| {
        "a place is a state id (`drafting`) or a track state written `track.state` (`participation.open`)".into()
    });
    cx.error(
        "unknown-state",
        r.span.clone(),
        format!("{what} `{}` is not a declared state", r.v),
    )
    .help = Some(help);
}

/// The index of `(action, field)` among the payload fields a case keeps, added if new.
fn keep_field(kept: &mut Vec<(usize, usize)>, action: usize, field: usize) -> usize {
    match kept.iter().position(|k| *k == (action, field)) {
        Some(k) => k,
        None => {
            kept.push((action, field));
            kept.len() - 1
        }
    }
}

/// What an `after` name resolves to.
enum AnchorName {
    Anchor(Anchor),
    /// A date field of an action's payload: `(action, field)`.
    Payload(usize, usize),
}

/// Resolves one name of `after`: an action, a place, a date fact, a time rule, or
/// `action.payload.field` (a date field).
fn resolve_anchor(
    cx: &mut Cx<'_>,
    r: &S<String>,
    names: &Names,
    fact_env: &Env,
    time_ids: &[&str],
    action_ids: &[&str],
    actions: &[Action],
) -> Option<AnchorName> {
    if let Some(a) = names.actions.get(&r.v) {
        return Some(AnchorName::Anchor(Anchor::Action(*a)));
    }
    if let Some(p) = names.place(&r.v) {
        return Some(AnchorName::Anchor(Anchor::Entered(p)));
    }
    if let Some(VarInfo {
        slot: VarSlot::Fact(fi),
        ty,
    }) = fact_env.vars.get(&r.v)
    {
        if *ty == Type::Date {
            return Some(AnchorName::Anchor(Anchor::Date(*fi)));
        }
        cx.error(
            "unknown-anchor",
            r.span.clone(),
            format!(
                "`after = \"{}\"` names a fact of type {ty}; only a date fact can start a period",
                r.v
            ),
        )
        .help = Some("name an action, a state, or a fact of type `date`".into());
        return None;
    }
    if let Some(ri) = time_ids.iter().position(|x| *x == r.v) {
        return Some(AnchorName::Anchor(Anchor::Due(ri)));
    }
    if let Some((action, field)) = r.v.split_once(".payload.") {
        let Some(ai) = names.actions.get(action).copied() else {
            let help = did_you_mean(action, action_ids.iter().copied())
                .unwrap_or_else(|| "write `action.payload.field`, naming a declared action".into());
            cx.error(
                "unknown-anchor",
                r.span.clone(),
                format!("`after = \"{}\"`: `{action}` is not an action", r.v),
            )
            .help = Some(help);
            return None;
        };
        let a = actions.get(ai)?;
        return match a.payload.iter().position(|f| f.meta.id == field) {
            Some(fi) if a.payload.get(fi).is_some_and(|f| f.ty == Type::Date) => {
                Some(AnchorName::Payload(ai, fi))
            }
            Some(_) => {
                cx.error(
                    "unknown-anchor",
                    r.span.clone(),
                    format!(
                        "`after = \"{}\"`: `payload.{field}` of `{action}` is not a date",
                        r.v
                    ),
                )
                .help = Some(format!(
                    "declare it `{field} = {{ type = \"date\" }}` in `[actions.{action}.payload]`"
                ));
                None
            }
            None => {
                let known: Vec<&str> = a.payload.iter().map(|f| f.meta.id.as_str()).collect();
                let help = did_you_mean(field, known.iter().copied()).unwrap_or_else(|| {
                    format!("add a date field `{field}` to `[actions.{action}.payload]`")
                });
                cx.error(
                    "unknown-anchor",
                    r.span.clone(),
                    format!(
                        "`after = \"{}\"`: action `{action}` has no payload field `{field}`",
                        r.v
                    ),
                )
                .help = Some(help);
                None
            }
        };
    }
    let mut known = names.place_candidates();
    known.extend(action_ids.iter().map(|s| (*s).to_owned()));
    known.extend(time_ids.iter().map(|s| (*s).to_owned()));
    let help = did_you_mean(&r.v, known.iter().map(String::as_str))
        .unwrap_or_else(|| "`after` names an action (counted from when it was taken), a state (from when it was entered), a date fact, a deadline (from its end), or a date in an action's payload (`notify.payload.comment_until`)".into());
    cx.error("unknown-anchor", r.span.clone(), format!("`after = \"{}\"` is neither an action, a state, a date fact, a time rule nor a payload date", r.v)).help = Some(help);
    None
}

fn index_of(items: &[&str], id: &str) -> Option<usize> {
    items.iter().position(|i| *i == id)
}

fn unknown(
    cx: &mut Cx<'_>,
    code: &'static str,
    r: &S<String>,
    what: &str,
    known: &[&str],
    declare: &str,
) {
    let help = did_you_mean(&r.v, known.iter().copied()).unwrap_or_else(|| {
        if known.is_empty() {
            format!("declare it under `[{declare}]`")
        } else {
            format!(
                "declare it under `[{declare}]`, or use one of {}",
                super::reader::list(known)
            )
        }
    });
    cx.error(code, r.span.clone(), format!("unknown {what} `{}`", r.v))
        .help = Some(help);
}

/// Resolves a raw procedure into the model. Returns `None` when there were errors (they are
/// in `cx`); warnings do not stop it.
pub(crate) fn resolve(
    cx: &mut Cx<'_>,
    raw: &RawProcedure,
    laws: &Laws,
) -> Option<(Procedure, Spans)> {
    let h = &raw.header;
    let valid_from = h.valid_from.as_ref().and_then(citation::date);
    let cited = citation::check(cx, laws, raw, valid_from);
    let mut spans = Spans {
        header: h.span.clone(),
        ..Spans::default()
    };

    if let Some(v) = &h.version
        && (v.v < 1 || u32::try_from(v.v).is_err())
    {
        cx.error(
            "invalid-version",
            v.span.clone(),
            format!("version {} is not allowed", v.v),
        )
        .help = Some("versions are whole numbers from 1 up".into());
    }

    // Roles, documents.
    let role_ids = ids(&raw.roles, |r| r.id.v.as_str());
    let doc_ids = ids(&raw.documents, |d| d.id.v.as_str());
    spans.roles = raw.roles.iter().map(|r| r.id.span.clone()).collect();

    // Facts.
    let mut facts = Vec::new();
    let mut env = Env::default();
    for (i, f) in raw.facts.iter().enumerate() {
        let ty = field_type(cx, f);
        let labels = field_labels(cx, f, ty.as_ref());
        let default = match (&f.default, &ty) {
            (Some(d), Some(ty)) => literal(cx, d, ty, &format!("the default of `{}`", f.meta.id.v)),
            _ => None,
        };
        let required = f.required.as_ref().is_some_and(|r| r.v);
        if required
            && f.default.is_some()
            && let Some(d) = &f.default
        {
            cx.warning(
                "required-with-default",
                d.span.clone(),
                format!(
                    "fact `{}` is required, so its default is never used",
                    f.meta.id.v
                ),
            )
            .help = Some("remove `default`, or `required = true`".into());
        }
        let ty = ty.unwrap_or(Type::Bool);
        env.vars.insert(
            f.meta.id.v.clone(),
            VarInfo {
                slot: VarSlot::Fact(i),
                ty: ty.clone(),
            },
        );
        facts.push(Fact {
            meta: meta(&cited, &f.meta),
            ty,
            required,
            default,
            labels,
        });
    }

    // States and tracks: names first, so that references resolve in any order.
    let state_ids = ids(&raw.states, |s| s.meta.id.v.as_str());
    let track_ids = ids(&raw.tracks, |t| t.meta.id.v.as_str());
    let action_ids = ids(&raw.actions, |a| a.meta.id.v.as_str());
    spans.states = raw.states.iter().map(|s| s.meta.id.span.clone()).collect();
    spans.tracks = raw.tracks.iter().map(|t| t.meta.id.span.clone()).collect();
    spans.actions = raw.actions.iter().map(|a| a.meta.id.span.clone()).collect();
    spans.track_states = raw
        .tracks
        .iter()
        .map(|t| t.states.iter().map(|s| s.id.span.clone()).collect())
        .collect();

    for t in &raw.tracks {
        if env.vars.contains_key(&t.meta.id.v) {
            cx.error(
                "duplicate-id",
                t.meta.id.span.clone(),
                format!("`{}` is both a fact and a track", t.meta.id.v),
            )
            .help = Some("guards read facts and tracks by the same bare name: rename one".into());
        }
    }

    let names = Names {
        states: Arc::new(
            state_ids
                .iter()
                .enumerate()
                .map(|(i, s)| ((*s).to_owned(), i))
                .collect(),
        ),
        tracks: track_ids
            .iter()
            .enumerate()
            .map(|(i, s)| ((*s).to_owned(), i))
            .collect(),
        track_states: raw
            .tracks
            .iter()
            .map(|t| {
                t.states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.id.v.clone(), i))
                    .collect()
            })
            .collect(),
        actions: Arc::new(
            action_ids
                .iter()
                .enumerate()
                .map(|(i, s)| ((*s).to_owned(), i))
                .collect(),
        ),
    };

    for a in &raw.actions {
        if names.states.contains_key(a.meta.id.v.as_str()) {
            cx.error("duplicate-id", a.meta.id.span.clone(), format!("`{}` is both a state and an action", a.meta.id.v))
                .help = Some("states and actions share one namespace (invariants and time rules name either): rename one".into());
        }
    }
    for (i, t) in raw.tracks.iter().enumerate() {
        let states: Arc<[String]> = t
            .states
            .iter()
            .map(|s| s.id.v.clone())
            .collect::<Vec<_>>()
            .into();
        env.tracks
            .insert(t.meta.id.v.clone(), TrackInfo { index: i, states });
    }
    env.actions = Ids::shared(&names.actions);
    env.documents = doc_ids
        .iter()
        .enumerate()
        .map(|(i, d)| ((*d).to_owned(), i))
        .collect();
    env.states = Ids::shared(&names.states);
    env.time_rules = raw
        .time
        .iter()
        .enumerate()
        .map(|(i, t)| (t.meta.id.v.clone(), i))
        .collect();

    // Header references.
    let initial = match &h.initial {
        Some(i) => {
            spans.initial = i.span.clone();
            match names.states.get(&i.v) {
                Some(s) => Some(*s),
                None => {
                    unknown(
                        cx,
                        "unknown-state",
                        i,
                        "initial state",
                        &state_ids,
                        "states",
                    );
                    None
                }
            }
        }
        None => None,
    };
    let mut terminal = vec![false; raw.states.len()];
    for t in &h.terminal {
        match names.states.get(&t.v) {
            Some(s) => {
                if let Some(flag) = terminal.get_mut(*s) {
                    if *flag {
                        cx.error(
                            "duplicate-id",
                            t.span.clone(),
                            format!("terminal state `{}` is listed twice", t.v),
                        )
                        .help = Some("remove the second one".into());
                    }
                    *flag = true;
                }
            }
            None => unknown(
                cx,
                "unknown-state",
                t,
                "terminal state",
                &state_ids,
                "states",
            ),
        }
    }

    // Which state each track runs in.
    let mut parent: Vec<Option<usize>> = vec![None; raw.tracks.len()];
    let mut states = Vec::with_capacity(raw.states.len());
    for (si, s) in raw.states.iter().enumerate() {
        let mut tracks = Vec::new();
        for t in &s.tracks {
            match names.tracks.get(&t.v) {
                Some(ti) => {
                    if let Some(p) = parent.get_mut(*ti) {
                        match p {
                            Some(other) => {
                                let other_id = state_ids.get(*other).copied().unwrap_or_default();
                                cx.error("track-in-two-states", t.span.clone(), format!("track `{}` already runs in state `{other_id}`", t.v))
                                    .help = Some("a track belongs to one state; declare a second track for the other state".into());
                            }
                            None => *p = Some(si),
                        }
                    }
                    tracks.push(*ti);
                }
                None => unknown(cx, "unknown-track", t, "track", &track_ids, "tracks"),
            }
        }
        if !tracks.is_empty() && terminal.get(si).copied().unwrap_or(false) {
            cx.error(
                "terminal-with-tracks",
                s.meta.id.span.clone(),
                format!("terminal state `{}` has tracks", s.meta.id.v),
            )
            .help = Some(
                "nothing happens in a terminal state: move the tracks to a state before it".into(),
            );
        }
        states.push(State {
            meta: meta(&cited, &s.meta),
            tracks,
            terminal: terminal.get(si).copied().unwrap_or(false),
        });
    }

    let mut tracks = Vec::new();
    for (ti, t) in raw.tracks.iter().enumerate() {
        let tstate_ids = ids(&t.states, |s| s.id.v.as_str());
        if tstate_ids.is_empty() {
            cx.error(
                "empty-track",
                t.meta.id.span.clone(),
                format!("track `{}` has no states", t.meta.id.v),
            )
            .help = Some(format!(
                "add `[tracks.{}.states]` with at least an initial and a final state",
                t.meta.id.v
            ));
        }
        let p = match parent.get(ti).copied().flatten() {
            Some(p) => p,
            None => {
                cx.warning(
                    "unused-track",
                    t.meta.id.span.clone(),
                    format!("track `{}` runs in no state", t.meta.id.v),
                )
                .help = Some(format!(
                    "list it in a state: `tracks = [\"{}\"]`",
                    t.meta.id.v
                ));
                usize::MAX
            }
        };
        let initial = t
            .initial
            .as_ref()
            .and_then(|i| match index_of(&tstate_ids, &i.v) {
                Some(x) => Some(x),
                None => {
                    unknown(
                        cx,
                        "unknown-state",
                        i,
                        &format!("initial state of track `{}`:", t.meta.id.v),
                        &tstate_ids,
                        &format!("tracks.{}.states", t.meta.id.v),
                    );
                    None
                }
            });
        let mut finals = Vec::new();
        for f in &t.finals {
            match index_of(&tstate_ids, &f.v) {
                Some(x) => finals.push(x),
                None => unknown(
                    cx,
                    "unknown-state",
                    f,
                    &format!("final state of track `{}`:", t.meta.id.v),
                    &tstate_ids,
                    &format!("tracks.{}.states", t.meta.id.v),
                ),
            }
        }
        let active_if = t.active_if.as_ref().and_then(|g| {
            let e = compile(cx, g, &env, &Type::Bool)?;
            warn_never(cx, &e, g, "the condition");
            Some(e)
        });
        tracks.push(Track {
            meta: meta(&cited, &t.meta),
            parent: p,
            states: t.states.iter().map(|m| meta(&cited, m)).collect(),
            initial: initial.unwrap_or(0),
            finals,
            active_if,
        });
    }

    // Actions.
    let mut actions = Vec::with_capacity(raw.actions.len());
    let mut empty_schema: Option<std::sync::Arc<serde_json::Value>> = None;
    for a in &raw.actions {
        let aid = &a.meta.id.v;
        let mut from = Vec::new();
        if let Some(f) = &a.from {
            if f.v.is_empty() {
                cx.error(
                    "missing-key",
                    f.span.clone(),
                    format!("action `{aid}` is taken from no state"),
                )
                .help = Some("list at least one state in `from`".into());
            }
            for r in &f.v {
                match names.place(&r.v) {
                    Some(p) => {
                        if let Place::State(s) = p
                            && terminal.get(s).copied().unwrap_or(false)
                        {
                            cx.error("action-from-terminal", r.span.clone(), format!("action `{aid}` leaves terminal state `{}`", r.v))
                                    .help = Some("a terminal state ends the procedure; make the state non-terminal or remove it from `from`".into());
                        }
                        from.push(p);
                    }
                    None => unknown_place(cx, &names, r, "`from` state"),
                }
            }
        }
        let to = a.to.as_ref().and_then(|r| match names.place(&r.v) {
            Some(p) => Some(p),
            None => {
                unknown_place(cx, &names, r, "`to` state");
                None
            }
        });
        // All places in one machine.
        let machine = |p: &Place| match p {
            Place::State(_) => None,
            Place::Track { track, .. } => Some(*track),
        };
        let track = from.first().and_then(machine);
        let mixed = from.iter().any(|p| machine(p) != track)
            || to.as_ref().is_some_and(|p| machine(p) != track);
        if mixed && !from.is_empty() {
            let span =
                a.to.as_ref()
                    .map_or_else(|| a.meta.id.span.clone(), |t| t.span.clone());
            cx.error("mixed-machines", span, format!("action `{aid}` mixes states of different machines"))
                .help = Some("an action moves within the main machine (`drafting` → `legality_review`) or within one track (`participation.open` → `participation.closed`)".into());
        }
        let mut by = Vec::new();
        if let Some(b) = &a.by {
            if b.v.is_empty() {
                cx.warning(
                    "no-role",
                    b.span.clone(),
                    format!("no role may take action `{aid}`"),
                )
                .help =
                    Some("list the roles that may take it in `by`, or remove the action".into());
            }
            for r in &b.v {
                match index_of(&role_ids, &r.v) {
                    Some(x) => by.push(x),
                    None => unknown(cx, "unknown-role", r, "role", &role_ids, "roles"),
                }
            }
        }
        let mut documents = Vec::new();
        for d in &a.documents {
            match index_of(&doc_ids, &d.v) {
                Some(x) => documents.push(x),
                None => unknown(
                    cx,
                    "unknown-document",
                    d,
                    "document kind",
                    &doc_ids,
                    "documents",
                ),
            }
        }
        let mut payload = Vec::new();
        // The payload's fields are visible to this action's guards only: added to the
        // environment here and removed below (no copy of the environment per action).
        for (pi, f) in a.payload.iter().enumerate() {
            let parsed = field_type(cx, f);
            let labels = field_labels(cx, f, parsed.as_ref());
            let ty = parsed.unwrap_or(Type::Bool);
            env.vars.insert(
                format!("payload.{}", f.meta.id.v),
                VarInfo {
                    slot: VarSlot::Payload(pi),
                    ty: ty.clone(),
                },
            );
            payload.push(Field {
                meta: meta(&cited, &f.meta),
                labels,
                ty,
                required: f.required.as_ref().is_some_and(|r| r.v),
            });
        }
        // `late(rule)` and `overdue(rule)` are read only where a command is decided.
        env.time_functions = true;
        let (when, conditions) = match &a.when {
            Some(g) => (
                compile(cx, g, &env, &Type::Bool).inspect(|e| warn_never(cx, e, g, "the guard")),
                Vec::new(),
            ),
            None => conditions(cx, &cited, &a.conditions, &env, "the guard"),
        };
        env.time_functions = false;
        let mut sets = Vec::new();
        for (fact, value) in &a.sets {
            match env.vars.get(&fact.v) {
                Some(VarInfo {
                    slot: VarSlot::Fact(fi),
                    ty,
                }) => {
                    if let Some(e) = compile(cx, value, &env, ty) {
                        sets.push((*fi, e));
                    }
                }
                _ => {
                    let fact_ids = ids(&raw.facts, |f| f.meta.id.v.as_str());
                    unknown(cx, "unknown-fact", fact, "fact", &fact_ids, "facts");
                }
            }
        }
        env.time_functions = true;
        let reason = match &a.reason {
            None
            | Some(S {
                v: RawReason::Always(false),
                ..
            }) => ReasonRule::Optional,
            Some(S {
                v: RawReason::Always(true),
                ..
            }) => ReasonRule::Required,
            Some(S {
                v: RawReason::When(g),
                ..
            }) => match compile(cx, g, &env, &Type::Bool) {
                Some(e) => {
                    warn_never(cx, &e, g, "the condition");
                    ReasonRule::RequiredWhen(e)
                }
                None => ReasonRule::Optional,
            },
        };
        let mut documents_when = Vec::new();
        for (kind, guard) in &a.documents_when {
            let Some(d) = index_of(&doc_ids, &kind.v) else {
                unknown(
                    cx,
                    "unknown-document",
                    kind,
                    "document kind",
                    &doc_ids,
                    "documents",
                );
                continue;
            };
            if documents.contains(&d) {
                cx.error("duplicate-id", kind.span.clone(), format!("document `{}` is required always (`documents`) and under a condition (`documents_when`)", kind.v))
                    .help = Some("keep it in one of the two".into());
            }
            if let Some(e) = compile(cx, guard, &env, &Type::Bool) {
                warn_never(cx, &e, guard, "the condition");
                documents_when.push((d, e));
            }
        }
        env.vars.retain(|k, _| !k.starts_with("payload."));
        env.time_functions = false;
        let max_times = a
            .max_times
            .as_ref()
            .and_then(|b| times_bound(cx, &cited, b, a.meta.basis.is_some()));
        let mut action = Action {
            meta: meta(&cited, &a.meta),
            from,
            to,
            track,
            by,
            when,
            conditions,
            documents,
            payload,
            sets,
            reason,
            documents_when,
            payload_schema: std::sync::Arc::new(serde_json::Value::Null),
            payload_in_guards: Vec::new(),
            payload_in_sets: Vec::new(),
            sets_one_by_one: false,
            max_times,
        };
        // Most actions have no payload: they share one schema.
        action.payload_schema = if action.payload.is_empty() {
            empty_schema
                .get_or_insert_with(|| std::sync::Arc::new(crate::model::payload_schema(&action)))
                .clone()
        } else {
            std::sync::Arc::new(crate::model::payload_schema(&action))
        };
        let reads = |exprs: &[&Expr]| -> Vec<bool> {
            if action.payload.is_empty() {
                return Vec::new();
            }
            let names: Vec<String> = exprs.iter().flat_map(|e| e.references()).collect();
            action
                .payload
                .iter()
                .map(|f| {
                    names
                        .iter()
                        .any(|n| n.strip_prefix("payload.") == Some(f.meta.id.as_str()))
                })
                .collect()
        };
        let mut guards: Vec<&Expr> = action.when.iter().collect();
        if let ReasonRule::RequiredWhen(e) = &action.reason {
            guards.push(e);
        }
        guards.extend(action.documents_when.iter().map(|(_, e)| e));
        let in_guards = reads(&guards);
        let in_sets = reads(&action.sets.iter().map(|(_, e)| e).collect::<Vec<_>>());
        action.payload_in_guards = in_guards;
        action.payload_in_sets = in_sets;
        action.sets_one_by_one = !action
            .sets
            .iter()
            .any(|(_, e)| action.sets.iter().any(|(f, _)| e.reads_fact(*f)));
        actions.push(action);
    }

    // Time rules.
    let mut time_rules = Vec::with_capacity(raw.time.len());
    let time_ids: Vec<&str> = raw.time.iter().map(|t| t.meta.id.v.as_str()).collect();
    for t in &raw.time {
        if names.actions.contains_key(&t.meta.id.v) || names.states.contains_key(&t.meta.id.v) {
            cx.error(
                "duplicate-id",
                t.meta.id.span.clone(),
                format!(
                    "time rule `{}` has the id of a state or an action",
                    t.meta.id.v
                ),
            )
            .help = Some(
                "`after` names states, actions and time rules alike: rename the time rule".into(),
            );
        }
    }
    let fact_env = &env;
    let mut stop_places: Vec<Place> = Vec::new();
    let mut kept_payload: Vec<(usize, usize)> = Vec::new();
    // The span of each resolved rule's `after`, for the checks across rules below.
    let mut after_spans = Vec::new();
    // The raw index of each kept rule: a rule with an error is not kept, so the two lists
    // differ, and `Anchor::Due` (a raw index while reading) is turned into a kept one below.
    let mut raw_index: Vec<usize> = Vec::new();
    for (ti, t) in raw.time.iter().enumerate() {
        let tid = &t.meta.id.v;
        let (kind, p) = match (&t.at_least, &t.within) {
            (Some(p), None) => (TimeRuleKind::AtLeast, p),
            (None, Some(p)) => (TimeRuleKind::Within, p),
            (Some(_), Some(w)) => {
                cx.error(
                    "invalid-period",
                    w.span.clone(),
                    format!("time rule `{tid}` is both a minimum and a deadline"),
                )
                .help =
                    Some("write two time rules, one with `at_least` and one with `within`".into());
                continue;
            }
            (None, None) => continue,
        };
        // A deadline of 0 days is allowed only on a date (checked below, once `after` is known).
        let Some(period) = p.v.as_ref().and_then(|p| read_period(cx, p, true)) else {
            continue;
        };
        let zero_span = p.v.as_ref().map_or(0..0, |p| p.n.span.clone());
        let mut after = Vec::new();
        let mut after_ok = true;
        if let Some(list) = &t.after {
            if list.v.is_empty() {
                cx.error(
                    "missing-key",
                    list.span.clone(),
                    format!("time rule `{tid}` is counted from nothing"),
                )
                .help = Some(
                    "name what it counts from: `after = \"accept\"` or `after = [\"accept\", \"supplement\"]`".into(),
                );
                after_ok = false;
            }
            for r in &list.v {
                match resolve_anchor(cx, r, &names, fact_env, &time_ids, &action_ids, &actions) {
                    Some(AnchorName::Anchor(a)) => after.push(a),
                    Some(AnchorName::Payload(a, f)) => {
                        after.push(Anchor::PayloadDate(keep_field(&mut kept_payload, a, f)));
                    }
                    None => after_ok = false,
                }
            }
        }
        let mut restrained = Vec::new();
        if let Some(list) = &t.actions {
            if list.v.is_empty() {
                cx.error(
                    "missing-key",
                    list.span.clone(),
                    format!("time rule `{tid}` names no action"),
                )
                .help =
                    Some("list the actions it restrains (`at_least`) or expects (`within`)".into());
            }
            for r in &list.v {
                match names.actions.get(&r.v) {
                    Some(a) => restrained.push(*a),
                    None => unknown(cx, "unknown-action", r, "action", &action_ids, "actions"),
                }
            }
        }
        let unless = t.unless.as_ref().and_then(|g| {
            let e = compile(cx, g, fact_env, &Type::Bool)?;
            warn_never(cx, &e, g, "the exception");
            Some(e)
        });
        let applies_if = t.applies_if.as_ref().and_then(|g| {
            let e = compile(cx, g, fact_env, &Type::Bool)?;
            warn_never(cx, &e, g, "the condition");
            Some(e)
        });
        if let (Some(_), Some(a)) = (&t.unless, &t.applies_if) {
            cx.error(
                "exclusive-options",
                a.span.clone(),
                format!("time rule `{tid}` has both `unless` and `applies_if`"),
            )
            .help = Some(
                "keep one: `applies_if = \"x\"` says the same as `unless = \"!x\"`; join two conditions with `&&` or `||`".into(),
            );
        }
        let mut stops = Vec::new();
        if let Some(list) = &t.stops {
            if kind == TimeRuleKind::AtLeast {
                cx.error(
                    "misplaced-option",
                    list.span.clone(),
                    "`stops` applies only to deadlines (`within`)",
                )
                .help = Some("remove `stops`, or make the rule `within`".into());
            }
            for r in &list.v {
                match names.place(&r.v) {
                    Some(place) => {
                        let i = match stop_places.iter().position(|p| *p == place) {
                            Some(i) => i,
                            None => {
                                stop_places.push(place);
                                stop_places.len() - 1
                            }
                        };
                        if !stops.contains(&i) {
                            stops.push(i);
                        }
                    }
                    None => unknown_place(cx, &names, r, "`stops` place"),
                }
            }
        }
        let below_with_reason = t.below_with_reason.as_ref().is_some_and(|b| b.v);
        if let (Some(b), TimeRuleKind::Within) = (&t.below_with_reason, kind) {
            cx.error(
                "misplaced-option",
                b.span.clone(),
                "`below_with_reason` applies only to minimum periods (`at_least`)",
            )
            .help = Some("remove it, or make the rule `at_least`".into());
        }
        let strict = t.strict.as_ref().is_some_and(|b| b.v);
        if let (Some(s), TimeRuleKind::AtLeast) = (&t.strict, kind) {
            cx.error(
                "misplaced-option",
                s.span.clone(),
                "`strict` applies only to deadlines (`within`)",
            )
            .help = Some("a minimum period always refuses an early action; remove `strict`".into());
        }
        let optional = t.optional.as_ref().is_some_and(|b| b.v);
        if let (Some(o), TimeRuleKind::AtLeast) = (&t.optional, kind) {
            cx.error(
                "misplaced-option",
                o.span.clone(),
                "`optional` applies only to deadlines (`within`)",
            )
            .help = Some(
                "remove `optional`; a minimum period restrains actions, it expects none".into(),
            );
        }
        let extension = match (&t.extension, kind) {
            (None, _) => None,
            (Some(e), TimeRuleKind::AtLeast) => {
                cx.error(
                    "misplaced-option",
                    e.span.clone(),
                    "`extension` applies only to deadlines (`within`)",
                )
                .help = Some("remove `extension`, or make the rule `within`".into());
                None
            }
            (Some(e), TimeRuleKind::Within) => e.v.as_ref().and_then(|p| read_period(cx, p, false)),
        };
        let mut extended_by = Vec::new();
        if let Some(list) = &t.extended_by {
            for r in &list.v {
                match names.actions.get(&r.v) {
                    Some(a) => extended_by.push(*a),
                    None => unknown(cx, "unknown-action", r, "action", &action_ids, "actions"),
                }
            }
        }
        match (&t.extension, &t.extended_by) {
            (Some(e), None) => {
                cx.error(
                    "missing-key",
                    e.span.clone(),
                    format!("time rule `{tid}` has an `extension` but no `extended_by`"),
                )
                .help = Some(
                    "name the action that extends it: `extended_by = \"approve_extension\"`".into(),
                );
            }
            (None, Some(b)) => {
                cx.error(
                    "missing-key",
                    b.span.clone(),
                    format!("time rule `{tid}` has `extended_by` but no `extension`"),
                )
                .help = Some("say by how much: `extension = { days = 30 }`".into());
            }
            _ => {}
        }
        let mut extension_from = Vec::new();
        if let Some(src) = &t.extension_from {
            if t.extension.is_none() {
                cx.error(
                    "missing-key",
                    src.span.clone(),
                    format!("time rule `{tid}` has `extension_from` but no `extension`"),
                )
                .help = Some(
                    "give the statutory maximum the approved length may not exceed: `extension = { days = 30 }`".into(),
                );
            }
            match src.v.strip_prefix("payload.") {
                None => {
                    cx.error(
                        "bad-extension-source",
                        src.span.clone(),
                        format!("`extension_from = \"{}\"` is not a payload field", src.v),
                    )
                    .help = Some(
                        "name an integer field of the extending action's payload: `extension_from = \"payload.days\"`".into(),
                    );
                }
                Some(field) => {
                    for &ai in &extended_by {
                        let Some(a) = actions.get(ai) else { continue };
                        match a.payload.iter().position(|f| f.meta.id == field) {
                            Some(fi)
                                if a.payload.get(fi).is_some_and(|f| f.ty == Type::Integer) =>
                            {
                                extension_from.push((ai, keep_field(&mut kept_payload, ai, fi)));
                            }
                            Some(_) => {
                                cx.error(
                                    "bad-extension-source",
                                    src.span.clone(),
                                    format!(
                                        "`payload.{field}` of action `{}` is not an integer",
                                        a.meta.id
                                    ),
                                )
                                .help = Some(format!(
                                    "declare it `{field} = {{ type = \"integer\", required = true }}` in `[actions.{}.payload]`",
                                    a.meta.id
                                ));
                            }
                            None => {
                                cx.error(
                                    "bad-extension-source",
                                    src.span.clone(),
                                    format!(
                                        "action `{}` has no payload field `{field}`",
                                        a.meta.id
                                    ),
                                )
                                .help = Some(format!(
                                    "add `{field} = {{ type = \"integer\", required = true }}` to `[actions.{}.payload]`",
                                    a.meta.id
                                ));
                            }
                        }
                    }
                }
            }
        }
        let zero = matches!(
            period,
            Period::Days(0) | Period::WorkingDays(0) | Period::Hours(0) | Period::Months(0)
        );
        if kind == TimeRuleKind::Within
            && zero
            && after_ok
            && !(matches!(period, Period::Days(0))
                && after
                    .iter()
                    .all(|a| matches!(a, Anchor::Date(_) | Anchor::PayloadDate(_))))
        {
            cx.error(
                "invalid-period",
                zero_span,
                format!("time rule `{tid}` is a deadline of no time"),
            )
            .help = Some(
                "write a positive whole number; only a deadline on a date (`after` a date fact or a payload date) may be `within = { days = 0 }`: due at the end of that day".into(),
            );
        }
        if !after_ok || after.is_empty() {
            continue;
        }
        let after_span = t.after.as_ref().map_or(0..0, |a| a.span.clone());
        if after.iter().any(|a| matches!(a, Anchor::Due(_))) && matches!(period, Period::Hours(_)) {
            cx.error(
                "invalid-period",
                after_span.clone(),
                format!("time rule `{tid}` counts hours from the end of a deadline"),
            )
            .help = Some(
                "a deadline ends with a day: count `days`, `working_days` or `months` after it"
                    .into(),
            );
        }
        raw_index.push(ti);
        after_spans.push(after_span);
        spans.time_rules.push(t.meta.id.span.clone());
        time_rules.push(TimeRule {
            meta: meta(&cited, &t.meta),
            kind,
            period,
            after,
            actions: restrained,
            unless,
            applies_if,
            stops,
            below_with_reason,
            strict,
            optional,
            extension,
            extended_by,
            extension_from,
        });
    }
    // `Anchor::Due` from raw to kept indices. An anchor on a rule that was not kept (its
    // error is reported already) is dropped, so that no later message names the wrong rule.
    let kept_index = |ri: usize| raw_index.iter().position(|&x| x == ri);
    for rule in &mut time_rules {
        rule.after = rule
            .after
            .iter()
            .filter_map(|a| match a {
                Anchor::Due(ri) => kept_index(*ri).map(Anchor::Due),
                other => Some(*other),
            })
            .collect();
    }
    // A period counted from the end of a deadline: that rule must be a deadline, and the
    // chain of such anchors must not go round in a circle.
    for (i, rule) in time_rules.iter().enumerate() {
        let span = after_spans.get(i).cloned().unwrap_or(0..0);
        let mut seen = vec![false; time_rules.len()];
        let mut todo: Vec<usize> = Vec::new();
        for a in &rule.after {
            if let Anchor::Due(next) = a {
                match time_rules.get(*next) {
                    Some(target) if target.kind != TimeRuleKind::Within => {
                        cx.error("unknown-anchor", span.clone(), format!("time rule `{}` counts from the end of `{}`, which is a minimum, not a deadline", rule.meta.id, target.meta.id))
                            .help = Some("count from the end of a `within` rule, or from the action or state it counts from".into());
                    }
                    _ => todo.push(*next),
                }
            }
        }
        while let Some(next) = todo.pop() {
            if next == i {
                cx.error("unknown-anchor", span.clone(), format!("time rule `{}` counts from a deadline that, in the end, counts from itself", rule.meta.id))
                    .help = Some("anchor one of the rules on an action, a state or a date fact".into());
                break;
            }
            if seen.get(next).copied().unwrap_or(true) {
                continue;
            }
            if let Some(s) = seen.get_mut(next) {
                *s = true;
            }
            if let Some(target) = time_rules.get(next) {
                todo.extend(target.after.iter().filter_map(|a| match a {
                    Anchor::Due(r) => Some(*r),
                    _ => None,
                }));
            }
        }
    }

    // The payload fields a case keeps are decoded when their action is applied; an
    // extension's length also when it is decided (to refuse one above the maximum).
    for (a, f) in &kept_payload {
        if let Some(slot) = actions
            .get_mut(*a)
            .and_then(|a| a.payload_in_sets.get_mut(*f))
        {
            *slot = true;
        }
    }
    for rule in &time_rules {
        for (a, k) in &rule.extension_from {
            if let Some((_, f)) = kept_payload.get(*k)
                && let Some(slot) = actions
                    .get_mut(*a)
                    .and_then(|a| a.payload_in_guards.get_mut(*f))
            {
                *slot = true;
            }
        }
    }

    // Invariants.
    let mut invariants = Vec::new();
    let node = |cx: &mut Cx<'_>, r: &S<String>| -> Option<Node> {
        if let Some(s) = names.states.get(&r.v) {
            return Some(Node::State(*s));
        }
        if let Some(a) = names.actions.get(&r.v) {
            if actions.get(*a).is_some_and(|x: &Action| x.track.is_some()) {
                cx.error("invariant-on-track", r.span.clone(), format!("`{}` is a track action; invariants speak of the main machine", r.v))
                    .help = Some("name a main state or action; order inside tracks is kept by the join guard (`done(track)`)".into());
                return None;
            }
            return Some(Node::Action(*a));
        }
        if let Some(Place::Track { .. }) = names.place(&r.v) {
            cx.error("invariant-on-track", r.span.clone(), format!("`{}` is a track state; invariants speak of the main machine", r.v))
                .help = Some("name a main state or action; order inside a track is kept by its own actions, and the join guard (`done(track)`) waits for it".into());
            return None;
        }
        let mut known: Vec<&str> = state_ids.clone();
        known.extend(action_ids.iter().copied());
        let help = did_you_mean(&r.v, known.iter().copied())
            .unwrap_or_else(|| "name a state or an action of the main machine".into());
        cx.error(
            "unknown-reference",
            r.span.clone(),
            format!("`{}` is neither a state nor an action", r.v),
        )
        .help = Some(help);
        None
    };
    for inv in &raw.invariants {
        spans.invariants.push(inv.meta.id.span.clone());
        let mut inv_conditions = Vec::new();
        let kind = match (&inv.first, &inv.then, &inv.reach, &inv.only_if) {
            (Some(f), Some(t), None, None) => match (node(cx, f), node(cx, t)) {
                (Some(first), Some(then)) => Some(InvariantKind::Before { first, then }),
                _ => None,
            },
            (None, None, Some(r), Some(c)) => {
                let reach = node(cx, r);
                let only_if = compile(cx, c, fact_env, &Type::Bool);
                match (reach, only_if) {
                    (Some(reach), Some(only_if)) => Some(InvariantKind::OnlyIf { reach, only_if }),
                    _ => None,
                }
            }
            (None, None, Some(r), None) if !inv.conditions.is_empty() => {
                let reach = node(cx, r);
                let (only_if, conds) =
                    conditions(cx, &cited, &inv.conditions, fact_env, "the condition");
                inv_conditions = conds;
                match (reach, only_if) {
                    (Some(reach), Some(only_if)) => Some(InvariantKind::OnlyIf { reach, only_if }),
                    _ => None,
                }
            }
            _ => {
                cx.error("invalid-invariant", inv.meta.id.span.clone(), format!("invariant `{}` must give either `first` and `then`, or `reach` and `only_if`", inv.meta.id.v))
                    .help = Some("`first = \"legality_review\"`, `then = \"collective_discussion\"` reads: legality review comes before collective discussion on every path".into());
                None
            }
        };
        if let Some(kind) = kind {
            invariants.push(Invariant {
                meta: meta(&cited, &inv.meta),
                kind,
                conditions: inv_conditions,
            });
        } else {
            spans.invariants.pop();
        }
    }

    // The annual report's counters.
    let mut report = Vec::new();
    for c in &raw.report {
        let section = c.section.as_ref().map(|s| s.v.trim().to_owned());
        if let Some(s) = &c.section
            && s.v.trim().is_empty()
        {
            cx.error(
                "invalid-report",
                s.span.clone(),
                format!("`report.{}.section` is empty", c.meta.id.v),
            )
            .help = Some("name the section of the annual report the figure belongs to, as its heading reads: `section = \"一（三） 推动行政决策科学民主\"`".into());
        }
        let date = match &c.date {
            None => None,
            Some(RawDate::Word(w)) => match w.v.as_str() {
                "opened" => Some((DateBy::Opened, "opened".to_owned())),
                "closed" => Some((DateBy::Closed, "closed".to_owned())),
                other => {
                    let mut help = format!(
                        "write `date = \"opened\"` or `date = \"closed\"`; for the time of an action or a state, `date = {{ action = \"{other}\" }}` or `date = {{ state = \"{other}\" }}`"
                    );
                    if let Some(d) = did_you_mean(other, ["opened", "closed"]) {
                        help = format!("{d} ({help})");
                    }
                    cx.error(
                        "invalid-report-date",
                        w.span.clone(),
                        format!("报表计数`{}`的日期 `{other}` 无效 (unknown date `{other}` of counter `{}`)", c.meta.id.v, c.meta.id.v),
                    )
                    .help = Some(help);
                    None
                }
            },
            Some(RawDate::Actions(list)) => {
                let mut found = Vec::new();
                for a in &list.v {
                    match names.actions.get(a.v.as_str()) {
                        Some(i) => found.push(*i),
                        None => unknown(cx, "unknown-action", a, "action", &action_ids, "actions"),
                    }
                }
                if list.v.is_empty() {
                    cx.error("invalid-report-date", list.span.clone(), format!("`report.{}.date.action` lists no action", c.meta.id.v))
                        .help = Some("name the action whose time places a case in a year: `{ action = \"find_lawful\" }`".into());
                }
                (found.len() == list.v.len() && !found.is_empty()).then(|| {
                    let src = list
                        .v
                        .iter()
                        .map(|a| a.v.as_str())
                        .collect::<Vec<_>>()
                        .join(",");
                    (DateBy::Actions(found), format!("action:{src}"))
                })
            }
            Some(RawDate::State(st)) => match names.place(&st.v) {
                Some(place) => Some((DateBy::Place(place), format!("state:{}", st.v))),
                None => {
                    unknown_place(cx, &names, st, "the report date's state");
                    None
                }
            },
        };
        let when = c.when.as_ref().and_then(|w| {
            let e = compile(cx, w, fact_env, &Type::Bool);
            if let Some(e) = &e {
                warn_never(cx, e, w, "the counter's `when`");
            }
            e
        });
        let by = c.by.as_ref().and_then(|b| {
            let fact_ids: Vec<&str> = raw.facts.iter().map(|f| f.meta.id.v.as_str()).collect();
            match index_of(&fact_ids, &b.v) {
                Some(i) => match facts.get(i).map(|f: &Fact| &f.ty) {
                    Some(Type::Enum(_) | Type::Bool) => Some(i),
                    Some(other) => {
                        cx.error(
                            "invalid-report-by",
                            b.span.clone(),
                            format!("报表计数`{}`按事实`{}`分组，但该事实是 {} 类型 (counter `{}` is split by fact `{}`, of type {}: only enum and bool facts split a count)", c.meta.id.v, b.v, other.name(), c.meta.id.v, b.v, other.name()),
                        )
                        .help = Some("split by an enum or a bool fact (`by = \"kind\"`), or remove `by`".into());
                        None
                    }
                    None => None,
                },
                None => {
                    unknown(cx, "unknown-fact", b, "fact", &fact_ids, "facts");
                    None
                }
            }
        });
        let groups: Vec<String> = match by.and_then(|i| facts.get(i)).map(|f: &Fact| &f.ty) {
            Some(Type::Enum(values)) => values.iter().cloned().collect(),
            Some(Type::Bool) => vec!["true".into(), "false".into()],
            _ => Vec::new(),
        };
        let mut labels = Vec::new();
        for (value, label) in &c.labels {
            if c.by.is_none() {
                cx.error("invalid-report-by", value.span.clone(), format!("counter `{}` has `labels` but no `by`", c.meta.id.v))
                    .help = Some("labels name the groups of a split count: add `by = \"<fact>\"`, or remove `labels`".into());
            } else if by.is_some() && !groups.contains(&value.v) {
                let known: Vec<&str> = groups.iter().map(String::as_str).collect();
                unknown(cx, "unknown-value", value, "value", &known, "facts");
            }
            labels.push((value.v.clone(), label.v.clone()));
        }
        if let (Some(section), Some((date, date_source))) = (section, date)
            && (c.when.is_none() || when.is_some())
            && (c.by.is_none() || by.is_some())
        {
            report.push(Counter {
                meta: meta(&cited, &c.meta),
                section,
                date,
                date_source,
                when,
                by_fact: c.by.as_ref().map(|b| b.v.clone()),
                labels,
                groups,
            });
        }
    }

    // Any error so far (here or while reading the file) leaves no model to check further.
    if cx.diags.iter().any(|d| d.is_error()) {
        return None;
    }
    let initial = initial?;
    let version = u32::try_from(h.version.as_ref()?.v).ok()?;
    // The guards are compiled: the procedure's index takes the tables they shared.
    drop(env);
    let unshare = |t: Arc<IdTable>| Arc::try_unwrap(t).unwrap_or_else(|t| (*t).clone());
    let procedure = Procedure {
        meta: meta(&cited, &h.meta),
        version,
        initial,
        roles: raw
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| Role {
                meta: meta(&cited, r),
                reads: raw.role_reads.get(i).copied().flatten().unwrap_or_default(),
            })
            .collect(),
        documents: raw
            .documents
            .iter()
            .map(|d| Document {
                meta: meta(&cited, d),
            })
            .collect(),
        facts,
        states,
        tracks,
        actions,
        time_rules,
        invariants,
        stop_places,
        kept_payload,
        valid_from,
        report,
        source: None,
        index: index(
            &role_ids,
            &doc_ids,
            &raw.facts
                .iter()
                .map(|f| f.meta.id.v.as_str())
                .collect::<Vec<_>>(),
            unshare(names.states),
            names.tracks,
            unshare(names.actions),
            &raw.tracks
                .iter()
                .map(|t| t.states.len())
                .collect::<Vec<_>>(),
        ),
    };
    Some((procedure, spans))
}
