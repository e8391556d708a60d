//! A small deterministic layout for pictures of procedures: boxes of wrapped text on a grid
//! (one band of rows per layer), arrows routed orthogonally through the gaps between the
//! boxes so that no arrow crosses a box or a text.
//!
//! An arrow leaves its box at the right edge, level with the text of its action, runs down
//! or up the gap to the right of the column, along the gap above the target's row, and
//! enters the target from above. Arrows sharing a gap get lanes of their own where they
//! overlap. Everything is computed from vectors in a fixed order: the same input gives the
//! same bytes.

use std::fmt::Write as _;

/// The fonts asked for, CJK first (the first installed one is used).
pub(super) const FONTS: &str = "'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Zen Hei','PingFang SC','Microsoft YaHei',sans-serif";

/// Colours of arrows, cycled: dark enough to read on white, far enough apart to follow.
const PALETTE: [&str; 8] = [
    "#1f5fa8", "#b03a2e", "#1e8449", "#7d3c98", "#b9770e", "#117a8b", "#a93279", "#5d6d7e",
];

const PAD: i32 = 10;
const LANE: i32 = 6;
const GAP: i32 = 20;

/// How a text is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Style {
    pub size: i32,
    pub bold: bool,
    pub color: &'static str,
}

impl Style {
    pub const TITLE: Style = Style {
        size: 15,
        bold: true,
        color: "#111",
    };
    pub const ACTION: Style = Style {
        size: 13,
        bold: false,
        color: "#111",
    };
    pub const NOTE: Style = Style {
        size: 12,
        bold: false,
        color: "#555",
    };
    pub const HEAD: Style = Style {
        size: 13,
        bold: true,
        color: "#333",
    };
}

/// One paragraph of a box: wrapped to the box's width.
#[derive(Debug, Clone)]
pub(super) enum Para {
    /// A text, indented by `indent` pixels.
    Text {
        text: String,
        style: Style,
        indent: i32,
    },
    /// A nested box (a track inside its state), dashed.
    Boxed(Vec<Para>),
    /// Vertical space.
    Space(i32),
}

impl Para {
    pub fn text(text: impl Into<String>, style: Style) -> Para {
        Para::Text {
            text: text.into(),
            style,
            indent: 0,
        }
    }

    pub fn indented(text: impl Into<String>, style: Style, indent: i32) -> Para {
        Para::Text {
            text: text.into(),
            style,
            indent,
        }
    }
}

/// The frame of the box where a case is now.
pub(super) const CURRENT_STROKE: &str = "#d35400";
/// The fill of the box where a case is now.
pub(super) const CURRENT_FILL: &str = "#fff3d6";

/// A box of the picture.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    pub paras: Vec<Para>,
    /// A thick border (a terminal state, a track's final state).
    pub thick: bool,
    /// A green border (where the procedure or track starts).
    pub start: bool,
    /// Filled and framed in orange: where a case is now.
    pub current: bool,
}

/// An arrow from the paragraph `para` of box `from` (an index into its `paras`) to box `to`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge {
    pub from: usize,
    pub para: usize,
    pub to: usize,
}

/// The colour of the `n`th arrow of a picture.
pub(super) fn colour(n: usize) -> &'static str {
    PALETTE.get(n % PALETTE.len()).copied().unwrap_or("#333")
}

/// The width of one character in pixels at `size`: CJK and full-width forms one em, the
/// rest a little over half.
fn char_width(c: char, size: i32) -> i32 {
    let em = size;
    if c.is_ascii() {
        if c.is_ascii_uppercase() || c == 'm' || c == 'w' {
            em * 7 / 10
        } else {
            em * 6 / 10
        }
    } else {
        em
    }
}

/// The width of a text in pixels.
pub(super) fn text_width(s: &str, size: i32) -> i32 {
    s.chars().map(|c| char_width(c, size)).sum()
}

/// Characters that may not begin a line.
fn closing(c: char) -> bool {
    "，。、；：？！）》」』”’,.;:)]%·".contains(c)
}

/// Characters that may not end a line.
fn opening(c: char) -> bool {
    "（《「『“‘([".contains(c)
}

