//! The deadline board in SQLite: the `deadlines` table (one row per kept deadline of a
//! case, keyed by case and time rule), replaced with each append in its transaction, and
//! the board's query, which walks the index `deadlines_board (late, due, case_id, rule)` in
//! the board's order from the page's start.

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use crate::board::{BoardDeadline, BoardStatus, DeadlinePage, DeadlineQuery};
use crate::sqlite::{Reach, from_micros, micros, reach_of};
use crate::{DeadlineRow, StoreError};

/// The migration that adds the board (schema 6). Cases stored before it have no rows yet:
/// each is listed in `deadlines_unfilled` until the service, which has the rules and the
/// calendar, reckons its deadlines at start ([`crate::SqliteStore::fill_deadlines`]) or an
/// append writes them.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE deadlines (
    case_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    procedure TEXT NOT NULL,
    late INTEGER NOT NULL,
    due INTEGER NOT NULL,
    last_day TEXT NOT NULL,
    working_days INTEGER NOT NULL,
    optional INTEGER NOT NULL,
    provisional INTEGER NOT NULL,
    title TEXT NOT NULL,
    basis TEXT,
    roles TEXT NOT NULL,
    PRIMARY KEY (case_id, rule)
) WITHOUT ROWID;
CREATE INDEX deadlines_board ON deadlines (late, due, case_id, rule);
CREATE INDEX deadlines_provisional ON deadlines (case_id) WHERE provisional = 1;
CREATE TABLE deadlines_unfilled (case_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
INSERT INTO deadlines_unfilled (case_id) SELECT id FROM cases;
"#;

/// The kept deadlines of `case`, by time rule id.
pub(crate) fn read_case(c: &Connection, case: &str) -> Result<Vec<BoardDeadline>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT rule, title, basis, due, last_day, working_days, roles, optional, late, provisional
         FROM deadlines WHERE case_id = ?1 ORDER BY rule",
    )?;
    let raws = stmt
        .query_map(params![case], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, bool>(8)?,
                r.get::<_, bool>(9)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter()
        .map(
            |(
                rule,
                title,
                basis,
                due,
                last_day,
                working_days,
                roles,
                optional,
                late,
                provisional,
            )| {
                Ok(BoardDeadline {
                    rule,
                    title,
                    basis,
                    due: from_micros(due)?,
                    last_day: parse_day(&last_day)?,
                    working_days,
                    roles: parse_roles(&roles)?,
                    optional,
                    late,
                    provisional,
                })
            },
        )
        .collect()
}

pub(crate) fn parse_day(s: &str) -> Result<chrono::NaiveDate, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("deadline's last day `{s}` is not a date")))
}

pub(crate) fn parse_roles(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s)
        .map_err(|_| StoreError::Corrupt(format!("deadline's roles `{s}` are not a list")))
}

/// Replaces the kept deadlines of `case` (of `procedure`) with `rows`, inside the caller's
/// transaction. Rows equal to those kept are left alone (no page is written for an append
/// that changes no deadline); `fresh`: the case is new and has none.
pub(crate) fn write_case(
    c: &Connection,
    case: &str,
    procedure: &str,
    rows: &[BoardDeadline],
    fresh: bool,
) -> Result<(), StoreError> {
    let mut want: Vec<&BoardDeadline> = rows.iter().collect();
    want.sort_by(|a, b| a.rule.cmp(&b.rule));
    want.dedup_by(|a, b| a.rule == b.rule);
    if !fresh {
        let kept = read_case(c, case)?;
        if kept.len() == want.len() && kept.iter().zip(&want).all(|(k, w)| k == *w) {
            return Ok(());
        }
        c.prepare_cached("DELETE FROM deadlines WHERE case_id = ?1")?
            .execute(params![case])?;
    }
    let mut ins = c.prepare_cached(
        "INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days, optional, title, basis, roles, provisional)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for d in want {
        ins.execute(params![
            case,
            d.rule,
            procedure,
            d.late,
            micros(d.due),
            d.last_day.to_string(),
            d.working_days,
            d.optional,
            d.title,
            d.basis,
            serde_json::to_string(&d.roles).unwrap_or_default(),
            d.provisional,
        ])?;
    }
    Ok(())
}

