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
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
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
    source: Option<miette::NamedSource<std::sync::Arc<str>>>,
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
        miette::Diagnostic::labels(self.d)
    }
}

/// Renders one diagnostic for people: the message, the source line with a caret under the
/// problem (the box names file, line and column), and the help line.
pub fn render_human(d: &Diagnostic) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1);
    let named = Named {
        d,
        source: d
            .source
            .clone()
            .map(|s| miette::NamedSource::new(d.file.clone(), s)),
    };
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
    for p in &paths {
        match files::read(p) {
            Ok(s) => sources.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut loaded = load::load(&sources);
    let today = args
        .today
        .unwrap_or_else(|| fazhi_core::time::cst_date(chrono::Utc::now()));
    loaded
        .diagnostics
        .extend(calendar_diagnostics(&args.calendars, today));
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
        sources.len(),
        plural(sources.len()),
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
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
