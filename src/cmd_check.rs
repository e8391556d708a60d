//! `fazhi check`: load every procedure below the given paths and report every diagnostic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use fazhi_core::load::{self, Diagnostic};

use crate::files::{self, FileKind};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The source line with a caret under the problem, and a help line.
    Human,
    /// One JSON object per diagnostic and line: file, line, column, severity, code, message, help.
    Json,
}

/// Arguments of `fazhi check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to check; directories are searched for `*.toml` procedures
    /// (calendars and `*.test.toml` scenario files are skipped).
    #[arg(default_value = "rules")]
    pub paths: Vec<PathBuf>,
    /// Fail (exit 1) on warnings too (the same as `--deny warnings`).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Do not report warnings with this code (repeatable): `--allow calendar-ends-soon`.
    /// Errors cannot be allowed.
    #[arg(long, value_name = "CODE")]
    pub allow: Vec<String>,
    /// Report warnings with this code as errors (repeatable): `--deny unused-track`;
    /// `--deny warnings` denies every warning not allowed.
    #[arg(long, value_name = "CODE")]
    pub deny: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Directory of the calendar files; `check` warns when they end within 60 days.
    #[arg(long, value_name = "DIR", default_value = "rules/calendars")]
    pub calendars: PathBuf,
    /// The date to measure the calendar's coverage from (default: today in China Standard Time).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<chrono::NaiveDate>,
}

/// How many days before the calendar ends `check` starts to warn.
pub const COVERAGE_WARNING_DAYS: i64 = 60;

/// The calendar's diagnostics: an error when its files do not load, a warning when its last
/// covered day is less than [`COVERAGE_WARNING_DAYS`] after `today`.
fn calendar_diagnostics(dir: &std::path::Path, today: chrono::NaiveDate) -> Vec<Diagnostic> {
    use fazhi_core::load::{Severity, SourceFile};
    let file_of = |name: std::path::PathBuf| {
        let text = std::fs::read_to_string(&name).unwrap_or_default();
        SourceFile::new(name.display().to_string(), text)
    };
    match crate::calendars::load_calendar_dir(dir) {
        Err(e) => vec![
            Diagnostic::new(
                Severity::Error,
                "calendar-invalid",
                &file_of(dir.to_path_buf()),
                0..0,
                e.to_string(),
            )
            .with_help("fix the calendar file; see docs/rule-language.md, \"Time\""),
        ],
        Ok(calendar) => {
            let Some(last) = calendar.last_covered_day() else {
                return Vec::new();
            };
            let left = (last - today).num_days();
            if left >= COVERAGE_WARNING_DAYS {
                return Vec::new();
            }
            use chrono::Datelike;
            let file = file_of(dir.join(format!("{}.toml", last.year())));
            let next = last.year() + 1;
            let when = if left < 0 {
                format!("ended on {last}, {} days ago", -left)
            } else {
                format!("ends on {last}, in {left} days")
            };
            vec![
                Diagnostic::new(Severity::Warning, "calendar-ends-soon", &file, 0..0, format!("the working-day calendar {when}: periods reaching past it are counted on weekends only and marked provisional"))
                    .with_help(format!("add `{}/{next}.toml` from the State Council's holiday notice for {next} as soon as it is published", dir.display())),
            ]
        }
    }
}

/// A diagnostic with its file named, for miette's graphical renderer.
struct Named<'a> {
    d: &'a Diagnostic,
    source: Option<Window>,
    span: std::ops::Range<usize>,
}

impl std::fmt::Debug for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.d, f)
    }
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.d, f)
    }
}

impl std::error::Error for Named<'_> {}

impl miette::Diagnostic for Named<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::code(self.d)
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.d)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::help(self.d)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.source.as_ref()?;
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(
            Some("here".to_owned()),
            self.span.start,
            self.span.end.saturating_sub(self.span.start),
        ))))
    }
}

/// Lines longer than this are cut around the problem before rendering (miette cannot draw a
/// caret past column 65,535, and nobody reads such a line whole).
const MAX_RENDERED_LINE: usize = 200;

/// The part of a file miette is shown: the whole file when its lines near the problem are
/// short, otherwise the problem's line (and its neighbours) cut to a window around the
/// problem. Line numbers stay those of the file.
struct Window {
    name: String,
    text: std::sync::Arc<str>,
    /// The 0-based line of the file the text starts at.
    first_line: usize,
    /// Where the problem starts in the text, and its 0-based column in the file's line (the
    /// text may have cut the start of that line).
    problem: (usize, usize),
}

