//! Satisfiability by enumeration over the finite atoms of a bool expression.
//!
//! Bool and enum variables range over their values plus "unset"; tracks over their states
//! plus "inactive"; every other atom (a comparison of integers, amounts, text or dates, and
//! the history functions) is a free boolean, identical atoms identified by canonical text.
//! Treating those atoms as free can only add assignments, and Kleene logic is monotone
//! (an unknown atom made true or false never turns a true result into another one), so
//! [`Satisfiability::Never`] is sound: no case can make the expression true.

use serde::{Deserialize, Serialize};

use super::lexer::CmpOp;
use super::node::{Func, Kind, Node, Target};
use super::types::{Type, Value, VarSlot};

/// Whether a bool expression can ever be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Satisfiability {
    /// Some assignment of its atoms makes it true.
    Satisfiable,
    /// No assignment makes it true: the guard can never hold.
    Never,
    /// Too many combinations to enumerate, or not a bool expression.
    Unknown,
}

/// The most combinations we enumerate.
const LIMIT: usize = 65_536;

/// The most node evaluations we spend (combinations × nodes): a guard of 80,000 comparisons
/// over few atoms is not worth seconds of enumeration.
const BUDGET: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Var(VarSlot),
    Track(usize),
    /// An integer variable compared with constants: its values are the regions the
    /// constants cut the integers into (below the first, the first, between, ..., above the
    /// last), so that `n >= 1000 && n <= 100` is found contradictory.
    Int(VarSlot),
}

/// An enumerated dimension: a finite variable (the last value meaning unset) or a free atom.
struct Dim {
    key: Option<Key>,
    atom: Option<String>,
    size: usize,
}

/// An operand of a finite comparison: a dimension or a constant.
#[derive(Debug, Clone, Copy)]
enum Operand {
    Dim(usize),
    Const(usize),
}

enum Sat {
    Lit(bool),
    Bool(usize),
    Not(Box<Sat>),
    And(Vec<Sat>),
    Or(Vec<Sat>),
    Eq {
        lhs: Operand,
        rhs: Operand,
        negate: bool,
    },
    In {
        lhs: Operand,
        values: Vec<usize>,
    },
    IsSet(usize),
    /// An integer variable (its region dimension) compared with the constant whose point
    /// region is `point`.
    IntCmp {
        dim: usize,
        op: CmpOp,
        point: usize,
    },
    /// `done(t)`: true when the track (dimension) is inactive, else the free atom.
    Done(usize, usize),
}

/// Builds the finite form of an expression. It stops as soon as the combinations exceed
/// [`LIMIT`] (`over`): then there are at most about 16 dimensions, so looking one up is cheap
/// and a guard of any length is analysed in time linear in its length.
struct Builder {
    dims: Vec<Dim>,
    /// The constants each integer variable is compared with, sorted and distinct.
    ints: Vec<(VarSlot, Vec<i64>)>,
    /// The number of combinations of `dims`.
    total: usize,
    /// Whether `total` went past [`LIMIT`]: the answer is [`Satisfiability::Unknown`].
    over: bool,
    /// How many nodes were built.
    nodes: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            dims: Vec::new(),
            ints: Vec::new(),
            total: 1,
            over: false,
            nodes: 0,
        }
    }
}

impl Builder {
    fn push(&mut self, dim: Dim) -> usize {
        match self.total.checked_mul(dim.size) {
            Some(t) if t <= LIMIT => self.total = t,
            _ => self.over = true,
        }
        self.dims.push(dim);
        self.dims.len() - 1
    }

    fn finite(&mut self, key: Key, size: usize) -> usize {
        if let Some(i) = self.dims.iter().position(|d| d.key == Some(key)) {
            return i;
        }
        self.push(Dim {
            key: Some(key),
            atom: None,
            size,
        })
    }

    fn free(&mut self, text: String) -> usize {
        if let Some(i) = self
            .dims
            .iter()
            .position(|d| d.atom.as_deref() == Some(text.as_str()))
        {
            return i;
        }
        self.push(Dim {
            key: None,
            atom: Some(text),
            size: 2,
        })
    }

    /// The node as a finite operand, if it is one.
    fn operand(&mut self, node: &Node) -> Option<Operand> {
        match (&node.kind, &node.ty) {
            (Kind::Const(Value::Bool(b)), _) => Some(Operand::Const(usize::from(*b))),
            (Kind::Const(Value::Enum(i)), _) => Some(Operand::Const(usize::from(*i))),
            (Kind::Var { slot, .. }, Type::Bool) => {
                Some(Operand::Dim(self.finite(Key::Var(*slot), 3)))
            }
            (Kind::Var { slot, .. }, Type::Enum(values)) => {
                Some(Operand::Dim(self.finite(Key::Var(*slot), values.len() + 1)))
            }
            (Kind::Track { index, .. }, Type::TrackState(_, states)) => Some(Operand::Dim(
                self.finite(Key::Track(*index), states.len() + 1),
            )),
            _ => None,
        }
    }

