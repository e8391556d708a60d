//! The checker: resolves names, types literals from their context and type-checks. It
//! collects every error and gives a best-guess type after one, so a typo does not hide the
//! next mistake.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::error::{ExprError, Span, codes};
use super::fuzzy;
use super::lexer::CmpOp;
use super::node::{FUNCS, Func, Kind, Namespace, Node, Target};
use super::parser::{Ast, Lit};
use super::types::{Env, Type, Value, VarSlot};
use super::value::parse_date;

/// A checked sub-expression: its node, its type (`None` after an error already reported)
/// and, for a bare literal, the literal still waiting for a contextual type.
struct Typed {
    node: Node,
    ty: Option<Type>,
    lit: Option<Lit>,
}

/// Checks `ast` against `env`, requiring the type `expected`.
pub(crate) fn check(ast: &Ast, env: &Env, expected: &Type) -> Result<Node, Vec<ExprError>> {
    let mut checker = Checker {
        env,
        errors: Vec::new(),
    };
    let typed = checker.check(ast);
    let span = typed.node.span;
    let mut node = typed.node;
    if let Some(lit) = &typed.lit {
        match checker.coerce(lit, span, expected) {
            Some(v) => {
                node = Node {
                    kind: Kind::Const(v),
                    span,
                    ty: expected.clone(),
                }
            }
            None => checker.errors.push(
                ExprError::new(
                    codes::UNEXPECTED_TYPE,
                    span,
                    format!("expected {}, found {}", expected.name(), lit_desc(lit)),
                )
                .with_help(expected_help(expected)),
            ),
        }
    } else if let Some(ty) = &typed.ty {
        if compatible(ty, expected) {
            node.ty = expected.clone();
        } else {
            checker.errors.push(
                ExprError::new(
                    codes::UNEXPECTED_TYPE,
                    span,
                    format!(
                        "expected {}, found {}",
                        expected.name(),
                        describe(&node, ty)
                    ),
                )
                .with_help(expected_help(expected)),
            );
        }
    }
    if checker.errors.is_empty() {
        Ok(node)
    } else {
        Err(checker.errors)
    }
}

fn expected_help(expected: &Type) -> Option<String> {
    match expected {
        Type::Bool => {
            Some("a guard must be true or false: compare the value, e.g. `count > 0`".into())
        }
        other => Some(format!("this place needs a value of type {other}")),
    }
}

/// Whether values of the two types can be compared: equal types, or enums (and track
/// states) with the same values.
fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Enum(x) | Type::TrackState(_, x), Type::Enum(y) | Type::TrackState(_, y)) => x == y,
        _ => a == b,
    }
}

fn lit_desc(lit: &Lit) -> String {
    match lit {
        Lit::Bool(b) => format!("the literal `{b}`"),
        Lit::Int(i) => format!("the integer literal `{i}`"),
        Lit::Dec(d) => format!("the decimal literal `{d}`"),
        Lit::Str(s) => format!("the string \"{s}\""),
    }
}

fn default_value(lit: &Lit) -> (Value, Type) {
    match lit {
        Lit::Bool(b) => (Value::Bool(*b), Type::Bool),
        Lit::Int(i) => (Value::Integer(*i), Type::Integer),
        Lit::Dec(d) => (Value::Amount(*d), Type::Amount),
        Lit::Str(s) => (Value::Text(Arc::from(s.as_str())), Type::Text),
    }
}

/// "`count` (integer)", "track `participation`", "a comparison (bool)".
fn describe(node: &Node, ty: &Type) -> String {
    match &node.kind {
        Kind::Var { name, .. } => format!("`{name}` ({})", ty.name()),
        Kind::Track { name, .. } => format!("the state of track `{name}`"),
        Kind::Const(_) => format!("a {} literal", ty.name()),
        _ => format!("a {} expression", ty.name()),
    }
}

fn poison(span: Span) -> Node {
    Node {
        kind: Kind::Const(Value::Bool(false)),
        span,
        ty: Type::Bool,
    }
}

