//! The raw procedure file: what the TOML says, with spans, before any reference is resolved.

use std::ops::Range;

use toml::Spanned;

use super::tree::{Table, Value};

use super::reader::{Cx, Lit, Path, S, TableReader};

/// Id, titles and basis of an element.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawMeta {
    pub(crate) id: S<String>,
    pub(crate) title: Option<S<String>>,
    pub(crate) title_en: Option<S<String>>,
    pub(crate) basis: Option<S<String>>,
}

impl Default for S<String> {
    fn default() -> Self {
        S::new(String::new(), 0..0)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawHeader {
    pub(crate) meta: RawMeta,
    pub(crate) version: Option<S<i64>>,
    pub(crate) initial: Option<S<String>>,
    pub(crate) terminal: Vec<S<String>>,
    pub(crate) valid_from: Option<S<String>>,
    pub(crate) span: Range<usize>,
}

/// One named condition of a guard written as a table: its own title and basis.
#[derive(Debug, Clone)]
pub(crate) struct RawCondition {
    pub(crate) meta: RawMeta,
    pub(crate) guard: S<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawField {
    pub(crate) meta: RawMeta,
    pub(crate) ty: Option<S<String>>,
    pub(crate) values: Option<S<Vec<S<String>>>>,
    pub(crate) required: Option<S<bool>>,
    pub(crate) default: Option<S<Lit>>,
    /// The values' Chinese titles (`labels`): value → title, as written.
    pub(crate) labels: Vec<(S<String>, S<String>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawState {
    pub(crate) meta: RawMeta,
    pub(crate) tracks: Vec<S<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawTrack {
    pub(crate) meta: RawMeta,
    pub(crate) active_if: Option<S<String>>,
    pub(crate) initial: Option<S<String>>,
    pub(crate) finals: Vec<S<String>>,
    pub(crate) states: Vec<RawMeta>,
}

#[derive(Debug, Clone)]
pub(crate) enum RawReason {
    Always(bool),
    When(S<String>),
}

#[derive(Debug, Clone)]
pub(crate) struct RawAction {
    pub(crate) meta: RawMeta,
    pub(crate) from: Option<S<Vec<S<String>>>>,
    pub(crate) to: Option<S<String>>,
    pub(crate) by: Option<S<Vec<S<String>>>>,
    pub(crate) when: Option<S<String>>,
    /// `when` written as a table of named conditions (then `when` is `None`).
    pub(crate) conditions: Vec<RawCondition>,
    pub(crate) documents: Vec<S<String>>,
    pub(crate) payload: Vec<RawField>,
    pub(crate) sets: Vec<(S<String>, S<String>)>,
    pub(crate) reason: Option<S<RawReason>>,
    pub(crate) documents_when: Vec<(S<String>, S<String>)>,
    /// `max_times`: how many times the action may be taken, when the law bounds it.
    pub(crate) max_times: Option<RawBound>,
}

/// `max_times = 2` or `max_times = { n = 2, per = "entry", basis = "...", title = "..." }`.
#[derive(Debug, Clone)]
pub(crate) struct RawBound {
    /// Id `max_times`, and the bound's own title and basis when the table gives them.
    pub(crate) meta: RawMeta,
    pub(crate) n: S<i64>,
    pub(crate) per: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawPeriod {
    pub(crate) unit: S<String>,
    pub(crate) n: S<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawTime {
    pub(crate) meta: RawMeta,
    pub(crate) at_least: Option<S<Option<RawPeriod>>>,
    pub(crate) within: Option<S<Option<RawPeriod>>>,
    pub(crate) after: Option<S<Vec<S<String>>>>,
    pub(crate) actions: Option<S<Vec<S<String>>>>,
    pub(crate) unless: Option<S<String>>,
    pub(crate) applies_if: Option<S<String>>,
    pub(crate) stops: Option<S<Vec<S<String>>>>,
    pub(crate) extension_from: Option<S<String>>,
    pub(crate) below_with_reason: Option<S<bool>>,
    pub(crate) strict: Option<S<bool>>,
    pub(crate) optional: Option<S<bool>>,
    pub(crate) extension: Option<S<Option<RawPeriod>>>,
    pub(crate) extended_by: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawInvariant {
    pub(crate) meta: RawMeta,
    pub(crate) first: Option<S<String>>,
    pub(crate) then: Option<S<String>>,
    pub(crate) reach: Option<S<String>>,
    pub(crate) only_if: Option<S<String>>,
    /// `only_if` written as a table of named conditions (then `only_if` is `None`).
    pub(crate) conditions: Vec<RawCondition>,
}

/// What dates a case for a report counter: `"opened"`, `"closed"`, `{ action = ... }` or
/// `{ state = ... }`.
#[derive(Debug, Clone)]
pub(crate) enum RawDate {
    /// `"opened"` or `"closed"` (or another word, refused when resolved).
    Word(S<String>),
    /// `{ action = "find_lawful" }` or a list of actions.
    Actions(S<Vec<S<String>>>),
    /// `{ state = "filed" }`.
    State(S<String>),
}

/// One `[report.<id>]` counter.
#[derive(Debug, Clone)]
pub(crate) struct RawCounter {
    pub(crate) meta: RawMeta,
    pub(crate) section: Option<S<String>>,
    pub(crate) date: Option<RawDate>,
    pub(crate) when: Option<S<String>>,
    pub(crate) by: Option<S<String>>,
    pub(crate) labels: Vec<(S<String>, S<String>)>,
}

/// A whole procedure file.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawProcedure {
    pub(crate) header: RawHeader,
    pub(crate) roles: Vec<RawMeta>,
    /// Each role's `reads` (beside `roles`, in the same order), checked to be a known value.
    pub(crate) role_reads: Vec<Option<crate::model::Reads>>,
    pub(crate) documents: Vec<RawMeta>,
    pub(crate) facts: Vec<RawField>,
    pub(crate) states: Vec<RawState>,
    pub(crate) tracks: Vec<RawTrack>,
    pub(crate) actions: Vec<RawAction>,
    pub(crate) time: Vec<RawTime>,
    pub(crate) invariants: Vec<RawInvariant>,
    pub(crate) report: Vec<RawCounter>,
}

/// The language version this loader reads.
pub const LANGUAGE_VERSION: i64 = 1;

const META_KEYS: [&str; 3] = ["title", "title_en", "basis"];

fn keys(extra: &[&'static str]) -> Vec<&'static str> {
    META_KEYS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

fn meta(cx: &mut Cx<'_>, t: &mut TableReader<'_, '_>, id: S<String>) -> RawMeta {
    check_id(cx, &id);
    RawMeta {
        id,
        title: t.opt_str(cx, "title"),
        title_en: t.opt_str(cx, "title_en"),
        basis: t.opt_str(cx, "basis"),
    }
}

/// A role's `reads`: `"all"` or `"own"`; anything else is an error saying which it may be.
fn role_reads(cx: &mut Cx<'_>, role: &str, r: &S<String>) -> Option<crate::model::Reads> {
    use crate::model::Reads;
    if let Some(reads) = Reads::parse(&r.v) {
        return Some(reads);
    }
    let hint = super::diagnostic::did_you_mean(&r.v, Reads::NAMES)
        .map(|d| format!("{d} "))
        .unwrap_or_default();
    cx.error(
        "invalid-reads",
        r.span.clone(),
        format!(
            "角色`{role}`的 `reads = \"{}\"` 无效 (role `{role}`: `reads` must be `\"all\"` or `\"own\"`)",
            r.v
        ),
    )
    .help = Some(format!(
        "{hint}write `reads = \"all\"` for a role that reads every case of the procedure, or `reads = \"own\"` (the default) for one that reads only the cases it takes part in"
    ));
    None
}

/// Ids are what guards and other files refer to: they must be plain identifiers.
fn check_id(cx: &mut Cx<'_>, id: &S<String>) {
    let mut chars = id.v.chars();
    let ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !ok {
        cx.error(
            "invalid-id",
            id.span.clone(),
            format!("`{}` is not a valid id", id.v),
        )
        .help = Some(
            "ids start with a letter or `_` and hold only letters, digits, `_` and `-`".into(),
        );
    }
}

/// Reads `[name]` as a table of named items, each a table.
fn named<'t, 'i>(
    cx: &mut Cx<'_>,
    top: &mut TableReader<'t, 'i>,
    name: &'static str,
) -> Vec<(S<String>, TableReader<'t, 'i>)> {
    let Some(v) = top.value(name) else {
        return Vec::new();
    };
    let Some(mut t) = TableReader::of(cx, v, name) else {
        return Vec::new();
    };
    let entries = t.keyed_entries();
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let id: &'t str = key.get_ref().as_ref();
        if let Some(item) = TableReader::of(cx, value, Path::Item(name, id)) {
            out.push((S::new(id.to_owned(), key.span()), item));
        }
    }
    out
}

fn field(
    cx: &mut Cx<'_>,
    id: S<String>,
    mut t: TableReader<'_, '_>,
    with_default: bool,
    path: &Path<'_>,
) -> RawField {
    let meta = meta(cx, &mut t, id);
    let ty = t.req_str(cx, "type");
    let values = t.str_list(cx, "values");
    let labels = string_table(
        cx,
        &mut t,
        "labels",
        path,
        "a value's title written as a string",
    );
    let required = t.opt_bool(cx, "required");
    let default = if with_default {
        t.opt_lit(cx, "default")
    } else {
        None
    };
    let allowed: &[&str] = if with_default {
        &[
            "title", "title_en", "basis", "type", "values", "labels", "required", "default",
        ]
    } else {
        &[
            "title", "title_en", "basis", "type", "values", "labels", "required",
        ]
    };
    t.finish(cx, allowed);
    RawField {
        meta,
        ty,
        values,
        required,
        default,
        labels,
    }
}

fn period(cx: &mut Cx<'_>, v: &Spanned<Value<'_>>, path: &str) -> S<Option<RawPeriod>> {
    let span = v.span();
    let Some(mut t) = TableReader::of(cx, v, path) else {
        return S::new(None, span);
    };
    let units = ["days", "working_days", "hours", "months"];
    let mut found: Vec<(S<String>, S<i64>)> = Vec::new();
    for unit in units {
        if let Some(n) = t.opt_int(cx, unit) {
            found.push((S::new(unit.to_owned(), n.span.clone()), n));
        }
    }
    t.finish(cx, &units);
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some((unit, n)), None) => S::new(Some(RawPeriod { unit, n }), span),
        (None, _) => {
            cx.error(
                "invalid-period",
                span.clone(),
                format!("`{path}` gives no length"),
            )
            .help = Some(
                "write one of `{ days = 30 }`, `{ working_days = 7 }`, `{ hours = 48 }`, `{ months = 1 }`".into(),
            );
            S::new(None, span)
        }
        (Some(_), Some((second, _))) => {
            cx.error(
                "invalid-period",
                second.span,
                format!("`{path}` gives more than one unit"),
            )
            .help =
                Some("a period has one unit: `days`, `working_days`, `hours` or `months`".into());
            S::new(None, span)
        }
    }
}

/// Parses the spanned tree of a procedure file into its raw form, reporting every
/// structural problem (unknown keys, wrong types, missing keys).
pub(crate) fn read(cx: &mut Cx<'_>, root: &Table<'_>, root_span: Range<usize>) -> RawProcedure {
    let mut top = TableReader::new(root, root_span.clone(), "the file");
    let mut raw = RawProcedure::default();

    if let Some(lang) = top.opt_int(cx, "language")
        && lang.v != LANGUAGE_VERSION
    {
        cx.error(
            "unsupported-language",
            lang.span,
            format!(
                "this fazhi reads rule language version {LANGUAGE_VERSION}, not {}",
                lang.v
            ),
        )
        .help = Some(format!(
            "write `language = {LANGUAGE_VERSION}`, or use a fazhi that reads version {}",
            lang.v
        ));
    }

    match top.value("procedure") {
        Some(v) => {
            if let Some(mut t) = TableReader::of(cx, v, "procedure") {
                let id = t.req_str(cx, "id").unwrap_or_default();
                let meta = meta(cx, &mut t, id);
                let version = t.opt_int(cx, "version");
                if version.is_none() && !t.has("version") {
                    t.missing(cx, "version", "an integer, 1 for the first version");
                }
                let initial = t.req_str(cx, "initial");
                let valid_from = t.opt_str(cx, "valid_from");
                if let Some(v) = &valid_from
                    && super::citation::date(v).is_none()
                {
                    cx.error(
                        "wrong-type",
                        v.span.clone(),
                        format!("`valid_from` must be a date, found `{}`", v.v),
                    )
                    .help = Some(
                        "write the day this version applies from: `valid_from = \"2022-05-01\"`"
                            .into(),
                    );
                }
                let terminal_list = t.str_list(cx, "terminal");
                if let Some(list) = &terminal_list
                    && list.v.is_empty()
                {
                    // One error here, not one stuck state per state.
                    cx.error(
                        "missing-key",
                        list.span.clone(),
                        "`procedure.terminal` is empty: a case could never end",
                    )
                    .help = Some(
                        "list the states where the procedure ends: `terminal = [\"decided\", \"withdrawn\"]`".into(),
                    );
                }
                let terminal = terminal_list.map(|s| s.v).unwrap_or_default();
                if terminal.is_empty() && !t.has("terminal") {
                    t.missing(
                        cx,
                        "terminal",
                        "the list of states where the procedure ends",
                    );
                }
                let span = t.span.clone();
                t.finish(
                    cx,
                    &keys(&["id", "version", "initial", "terminal", "valid_from"]),
                );
                raw.header = RawHeader {
                    meta,
                    version,
                    initial,
                    terminal,
                    valid_from,
                    span,
                };
            }
        }
        None => {
            cx.error("missing-key", root_span.start..root_span.start, "this file has no `[procedure]` table")
                .help = Some("start a procedure file with `[procedure]` giving `id`, `version`, `title`, `initial` and `terminal`".into());
        }
    }

    for (id, mut t) in named(cx, &mut top, "roles") {
        let m = meta(cx, &mut t, id);
        let reads = t
            .opt_str(cx, "reads")
            .and_then(|r| role_reads(cx, &m.id.v, &r));
        t.finish(cx, &keys(&["reads"]));
        raw.roles.push(m);
        raw.role_reads.push(reads);
    }
    for (id, mut t) in named(cx, &mut top, "documents") {
        let m = meta(cx, &mut t, id);
        t.finish(cx, &META_KEYS);
        raw.documents.push(m);
    }
    for (id, t) in named(cx, &mut top, "facts") {
        let path = Path::Whole(format!("facts.{}", id.v));
        raw.facts.push(field(cx, id, t, true, &path));
    }
    let states = named(cx, &mut top, "states");
    raw.states.reserve(states.len());
    let state_keys = keys(&["tracks"]);
    for (id, mut t) in states {
        let m = meta(cx, &mut t, id);
        let tracks = t.str_list(cx, "tracks").map(|s| s.v).unwrap_or_default();
        t.finish(cx, &state_keys);
        raw.states.push(RawState { meta: m, tracks });
    }
    for (id, mut t) in named(cx, &mut top, "tracks") {
        let path = t.path.clone();
        let m = meta(cx, &mut t, id);
        let active_if = t.opt_str(cx, "active_if");
        let initial = t.req_str(cx, "initial");
        let finals = t.str_list(cx, "final").map(|s| s.v).unwrap_or_default();
        if finals.is_empty() && !t.has("final") {
            t.missing(
                cx,
                "final",
                "the list of states in which the track is finished",
            );
        }
        let mut states = Vec::new();
        match t.value("states") {
            Some(v) => {
                if let Some(mut st) = TableReader::of(cx, v, format!("{path}.states")) {
                    for (sid, sv) in st.entries() {
                        if let Some(mut s) =
                            TableReader::of(cx, sv, format!("{path}.states.{}", sid.v))
                        {
                            let sm = meta(cx, &mut s, sid);
                            s.finish(cx, &META_KEYS);
                            states.push(sm);
                        }
                    }
                }
            }
            None => t.missing(cx, "states", "a table of the track's states"),
        }
        t.finish(cx, &keys(&["active_if", "initial", "final", "states"]));
        raw.tracks.push(RawTrack {
            meta: m,
            active_if,
            initial,
            finals,
            states,
        });
    }
    let actions = named(cx, &mut top, "actions");
    raw.actions.reserve(actions.len());
    let action_keys = keys(&[
        "from",
        "to",
        "by",
        "when",
        "documents",
        "payload",
        "sets",
        "reason_required",
        "documents_when",
        "max_times",
    ]);
    for (id, mut t) in actions {
        let path = t.path.clone();
        let m = meta(cx, &mut t, id);
        let from = t.str_list(cx, "from");
        if from.is_none() && !t.has("from") {
            t.missing(cx, "from", "the state or states the action is taken in");
        }
        let to = t.opt_str(cx, "to");
        let by = t.str_list(cx, "by");
        if by.is_none() && !t.has("by") {
            t.missing(cx, "by", "the list of roles that may take the action");
        }
        let (when, conditions) = guard(cx, &mut t, "when", &path);
        let documents = t.str_list(cx, "documents").map(|s| s.v).unwrap_or_default();
        let mut payload = Vec::new();
        if let Some(v) = t.value("payload")
            && let Some(mut p) = TableReader::of(cx, v, format!("{path}.payload"))
        {
            for (fid, fv) in p.entries() {
                if let Some(ft) = TableReader::of(cx, fv, format!("{path}.payload.{}", fid.v)) {
                    let fpath = Path::Whole(format!("{path}.payload.{}", fid.v));
                    payload.push(field(cx, fid, ft, false, &fpath));
                }
            }
        }
        let sets = string_table(
            cx,
            &mut t,
            "sets",
            &path,
            "an expression written as a string (`\"payload.x\"`, `\"true\"`)",
        );
        let documents_when = string_table(
            cx,
            &mut t,
            "documents_when",
            &path,
            "a guard written as a string (`\"affects_market\"`)",
        );
        let reason = match t.value("reason_required") {
            None => None,
            Some(v) => match v.get_ref() {
                Value::Boolean(b) => Some(S::new(RawReason::Always(*b), v.span())),
                Value::String(s) => Some(S::new(
                    RawReason::When(S::new(s.to_string(), v.span())),
                    v.span(),
                )),
                other => {
                    cx.error("wrong-type", v.span(), format!("`{path}.reason_required` must be `true`, `false` or a guard string, found {}", super::reader::kind_of(other)));
                    None
                }
            },
        };
        let max_times = t
            .value("max_times")
            .and_then(|v| bound(cx, v, &format!("{path}.max_times")));
        t.finish(cx, &action_keys);
        raw.actions.push(RawAction {
            meta: m,
            from,
            to,
            by,
            when,
            conditions,
            documents,
            payload,
            sets,
            reason,
            documents_when,
            max_times,
        });
    }
    for (id, mut t) in named(cx, &mut top, "time") {
        let path = t.path.clone();
        let m = meta(cx, &mut t, id);
        let at_least = t
            .value("at_least")
            .map(|v| period(cx, v, &format!("{path}.at_least")));
        let within = t
            .value("within")
            .map(|v| period(cx, v, &format!("{path}.within")));
        if at_least.is_none() && within.is_none() {
            cx.error(
                "invalid-period",
                t.span.clone(),
                format!("`{path}` is neither a minimum (`at_least`) nor a deadline (`within`)"),
            )
            .help =
                Some("add `at_least = { days = 30 }` or `within = { working_days = 7 }`".into());
        }
        let after = t.str_list(cx, "after");
        if after.is_none() && !t.has("after") {
            t.missing(
                cx,
                "after",
                "what the period is counted from (an action, a state, a date, or a list of them)",
            );
        }
        let actions = t.str_list(cx, "actions");
        if actions.is_none() && !t.has("actions") {
            t.missing(
                cx,
                "actions",
                "the actions this period restrains or expects",
            );
        }
        let unless = t.opt_str(cx, "unless");
        let applies_if = t.opt_str(cx, "applies_if");
        let stops = t.str_list(cx, "stops");
        let extension_from = t.opt_str(cx, "extension_from");
        let below_with_reason = t.opt_bool(cx, "below_with_reason");
        let strict = t.opt_bool(cx, "strict");
        let optional = t.opt_bool(cx, "optional");
        let extension = t
            .value("extension")
            .map(|v| period(cx, v, &format!("{path}.extension")));
        let extended_by = t.str_list(cx, "extended_by");
        t.finish(
            cx,
            &keys(&[
                "at_least",
                "within",
                "after",
                "actions",
                "unless",
                "applies_if",
                "stops",
                "below_with_reason",
                "strict",
                "optional",
                "extension",
                "extended_by",
                "extension_from",
            ]),
        );
        raw.time.push(RawTime {
            meta: m,
            at_least,
            within,
            after,
            actions,
            unless,
            applies_if,
            stops,
            extension_from,
            below_with_reason,
            strict,
            optional,
            extension,
            extended_by,
        });
    }
    for (id, mut t) in named(cx, &mut top, "invariants") {
        let path = t.path.clone();
        let m = meta(cx, &mut t, id);
        let first = t.opt_str(cx, "first");
        let then = t.opt_str(cx, "then");
        let reach = t.opt_str(cx, "reach");
        let (only_if, conditions) = guard(cx, &mut t, "only_if", &path);
        t.finish(cx, &keys(&["first", "then", "reach", "only_if"]));
        raw.invariants.push(RawInvariant {
            meta: m,
            first,
            then,
            reach,
            only_if,
            conditions,
        });
    }
    for (id, mut t) in named(cx, &mut top, "report") {
        let path = t.path.clone();
        let m = meta(cx, &mut t, id);
        if m.title.is_none() {
            t.missing(
                cx,
                "title",
                "the Chinese heading of the figure (`title = \"合法性审查\"`)",
            );
        }
        let section = t.req_str(cx, "section");
        let date = t
            .value("date")
            .and_then(|v| report_date(cx, v, &format!("{path}.date")));
        if date.is_none() && !t.has("date") {
            t.missing(
                cx,
                "date",
                "what places a case in a year: `\"opened\"`, `\"closed\"`, `{ action = \"...\" }` or `{ state = \"...\" }`",
            );
        }
        let when = t.opt_str(cx, "when");
        let by = t.opt_str(cx, "by");
        let labels = string_table(cx, &mut t, "labels", &path, "a heading written as a string");
        t.finish(cx, &keys(&["section", "date", "when", "by", "labels"]));
        raw.report.push(RawCounter {
            meta: m,
            section,
            date,
            when,
            by,
            labels,
        });
    }
    top.finish(
        cx,
        &[
            "language",
            "procedure",
            "roles",
            "documents",
            "facts",
            "states",
            "tracks",
            "actions",
            "time",
            "invariants",
            "report",
        ],
    );
    raw
}

/// Reads a counter's `date`: a word, or a table with `action` (one or a list) or `state`.
fn report_date(cx: &mut Cx<'_>, v: &Spanned<Value<'_>>, path: &str) -> Option<RawDate> {
    match v.get_ref() {
        Value::String(s) => Some(RawDate::Word(S::new(s.to_string(), v.span()))),
        Value::Table(_) => {
            let mut t = TableReader::of(cx, v, path.to_owned())?;
            let actions = t.str_list(cx, "action");
            let state = t.opt_str(cx, "state");
            t.finish(cx, &["action", "state"]);
            match (actions, state) {
                (Some(a), None) => Some(RawDate::Actions(a)),
                (None, Some(s)) => Some(RawDate::State(s)),
                _ => {
                    cx.error(
                        "invalid-report-date",
                        v.span(),
                        format!("`{path}` must name either `action` or `state`"),
                    )
                    .help = Some("write `{ action = \"find_lawful\" }`, `{ action = [\"find_lawful\", \"find_unlawful\"] }` or `{ state = \"filed\" }`".into());
                    None
                }
            }
        }
        other => {
            cx.error(
                "wrong-type",
                v.span(),
                format!(
                    "`{path}` must be `\"opened\"`, `\"closed\"` or a table, found {}",
                    super::reader::kind_of(other)
                ),
            )
            .help = Some("write `date = \"opened\"`, `date = \"closed\"`, `date = { action = \"find_lawful\" }` or `date = { state = \"filed\" }`".into());
            None
        }
    }
}

/// Reads a guard that may be a string, or a table of named conditions, each a guard string
/// or `{ if = "...", title = "...", basis = "..." }`.
fn guard(
    cx: &mut Cx<'_>,
    t: &mut TableReader<'_, '_>,
    key: &str,
    path: &Path<'_>,
) -> (Option<S<String>>, Vec<RawCondition>) {
    let Some(v) = t.value(key) else {
        return (None, Vec::new());
    };
    match v.get_ref() {
        Value::String(s) => (Some(S::new(s.to_string(), v.span())), Vec::new()),
        Value::Table(_) => {
            let mut out = Vec::new();
            let Some(mut table) = TableReader::of(cx, v, format!("{path}.{key}")) else {
                return (None, out);
            };
            for (name, value) in table.entries() {
                match value.get_ref() {
                    Value::String(e) => {
                        check_id(cx, &name);
                        out.push(RawCondition {
                            meta: RawMeta {
                                id: name,
                                title: None,
                                title_en: None,
                                basis: None,
                            },
                            guard: S::new(e.to_string(), value.span()),
                        });
                    }
                    _ => {
                        let cpath = format!("{path}.{key}.{}", name.v);
                        let Some(mut c) = TableReader::of(cx, value, cpath) else {
                            continue;
                        };
                        let m = meta(cx, &mut c, name);
                        let g = c.req_str(cx, "if");
                        c.finish(cx, &keys(&["if"]));
                        if let Some(guard) = g {
                            out.push(RawCondition { meta: m, guard });
                        }
                    }
                }
            }
            if out.is_empty() {
                cx.error(
                    "missing-key",
                    v.span(),
                    format!("`{path}.{key}` is an empty table of conditions"),
                )
                .help = Some(format!(
                    "name each condition: `{key}.notified = {{ if = \"taken(notify)\", title = \"...\", basis = \"...\" }}`, or remove `{key}`"
                ));
            }
            (None, out)
        }
        other => {
            cx.error(
                "wrong-type",
                v.span(),
                format!(
                    "`{path}.{key}` must be a guard string or a table of named conditions, found {}",
                    super::reader::kind_of(other)
                ),
            )
            .help = Some(format!("quote it: `{key} = \"...\"`"));
            (None, Vec::new())
        }
    }
}

/// Reads an action's `max_times`: a count, or a table with `n`, `per`, `title` and `basis`.
fn bound(cx: &mut Cx<'_>, v: &Spanned<Value<'_>>, path: &str) -> Option<RawBound> {
    let id = S::new("max_times".to_owned(), v.span());
    match v.get_ref() {
        Value::Integer(i) => {
            let n = i64::from_str_radix(
                i.as_str().replace('_', "").trim_start_matches('+'),
                i.radix(),
            )
            .ok();
            let Some(n) = n else {
                cx.error(
                    "wrong-type",
                    v.span(),
                    format!("`{path}` is not a whole number"),
                );
                return None;
            };
            Some(RawBound {
                meta: RawMeta {
                    id,
                    title: None,
                    title_en: None,
                    basis: None,
                },
                n: S::new(n, v.span()),
                per: None,
            })
        }
        Value::Table(_) => {
            let mut t = TableReader::of(cx, v, path.to_owned())?;
            let m = meta(cx, &mut t, id);
            let n = t.opt_int(cx, "n");
            if n.is_none() && !t.has("n") {
                t.missing(cx, "n", "how many times the action may be taken (`n = 1`)");
            }
            let per = t.opt_str(cx, "per");
            t.finish(cx, &keys(&["n", "per"]));
            Some(RawBound {
                meta: m,
                n: n?,
                per,
            })
        }
        other => {
            cx.error(
                "wrong-type",
                v.span(),
                format!(
                    "`{path}` must be a whole number or a table `{{ n = 1, per = \"case\", basis = \"...\" }}`, found {}",
                    super::reader::kind_of(other)
                ),
            )
            .help = Some("write `max_times = 1`, or `max_times = { n = 1, basis = \"《…》第…条\" }`".into());
            None
        }
    }
}

/// Reads `key` as a table whose values are strings (`sets`, `documents_when`).
fn string_table(
    cx: &mut Cx<'_>,
    t: &mut TableReader<'_, '_>,
    key: &str,
    path: &Path<'_>,
    what: &str,
) -> Vec<(S<String>, S<String>)> {
    let mut out = Vec::new();
    let Some(v) = t.value(key) else { return out };
    let Some(mut table) = TableReader::of(cx, v, format!("{path}.{key}")) else {
        return out;
    };
    for (name, value) in table.entries() {
        match value.get_ref() {
            Value::String(e) => out.push((name, S::new(e.to_string(), value.span()))),
            other => {
                cx.error(
                    "wrong-type",
                    value.span(),
                    format!(
                        "`{path}.{key}.{}` must be {what}, found {}",
                        name.v,
                        super::reader::kind_of(other)
                    ),
                )
                .help = Some(format!("quote it: `{} = \"...\"`", name.v));
            }
        }
    }
    out
}