/// Wraps `text` into lines at most `width` pixels wide (a line may run over by a closing
/// punctuation mark); breaks anywhere between CJK characters, between ASCII words.
pub(super) fn wrap(text: &str, size: i32, width: i32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = char_width(c, size);
        if w + cw > width && !line.is_empty() && !closing(c) {
            // Carry an ASCII word, or an opening mark, over to the next line.
            let mut keep = line.len();
            if c.is_ascii_alphanumeric() || c == '_' {
                while keep > 0
                    && line
                        .get(keep - 1)
                        .is_some_and(|p| p.is_ascii_alphanumeric() || *p == '_')
                {
                    keep -= 1;
                }
                if keep < line.len() / 2 {
                    keep = line.len();
                }
            }
            while keep > 1 && line.get(keep - 1).is_some_and(|p| opening(*p)) {
                keep -= 1;
            }
            let carried = line.split_off(keep);
            lines.push(line.iter().collect::<String>());
            line = carried;
            w = line.iter().map(|c| char_width(*c, size)).sum();
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line.into_iter().collect());
    }
    lines
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG being written: elements in order, then the frame around them.
#[derive(Debug, Default)]
pub(super) struct Canvas {
    body: String,
    pub width: i32,
    pub height: i32,
}

impl Canvas {
    /// One line of text with its top-left corner at (`x`, `y`).
    pub fn text(&mut self, x: i32, y: i32, s: &str, style: Style) {
        let weight = if style.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{x}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"{weight}>{}</text>",
            y + style.size * 9 / 10,
            style.size,
            style.color,
            esc(s)
        );
        self.width = self.width.max(x + text_width(s, style.size) + PAD);
    }

    /// A rectangle with rounded corners, filled with `fill`.
    pub fn rect_filled(
        &mut self,
        (x, y, w, h): (i32, i32, i32, i32),
        stroke: &str,
        width: i32,
        fill: &str,
    ) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>"
        );
        self.width = self.width.max(x + w + PAD);
        self.height = self.height.max(y + h + PAD);
    }

    /// A rectangle with rounded corners.
    pub fn rect(
        &mut self,
        (x, y, w, h): (i32, i32, i32, i32),
        stroke: &str,
        width: i32,
        dash: bool,
    ) {
        let dash = if dash {
            " stroke-dasharray=\"5,3\""
        } else {
            ""
        };
        let _ = writeln!(
            self.body,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"white\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>"
        );
        self.width = self.width.max(x + w + PAD);
        self.height = self.height.max(y + h + PAD);
    }

    /// A dashed frame around a group of boxes, drawn over nothing.
    pub fn frame(&mut self, x: i32, y: i32, w: i32, h: i32) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"10\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"8,4\"/>"
        );
        self.width = self.width.max(x + w + PAD);
        self.height = self.height.max(y + h + PAD);
    }

    /// A line through `points`, ending in an arrowhead pointing down at the last point.
    pub fn arrow(&mut self, points: &[(i32, i32)], colour: &str) {
        let mut d = String::new();
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(d, "{}{x},{y}", if i == 0 { "M" } else { " L" });
        }
        let _ = writeln!(
            self.body,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>"
        );
        if let Some((x, y)) = points.last() {
            let _ = writeln!(
                self.body,
                "<path d=\"M{},{} L{},{} L{x},{y} Z\" fill=\"{colour}\"/>",
                x - 5,
                y - 9,
                x + 5,
                y - 9
            );
        }
        if let Some((x, y)) = points.first() {
            let _ = writeln!(
                self.body,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"
            );
        }
    }

    /// The finished document.
    pub fn finish(self, title: &str) -> String {
        let (w, h) = (self.width, self.height + PAD);
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONTS}\">\n<title>{}</title>\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n{}</svg>\n",
            esc(title),
            self.body
        )
    }
}

/// A paragraph laid out: its lines, their heights, and where each nested box goes.
struct Laid {
    height: i32,
    /// The y of each top-level paragraph's first line's middle, from the box's top.
    ports: Vec<i32>,
}

