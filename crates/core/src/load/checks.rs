//! The checks on a resolved procedure's graph: reachability, stuck states, tracks, invariants.

use super::reader::Cx;
use super::resolve::Spans;
use crate::graph::{self, Path};
use crate::model::{InvariantKind, Node, Place, Procedure};

fn node_name(p: &Procedure, n: Node) -> String {
    match n {
        Node::State(s) => format!(
            "state `{}`",
            p.states.get(s).map_or("?", |s| s.meta.id.as_str())
        ),
        Node::Action(a) => format!(
            "action `{}`",
            p.actions.get(a).map_or("?", |a| a.meta.id.as_str())
        ),
    }
}

fn counterexample(p: &Procedure, path: &Path) -> Vec<String> {
    vec![format!("counterexample: {}", path.render(p))]
}

/// The most counterexample paths searched for one kind of note; past it (a file with
/// thousands of stuck states) the diagnostics come without a path.
const MAX_PATHS: usize = 50;

/// Runs every graph check, adding diagnostics to `cx`.
pub(crate) fn check(cx: &mut Cx<'_>, p: &Procedure, spans: &Spans) {
    // The main graph is built once for every check below.
    let g = graph::main_graph(p);
    let unreachable = graph::unreachable_states_in(&g, p);
    for &s in &unreachable {
        let (Some(state), Some(span)) = (p.states.get(s), spans.states.get(s)) else {
            continue;
        };
        cx.error(
            "unreachable-state",
            span.clone(),
            format!(
                "state `{}` cannot be reached from the initial state `{}`",
                state.meta.id,
                p.place_id(Place::State(p.initial))
            ),
        )
        .help = Some(format!(
            "add an action with `to = \"{}\"` from a reachable state, or remove the state",
            state.meta.id
        ));
    }
    for (k, s) in graph::stuck_states_in(&g, p).into_iter().enumerate() {
        let (Some(state), Some(span)) = (p.states.get(s), spans.states.get(s)) else {
            continue;
        };
        // A path for the first few only: each costs a search of the whole graph.
        let path = if k < MAX_PATHS {
            graph::path_to_in(&g, p, Node::State(s))
        } else {
            None
        };
        let d = cx.error("stuck-state", span.clone(), format!("no terminal state can be reached from state `{}`: a case there would be stuck forever", state.meta.id));
        d.help = Some("add an action that leads on towards a terminal state, or list this state in `terminal`".into());
        if let Some(path) = path {
            d.notes = vec![format!("reached by: {}", path.render(p))];
        }
    }
    for (ti, t) in p.tracks.iter().enumerate() {
        let (unreach, stuck) = graph::track_problems(p, ti);
        for s in unreach {
            let (Some(ts), Some(span)) = (
                t.states.get(s),
                spans.track_states.get(ti).and_then(|v| v.get(s)),
            ) else {
                continue;
            };
            cx.error(
                "unreachable-state",
                span.clone(),
                format!(
                    "track state `{}.{}` cannot be reached from the track's initial state",
                    t.meta.id, ts.id
                ),
            )
            .help = Some(format!(
                "add a track action with `to = \"{}.{}\"`, or remove the state",
                t.meta.id, ts.id
            ));
        }
        for s in stuck {
            let (Some(ts), Some(span)) = (
                t.states.get(s),
                spans.track_states.get(ti).and_then(|v| v.get(s)),
            ) else {
                continue;
            };
            cx.error("track-final-unreachable", span.clone(), format!("no final state of track `{}` can be reached from `{}.{}`", t.meta.id, t.meta.id, ts.id))
                .help = Some("add a track action that leads on to a final state, or list this state in the track's `final`".into());
        }
    }
    abandoned_tracks(cx, p, spans);
    unanchored_deadlines(cx, p, spans, &g);
    let mut paths = 0;
    for (ii, inv) in p.invariants.iter().enumerate() {
        let Some(span) = spans.invariants.get(ii) else {
            continue;
        };
        match &inv.kind {
            InvariantKind::Before { first, then } => {
                if let Err(path) = graph::prove_before_in(&g, p, *first, *then) {
                    cx.error(
                        "invariant-violated",
                        span.clone(),
                        format!(
                            "invariant `{}` does not hold: {} can happen without {} before it",
                            inv.meta.id,
                            node_name(p, *then),
                            node_name(p, *first)
                        ),
                    )
                    .help = Some(format!(
                        "every path to {} must pass through {}: guard or remove the action that bypasses it",
                        node_name(p, *then),
                        node_name(p, *first)
                    ));
                    if let Some(d) = cx.diags.last_mut() {
                        d.notes = counterexample(p, &path);
                    }
                }
            }
            InvariantKind::OnlyIf { reach, only_if } => {
                let wanted = only_if.conjuncts();
                let entering: Vec<usize> = match reach {
                    Node::Action(a) => vec![*a],
                    Node::State(s) => p
                        .actions
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| {
                            a.to == Some(Place::State(*s)) && !a.from.contains(&Place::State(*s))
                        })
                        .map(|(i, _)| i)
                        .collect(),
                };
                for ai in entering {
                    let Some(a) = p.actions.get(ai) else { continue };
                    let have = a.when.as_ref().map(|w| w.conjuncts()).unwrap_or_default();
                    if wanted.iter().all(|w| have.contains(w)) {
                        continue;
                    }
                    let aspan = spans
                        .actions
                        .get(ai)
                        .cloned()
                        .unwrap_or_else(|| span.clone());
                    let d = cx.error("invariant-violated", aspan, format!("invariant `{}` is not proved: action `{}` reaches {} without requiring `{}`", inv.meta.id, a.meta.id, node_name(p, *reach), only_if.source()));
                    d.help = Some(format!(
                        "add `&& {}` to the guard (`when`) of `{}`",
                        only_if.source(),
                        a.meta.id
                    ));
                    paths += 1;
                    if paths <= MAX_PATHS
                        && let Some(path) = graph::path_to_in(&g, p, Node::Action(ai))
                    {
                        d.notes = counterexample(p, &path);
                    }
                }
            }
        }
    }
}

