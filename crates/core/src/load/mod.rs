//! Loading rule files: TOML text → spanned tree → raw procedure → resolved, checked model.
//!
//! Loading never stops at the first problem: it collects every error and warning, each with
//! its file, line and column (inside a guard string, the column of the offending token), a
//! message saying what is wrong and, where we can say, a help line saying how to fix it.
//!
//! ```
//! use fazhi_core::load::{load, SourceFile};
//!
//! let text = r#"
//! [procedure]
//! id = "hello"
//! version = 1
//! title = "示例"
//! initial = "open"
//! terminal = ["closed"]
//!
//! [roles]
//! clerk = { title = "办事员" }
//!
//! [states]
//! open = { title = "办理中" }
//! closed = { title = "办结" }
//!
//! [actions.close]
//! title = "办结"
//! from = "open"
//! to = "closed"
//! by = ["clerk"]
//! "#;
//! let loaded = load(&[SourceFile::new("hello.toml", text)]);
//! assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
//! assert!(loaded.rules.get("hello", None).is_some());
//! ```

mod checks;
mod citation;
mod diagnostic;
mod laws;
mod raw;
pub(crate) mod reader;
mod resolve;
pub(crate) mod tree;

use toml::de::DeTable;

pub use diagnostic::{Diagnostic, Severity, SourceFile, closest, did_you_mean};

/// A name as shown to people: invisible characters written `\u{200b}`, cut at 400
/// characters.
pub fn shown(text: &str) -> String {
    tidy(text)
}
pub use raw::LANGUAGE_VERSION;

use crate::model::{Laws, Procedure, RuleSet};
use reader::Cx;

/// What loading a set of files gives: the procedures that loaded without error, and every
/// diagnostic.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The procedures of the files that had no errors.
    pub rules: RuleSet,
    /// Every error and warning, file by file, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The laws of `laws.toml`, when one was among the files.
    pub laws: Laws,
}

impl Loaded {
    /// How many errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
    /// How many warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Loads one procedure file. Returns the procedure when the file has no errors; the
/// diagnostics hold every error and warning either way. Its citations are parsed but not
/// checked against a list of laws ([`load`] does that when given `laws.toml`).
pub fn load_procedure(file: &SourceFile) -> (Option<Procedure>, Vec<Diagnostic>) {
    let (p, diags) = load_with_span(file, &Laws::new());
    (p.map(|(p, _)| p), diags)
}

fn read_laws(file: &SourceFile, laws: &mut Laws) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut cx = Cx {
        file,
        diags: &mut diags,
    };
    match DeTable::parse(&file.text) {
        Ok(root) => {
            let span = root.span();
            laws::read(&mut cx, &tree::from_de(root.get_ref()), span, laws);
        }
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.error(
                "toml-syntax",
                span,
                format!("invalid TOML: {}", e.message().trim()),
            )
            .help = Some("fix the TOML syntax at this place; see https://toml.io".into());
        }
    }
    finish(file, &mut diags);
    diags
}

fn load_with_span(
    file: &SourceFile,
    laws: &Laws,
) -> (Option<(Procedure, std::ops::Range<usize>)>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut cx = Cx {
        file,
        diags: &mut diags,
    };
    let root = match tree::parse(&file.text) {
        Ok(root) => root,
        Err(errors) => {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                let (message, help) = toml_message(&file.text, &span, e.message().trim());
                cx.error("toml-syntax", span, message).help = Some(help);
            }
            finish(file, &mut diags);
            return (None, diags);
        }
    };
    let span = root.span();
    let raw = raw::read(&mut cx, root.get_ref(), span);
    let resolved = resolve::resolve(&mut cx, &raw, laws);
    let procedure = resolved.and_then(|(p, spans)| {
        checks::check(&mut cx, &p, &spans);
        let clean = !cx.diags.iter().any(Diagnostic::is_error);
        clean.then_some((p, spans.header))
    });
    let procedure = procedure.map(|(mut p, header)| {
        p.source = Some(file.clone());
        (p, header)
    });
    finish(file, &mut diags);
    (procedure, diags)
}

