//! The deadline board in PostgreSQL: the `deadlines` table (one row per kept deadline of a
//! case, keyed by case and time rule, so that it distributes by case id with the rest),
//! replaced by `fazhi_append` with each append in its transaction, and the board's query,
//! which walks the index `deadlines_board (late, due, case_id, rule)` in the board's order
//! from the page's start. The same meaning as the SQLite board ([`crate::EventStore::deadlines`]).

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::board::{BoardDeadline, BoardStatus, DeadlinePage, DeadlineQuery};
use crate::postgres::{from_micros, micros};
use crate::sqlite::{Reach, reach_of};
use crate::sqlite_board::{parse_day, parse_roles};
use crate::{DeadlineRow, StoreError};

/// The rows the board keeps for a case's deadlines: one per time rule (the first given of
/// a rule given twice), in rule order, as the SQLite store keeps them.
pub(crate) fn one_per_rule(rows: &[BoardDeadline]) -> Vec<BoardDeadline> {
    let mut want: Vec<&BoardDeadline> = rows.iter().collect();
    want.sort_by(|a, b| a.rule.cmp(&b.rule));
    want.dedup_by(|a, b| a.rule == b.rule);
    want.into_iter().cloned().collect()
}

/// The digest `fazhi_write_batch` keeps of a case's board rows (`rows` one per rule, see
/// [`one_per_rule`]): the SHA-256 of every value of every row, in order, so that rows equal
/// in every value, and only those, have the same digest.
pub(crate) fn board_digest(rows: &[BoardDeadline]) -> String {
    let values: Vec<_> = rows
        .iter()
        .map(|d| {
            (
                &d.rule,
                d.late,
                micros(d.due),
                d.last_day.to_string(),
                d.working_days,
                d.optional,
                d.provisional,
                &d.title,
                &d.basis,
                &d.roles,
            )
        })
        .collect();
    fazhi_core::runtime::sha256_hex(&serde_json::to_vec(&values).unwrap_or_default())
}

