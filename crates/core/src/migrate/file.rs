//! Reading a migration file and proving it against the two versions it joins.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::expr::Value;
use crate::graph;
use crate::load::reader::{Cx, Lit, S, TableReader, kind_of};
use crate::load::tree::Value as TomlValue;
use crate::load::{Diagnostic, SourceFile, did_you_mean};
use crate::model::{InvariantKind, Node, Procedure, ReasonRule, RuleSet};

use super::{AppliesTo, Migration, Target};

/// The keys of a migration file's root.
const ROOT_KEYS: &[&str] = &[
    "migration",
    "applies_to",
    "states",
    "tracks",
    "facts",
    "actions",
];
/// The keys of `[migration]`.
const HEADER_KEYS: &[&str] = &["procedure", "from", "to", "title", "basis"];

/// A literal of the file as JSON, to be read against a fact's type.
fn lit_json(l: &Lit) -> serde_json::Value {
    match l {
        Lit::Bool(b) => serde_json::Value::Bool(*b),
        Lit::Integer(i) => serde_json::Value::from(*i),
        Lit::Float(f) => serde_json::from_str(f).unwrap_or(serde_json::Value::String(f.clone())),
        Lit::Str(s) | Lit::Date(s) => serde_json::Value::String(s.clone()),
    }
}

/// Whether some guard, condition or invariant of `p` reads fact `f`.
fn read_by_guards(p: &Procedure, f: usize) -> bool {
    let mut exprs: Vec<&crate::expr::Expr> = Vec::new();
    for a in &p.actions {
        exprs.extend(a.when.iter());
        exprs.extend(a.conditions.iter().map(|c| &c.guard));
        exprs.extend(a.documents_when.iter().map(|(_, e)| e));
        if let ReasonRule::RequiredWhen(e) = &a.reason {
            exprs.push(e);
        }
    }
    for r in &p.time_rules {
        exprs.extend(r.unless.iter());
        exprs.extend(r.applies_if.iter());
    }
    for t in &p.tracks {
        exprs.extend(t.active_if.iter());
    }
    for i in &p.invariants {
        if let InvariantKind::OnlyIf { only_if, .. } = &i.kind {
            exprs.push(only_if);
        }
        exprs.extend(i.conditions.iter().map(|c| &c.guard));
    }
    exprs.iter().any(|e| e.reads_fact(f))
}

/// Whether a value of type `from` always reads as a value of type `to`.
/// Why a fact of type `from` does not fit `to`: the enum values the new version lacks, or the
/// two types.
fn misfit(from: &crate::expr::Type, to: &crate::expr::Type, v_from: u32, v_to: u32) -> String {
    use crate::expr::Type;
    match (from, to) {
        (Type::Enum(a), Type::Enum(b)) => {
            let lacking: Vec<String> = a
                .iter()
                .filter(|v| !b.contains(v))
                .map(|v| format!("`{v}`"))
                .collect();
            format!(
                "its value{} {} of version {v_from} {} no value{} of version {v_to}",
                if lacking.len() == 1 { "" } else { "s" },
                lacking.join(", "),
                if lacking.len() == 1 { "is" } else { "are" },
                if lacking.len() == 1 { "" } else { "s" },
            )
        }
        _ => format!(
            "it is {} in version {v_from} but {} in version {v_to}",
            from.name(),
            to.name()
        ),
    }
}

/// Whether `from` and `to` are both enums (some old values may be lacking): a case holding a
/// lacking value cannot move, the others can; the plan names each.
fn enum_to_enum(from: &crate::expr::Type, to: &crate::expr::Type) -> bool {
    matches!(
        (from, to),
        (crate::expr::Type::Enum(_), crate::expr::Type::Enum(_))
    )
}

fn fits(from: &crate::expr::Type, to: &crate::expr::Type) -> bool {
    use crate::expr::Type;
    match (from, to) {
        (Type::Enum(a), Type::Enum(b)) => a.iter().all(|v| b.contains(v)),
        (Type::Integer, Type::Amount) => true,
        _ => from == to,
    }
}

