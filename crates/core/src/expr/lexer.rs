//! The lexer: source text to tokens with byte spans. Every lexical error is collected.

use std::str::FromStr;

use logos::Logos;
use rust_decimal::Decimal;

use super::error::{ExprError, Span, codes};

/// The raw tokens logos recognises; strings and dotted names are finished by hand.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"\s+")]
enum Raw {
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("in")]
    In,
    #[regex(r"[\p{L}_][\p{L}\p{N}_]*")]
    Ident,
    #[regex(r"-?[0-9]+")]
    Int,
    #[regex(r"-?[0-9]+\.[0-9]+")]
    Dec,
    #[token("\"")]
    Quote,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token("=")]
    Assign,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
}

/// A token of the guard language.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `true` or `false`.
    Bool(bool),
    /// `in`.
    In,
    /// A name: `urgent`, `payload.amount`, `参与`.
    Ident(String),
    /// An integer literal.
    Int(i64),
    /// A decimal literal.
    Dec(Decimal),
    /// A string literal, escapes resolved.
    Str(String),
    /// `&&`.
    AndAnd,
    /// `||`.
    OrOr,
    /// `!`.
    Bang,
    /// A comparison operator.
    Cmp(CmpOp),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `,`.
    Comma,
    /// A lone `.`.
    Dot,
    /// The end of the input.
    Eof,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped: `a < b` is `b > a`.
    pub(crate) fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }

    /// Whether it needs an ordered type.
    pub(crate) fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

