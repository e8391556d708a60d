//! The compiled, typed tree: names resolved to slots and indices, literals typed.

use super::error::Span;
use super::lexer::CmpOp;
use super::types::{Type, Value, VarSlot};

/// A node of a compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What it computes.
    pub(crate) kind: Kind,
    /// Its source text (parentheses included).
    pub(crate) span: Span,
    /// Its type.
    pub(crate) ty: Type,
}

/// The node kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A literal, already of its contextual type.
    Const(Value),
    /// A fact or payload field.
    Var { slot: VarSlot, name: Box<str> },
    /// A track's current state (an enum index; unset when the track is inactive).
    Track { index: usize, name: Box<str> },
    /// `!e`.
    Not(Box<Node>),
    /// `a && b && …`, flattened.
    And(Vec<Node>),
    /// `a || b || …`, flattened.
    Or(Vec<Node>),
    /// `lhs op rhs`; a literal is always on the right.
    Cmp {
        op: CmpOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `lhs in [values]`.
    In { lhs: Box<Node>, values: Vec<Value> },
    /// A function call with its resolved argument.
    Call { func: Func, target: Target },
}

/// The built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// `done(track)`.
    Done,
    /// `active(track)`.
    Active,
    /// `attached(document)`.
    Attached,
    /// `on_file(document)`.
    OnFile,
    /// `taken(action)`.
    Taken,
    /// `is_set(fact)`.
    IsSet,
    /// `late(rule)`.
    Late,
    /// `overdue(rule)`.
    Overdue,
}

/// Every function: its name and the namespace of its argument.
pub(crate) const FUNCS: &[(&str, Func, Namespace)] = &[
    ("done", Func::Done, Namespace::Track),
    ("active", Func::Active, Namespace::Track),
    ("attached", Func::Attached, Namespace::Document),
    ("on_file", Func::OnFile, Namespace::Document),
    ("taken", Func::Taken, Namespace::Action),
    ("is_set", Func::IsSet, Namespace::Var),
    ("late", Func::Late, Namespace::TimeRule),
    ("overdue", Func::Overdue, Namespace::TimeRule),
];

impl Func {
    /// The function's name.
    pub(crate) fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or("?", |(n, _, _)| n)
    }
}

/// The kinds of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// Facts and payload fields.
    Var,
    /// Tracks.
    Track,
    /// Document kinds.
    Document,
    /// Actions.
    Action,
    /// Time rules.
    TimeRule,
}

impl Namespace {
    /// "a track", "an action", … for messages.
    pub(crate) fn article(self) -> &'static str {
        match self {
            Namespace::Var => "a fact or payload field",
            Namespace::Track => "a track",
            Namespace::Document => "a document kind",
            Namespace::Action => "an action",
            Namespace::TimeRule => "a time rule",
        }
    }

    /// The plural, for "known …" lists.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Namespace::Var => "facts and payload fields",
            Namespace::Track => "tracks",
            Namespace::Document => "document kinds",
            Namespace::Action => "actions",
            Namespace::TimeRule => "time rules",
        }
    }
}

/// A function's resolved argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A fact or payload field, with its type.
    Var {
        slot: VarSlot,
        name: Box<str>,
        ty: Type,
    },
    /// A track, with its states.
    Track {
        index: usize,
        name: Box<str>,
        ty: Type,
    },
    /// A document kind.
    Document { index: usize, name: Box<str> },
    /// An action.
    Action { index: usize, name: Box<str> },
    /// A time rule.
    TimeRule { index: usize, name: Box<str> },
}

impl Target {
    /// The name as written.
    pub(crate) fn name(&self) -> &str {
        match self {
            Target::Var { name, .. }
            | Target::Track { name, .. }
            | Target::Document { name, .. }
            | Target::Action { name, .. }
            | Target::TimeRule { name, .. } => name,
        }
    }
}

/// Binding strength, for printing with the fewest parentheses.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ATOM: u8 = 5;

impl Node {
    fn precedence(&self) -> u8 {
        match &self.kind {
            Kind::Or(_) => OR,
            Kind::And(_) => AND,
            Kind::Not(_) => NOT,
            Kind::Cmp { .. } | Kind::In { .. } => CMP,
            Kind::Const(_) | Kind::Var { .. } | Kind::Track { .. } | Kind::Call { .. } => ATOM,
        }
    }