/// Reads a table of fact values (`[facts]` literals, or a state's `set`) against the new
/// version's facts; renames (`x = { from = "old" }`) only where `renames` is given.
fn read_facts(
    cx: &mut Cx<'_>,
    value: &toml::Spanned<TomlValue<'_>>,
    path: &str,
    old: &Procedure,
    new: &Procedure,
    mut renames: Option<&mut BTreeMap<String, String>>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let Some(mut t) = TableReader::of(cx, value, path.to_owned()) else {
        return out;
    };
    for (key, v) in t.entries() {
        let Some((_, f)) = new.find_fact(&key.v) else {
            let d = cx.error(
                "unknown-fact",
                key.span.clone(),
                format!(
                    "version {} of `{}` has no fact `{}`",
                    new.version, new.meta.id, key.v
                ),
            );
            d.help = did_you_mean(&key.v, new.facts.iter().map(|f| f.meta.id.as_str()))
                .or_else(|| Some("name a fact of the new version".into()));
            continue;
        };
        if let TomlValue::Table(_) = v.get_ref() {
            let Some(renames) = renames.as_deref_mut() else {
                cx.error(
                    "wrong-type",
                    v.span(),
                    format!("`{path}.{}` must be a value of the fact's type", key.v),
                )
                .help = Some(
                    "renames are written in `[facts]` only: `new = { from = \"old\" }`".into(),
                );
                continue;
            };
            let Some(mut r) = TableReader::of(cx, v, format!("{path}.{}", key.v)) else {
                continue;
            };
            if let Some(from) = r.req_str(cx, "from") {
                match old.find_fact(&from.v) {
                    None => {
                        let d = cx.error(
                            "unknown-fact",
                            from.span.clone(),
                            format!(
                                "version {} of `{}` has no fact `{}`",
                                old.version, old.meta.id, from.v
                            ),
                        );
                        d.help =
                            did_you_mean(&from.v, old.facts.iter().map(|f| f.meta.id.as_str()))
                                .or_else(|| {
                                    Some(
                                "name the fact of the old version whose value the new one takes"
                                    .into(),
                            )
                                });
                    }
                    Some((_, of)) if !fits(&of.ty, &f.ty) && enum_to_enum(&of.ty, &f.ty) => {
                        cx.warning(
                            "migration-enum-values",
                            from.span.clone(),
                            format!(
                                "fact `{}` of version {} becomes `{}` of version {}: {}; a case holding one of them cannot move (the plan names it)",
                                of.meta.id, old.version, f.meta.id, new.version,
                                misfit(&of.ty, &f.ty, old.version, new.version)
                            ),
                        )
                        .help = Some(format!("to move such cases too, give `{}` a value instead: `{} = ...`", f.meta.id, f.meta.id));
                    }
                    Some((_, of)) if !fits(&of.ty, &f.ty) => {
                        cx.error(
                            "migration-fact-type",
                            from.span.clone(),
                            format!(
                                "fact `{}` of version {} cannot become `{}` of version {}: {}",
                                of.meta.id,
                                old.version,
                                f.meta.id,
                                new.version,
                                misfit(&of.ty, &f.ty, old.version, new.version)
                            ),
                        )
                        .help = Some(format!(
                            "give `{}` a value instead: `{} = ...`",
                            f.meta.id, f.meta.id
                        ));
                    }
                    Some(_) => {
                        renames.insert(key.v.clone(), from.v.clone());
                    }
                }
            }
            r.finish(cx, &["from"]);
            continue;
        }
        let lit = match v.get_ref() {
            TomlValue::Boolean(b) => Lit::Bool(*b),
            TomlValue::Integer(i) => match i.as_str().replace('_', "").parse::<i64>() {
                Ok(n) => Lit::Integer(n),
                Err(_) => Lit::Float(i.as_str().to_owned()),
            },
            TomlValue::Float(x) => Lit::Float(x.as_str().replace('_', "")),
            TomlValue::String(s) => Lit::Str(s.to_string()),
            TomlValue::Datetime(d) => Lit::Date(d.to_string()),
            other => {
                cx.error(
                    "wrong-type",
                    v.span(),
                    format!(
                        "`{path}.{}` must be a single value, found {}",
                        key.v,
                        kind_of(other)
                    ),
                )
                .help = Some(format!("write a value of type {}", f.ty.name()));
                continue;
            }
        };
        let json = lit_json(&lit);
        match Value::from_json(&f.ty, &json) {
            Ok(_) => {
                out.insert(key.v.clone(), json);
            }
            Err(e) => {
                cx.error("wrong-type", v.span(), format!("`{path}.{}`: {e}", key.v))
                    .help = Some(format!(
                    "write a value of type {} (fact `{}`)",
                    f.ty.name(),
                    f.meta.id
                ));
            }
        }
    }
    t.finish(cx, &[]);
    out
}

