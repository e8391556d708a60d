//! The procedure as SVG pictures for people: an overview of the main machine, and one
//! picture per state that has parallel tracks, showing the tracks in detail.
//!
//! Every action appears, with the roles that may take it and its article: a move as a
//! coloured line in its state's box with an arrow of the same colour to the state it leads
//! to, a record that does not move the case (`↻`) as a line in its state's box. Conditions
//! are written with the titles of facts and named conditions, never ids. The layout is
//! our own ([`super::layout`]) and deterministic: the same procedure gives the same bytes.

use super::layout::{self, Canvas, Edge, Grid, Machine, Node, Para, Style};
use crate::expr::Expr;
use crate::model::{Action, Citation, Meta, Place, Procedure, StateRef};

/// The widest an overview may be, so that it reads at 100% in a README.
const MAX_WIDTH: i32 = 1600;
const BOX_WIDTH: i32 = 310;
const MARGIN: i32 = 16;
/// A record that may be made in this many places or more is listed once, in a box of its own.
const SHARED: usize = 3;
const SHARED_TITLE: &str = "多个阶段均可进行的行为";

/// `①` for 0, `②` for 1, … `⑳`, then `(21)`.
fn number(n: usize) -> String {
    u32::try_from(n)
        .ok()
        .filter(|n| *n < 20)
        .and_then(|n| char::from_u32(0x2460 + n))
        .map_or_else(|| format!("({})", n + 1), String::from)
}

const HEADER: Style = Style {
    size: 20,
    bold: true,
    color: "#111",
};
const SECTION: Style = Style {
    size: 16,
    bold: true,
    color: "#111",
};

/// What the pictures of one procedure share: the procedure and the law its bare article
/// numbers refer to.
struct Writer<'a> {
    p: &'a Procedure,
    /// The law cited most (its key in [`Citation::law`]) and its title.
    primary: Option<(String, String)>,
    /// Where a case is now (highlighted), when the picture is a case's.
    current: Vec<Place>,
}

/// A law's title as cited, without the state's name in front.
fn short_law(title: &str) -> &str {
    title.strip_prefix("中华人民共和国").unwrap_or(title)
}

