//! The parser: tokens to an untyped syntax tree, by recursive descent over the precedence
//! levels `||` < `&&` < `!` < comparisons. Comparisons do not chain.

use rust_decimal::Decimal;

use super::error::{ExprError, Span, codes};
use super::lexer::{CmpOp, Tok, lex};

/// A literal as written, before the checker gives it a type from its context.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    /// `true` / `false`.
    Bool(bool),
    /// `200`, `-3`.
    Int(i64),
    /// `3000.50`.
    Dec(Decimal),
    /// `"closed"`.
    Str(String),
}

/// The untyped syntax tree. Every node has the span of its source text (parentheses included).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    /// A literal.
    Lit(Lit, Span),
    /// A bare or dotted name.
    Name(String, Span),
    /// `f(a, b)`: the function name and its span, the arguments, the whole call's span.
    Call {
        name: (String, Span),
        args: Vec<(String, Span)>,
        span: Span,
    },
    /// `!e`.
    Not(Box<Ast>, Span),
    /// `a && b && …` (two or more operands, kept flat so long chains stay shallow).
    And(Vec<Ast>, Span),
    /// `a || b || …` (two or more operands).
    Or(Vec<Ast>, Span),
    /// `a op b`.
    Cmp {
        op: CmpOp,
        lhs: Box<Ast>,
        rhs: Box<Ast>,
        span: Span,
    },
    /// `a in [l, …]`.
    In {
        lhs: Box<Ast>,
        list: Vec<(Lit, Span)>,
        span: Span,
    },
}

impl Ast {
    /// The node's span.
    pub(crate) fn span(&self) -> Span {
        match self {
            Ast::Lit(_, s) | Ast::Name(_, s) | Ast::Not(_, s) | Ast::And(_, s) | Ast::Or(_, s) => {
                *s
            }
            Ast::Call { span, .. } | Ast::Cmp { span, .. } | Ast::In { span, .. } => *span,
        }
    }

    fn set_span(&mut self, new: Span) {
        match self {
            Ast::Lit(_, s) | Ast::Name(_, s) | Ast::Not(_, s) | Ast::And(_, s) | Ast::Or(_, s) => {
                *s = new
            }
            Ast::Call { span, .. } | Ast::Cmp { span, .. } | Ast::In { span, .. } => *span = new,
        }
    }
}

/// Parses a whole expression. Lexical errors are all reported; parsing stops at the first
/// syntax error.
pub(crate) fn parse(source: &str) -> Result<Ast, Vec<ExprError>> {
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let ast = parser.or().map_err(|e| vec![e])?;
    let (tok, span) = parser.peek();
    match tok {
        Tok::Eof => Ok(ast),
        Tok::Cmp(_) | Tok::In if matches!(ast, Ast::Cmp { .. } | Ast::In { .. }) => {
            Err(vec![chained(span)])
        }
        Tok::RParen => Err(vec![
            ExprError::new(codes::TRAILING_INPUT, span, "unmatched `)`")
                .with_help(Some("remove it, or add the `(` it closes".into())),
        ]),
        other => Err(vec![
            ExprError::new(
                codes::TRAILING_INPUT,
                span,
                format!(
                    "unexpected {} after a complete expression",
                    other.describe()
                ),
            )
            .with_help(Some("combine conditions with `&&` or `||`".into())),
        ]),
    }
}

fn chained(span: Span) -> ExprError {
    ExprError::new(
        codes::CHAINED_COMPARISON,
        span,
        "comparisons cannot be chained",
    )
    .with_help(Some(
        "compare twice and combine with `&&`: `a == b && b == c`".into(),
    ))
}

/// Nesting deeper than this is refused, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

struct Parser {
    tokens: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> (Tok, Span) {
        match self.tokens.get(self.pos).or_else(|| self.tokens.last()) {
            Some((t, s)) => (t.clone(), *s),
            None => (Tok::Eof, Span::default()),
        }
    }

    fn peek_tok(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.peek();
        self.advance();
        t
    }

