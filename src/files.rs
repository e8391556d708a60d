//! Finding and reading rule files.

use std::path::{Path, PathBuf};

use fazhi_core::load::{Diagnostic, Severity, SourceFile};

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
    /// A migration between two versions of a procedure
    /// (`rules/migrations/major-decision-v1-v2.toml`).
    Migration,
}

/// Classifies a path: files under a `calendars` directory are calendar years, files under a
/// `migrations` directory are migrations, files ending in `.test.toml` are scenario files,
/// `laws.toml` is the list of laws, other `.toml` files are procedures.
pub fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".toml") {
        return None;
    }
    if path.components().any(|c| c.as_os_str() == "calendars") {
        Some(FileKind::Calendar)
    } else if path.components().any(|c| c.as_os_str() == "migrations") {
        Some(FileKind::Migration)
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
            if kind == FileKind::Procedure && kind_of(p) == Some(FileKind::Migration) {
                // A migration given by name is read by `find_migrations`.
                continue;
            }
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

/// Every migration file (`migrations/*.toml`) below the given directories, sorted; a file
/// given by name is one when it is under a `migrations` directory. Paths that do not exist
/// give none (the procedures' search reports them).
pub fn find_migrations(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let _ = walk(p, FileKind::Migration, &mut out);
        } else if kind_of(p) == Some(FileKind::Migration) {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    out
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

/// Reads a file as a [`SourceFile`] named by its path. A file that cannot be read, or is not
/// UTF-8 (a GBK file saved by an old editor), is a located diagnostic, so that the caller can
/// report it like any other problem and go on with the other files.
pub fn read(path: &Path) -> Result<SourceFile, Box<Diagnostic>> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let file = SourceFile::new(name.clone(), "");
            return Err(Box::new(
                Diagnostic::new(
                    Severity::Error,
                    "unreadable-file",
                    &file,
                    0..0,
                    format!("`{name}` cannot be read: {e}"),
                )
                .with_help("check that the file exists and that you may read it"),
            ));
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(name, text)),
        Err(e) => Err(Box::new(not_utf8(
            name,
            e.as_bytes(),
            e.utf8_error().valid_up_to(),
        ))),
    }
}

/// The diagnostic for a file that is not UTF-8, at its first byte that is not.
fn not_utf8(name: String, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let byte = bytes.get(valid_up_to).copied().unwrap_or(0);
    let file = SourceFile::new(name, text);
    // The lossy text keeps the valid prefix byte for byte, so the offset holds in it.
    Diagnostic::new(
        Severity::Error,
        "not-utf8",
        &file,
        valid_up_to..valid_up_to.saturating_add(1),
        format!("the file is not UTF-8: byte 0x{byte:02X} at this place is not valid UTF-8 (a GBK or GB 18030 file?)"),
    )
    .with_help("save the file as UTF-8 (in most editors: \"Save with encoding\" → UTF-8; or `iconv -f GBK -t UTF-8`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gbk_file_is_a_located_diagnostic() {
        // `title = "测试"` in GBK on line 2: 测 is 0xB2 0xE2.
        let mut bytes = b"[procedure]\ntitle = \"".to_vec();
        bytes.extend([0xB2, 0xE2, 0xCA, 0xD4]);
        bytes.extend(b"\"\n");
        let e = std::str::from_utf8(&bytes).err().map(|e| e.valid_up_to());
        assert_eq!(e, Some(21));
        let d = not_utf8("a.toml".into(), &bytes, 21);
        assert_eq!((d.code, d.line, d.column), ("not-utf8", 2, 10));
        assert!(d.message.contains("0xB2"), "{}", d.message);
        assert!(d.help.as_deref().unwrap_or("").contains("UTF-8"));
    }
}
