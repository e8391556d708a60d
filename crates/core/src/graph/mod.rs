//! The procedure as a graph: reachability, stuck states, invariant proofs, and export.
//!
//! The main machine is a directed graph whose nodes are states and whose edges are actions;
//! each track is a small graph of its own. Guards are not evaluated here: the graph holds
//! every move the rules could ever allow, so what is proved on it holds for every case.
//!
//! The pictures ([`to_svg`], [`to_state_svg`], [`to_dot`], [`to_mermaid`]) and the SVG
//! layout behind them are under the feature `graph-svg` (on by default); reachability and
//! the proofs are always here, since loading needs them.

#[cfg(feature = "graph-svg")]
mod export;
#[cfg(feature = "graph-svg")]
mod layout;
#[cfg(feature = "graph-svg")]
mod svg;

use std::collections::VecDeque;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, EdgeRef, Reversed};

use crate::model::{Node, Place, Procedure};

#[cfg(feature = "graph-svg")]
pub use export::{to_dot, to_mermaid};
#[cfg(feature = "graph-svg")]
pub use svg::{states_with_tracks, to_state_svg, to_state_svg_marked, to_svg, to_svg_marked};

/// One step of a path through the main machine: an action and the state it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The action taken (index into [`Procedure::actions`]).
    pub action: usize,
    /// The state reached.
    pub state: usize,
}

/// A path from the initial state, for counterexamples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The state the path starts in (the procedure's initial state).
    pub start: usize,
    /// The steps.
    pub steps: Vec<Step>,
}

impl Path {
    /// The path written for people: `initiated —start→ drafting —submit→ legality_review`.
    pub fn render(&self, p: &Procedure) -> String {
        let mut out = p
            .states
            .get(self.start)
            .map(|s| s.meta.id.clone())
            .unwrap_or_default();
        for s in &self.steps {
            let a = p.actions.get(s.action).map_or("?", |a| a.meta.id.as_str());
            let st = p.states.get(s.state).map_or("?", |s| s.meta.id.as_str());
            out.push_str(&format!(" —{a}→ {st}"));
        }
        out
    }
}

/// The main machine as a petgraph graph: node `i` is state `i`, edge weights are action indices.
pub fn main_graph(p: &Procedure) -> DiGraph<usize, usize> {
    let mut g = DiGraph::with_capacity(p.states.len(), p.actions.len());
    for i in 0..p.states.len() {
        g.add_node(i);
    }
    for (ai, a) in p.actions.iter().enumerate() {
        if a.track.is_some() {
            continue;
        }
        for from in &a.from {
            if let Place::State(f) = *from {
                let to = match a.to {
                    Some(Place::State(t)) => t,
                    _ => f,
                };
                g.add_edge(NodeIndex::new(f), NodeIndex::new(to), ai);
            }
        }
    }
    g
}

/// The graph of one track: node `i` is the track's state `i`.
pub fn track_graph(p: &Procedure, track: usize) -> DiGraph<usize, usize> {
    let n = p.tracks.get(track).map_or(0, |t| t.states.len());
    let mut g = DiGraph::with_capacity(n, 0);
    for i in 0..n {
        g.add_node(i);
    }
    for (ai, a) in p.actions.iter().enumerate() {
        if a.track != Some(track) {
            continue;
        }
        for from in &a.from {
            if let Place::Track { state: f, .. } = *from {
                let to = match a.to {
                    Some(Place::Track { state, .. }) => state,
                    _ => f,
                };
                g.add_edge(NodeIndex::new(f), NodeIndex::new(to), ai);
            }
        }
    }
    g
}

fn reachable_from(g: &DiGraph<usize, usize>, start: usize) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    if start >= g.node_count() {
        return seen;
    }
    let mut bfs = Bfs::new(g, NodeIndex::new(start));
    while let Some(n) = bfs.next(g) {
        if let Some(s) = seen.get_mut(n.index()) {
            *s = true;
        }
    }
    seen
}

fn co_reachable(g: &DiGraph<usize, usize>, targets: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; g.node_count()];
    let rev = Reversed(g);
    for &t in targets {
        if t >= g.node_count() {
            continue;
        }
        let mut bfs = Bfs::new(rev, NodeIndex::new(t));
        while let Some(n) = bfs.next(rev) {
            if let Some(s) = seen.get_mut(n.index()) {
                *s = true;
            }
        }
    }
    seen
}

/// States of the main machine that no path from the initial state reaches.
pub fn unreachable_states(p: &Procedure) -> Vec<usize> {
    unreachable_states_in(&main_graph(p), p)
}

/// [`unreachable_states`] on the main graph built once by the caller.
pub fn unreachable_states_in(g: &DiGraph<usize, usize>, p: &Procedure) -> Vec<usize> {
    let seen = reachable_from(g, p.initial);
    (0..p.states.len())
        .filter(|i| !seen.get(*i).copied().unwrap_or(false))
        .collect()
}

