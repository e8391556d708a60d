//! `fazhi deadlines`: the morning check. The deadlines of every case in a database that are
//! overdue or fall due within a span (`--within 7d`), by due time, in Chinese first and in
//! China time, read from the store's deadline board (the same rows as `GET /v1/deadlines`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use fazhi_core::model::RuleSet;
use fazhi_core::time::Calendar;
use fazhi_core::time::china::rfc3339;
use fazhi_http::deadlines::DeadlineItem;
use fazhi_store::{BoardStatus, DeadlineQuery, EventStore, SqliteOptions, SqliteStore, StoreError};

/// `fazhi deadlines --db FILE --within 7d [--status …] [--format table|json]`.
#[derive(Debug, clap::Args)]
pub struct DeadlinesArgs {
    /// The SQLite database.
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// Only deadlines due within this span from now: `7d` (days), `12h` (hours), `2w`
    /// (weeks). Overdue ones are always due within it. Default: every running deadline.
    #[arg(long)]
    pub within: Option<String>,
    /// `pending`, `overdue` or `late` (default: pending and overdue).
    #[arg(long)]
    pub status: Option<String>,
    /// `table` (for people, Chinese first) or `json`.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// The directory of procedures (for the procedures' and roles' titles).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The calendar directory (default: `<rules>/calendars`), for days counted in working
    /// days.
    #[arg(long)]
    pub calendars: Option<PathBuf>,
}

/// Why the deadlines could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DeadlinesError {
    /// An argument is not understood.
    #[error("{zh}（{en}）")]
    Argument {
        /// In Chinese.
        zh: String,
        /// In English.
        en: String,
    },
    /// The database could not be read.
    #[error("无法读取数据库 `{}`：{source}（cannot read the database; pass it with `--db FILE`, and run `fazhi serve` once on a database of an older schema）", .db.display())]
    Store {
        /// The database.
        db: PathBuf,
        /// The store's error.
        source: StoreError,
    },
    /// The rules could not be loaded.
    #[error("无法加载规则：{0}（cannot load the rules: `--rules DIR`, `--calendars DIR`）")]
    Rules(String),
}

/// A span such as `7d`, `12h` or `2w`.
pub fn parse_span(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s.get(..s.len() - unit.len_utf8())?.parse().ok()?;
    if !(0..=36_600).contains(&n) {
        return None;
    }
    match unit {
        'd' | '天' | '日' => Some(Duration::days(n)),
        'h' => Some(Duration::hours(n)),
        'w' => Some(Duration::weeks(n)),
        _ => None,
    }
}

/// The rows at `now`, all pages read (at most 100,000 rows).
pub fn read(
    db: &Path,
    args: &DeadlinesArgs,
    rules: &RuleSet,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<(Vec<DeadlineItem>, usize), DeadlinesError> {
    let within = args
        .within
        .as_deref()
        .map(|w| {
            parse_span(w).ok_or_else(|| DeadlinesError::Argument {
                zh: format!("`--within {w}` 须为天数、小时数或周数，如 7d、12h、2w"),
                en: format!("`--within {w}` must be days, hours or weeks, such as 7d, 12h, 2w"),
            })
        })
        .transpose()?;
    let status = args
        .status
        .as_deref()
        .map(|s| {
            BoardStatus::parse(s).ok_or_else(|| DeadlinesError::Argument {
                zh: format!("`--status {s}` 须为 pending（期间进行中）、overdue（已逾期）或 late（逾期办理）"),
                en: format!("`--status {s}` must be pending, overdue or late"),
            })
        })
        .transpose()?;
    let store_err = |source| DeadlinesError::Store {
        db: db.to_owned(),
        source,
    };
    if !db.exists() {
        return Err(store_err(StoreError::Missing(db.to_owned())));
    }
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(db)
    })
    .map_err(store_err)?;
    let unfilled = store.unfilled_deadlines().map_err(store_err)?.len();
    let mut query = DeadlineQuery {
        status,
        due_before: within.map(|w| now + w),
        ..DeadlineQuery::running(now, 1000)
    };
    let items = actix_web::rt::System::new().block_on(async {
        let mut items = Vec::new();
        for _ in 0..100 {
            let page = store.deadlines(query.clone()).await?;
            items.extend(
                page.deadlines
                    .into_iter()
                    .map(|row| DeadlineItem::of(row, rules, now, calendar)),
            );
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        Ok(items)
    });
    Ok((items.map_err(store_err)?, unfilled))
}

/// The table, Chinese first: one line per deadline.
pub fn table(items: &[DeadlineItem], now: DateTime<Utc>, within: Option<&str>) -> String {
    let mut out = String::new();
    let span = within.map_or_else(|| "全部".to_owned(), |w| format!("{w} 内到期及已逾期"));
    out.push_str(&format!(
        "期限一览（{span}），截至 {}（北京时间）：共 {} 项 (deadlines as of now, China time: {})\n",
        rfc3339(now),
        items.len(),
        items.len()
    ));
    if items.is_empty() {
        out.push_str("没有符合条件的期限 (none)\n");
        return out;
    }
    out.push_str("到期时间\t状态\t剩余/逾期\t期限\t依据\t案件\t程序\t办理角色\n");
    for i in items {
        let roles: Vec<&str> = i.roles.iter().map(|r| r.title.as_str()).collect();
        out.push_str(&format!(
            "{}（最后一日 {}）\t{}\t{}\t{}\t{}\t{}（{}）\t{}\t{}\n",
            rfc3339(i.due),
            i.last_day,
            i.status_zh,
            i.summary_zh,
            i.title,
            i.basis.as_deref().unwrap_or("—"),
            i.case_title,
            i.case,
            i.procedure_title,
            roles.join("、"),
        ));
    }
    out
}

/// Prints the deadlines; exit 2 when the database, the rules or an argument cannot be read.
pub fn run(args: &DeadlinesArgs) -> ExitCode {
    let now = Utc::now();
    let result = crate::cmd_serve::load_rules(&args.rules, args.calendars.as_deref())
        .map_err(DeadlinesError::Rules)
        .and_then(|(rules, calendar)| read(&args.db, args, &rules, &calendar, now));
    let (items, unfilled) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("错误 (error): {e}");
            return ExitCode::from(2);
        }
    };
    if unfilled > 0 {
        eprintln!(
            "注意：{unfilled} 件案件存于期限表建立之前，其期限尚未计算，启动一次 `fazhi serve` 即补算 (note: {unfilled} cases were stored before the deadline board; run `fazhi serve` once to reckon them)"
        );
    }
    match args.format.as_str() {
        "json" => {
            let body = serde_json::json!({
                "now": rfc3339(now),
                "deadlines": items,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        "table" => print!("{}", table(&items, now, args.within.as_deref())),
        other => {
            eprintln!(
                "错误 (error): `--format {other}` 须为 table 或 json（`--format` must be table or json）"
            );
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