/// Tracks left behind: an action out of a state with tracks whose guard waits for some of
/// them (`done(t)`, or reads `t`) but not all is a join that forgot the others. An exit that
/// waits for none is a lawful abandonment only when it ends the case (a withdrawal, a
/// termination) or records why (`reason_required`); otherwise it is a join that forgot every
/// track ([`abandoning_exit`]).
fn abandoned_tracks(cx: &mut Cx<'_>, p: &Procedure, spans: &Spans) {
    let mut moves = None;
    for (si, state) in p.states.iter().enumerate() {
        if state.tracks.is_empty() {
            continue;
        }
        let exits: Vec<(usize, Vec<String>)> = p
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.track.is_none()
                    && a.from.contains(&Place::State(si))
                    && matches!(a.to, Some(Place::State(t)) if t != si)
            })
            .map(|(ai, a)| {
                let reads = a.when.as_ref().map(|w| w.references()).unwrap_or_default();
                (ai, reads)
            })
            .collect();
        let track_id = |t: usize| p.tracks.get(t).map_or("?", |t| t.meta.id.as_str());
        for (ai, reads) in &exits {
            let waits: Vec<usize> = state
                .tracks
                .iter()
                .copied()
                .filter(|t| reads.iter().any(|r| r == track_id(*t)))
                .collect();
            if waits.is_empty() {
                abandoning_exit(cx, p, spans, &mut moves, (si, *ai));
                continue;
            }
            for &t in state.tracks.iter().filter(|t| !waits.contains(t)) {
                let (Some(a), Some(span)) = (p.actions.get(*ai), spans.actions.get(*ai)) else {
                    continue;
                };
                cx.warning(
                    "track-abandoned",
                    span.clone(),
                    format!(
                        "action `{}` waits for track `{}` but not for track `{}`, which also runs in state `{}`",
                        a.meta.id,
                        track_id(waits.first().copied().unwrap_or(t)),
                        track_id(t),
                        state.meta.id
                    ),
                )
                .help = Some(format!(
                    "add `&& done({})` to its `when`, or, if the law lets the case go on without it, make this an exit that waits for neither track",
                    track_id(t)
                ));
            }
        }
    }
}

