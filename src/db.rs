//! Where a command's database is, and whether it may be created.

use std::path::{Path, PathBuf};

/// The database the commands use when `--db` is not given.
pub const DEFAULT_DB: &str = "fazhi.db";

/// Why a database may not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum DbPathError {
    /// `--db` names a file that does not exist.
    #[error(
        "no database at `{}` (`--db`): check the path (a typo, a volume not mounted?); to start a new, empty database there, add `--create-db`",
        .path.display()
    )]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The database is missing but SQLite's files beside it are not.
    #[error(
        "no database at `{}`, but {leftovers} is beside it: the database was removed or moved; restore it (or remove those files and add `--create-db` to start with no cases)",
        .path.display()
    )]
    Removed {
        /// The path.
        path: PathBuf,
        /// The files found beside it.
        leftovers: String,
    },
}

/// The PostgreSQL URL `--db` names, when it names one (`postgres://…`, `postgresql://…`)
/// rather than an SQLite file.
pub fn postgres_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|d| fazhi_store::is_postgres_url(d))
}

/// `--db` as messages show it: a PostgreSQL URL with its password hidden (`***`).
pub fn shown(db: &Path) -> String {
    let Some(url) = postgres_url(db) else {
        return db.display().to_string();
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = url.get(scheme_end..).unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = authority.get(..at).unwrap_or_default();
            match userinfo.split_once(':') {
                Some((user, _password)) => format!(
                    "{}{user}:***{}",
                    url.get(..scheme_end).unwrap_or_default(),
                    rest.get(at..).unwrap_or_default()
                ),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// Opens the store `--db` names for a tool (`fazhi verify`, `fazhi export`): an SQLite
/// file read-only, or a PostgreSQL database (its tables migrated if they are not yet).
pub fn open_inspect(
    db: &Path,
) -> Result<Box<dyn fazhi_store::audit::Inspect>, fazhi_store::StoreError> {
    Ok(match postgres_url(db) {
        Some(url) => Box::new(fazhi_store::PgStore::open(fazhi_store::PgOptions::new(
            url,
        ))?),
        None => Box::new(fazhi_store::SqliteStore::open(
            fazhi_store::SqliteOptions {
                read_only: true,
                create: false,
                ..fazhi_store::SqliteOptions::new(db)
            },
        )?),
    })
}

/// Where the database is and whether it must be created: an existing file is opened; a
/// missing one is created only with `--create-db` (`create_db`), or when `--db` was not
/// given (`db` is `None`: the first run in a fresh clone). A missing file named by `--db`
/// is refused: a typo, a deleted file or a volume not mounted must not start a service
/// with no cases. SQLite's `-wal` or `-shm` file beside a missing database means it was
/// removed, not that this is a first run: refused too, unless `--create-db`.
pub fn database(db: Option<&Path>, create_db: bool) -> Result<(PathBuf, bool), DbPathError> {
    let (path, default) = match db {
        Some(p) => (p.to_owned(), false),
        None => (PathBuf::from(DEFAULT_DB), true),
    };
    if path.exists() {
        return Ok((path, false));
    }
    let leftovers: Vec<String> = ["-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        })
        .filter(|p| p.exists())
        .map(|p| format!("`{}`", p.display()))
        .collect();
    if create_db {
        return Ok((path, true));
    }
    if !leftovers.is_empty() {
        return Err(DbPathError::Removed {
            path,
            leftovers: leftovers.join(" and "),
        });
    }
    if default {
        return Ok((path, true));
    }
    Err(DbPathError::Missing { path })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_default_or_an_explicit_flag_creates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("typo.db");
        let err = database(Some(&missing), false).unwrap_err().to_string();
        assert!(
            err.contains("typo.db") && err.contains("--create-db"),
            "{err}"
        );
        assert_eq!(
            database(Some(&missing), true).unwrap(),
            (missing.clone(), true)
        );
        std::fs::write(&missing, b"").unwrap();
        assert_eq!(database(Some(&missing), false).unwrap(), (missing, false));
        let removed = dir.path().join("gone.db");
        std::fs::write(dir.path().join("gone.db-wal"), b"").unwrap();
        let err = database(Some(&removed), false).unwrap_err().to_string();
        assert!(
            err.contains("gone.db-wal") && err.contains("removed"),
            "{err}"
        );
    }

    #[test]
    fn a_postgres_url_is_shown_without_its_password() {
        let shown = |s: &str| shown(Path::new(s));
        assert_eq!(
            shown("postgres://fazhi:s3cret@db.example:5432/town?sslmode=disable"),
            "postgres://fazhi:***@db.example:5432/town?sslmode=disable"
        );
        assert_eq!(
            shown("postgresql://fazhi@%2Frun%2Fpostgresql/town"),
            "postgresql://fazhi@%2Frun%2Fpostgresql/town"
        );
        assert_eq!(shown("postgres://db/town"), "postgres://db/town");
        assert_eq!(shown("town.db"), "town.db");
        assert!(postgres_url(Path::new("town.db")).is_none());
    }
}