/// Lays out `paras` at width `width` from (`x`, `y`); draws them when `canvas` is given.
fn lay_paras(paras: &[Para], x: i32, y: i32, width: i32, mut canvas: Option<&mut Canvas>) -> Laid {
    let mut at = y;
    let mut ports = Vec::with_capacity(paras.len());
    for p in paras {
        match p {
            Para::Text {
                text,
                style,
                indent,
            } => {
                let line_h = style.size * 14 / 10;
                ports.push(at - y + line_h / 2);
                for line in wrap(text, style.size, width - indent - 4) {
                    if let Some(c) = canvas.as_deref_mut() {
                        c.text(x + indent, at + style.size * 2 / 10, &line, *style);
                    }
                    at += line_h;
                }
            }
            Para::Boxed(inner) => {
                ports.push(at - y + PAD);
                at += 4;
                let inner_w = width - 2 * 8;
                let h = lay_paras(inner, x + 8, at + 6, inner_w, None).height + 12;
                if let Some(c) = canvas.as_deref_mut() {
                    c.rect((x, at, width, h), "#888", 1, true);
                    lay_paras(inner, x + 8, at + 6, inner_w, Some(c));
                }
                at += h + 4;
            }
            Para::Space(h) => {
                ports.push(at - y);
                at += h;
            }
        }
    }
    Laid {
        height: at - y,
        ports,
    }
}

/// The boxes and arrows of a machine, with where they go: by `layer`, then by `order`.
pub(super) struct Machine {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub layer: Vec<usize>,
    pub order: Vec<usize>,
}

/// Where each box goes: its layer (a band of rows, top to bottom).
pub(super) struct Grid {
    /// The boxes' width.
    pub width: i32,
    /// At most this many boxes side by side.
    pub columns: usize,
}

