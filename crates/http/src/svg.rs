//! A procedure drawn as SVG with `layout-rs` (pure Rust): one box per place (main states and
//! track states, `track.state`), one arrow per action labelled with its id.

use fazhi_core::model::{Place, Procedure};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

fn places(p: &Procedure) -> Vec<Place> {
    let mut out: Vec<Place> = (0..p.states.len()).map(Place::State).collect();
    for (ti, t) in p.tracks.iter().enumerate() {
        out.extend((0..t.states.len()).map(|s| Place::Track {
            track: ti,
            state: s,
        }));
    }
    out
}

/// Renders the SVG; a layout failure is an error, not a crash.
pub fn render(p: &Procedure) -> Result<String, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| draw(p)))
        .map_err(|_| format!("procedure `{}` could not be laid out", p.meta.id))
}

fn draw(p: &Procedure) -> String {
    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    let all = places(p);
    let mut handles = Vec::with_capacity(all.len());
    for place in &all {
        let label = p.place_id(*place);
        let shape = ShapeKind::new_box(&label);
        let size = get_shape_size(Orientation::TopToBottom, &shape, 15, false);
        let element = Element::create(shape, StyleAttr::simple(), Orientation::LeftToRight, size);
        handles.push((*place, vg.add_node(element)));
    }
    let handle = |place: Place| handles.iter().find(|(p, _)| *p == place).map(|(_, h)| *h);
    for a in &p.actions {
        let Some(to) = a.to else { continue };
        for from in &a.from {
            if *from == to {
                continue;
            }
            if let (Some(f), Some(t)) = (handle(*from), handle(to)) {
                vg.add_edge(Arrow::simple(&a.meta.id), f, t);
            }
        }
    }
    let mut svg = SVGWriter::new();
    vg.do_it(false, false, false, &mut svg);
    svg.finalize()
}