impl<'a> Writer<'a> {
    fn new(p: &'a Procedure) -> Self {
        let mut metas: Vec<&Meta> = vec![&p.meta];
        metas.extend(p.states.iter().map(|s| &s.meta));
        for t in &p.tracks {
            metas.push(&t.meta);
            metas.extend(t.states.iter());
        }
        metas.extend(p.actions.iter().map(|a| &a.meta));
        // Count in order of first appearance, so that a tie goes to the law cited first.
        let mut counts: Vec<(&Citation, usize)> = Vec::new();
        for c in metas.iter().flat_map(|m| m.citations.iter()) {
            match counts.iter_mut().find(|(k, _)| k.law == c.law) {
                Some((_, n)) => *n += 1,
                None => counts.push((c, 1)),
            }
        }
        let mut best: Option<(&Citation, usize)> = None;
        for (c, n) in counts {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((c, n));
            }
        }
        Writer {
            p,
            current: Vec::new(),
            primary: best.map(|(c, _)| (c.law.clone(), short_law(&c.law_title).to_owned())),
        }
    }

    /// A citation in short: `第25条第1款`, `《行政强制法》第37条`.
    fn citation(&self, c: &Citation) -> String {
        let mut s = match &self.primary {
            Some((law, _)) if *law == c.law => String::new(),
            _ => format!("《{}》", short_law(&c.law_title)),
        };
        match c.through {
            Some(t) => s.push_str(&format!("第{}–{t}条", c.article)),
            None => s.push_str(&format!("第{}条", c.article)),
        }
        if let Some(para) = c.paragraph {
            s.push_str(&format!("第{para}款"));
        }
        if let Some(i) = c.item {
            s.push_str(&format!("第{i}项"));
        }
        s
    }

    /// Every citation of a basis, in short.
    fn cite(&self, meta: &Meta) -> String {
        let mut parts: Vec<String> = Vec::new();
        for c in &meta.citations {
            let s = self.citation(c);
            if !parts.contains(&s) {
                parts.push(s);
            }
        }
        parts.join("、")
    }

    /// An expression in words, with titles for names.
    fn describe(&self, e: &Expr, action: Option<&Action>) -> String {
        words(self.p, e, action)
    }

    fn roles(&self, a: &Action) -> String {
        a.by.iter()
            .filter_map(|r| self.p.roles.get(*r))
            .map(|r| r.meta.title.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }

    fn place_title(&self, place: Place) -> String {
        match place {
            Place::State(s) => self.p.states.get(s).map(|s| s.meta.title.clone()),
            Place::Track { track, state } => self
                .p
                .tracks
                .get(track)
                .and_then(|t| t.states.get(state))
                .map(|s| s.title.clone()),
        }
        .unwrap_or_default()
    }

    /// The lines of one action in the box of the place it is taken from. Returns the
    /// index (in `paras`) of its first line when it moves the case, for the arrow.
    fn action_paras(
        &self,
        a: &Action,
        from: Place,
        colour: &'static str,
        stays: Option<&str>,
        paras: &mut Vec<Para>,
    ) -> Option<usize> {
        let to = a.to.unwrap_or(from);
        let moves = to != from;
        let first = paras.len();
        let title = if moves {
            Para::text(
                format!("→ {}", a.meta.title),
                Style {
                    color: colour,
                    ..Style::ACTION
                },
            )
        } else {
            Para::text(format!("↻ {}", a.meta.title), Style::ACTION)
        };
        paras.push(title);
        let mut note: Vec<String> = Vec::new();
        let roles = self.roles(a);
        if !roles.is_empty() {
            note.push(roles);
        }
        let cite = self.cite(&a.meta);
        if !cite.is_empty() {
            note.push(cite);
        }
        note.push(if moves {
            format!("至「{}」", self.place_title(to))
        } else {
            stays.unwrap_or("状态不变").to_owned()
        });
        paras.push(Para::indented(note.join(" · "), Style::NOTE, 16));
        let condition = if a.conditions.is_empty() {
            a.when.as_ref().map(|w| self.describe(w, Some(a)))
        } else {
            Some(
                a.conditions
                    .iter()
                    .map(|c| c.meta.title.as_str())
                    .collect::<Vec<_>>()
                    .join("；"),
            )
        };
        if let Some(c) = condition {
            paras.push(Para::indented(format!("条件：{c}"), Style::NOTE, 16));
        }
        paras.push(Para::Space(3));
        moves.then_some(first)
    }

    /// The heading lines of a box: its title, then where it starts or ends and its articles.
    fn heading(&self, title: &str, tags: &[&str], meta: &Meta, paras: &mut Vec<Para>) {
        paras.push(Para::text(title, Style::TITLE));
        let mut note: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let cite = self.cite(meta);
        if !cite.is_empty() {
            note.push(cite);
        }
        if !note.is_empty() {
            paras.push(Para::text(note.join(" · "), Style::NOTE));
        }
        paras.push(Para::Space(4));
    }

    fn track_condition(&self, track: usize) -> String {
        match self.p.tracks.get(track).and_then(|t| t.active_if.as_ref()) {
            Some(e) => format!("仅当{}时进行", self.describe(e, None)),
            None => "始终进行".to_owned(),
        }
    }

    /// Lays out boxes for a machine: its places, the actions from each, arrows for moves.
    fn machine(&self, places: &[Place], initial: usize, start_tags: &[bool]) -> Machine {
        let mut nodes = Vec::with_capacity(places.len());
        let mut edges: Vec<Edge> = Vec::new();
        // Records that may be made in many places of this machine (a challenge, an
        // extension) are listed once, numbered, and each place names their numbers.
        let shared: Vec<usize> = self
            .p
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                let here = a.from.iter().filter(|f| places.contains(f)).count();
                here >= SHARED && a.to.is_none_or(|t| !places.contains(&t))
            })
            .map(|(i, _)| i)
            .collect();
        for (i, &place) in places.iter().enumerate() {
            let mut paras = Vec::new();
            let (title, meta, terminal, tracks) = match place {
                Place::State(s) => {
                    let Some(st) = self.p.states.get(s) else {
                        continue;
                    };
                    (
                        st.meta.title.as_str(),
                        &st.meta,
                        st.terminal,
                        st.tracks.as_slice(),
                    )
                }
                Place::Track { track, state } => {
                    let Some(t) = self.p.tracks.get(track) else {
                        continue;
                    };
                    let Some(ts) = t.states.get(state) else {
                        continue;
                    };
                    (ts.title.as_str(), ts, t.is_final(state), &[][..])
                }
            };
            let start = start_tags.get(i).copied().unwrap_or(false);
            let is_track = matches!(place, Place::Track { .. });
            let mut tags = Vec::new();
            if start {
                tags.push(if is_track { "开始" } else { "起点" });
            }
            if terminal {
                tags.push(if is_track { "完成" } else { "程序终结" });
            }
            let current = self.current.contains(&place);
            if current {
                tags.push("◆ 本案当前所处");
            }
            self.heading(title, &tags, meta, &mut paras);
            let mut marks = String::new();
            for (ai, a) in self.p.actions.iter().enumerate() {
                if !a.from.contains(&place) {
                    continue;
                }
                if let Some(n) = shared.iter().position(|s| *s == ai) {
                    marks.push_str(&number(n));
                    continue;
                }
                let colour = layout::colour(edges.len());
                if let Some(para) = self.action_paras(a, place, colour, None, &mut paras) {
                    let to = a.to.and_then(|t| places.iter().position(|p| *p == t));
                    if let Some(to) = to {
                        edges.push(Edge { from: i, para, to });
                    }
                }
            }
            if !marks.is_empty() {
                paras.push(Para::text(
                    format!("↻ 另可：{marks}（见「{SHARED_TITLE}」）"),
                    Style::ACTION,
                ));
            }
            if !tracks.is_empty() {
                paras.push(Para::Boxed(self.tracks_summary(place, tracks)));
            }
            nodes.push(Node {
                paras,
                thick: terminal,
                start,
                current,
            });
        }
        if !shared.is_empty() {
            let mut paras = vec![Para::text(SHARED_TITLE, Style::TITLE), Para::Space(4)];
            for (n, &ai) in shared.iter().enumerate() {
                let Some(a) = self.p.actions.get(ai) else {
                    continue;
                };
                let Some(&from) = a.from.first() else {
                    continue;
                };
                let first = paras.len();
                let at: Vec<String> = a
                    .from
                    .iter()
                    .filter(|f| places.contains(f))
                    .map(|f| format!("「{}」", self.place_title(*f)))
                    .collect();
                let at = format!("可在{}中进行，状态不变", at.join(""));
                self.action_paras(a, from, "#111", Some(&at), &mut paras);
                if let Some(Para::Text { text, .. }) = paras.get_mut(first) {
                    *text = format!("{} {}", number(n), a.meta.title);
                }
            }
            nodes.push(Node {
                paras,
                ..Node::default()
            });
        }
        let (layer, order) = layers(nodes.len(), initial, &edges);
        Machine {
            nodes,
            edges,
            layer,
            order,
        }
    }

    /// The tracks of a state, briefly, for its box in the overview.
    fn tracks_summary(&self, place: Place, tracks: &[usize]) -> Vec<Para> {
        let state_id = match place {
            Place::State(s) => self.p.states.get(s).map_or("", |s| s.meta.id.as_str()),
            Place::Track { .. } => "",
        };
        let mut paras = vec![
            Para::text("本阶段内并行进行：", Style::HEAD),
            Para::text(
                format!("（详图 {}.{state_id}.svg）", self.p.meta.id),
                Style::NOTE,
            ),
        ];
        for &ti in tracks {
            let Some(t) = self.p.tracks.get(ti) else {
                continue;
            };
            let cite = self.cite(&t.meta);
            let cite = if cite.is_empty() {
                String::new()
            } else {
                format!(" · {cite}")
            };
            paras.push(Para::Space(3));
            paras.push(Para::text(format!("▸ {}", t.meta.title), Style::ACTION));
            paras.push(Para::indented(
                format!("{}{cite}", self.track_condition(ti)),
                Style::NOTE,
                14,
            ));
            let finals: Vec<String> = t
                .finals
                .iter()
                .filter_map(|f| t.states.get(*f))
                .map(|s| format!("「{}」", s.title))
                .collect();
            let initial = t.states.get(t.initial).map_or("", |s| s.title.as_str());
            paras.push(Para::indented(
                format!("自「{initial}」起，至{}即完成", finals.join("或")),
                Style::NOTE,
                14,
            ));
        }
        paras
    }
}