/// The message and help line of a TOML syntax error, naming the key or character at fault
/// where the parser's own words do not.
pub(crate) fn toml_message(
    text: &str,
    span: &std::ops::Range<usize>,
    message: &str,
) -> (String, String) {
    let at = text.get(span.clone()).unwrap_or_default();
    let first = text.get(span.start..).and_then(|t| t.chars().next());
    if message.starts_with("duplicate key") && !at.is_empty() {
        let key = at.trim_matches(|c| c == '[' || c == ']' || c == '"' || c == ' ');
        return (
            format!("invalid TOML: `{key}` is defined twice"),
            format!(
                "a table or key may appear once: write `{key}` once and merge what the two held, or rename one"
            ),
        );
    }
    if message.contains("unquoted key") && first.is_some_and(|c| !c.is_ascii()) {
        return (
            format!("invalid TOML: {message}"),
            "a key that is not ASCII letters, digits, `-` or `_` must be quoted (`\"审查\" = ...`); ids of states, actions and facts must be ASCII identifiers anyway".into(),
        );
    }
    (
        format!("invalid TOML: {message}"),
        "fix the TOML syntax at this place; see https://toml.io".into(),
    )
}

/// Sorts a file's diagnostics into source order, caps them and fills in lines and columns.
pub(crate) fn finish(file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|a| a.span.start);
    cap(file, diags);
    diagnostic::locate_sorted(file, diags);
    for d in diags.iter_mut() {
        d.message = tidy(&d.message);
        d.help = d.help.as_deref().map(tidy);
    }
}

/// The longest message or help line, in characters: a 1,000,000-character name quoted in a
/// message is cut.
const MAX_MESSAGE: usize = 400;

/// A message made fit to print: invisible characters escaped, cut to [`MAX_MESSAGE`].
fn tidy(text: &str) -> String {
    let text = diagnostic::escape_invisible(text);
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!(
            "{}… ({} characters in all)",
            text.get(..i).unwrap_or_default(),
            text.chars().count()
        ),
        None => text,
    }
}

/// The most diagnostics one file reports; the rest are counted in a last
/// `too-many-diagnostics` line, so that a file with thousands of mistakes is reported fast.
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 50;

