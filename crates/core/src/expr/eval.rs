//! The evaluator (three-valued, allocation-free) and `explain`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::mem::discriminant;

use serde::{Deserialize, Serialize};

use super::error::Span;
use super::lexer::CmpOp;
use super::node::{Func, Kind, Node, Read, Target};
use super::types::{EvalContext, Value};

impl Node {
    /// The truth of a bool node: `None` when unknown (something it reads is unset).
    pub(crate) fn truth<C: EvalContext + ?Sized>(&self, ctx: &C) -> Option<bool> {
        match &self.kind {
            Kind::Const(Value::Bool(b)) => Some(*b),
            Kind::Var { slot, .. } => match ctx.var(*slot) {
                Some(Value::Bool(b)) => Some(*b),
                _ => None,
            },
            Kind::Not(inner) => inner.truth(ctx).map(|b| !b),
            Kind::And(items) => {
                let mut unknown = false;
                for item in items {
                    match item.truth(ctx) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Kind::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match item.truth(ctx) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Kind::Cmp { op, lhs, rhs } => {
                let a = lhs.operand(ctx)?;
                let b = rhs.operand(ctx)?;
                compare(*op, &a, &b)
            }
            Kind::In { lhs, values } => {
                let a = lhs.operand(ctx)?;
                Some(
                    values
                        .iter()
                        .any(|v| compare(CmpOp::Eq, &a, v) == Some(true)),
                )
            }
            Kind::Call { func, target } => Some(match (func, target) {
                (Func::Done, Target::Track { index, .. }) => ctx.track_done(*index),
                (Func::Active, Target::Track { index, .. }) => ctx.track_state(*index).is_some(),
                (Func::Attached, Target::Document { index, .. }) => ctx.attached(*index),
                (Func::OnFile, Target::Document { index, .. }) => ctx.on_file(*index),
                (Func::Taken, Target::Action { index, .. }) => ctx.taken(*index),
                (Func::IsSet, Target::Var { slot, .. }) => ctx.var(*slot).is_some(),
                (Func::Late, Target::TimeRule { index, .. }) => ctx.late(*index),
                (Func::Overdue, Target::TimeRule { index, .. }) => ctx.overdue(*index),
                _ => return None,
            }),
            Kind::Const(_) | Kind::Track { .. } => None,
        }
    }

    /// The value of the node as an operand; borrowed where possible, so comparing does not
    /// allocate.
    pub(crate) fn operand<'a, C: EvalContext + ?Sized>(
        &'a self,
        ctx: &'a C,
    ) -> Option<Cow<'a, Value>> {
        match &self.kind {
            Kind::Const(v) => Some(Cow::Borrowed(v)),
            Kind::Var { slot, .. } => ctx.var(*slot).map(Cow::Borrowed),
            Kind::Track { index, .. } => {
                let state = ctx.track_state(*index)?;
                u16::try_from(state)
                    .ok()
                    .map(|s| Cow::Owned(Value::Enum(s)))
            }
            _ => self.truth(ctx).map(|b| Cow::Owned(Value::Bool(b))),
        }
    }
}

/// Compares two values of the same kind; `None` if the kinds differ (a context that does
/// not match the declared types).
fn compare(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    if discriminant(a) != discriminant(b) {
        return None;
    }
    let ord = a.cmp(b);
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

/// Why part of a guard does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Falsity {
    /// The source text of the failing sub-expression.
    pub expression: String,
    /// Where it is in the guard.
    pub span: Span,
    /// Each fact, payload field or track it reads, with its value as people read it
    /// (`None`: not set, or the track is inactive).
    #[cfg_attr(feature = "openapi", schema(schema_with = named_values))]
    pub values: Vec<(String, Option<String>)>,
    /// True when it is unknown (something was unset) rather than false.
    pub unknown: bool,
}

/// The OpenAPI schema of [`Falsity::values`]: pairs `[name, value]`, the value `null` when
/// it is not set.
#[cfg(feature = "openapi")]
fn named_values() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, ObjectBuilder, SchemaType, Type};
    let pair = ArrayBuilder::new()
        .prefix_items([
            ObjectBuilder::new().schema_type(Type::String).build(),
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .build(),
        ])
        .items(ArrayItems::False)
        .min_items(Some(2));
    ArrayBuilder::new()
        .items(pair)
        .description(Some(
            "each fact, payload field or track read, as `[name, value]` (`null`: not set)",
        ))
        .build()
}

/// Collects the reasons `node` is not true into `out`: the operands of a conjunction that
/// are not true, each explained in turn; any other node as itself.
pub(crate) fn explain<C: EvalContext + ?Sized>(
    node: &Node,
    source: &str,
    ctx: &C,
    out: &mut Vec<Falsity>,
    on_part: &mut dyn FnMut(&Node),
) {
    let truth = node.truth(ctx);
    if truth == Some(true) {
        return;
    }
    if let Kind::And(items) = &node.kind {
        for item in items {
            explain(item, source, ctx, out, on_part);
        }
        return;
    }
    let values = node
        .reads()
        .into_iter()
        .map(|read| {
            let value = match read {
                Read::Var(slot, _, ty) => ctx.var(slot).map(|v| v.render(ty)),
                Read::Track(index, _, ty) => ctx
                    .track_state(index)
                    .and_then(|s| u16::try_from(s).ok())
                    .map(|s| Value::Enum(s).render(ty)),
            };
            (read.name().to_owned(), value)
        })
        .collect();
    on_part(node);
    out.push(Falsity {
        expression: node.span.text(source).to_owned(),
        span: node.span,
        values,
        unknown: truth.is_none(),
    });
}