/// The board's SQL for `query` and its named parameters; `None` when its reader reads none
/// of the cases it asks for.
pub(crate) fn board_sql(
    query: &DeadlineQuery,
    limit: i64,
) -> Option<(String, Vec<(String, Value)>)> {
    let reach = reach_of(query.reader.as_ref(), query.procedure.as_deref())?;
    let mut args: Vec<(String, Value)> = Vec::new();
    let mut arg = |name: &str, v: Value| args.push((format!(":{name}"), v));
    let from = match reach {
        Reach::Own => {
            "participants p CROSS JOIN deadlines d ON d.case_id = p.case_id \
             CROSS JOIN cases c ON c.id = d.case_id"
        }
        _ => "deadlines d CROSS JOIN cases c ON c.id = d.case_id",
    };
    // A reader of its own cases only reaches each of its cases' deadlines by case (`+`:
    // the board's index is not searched once per case).
    let (late_col, due_col) = match reach {
        Reach::Own => ("+d.late", "+d.due"),
        _ => ("d.late", "d.due"),
    };
    let mut sql = format!(
        "SELECT d.case_id, c.title, d.procedure, d.rule, d.title, d.basis, d.due, d.last_day, \
         d.working_days, d.roles, d.optional, d.late, d.provisional FROM {from} \
         WHERE {late_col} = :late AND {due_col} >= :lo AND {due_col} < :hi"
    );
    let now = micros(query.now);
    let late = query.status == Some(BoardStatus::Late);
    // The due time's bounds, lower inclusive, upper exclusive (times are microseconds).
    let mut lo = query
        .due_after
        .map_or(i64::MIN, |t| micros(t).saturating_add(1));
    let mut hi = query.due_before.map_or(i64::MAX, micros);
    match query.status {
        Some(BoardStatus::Pending) => lo = lo.max(now.saturating_add(1)),
        Some(BoardStatus::Overdue) => {
            hi = hi.min(now.saturating_add(1));
            sql.push_str(" AND d.optional = 0");
        }
        Some(BoardStatus::Late) => {}
        None => {
            // An optional right past due has lapsed: not running.
            sql.push_str(" AND (d.optional = 0 OR d.due > :now)");
            arg("now", Value::Integer(now));
        }
    }
    // A page starts at its cursor's due time: the index is searched from there (SQLite
    // does not search it by the row value below, only filters with it), so a later page
    // costs what the first does.
    if let Some(cursor) = &query.after {
        lo = lo.max(micros(cursor.due));
    }
    arg("late", Value::Integer(i64::from(late)));
    arg("lo", Value::Integer(lo));
    arg("hi", Value::Integer(hi));
    if let Some(cursor) = &query.after {
        sql.push_str(&format!(
            " AND ({due_col}, d.case_id, d.rule) > (:c_due, :c_case, :c_rule)"
        ));
        arg("c_due", Value::Integer(micros(cursor.due)));
        arg("c_case", Value::Text(cursor.case.clone()));
        arg("c_rule", Value::Text(cursor.rule.clone()));
    }
    if let Some(p) = &query.procedure {
        sql.push_str(" AND d.procedure = :procedure");
        arg("procedure", Value::Text(p.clone()));
    }
    if let Some(role) = &query.role {
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(d.roles) WHERE value = :role)");
        arg("role", Value::Text(role.clone()));
    }
    let json = |v: &[String]| Value::Text(serde_json::to_string(v).unwrap_or_default());
    if let Some(r) = &query.reader {
        const ALL: &str = "d.procedure IN (SELECT value FROM json_each(:all))";
        const OWN: &str = "d.procedure IN (SELECT value FROM json_each(:own))";
        const TAKES_PART: &str = "EXISTS (SELECT 1 FROM participants q WHERE q.actor = :actor AND q.case_id = d.case_id)";
        match reach {
            Reach::Every => {}
            Reach::Own => {
                sql.push_str(&format!(" AND p.actor = :actor AND {OWN}"));
                arg("actor", Value::Text(r.actor.clone()));
                arg("own", json(&r.own));
            }
            Reach::Mixed { all, own } => {
                let mut either = Vec::new();
                if all {
                    either.push(ALL.to_owned());
                    arg("all", json(&r.all));
                }
                if own {
                    either.push(format!("({OWN} AND {TAKES_PART})"));
                    arg("own", json(&r.own));
                    arg("actor", Value::Text(r.actor.clone()));
                }
                sql.push_str(&format!(" AND ({})", either.join(" OR ")));
            }
        }
    }
    sql.push_str(" ORDER BY d.due, d.case_id, d.rule LIMIT :limit");
    arg("limit", Value::Integer(limit));
    Some((sql, args))
}

/// A page of the board (see [`crate::EventStore::deadlines`]).
pub(crate) fn query(c: &Connection, query: &DeadlineQuery) -> Result<DeadlinePage, StoreError> {
    let limit = query.limit.clamp(1, 1000);
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let Some((sql, args)) = board_sql(query, i64::from(limit) + 1) else {
        return Ok(DeadlinePage {
            deadlines: Vec::new(),
            next: None,
        });
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let named: Vec<(&str, &dyn rusqlite::ToSql)> = args
        .iter()
        .map(|(n, v)| (n.as_str(), v as &dyn rusqlite::ToSql))
        .collect();
    let raws = stmt
        .query_map(named.as_slice(), |r| {
            Ok((
                (
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ),
                (
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, bool>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, bool>(10)?,
                    r.get::<_, bool>(11)?,
                    r.get::<_, bool>(12)?,
                ),
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Vec::with_capacity(raws.len());
    for ((case, case_title, procedure), d) in raws {
        let (rule, title, basis, due, last_day, working_days, roles, optional, late, provisional) =
            d;
        let status = BoardStatus::at(late, due, micros(query.now));
        rows.push(DeadlineRow {
            case,
            case_title,
            procedure,
            deadline: BoardDeadline {
                rule,
                title,
                basis,
                due: from_micros(due)?,
                last_day: parse_day(&last_day)?,
                working_days,
                roles: parse_roles(&roles)?,
                optional,
                late,
                provisional,
            },
            status,
        });
    }
    Ok(DeadlinePage::of(rows, want))
}
