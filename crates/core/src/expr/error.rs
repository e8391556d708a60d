//! Spans and the errors `compile` reports.

use serde::{Deserialize, Serialize};

/// A byte range inside the expression source, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The text this span covers in `source` (empty if it does not fit).
    pub fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or_default()
    }
}

/// Every error code `compile` can report, one constant per code.
pub mod codes {
    /// A character or operator that is not part of the language (`=`, `&`, `@`).
    pub const INVALID_TOKEN: &str = "invalid-token";
    /// A string literal without its closing quote.
    pub const UNTERMINATED_STRING: &str = "unterminated-string";
    /// A backslash escape other than `\"` and `\\`.
    pub const INVALID_ESCAPE: &str = "invalid-escape";
    /// A number that does not fit (integers are 64-bit).
    pub const BAD_NUMBER: &str = "bad-number";
    /// The parser found a token it did not expect.
    pub const UNEXPECTED_TOKEN: &str = "unexpected-token";
    /// The input ended in the middle of an expression.
    pub const UNEXPECTED_END: &str = "unexpected-end";
    /// A complete expression followed by more input.
    pub const TRAILING_INPUT: &str = "trailing-input";
    /// `a == b == c`: comparisons do not chain.
    pub const CHAINED_COMPARISON: &str = "chained-comparison";
    /// A name that is neither a fact, a payload field nor a track (or not of the asked kind).
    pub const UNKNOWN_NAME: &str = "unknown-name";
    /// A call of a function the language does not have.
    pub const UNKNOWN_FUNCTION: &str = "unknown-function";
    /// A function called with the wrong number of arguments.
    pub const WRONG_ARITY: &str = "wrong-arity";
    /// A name of the wrong kind: a fact where a track is needed, a document used as a value.
    pub const WRONG_NAMESPACE: &str = "wrong-namespace";
    /// A string literal that is not one of the enum's values or the track's states.
    pub const UNKNOWN_VALUE: &str = "unknown-value";
    /// A string literal compared with a date that is not a `YYYY-MM-DD` date.
    pub const BAD_DATE: &str = "bad-date";
    /// The two sides of a comparison have different types.
    pub const TYPE_MISMATCH: &str = "type-mismatch";
    /// `<`, `<=`, `>`, `>=` on a type that has no order.
    pub const NOT_ORDERED: &str = "not-ordered";
    /// An operand of `&&`, `||` or `!` that is not true or false.
    pub const NOT_BOOL: &str = "not-bool";
    /// The whole expression does not have the type its place requires.
    pub const UNEXPECTED_TYPE: &str = "unexpected-type";
    /// `x in []`.
    pub const EMPTY_LIST: &str = "empty-list";

    /// All codes, for deserialising.
    pub const ALL: &[&str] = &[
        INVALID_TOKEN,
        UNTERMINATED_STRING,
        INVALID_ESCAPE,
        BAD_NUMBER,
        UNEXPECTED_TOKEN,
        UNEXPECTED_END,
        TRAILING_INPUT,
        CHAINED_COMPARISON,
        UNKNOWN_NAME,
        UNKNOWN_FUNCTION,
        WRONG_ARITY,
        WRONG_NAMESPACE,
        UNKNOWN_VALUE,
        BAD_DATE,
        TYPE_MISMATCH,
        NOT_ORDERED,
        NOT_BOOL,
        UNEXPECTED_TYPE,
        EMPTY_LIST,
    ];
}

/// One problem found while compiling an expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// A stable, kebab-case code (see [`codes`]).
    pub code: &'static str,
    /// What is wrong, lowercase, with user input in backticks.
    pub message: String,
    /// How to fix it, when we can tell.
    pub help: Option<String>,
    /// Where, in bytes of the expression source.
    pub span: Span,
}

impl ExprError {
    /// An error without help.
    pub(crate) fn new(code: &'static str, span: Span, message: impl Into<String>) -> ExprError {
        ExprError {
            code,
            message: message.into(),
            help: None,
            span,
        }
    }

    /// The same error with help.
    pub(crate) fn with_help(mut self, help: Option<String>) -> ExprError {
        self.help = help;
        self
    }
}

/// The serialised form of [`ExprError`], with an owned code.
#[derive(Deserialize)]
struct ExprErrorRepr {
    code: String,
    message: String,
    help: Option<String>,
    span: Span,
}

impl<'de> Deserialize<'de> for ExprError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ExprError, D::Error> {
        let r = ExprErrorRepr::deserialize(d)?;
        let code = codes::ALL
            .iter()
            .copied()
            .find(|c| *c == r.code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{}`", r.code)))?;
        Ok(ExprError {
            code,
            message: r.message,
            help: r.help,
            span: r.span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_round_trips_through_json() {
        let e = ExprError::new(codes::UNKNOWN_NAME, Span::new(1, 3), "unknown name `x`")
            .with_help(Some("did you mean `y`?".into()));
        let json = serde_json::to_string(&e).unwrap();
        let back: ExprError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.to_string(), "unknown name `x`");
        assert!(serde_json::from_str::<ExprError>(&json.replace("unknown-name", "nope")).is_err());
    }

    #[test]
    fn span_text_is_total() {
        assert_eq!(Span::new(1, 3).text("abcd"), "bc");
        assert_eq!(Span::new(3, 9).text("abcd"), "");
    }
}