/// An expression of `p` in words, with titles for names (payload fields those of `action`).
pub(super) fn words(p: &Procedure, e: &Expr, action: Option<&Action>) -> String {
    e.describe(&|name| p.title_of(name, action))
}

/// Each node's layer and its rank in reading order: its distance from `initial` along the
/// edges (breadth first, edges in their order) and when the search found it. Nodes not
/// reached come last; so do ends reached from several places (a discontinuance), which would
/// otherwise pull every path up to them.
fn layers(n: usize, initial: usize, edges: &[Edge]) -> (Vec<usize>, Vec<usize>) {
    let mut layer = vec![usize::MAX; n];
    let mut order = vec![usize::MAX; n];
    if let Some(l) = layer.get_mut(initial) {
        *l = 0;
    }
    if let Some(o) = order.get_mut(initial) {
        *o = 0;
    }
    let mut found = 1;
    let mut queue = std::collections::VecDeque::from([initial]);
    while let Some(s) = queue.pop_front() {
        let d = layer.get(s).copied().unwrap_or(0);
        for e in edges.iter().filter(|e| e.from == s) {
            if let Some(l) = layer.get_mut(e.to)
                && *l == usize::MAX
            {
                *l = d + 1;
                if let Some(o) = order.get_mut(e.to) {
                    *o = found;
                }
                found += 1;
                queue.push_back(e.to);
            }
        }
    }
    let last = layer
        .iter()
        .filter(|l| **l != usize::MAX)
        .max()
        .map_or(0, |m| m + 1);
    for (i, l) in layer.iter_mut().enumerate() {
        let sink = !edges.iter().any(|e| e.from == i && e.to != i);
        let mut preds: Vec<usize> = edges
            .iter()
            .filter(|e| e.to == i && e.from != i)
            .map(|e| e.from)
            .collect();
        preds.sort_unstable();
        preds.dedup();
        if *l == usize::MAX {
            *l = last + 1;
        } else if sink && preds.len() > 1 && i != initial {
            *l = last;
        }
    }
    (layer, order)
}

