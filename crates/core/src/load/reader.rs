//! Reading the spanned TOML tree: typed fields, unknown keys, and every problem collected.

use std::ops::Range;

use toml::Spanned;

use super::tree::{Key, Table, Value};

use super::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

/// A value with the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct S<T> {
    pub(crate) v: T,
    pub(crate) span: Range<usize>,
}

impl<T> S<T> {
    pub(crate) fn new(v: T, span: Range<usize>) -> Self {
        S { v, span }
    }
}

/// A scalar literal from the TOML file (a default value of a fact, for instance).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Bool(bool),
    Integer(i64),
    Float(String),
    Str(String),
    Date(String),
}

/// Collects diagnostics for one file.
pub(crate) struct Cx<'a> {
    pub(crate) file: &'a SourceFile,
    pub(crate) diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    pub(crate) fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Error, code, span, message)
    }

    pub(crate) fn warning(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.push(Severity::Warning, code, span, message)
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags.push(Diagnostic::unlocated(
            severity, code, self.file, span, message,
        ));
        // The vector was just pushed to, so it has a last element.
        let last = self.diags.len() - 1;
        #[expect(
            clippy::indexing_slicing,
            reason = "the element was pushed on the line above"
        )]
        &mut self.diags[last]
    }

    /// The file range of `inner`, a byte range inside the string value at `whole`, through
    /// the offsets [`Cx::string_offsets`] gave (the whole value when there are none).
    pub(crate) fn span_within(
        offsets: Option<&[usize]>,
        whole: &Range<usize>,
        inner: &Range<usize>,
    ) -> Range<usize> {
        match offsets {
            Some(o) => {
                let start = o.get(inner.start).copied().unwrap_or(whole.start);
                let end = o.get(inner.end.max(inner.start)).copied().unwrap_or(start);
                start..end
            }
            None => whole.clone(),
        }
    }

    /// For each byte offset of a string value (0 to its length), the byte offset in the file
    /// where it comes from, so that a column inside a guard points at the right character
    /// even when the TOML string has escapes. `None` when the source cannot be matched.
    pub(crate) fn string_offsets(&self, value: &str, span: &Range<usize>) -> Option<Vec<usize>> {
        let raw = self.file.text.get(span.clone())?;
        let delim = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|d| raw.len() >= 2 * d.len() && raw.starts_with(d) && raw.ends_with(d))?;
        let basic = delim.starts_with('"');
        let mut inner_start = span.start + delim.len();
        let mut inner = raw.get(delim.len()..raw.len() - delim.len())?;
        if delim.len() == 3
            && let Some(rest) = inner.strip_prefix('\n')
        {
            inner = rest;
            inner_start += 1;
        }
        let mut offsets = Vec::with_capacity(value.len() + 1);
        let mut decoded = String::with_capacity(value.len());
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            let at = inner_start + i;
            let ch = if basic && c == '\\' {
                let (_, e) = chars.next()?;
                match e {
                    'b' => '\u{8}',
                    't' => '\t',
                    'n' => '\n',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'e' => '\u{1b}',
                    '"' => '"',
                    '\\' => '\\',
                    'u' | 'U' | 'x' => {
                        let n = match e {
                            'u' => 4,
                            'U' => 8,
                            _ => 2,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(chars.next()?.1);
                        }
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                }
            } else {
                c
            };
            for _ in 0..ch.len_utf8() {
                offsets.push(at);
            }
            decoded.push(ch);
        }
        offsets.push(inner_start + inner.len());
        (decoded == value).then_some(offsets)
    }
}

/// Which TOML type a value has, for messages.
pub(crate) fn kind_of(v: &Value<'_>) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Where a table is, for messages (`actions.close_consultation`): written out only when a
/// message needs it, not for every table read.
#[derive(Debug, Clone)]
pub(crate) enum Path<'t> {
    /// A path written out.
    Whole(String),
    /// An item of a table of named items: `actions` and `close_consultation`.
    Item(&'static str, &'t str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Whole(p) => f.write_str(p),
            Path::Item(table, key) => write!(f, "{table}.{key}"),
        }
    }
}