fn cap(file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    if diags.len() <= MAX_DIAGNOSTICS_PER_FILE {
        return;
    }
    let rest = diags.split_off(MAX_DIAGNOSTICS_PER_FILE);
    let errors = rest.iter().filter(|d| d.is_error()).count();
    let warnings = rest.len() - errors;
    let mut counts = Vec::new();
    if errors > 0 {
        counts.push(format!("{errors} more error{}", plural(errors)));
    }
    if warnings > 0 {
        counts.push(format!("{warnings} more warning{}", plural(warnings)));
    }
    let first = rest.first().map_or(0..0, |d| d.span.clone());
    let severity = if errors > 0 {
        Severity::Error
    } else {
        Severity::Warning
    };
    diags.push(
        Diagnostic::unlocated(
            severity,
            "too-many-diagnostics",
            file,
            first.start..first.start,
            format!(
                "and {} in this file, from here on (only the first {MAX_DIAGNOSTICS_PER_FILE} are shown)",
                counts.join(" and ")
            ),
        )
        .with_help("fix the problems above and check again; the rest are often the same mistake"),
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads every file into one rule set. A second file with the same procedure id and version
/// is an error. A file named `laws.toml` is the list of laws the others may cite: with one,
/// every citation in a `basis` is checked against it.
pub fn load(files: &[SourceFile]) -> Loaded {
    let mut loaded = Loaded::default();
    // Which file defined each procedure version, to name it in `duplicate-procedure`.
    let mut defined_by: std::collections::HashMap<(String, u32), &str> =
        std::collections::HashMap::new();
    let mut laws = Laws::new();
    for file in files.iter().filter(|f| laws::is_laws_file(&f.name)) {
        loaded.diagnostics.extend(read_laws(file, &mut laws));
    }
    for file in files.iter().filter(|f| !laws::is_laws_file(&f.name)) {
        let (procedure, mut diags) = load_with_span(file, &laws);
        if let Some((p, header)) = procedure {
            let (id, version) = (p.meta.id.clone(), p.version);
            let other = defined_by.get(&(id.clone(), version)).copied();
            if loaded.rules.insert(p) {
                defined_by.insert((id, version), &file.name);
            } else {
                let other = other.unwrap_or("another file");
                diags.push(
                    Diagnostic::new(
                        Severity::Error,
                        "duplicate-procedure",
                        file,
                        header,
                        format!(
                            "procedure `{id}` version {version} is already defined by `{other}`"
                        ),
                    )
                    .with_help(format!("give this file a new `version` (one above the newest in `{other}`), or remove one of the two")),
                );
            }
        }
        loaded.diagnostics.extend(diags);
    }
    loaded.laws = laws;
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[procedure]
id = "p"
version = VERSION
initial = "a"
terminal = ["z"]

[roles]
clerk = {}

[states]
a = {}
z = {}

[actions.go]
from = "a"
to = "z"
by = ["clerk"]
"#;

    fn file(name: &str, version: u32) -> SourceFile {
        SourceFile::new(name, SMALL.replace("VERSION", &version.to_string()))
    }

    #[test]
    fn two_versions_of_one_procedure_load_side_by_side() {
        let loaded = load(&[file("p.v1.toml", 1), file("p.toml", 2)]);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        assert_eq!(loaded.rules.len(), 2);
        assert_eq!(loaded.rules.get("p", None).map(|p| p.version), Some(2));
        assert_eq!(loaded.rules.get("p", Some(1)).map(|p| p.version), Some(1));
    }

    /// A deadline counted from the latest of two alternatives runs on every path when every
    /// path passes one of them; with one alternative only, the other path bypasses it.
    #[test]
    fn a_deadline_bypassed_on_one_path_is_warned_unless_every_path_passes_an_anchor() {
        let text = |after: &str, extra: &str| {
            format!(
                r#"
[procedure]
id = "t"
version = 1
initial = "a"
terminal = ["z"]
[roles]
clerk = {{}}
[states]
a = {{}}
b = {{}}
z = {{}}
[actions.notify]
from = "a"
to = "b"
by = ["clerk"]
[actions.skip]
from = "a"
to = "b"
by = ["clerk"]
[actions.decide]
from = "b"
to = "z"
by = ["clerk"]
[time.limit]
within = {{ days = 30 }}
after = {after}
actions = ["decide"]
{extra}
"#
            )
        };
        let codes = |t: String| -> Vec<&'static str> {
            load(&[SourceFile::new("t.toml", t)])
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect()
        };
        assert_eq!(
            codes(text("\"notify\"", "")),
            vec!["anchor-not-on-every-path"]
        );
        assert!(codes(text("[\"notify\", \"skip\"]", "")).is_empty());
        assert!(codes(text("\"b\"", "")).is_empty());
        // Declared: it applies only when notified.
        assert!(codes(text("\"notify\"", "applies_if = \"taken(notify)\"")).is_empty());
    }

    #[test]
    fn the_same_id_and_version_twice_is_an_error_at_the_second_file() {
        let loaded = load(&[file("a.toml", 1), file("b.toml", 1)]);
        assert_eq!(loaded.errors(), 1);
        let d = &loaded.diagnostics[0];
        assert_eq!((d.code, d.file.as_str()), ("duplicate-procedure", "b.toml"));
        assert!(d.message.contains("`a.toml`"), "{}", d.message);
        // The header `[procedure]` is on line 2 of the file.
        assert_eq!(d.line, 2);
        assert!(d.help.is_some());
        assert_eq!(loaded.rules.len(), 1);
    }
}