    /// Collects the constants each integer variable is compared with.
    fn collect_ints(&mut self, node: &Node) {
        match &node.kind {
            Kind::Not(inner) => self.collect_ints(inner),
            Kind::And(items) | Kind::Or(items) => {
                for i in items {
                    self.collect_ints(i);
                }
            }
            Kind::Cmp { lhs, rhs, .. } => {
                if let Some((slot, _, c)) = int_cmp(lhs, rhs, CmpOp::Eq) {
                    match self.ints.iter_mut().find(|(s, _)| *s == slot) {
                        Some((_, cs)) => cs.push(c),
                        None => self.ints.push((slot, vec![c])),
                    }
                }
            }
            _ => {}
        }
    }

    fn build(&mut self, node: &Node) -> Sat {
        self.nodes += 1;
        if self.over {
            return Sat::Lit(false);
        }
        match &node.kind {
            Kind::Const(Value::Bool(b)) => Sat::Lit(*b),
            Kind::Var { slot, .. } if node.ty == Type::Bool => {
                Sat::Bool(self.finite(Key::Var(*slot), 3))
            }
            Kind::Not(inner) => Sat::Not(Box::new(self.build(inner))),
            Kind::And(items) => Sat::And(items.iter().map(|i| self.build(i)).collect()),
            Kind::Or(items) => Sat::Or(items.iter().map(|i| self.build(i)).collect()),
            Kind::Cmp {
                op: op @ (CmpOp::Eq | CmpOp::Ne),
                lhs,
                rhs,
            } => match (self.operand(lhs), self.operand(rhs)) {
                (Some(lhs), Some(rhs)) => Sat::Eq {
                    lhs,
                    rhs,
                    negate: *op == CmpOp::Ne,
                },
                _ => self.int_or_free(node, lhs, rhs, *op),
            },
            Kind::Cmp { op, lhs, rhs } => self.int_or_free(node, lhs, rhs, *op),
            Kind::In { lhs, values } => {
                let consts: Option<Vec<usize>> = values
                    .iter()
                    .map(|v| match v {
                        Value::Bool(b) => Some(usize::from(*b)),
                        Value::Enum(i) => Some(usize::from(*i)),
                        _ => None,
                    })
                    .collect();
                match (self.operand(lhs), consts) {
                    (Some(lhs), Some(values)) => Sat::In { lhs, values },
                    _ => Sat::Bool(self.free(node.canonical())),
                }
            }
            Kind::Call {
                func: Func::IsSet,
                target: Target::Var { slot, ty, .. },
            } => match ty {
                Type::Bool => Sat::IsSet(self.finite(Key::Var(*slot), 3)),
                Type::Enum(values) => Sat::IsSet(self.finite(Key::Var(*slot), values.len() + 1)),
                Type::Integer => match self.ints.iter().find(|(s, _)| s == slot) {
                    Some((_, cs)) => {
                        let size = 2 * cs.len() + 2;
                        Sat::IsSet(self.finite(Key::Int(*slot), size))
                    }
                    None => Sat::Bool(self.free(node.canonical())),
                },
                _ => Sat::Bool(self.free(node.canonical())),
            },
            Kind::Call {
                func: Func::Active,
                target:
                    Target::Track {
                        index,
                        ty: Type::TrackState(_, states),
                        ..
                    },
            } => Sat::IsSet(self.finite(Key::Track(*index), states.len() + 1)),
            Kind::Call {
                func: Func::Done,
                target:
                    Target::Track {
                        index,
                        ty: Type::TrackState(_, states),
                        ..
                    },
            } => {
                let dim = self.finite(Key::Track(*index), states.len() + 1);
                Sat::Done(dim, self.free(node.canonical()))
            }
            _ => Sat::Bool(self.free(node.canonical())),
        }
    }
}

impl Builder {
    /// A comparison of an integer variable with a constant as a region comparison, or else
    /// a free atom.
    fn int_or_free(&mut self, node: &Node, lhs: &Node, rhs: &Node, op: CmpOp) -> Sat {
        if let Some((slot, op, c)) = int_cmp(lhs, rhs, op)
            && let Some((_, cs)) = self.ints.iter().find(|(s, _)| *s == slot)
            && let Ok(i) = cs.binary_search(&c)
        {
            let regions = 2 * cs.len() + 1;
            let dim = self.finite(Key::Int(slot), regions + 1);
            return Sat::IntCmp {
                dim,
                op,
                point: 2 * i + 1,
            };
        }
        Sat::Bool(self.free(node.canonical()))
    }
}

