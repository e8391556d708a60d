//! The guard language: small boolean expressions over facts, payload fields, tracks,
//! documents and the case's history, written as TOML strings and type-checked at load.
//!
//! # Syntax
//!
//! By precedence, lowest first: `||`; `&&`; prefix `!`; the comparisons `==`, `!=`, `<`,
//! `<=`, `>`, `>=` and `x in ["a", "b"]` (which do not chain: `a == b == c` is an error).
//! Note that `!` binds less tightly than a comparison: `!a == b` is `!(a == b)`.
//! Operands are literals (`true`, `false`, `200`, `-3`, `3000.50`, `"closed"`), names
//! (`urgent`, `payload.amount`, a track id such as `participation`), calls of the functions
//! `done(track)`, `active(track)`, `attached(document)`, `on_file(document)`,
//! `taken(action)`, `is_set(fact)`, and parenthesised expressions. There is no arithmetic.
//!
//! # Types
//!
//! A string literal takes its type from what it is compared with: an enum value (it must be
//! one of the enum's values), a track state, a date (`"YYYY-MM-DD"`) or text. An integer
//! literal may be compared with an amount. `<`-family operators apply to integers, amounts
//! and dates only. [`compile`] checks the whole expression against the type its place
//! requires and reports every error it finds, each with its span.
//!
//! # Three-valued evaluation
//!
//! A fact or payload field may be unset, and an inactive track has no state. A comparison
//! touching an unset value is *unknown*; `!unknown` is unknown; `a && b` is false if either
//! side is false, else unknown if either is unknown; `a || b` is true if either side is
//! true, else unknown if either is unknown (Kleene logic). The functions (`is_set`, `done`,
//! `active`, `attached`, `on_file`, `taken`) are never unknown. A guard holds only when it
//! is true: unknown does not hold. [`Expr::eval`] returns `None` for unknown.

mod check;
mod describe;
mod error;
mod eval;
mod fuzzy;
mod lexer;
mod node;
mod parser;
mod sat;
mod types;
mod value;

use std::sync::Arc;

pub use describe::Name;
pub use error::{ExprError, Span, codes};
pub use eval::Falsity;
pub(crate) use lexer::is_invisible;
pub use sat::Satisfiability;
pub use types::{Env, EvalContext, Ids, TrackInfo, Type, Value, VarInfo, VarSlot};

use node::{Kind, Node};

/// A failing part of a guard, as [`Expr::explain_parts`] gives it.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The part, its source text and the values it read.
    pub(crate) falsity: Falsity,
    /// Its canonical text (empty unless asked for).
    pub(crate) canonical: String,
    /// The part in words, names by their titles (`「答复期限」未逾期`).
    pub(crate) words: String,
}

/// A compiled expression: parsed, resolved against an [`Env`] and type-checked. Cheap to
/// evaluate many times; evaluation does not allocate.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: Arc<str>,
    root: Node,
}

/// Parses, resolves and type-checks `source` in `env`; its type must be `expected` (a bare
/// string or number literal takes that type: `"approve"` for an enum, `"2025-10-08"` for a
/// date). Returns every error found.
pub fn compile(source: &str, env: &Env, expected: &Type) -> Result<Expr, Vec<ExprError>> {
    let ast = parser::parse(source)?;
    let root = check::check(&ast, env, expected)?;
    Ok(Expr {
        source: Arc::from(source),
        root,
    })
}

impl Expr {
    /// The source text it was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its type (the `expected` type given to [`compile`]).
    pub fn ty(&self) -> &Type {
        &self.root.ty
    }

    /// Its value in `ctx`; `None` when unknown (something it reads is unset).
    pub fn eval<C: EvalContext + ?Sized>(&self, ctx: &C) -> Option<Value> {
        if self.root.ty == Type::Bool {
            self.root.truth(ctx).map(Value::Bool)
        } else {
            self.root.operand(ctx).map(std::borrow::Cow::into_owned)
        }
    }

    /// Whether a bool expression is true in `ctx` (unknown does not hold).
    pub fn holds<C: EvalContext + ?Sized>(&self, ctx: &C) -> bool {
        self.root.truth(ctx) == Some(true)
    }

    /// Why a bool expression does not hold in `ctx`; empty when it holds. A conjunction is
    /// explained operand by operand; any other failing part is one [`Falsity`] with the
    /// values of every name it reads.
    pub fn explain<C: EvalContext + ?Sized>(&self, ctx: &C) -> Vec<Falsity> {
        let mut out = Vec::new();
        eval::explain(&self.root, &self.source, ctx, &mut out, &mut |_| {});
        out
    }

    /// [`Expr::explain`], each failing part with its words (names by their titles, as
    /// [`Expr::describe`] writes them) and, when `canonical` is asked for, its canonical
    /// text (to match it with the parts other guards require).
    pub(crate) fn explain_parts<C: EvalContext + ?Sized>(
        &self,
        ctx: &C,
        canonical: bool,
        title: &dyn Fn(Name) -> Option<String>,
    ) -> Vec<Part> {
        let mut out = Vec::new();
        let mut extra = Vec::new();
        let describer = describe::Describer { title };
        eval::explain(&self.root, &self.source, ctx, &mut out, &mut |node| {
            let mut words = String::new();
            describer.write(node, &mut words);
            let canonical = if canonical {
                node.canonical()
            } else {
                String::new()
            };
            extra.push((canonical, words));
        });
        out.into_iter()
            .zip(extra)
            .map(|(falsity, (canonical, words))| Part {
                falsity,
                canonical,
                words,
            })
            .collect()
    }

    /// The canonical text of each top-level `&&` operand (the whole expression if it is not
    /// a conjunction).
    pub fn conjuncts(&self) -> Vec<String> {
        match &self.root.kind {
            Kind::And(items) => items.iter().map(Node::canonical).collect(),
            _ => vec![self.root.canonical()],
        }
    }

    /// The expression written for people, each name replaced by what `title` gives for it
    /// (the name as written when it gives nothing) in `「」`, operators in words:
    /// `stability_or_safety_risk && !risk_already_assessed` becomes
    /// `「实施后可能…」，且「已按有关规定进行风险评估」为否`.
    pub fn describe(&self, title: &dyn Fn(Name) -> Option<String>) -> String {
        let mut out = String::new();
        describe::Describer { title }.write(&self.root, &mut out);
        out
    }

    /// The canonical text: spacing and parentheses normalised, nested conjunctions and
    /// disjunctions flattened, literals on the right of comparisons, numbers normalised.
    pub fn canonical(&self) -> String {
        self.root.canonical()
    }

    /// Whether the expression can ever be true (see [`Satisfiability`]).
    pub fn satisfiability(&self) -> Satisfiability {
        sat::satisfiability(&self.root)
    }

    /// Whether the bool expression is true whatever the facts are: a guard that restrains
    /// nothing. `false` when unsure.
    pub fn always_true(&self) -> bool {
        sat::always_true(&self.root)
    }

    /// Whether it reads the fact at this index.
    pub(crate) fn reads_fact(&self, fact: usize) -> bool {
        self.root
            .reads()
            .iter()
            .any(|r| matches!(r, node::Read::Var(VarSlot::Fact(f), _, _) if *f == fact))
    }

    /// The facts, payload fields and tracks it reads, each once, in source order.
    pub fn references(&self) -> Vec<String> {
        self.root
            .reads()
            .iter()
            .map(|r| r.name().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests;