/// The case's deadlines as the JSON array `fazhi_append` reads (`jsonb_to_recordset`): due
/// in microseconds, the last day as `YYYY-MM-DD`, roles as a JSON array; `rows` one per
/// rule (see [`one_per_rule`]).
pub(crate) fn deadlines_json(rows: &[BoardDeadline]) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|d| {
            serde_json::json!({
                "rule": d.rule,
                "late": d.late,
                "due": micros(d.due),
                "last_day": d.last_day.to_string(),
                "working_days": d.working_days,
                "optional": d.optional,
                "provisional": d.provisional,
                "title": d.title,
                "basis": d.basis,
                "roles": d.roles,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// The board's SQL for `query` and its parameters; `None` when its reader reads none of the
/// cases it asks for.
pub(crate) fn board_sql(query: &DeadlineQuery, limit: i64) -> Option<(String, Params)> {
    let reach = reach_of(query.reader.as_ref(), query.procedure.as_deref())?;
    let mut params: Params = Vec::new();
    let mut p = |v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    let from = match reach {
        Reach::Own => {
            "participants p JOIN deadlines d ON d.case_id = p.case_id \
             JOIN cases c ON c.id = d.case_id"
        }
        _ => "deadlines d JOIN cases c ON c.id = d.case_id",
    };
    let now = micros(query.now);
    let late = query.status == Some(BoardStatus::Late);
    // The due time's bounds, lower inclusive, upper exclusive (microseconds).
    let mut lo = query
        .due_after
        .map_or(i64::MIN, |t| micros(t).saturating_add(1));
    let mut hi = query.due_before.map_or(i64::MAX, micros);
    let mut extra = String::new();
    match query.status {
        Some(BoardStatus::Pending) => lo = lo.max(now.saturating_add(1)),
        Some(BoardStatus::Overdue) => {
            hi = hi.min(now.saturating_add(1));
            extra.push_str(" AND NOT d.optional");
        }
        Some(BoardStatus::Late) => {}
        None => {
            // An optional right past due has lapsed: not running.
            let now = p(Box::new(now));
            extra.push_str(&format!(" AND (NOT d.optional OR d.due > {now})"));
        }
    }
    if let Some(cursor) = &query.after {
        lo = lo.max(micros(cursor.due));
    }
    let late = p(Box::new(late));
    let lo = p(Box::new(lo));
    let hi = p(Box::new(hi));
    let mut sql = format!(
        "SELECT d.case_id, c.title, d.procedure, d.rule, d.title, d.basis, d.due, \
         to_char(d.last_day, 'YYYY-MM-DD'), d.working_days, d.roles::text, d.optional, d.late, \
         d.provisional FROM {from} WHERE d.late = {late} AND d.due >= {lo} AND d.due < {hi}{extra}"
    );
    if let Some(cursor) = &query.after {
        let due = p(Box::new(micros(cursor.due)));
        let case = p(Box::new(cursor.case.clone()));
        let rule = p(Box::new(cursor.rule.clone()));
        sql.push_str(&format!(
            " AND (d.due, d.case_id, d.rule) > ({due}, {case}, {rule})"
        ));
    }
    if let Some(procedure) = &query.procedure {
        let v = p(Box::new(procedure.clone()));
        sql.push_str(&format!(" AND d.procedure = {v}"));
    }
    if let Some(role) = &query.role {
        let v = p(Box::new(role.clone()));
        sql.push_str(&format!(" AND d.roles ? {v}"));
    }
    if let Some(r) = &query.reader {
        match reach {
            Reach::Every => {}
            Reach::Own => {
                let actor = p(Box::new(r.actor.clone()));
                let own = p(Box::new(r.own.clone()));
                sql.push_str(&format!(
                    " AND p.actor = {actor} AND d.procedure = ANY({own})"
                ));
            }
            Reach::Mixed { all, own } => {
                let mut either = Vec::new();
                if all {
                    let all = p(Box::new(r.all.clone()));
                    either.push(format!("d.procedure = ANY({all})"));
                }
                if own {
                    let own = p(Box::new(r.own.clone()));
                    let actor = p(Box::new(r.actor.clone()));
                    either.push(format!(
                        "(d.procedure = ANY({own}) AND EXISTS (SELECT 1 FROM participants q \
                         WHERE q.case_id = d.case_id AND q.actor = {actor}))"
                    ));
                }
                sql.push_str(&format!(" AND ({})", either.join(" OR ")));
            }
        }
    }
    let limit = p(Box::new(limit));
    sql.push_str(&format!(" ORDER BY d.due, d.case_id, d.rule LIMIT {limit}"));
    Some((sql, params))
}

/// A page of the board (see [`crate::EventStore::deadlines`]).
pub(crate) async fn query(c: &Client, query: DeadlineQuery) -> Result<DeadlinePage, StoreError> {
    let limit = query.limit.clamp(1, 1000);
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let Some((sql, params)) = board_sql(&query, i64::from(limit) + 1) else {
        return Ok(DeadlinePage {
            deadlines: Vec::new(),
            next: None,
        });
    };
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = c.query(sql.as_str(), &refs).await?;
    let now = micros(query.now);
    let mut rows = Vec::with_capacity(found.len());
    for r in &found {
        let due: i64 = r.try_get(6)?;
        let late: bool = r.try_get(11)?;
        let last_day: String = r.try_get(7)?;
        let roles: String = r.try_get(9)?;
        let status = BoardStatus::at(late, due, now);
        rows.push(DeadlineRow {
            case: r.try_get(0)?,
            case_title: r.try_get(1)?,
            procedure: r.try_get(2)?,
            deadline: BoardDeadline {
                rule: r.try_get(3)?,
                title: r.try_get(4)?,
                basis: r.try_get(5)?,
                due: from_micros(due)?,
                last_day: parse_day(&last_day)?,
                working_days: r.try_get(8)?,
                roles: parse_roles(&roles)?,
                optional: r.try_get(10)?,
                late,
                provisional: r.try_get(12)?,
            },
            status,
        });
    }
    Ok(DeadlinePage::of(rows, want))
}
