//! Loading the working-day calendar from `rules/calendars/<year>.toml` files.

use fazhi_core::time::{Calendar, CalendarError};
use std::path::{Path, PathBuf};

/// Why a calendar directory could not be loaded; every message names the file, and the
/// line:column for data errors.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadCalendarError {
    /// The directory cannot be listed.
    #[error(
        "cannot read the calendar directory `{}`: {source}; pass `--calendars <DIR>` with the directory that holds the `<year>.toml` files",
        dir.display()
    )]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file's content is wrong: `path:line:column: message`.
    #[error("{}{}{source}", path.display(), if source.location().is_some() { ":" } else { ": " })]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        source: CalendarError,
    },
    /// A file named after a year holds another year.
    #[error(
        "{}:{line}:1: the file is named for {file_year} but says `year = {year}`: rename the file to `{year}.toml` or fix `year`",
        path.display()
    )]
    YearMismatch {
        /// The file.
        path: PathBuf,
        /// The line of `year`.
        line: usize,
        /// The year in the file name.
        file_year: i32,
        /// The year in the file.
        year: i32,
    },
    /// The directory holds no calendar files.
    #[error(
        "no calendar files (`*.toml`) in `{}`: add one file per year, e.g. `2025.toml`, from the State Council's holiday notice",
        dir.display()
    )]
    Empty {
        /// The directory.
        dir: PathBuf,
    },
}

