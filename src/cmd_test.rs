//! `fazhi test`: run every scenario file below the given paths.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fazhi_core::lang::Lang;
use fazhi_core::load;
use fazhi_core::scenario;

use crate::calendars::load_calendar_dir;
use crate::cmd_check::render_human;
use crate::files::{self, FileKind};

/// Arguments of `fazhi test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Scenario files (`*.test.toml`) or directories to search for them. The procedures are
    /// loaded from the same directories (a file's own directory for a file), unless `--rules`
    /// names where they are.
    #[arg(default_value = "rules")]
    pub paths: Vec<PathBuf>,
    /// The directory (or file) of the procedures the scenarios run on, when the scenario files
    /// live elsewhere (`fazhi test tests/scenarios --rules rules`).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Directory of the calendar files, one `<year>.toml` per year.
    #[arg(long, value_name = "DIR", default_value = "rules/calendars")]
    pub calendars: PathBuf,
    /// The language of the failures and the summary: `zh` (names by their titles) or `en`.
    #[arg(long, value_name = "LANG", default_value = "zh")]
    pub lang: Lang,
}

/// Runs `fazhi test`. Prints each failure with its step, then `N 个通过，M 个失败` (with
/// `--lang en`: `N passed, M failed`).
pub fn run(args: &TestArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &TestArgs) -> Result<ExitCode, String> {
    let calendar = load_calendar_dir(&args.calendars).map_err(|e| e.to_string())?;
    let scenario_files =
        files::find(&args.paths, FileKind::Scenarios).map_err(|e| e.to_string())?;
    let dirs: Vec<PathBuf> = match &args.rules {
        Some(rules) => vec![rules.clone()],
        None => args.paths.clone(),
    }
    .iter()
    .map(|p| {
        if p.is_dir() {
            p.clone()
        } else {
            // `NAME.test.toml` has the parent `""`: the current directory.
            p.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        }
    })
    .collect();
    let procedure_files = files::find(&dirs, FileKind::Procedure).map_err(|e| e.to_string())?;
    let mut sources = Vec::new();
    let mut unread = Vec::new();
    for p in &procedure_files {
        match files::read(p) {
            Ok(s) => sources.push(s),
            Err(d) => unread.push(*d),
        }
    }
    let mut loaded = load::load(&sources);
    loaded.diagnostics.extend(unread);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed_load = 0;
    for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
        let _ = out.write_all(render_human(d).as_bytes());
        failed_load += 1;
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &scenario_files {
        let text = match files::read(path) {
            Ok(f) => f.text,
            Err(d) => {
                let _ = out.write_all(render_human(&d).as_bytes());
                failed += 1;
                continue;
            }
        };
        let file = match scenario::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(out, "✗ {}:{e}", path.display());
                failed += 1;
                continue;
            }
        };
        let _ = writeln!(out, "{} ({})", path.display(), file.procedure);
        for outcome in scenario::run(&file, &loaded.rules, &calendar) {
            if outcome.passed() {
                passed += 1;
                let _ = writeln!(out, "  ✓ {}", outcome.name);
            } else {
                failed += 1;
                let _ = writeln!(out, "  ✗ {}", outcome.name);
                if let Some(d) = &outcome.description {
                    let _ = writeln!(out, "      ({d})");
                }
                for f in &outcome.failures {
                    let step = match (args.lang, f.step) {
                        (Lang::Zh, 0) => "立案".to_owned(),
                        (Lang::Zh, n) => format!("第{n}步"),
                        (Lang::En, 0) => "opening".to_owned(),
                        (Lang::En, n) => format!("step {n}"),
                    };
                    let _ = writeln!(
                        out,
                        "      {}:{}: {step} (`{}`): {}",
                        path.display(),
                        f.line,
                        f.action,
                        f.text(args.lang)
                    );
                }
            }
        }
    }
    if failed_load > 0 {
        let _ = match args.lang {
            Lang::Zh => writeln!(
                out,
                "{failed_load} 个程序有错误：以这些程序为对象的场景无法运行"
            ),
            Lang::En => writeln!(
                out,
                "{failed_load} procedure error(s): scenarios on those procedures cannot run"
            ),
        };
    }
    let _ = match args.lang {
        Lang::Zh => writeln!(out, "{passed} 个通过，{failed} 个失败"),
        Lang::En => writeln!(out, "{passed} passed, {failed} failed"),
    };
    Ok(if failed > 0 || failed_load > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