/// The grid for a machine: as many columns (at most four) as fit in [`MAX_WIDTH`], and the
/// width that makes.
fn fit(m: &Machine) -> (Grid, i32) {
    let mut columns = 4;
    loop {
        let mut trial = Canvas::default();
        let g = Grid {
            width: BOX_WIDTH,
            columns,
        };
        layout::draw(&mut trial, MARGIN, 0, &g, m);
        if trial.width <= MAX_WIDTH || columns <= 2 {
            return (g, trial.width);
        }
        columns -= 1;
    }
}

/// Draws a machine from `top`; returns the bottom.
fn grid(canvas: &mut Canvas, top: i32, m: &Machine, g: &Grid) -> i32 {
    layout::draw(canvas, MARGIN, top, g, m)
}

/// Writes header lines from `top`; returns the bottom.
fn header(canvas: &mut Canvas, top: i32, width: i32, lines: &[(String, Style)]) -> i32 {
    let mut y = top;
    for (text, style) in lines {
        for line in layout::wrap(text, style.size, width - 2 * MARGIN) {
            canvas.text(MARGIN, y, &line, *style);
            y += style.size * 14 / 10;
        }
    }
    y + 6
}

fn basis_line(w: &Writer<'_>) -> String {
    match &w.primary {
        Some((_, title)) => format!("依据《{title}》：未写法名的条文号，均指此法"),
        None => String::new(),
    }
}

/// Renders the procedure's main machine as SVG: a box per state, titled, with its articles
/// and every action that may be taken in it (role, article, condition); a coloured arrow
/// from each move to the state it leads to; a state's parallel tracks summarised in a
/// dashed box inside it (drawn in detail by [`to_state_svg`]).
pub fn to_svg(p: &Procedure) -> String {
    overview(Writer::new(p))
}

/// [`to_svg`] with the places where a case is now (`current`: ids as rule files write them,
/// `under_review` or `participation.open`) filled and framed in orange and tagged
/// 「◆ 本案当前所处」. Ids that name no place are left out: `to_svg_marked(p, &["preparing"])`
/// is the overview with the box 「准备送审材料」 marked.
pub fn to_svg_marked(p: &Procedure, current: &[&str]) -> String {
    let mut w = Writer::new(p);
    w.current = marked(p, current);
    overview(w)
}

/// The places named by `ids`, as the model indexes them.
fn marked(p: &Procedure, ids: &[&str]) -> Vec<Place> {
    ids.iter()
        .filter_map(|id| p.place(id))
        .map(|r| r.place())
        .collect()
}

fn overview(w: Writer<'_>) -> String {
    let p = w.p;
    let places: Vec<Place> = (0..p.states.len()).map(Place::State).collect();
    let starts: Vec<bool> = (0..p.states.len()).map(|s| s == p.initial).collect();
    let m = w.machine(&places, p.initial, &starts);
    let (g, width) = fit(&m);
    let mut canvas = Canvas::default();
    let top = header(
        &mut canvas,
        MARGIN,
        width.max(800),
        &[
            (
                format!("{}（{} 第{}版）", p.meta.title, p.meta.id, p.version),
                HEADER,
            ),
            (basis_line(&w), Style::NOTE),
            (
                "绿框：起点；粗框：程序终结；→ 彩色行：使案件进入另一状态的行为，同色箭头指向该状态；↻：不改变状态的行为；虚线框：本状态内并行进行的程序。".to_owned(),
                Style::NOTE,
            ),
        ],
    );
    grid(&mut canvas, top, &m, &g);
    canvas.finish(&p.meta.title)
}