/// Reads one mapping entry: `"target"`, or `{ to = "target", set = {...} }`, or
/// `{ excluded = "why" }`.
fn read_target(
    cx: &mut Cx<'_>,
    key: &S<String>,
    v: &toml::Spanned<TomlValue<'_>>,
    path: &str,
    sets: Option<(&Procedure, &Procedure)>,
) -> Option<(Target, Range<usize>)> {
    match v.get_ref() {
        TomlValue::String(s) => Some((
            Target::To {
                place: s.to_string(),
                set: serde_json::Map::new(),
            },
            v.span(),
        )),
        TomlValue::Table(_) => {
            let here = format!("{path}.{}", key.v);
            let mut t = TableReader::of(cx, v, here.clone())?;
            let to = t.opt_str(cx, "to");
            let excluded = t.opt_str(cx, "excluded");
            let set = match (t.value("set"), sets) {
                (Some(sv), Some((old, new))) => {
                    read_facts(cx, sv, &format!("{here}.set"), old, new, None)
                }
                _ => serde_json::Map::new(),
            };
            t.finish(
                cx,
                if sets.is_some() {
                    &["to", "set", "excluded"]
                } else {
                    &["to", "excluded"]
                },
            );
            match (to, excluded) {
                (Some(to), None) => Some((Target::To { place: to.v, set }, to.span)),
                (None, Some(why)) if !why.v.trim().is_empty() => {
                    Some((Target::Excluded(why.v), why.span))
                }
                (None, Some(why)) => {
                    cx.error(
                        "migration-excluded-without-reason",
                        why.span,
                        format!("`{here}.excluded` gives no reason"),
                    )
                    .help = Some(
                        "say why cases there are not moved: `excluded = \"已结案，不迁移\"`".into(),
                    );
                    None
                }
                (Some(to), Some(_)) => {
                    cx.error(
                        "migration-target",
                        to.span,
                        format!("`{here}` both maps (`to`) and excludes (`excluded`)"),
                    )
                    .help = Some("keep one of the two".into());
                    None
                }
                (None, None) => {
                    cx.error(
                        "missing-key",
                        v.span(),
                        format!("`{here}` has neither `to` nor `excluded`"),
                    )
                    .help = Some(format!(
                        "write `{} = \"<state of the new version>\"` or `{} = {{ excluded = \"why\" }}`",
                        key.v, key.v
                    ));
                    None
                }
            }
        }
        other => {
            cx.error(
                "wrong-type",
                v.span(),
                format!(
                    "`{path}.{}` must be a string or a table, found {}",
                    key.v,
                    kind_of(other)
                ),
            )
            .help = Some(format!(
                "write `{} = \"<state of the new version>\"` or `{} = {{ excluded = \"why\" }}`",
                key.v, key.v
            ));
            None
        }
    }
}

/// Reads and proves one migration file against the loaded rules. Returns the migration
/// when the file has no errors; the diagnostics hold every error and warning either way.
pub fn load_migration(file: &SourceFile, rules: &RuleSet) -> (Option<Migration>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let migration = {
        let mut cx = Cx {
            file,
            diags: &mut diags,
        };
        read(&mut cx, file, rules)
    };
    crate::load::finish(file, &mut diags);
    let clean = !diags.iter().any(Diagnostic::is_error);
    (migration.filter(|_| clean), diags)
}