/// `var op const` (or `const op var`, turned round) for an integer variable: its slot, the
/// operator with the variable on the left, and the constant.
fn int_cmp(lhs: &Node, rhs: &Node, op: CmpOp) -> Option<(VarSlot, CmpOp, i64)> {
    let flip = |op| match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    };
    match (&lhs.kind, &rhs.kind) {
        (Kind::Var { slot, .. }, Kind::Const(Value::Integer(c))) if lhs.ty == Type::Integer => {
            Some((*slot, op, *c))
        }
        (Kind::Const(Value::Integer(c)), Kind::Var { slot, .. }) if rhs.ty == Type::Integer => {
            Some((*slot, flip(op), *c))
        }
        _ => None,
    }
}

/// The value of a dimension: `None` when it is the "unset" value of a finite variable.
fn value(dims: &[Dim], assignment: &[usize], dim: usize) -> Option<usize> {
    let v = assignment.get(dim).copied()?;
    let d = dims.get(dim)?;
    if d.key.is_some() && v + 1 == d.size {
        None
    } else {
        Some(v)
    }
}

fn operand(dims: &[Dim], assignment: &[usize], op: Operand) -> Option<usize> {
    match op {
        Operand::Dim(d) => value(dims, assignment, d),
        Operand::Const(c) => Some(c),
    }
}

fn eval(sat: &Sat, dims: &[Dim], asg: &[usize]) -> Option<bool> {
    match sat {
        Sat::Lit(b) => Some(*b),
        Sat::Bool(d) => value(dims, asg, *d).map(|v| v == 1),
        Sat::Not(inner) => eval(inner, dims, asg).map(|b| !b),
        Sat::And(items) => {
            let mut unknown = false;
            for item in items {
                match eval(item, dims, asg) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Sat::Or(items) => {
            let mut unknown = false;
            for item in items {
                match eval(item, dims, asg) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Sat::Eq { lhs, rhs, negate } => {
            let a = operand(dims, asg, *lhs)?;
            let b = operand(dims, asg, *rhs)?;
            Some((a == b) != *negate)
        }
        Sat::In { lhs, values } => {
            let a = operand(dims, asg, *lhs)?;
            Some(values.contains(&a))
        }
        Sat::IsSet(d) => Some(value(dims, asg, *d).is_some()),
        Sat::IntCmp { dim, op, point } => {
            let v = value(dims, asg, *dim)?;
            Some(match op {
                CmpOp::Eq => v == *point,
                CmpOp::Ne => v != *point,
                CmpOp::Lt => v < *point,
                CmpOp::Le => v <= *point,
                CmpOp::Gt => v > *point,
                CmpOp::Ge => v >= *point,
            })
        }
        Sat::Done(track, atom) => {
            if value(dims, asg, *track).is_none() {
                Some(true)
            } else {
                value(dims, asg, *atom).map(|v| v == 1)
            }
        }
    }
}

/// Decides whether the bool expression `node` can be true.
pub(crate) fn satisfiability(node: &Node) -> Satisfiability {
    match enumerate(node, |r| r == Some(true)) {
        None => Satisfiability::Unknown,
        Some(true) => Satisfiability::Satisfiable,
        Some(false) => Satisfiability::Never,
    }
}

/// Whether the bool expression `node` is true whatever the facts are (set or not): a guard
/// that restrains nothing. `false` when unsure.
pub(crate) fn always_true(node: &Node) -> bool {
    enumerate(node, |r| r != Some(true)) == Some(false)
}

/// Enumerates every assignment until `found` holds of one's result: `Some(true)` when one
/// does, `Some(false)` when none does, `None` when there are too many to enumerate.
fn enumerate(node: &Node, found: impl Fn(Option<bool>) -> bool) -> Option<bool> {
    if node.ty != Type::Bool {
        return None;
    }
    let mut builder = Builder::default();
    builder.collect_ints(node);
    for (_, cs) in &mut builder.ints {
        cs.sort_unstable();
        cs.dedup();
    }
    let sat = builder.build(node);
    if builder.over || builder.total.saturating_mul(builder.nodes) > BUDGET {
        return None;
    }
    let dims = builder.dims;
    let mut asg = vec![0usize; dims.len()];
    loop {
        if found(eval(&sat, &dims, &asg)) {
            return Some(true);
        }
        // Next assignment, odometer style.
        let mut carried = true;
        for (slot, dim) in asg.iter_mut().zip(&dims) {
            *slot += 1;
            if *slot < dim.size {
                carried = false;
                break;
            }
            *slot = 0;
        }
        if carried {
            return Some(false);
        }
    }
}
