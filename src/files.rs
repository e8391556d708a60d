//! Finding and reading rule files.

use std::path::{Path, PathBuf};

use fazhi_core::load::SourceFile;

/// What a `.toml` file under the rules directory holds, by where it is and how it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A procedure (`rules/major-decision.toml`).
    Procedure,
    /// A scenario file (`rules/major-decision.test.toml`).
    Scenarios,
    /// A calendar year (`rules/calendars/2025.toml`).
    Calendar,
    /// The list of laws the procedures cite (`rules/laws.toml`).
    Laws,
}

/// Classifies a path: files under a `calendars` directory are calendar years, files ending
/// in `.test.toml` are scenario files, `laws.toml` is the list of laws, other `.toml` files
/// are procedures.
pub fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".toml") {
        return None;
    }
    if path.components().any(|c| c.as_os_str() == "calendars") {
        Some(FileKind::Calendar)
    } else if name.ends_with(".test.toml") {
        Some(FileKind::Scenarios)
    } else if name == "laws.toml" {
        Some(FileKind::Laws)
    } else {
        Some(FileKind::Procedure)
    }
}

/// Every `.toml` file of `kind` below the given paths (files are taken as given), sorted.
/// Asked for procedures, it gives the lists of laws too (the loader checks citations against
/// them), and for a procedure file given by name the `laws.toml` beside it.
pub fn find(paths: &[PathBuf], kind: FileKind) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, kind, &mut out)?;
        } else if p.exists() {
            if kind == FileKind::Procedure
                && let Some(laws) = p.parent().map(|d| d.join("laws.toml"))
                && laws.is_file()
            {
                out.push(laws);
            }
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, kind: FileKind, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, kind, out)?;
        } else if kind_of(&path) == Some(kind)
            || (kind == FileKind::Procedure && kind_of(&path) == Some(FileKind::Laws))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads a file as a [`SourceFile`] named by its path.
pub fn read(path: &Path) -> std::io::Result<SourceFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(SourceFile::new(path.display().to_string(), text))
}
