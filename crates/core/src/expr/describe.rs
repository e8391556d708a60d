//! An expression written for people: names replaced by their titles, operators in words
//! (`「依法不予公开的决策事项」为否` rather than `!not_public`).

use super::lexer::CmpOp;
use super::node::{Func, Kind, Node, Target};
use super::types::{Type, Value, VarSlot};

/// A name an expression refers to, resolved to its title by the caller of
/// [`super::Expr::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// A fact or payload field.
    Var(VarSlot),
    /// A track (its current state, or the track itself in `done` and `active`).
    Track(usize),
    /// A state of a track: the track's index and the state's.
    TrackState(usize, usize),
    /// A kind of document.
    Document(usize),
    /// An action.
    Action(usize),
    /// A time rule.
    TimeRule(usize),
    /// A value of an enum fact or payload field: the variable and the value's index among
    /// its `values` (its title is the variable's `labels`).
    Value(VarSlot, u16),
}

const OR: u8 = 1;
const AND: u8 = 2;
const ATOM: u8 = 3;

pub(crate) struct Describer<'a> {
    pub(crate) title: &'a dyn Fn(Name) -> Option<String>,
}

impl Describer<'_> {
    fn name(&self, name: Name, written: &str) -> String {
        let t = (self.title)(name).unwrap_or_else(|| written.to_owned());
        format!("「{t}」")
    }

    fn precedence(node: &Node) -> u8 {
        match &node.kind {
            Kind::Or(_) => OR,
            Kind::And(_) => AND,
            _ => ATOM,
        }
    }

    pub(crate) fn write(&self, node: &Node, out: &mut String) {
        match &node.kind {
            Kind::Const(v) => self.literal(v, &node.ty, None, out),
            Kind::Var { slot, name } => out.push_str(&self.name(Name::Var(*slot), name)),
            Kind::Track { index, name } => out.push_str(&self.name(Name::Track(*index), name)),
            Kind::Not(inner) => self.negated(inner, out),
            Kind::And(items) | Kind::Or(items) => {
                let (sep, min) = if matches!(node.kind, Kind::And(_)) {
                    ("，且", ATOM)
                } else {
                    ("，或", AND)
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    if Self::precedence(item) < min {
                        out.push('（');
                        self.write(item, out);
                        out.push('）');
                    } else {
                        self.write(item, out);
                    }
                }
            }
            Kind::Cmp { op, lhs, rhs } => self.comparison(*op, lhs, rhs, false, out),
            Kind::In { lhs, values } => {
                self.write(lhs, out);
                out.push('为');
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if i + 1 == values.len() { "或" } else { "、" });
                    }
                    self.literal(v, &lhs.ty, Self::slot(lhs), out);
                }
            }
            Kind::Call { func, target } => self.call(*func, target, false, out),
        }
    }

    fn negated(&self, inner: &Node, out: &mut String) {
        match &inner.kind {
            Kind::Var { .. } | Kind::Track { .. } => {
                self.write(inner, out);
                out.push_str("为否");
            }
            Kind::Call { func, target } => self.call(*func, target, true, out),
            Kind::Cmp { op, lhs, rhs } => self.comparison(*op, lhs, rhs, true, out),
            Kind::Not(twice) => self.write(twice, out),
            _ => {
                out.push_str("并非（");
                self.write(inner, out);
                out.push('）');
            }
        }
    }

    fn comparison(&self, op: CmpOp, lhs: &Node, rhs: &Node, negated: bool, out: &mut String) {
        // `x == true` and `x != false` say that `x` holds.
        if let Kind::Const(Value::Bool(b)) = rhs.kind
            && matches!(op, CmpOp::Eq | CmpOp::Ne)
        {
            let holds = (b == (op == CmpOp::Eq)) != negated;
            self.write(lhs, out);
            if !holds {
                out.push_str("为否");
            }
            return;
        }
        let op = if negated {
            match op {
                CmpOp::Eq => CmpOp::Ne,
                CmpOp::Ne => CmpOp::Eq,
                CmpOp::Lt => CmpOp::Ge,
                CmpOp::Le => CmpOp::Gt,
                CmpOp::Gt => CmpOp::Le,
                CmpOp::Ge => CmpOp::Lt,
            }
        } else {
            op
        };
        self.write(lhs, out);
        let op_text = match op {
            CmpOp::Eq => "为",
            CmpOp::Ne => "不为",
            CmpOp::Lt => " < ",
            CmpOp::Le => " ≤ ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " ≥ ",
        };
        out.push_str(op_text);
        match &rhs.kind {
            Kind::Const(v) => self.literal(v, &rhs.ty, Self::slot(lhs), out),
            _ => self.write(rhs, out),
        }
    }

    /// The variable a comparison reads on its left, whose `labels` title its enum values.
    fn slot(node: &Node) -> Option<VarSlot> {
        match &node.kind {
            Kind::Var { slot, .. } => Some(*slot),
            _ => None,
        }
    }

    fn call(&self, func: Func, target: &Target, negated: bool, out: &mut String) {
        let name = match target {
            Target::Var { slot, name, .. } => self.name(Name::Var(*slot), name),
            Target::Track { index, name, .. } => self.name(Name::Track(*index), name),
            Target::Document { index, name } => self.name(Name::Document(*index), name),
            Target::Action { index, name } => self.name(Name::Action(*index), name),
            Target::TimeRule { index, name } => self.name(Name::TimeRule(*index), name),
        };
        let text = match (func, negated) {
            (Func::Done, false) => format!("{name}已完成"),
            (Func::Done, true) => format!("{name}未完成"),
            (Func::Active, false) => format!("{name}进行中"),
            (Func::Active, true) => format!("{name}未进行"),
            (Func::Attached, false) => format!("附有{name}"),
            (Func::Attached, true) => format!("未附{name}"),
            (Func::OnFile, false) => format!("案卷中有{name}"),
            (Func::OnFile, true) => format!("案卷中无{name}"),
            (Func::Taken, false) => format!("已{name}"),
            (Func::Taken, true) => format!("未{name}"),
            (Func::IsSet, false) => format!("{name}已记录"),
            (Func::IsSet, true) => format!("{name}未记录"),
            (Func::Late, false) => format!("{name}已逾期"),
            (Func::Late, true) => format!("{name}未逾期"),
            (Func::Overdue, false) => format!("{name}已超期未办"),
            (Func::Overdue, true) => format!("{name}未超期"),
        };
        out.push_str(&text);
    }

    fn literal(&self, v: &Value, ty: &Type, of: Option<VarSlot>, out: &mut String) {
        match (v, ty) {
            (Value::Bool(b), _) => out.push_str(if *b { "是" } else { "否" }),
            (Value::Enum(i), Type::TrackState(track, values)) => {
                let written = values.get(usize::from(*i)).map_or("?", String::as_str);
                out.push_str(&self.name(Name::TrackState(*track, usize::from(*i)), written));
            }
            (Value::Text(t), _) => {
                out.push('“');
                out.push_str(t);
                out.push('”');
            }
            (Value::Enum(i), _) => {
                out.push('“');
                match of.and_then(|slot| (self.title)(Name::Value(slot, *i))) {
                    Some(title) => out.push_str(&title),
                    None => out.push_str(&v.render(ty)),
                }
                out.push('”');
            }
            (other, ty) => out.push_str(&other.render(ty)),
        }
    }
}