/// Reachable, non-terminal states from which no terminal state can be reached: a case there
/// would be stuck forever.
pub fn stuck_states(p: &Procedure) -> Vec<usize> {
    stuck_states_in(&main_graph(p), p)
}

/// [`stuck_states`] on the main graph built once by the caller.
pub fn stuck_states_in(g: &DiGraph<usize, usize>, p: &Procedure) -> Vec<usize> {
    let reach = reachable_from(g, p.initial);
    let terminals: Vec<usize> = (0..p.states.len()).filter(|s| p.is_terminal(*s)).collect();
    let co = co_reachable(g, &terminals);
    (0..p.states.len())
        .filter(|i| {
            reach.get(*i).copied().unwrap_or(false) && !co.get(*i).copied().unwrap_or(false)
        })
        .collect()
}

/// For one track: its states unreachable from its initial state, and its reachable states
/// from which no final state can be reached.
pub fn track_problems(p: &Procedure, track: usize) -> (Vec<usize>, Vec<usize>) {
    let Some(t) = p.tracks.get(track) else {
        return (Vec::new(), Vec::new());
    };
    let g = track_graph(p, track);
    let reach = reachable_from(&g, t.initial);
    let co = co_reachable(&g, &t.finals);
    let unreachable = (0..t.states.len())
        .filter(|i| !reach.get(*i).copied().unwrap_or(false))
        .collect();
    let stuck = (0..t.states.len())
        .filter(|i| {
            reach.get(*i).copied().unwrap_or(false) && !co.get(*i).copied().unwrap_or(false)
        })
        .collect();
    (unreachable, stuck)
}

/// Proves that `first` happens before `then` on every path from the initial state. On
/// failure returns a counterexample: a path that reaches `then` without `first`.
///
/// The proof removes `first` from the graph (the state with every edge into it, or the
/// action's edges) and searches for `then` from the initial state.
pub fn prove_before(p: &Procedure, first: Node, then: Node) -> Result<(), Path> {
    prove_before_in(&main_graph(p), p, first, then)
}

/// [`prove_before`] on the main graph built once by the caller (a procedure with many
/// invariants builds it once, not once per invariant).
pub fn prove_before_in(
    g: &DiGraph<usize, usize>,
    p: &Procedure,
    first: Node,
    then: Node,
) -> Result<(), Path> {
    prove_any_before_in(g, p, &[first], then)
}

/// Proves that on every path from the initial state, one of `firsts` happens before `then`
/// (a deadline counted from the latest of several anchors runs on every path to its
/// actions); on failure, a path that reaches `then` with none of them.
pub fn prove_any_before_in(
    g: &DiGraph<usize, usize>,
    p: &Procedure,
    firsts: &[Node],
    then: Node,
) -> Result<(), Path> {
    if firsts.contains(&Node::State(p.initial)) {
        return Ok(());
    }
    let blocked_edge = |action: usize, to: usize| {
        firsts.iter().any(|first| match *first {
            Node::State(s) => to == s,
            Node::Action(a) => action == a,
        })
    };
    // BFS over states, remembering how each was reached.
    let mut prev: Vec<Option<(usize, usize)>> = vec![None; g.node_count()];
    let mut seen = vec![false; g.node_count()];
    let mut queue = VecDeque::new();
    if let Some(s) = seen.get_mut(p.initial) {
        *s = true;
    }
    queue.push_back(p.initial);
    let path_to = |prev: &[Option<(usize, usize)>], mut s: usize, last: Option<Step>| {
        let mut steps = Vec::new();
        if let Some(l) = last {
            steps.push(l);
        }
        while let Some(Some((from, action))) = prev.get(s) {
            steps.push(Step {
                action: *action,
                state: s,
            });
            s = *from;
        }
        steps.reverse();
        Path {
            start: p.initial,
            steps,
        }
    };
    while let Some(s) = queue.pop_front() {
        if then == Node::State(s) {
            return Err(path_to(&prev, s, None));
        }
        for e in g.edges(NodeIndex::new(s)) {
            let (action, to) = (*e.weight(), e.target().index());
            if blocked_edge(action, to) {
                continue;
            }
            if then == Node::Action(action) {
                return Err(path_to(&prev, s, Some(Step { action, state: to })));
            }
            if let Some(seen_to) = seen.get_mut(to)
                && !*seen_to
            {
                *seen_to = true;
                if let Some(pv) = prev.get_mut(to) {
                    *pv = Some((s, action));
                }
                queue.push_back(to);
            }
        }
    }
    Ok(())
}

/// A shortest path from the initial state to `target` (entering the state, or taking the
/// action), for counterexamples and "reached by" notes.
pub fn path_to(p: &Procedure, target: Node) -> Option<Path> {
    path_to_in(&main_graph(p), p, target)
}

/// [`path_to`] on the main graph built once by the caller.
pub fn path_to_in(g: &DiGraph<usize, usize>, p: &Procedure, target: Node) -> Option<Path> {
    // The search of `prove_before` with nothing blocked: a `first` that matches no action.
    prove_before_in(g, p, Node::Action(usize::MAX), target).err()
}