    /// The canonical text: single spaces around binary operators, parentheses only where
    /// needed (and around the operand of `!` unless it is atomic), literals normalised.
    pub(crate) fn canonical(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    fn write_canonical(&self, out: &mut String) {
        match &self.kind {
            Kind::Const(v) => write_literal(v, &self.ty, out),
            Kind::Var { name, .. } | Kind::Track { name, .. } => out.push_str(name),
            Kind::Not(inner) => {
                out.push('!');
                inner.write_operand(
                    out,
                    if matches!(inner.kind, Kind::Not(_)) {
                        NOT
                    } else {
                        ATOM
                    },
                );
            }
            Kind::And(items) | Kind::Or(items) => {
                let (sep, min) = if matches!(self.kind, Kind::And(_)) {
                    (" && ", NOT)
                } else {
                    (" || ", AND)
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    item.write_operand(out, min);
                }
            }
            Kind::Cmp { op, lhs, rhs } => {
                lhs.write_operand(out, ATOM);
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                rhs.write_operand(out, ATOM);
            }
            Kind::In { lhs, values } => {
                lhs.write_operand(out, ATOM);
                out.push_str(" in [");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_literal(v, &lhs.ty, out);
                }
                out.push(']');
            }
            Kind::Call { func, target } => {
                out.push_str(func.name());
                out.push('(');
                out.push_str(target.name());
                out.push(')');
            }
        }
    }

    /// Writes the node, in parentheses when it binds less tightly than `min`.
    fn write_operand(&self, out: &mut String, min: u8) {
        if self.precedence() < min {
            out.push('(');
            self.write_canonical(out);
            out.push(')');
        } else {
            self.write_canonical(out);
        }
    }

    /// Calls `f` with each fact, payload field and track the node reads, with its type, in
    /// source order (duplicates included).
    pub(crate) fn visit_reads<'a>(&'a self, f: &mut dyn FnMut(Read<'a>)) {
        match &self.kind {
            Kind::Const(_) => {}
            Kind::Var { slot, name } => f(Read::Var(*slot, name, &self.ty)),
            Kind::Track { index, name } => f(Read::Track(*index, name, &self.ty)),
            Kind::Not(inner) => inner.visit_reads(f),
            Kind::And(items) | Kind::Or(items) => items.iter().for_each(|i| i.visit_reads(f)),
            Kind::Cmp { lhs, rhs, .. } => {
                lhs.visit_reads(f);
                rhs.visit_reads(f);
            }
            Kind::In { lhs, .. } => lhs.visit_reads(f),
            Kind::Call {
                target: Target::Var { slot, name, ty },
                ..
            } => f(Read::Var(*slot, name, ty)),
            Kind::Call {
                target: Target::Track { index, name, ty },
                ..
            } => f(Read::Track(*index, name, ty)),
            Kind::Call { .. } => {}
        }
    }

    /// The distinct names the node reads, in source order.
    pub(crate) fn reads(&self) -> Vec<Read<'_>> {
        let mut out: Vec<Read<'_>> = Vec::new();
        self.visit_reads(&mut |r| {
            if !out.iter().any(|o| o.name() == r.name()) {
                out.push(r);
            }
        });
        out
    }
}

/// A name read by an expression.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Read<'a> {
    /// A fact or payload field.
    Var(VarSlot, &'a str, &'a Type),
    /// A track's state.
    Track(usize, &'a str, &'a Type),
}

impl Read<'_> {
    /// The name as written.
    pub(crate) fn name(&self) -> &str {
        match self {
            Read::Var(_, n, _) | Read::Track(_, n, _) => n,
        }
    }
}

/// Writes a value as a literal of the language.
fn write_literal(v: &Value, ty: &Type, out: &mut String) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Amount(d) => out.push_str(&d.normalize().to_string()),
        Value::Text(_) | Value::Date(_) | Value::Enum(_) => {
            let text = match v {
                Value::Text(t) => t.to_string(),
                other => other.render(ty),
            };
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
}
