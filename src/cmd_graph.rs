//! `fazhi graph`: draw a procedure as DOT, Mermaid or SVG.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use fazhi_core::graph;
use fazhi_core::load;

use crate::files::{self, FileKind};

/// The drawing's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT, with tracks as clusters inside their state.
    Dot,
    /// A Mermaid state diagram, with tracks as concurrent regions.
    Mermaid,
    /// SVG, laid out in pure Rust (no Graphviz needed).
    Svg,
}

/// Arguments of `fazhi graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The procedure: its id (looked up under `--rules`) or the path of its file.
    pub procedure: String,
    /// The format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    pub format: GraphFormat,
    /// The version to draw (default: the newest).
    #[arg(long)]
    pub version: Option<u32>,
    /// Where the procedures are.
    #[arg(long, value_name = "DIR", default_value = "rules")]
    pub rules: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `fazhi graph`.
pub fn run(args: &GraphArgs) -> ExitCode {
    let as_path = PathBuf::from(&args.procedure);
    let paths = if as_path.is_file() {
        vec![as_path]
    } else {
        vec![args.rules.clone()]
    };
    let found = match files::find(&paths, FileKind::Procedure) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let sources = match found
        .iter()
        .map(|p| files::read(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(d) => {
            eprint!("{}", crate::cmd_check::render_human(&d));
            return ExitCode::from(2);
        }
    };
    let loaded = load::load(&sources);
    let wanted = if args.procedure.ends_with(".toml") {
        loaded
            .rules
            .latest()
            .next()
            .map(|p| p.meta.id.clone())
            .unwrap_or_default()
    } else {
        args.procedure.clone()
    };
    let Some(procedure) = loaded.rules.get(&wanted, args.version) else {
        for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
            eprint!("{}", crate::cmd_check::render_human(d));
        }
        let known: Vec<String> = loaded.rules.latest().map(|p| p.meta.id.clone()).collect();
        let hint = load::did_you_mean(&wanted, known.iter().map(String::as_str))
            .unwrap_or_else(|| format!("the loaded procedures are: {}", known.join(", ")));
        let v = args
            .version
            .map(|v| format!(" version {v}"))
            .unwrap_or_default();
        eprintln!(
            "error: no procedure `{wanted}`{v} under {} ({hint})",
            args.rules.display()
        );
        return ExitCode::FAILURE;
    };
    let text = match args.format {
        GraphFormat::Dot => graph::to_dot(procedure),
        GraphFormat::Mermaid => graph::to_mermaid(procedure),
        GraphFormat::Svg => graph::to_svg(procedure),
    };
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