fn read(cx: &mut Cx<'_>, file: &SourceFile, rules: &RuleSet) -> Option<Migration> {
    let root = match crate::load::tree::parse(&file.text) {
        Ok(root) => root,
        Err(errors) => {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                let (message, help) =
                    crate::load::toml_message(&file.text, &span, e.message().trim());
                cx.error("toml-syntax", span, message).help = Some(help);
            }
            return None;
        }
    };
    let mut r = TableReader::new(root.get_ref(), root.span(), "the migration file");
    let header = r.value("migration");
    let states_v = r.value("states");
    let tracks_v = r.value("tracks");
    let facts_v = r.value("facts");
    let actions_v = r.value("actions");
    let applies_v = r.value("applies_to");
    r.finish(cx, ROOT_KEYS);
    let Some(header) = header else {
        cx.error(
            "missing-key",
            0..0,
            "a migration file has no `[migration]` table",
        )
        .help = Some(
            "begin the file with `[migration]`, giving `procedure`, `from`, `to` and `basis`"
                .into(),
        );
        return None;
    };
    let header_span = header.span();
    let mut h = TableReader::of(cx, header, "migration")?;
    let procedure = h.req_str(cx, "procedure");
    let from = h.opt_int(cx, "from");
    let to = h.opt_int(cx, "to");
    let title = h.opt_str(cx, "title");
    let basis = h.req_str(cx, "basis");
    for (key, v) in [("from", &from), ("to", &to)] {
        if v.is_none() && !h.has(key) {
            h.missing(cx, key, "a version number");
        }
    }
    h.finish(cx, HEADER_KEYS);
    if let Some(b) = &basis
        && b.v.trim().is_empty()
    {
        cx.error("migration-basis", b.span.clone(), "`migration.basis` is empty")
            .help = Some("cite the article by which the new rules apply to pending matters, or say plainly that moving the cases is the operator's decision".into());
    }
    let procedure = procedure?;
    let mut version = |key: &str, v: &Option<S<i64>>| {
        let v = v.as_ref()?;
        match u32::try_from(v.v) {
            Ok(n) if n >= 1 => Some((n, v.span.clone())),
            _ => {
                cx.error(
                    "invalid-version",
                    v.span.clone(),
                    format!("`migration.{key}` must be a version number, 1 or above"),
                )
                .help = Some(format!(
                    "write the `version` of a procedure file: `{key} = 1`"
                ));
                None
            }
        }
    };
    let (from, to) = (version("from", &from), version("to", &to));
    let ((from, from_span), (to, to_span)) = (from?, to?);
    let ids: Vec<&str> = rules.latest().map(|p| p.meta.id.as_str()).collect();
    if rules.get(&procedure.v, None).is_none() {
        let d = cx.error(
            "unknown-procedure",
            procedure.span.clone(),
            format!("no procedure `{}` is loaded", procedure.v),
        );
        d.help = did_you_mean(&procedure.v, ids.iter().copied())
            .or_else(|| Some(format!("the procedures loaded: {}", ids.join(", "))));
        return None;
    }
    let version_of = |cx: &mut Cx<'_>, n: u32, span: Range<usize>| {
        let p = rules.get(&procedure.v, Some(n));
        if p.is_none() {
            let known: Vec<String> = rules
                .all()
                .filter(|p| p.meta.id == procedure.v)
                .map(|p| p.version.to_string())
                .collect();
            cx.error(
                "unknown-version",
                span,
                format!("procedure `{}` has no version {n} loaded", procedure.v),
            )
            .help = Some(format!("the versions loaded: {}", known.join(", ")));
        }
        p.cloned()
    };
    let old = version_of(cx, from, from_span);
    let new = version_of(cx, to, to_span.clone());
    let (old, new) = (old?, new?);
    if to <= from {
        cx.error(
            "migration-version",
            to_span,
            format!("`to` ({to}) must be a newer version than `from` ({from})"),
        )
        .help = Some("a migration moves cases onto a newer version".into());
    }
    let (op, np) = (old.as_ref(), new.as_ref());
    // [actions]: renames, old → new.
    let mut actions = BTreeMap::new();
    if let Some(v) = actions_v
        && let Some(mut t) = TableReader::of(cx, v, "actions")
    {
        for (key, v) in t.entries() {
            if op.find_action(&key.v).is_none() {
                let d = cx.error(
                    "unknown-action",
                    key.span.clone(),
                    format!(
                        "version {from} of `{}` has no action `{}`",
                        op.meta.id, key.v
                    ),
                );
                d.help = did_you_mean(&key.v, op.actions.iter().map(|a| a.meta.id.as_str()));
                continue;
            }
            match v.get_ref() {
                TomlValue::String(s) if np.find_action(s).is_some() => {
                    actions.insert(key.v.clone(), s.to_string());
                }
                TomlValue::String(s) => {
                    let d = cx.error(
                        "unknown-action",
                        v.span(),
                        format!("version {to} of `{}` has no action `{s}`", np.meta.id),
                    );
                    d.help = did_you_mean(s, np.actions.iter().map(|a| a.meta.id.as_str()));
                }
                other => {
                    cx.error(
                        "wrong-type",
                        v.span(),
                        format!(
                            "`actions.{}` must be a string, found {}",
                            key.v,
                            kind_of(other)
                        ),
                    )
                    .help = Some("write `old_action = \"new_action\"`".into());
                }
            }
        }
        t.finish(cx, &[]);
    }
    // [facts]: values for new facts, renames.
    let mut renamed_facts = BTreeMap::new();
    let facts = match facts_v {
        Some(v) => read_facts(cx, v, "facts", op, np, Some(&mut renamed_facts)),
        None => serde_json::Map::new(),
    };
    // [states].
    let mut states: Vec<(String, Target, Range<usize>)> = Vec::new();
    // The old states the file names, mapped well or not (a bad target is reported once).
    let mut named: Vec<String> = Vec::new();
    let states_span = states_v.map_or(header_span.clone(), |v| v.span());
    if let Some(v) = states_v
        && let Some(mut t) = TableReader::of(cx, v, "states")
    {
        for (key, v) in t.entries() {
            if op.find_state(&key.v).is_none() {
                let d = cx.error(
                    "unknown-state",
                    key.span.clone(),
                    format!(
                        "version {from} of `{}` has no state `{}`",
                        op.meta.id, key.v
                    ),
                );
                d.help = did_you_mean(&key.v, op.states.iter().map(|s| s.meta.id.as_str()))
                    .or_else(|| {
                        Some("the keys of `[states]` are states of the old version".into())
                    });
                continue;
            }
            named.push(key.v.clone());
            let Some((target, span)) = read_target(cx, &key, v, "states", Some((op, np))) else {
                continue;
            };
            if let Target::To { place, .. } = &target
                && np.find_state(place).is_none()
            {
                let d = cx.error(
                    "unknown-state",
                    span.clone(),
                    format!("version {to} of `{}` has no state `{place}`", np.meta.id),
                );
                d.help = did_you_mean(place, np.states.iter().map(|s| s.meta.id.as_str()))
                    .or_else(|| Some("map onto a state of the new version, or exclude the state: `{ excluded = \"why\" }`".into()));
                continue;
            }
            states.push((key.v, target, key.span));
        }
        t.finish(cx, &[]);
    }
    let og = graph::main_graph(op);
    let unreachable = graph::unreachable_states_in(&og, op);
    for (si, s) in op.states.iter().enumerate() {
        if unreachable.contains(&si) || named.contains(&s.meta.id) {
            continue;
        }
        cx.error(
            "migration-unmapped-state",
            states_span.clone(),
            format!(
                "state `{}` ({}) of version {from} can be reached but is not mapped: a case there would have no place in version {to}",
                s.meta.id, s.meta.title
            ),
        )
        .help = Some(format!(
            "add `{id} = \"<state of version {to}>\"` or `{id} = {{ excluded = \"why\" }}` to `[states]`",
            id = s.meta.id
        ));
    }
    let mapped_state = |id: &str| -> Option<Option<usize>> {
        states
            .iter()
            .find(|(k, _, _)| k == id)
            .map(|(_, t, _)| match t {
                Target::To { place, .. } => np.find_state(place).map(|(i, _)| i),
                Target::Excluded(_) => None,
            })
    };
    // [tracks.T]: the states of each old track.
    let mut tracks: Vec<(String, Vec<(String, Target)>)> = Vec::new();
    let tracks_span = tracks_v.map_or(states_span.clone(), |v| v.span());
    let mut track_tables = Vec::new();
    if let Some(v) = tracks_v
        && let Some(mut t) = TableReader::of(cx, v, "tracks")
    {
        for (key, v) in t.entries() {
            if op.find_track(&key.v).is_none() {
                let d = cx.error(
                    "unknown-track",
                    key.span.clone(),
                    format!(
                        "version {from} of `{}` has no track `{}`",
                        op.meta.id, key.v
                    ),
                );
                d.help = did_you_mean(&key.v, op.tracks.iter().map(|t| t.meta.id.as_str()));
                continue;
            }
            track_tables.push((key, v));
        }
        t.finish(cx, &[]);
    }
    for (ti, t) in op.tracks.iter().enumerate() {
        let parent_id = op.states.get(t.parent).map_or("", |s| s.meta.id.as_str());
        let table = track_tables.iter().find(|(k, _)| k.v == t.meta.id);
        let Some(Some(new_parent)) = mapped_state(parent_id) else {
            // Its state is excluded (or unmapped, reported above): no case moves with it.
            if let (Some((key, _)), Some(None)) = (table, mapped_state(parent_id)) {
                cx.warning(
                    "migration-unused",
                    key.span.clone(),
                    format!(
                        "track `{}` runs in state `{parent_id}`, which the migration excludes: this table is not used",
                        t.meta.id
                    ),
                )
                .help = Some(format!("remove `[tracks.{}]`, or map `{parent_id}` in `[states]`", t.meta.id));
            }
            continue;
        };
        let mut entries: Vec<(String, Target)> = Vec::new();
        let mut named: Vec<String> = Vec::new();
        let span = table.map_or(tracks_span.clone(), |(_, v)| v.span());
        if let Some((_, v)) = table
            && let Some(mut r) = TableReader::of(cx, v, format!("tracks.{}", t.meta.id))
        {
            for (key, v) in r.entries() {
                if !t.states.iter().any(|s| s.id == key.v) {
                    let d = cx.error(
                        "unknown-state",
                        key.span.clone(),
                        format!(
                            "track `{}` of version {from} has no state `{}`",
                            t.meta.id, key.v
                        ),
                    );
                    d.help = did_you_mean(&key.v, t.states.iter().map(|s| s.id.as_str()));
                    continue;
                }
                named.push(key.v.clone());
                let Some((target, tspan)) =
                    read_target(cx, &key, v, &format!("tracks.{}", t.meta.id), None)
                else {
                    continue;
                };
                let target = match target {
                    Target::To { place, set } => {
                        let (track_id, state_id) = place
                            .split_once('.')
                            .map_or((t.meta.id.as_str(), place.as_str()), |(a, b)| (a, b));
                        let Some((nti, nt)) = np.find_track(track_id) else {
                            let d = cx.error(
                                "unknown-track",
                                tspan,
                                format!(
                                    "version {to} of `{}` has no track `{track_id}`",
                                    np.meta.id
                                ),
                            );
                            d.help = did_you_mean(track_id, np.tracks.iter().map(|t| t.meta.id.as_str()))
                                .or_else(|| Some("write `\"state\"` for the track of the same id, or `\"track.state\"`".into()));
                            continue;
                        };
                        if !nt.states.iter().any(|s| s.id == state_id) {
                            let d = cx.error(
                                "unknown-state",
                                tspan,
                                format!(
                                    "track `{track_id}` of version {to} has no state `{state_id}`"
                                ),
                            );
                            d.help =
                                did_you_mean(state_id, nt.states.iter().map(|s| s.id.as_str()));
                            continue;
                        }
                        if nt.parent != new_parent {
                            cx.error(
                                "migration-track-parent",
                                tspan,
                                format!(
                                    "track `{track_id}` of version {to} runs in state `{}`, but cases in `{parent_id}` move to `{}`",
                                    np.states.get(nt.parent).map_or("", |s| s.meta.id.as_str()),
                                    np.states.get(new_parent).map_or("", |s| s.meta.id.as_str())
                                ),
                            )
                            .help = Some("map the track's states onto a track of the state its cases move to, or exclude them".into());
                            continue;
                        }
                        let _ = nti;
                        Target::To {
                            place: format!("{track_id}.{state_id}"),
                            set,
                        }
                    }
                    excluded @ Target::Excluded(_) => excluded,
                };
                entries.push((key.v, target));
            }
            r.finish(cx, &[]);
        }
        let (unreach, _) = graph::track_problems(op, ti);
        for (si, s) in t.states.iter().enumerate() {
            if unreach.contains(&si) || named.contains(&s.id) {
                continue;
            }
            cx.error(
                "migration-unmapped-state",
                span.clone(),
                format!(
                    "track state `{}.{}` ({}) of version {from} can be reached but is not mapped: a case whose track is there would have no place in version {to}",
                    t.meta.id, s.id, s.title
                ),
            )
            .help = Some(format!(
                "add `{} = \"<state of track {}>\"` or `{} = {{ excluded = \"why\" }}` to `[tracks.{}]`",
                s.id, t.meta.id, s.id, t.meta.id
            ));
        }
        tracks.push((t.meta.id.clone(), entries));
    }
    // [applies_to].
    let mut applies_to = AppliesTo::default();
    if let Some(v) = applies_v
        && let Some(mut t) = TableReader::of(cx, v, "applies_to")
    {
        if let Some(list) = t.str_list(cx, "states") {
            for s in list.v {
                if op.find_state(&s.v).is_none() {
                    let d = cx.error(
                        "unknown-state",
                        s.span.clone(),
                        format!("version {from} of `{}` has no state `{}`", op.meta.id, s.v),
                    );
                    d.help = did_you_mean(&s.v, op.states.iter().map(|s| s.meta.id.as_str()));
                } else {
                    applies_to.states.push(s.v);
                }
            }
        }
        for key in ["opened_before", "opened_after"] {
            let Some(l) = t.opt_lit(cx, key) else {
                continue;
            };
            let day = match &l.v {
                Lit::Date(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                _ => None,
            };
            match day {
                Some(d) if key == "opened_before" => applies_to.opened_before = Some(d),
                Some(d) => applies_to.opened_after = Some(d),
                None => {
                    cx.error(
                        "wrong-type",
                        l.span,
                        format!("`applies_to.{key}` must be a date"),
                    )
                    .help = Some(format!(
                        "write a TOML date: `{key} = 2026-12-05` (China time)"
                    ));
                }
            }
        }
        t.finish(cx, &["states", "opened_before", "opened_after"]);
    }
    // New facts the new version needs: no default, not carried over, read by a guard or
    // required at opening.
    let facts_span = facts_v.map_or(header_span.clone(), |v| v.span());
    let targets: Vec<&serde_json::Map<String, serde_json::Value>> = states
        .iter()
        .filter_map(|(_, t, _)| match t {
            Target::To { set, .. } => Some(set),
            Target::Excluded(_) => None,
        })
        .collect();
    for (fi, f) in np.facts.iter().enumerate() {
        let id = f.meta.id.as_str();
        let carried = renamed_facts.get(id).map_or(id, String::as_str);
        let old_fact = op.find_fact(carried);
        let given = facts.contains_key(id)
            || (!targets.is_empty() && targets.iter().all(|s| s.contains_key(id)));
        if given {
            continue;
        }
        if let Some((_, of)) = old_fact {
            if !fits(&of.ty, &f.ty) && enum_to_enum(&of.ty, &f.ty) {
                cx.warning(
                    "migration-enum-values",
                    facts_span.clone(),
                    format!(
                        "fact `{id}` ({}): {}; a case holding one of them cannot move (the plan names it)",
                        f.meta.title,
                        misfit(&of.ty, &f.ty, from, to)
                    ),
                )
                .help = Some(format!("to move such cases too, give `{id}` a value in `[facts]`, or rename another fact onto it"));
            } else if !fits(&of.ty, &f.ty) {
                cx.error(
                    "migration-fact-type",
                    facts_span.clone(),
                    format!(
                        "fact `{id}` ({}) of version {from} does not fit version {to}: {}",
                        f.meta.title,
                        misfit(&of.ty, &f.ty, from, to)
                    ),
                )
                .help = Some(format!(
                    "give `{id}` a value in `[facts]`, or rename another fact onto it"
                ));
            }
            continue;
        }
        if f.default.is_none() && (f.required || read_by_guards(np, fi)) {
            cx.error(
                "migration-fact-missing",
                facts_span.clone(),
                format!(
                    "fact `{id}` ({}) is new in version {to}, has no default and is {}: the migrated cases need a value",
                    f.meta.title,
                    if f.required { "required" } else { "read by its guards" }
                ),
            )
            .help = Some(format!(
                "add `{id} = <{}>` to `[facts]` (or `{id} = {{ from = \"<fact of version {from}>\" }}`)",
                f.ty.name()
            ));
        }
    }
    // The new version's `before` invariants, for every case that moves.
    let ng = graph::main_graph(np);
    for (old_id, target, span) in &states {
        let Target::To { place, .. } = target else {
            continue;
        };
        let (Some((os, _)), Some((ns, _))) = (op.find_state(old_id), np.find_state(place)) else {
            continue;
        };
        for inv in &np.invariants {
            let InvariantKind::Before { first, then } = &inv.kind else {
                continue;
            };
            // Could the case still meet `then` without `first`, from where it lands?
            if !reaches_avoiding(&ng, ns, *first, *then) {
                continue;
            }
            // Then its history must hold `first` already: on every path of the old version
            // to its old state.
            if *first == Node::State(ns) {
                continue;
            }
            let old_firsts: Vec<Node> = match first {
                Node::State(f) => states
                    .iter()
                    .filter(|(_, t, _)| {
                        matches!(t, Target::To { place, .. } if np.find_state(place).map(|(i, _)| i) == Some(*f))
                    })
                    .filter_map(|(k, _, _)| op.find_state(k).map(|(i, _)| Node::State(i)))
                    .collect(),
                Node::Action(a) => {
                    let nid = np.actions.get(*a).map_or("", |a| a.meta.id.as_str());
                    let oid = actions
                        .iter()
                        .find(|(_, n)| n.as_str() == nid)
                        .map_or(nid, |(o, _)| o.as_str());
                    op.find_action(oid).map(|(i, _)| Node::Action(i)).into_iter().collect()
                }
            };
            let proof = if old_firsts.is_empty() {
                Err(None)
            } else {
                graph::prove_any_before_in(&og, op, &old_firsts, Node::State(os)).map_err(Some)
            };
            if let Err(path) = proof {
                let name = |n: &Node| match n {
                    Node::State(s) => format!(
                        "state `{}`",
                        np.states.get(*s).map_or("", |s| s.meta.id.as_str())
                    ),
                    Node::Action(a) => format!(
                        "action `{}`",
                        np.actions.get(*a).map_or("", |a| a.meta.id.as_str())
                    ),
                };
                let d = cx.error(
                    "migration-invariant",
                    span.clone(),
                    format!(
                        "cases in `{old_id}` move to `{place}`, from where {} can follow, but their history need not hold {}: invariant `{}` ({}) of version {to} would not hold",
                        name(then),
                        name(first),
                        inv.meta.id,
                        inv.meta.title
                    ),
                );
                d.help = Some(format!(
                    "map `{old_id}` onto a state of version {to} that is past {}, or exclude it",
                    name(then)
                ));
                if let Some(path) = path {
                    d.notes = vec![format!(
                        "a history in version {from} without it: {}",
                        path.render(op)
                    )];
                }
            }
        }
    }
    Some(Migration {
        name: file.name.clone(),
        procedure: procedure.v,
        from,
        to,
        title: title.map(|t| t.v),
        basis: basis.map(|b| b.v).unwrap_or_default(),
        states: states.into_iter().map(|(k, t, _)| (k, t)).collect(),
        tracks,
        facts,
        renamed_facts,
        actions,
        applies_to,
    })
}

/// Whether, from state `start` of a procedure's main graph, `then` can be reached (the
/// state entered, the action taken) without passing `first`. Being in `then` already counts.
fn reaches_avoiding(
    g: &petgraph::graph::DiGraph<usize, usize>,
    start: usize,
    first: Node,
    then: Node,
) -> bool {
    use petgraph::visit::EdgeRef;
    if then == Node::State(start) {
        return true;
    }
    if first == Node::State(start) {
        return false;
    }
    let mut seen = vec![false; g.node_count()];
    let mut queue = std::collections::VecDeque::from([start]);
    if let Some(s) = seen.get_mut(start) {
        *s = true;
    }
    while let Some(s) = queue.pop_front() {
        for e in g.edges(petgraph::graph::NodeIndex::new(s)) {
            let (action, to) = (*e.weight(), e.target().index());
            if first == Node::Action(action) || first == Node::State(to) {
                continue;
            }
            if then == Node::Action(action) || then == Node::State(to) {
                return true;
            }
            if let Some(seen_to) = seen.get_mut(to)
                && !*seen_to
            {
                *seen_to = true;
                queue.push_back(to);
            }
        }
    }
    false
}