/// An exit from a state with tracks that waits for none of them and goes on to another
/// working state without a recorded reason: the tracks (a consultation, an expert review) are
/// silently dropped while the case proceeds as if they had run.
fn abandoning_exit(
    cx: &mut Cx<'_>,
    p: &Procedure,
    spans: &Spans,
    moves: &mut Option<Vec<Vec<usize>>>,
    (si, ai): (usize, usize),
) {
    use crate::model::ReasonRule;
    let (Some(state), Some(a), Some(span)) =
        (p.states.get(si), p.actions.get(ai), spans.actions.get(ai))
    else {
        return;
    };
    let Some(Place::State(to)) = a.to else {
        return;
    };
    // Ending the case (a withdrawal, a termination), saying why, or going back to a state from
    // which the tracks run again (a restart) is not a join.
    if p.is_terminal(to) || !matches!(a.reason, ReasonRule::Optional) {
        return;
    }
    if returns_to(moves.get_or_insert_with(|| main_moves(p)), to, si) {
        return;
    }
    let tracks: Vec<&str> = state
        .tracks
        .iter()
        .filter_map(|t| p.tracks.get(*t))
        .map(|t| t.meta.id.as_str())
        .collect();
    cx.warning(
        "track-abandoned",
        span.clone(),
        format!(
            "action `{}` leaves state `{}` for a working state without waiting for its track{} {}",
            a.meta.id,
            state.meta.id,
            if tracks.len() == 1 { "" } else { "s" },
            tracks
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .help = Some(format!(
        "add `{}` to its `when`; or, if the law lets the case go on without them, say why with `reason_required = true`",
        tracks
            .iter()
            .map(|t| format!("done({t})"))
            .collect::<Vec<_>>()
            .join(" && ")
    ));
}

/// The main machine's moves: per state, the states its actions lead to.
fn main_moves(p: &Procedure) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); p.states.len()];
    for a in p.actions.iter().filter(|a| a.track.is_none()) {
        let Some(Place::State(t)) = a.to else {
            continue;
        };
        for f in &a.from {
            if let Place::State(f) = f
                && let Some(out) = adj.get_mut(*f)
            {
                out.push(t);
            }
        }
    }
    adj
}

/// Whether the main machine can come back from state `from` to state `to`.
fn returns_to(moves: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; moves.len()];
    let mut stack = vec![from];
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        match seen.get_mut(s) {
            Some(v) if !*v => *v = true,
            _ => continue,
        }
        stack.extend(moves.get(s).into_iter().flatten().copied());
    }
    false
}

/// Deadlines that do not run on every path to their actions, and date facts nothing gives:
/// a period the author believes enforced that silently never starts. A rule that declares
/// when it applies (`applies_if`, `unless`), or an optional right, is taken to mean it.
fn unanchored_deadlines(
    cx: &mut Cx<'_>,
    p: &Procedure,
    spans: &Spans,
    g: &petgraph::graph::DiGraph<usize, usize>,
) {
    use crate::model::{Anchor, TimeRuleKind};
    for (ri, rule) in p.time_rules.iter().enumerate() {
        let Some(span) = spans.time_rules.get(ri) else {
            continue;
        };
        if rule.unless.is_some() || rule.applies_if.is_some() {
            continue;
        }
        // A date fact only the opening may give, and nothing else sets.
        for anchor in &rule.after {
            let Anchor::Date(f) = *anchor else { continue };
            let Some(fact) = p.facts.get(f) else { continue };
            let set_by_action = p
                .actions
                .iter()
                .any(|a| a.sets.iter().any(|(x, _)| *x == f));
            if fact.required || fact.default.is_some() || set_by_action {
                continue;
            }
            cx.warning(
                "date-fact-never-set",
                span.clone(),
                format!(
                    "time rule `{}` counts from the date fact `{}`, which nothing sets: unless the case is opened with it, the period never starts",
                    rule.meta.id, fact.meta.id
                ),
            )
            .help = Some(format!(
                "make `{}` required, set it in the action that learns it (`sets`), or say when the rule applies (`applies_if`)",
                fact.meta.id
            ));
        }
        if rule.kind != TimeRuleKind::Within || rule.optional {
            continue;
        }
        // Anchors on the main machine only; a rule with any other anchor is left alone.
        let mut firsts = Vec::new();
        for anchor in &rule.after {
            match *anchor {
                Anchor::Action(a) if p.actions.get(a).is_some_and(|x| x.track.is_none()) => {
                    firsts.push(Node::Action(a));
                }
                Anchor::Entered(Place::State(s)) => firsts.push(Node::State(s)),
                _ => {
                    firsts.clear();
                    break;
                }
            }
        }
        if firsts.is_empty() {
            continue;
        }
        for &ai in &rule.actions {
            if p.actions.get(ai).is_none_or(|a| a.track.is_some()) {
                continue;
            }
            if let Err(path) = graph::prove_any_before_in(g, p, &firsts, Node::Action(ai)) {
                let anchors: Vec<String> = firsts.iter().map(|n| node_name(p, *n)).collect();
                cx.warning(
                    "anchor-not-on-every-path",
                    span.clone(),
                    format!(
                        "deadline `{}` does not run on every path to {}: it counts from {}, which a case can bypass",
                        rule.meta.id,
                        node_name(p, Node::Action(ai)),
                        anchors.join(" or ")
                    ),
                )
                .help = Some(
                    "if the deadline applies only on some paths, say when with `applies_if`; otherwise count it from a step every path passes".into(),
                );
                if let Some(d) = cx.diags.last_mut() {
                    d.notes = counterexample(p, &path);
                }
                break;
            }
        }
    }
}