    /// Moves past the current token (without copying it, as [`Parser::bump`] does).
    fn advance(&mut self) {
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> ExprError {
        let (tok, span) = self.peek();
        let code = if tok == Tok::Eof {
            codes::UNEXPECTED_END
        } else {
            codes::UNEXPECTED_TOKEN
        };
        let help = if tok == Tok::Eof {
            format!("the guard ends too early: finish it with {expected}")
        } else {
            format!("write {expected} here, or remove {}", tok.describe())
        };
        ExprError::new(
            code,
            span,
            format!("expected {expected}, found {}", tok.describe()),
        )
        .with_help(Some(help))
    }

    fn or(&mut self) -> Result<Ast, ExprError> {
        let first = self.and()?;
        if self.peek_tok() != Some(&Tok::OrOr) {
            return Ok(first);
        }
        let mut span = first.span();
        let mut items = vec![first];
        while self.peek_tok() == Some(&Tok::OrOr) {
            self.advance();
            let rhs = self.and()?;
            span = span.join(rhs.span());
            items.push(rhs);
        }
        Ok(Ast::Or(items, span))
    }

    fn and(&mut self) -> Result<Ast, ExprError> {
        let first = self.not()?;
        if self.peek_tok() != Some(&Tok::AndAnd) {
            return Ok(first);
        }
        let mut span = first.span();
        let mut items = vec![first];
        while self.peek_tok() == Some(&Tok::AndAnd) {
            self.advance();
            let rhs = self.not()?;
            span = span.join(rhs.span());
            items.push(rhs);
        }
        Ok(Ast::And(items, span))
    }

    fn not(&mut self) -> Result<Ast, ExprError> {
        if self.peek_tok() == Some(&Tok::Bang) {
            let (_, bang) = self.bump();
            let inner = self.nested(Parser::not)?;
            let span = bang.join(inner.span());
            return Ok(Ast::Not(Box::new(inner), span));
        }
        self.comparison()
    }

    fn nested(&mut self, f: fn(&mut Parser) -> Result<Ast, ExprError>) -> Result<Ast, ExprError> {
        if self.depth >= MAX_DEPTH {
            let (_, span) = self.peek();
            return Err(ExprError::new(
                codes::UNEXPECTED_TOKEN,
                span,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels of parentheses or `!`)"),
            )
            .with_help(Some(
                "write the guard flatter: drop redundant parentheses, or split the condition between actions".to_owned(),
            )));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn comparison(&mut self) -> Result<Ast, ExprError> {
        let lhs = self.primary()?;
        let node = match self.peek_tok() {
            Some(Tok::Cmp(op)) => {
                let op = *op;
                self.advance();
                let rhs = self.primary()?;
                let span = lhs.span().join(rhs.span());
                Ast::Cmp {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    span,
                }
            }
            Some(Tok::In) => {
                self.advance();
                let (list, close) = self.list()?;
                let span = lhs.span().join(close);
                Ast::In {
                    lhs: Box::new(lhs),
                    list,
                    span,
                }
            }
            _ => return Ok(lhs),
        };
        match self.peek() {
            (Tok::Cmp(_) | Tok::In, span) => Err(chained(span)),
            _ => Ok(node),
        }
    }

    fn list(&mut self) -> Result<(Vec<(Lit, Span)>, Span), ExprError> {
        if self.peek_tok() != Some(&Tok::LBracket) {
            return Err(self.unexpected("`[` to start the list after `in`"));
        }
        self.advance();
        let mut items = Vec::new();
        loop {
            if let (Tok::RBracket, close) = self.peek() {
                self.advance();
                return Ok((items, close));
            }
            if !items.is_empty() {
                if self.peek_tok() != Some(&Tok::Comma) {
                    return Err(self.unexpected("`,` or `]`"));
                }
                self.advance();
            }
            match self.bump() {
                (Tok::Bool(b), s) => items.push((Lit::Bool(b), s)),
                (Tok::Int(i), s) => items.push((Lit::Int(i), s)),
                (Tok::Dec(d), s) => items.push((Lit::Dec(d), s)),
                (Tok::Str(v), s) => items.push((Lit::Str(v), s)),
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.unexpected("a literal value in the list"));
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let (tok, span) = self.peek();
        match tok {
            Tok::Bool(b) => {
                self.advance();
                Ok(Ast::Lit(Lit::Bool(b), span))
            }
            Tok::Int(i) => {
                self.advance();
                Ok(Ast::Lit(Lit::Int(i), span))
            }
            Tok::Dec(d) => {
                self.advance();
                Ok(Ast::Lit(Lit::Dec(d), span))
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Ast::Lit(Lit::Str(s), span))
            }
            Tok::Ident(name) => {
                self.advance();
                if self.peek_tok() == Some(&Tok::LParen) {
                    self.advance();
                    self.call(name, span)
                } else {
                    Ok(Ast::Name(name, span))
                }
            }
            Tok::LParen => {
                self.advance();
                let mut inner = self.nested(Parser::or)?;
                match self.peek() {
                    (Tok::RParen, close) => {
                        self.advance();
                        inner.set_span(span.join(close));
                        Ok(inner)
                    }
                    (Tok::Cmp(_) | Tok::In, op)
                        if matches!(inner, Ast::Cmp { .. } | Ast::In { .. }) =>
                    {
                        Err(chained(op))
                    }
                    _ => Err(self.unexpected("`)`")),
                }
            }
            Tok::Bang => Err(ExprError::new(
                codes::UNEXPECTED_TOKEN,
                span,
                "`!` cannot stand inside a comparison",
            )
            .with_help(Some("put the negation in parentheses: `(!a) == b`".into()))),
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Ast, ExprError> {
        let mut args = Vec::new();
        loop {
            if let (Tok::RParen, close) = self.peek() {
                self.advance();
                return Ok(Ast::Call {
                    name: (name, name_span),
                    args,
                    span: name_span.join(close),
                });
            }
            if !args.is_empty() {
                if self.peek_tok() != Some(&Tok::Comma) {
                    return Err(self.unexpected("`,` or `)`"));
                }
                self.advance();
            }
            match self.peek() {
                (Tok::Ident(arg), s) => {
                    self.advance();
                    args.push((arg, s));
                }
                _ => {
                    return Err(self
                        .unexpected(&format!("a name as the argument of `{name}`"))
                        .with_help(Some(
                            "function arguments are names of tracks, documents, actions or facts"
                                .into(),
                        )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(ast: &Ast) -> String {
        match ast {
            Ast::Lit(l, _) => format!("{l:?}"),
            Ast::Name(n, _) => n.clone(),
            Ast::Call { name, args, .. } => {
                format!(
                    "{}({})",
                    name.0,
                    args.iter()
                        .map(|a| a.0.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
            Ast::Not(e, _) => format!("!{}", shape(e)),
            Ast::And(xs, _) => format!(
                "({})",
                xs.iter().map(shape).collect::<Vec<_>>().join(" && ")
            ),
            Ast::Or(xs, _) => format!(
                "({})",
                xs.iter().map(shape).collect::<Vec<_>>().join(" || ")
            ),
            Ast::Cmp { op, lhs, rhs, .. } => {
                format!("[{} {} {}]", shape(lhs), op.as_str(), shape(rhs))
            }
            Ast::In { lhs, list, .. } => format!("[{} in {}]", shape(lhs), list.len()),
        }
    }

    fn p(src: &str) -> String {
        shape(&parse(src).unwrap())
    }

    fn err(src: &str) -> (&'static str, usize, usize) {
        let e = parse(src).unwrap_err();
        let first = e.first().unwrap();
        (first.code, first.span.start, first.span.end)
    }

    #[test]
    fn precedence() {
        assert_eq!(p("a || b && c"), "(a || (b && c))");
        assert_eq!(p("a && b || c"), "((a && b) || c)");
        assert_eq!(p("!a && b"), "(!a && b)");
        assert_eq!(p("!a == b"), "![a == b]");
        assert_eq!(p("!!a"), "!!a");
        assert_eq!(p("(a || b) && c"), "((a || b) && c)");
        assert_eq!(p("a && b && c"), "(a && b && c)");
        assert_eq!(p("a && (b && c)"), "(a && (b && c))");
        assert_eq!(p("x in [1, 2] || done(t)"), "([x in 2] || done(t))");
        assert_eq!(p("f()"), "f()");
        assert_eq!(p("f(a, b)"), "f(a,b)");
    }

    #[test]
    fn spans_include_parentheses() {
        let ast = parse("!(a || b)").unwrap();
        assert_eq!(ast.span(), Span::new(0, 9));
        if let Ast::Not(inner, _) = ast {
            assert_eq!(inner.span(), Span::new(1, 9));
        }
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err(""), (codes::UNEXPECTED_END, 0, 0));
        assert_eq!(err("a &&"), (codes::UNEXPECTED_END, 4, 4));
        assert_eq!(err("a == b == c"), (codes::CHAINED_COMPARISON, 7, 9));
        assert_eq!(err("(a == b == c)"), (codes::CHAINED_COMPARISON, 8, 10));
        assert_eq!(err("a b"), (codes::TRAILING_INPUT, 2, 3));
        assert_eq!(err("a)"), (codes::TRAILING_INPUT, 1, 2));
        assert_eq!(err("(a"), (codes::UNEXPECTED_END, 2, 2));
        assert_eq!(err("done(1)"), (codes::UNEXPECTED_TOKEN, 5, 6));
        assert_eq!(err("x in 1"), (codes::UNEXPECTED_TOKEN, 5, 6));
        assert_eq!(err("x in [a]"), (codes::UNEXPECTED_TOKEN, 6, 7));
        assert_eq!(err("x in [1 2]"), (codes::UNEXPECTED_TOKEN, 8, 9));
        assert_eq!(err("a == !b"), (codes::UNEXPECTED_TOKEN, 5, 6));
        assert_eq!(err("&& a"), (codes::UNEXPECTED_TOKEN, 0, 2));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&src).is_err());
        let src = format!("{}a", "!".repeat(5000));
        assert!(parse(&src).is_err());
        let src = vec!["a"; 100_000].join(" && ");
        assert!(parse(&src).is_ok());
    }
}
