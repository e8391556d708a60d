//! The procedure as an SVG picture, laid out in pure Rust (layout-rs: no Graphviz needed).
//!
//! layout-rs draws no clusters, so a track's states are drawn as rounded grey boxes titled
//! `track · state` beside the state they run in, which is linked to each track's initial
//! state by a dashed "starts" edge.

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::model::{Action, Place, Procedure};

/// The width a label needs, counting CJK characters double.
fn text_width(s: &str) -> f64 {
    let units: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    // layout-rs draws 15px text; an ASCII character is about 8px wide.
    8.0 * units as f64 + 24.0
}

fn node(label: &str, lines: usize, look: StyleAttr) -> Element {
    let width = label.lines().map(text_width).fold(60.0, f64::max);
    let size = Point::new(width, 22.0 * lines as f64 + 18.0);
    Element::create(
        ShapeKind::new_box(label),
        look,
        Orientation::TopToBottom,
        size,
    )
}

fn roles(p: &Procedure, a: &Action) -> String {
    a.by.iter()
        .filter_map(|r| p.roles.get(*r))
        .map(|r| r.meta.title.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// Renders the procedure as SVG: states (terminal ones with a thick border), track states,
/// and actions as arrows labelled with their title and the roles that may take them.
pub fn to_svg(p: &Procedure) -> String {
    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    let state_look = StyleAttr::new(Color::fast("black"), 2, Some(Color::fast("white")), 6, 15);
    let terminal_look = StyleAttr::new(Color::fast("black"), 4, Some(Color::fast("white")), 6, 15);
    let track_look = StyleAttr::new(
        Color::fast("gray"),
        1,
        Some(Color::fast("whitesmoke")),
        10,
        13,
    );
    let mut handles = Vec::with_capacity(p.place_count());
    for s in &p.states {
        let basis = s
            .meta
            .basis
            .as_deref()
            .map(|b| format!("\n{b}"))
            .unwrap_or_default();
        let label = format!("{}\n({}){basis}", s.meta.title, s.meta.id);
        let look = if s.terminal {
            terminal_look.clone()
        } else {
            state_look.clone()
        };
        handles.push(vg.add_node(node(&label, 2 + usize::from(!basis.is_empty()), look)));
    }
    for t in &p.tracks {
        for ts in &t.states {
            let label = format!("{} · {}", t.meta.title, ts.title);
            handles.push(vg.add_node(node(&label, 1, track_look.clone())));
        }
    }
    let handle = |place: Place| handles.get(p.place_number(place)).copied();
    for (ti, t) in p.tracks.iter().enumerate() {
        let (Some(parent), Some(first)) = (
            handle(Place::State(t.parent)),
            handle(Place::Track {
                track: ti,
                state: t.initial,
            }),
        ) else {
            continue;
        };
        let cond = t
            .active_if
            .as_ref()
            .map(|e| format!(" (if {})", e.source()))
            .unwrap_or_default();
        let starts = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            LineStyleKind::Dashed,
            &format!("starts{cond}"),
            &StyleAttr::simple(),
            &None,
            &None,
        );
        vg.add_edge(starts, parent, first);
    }
    let mut margin: f64 = 0.0;
    for a in &p.actions {
        for from in &a.from {
            let to = a.to.unwrap_or(*from);
            // Self-loops (a record that does not move the case) are listed on no edge: layout-rs
            // cannot draw them; the DOT and Mermaid exports show them.
            if to == *from {
                continue;
            }
            let (Some(f), Some(t)) = (handle(*from), handle(to)) else {
                continue;
            };
            let label = format!("{} [{}]", a.meta.title, roles(p, a));
            margin = margin.max(text_width(&label));
            vg.add_edge(Arrow::simple(&label), f, t);
        }
    }
    let mut svg = SVGWriter::new();
    vg.do_it(false, false, false, &mut svg);
    widen(&svg.finalize(), margin)
}

/// layout-rs sizes the picture by its nodes, not by the edge labels, which can run past the
/// right edge: widen the canvas by `margin` pixels.
fn widen(svg: &str, margin: f64) -> String {
    let Some(head_end) = svg.find("<defs>") else {
        return svg.to_owned();
    };
    let (head, rest) = svg.split_at(head_end);
    let grow = |head: &str, attr: &str| -> Option<String> {
        let start = head.find(attr)? + attr.len();
        let end = start + head.get(start..)?.find('"')?;
        let w: f64 = head.get(start..end)?.parse().ok()?;
        Some(format!(
            "{}{}{}",
            head.get(..start)?,
            w + margin,
            head.get(end..)?
        ))
    };
    let Some(head) = grow(head, "width=\"") else {
        return svg.to_owned();
    };
    // The viewBox is "0 0 W H": grow W the same way.
    let head = match head.find("viewBox=\"0 0 ") {
        Some(i) => {
            let start = i + "viewBox=\"0 0 ".len();
            match head
                .get(start..)
                .and_then(|r| r.find(' '))
                .map(|e| start + e)
            {
                Some(end) => match head.get(start..end).and_then(|w| w.parse::<f64>().ok()) {
                    Some(w) => format!(
                        "{}{}{}",
                        head.get(..start).unwrap_or_default(),
                        w + margin,
                        head.get(end..).unwrap_or_default()
                    ),
                    None => head,
                },
                None => head,
            }
        }
        None => head,
    };
    format!("{head}{rest}")
}