/// Draws boxes and arrows onto `canvas` from `top`, the boxes in rows by `layer`, then by
/// `order` within a layer. Returns the bottom.
pub(super) fn draw(
    canvas: &mut Canvas,
    left: i32,
    top: i32,
    grid: &Grid,
    machine: &Machine,
) -> i32 {
    let Machine {
        nodes,
        edges,
        layer,
        order,
    } = machine;
    let n = nodes.len();
    let inner_w = grid.width - 2 * PAD;
    let laid: Vec<Laid> = nodes
        .iter()
        .map(|nd| lay_paras(&nd.paras, 0, 0, inner_w, None))
        .collect();
    let height = |i: usize| laid.get(i).map_or(40, |l| l.height + 2 * PAD);
    let port = |e: &Edge| {
        laid.get(e.from)
            .and_then(|l| l.ports.get(e.para))
            .copied()
            .unwrap_or(0)
            + PAD
    };

    // Rows in reading order: the boxes by layer, then by `order`; a row is filled before
    // the next begins.
    let columns = grid.columns.max(1);
    let mut sequence: Vec<usize> = (0..n).collect();
    sequence.sort_by_key(|&i| {
        (
            layer.get(i).copied().unwrap_or(0),
            order.get(i).copied().unwrap_or(i),
            i,
        )
    });
    let mut row_of = vec![0usize; n];
    let mut col_of = vec![0usize; n];
    let rows: Vec<Vec<usize>> = sequence.chunks(columns).map(<[usize]>::to_vec).collect();
    for (r, row) in rows.iter().enumerate() {
        for (c, &i) in row.iter().enumerate() {
            if let Some(x) = row_of.get_mut(i) {
                *x = r;
            }
            if let Some(x) = col_of.get_mut(i) {
                *x = c;
            }
        }
    }
    let used_columns = rows
        .iter()
        .flatten()
        .filter_map(|i| col_of.get(*i))
        .max()
        .map_or(1, |m| m + 1);

    // Abstract coordinates for lane assignment: column c spans (2c, 2c+2) with its right gap
    // at 2c+2; row r spans (2r+1, 2r+2) with the gap above it at 2r + 1/2.
    struct Route {
        edge: usize,
        gap: usize,
        row_gap: usize,
        y_from: f64,
        x_to: f64,
        entry: (usize, usize),
    }
    let mut entries: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        if e.from != e.to
            && let Some(list) = entries.get_mut(e.to)
        {
            list.push(k);
        }
    }
    for (to, list) in entries.iter_mut().enumerate() {
        let to_col = col_of.get(to).copied().unwrap_or(0);
        list.sort_by_key(|&k| {
            let e = edges.get(k).copied().unwrap_or(Edge {
                from: 0,
                para: 0,
                to: 0,
            });
            let c = col_of.get(e.from).copied().unwrap_or(0);
            // Arrows from the left enter on the left; from this column or the right, by gap.
            (
                c + usize::from(c >= to_col),
                row_of.get(e.from).copied().unwrap_or(0),
                port(&e),
                k,
            )
        });
    }
    let mut routes = Vec::new();
    for (k, e) in edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        let (rs, cs) = (
            row_of.get(e.from).copied().unwrap_or(0),
            col_of.get(e.from).copied().unwrap_or(0),
        );
        let (rt, ct) = (
            row_of.get(e.to).copied().unwrap_or(0),
            col_of.get(e.to).copied().unwrap_or(0),
        );
        let list = entries.get(e.to).map_or(&[][..], Vec::as_slice);
        let slot = list.iter().position(|x| *x == k).unwrap_or(0);
        let frac = f64::from(port(e)) / f64::from(height(e.from).max(1));
        routes.push(Route {
            edge: k,
            gap: cs + 1,
            row_gap: rt,
            y_from: (2 * rs + 1) as f64 + frac,
            x_to: (2 * ct) as f64 + (slot + 1) as f64 * 2.0 / (list.len() + 1) as f64,
            entry: (slot, list.len()),
        });
    }
    // Greedy interval partitioning: each route takes the first lane free over its span.
    let assign = |spans: Vec<(usize, f64, f64, usize)>| -> (Vec<usize>, Vec<usize>) {
        // (group, start, end, route index) → lane per route, lanes per group.
        let mut sorted = spans.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.3.cmp(&b.3)));
        let mut lane_of = vec![0usize; spans.len()];
        let groups = spans.iter().map(|s| s.0 + 1).max().unwrap_or(0);
        let mut lanes: Vec<Vec<f64>> = vec![Vec::new(); groups];
        for (g, start, end, r) in sorted {
            let Some(ends) = lanes.get_mut(g) else {
                continue;
            };
            let lane = match ends.iter().position(|e| *e < start - 1e-9) {
                Some(l) => l,
                None => {
                    ends.push(f64::NEG_INFINITY);
                    ends.len() - 1
                }
            };
            if let Some(e) = ends.get_mut(lane) {
                *e = end;
            }
            if let Some(l) = lane_of.get_mut(r) {
                *l = lane;
            }
        }
        (lane_of, lanes.iter().map(Vec::len).collect())
    };
    let (col_lane, col_lanes) = assign(
        routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let y_to = (2 * r.row_gap) as f64 + 0.5;
                (r.gap, r.y_from.min(y_to), r.y_from.max(y_to), i)
            })
            .collect(),
    );
    let (row_lane, row_lanes) = assign(
        routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let x_from = (2 * r.gap) as f64;
                (r.row_gap, x_from.min(r.x_to), x_from.max(r.x_to), i)
            })
            .collect(),
    );

    // Real coordinates.
    let gap_w = |g: usize| GAP + LANE * col_lanes.get(g).copied().unwrap_or(0) as i32;
    let mut col_x = Vec::with_capacity(used_columns + 1);
    let mut x = left;
    for c in 0..=used_columns {
        col_x.push(x + if c == 0 { 0 } else { gap_w(c) });
        x += grid.width + if c == 0 { 0 } else { gap_w(c) };
    }
    // col_x[c] is the left of column c; the gap right of column c starts at col_x[c] + width.
    let row_gap_h = |r: usize| GAP + LANE * row_lanes.get(r).copied().unwrap_or(0) as i32;
    let mut row_y = Vec::with_capacity(rows.len());
    let mut y = top;
    for (r, row) in rows.iter().enumerate() {
        y += if r == 0 && row_lanes.first().copied().unwrap_or(0) == 0 {
            0
        } else {
            row_gap_h(r)
        };
        row_y.push(y);
        y += row.iter().map(|i| height(*i)).max().unwrap_or(0);
    }
    let bottom = y;
    let right = col_x
        .get(used_columns.saturating_sub(1))
        .copied()
        .unwrap_or(left)
        + grid.width
        + gap_w(used_columns);
    canvas.width = canvas.width.max(right);

    for (i, nd) in nodes.iter().enumerate() {
        let (r, c) = (
            row_of.get(i).copied().unwrap_or(0),
            col_of.get(i).copied().unwrap_or(0),
        );
        let (x, y) = (
            col_x.get(c).copied().unwrap_or(left),
            row_y.get(r).copied().unwrap_or(top),
        );
        let (stroke, width) = match (nd.current, nd.start, nd.thick) {
            (true, _, _) => (CURRENT_STROKE, 4),
            (false, true, true) => ("#1e8449", 4),
            (false, true, false) => ("#1e8449", 2),
            (false, false, true) => ("#111", 4),
            (false, false, false) => ("#444", 1),
        };
        let fill = if nd.current { CURRENT_FILL } else { "white" };
        canvas.rect_filled((x, y, grid.width, height(i)), stroke, width, fill);
        lay_paras(&nd.paras, x + PAD, y + PAD, inner_w, Some(canvas));
    }
    for (ri, r) in routes.iter().enumerate() {
        let Some(e) = edges.get(r.edge) else { continue };
        let (rs, cs) = (
            row_of.get(e.from).copied().unwrap_or(0),
            col_of.get(e.from).copied().unwrap_or(0),
        );
        let (rt, ct) = (
            row_of.get(e.to).copied().unwrap_or(0),
            col_of.get(e.to).copied().unwrap_or(0),
        );
        let sx = col_x.get(cs).copied().unwrap_or(left) + grid.width;
        let sy = row_y.get(rs).copied().unwrap_or(top) + port(e);
        let lx = sx + GAP / 2 + LANE * col_lane.get(ri).copied().unwrap_or(0) as i32;
        let ty = row_y.get(rt).copied().unwrap_or(top);
        let ly =
            ty - row_gap_h(rt) + GAP / 2 + LANE * row_lane.get(ri).copied().unwrap_or(0) as i32;
        let (slot, count) = r.entry;
        let tx = col_x.get(ct).copied().unwrap_or(left)
            + grid.width * (slot as i32 + 1) / (count as i32 + 1);
        canvas.arrow(
            &[(sx, sy), (lx, sy), (lx, ly), (tx, ly), (tx, ty)],
            colour(r.edge),
        );
    }
    bottom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_no_line_starts_with_a_closing_mark() {
        let text = "决策机关、行政首长、决策承办单位（含 legality_reviewer 部门）。第25条第1款";
        for width in [40, 60, 100, 200, 1000] {
            let lines = wrap(text, 12, width);
            assert_eq!(lines.concat(), text, "width {width}");
            for line in &lines {
                let first = line.chars().next().unwrap();
                assert!(!closing(first), "width {width}: {lines:?}");
                // A line runs over only by a closing mark.
                let over = text_width(line, 12) - width;
                assert!(over <= 12, "width {width}: {lines:?}");
            }
        }
        assert_eq!(wrap("", 12, 50), vec![String::new()]);
    }

    #[test]
    fn boxes_fill_rows_and_arrows_stay_out_of_boxes() {
        let node = |t: &str| Node {
            paras: vec![
                Para::text(t, Style::TITLE),
                Para::text("→ 下一步", Style::ACTION),
            ],
            ..Node::default()
        };
        let m = Machine {
            nodes: (0..5).map(|i| node(&format!("状态{i}"))).collect(),
            edges: (0..4)
                .map(|i| Edge {
                    from: i,
                    para: 1,
                    to: i + 1,
                })
                .chain([Edge {
                    from: 4,
                    para: 1,
                    to: 0,
                }])
                .collect(),
            layer: vec![0, 1, 2, 3, 4],
            order: vec![0, 1, 2, 3, 4],
        };
        let grid = Grid {
            width: 200,
            columns: 3,
        };
        let mut a = Canvas::default();
        let bottom = draw(&mut a, 10, 10, &grid, &m);
        let mut b = Canvas::default();
        draw(&mut b, 10, 10, &grid, &m);
        let (a, b) = (a.finish("t"), b.finish("t"));
        assert_eq!(a, b);
        // Two rows: three boxes, then two.
        assert_eq!(a.matches("<rect x=").count(), 5);
        assert!(bottom > 10);
        // Five arrows, each with its head.
        assert_eq!(a.matches("<circle").count(), 5);
    }
}