struct Checker<'e> {
    env: &'e Env,
    errors: Vec<ExprError>,
}

impl Checker<'_> {
    fn check(&mut self, ast: &Ast) -> Typed {
        match ast {
            Ast::Lit(lit, span) => {
                let (v, ty) = default_value(lit);
                Typed {
                    node: Node {
                        kind: Kind::Const(v),
                        span: *span,
                        ty: ty.clone(),
                    },
                    ty: Some(ty),
                    lit: Some(lit.clone()),
                }
            }
            Ast::Name(name, span) => self.name(name, *span),
            Ast::Call { name, args, span } => self.call(name, args, *span),
            Ast::Not(inner, span) => {
                let inner = self.check(inner);
                let inner = self.boolean(inner, "`!`");
                typed_bool(bool_node(Kind::Not(Box::new(inner)), *span))
            }
            Ast::And(items, span) | Ast::Or(items, span) => {
                let is_and = matches!(ast, Ast::And(..));
                let op = if is_and { "`&&`" } else { "`||`" };
                let mut nodes = Vec::with_capacity(items.len());
                for item in items {
                    let typed = self.check(item);
                    let node = self.boolean(typed, op);
                    match node.kind {
                        Kind::And(inner) if is_and => nodes.extend(inner),
                        Kind::Or(inner) if !is_and => nodes.extend(inner),
                        kind => nodes.push(Node { kind, ..node }),
                    }
                }
                typed_bool(bool_node(
                    if is_and {
                        Kind::And(nodes)
                    } else {
                        Kind::Or(nodes)
                    },
                    *span,
                ))
            }
            Ast::Cmp { op, lhs, rhs, span } => self.comparison(*op, lhs, rhs, *span),
            Ast::In { lhs, list, span } => self.membership(lhs, list, *span),
        }
    }

    /// Requires a bool operand; reports `not-bool` otherwise.
    fn boolean(&mut self, typed: Typed, op: &str) -> Node {
        let span = typed.node.span;
        match (&typed.lit, &typed.ty) {
            (Some(Lit::Bool(_)), _) | (None, Some(Type::Bool)) | (None, None) => typed.node,
            (Some(lit), _) => {
                self.errors.push(ExprError::new(
                    codes::NOT_BOOL,
                    span,
                    format!("{op} needs true or false, found {}", lit_desc(lit)),
                ));
                poison(span)
            }
            (None, Some(ty)) => {
                let help = match (&typed.node.kind, ty) {
                    (Kind::Track { name, .. }, Type::TrackState(_, states)) => Some(format!(
                        "compare the track's state, e.g. `{name} == \"{}\"`, or ask `active({name})`",
                        states.first().map_or("", String::as_str)
                    )),
                    (Kind::Var { name, .. }, Type::Enum(values)) => Some(format!(
                        "compare it with one of its values, e.g. `{name} == \"{}\"`",
                        values.first().map_or("", String::as_str)
                    )),
                    (Kind::Var { name, .. }, _) => Some(format!(
                        "compare it, or ask whether it is set: `is_set({name})`"
                    )),
                    _ => None,
                };
                self.errors.push(
                    ExprError::new(
                        codes::NOT_BOOL,
                        span,
                        format!(
                            "{op} needs true or false, found {}",
                            describe(&typed.node, ty)
                        ),
                    )
                    .with_help(help),
                );
                poison(span)
            }
        }
    }

    fn name(&mut self, name: &str, span: Span) -> Typed {
        let env = self.env;
        if let Some(info) = env.vars.get(name) {
            let node = Node {
                kind: Kind::Var {
                    slot: info.slot,
                    name: name.into(),
                },
                span,
                ty: info.ty.clone(),
            };
            return Typed {
                node,
                ty: Some(info.ty.clone()),
                lit: None,
            };
        }
        if let Some(track) = env.tracks.get(name) {
            let ty = Type::TrackState(track.index, track.states.clone());
            let node = Node {
                kind: Kind::Track {
                    index: track.index,
                    name: name.into(),
                },
                span,
                ty: ty.clone(),
            };
            return Typed {
                node,
                ty: Some(ty),
                lit: None,
            };
        }
        let error = if env.documents.contains_key(name) {
            ExprError::new(
                codes::WRONG_NAMESPACE,
                span,
                format!("`{name}` is a document kind, not a value"),
            )
            .with_help(Some(format!("ask `attached({name})` or `on_file({name})`")))
        } else if env.actions.contains_key(name) {
            ExprError::new(
                codes::WRONG_NAMESPACE,
                span,
                format!("`{name}` is an action, not a value"),
            )
            .with_help(Some(format!("ask `taken({name})`")))
        } else if env.states.contains_key(name) {
            ExprError::new(
                codes::WRONG_NAMESPACE,
                span,
                format!("`{name}` is a state, not a value"),
            )
            .with_help(Some(format!(
                "a guard cannot ask for the case's state: the action's `from` says where it may be taken; to ask whether `{name}` was passed, ask `taken(<an action into {name}>)`"
            )))
        } else if env.time_rules.contains_key(name) {
            ExprError::new(
                codes::WRONG_NAMESPACE,
                span,
                format!("`{name}` is a time rule, not a value"),
            )
            .with_help(Some(format!("ask `late({name})` or `overdue({name})`")))
        } else if FUNCS.iter().any(|(f, _, _)| *f == name) {
            ExprError::new(codes::UNKNOWN_NAME, span, format!("unknown name `{name}`")).with_help(
                Some(format!("`{name}` is a function: call it, e.g. `{name}(…)`")),
            )
        } else if name.starts_with("payload.")
            && !env.vars.keys().any(|k| k.starts_with("payload."))
        {
            ExprError::new(
                codes::UNKNOWN_NAME,
                span,
                format!("`{name}` is a payload field, and there is no payload here"),
            )
            .with_help(Some(
                "payload fields are read only by the action that declares them (its `when`, `sets`, `reason_required` and `documents_when`); invariants, tracks and time rules read facts: `sets` the field into a fact and read the fact".to_owned(),
            ))
        } else {
            let candidates: Vec<&str> = env
                .vars
                .keys()
                .chain(env.tracks.keys())
                .map(String::as_str)
                .collect();
            ExprError::new(codes::UNKNOWN_NAME, span, format!("unknown name `{name}`")).with_help(
                fuzzy::help(name, "facts, payload fields and tracks", &candidates),
            )
        };
        self.errors.push(error);
        Typed {
            node: poison(span),
            ty: None,
            lit: None,
        }
    }

    fn call(
        &mut self,
        (name, name_span): &(String, Span),
        args: &[(String, Span)],
        span: Span,
    ) -> Typed {
        let typed = |node| Typed {
            node,
            ty: Some(Type::Bool),
            lit: None,
        };
        let Some((_, func, namespace)) = FUNCS.iter().find(|(f, _, _)| f == name) else {
            let names: Vec<&str> = FUNCS.iter().map(|(f, _, _)| *f).collect();
            self.errors.push(
                ExprError::new(
                    codes::UNKNOWN_FUNCTION,
                    *name_span,
                    format!("unknown function `{name}`"),
                )
                .with_help(fuzzy::help(name, "functions", &names)),
            );
            return typed(poison(span));
        };
        let [(arg, arg_span)] = args else {
            self.errors.push(
                ExprError::new(
                    codes::WRONG_ARITY,
                    span,
                    format!("`{name}` takes 1 argument, found {}", args.len()),
                )
                .with_help(Some(format!(
                    "write `{name}(x)` where `x` is {}",
                    namespace.article()
                ))),
            );
            return typed(poison(span));
        };
        match self.target(arg, *arg_span, *func, *namespace) {
            Some(target) => typed(bool_node(
                Kind::Call {
                    func: *func,
                    target,
                },
                span,
            )),
            None => typed(poison(span)),
        }
    }

    /// Resolves a function's argument in its namespace.
    fn target(
        &mut self,
        arg: &str,
        span: Span,
        func: Func,
        namespace: Namespace,
    ) -> Option<Target> {
        let env = self.env;
        let found = match namespace {
            Namespace::Var => env.vars.get(arg).map(|v| Target::Var {
                slot: v.slot,
                name: arg.into(),
                ty: v.ty.clone(),
            }),
            Namespace::Track => env.tracks.get(arg).map(|t| Target::Track {
                index: t.index,
                name: arg.into(),
                ty: Type::TrackState(t.index, t.states.clone()),
            }),
            Namespace::Document => env.documents.get(arg).map(|i| Target::Document {
                index: *i,
                name: arg.into(),
            }),
            Namespace::Action => env.actions.get(arg).map(|i| Target::Action {
                index: *i,
                name: arg.into(),
            }),
            Namespace::TimeRule => env.time_rules.get(arg).map(|i| Target::TimeRule {
                index: *i,
                name: arg.into(),
            }),
        };
        if namespace == Namespace::TimeRule && !env.time_functions {
            self.errors.push(
                ExprError::new(
                    codes::UNKNOWN_FUNCTION,
                    span,
                    format!("`{}` cannot be asked here", func.name()),
                )
                .with_help(Some(
                    "`late(rule)` and `overdue(rule)` are read when a command is decided: in an action's `when`, `reason_required` or `documents_when`, not in `sets`, `active_if`, a time rule's condition or an invariant".into(),
                )),
            );
            return None;
        }
        if found.is_some() {
            return found;
        }
        if namespace == Namespace::Action && env.states.contains_key(arg) {
            let fname = func.name();
            self.errors.push(
                ExprError::new(
                    codes::WRONG_NAMESPACE,
                    span,
                    format!("`{arg}` is a state, but `{fname}` takes an action"),
                )
                .with_help(Some(format!(
                    "name the action that enters `{arg}`: `{fname}(<action>)` is true once that action has been taken"
                ))),
            );
            return None;
        }
        let candidates: Vec<&str> = match namespace {
            Namespace::Var => env.vars.keys().map(String::as_str).collect(),
            Namespace::Track => env.tracks.keys().map(String::as_str).collect(),
            Namespace::Document => env.documents.keys().map(String::as_str).collect(),
            Namespace::Action => env.actions.sorted_keys(),
            Namespace::TimeRule => env.time_rules.keys().map(String::as_str).collect(),
        };
        let actual = if let Some(v) = env.vars.get(arg) {
            Some(if matches!(v.slot, VarSlot::Payload(_)) {
                "a payload field"
            } else {
                "a fact"
            })
        } else if env.tracks.contains_key(arg) {
            Some(Namespace::Track.article())
        } else if env.documents.contains_key(arg) {
            Some(Namespace::Document.article())
        } else if env.actions.contains_key(arg) {
            Some(Namespace::Action.article())
        } else if env.time_rules.contains_key(arg) {
            Some(Namespace::TimeRule.article())
        } else {
            None
        };
        let fname = func.name();
        let error = match actual {
            Some(actual) => ExprError::new(
                codes::WRONG_NAMESPACE,
                span,
                format!(
                    "`{arg}` is {actual}, but `{fname}` takes {}",
                    namespace.article()
                ),
            )
            .with_help(match fuzzy::help(arg, namespace.plural(), &candidates) {
                Some(h) if h.starts_with("did") => Some(h),
                _ if candidates.is_empty() => {
                    Some(format!("no {} are declared here", namespace.plural()))
                }
                _ => Some(format!(
                    "known {}: {}",
                    namespace.plural(),
                    fuzzy::list(&candidates)
                )),
            }),
            None => ExprError::new(
                codes::UNKNOWN_NAME,
                span,
                format!(
                    "unknown {} `{arg}`",
                    namespace
                        .article()
                        .trim_start_matches("an ")
                        .trim_start_matches("a ")
                ),
            )
            .with_help(fuzzy::help(arg, namespace.plural(), &candidates)),
        };
        self.errors.push(error);
        None
    }

    /// The node of a checked operand, a bare literal given the type `target` (left as it is
    /// when the literal cannot have it: the caller reports that in context).
    fn settle(&mut self, operand: Typed, target: &Type) -> Node {
        match &operand.lit {
            Some(lit) => match self.coerce(lit, operand.node.span, target) {
                Some(v) => Node {
                    kind: Kind::Const(v),
                    span: operand.node.span,
                    ty: target.clone(),
                },
                None => operand.node,
            },
            None => operand.node,
        }
    }

    /// Gives a literal the type `target`, or reports why it cannot have it. Reports nothing
    /// and returns `None` on a plain type mismatch: the caller says it in context.
    fn coerce(&mut self, lit: &Lit, span: Span, target: &Type) -> Option<Value> {
        match (lit, target) {
            (Lit::Str(s), Type::Enum(values) | Type::TrackState(_, values)) => {
                if let Some(i) = values
                    .iter()
                    .position(|v| v == s)
                    .and_then(|i| u16::try_from(i).ok())
                {
                    return Some(Value::Enum(i));
                }
                let names: Vec<&str> = values.iter().map(String::as_str).collect();
                let what = if matches!(target, Type::TrackState(..)) {
                    "states"
                } else {
                    "values"
                };
                let help = match fuzzy::closest(s, names.iter().copied()) {
                    Some(best) => format!("did you mean \"{best}\"?"),
                    None => format!("the {what} are {}", fuzzy::list(&names)),
                };
                self.errors.push(
                    ExprError::new(
                        codes::UNKNOWN_VALUE,
                        span,
                        format!("\"{s}\" is not one of the {what} {}", fuzzy::list(&names)),
                    )
                    .with_help(Some(help)),
                );
                // Reported: a best guess keeps checking going.
                Some(Value::Enum(0))
            }
            (Lit::Str(s), Type::Date) => {
                if let Some(d) = parse_date(s) {
                    return Some(Value::Date(d));
                }
                self.errors.push(
                    ExprError::new(codes::BAD_DATE, span, format!("\"{s}\" is not a date"))
                        .with_help(Some(
                            "write dates as \"YYYY-MM-DD\", e.g. \"2025-10-08\"".into(),
                        )),
                );
                Some(Value::Date(chrono::NaiveDate::MIN))
            }
            (Lit::Str(s), Type::Text) => Some(Value::Text(Arc::from(s.as_str()))),
            (Lit::Int(i), Type::Integer) => Some(Value::Integer(*i)),
            (Lit::Int(i), Type::Amount) => Some(Value::Amount(Decimal::from(*i))),
            (Lit::Dec(d), Type::Amount) => Some(Value::Amount(*d)),
            (Lit::Bool(b), Type::Bool) => Some(Value::Bool(*b)),
            _ => None,
        }
    }

    fn comparison(&mut self, op: CmpOp, lhs: &Ast, rhs: &Ast, span: Span) -> Typed {
        let l = self.check(lhs);
        let r = self.check(rhs);
        let result = |node| Typed {
            node,
            ty: Some(Type::Bool),
            lit: None,
        };
        // Put a literal on the right: `"a" == x` is `x == "a"`.
        let (op, l, r) = if l.lit.is_some() && r.lit.is_none() {
            (op.flipped(), r, l)
        } else {
            (op, l, r)
        };
        let (lnode, rnode, ty) = match (&l.lit, &r.lit) {
            (_, Some(rlit)) => {
                let target = match (&l.lit, &l.ty) {
                    // Two literals: an integer meets a decimal as an amount.
                    (Some(Lit::Int(_)), _) if matches!(rlit, Lit::Dec(_)) => Some(Type::Amount),
                    (Some(Lit::Dec(_)), _) => Some(Type::Amount),
                    (_, ty) => ty.clone(),
                };
                let Some(target) = target else {
                    return result(poison(span));
                };
                let lnode = self.settle(l, &target);
                match self.coerce(rlit, r.node.span, &target) {
                    Some(v) => (
                        lnode,
                        Node {
                            kind: Kind::Const(v),
                            span: r.node.span,
                            ty: target.clone(),
                        },
                        target,
                    ),
                    None => {
                        self.errors.push(
                            ExprError::new(
                                codes::TYPE_MISMATCH,
                                span,
                                format!(
                                    "cannot compare {} with {}",
                                    describe(&lnode, &target),
                                    lit_desc(rlit)
                                ),
                            )
                            .with_help(Some(MISMATCH_HELP.into())),
                        );
                        return result(poison(span));
                    }
                }
            }
            (_, None) => {
                let (Some(lt), Some(rt)) = (&l.ty, &r.ty) else {
                    return result(poison(span));
                };
                if !compatible(lt, rt) {
                    self.errors.push(
                        ExprError::new(
                            codes::TYPE_MISMATCH,
                            span,
                            format!(
                                "cannot compare {} with {}",
                                describe(&l.node, lt),
                                describe(&r.node, rt)
                            ),
                        )
                        .with_help(Some(MISMATCH_HELP.into())),
                    );
                    return result(poison(span));
                }
                let ty = lt.clone();
                (l.node, r.node, ty)
            }
        };
        if op.is_ordering() && !matches!(ty, Type::Integer | Type::Amount | Type::Date) {
            self.errors.push(
                ExprError::new(
                    codes::NOT_ORDERED,
                    span,
                    format!("`{}` does not apply to {} values", op.as_str(), ty.name()),
                )
                .with_help(Some(
                    "only integers, amounts and dates are ordered; use `==`, `!=` or `in`".into(),
                )),
            );
            return result(poison(span));
        }
        result(bool_node(
            Kind::Cmp {
                op,
                lhs: Box::new(lnode),
                rhs: Box::new(rnode),
            },
            span,
        ))
    }

    fn membership(&mut self, lhs: &Ast, list: &[(Lit, Span)], span: Span) -> Typed {
        let l = self.check(lhs);
        let result = |node| Typed {
            node,
            ty: Some(Type::Bool),
            lit: None,
        };
        if list.is_empty() {
            self.errors.push(
                ExprError::new(codes::EMPTY_LIST, span, "`in []` is never true")
                    .with_help(Some("list at least one value".into())),
            );
            return result(poison(span));
        }
        let Some(ty) = l.ty.clone() else {
            return result(poison(span));
        };
        let mut values = Vec::with_capacity(list.len());
        let mut failed = false;
        for (lit, lit_span) in list {
            match self.coerce(lit, *lit_span, &ty) {
                Some(v) => values.push(v),
                None => {
                    failed = true;
                    self.errors.push(
                        ExprError::new(
                            codes::TYPE_MISMATCH,
                            *lit_span,
                            format!(
                                "cannot compare {} with {}",
                                describe(&l.node, &ty),
                                lit_desc(lit)
                            ),
                        )
                        .with_help(Some(MISMATCH_HELP.into())),
                    );
                }
            }
        }
        if failed {
            return result(poison(span));
        }
        let lnode = self.settle(l, &ty);
        result(bool_node(
            Kind::In {
                lhs: Box::new(lnode),
                values,
            },
            span,
        ))
    }
}

fn typed_bool(node: Node) -> Typed {
    Typed {
        node,
        ty: Some(Type::Bool),
        lit: None,
    }
}

fn bool_node(kind: Kind, span: Span) -> Node {
    Node {
        kind,
        span,
        ty: Type::Bool,
    }
}

/// Help for comparing values of different types.
const MISMATCH_HELP: &str = "compare values of one type: a bool with `true`/`false`, a number with a number, an enum with one of its values as a string, a date with \"YYYY-MM-DD\"";