/// Reads every `*.toml` file in `dir` (in name order), one year each, into a [`Calendar`].
pub fn load_calendar_dir(dir: &Path) -> Result<Calendar, LoadCalendarError> {
    let read_dir = |source| LoadCalendarError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir)? {
        let path = entry.map_err(read_dir)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(LoadCalendarError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    paths.sort();
    let mut calendar = Calendar::new();
    for path in paths {
        let source =
            std::fs::read_to_string(&path).map_err(|source| LoadCalendarError::ReadFile {
                path: path.clone(),
                source,
            })?;
        let table = Calendar::parse_year(&source).map_err(|source| LoadCalendarError::Data {
            path: path.clone(),
            source,
        })?;
        let file_year = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<i32>().ok());
        if let Some(file_year) = file_year.filter(|y| *y != table.year) {
            let line = source
                .lines()
                .position(|l| l.trim_start().starts_with("year"))
                .map_or(1, |i| i + 1);
            return Err(LoadCalendarError::YearMismatch {
                path,
                line,
                file_year,
                year: table.year,
            });
        }
        calendar
            .add_year(table)
            .map_err(|source| LoadCalendarError::Data { path, source })?;
    }
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use fazhi_core::time::YearTable;

    fn shipped() -> Calendar {
        load_calendar_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/calendars")).unwrap()
    }

    /// `name: first-day-off .. last-day-off | make-up days`, every date with its weekday, so a
    /// reader can hold each line against the notice (and chrono checks the weekdays).
    fn summary(t: &YearTable) -> Vec<String> {
        let day = |d: &NaiveDate| d.format("%Y-%m-%d %a").to_string();
        t.holidays
            .iter()
            .map(|h| {
                let first = h.days_off.first().map(day).unwrap_or_default();
                let last = h.days_off.last().map(day).unwrap_or_default();
                let make_up: Vec<_> = h.make_up_days.iter().map(day).collect();
                format!("{}: {first} .. {last} | {}", h.name, make_up.join(", "))
            })
            .collect()
    }

    #[test]
    fn shipped_calendars_match_the_notices_with_weekdays() {
        let c = shipped();
        assert_eq!(
            c.years().map(|t| t.year).collect::<Vec<_>>(),
            [2021, 2022, 2023, 2024, 2025, 2026]
        );
        // 国办发明电〔2020〕27号 (not in the legal digest; from the published notice, checked
        // against two holiday data files).
        assert_eq!(
            summary(c.year(2021).unwrap()),
            [
                "元旦: 2021-01-01 Fri .. 2021-01-03 Sun | ",
                "春节: 2021-02-11 Thu .. 2021-02-17 Wed | 2021-02-07 Sun, 2021-02-20 Sat",
                "清明节: 2021-04-03 Sat .. 2021-04-05 Mon | ",
                "劳动节: 2021-05-01 Sat .. 2021-05-05 Wed | 2021-04-25 Sun, 2021-05-08 Sat",
                "端午节: 2021-06-12 Sat .. 2021-06-14 Mon | ",
                "中秋节: 2021-09-19 Sun .. 2021-09-21 Tue | 2021-09-18 Sat",
                "国庆节: 2021-10-01 Fri .. 2021-10-07 Thu | 2021-09-26 Sun, 2021-10-09 Sat",
            ]
        );
        // 国办发明电〔2021〕11号 (likewise).
        assert_eq!(
            summary(c.year(2022).unwrap()),
            [
                "元旦: 2022-01-01 Sat .. 2022-01-03 Mon | ",
                "春节: 2022-01-31 Mon .. 2022-02-06 Sun | 2022-01-29 Sat, 2022-01-30 Sun",
                "清明节: 2022-04-03 Sun .. 2022-04-05 Tue | 2022-04-02 Sat",
                "劳动节: 2022-04-30 Sat .. 2022-05-04 Wed | 2022-04-24 Sun, 2022-05-07 Sat",
                "端午节: 2022-06-03 Fri .. 2022-06-05 Sun | ",
                "中秋节: 2022-09-10 Sat .. 2022-09-12 Mon | ",
                "国庆节: 2022-10-01 Sat .. 2022-10-07 Fri | 2022-10-08 Sat, 2022-10-09 Sun",
            ]
        );
        // 国办发明电〔2022〕16号 (likewise); its New Year block starts in 2022.
        assert_eq!(
            summary(c.year(2023).unwrap()),
            [
                "元旦: 2022-12-31 Sat .. 2023-01-02 Mon | ",
                "春节: 2023-01-21 Sat .. 2023-01-27 Fri | 2023-01-28 Sat, 2023-01-29 Sun",
                "清明节: 2023-04-05 Wed .. 2023-04-05 Wed | ",
                "劳动节: 2023-04-29 Sat .. 2023-05-03 Wed | 2023-04-23 Sun, 2023-05-06 Sat",
                "端午节: 2023-06-22 Thu .. 2023-06-24 Sat | 2023-06-25 Sun",
                "中秋节、国庆节: 2023-09-29 Fri .. 2023-10-06 Fri | 2023-10-07 Sat, 2023-10-08 Sun",
            ]
        );
        // 国办发明电〔2023〕7号 (not in the legal digest; from the published notice).
        assert_eq!(
            summary(c.year(2024).unwrap()),
            [
                "元旦: 2024-01-01 Mon .. 2024-01-01 Mon | ",
                "春节: 2024-02-10 Sat .. 2024-02-17 Sat | 2024-02-04 Sun, 2024-02-18 Sun",
                "清明节: 2024-04-04 Thu .. 2024-04-06 Sat | 2024-04-07 Sun",
                "劳动节: 2024-05-01 Wed .. 2024-05-05 Sun | 2024-04-28 Sun, 2024-05-11 Sat",
                "端午节: 2024-06-10 Mon .. 2024-06-10 Mon | ",
                "中秋节: 2024-09-15 Sun .. 2024-09-17 Tue | 2024-09-14 Sat",
                "国庆节: 2024-10-01 Tue .. 2024-10-07 Mon | 2024-09-29 Sun, 2024-10-12 Sat",
            ]
        );
        // domain.md §5.1.
        assert_eq!(
            summary(c.year(2025).unwrap()),
            [
                "元旦: 2025-01-01 Wed .. 2025-01-01 Wed | ",
                "春节: 2025-01-28 Tue .. 2025-02-04 Tue | 2025-01-26 Sun, 2025-02-08 Sat",
                "清明节: 2025-04-04 Fri .. 2025-04-06 Sun | ",
                "劳动节: 2025-05-01 Thu .. 2025-05-05 Mon | 2025-04-27 Sun",
                "端午节: 2025-05-31 Sat .. 2025-06-02 Mon | ",
                "国庆节、中秋节: 2025-10-01 Wed .. 2025-10-08 Wed | 2025-09-28 Sun, 2025-10-11 Sat",
            ]
        );
        // domain.md §5.2.
        assert_eq!(
            summary(c.year(2026).unwrap()),
            [
                "元旦: 2026-01-01 Thu .. 2026-01-03 Sat | 2026-01-04 Sun",
                "春节: 2026-02-15 Sun .. 2026-02-23 Mon | 2026-02-14 Sat, 2026-02-28 Sat",
                "清明节: 2026-04-04 Sat .. 2026-04-06 Mon | ",
                "劳动节: 2026-05-01 Fri .. 2026-05-05 Tue | 2026-05-09 Sat",
                "端午节: 2026-06-19 Fri .. 2026-06-21 Sun | ",
                "中秋节: 2026-09-25 Fri .. 2026-09-27 Sun | ",
                "国庆节: 2026-10-01 Thu .. 2026-10-07 Wed | 2026-09-20 Sun, 2026-10-10 Sat",
            ]
        );
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fazhi-cal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn data_errors_name_the_file_line_and_column() {
        let dir = temp_dir("bad");
        std::fs::write(
            dir.join("2025.toml"),
            "year = 2025\nnotice = \"n\"\n[[holidays]]\nname = \"春节\"\noff = { from = 2025-01-28, to = 2025-02-04 }\nmake_up = [2025-01-27]\n",
        )
        .unwrap();
        let e = load_calendar_dir(&dir).unwrap_err().to_string();
        let want = format!(
            "{}:6:12: holiday `春节`: make-up working day 2025-01-27 is a Monday",
            dir.join("2025.toml").display()
        );
        assert!(e.starts_with(&want), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_named_for_another_year_is_an_error() {
        let dir = temp_dir("name");
        std::fs::write(
            dir.join("2026.toml"),
            "# c\nyear = 2025\nnotice = \"n\"\n[[holidays]]\nname = \"元旦\"\noff = { from = 2025-01-01, to = 2025-01-01 }\n",
        )
        .unwrap();
        let e = load_calendar_dir(&dir).unwrap_err().to_string();
        assert!(e.ends_with("2026.toml:2:1: the file is named for 2026 but says `year = 2025`: rename the file to `2025.toml` or fix `year`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_and_missing_directories_are_errors() {
        let dir = temp_dir("empty");
        assert!(matches!(
            load_calendar_dir(&dir),
            Err(LoadCalendarError::Empty { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            load_calendar_dir(&dir),
            Err(LoadCalendarError::ReadDir { .. })
        ));
    }
}