impl From<String> for Path<'_> {
    fn from(p: String) -> Self {
        Path::Whole(p)
    }
}

impl From<&str> for Path<'_> {
    fn from(p: &str) -> Self {
        Path::Whole(p.to_owned())
    }
}

/// One key of a table with its value, and whether it was read.
type Entry<'t, 'i> = (&'t Key<'i>, &'t Spanned<Value<'i>>, bool);

/// Reads the keys of one table, remembering which were used so that the rest can be reported
/// as unknown.
pub(crate) struct TableReader<'t, 'i> {
    entries: Vec<Entry<'t, 'i>>,
    /// The span of the table (its header or its braces).
    pub(crate) span: Range<usize>,
    /// Where this table is, for messages: `actions.close_consultation`.
    pub(crate) path: Path<'t>,
}

impl<'t, 'i> TableReader<'t, 'i> {
    pub(crate) fn new(table: &'t Table<'i>, span: Range<usize>, path: impl Into<Path<'t>>) -> Self {
        let mut entries: Vec<_> = table.iter().map(|(k, v)| (k, v, false)).collect();
        // Tables keep their keys in the order they were inserted, which is nearly always
        // source order: sort only when not.
        if !entries.is_sorted_by_key(|(k, _, _)| k.span().start) {
            entries.sort_by_key(|(k, _, _)| k.span().start);
        }
        TableReader {
            entries,
            span,
            path: path.into(),
        }
    }

    /// A sub-table given by value, or a diagnostic when the value is not a table.
    pub(crate) fn of(
        cx: &mut Cx<'_>,
        value: &'t Spanned<Value<'i>>,
        path: impl Into<Path<'t>>,
    ) -> Option<Self> {
        let path = path.into();
        match value.get_ref() {
            Value::Table(t) => Some(TableReader::new(t, value.span(), path)),
            other => {
                cx.error(
                    "wrong-type",
                    value.span(),
                    format!("`{path}` must be a table, found {}", kind_of(other)),
                )
                .help = Some(format!(
                    "write it as `[{path}]` with keys below it, or as an inline table `{{ ... }}`"
                ));
                None
            }
        }
    }

    fn take(&mut self, key: &str) -> Option<(&'t Key<'i>, &'t Spanned<Value<'i>>)> {
        let (k, v, used) = self
            .entries
            .iter_mut()
            .find(|(k, _, _)| k.get_ref().as_ref() == key)?;
        *used = true;
        Some((*k, *v))
    }