impl Tok {
    /// How the token is named in "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Bool(b) => format!("`{b}`"),
            Tok::In => "`in`".into(),
            Tok::Ident(name) => format!("name `{name}`"),
            Tok::Int(i) => format!("number `{i}`"),
            Tok::Dec(d) => format!("number `{d}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::AndAnd => "`&&`".into(),
            Tok::OrOr => "`||`".into(),
            Tok::Bang => "`!`".into(),
            Tok::Cmp(op) => format!("`{}`", op.as_str()),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// Splits `source` into tokens, ending with [`Tok::Eof`]. Returns every lexical error.
pub(crate) fn lex(source: &str) -> Result<Vec<(Tok, Span)>, Vec<ExprError>> {
    let mut out: Vec<(Tok, Span)> = Vec::with_capacity(source.len() / 2 + 2);
    let mut errors = Vec::new();
    let mut lexer = Raw::lexer(source);
    while let Some(raw) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(range.start, range.end);
        let slice = lexer.slice();
        let tok = match raw {
            Ok(Raw::True) => Tok::Bool(true),
            Ok(Raw::False) => Tok::Bool(false),
            Ok(Raw::In) => Tok::In,
            Ok(Raw::Ident) => {
                // Join `payload` `.` `amount` into one dotted name when written without spaces.
                if let Some((Tok::Dot, dot)) = out.last()
                    && dot.end == span.start
                    && let Some((Tok::Ident(prefix), prev)) =
                        out.len().checked_sub(2).and_then(|i| out.get(i))
                    && prev.end == dot.start
                {
                    let name = format!("{prefix}.{slice}");
                    let joined = Span::new(prev.start, span.end);
                    out.truncate(out.len().saturating_sub(2));
                    out.push((Tok::Ident(name), joined));
                    continue;
                }
                Tok::Ident(slice.to_owned())
            }
            Ok(Raw::Int) => match i64::from_str(slice) {
                Ok(i) => Tok::Int(i),
                Err(_) => {
                    errors.push(
                        ExprError::new(
                            codes::BAD_NUMBER,
                            span,
                            format!("integer `{slice}` is too large"),
                        )
                        .with_help(Some("integers range over 64 bits".into())),
                    );
                    Tok::Int(0)
                }
            },
            Ok(Raw::Dec) => match Decimal::from_str_exact(slice) {
                Ok(d) => Tok::Dec(d),
                Err(_) => {
                    errors.push(ExprError::new(
                        codes::BAD_NUMBER,
                        span,
                        format!("number `{slice}` cannot be represented exactly"),
                    ));
                    Tok::Dec(Decimal::ZERO)
                }
            },
            Ok(Raw::Quote) => {
                let (tok, len, errs) = string(lexer.remainder(), span.start);
                lexer.bump(len);
                errors.extend(errs);
                out.push((tok, Span::new(span.start, span.end + len)));
                continue;
            }
            Ok(Raw::AndAnd) => Tok::AndAnd,
            Ok(Raw::OrOr) => Tok::OrOr,
            Ok(Raw::Bang) => Tok::Bang,
            Ok(Raw::EqEq) => Tok::Cmp(CmpOp::Eq),
            Ok(Raw::NotEq) => Tok::Cmp(CmpOp::Ne),
            Ok(Raw::Lt) => Tok::Cmp(CmpOp::Lt),
            Ok(Raw::Le) => Tok::Cmp(CmpOp::Le),
            Ok(Raw::Gt) => Tok::Cmp(CmpOp::Gt),
            Ok(Raw::Ge) => Tok::Cmp(CmpOp::Ge),
            Ok(Raw::LParen) => Tok::LParen,
            Ok(Raw::RParen) => Tok::RParen,
            Ok(Raw::LBracket) => Tok::LBracket,
            Ok(Raw::RBracket) => Tok::RBracket,
            Ok(Raw::Comma) => Tok::Comma,
            Ok(Raw::Dot) => Tok::Dot,
            Ok(Raw::Assign) => {
                errors.push(invalid(span, "=", Some("use `==` to compare")));
                continue;
            }
            Ok(Raw::Amp) => {
                errors.push(invalid(span, "&", Some("use `&&` for “and”")));
                continue;
            }
            Ok(Raw::Pipe) => {
                errors.push(invalid(span, "|", Some("use `||` for “or”")));
                continue;
            }
            Err(()) => {
                // Report whole characters, never part of one.
                let mut end = span.end.max(span.start + 1);
                while end < source.len() && !source.is_char_boundary(end) {
                    end += 1;
                }
                let end = end.min(source.len());
                lexer.bump(end.saturating_sub(span.end));
                let span = Span::new(span.start, end);
                let text = span.text(source);
                let help = match text {
                    "-" | "+" | "*" | "/" | "%" => {
                        Some("the guard language has no arithmetic".to_owned())
                    }
                    "'" => Some("strings are written in double quotes".to_owned()),
                    other => Some(help_for_char(other)),
                };
                errors.push(invalid(span, &shown(text), help.as_deref()));
                continue;
            }
        };
        out.push((tok, span));
    }
    if errors.is_empty() {
        out.push((Tok::Eof, Span::new(source.len(), source.len())));
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A character as shown in a message: invisible and control characters as `\u{200b}`.
pub(crate) fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Format characters a reader cannot see: zero-width spaces and joiners, the byte-order
/// mark, direction marks.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
    )
}

/// What to write instead of a character the guard language does not have.
fn help_for_char(text: &str) -> String {
    let ascii = match text {
        "，" => Some(","),
        "（" => Some("("),
        "）" => Some(")"),
        "“" | "”" | "＂" => Some("\""),
        "‘" | "’" => Some("\""),
        "！" => Some("!"),
        "＝" => Some("="),
        "＜" => Some("<"),
        "＞" => Some(">"),
        "［" | "【" => Some("["),
        "］" | "】" => Some("]"),
        "：" | "；" | "。" | "、" => None,
        _ => None,
    };
    if let Some(a) = ascii {
        return format!("this is a full-width character: write the ASCII `{a}` instead");
    }
    match text.chars().next() {
        Some('\\') => "a backslash is only allowed inside a string, before `\"`, `\\`, `n` or `t`".to_owned(),
        Some(c) if c.is_control() || is_invisible(c) => {
            "an invisible character crept in (often from copying out of a document): delete it".to_owned()
        }
        Some(c) if !c.is_ascii() => "names are ASCII identifiers (`outcome`, `payload.amount`); Chinese text belongs inside a string in double quotes".to_owned(),
        _ => "guards use names, literals, `==` `!=` `<` `<=` `>` `>=`, `in [..]`, `&&`, `||`, `!` and parentheses".to_owned(),
    }
}

fn invalid(span: Span, text: &str, help: Option<&str>) -> ExprError {
    ExprError::new(
        codes::INVALID_TOKEN,
        span,
        format!("unexpected character `{text}`"),
    )
    .with_help(help.map(str::to_owned))
}

/// Reads a string literal's body after its opening quote at byte `open`. Returns the token,
/// how many bytes it used (through the closing quote) and its errors.
fn string(rest: &str, open: usize) -> (Tok, usize, Vec<ExprError>) {
    let mut value = String::new();
    let mut errors = Vec::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (Tok::Str(value), i + 1, errors),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                Some((j, e)) => {
                    let span = Span::new(open + 1 + i, open + 1 + j + e.len_utf8());
                    errors.push(
                        ExprError::new(
                            codes::INVALID_ESCAPE,
                            span,
                            format!("unknown escape `\\{e}`"),
                        )
                        .with_help(Some("only `\\\"` and `\\\\` are escapes".into())),
                    );
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    errors.push(
        ExprError::new(
            codes::UNTERMINATED_STRING,
            Span::new(open, open + 1 + rest.len()),
            "this string has no closing quote",
        )
        .with_help(Some("add a `\"` at its end".into())),
    );
    (Tok::Str(value), rest.len(), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    fn error_codes(src: &str) -> Vec<(&'static str, usize, usize)> {
        lex(src)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.code, e.span.start, e.span.end))
            .collect()
    }

    #[test]
    fn lexes_operators_and_literals() {
        assert_eq!(
            toks("a&&!b||c<=-3 in[1.50,\"x\"]"),
            vec![
                Tok::Ident("a".into()),
                Tok::AndAnd,
                Tok::Bang,
                Tok::Ident("b".into()),
                Tok::OrOr,
                Tok::Ident("c".into()),
                Tok::Cmp(CmpOp::Le),
                Tok::Int(-3),
                Tok::In,
                Tok::LBracket,
                Tok::Dec(Decimal::new(150, 2)),
                Tok::Comma,
                Tok::Str("x".into()),
                Tok::RBracket,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn keywords_are_whole_words() {
        assert_eq!(
            toks("index truex"),
            vec![
                Tok::Ident("index".into()),
                Tok::Ident("truex".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn dotted_names_join_only_without_spaces() {
        assert_eq!(
            toks("payload.amount"),
            vec![Tok::Ident("payload.amount".into()), Tok::Eof]
        );
        let spans: Vec<Span> = lex("payload.a.b")
            .unwrap()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(spans.first(), Some(&Span::new(0, 11)));
        assert_eq!(
            toks("payload . amount"),
            vec![
                Tok::Ident("payload".into()),
                Tok::Dot,
                Tok::Ident("amount".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("3.x"),
            vec![Tok::Int(3), Tok::Dot, Tok::Ident("x".into()), Tok::Eof]
        );
    }

    #[test]
    fn cjk_names_and_strings() {
        let lexed = lex("参与状态 == \"已结束\"").unwrap();
        assert_eq!(
            lexed.first(),
            Some(&(Tok::Ident("参与状态".into()), Span::new(0, 12)))
        );
        assert_eq!(
            lexed.get(2),
            Some(&(Tok::Str("已结束".into()), Span::new(16, 27)))
        );
        // The ideographic space separates tokens.
        assert_eq!(toks("a\u{3000}b").len(), 3);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            toks(r#""a\"b\\c""#),
            vec![Tok::Str("a\"b\\c".into()), Tok::Eof]
        );
        assert_eq!(
            error_codes(r#""a\nb""#),
            vec![(codes::INVALID_ESCAPE, 2, 4)]
        );
    }

    #[test]
    fn lexical_errors_are_all_collected() {
        assert_eq!(
            error_codes("a = b & c"),
            vec![(codes::INVALID_TOKEN, 2, 3), (codes::INVALID_TOKEN, 6, 7)]
        );
        assert_eq!(
            error_codes("x == \"abc"),
            vec![(codes::UNTERMINATED_STRING, 5, 9)]
        );
        assert_eq!(
            error_codes("x == \"abc\\"),
            vec![(codes::UNTERMINATED_STRING, 5, 10)]
        );
        assert_eq!(error_codes("a @ 中"), vec![(codes::INVALID_TOKEN, 2, 3)]);
        assert_eq!(
            error_codes("99999999999999999999"),
            vec![(codes::BAD_NUMBER, 0, 20)]
        );
        assert_eq!(error_codes("a ＠ b"), vec![(codes::INVALID_TOKEN, 2, 5)]);
    }
}