impl miette::SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        let column = if span.offset() == self.problem.0 && before == 0 {
            self.problem.1
        } else {
            inner.column()
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

/// The window miette renders for `d` and the span of the problem inside it.
fn window(d: &Diagnostic) -> Option<(Window, std::ops::Range<usize>)> {
    let text = d.source.as_ref()?;
    let start = d.span.start.min(text.len());
    let end = d.span.end.clamp(start, text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let prev_start = line_start
        .checked_sub(1)
        .and_then(|p| text.get(..p))
        .map_or(0, |t| t.rfind('\n').map_or(0, |i| i + 1));
    let line_end = text
        .get(start..)?
        .find('\n')
        .map_or(text.len(), |i| start + i);
    let next_end = text
        .get(line_end.saturating_add(1).min(text.len())..)?
        .find('\n')
        .map_or(text.len(), |i| line_end + 1 + i);
    let near = text.get(prev_start..next_end)?;
    if near.lines().all(|l| l.chars().count() <= MAX_RENDERED_LINE) {
        return Some((
            Window {
                name: d.file.clone(),
                text: text.clone(),
                first_line: 0,
                problem: (usize::MAX, 0),
            },
            start..end,
        ));
    }
    // Cut each of the three lines; on the problem's line keep a window around it.
    let cut = |l: &str| -> String {
        match l.char_indices().nth(MAX_RENDERED_LINE) {
            Some((i, _)) => format!("{}…", l.get(..i).unwrap_or_default()),
            None => l.to_owned(),
        }
    };
    let mut out = String::new();
    if prev_start < line_start {
        out.push_str(&cut(text.get(prev_start..line_start - 1)?));
        out.push('\n');
    }
    let line = text.get(line_start..line_end)?;
    let col = start - line_start;
    let head = line.get(..col)?;
    let keep_before = MAX_RENDERED_LINE / 4;
    let from = head
        .char_indices()
        .rev()
        .nth(keep_before.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    if from > 0 {
        out.push('…');
    }
    out.push_str(line.get(from..col)?);
    let label_start = out.len();
    let tail = line.get(col..)?;
    let keep = tail
        .char_indices()
        .nth(MAX_RENDERED_LINE - keep_before)
        .map_or(tail.len(), |(i, _)| i);
    out.push_str(tail.get(..keep)?);
    let label_end = label_start + (end.min(line_end) - start).min(keep);
    if keep < tail.len() {
        out.push('…');
    }
    if line_end < next_end {
        out.push('\n');
        out.push_str(&cut(text.get(line_end + 1..next_end)?));
    }
    let first_line = text.get(..prev_start)?.matches('\n').count();
    Some((
        Window {
            name: d.file.clone(),
            text: out.into(),
            first_line,
            problem: (label_start, d.column.saturating_sub(1)),
        },
        label_start..label_end,
    ))
}

/// Renders one diagnostic for people: the message, the source line with a caret under the
/// problem (the box names file, line and column), and the help line. A very long line is
/// cut around the problem.
pub fn render_human(d: &Diagnostic) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1);
    let (source, span) = match window(d) {
        Some((w, span)) => (Some(w), span),
        None => (None, 0..0),
    };
    let named = Named { d, source, span };
    let mut out = String::new();
    if handler.render_report(&mut out, &named).is_err() {
        out = d.to_plain() + "\n";
    }
    out
}

/// Runs `fazhi check`.
pub fn run(args: &CheckArgs) -> ExitCode {
    let paths = match files::find(&args.paths, FileKind::Procedure) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut sources = Vec::new();
    let mut unread = Vec::new();
    for p in &paths {
        match files::read(p) {
            Ok(s) => sources.push(s),
            Err(d) => unread.push(*d),
        }
    }
    let mut loaded = load::load(&sources);
    loaded.diagnostics.extend(unread);
    // The migrations below the same paths, proved against the procedures just loaded.
    let migration_paths = files::find_migrations(&args.paths);
    let mut migrations = Vec::new();
    for p in &migration_paths {
        match files::read(p) {
            Ok(s) => migrations.push(s),
            Err(d) => loaded.diagnostics.push(*d),
        }
    }
    let (_, migration_diags) = fazhi_core::migrate::load_migrations(&migrations, &loaded.rules);
    loaded.diagnostics.extend(migration_diags);
    let today = args
        .today
        .unwrap_or_else(|| fazhi_core::time::cst_date(chrono::Utc::now()));
    loaded
        .diagnostics
        .extend(calendar_diagnostics(&args.calendars, today));
    apply_levels(args, &mut loaded.diagnostics);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for d in &loaded.diagnostics {
        let text = match args.format {
            Format::Human => render_human(d),
            Format::Json => serde_json::to_string(d).unwrap_or_default() + "\n",
        };
        let _ = out.write_all(text.as_bytes());
    }
    let (errors, warnings) = (loaded.errors(), loaded.warnings());
    let summary = format!(
        "checked {} file{}: {} procedure{} loaded, {errors} error{}, {warnings} warning{}",
        paths.len() + migration_paths.len(),
        plural(paths.len() + migration_paths.len()),
        loaded.rules.len(),
        plural(loaded.rules.len()),
        plural(errors),
        plural(warnings),
    );
    match args.format {
        Format::Human => {
            let _ = writeln!(out, "{summary}");
        }
        Format::Json => eprintln!("{summary}"),
    }
    let deny_all = args.deny_warnings || args.deny.iter().any(|c| c == "warnings");
    if errors > 0 || (deny_all && warnings > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Applies `--allow CODE` and `--deny CODE` as clippy does: an allowed warning is dropped,
/// a denied one becomes an error. A code both allowed and denied is denied. Errors stay
/// errors. (`--deny-warnings`, `--deny warnings`, is applied to the count at the end.)
pub fn apply_levels(args: &CheckArgs, diags: &mut Vec<Diagnostic>) {
    use fazhi_core::load::Severity;
    let denied = |code: &str| args.deny.iter().any(|c| c == code);
    let allowed = |code: &str| args.allow.iter().any(|c| c == code);
    diags.retain(|d| d.is_error() || denied(d.code) || !allowed(d.code));
    for d in diags.iter_mut() {
        if !d.is_error() && denied(d.code) {
            d.severity = Severity::Error;
            d.notes
                .push(format!("a warning, denied by `--deny {}`", d.code));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
