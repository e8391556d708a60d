//! Diagnostics: what is wrong, where (file, line, column), and how to fix it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

/// A source file handed to the loader: its name (as shown to people) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name shown in diagnostics, usually the path (`rules/major-decision.toml`).
    pub name: String,
    /// The text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A source file from a name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file loads, but something is probably wrong.
    Warning,
    /// The file does not load.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found while loading rule files.
///
/// The `code` is stable (`unknown-state`, `unreachable-state`, ...): editors and CI may match
/// on it. The catalogue of codes is in `docs/rule-language.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The stable code of this kind of problem.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Extra lines, e.g. a counterexample path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The file's name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range in the file.
    #[serde(skip)]
    pub span: Range<usize>,
    /// The file's text, for rendering the source line.
    #[serde(skip)]
    pub source: Option<Arc<str>>,
}

impl Diagnostic {
    /// A diagnostic at a byte range of a file.
    pub fn new(
        severity: Severity,
        code: &'static str,
        file: &SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = file.line_col(span.start);
        let mut d = Diagnostic::unlocated(severity, code, file, span, message);
        d.message = escape_invisible(&d.message);
        (d.line, d.column) = (line, column);
        d
    }

    /// A diagnostic whose line and column are filled in later by [`locate_sorted`], so that
    /// thousands of errors in one long line do not each scan the file.
    pub(crate) fn unlocated(
        severity: Severity,
        code: &'static str,
        file: &SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            help: None,
            notes: Vec::new(),
            file: file.name.clone(),
            line: 0,
            column: 0,
            span,
            source: Some(file.text.clone()),
        }
    }

    /// The same diagnostic with a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same diagnostic with an optional help line.
    pub fn with_opt_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The same diagnostic with note lines.
    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Diagnostic {
    /// The diagnostic on one line, then its help and notes:
    /// `rules/a.toml:54:6: error[unknown-state]: ...`.
    pub fn to_plain(&self) -> String {
        let mut out = format!(
            "{}:{}:{}: {}[{}]: {}",
            self.file, self.line, self.column, self.severity, self.code, self.message
        );
        if let Some(help) = &self.help {
            out.push_str(&format!("\n  help: {help}"));
        }
        for note in &self.notes {
            out.push_str(&format!("\n  note: {note}"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Rendering with miette's graphical report (feature `miette`, on by default).
#[cfg(feature = "miette")]
impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let mut text = self.help.clone().unwrap_or_default();
        for note in &self.notes {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(note);
        }
        (!text.is_empty()).then(|| Box::new(text) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let len = self.span.end.saturating_sub(self.span.start);
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(
            Some("here".to_owned()),
            self.span.start,
            len,
        ))))
    }
}

/// Text for people with invisible characters made visible: a zero-width space in a name
/// becomes `\u{200b}`, so "did you mean `a`?" for `a\u{200b}` explains itself.
pub(crate) fn escape_invisible(text: &str) -> String {
    if !text
        .chars()
        .any(|c| (c.is_control() && c != '\n') || crate::expr::is_invisible(c))
    {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\n') || crate::expr::is_invisible(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Fills in line and column of diagnostics sorted by where they start, in one pass over the
/// text (no matter how many there are).
pub(crate) fn locate_sorted(file: &SourceFile, diags: &mut [Diagnostic]) {
    let text: &str = &file.text;
    let (mut at, mut line, mut line_start) = (0usize, 1usize, 0usize);
    for d in diags {
        let offset = d.span.start.min(text.len());
        if offset < at {
            (d.line, d.column) = file.line_col(offset);
            continue;
        }
        let Some(between) = text.get(at..offset) else {
            (d.line, d.column) = file.line_col(offset);
            continue;
        };
        let newlines = between.bytes().filter(|b| *b == b'\n').count();
        if let Some(last) = between.rfind('\n') {
            line += newlines;
            line_start = at + last + 1;
        }
        at = offset;
        d.line = line;
        d.column = text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
    }
}

/// "did you mean `x`?" for the closest of `candidates` to `name`, if any is close.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The closest of `candidates` to `name`, if any is close (a third of the letters or fewer
/// differ).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A name longer than this gets no suggestion: the edit distance costs the product of
    // the lengths, and nobody mistypes a 1,000-character name.
    const MAX_LEN: usize = 64;
    let len = name.chars().count();
    if len > MAX_LEN {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_len = c.chars().count();
        let limit = len.max(c_len).div_ceil(3);
        // The distance is at least the difference of the lengths.
        if c_len > MAX_LEN || c_len.abs_diff(len) > limit {
            continue;
        }
        let d = edit_distance(name, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a.toml", "ab\n合法性 = 1\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // `=` follows three 3-byte characters and a space.
        assert_eq!(f.line_col(3 + 9 + 1), (2, 5));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("legality_reveiw", ["legality_review", "drafting"]).as_deref(),
            Some("did you mean `legality_review`?")
        );
        assert_eq!(did_you_mean("zzz", ["legality_review"]), None);
        // A million-character name is not compared at all.
        let long = "a".repeat(1_000_000);
        assert_eq!(did_you_mean(&long, ["a", long.as_str()]), None);
    }
}
