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
    #[arg(required_unless_present = "all")]
    pub procedure: Option<String>,
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
    /// SVG only: draw the parallel tracks of this state (its id) in detail, instead of the
    /// overview.
    #[arg(long, value_name = "STATE", conflicts_with = "all")]
    pub state: Option<String>,
    /// Draw every procedure under `--rules` as SVG into `--out`: `<id>.svg` (the overview)
    /// and `<id>.<state>.svg` for each state with parallel tracks.
    #[arg(long, requires = "out", conflicts_with_all = ["procedure", "output", "version"])]
    pub all: bool,
    /// The directory `--all` writes into.
    #[arg(long, value_name = "DIR", requires = "all")]
    pub out: Option<PathBuf>,
}

/// Runs `fazhi graph`.
pub fn run(args: &GraphArgs) -> ExitCode {
    let wanted = args.procedure.clone().unwrap_or_default();
    let as_path = PathBuf::from(&wanted);
    let paths = if !args.all && as_path.is_file() {
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
    if args.all {
        let dir = args.out.clone().unwrap_or_default();
        return write_all(&loaded, &dir);
    }
    let wanted = if wanted.ends_with(".toml") {
        loaded
            .rules
            .latest()
            .next()
            .map(|p| p.meta.id.clone())
            .unwrap_or_default()
    } else {
        wanted
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
    let text = match (args.format, &args.state) {
        (GraphFormat::Svg, Some(state)) => {
            let with_tracks = graph::states_with_tracks(procedure);
            let drawn = graph::to_state_svg(procedure, state);
            match drawn {
                Some(svg) => svg,
                None => {
                    let names: Vec<&str> = with_tracks.iter().map(|s| s.id()).collect();
                    eprintln!(
                        "error: `{state}` is not a state of `{wanted}` with parallel tracks (those are: {})",
                        names.join(", ")
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        (_, Some(_)) => {
            eprintln!("error: `--state` draws SVG only (use `--format svg`)");
            return ExitCode::from(2);
        }
        (GraphFormat::Dot, None) => graph::to_dot(procedure),
        (GraphFormat::Mermaid, None) => graph::to_mermaid(procedure),
        (GraphFormat::Svg, None) => graph::to_svg(procedure),
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

/// The files `fazhi graph --all` writes for the newest version of each procedure: its
/// name and its SVG, in order.
pub fn pictures(rules: &fazhi_core::model::RuleSet) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in rules.latest() {
        out.push((format!("{}.svg", p.meta.id), graph::to_svg(p)));
        for s in graph::states_with_tracks(p) {
            let Some(svg) = graph::to_state_svg(p, s.id()) else {
                continue;
            };
            out.push((format!("{}.{}.svg", p.meta.id, s.id()), svg));
        }
    }
    out
}

fn write_all(loaded: &load::Loaded, dir: &std::path::Path) -> ExitCode {
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in errors {
            eprint!("{}", crate::cmd_check::render_human(d));
        }
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    for (name, svg) in pictures(&loaded.rules) {
        let path = dir.join(&name);
        if let Err(e) = std::fs::write(&path, svg.as_bytes()) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
