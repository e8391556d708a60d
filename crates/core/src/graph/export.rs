//! Drawing a procedure: Graphviz DOT and Mermaid state diagrams.

use std::fmt::Write as _;

use crate::model::{Action, Place, Procedure};

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn roles(p: &Procedure, a: &Action) -> String {
    a.by.iter()
        .filter_map(|r| p.roles.get(*r))
        .map(|r| r.meta.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn edge_label(p: &Procedure, a: &Action) -> String {
    let mut label = format!("{}\\n[{}]", a.meta.title, roles(p, a));
    if let Some(b) = &a.meta.basis {
        let _ = write!(label, "\\n{b}");
    }
    esc(&label).replace("\\\\n", "\\n")
}

fn node_id(p: &Procedure, place: Place) -> String {
    format!("\"{}\"", esc(&p.place_id(place)))
}

/// The procedure as Graphviz DOT: states as boxes (terminal states doubled), tracks as
/// clusters inside their state, actions as edges labelled with title, roles and article.
pub fn to_dot(p: &Procedure) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", esc(&p.meta.id));
    let _ = writeln!(
        out,
        "  compound=true; rankdir=TB; node [shape=box, style=rounded, fontname=\"sans-serif\"]; edge [fontname=\"sans-serif\", fontsize=10];"
    );
    let _ = writeln!(
        out,
        "  label=\"{} v{}\"; labelloc=t;",
        esc(&p.meta.title),
        p.version
    );
    let _ = writeln!(out, "  \"__start\" [shape=point];");
    for (si, s) in p.states.iter().enumerate() {
        let shape = if s.terminal { ", peripheries=2" } else { "" };
        let basis = s
            .meta
            .basis
            .as_deref()
            .map(|b| format!("\\n{}", esc(b)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n({}){basis}\"{shape}];",
            node_id(p, Place::State(si)),
            esc(&s.meta.title),
            esc(&s.meta.id)
        );
        for &ti in &s.tracks {
            let Some(t) = p.tracks.get(ti) else { continue };
            let _ = writeln!(out, "  subgraph \"cluster_{}\" {{", esc(&t.meta.id));
            let cond = t
                .active_if
                .as_ref()
                .map(|e| format!("（仅当{}）", esc(&super::svg::words(p, e, None))))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    label=\"{} · {}{cond}\"; style=dashed;",
                esc(&s.meta.id),
                esc(&t.meta.title)
            );
            for (tsi, ts) in t.states.iter().enumerate() {
                let periph = if t.is_final(tsi) {
                    ", peripheries=2"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "    {} [label=\"{}\"{periph}];",
                    node_id(
                        p,
                        Place::Track {
                            track: ti,
                            state: tsi
                        }
                    ),
                    esc(&ts.title)
                );
            }
            let _ = writeln!(out, "  }}");
        }
    }
    let _ = writeln!(
        out,
        "  \"__start\" -> {};",
        node_id(p, Place::State(p.initial))
    );
    for a in &p.actions {
        for from in &a.from {
            let to = a.to.unwrap_or(*from);
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\"];",
                node_id(p, *from),
                node_id(p, to),
                edge_label(p, a)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_id(p: &Procedure, place: Place) -> String {
    p.place_id(place).replace(['.', '-'], "_")
}

/// The procedure as a Mermaid state diagram: tracks as concurrent regions of their state.
pub fn to_mermaid(p: &Procedure) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for (si, s) in p.states.iter().enumerate() {
        let id = mermaid_id(p, Place::State(si));
        let _ = writeln!(out, "    {id} : {}", s.meta.title.replace(':', "："));
        if s.tracks.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    state {id} {{");
        for (n, &ti) in s.tracks.iter().enumerate() {
            let Some(t) = p.tracks.get(ti) else { continue };
            if n > 0 {
                out.push_str("        --\n");
            }
            let init = mermaid_id(
                p,
                Place::Track {
                    track: ti,
                    state: t.initial,
                },
            );
            let _ = writeln!(out, "        [*] --> {init}");
            for (tsi, ts) in t.states.iter().enumerate() {
                let tid = mermaid_id(
                    p,
                    Place::Track {
                        track: ti,
                        state: tsi,
                    },
                );
                let _ = writeln!(out, "        {tid} : {}", ts.title.replace(':', "："));
                if t.is_final(tsi) {
                    let _ = writeln!(out, "        {tid} --> [*]");
                }
            }
            for a in p.actions.iter().filter(|a| a.track == Some(ti)) {
                for from in &a.from {
                    let to = a.to.unwrap_or(*from);
                    let _ = writeln!(
                        out,
                        "        {} --> {} : {}",
                        mermaid_id(p, *from),
                        mermaid_id(p, to),
                        a.meta.title.replace(':', "：")
                    );
                }
            }
        }
        out.push_str("    }\n");
    }
    let _ = writeln!(
        out,
        "    [*] --> {}",
        mermaid_id(p, Place::State(p.initial))
    );
    for a in p.actions.iter().filter(|a| a.track.is_none()) {
        for from in &a.from {
            let to = a.to.unwrap_or(*from);
            let _ = writeln!(
                out,
                "    {} --> {} : {} [{}]",
                mermaid_id(p, *from),
                mermaid_id(p, to),
                a.meta.title.replace(':', "："),
                roles(p, a)
            );
        }
    }
    for (si, s) in p.states.iter().enumerate() {
        if s.terminal {
            let _ = writeln!(out, "    {} --> [*]", mermaid_id(p, Place::State(si)));
        }
    }
    out
}