    /// Whether the table has this key.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _, _)| k.get_ref().as_ref() == key)
    }

    /// The raw value of a key.
    pub(crate) fn value(&mut self, key: &str) -> Option<&'t Spanned<Value<'i>>> {
        self.take(key).map(|(_, v)| v)
    }

    /// Every remaining entry, in source order, each marked used: for tables of named items
    /// (`[states]`, `[facts]`).
    pub(crate) fn entries(&mut self) -> Vec<(S<String>, &'t Spanned<Value<'i>>)> {
        self.keyed_entries()
            .map(|(k, v)| (S::new(k.get_ref().to_string(), k.span()), v))
            .collect()
    }

    /// [`TableReader::entries`] with the keys as the table holds them.
    pub(crate) fn keyed_entries(
        &mut self,
    ) -> impl ExactSizeIterator<Item = (&'t Key<'i>, &'t Spanned<Value<'i>>)> + use<'_, 't, 'i>
    {
        self.entries.iter_mut().map(|(k, v, used)| {
            *used = true;
            (*k, *v)
        })
    }

    /// A required string.
    pub(crate) fn req_str(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<String>> {
        let s = self.opt_str(cx, key);
        if s.is_none() && !self.has(key) {
            self.missing(cx, key, "a string");
        }
        s
    }

    /// An optional string.
    pub(crate) fn opt_str(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<String>> {
        let v = self.value(key)?;
        match v.get_ref() {
            Value::String(s) => Some(S::new(s.to_string(), v.span())),
            other => {
                self.wrong(cx, key, v.span(), "a string", kind_of(other));
                None
            }
        }
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<bool>> {
        let v = self.value(key)?;
        match v.get_ref() {
            Value::Boolean(b) => Some(S::new(*b, v.span())),
            other => {
                self.wrong(cx, key, v.span(), "`true` or `false`", kind_of(other));
                None
            }
        }
    }

    /// An optional integer.
    pub(crate) fn opt_int(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<i64>> {
        let v = self.value(key)?;
        match v.get_ref() {
            Value::Integer(i) => {
                match i64::from_str_radix(
                    i.as_str().replace('_', "").trim_start_matches('+'),
                    i.radix(),
                ) {
                    Ok(n) => Some(S::new(n, v.span())),
                    Err(_) => {
                        cx.error("wrong-type", v.span(), format!("`{}.{key}` is not a whole number that fits in 64 bits", self.path))
                        .help = Some("write a whole number between -9223372036854775808 and 9223372036854775807".into());
                        None
                    }
                }
            }
            other => {
                self.wrong(cx, key, v.span(), "an integer", kind_of(other));
                None
            }
        }
    }

    /// A string or a list of strings (`from = "drafting"` or `from = ["a", "b"]`); absent is empty.
    pub(crate) fn str_list(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<Vec<S<String>>>> {
        let v = self.value(key)?;
        match v.get_ref() {
            Value::String(s) => Some(S::new(vec![S::new(s.to_string(), v.span())], v.span())),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        Value::String(s) => out.push(S::new(s.to_string(), item.span())),
                        other => {
                            cx.error(
                                "wrong-type",
                                item.span(),
                                format!(
                                    "the items of `{}.{key}` must be strings, found {}",
                                    self.path,
                                    kind_of(other)
                                ),
                            )
                            .help = Some("quote each item: `[\"a\", \"b\"]`".into());
                        }
                    }
                }
                Some(S::new(out, v.span()))
            }
            other => {
                self.wrong(
                    cx,
                    key,
                    v.span(),
                    "a string or a list of strings",
                    kind_of(other),
                );
                None
            }
        }
    }

    /// A scalar literal.
    pub(crate) fn opt_lit(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<S<Lit>> {
        let v = self.value(key)?;
        let lit = match v.get_ref() {
            Value::Boolean(b) => Lit::Bool(*b),
            Value::Integer(i) => match i.as_str().replace('_', "").parse::<i64>() {
                Ok(n) => Lit::Integer(n),
                Err(_) => Lit::Float(i.as_str().to_owned()),
            },
            Value::Float(f) => Lit::Float(f.as_str().replace('_', "")),
            Value::String(s) => Lit::Str(s.to_string()),
            Value::Datetime(d) => Lit::Date(d.to_string()),
            other => {
                self.wrong(cx, key, v.span(), "a single value", kind_of(other));
                return None;
            }
        };
        Some(S::new(lit, v.span()))
    }

    pub(crate) fn missing(&self, cx: &mut Cx<'_>, key: &str, what: &str) {
        cx.error(
            "missing-key",
            self.span.clone(),
            format!("`{}` has no `{key}`", self.path),
        )
        .help = Some(format!("add `{key} = ...` ({what}) to `{}`", self.path));
    }

    fn wrong(&self, cx: &mut Cx<'_>, key: &str, span: Range<usize>, expected: &str, found: &str) {
        cx.error(
            "wrong-type",
            span,
            format!("`{}.{key}` must be {expected}, found {found}", self.path),
        )
        .help = Some(format!("write `{key} = ` followed by {expected}"));
    }

    /// Reports every key not read, with the closest known key as help.
    pub(crate) fn finish(self, cx: &mut Cx<'_>, known: &[&str]) {
        for (k, _, used) in &self.entries {
            if !used {
                let name = k.get_ref().as_ref();
                let help = did_you_mean(name, known.iter().copied())
                    .unwrap_or_else(|| format!("the keys allowed here are {}", list(known)));
                cx.error(
                    "unknown-key",
                    k.span(),
                    format!("unknown key `{name}` in `{}`", self.path),
                )
                .help = Some(help);
            }
        }
    }
}

/// `a`, `b` and `c` as a readable list.
pub(crate) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
