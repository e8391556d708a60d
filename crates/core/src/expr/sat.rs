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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Var(VarSlot),
    Track(usize),
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
    /// `done(t)`: true when the track (dimension) is inactive, else the free atom.
    Done(usize, usize),
}

#[derive(Default)]
struct Builder {
    dims: Vec<Dim>,
}

impl Builder {
    fn finite(&mut self, key: Key, size: usize) -> usize {
        if let Some(i) = self.dims.iter().position(|d| d.key == Some(key)) {
            return i;
        }
        self.dims.push(Dim {
            key: Some(key),
            atom: None,
            size,
        });
        self.dims.len() - 1
    }

    fn free(&mut self, text: String) -> usize {
        if let Some(i) = self
            .dims
            .iter()
            .position(|d| d.atom.as_deref() == Some(text.as_str()))
        {
            return i;
        }
        self.dims.push(Dim {
            key: None,
            atom: Some(text),
            size: 2,
        });
        self.dims.len() - 1
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

    fn build(&mut self, node: &Node) -> Sat {
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
                _ => Sat::Bool(self.free(node.canonical())),
            },
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
    if node.ty != Type::Bool {
        return Satisfiability::Unknown;
    }
    let mut builder = Builder::default();
    let sat = builder.build(node);
    let dims = builder.dims;
    let mut total: usize = 1;
    for d in &dims {
        total = match total.checked_mul(d.size) {
            Some(t) if t <= LIMIT => t,
            _ => return Satisfiability::Unknown,
        };
    }
    let mut asg = vec![0usize; dims.len()];
    loop {
        if eval(&sat, &dims, &asg) == Some(true) {
            return Satisfiability::Satisfiable;
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
            return Satisfiability::Never;
        }
    }
}