/// The states that have parallel tracks, each drawn by [`to_state_svg`].
pub fn states_with_tracks(p: &Procedure) -> Vec<StateRef<'_>> {
    p.states().filter(|s| s.tracks().next().is_some()).collect()
}

/// Renders the parallel tracks of one state (by its id) in detail: per track, when it runs,
/// and a box per track state with every action of the track; then the state's own actions
/// (records, and the ways out with the conditions that wait for the tracks).
/// `None` when there is no such state or it has no tracks ([`states_with_tracks`] lists
/// those that have).
pub fn to_state_svg(p: &Procedure, state: &str) -> Option<String> {
    state_svg(Writer::new(p), p.find_state(state)?.0)
}

/// [`to_state_svg`] with the track states where a case is now (`current`, as
/// `participation.open`) highlighted as [`to_svg_marked`] does.
pub fn to_state_svg_marked(p: &Procedure, state: &str, current: &[&str]) -> Option<String> {
    let mut w = Writer::new(p);
    w.current = marked(p, current);
    state_svg(w, p.find_state(state)?.0)
}

fn state_svg(w: Writer<'_>, state: usize) -> Option<String> {
    let p = w.p;
    let st = p.states.get(state)?;
    if st.tracks.is_empty() {
        return None;
    }
    let mut canvas = Canvas::default();
    let mut top = header(
        &mut canvas,
        MARGIN,
        MAX_WIDTH,
        &[
            (format!("{} · {}", p.meta.title, st.meta.title), HEADER),
            (
                format!(
                    "「{}」阶段内并行进行的程序（{} 第{}版）{}",
                    st.meta.title,
                    p.meta.id,
                    p.version,
                    match w.cite(&st.meta) {
                        c if c.is_empty() => String::new(),
                        c => format!(" · {c}"),
                    }
                ),
                Style::NOTE,
            ),
            (basis_line(&w), Style::NOTE),
            (
                "绿框：程序开始时所处的状态；粗框：程序已完成；→ 彩色行：使程序进入另一状态的行为，同色箭头指向该状态；↻：不改变状态的行为。".to_owned(),
                Style::NOTE,
            ),
        ],
    );
    for &ti in &st.tracks {
        let Some(t) = p.tracks.get(ti) else { continue };
        let frame_top = top + 8;
        let cite = match w.cite(&t.meta) {
            c if c.is_empty() => String::new(),
            c => format!(" · {c}"),
        };
        let inner_top = header(
            &mut canvas,
            frame_top + 8,
            MAX_WIDTH,
            &[
                (t.meta.title.clone(), SECTION),
                (format!("{}{cite}", w.track_condition(ti)), Style::NOTE),
            ],
        );
        let places: Vec<Place> = (0..t.states.len())
            .map(|s| Place::Track {
                track: ti,
                state: s,
            })
            .collect();
        let starts: Vec<bool> = (0..t.states.len()).map(|s| s == t.initial).collect();
        let m = w.machine(&places, t.initial, &starts);
        let (g, _) = fit(&m);
        let bottom = grid(&mut canvas, inner_top, &m, &g);
        let width = canvas.width - MARGIN / 2 - 4;
        canvas.frame(MARGIN / 2, frame_top, width, bottom + 10 - frame_top);
        top = bottom + 14;
    }
    // The state's own actions: records, and the ways out with the conditions that join the
    // tracks.
    let mut paras = Vec::new();
    w.heading(
        &format!("在「{}」阶段可进行的行为（含离开本阶段）", st.meta.title),
        &[],
        &st.meta,
        &mut paras,
    );
    let place = Place::State(state);
    for a in p.actions.iter().filter(|a| a.from.contains(&place)) {
        w.action_paras(a, place, "#111", None, &mut paras);
    }
    let node = Node {
        paras,
        ..Node::default()
    };
    let m = Machine {
        nodes: vec![node],
        edges: Vec::new(),
        layer: vec![0],
        order: vec![0],
    };
    let g = Grid {
        width: 2 * BOX_WIDTH,
        columns: 1,
    };
    grid(&mut canvas, top + 12, &m, &g);
    Some(canvas.finish(&format!("{} · {}", p.meta.title, st.meta.title)))
}
