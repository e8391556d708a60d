//! The deadline board (`GET /v1/deadlines`): the running deadlines of every case the caller
//! may read, by due time, paged. The store keeps each case's deadlines as the service
//! reckoned them at its last append ([`board_of`]); whether one is pending or overdue is
//! decided at the server's clock when the board is read.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use fazhi_core::model::{RuleSet, TimeRuleKind};
use fazhi_core::runtime::{Case, Deadline, DeadlineStatus};
use fazhi_core::time::{Calendar, Period, cst_date};
use fazhi_store::{
    BoardDeadline, BoardStatus, DeadlineCursor, DeadlineQuery, DeadlineRow, SqliteStore,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access;
use crate::api::Caller;
use crate::problem::{ApiError, Problem};
use crate::service::AppState;

/// The deadlines of `case` the board keeps, from its deadlines as reckoned at one time
/// (those of [`Case::deadlines`]): every deadline (`within`) still to be met, pending or
/// overdue, and every one met late; with the roles that may take its actions.
pub fn board_of(case: &Case, deadlines: &[Deadline]) -> Vec<BoardDeadline> {
    let p = case.procedure();
    deadlines
        .iter()
        .filter(|d| d.kind == TimeRuleKind::Within)
        .filter(|d| {
            matches!(
                d.status,
                DeadlineStatus::Pending | DeadlineStatus::Overdue | DeadlineStatus::Late
            )
        })
        .map(|d| {
            let rule = p.time_rule(&d.rule);
            let mut roles: Vec<String> = Vec::new();
            for action in rule.iter().flat_map(|r| r.actions()) {
                for role in action.roles() {
                    if !roles.iter().any(|r| r == role.id()) {
                        roles.push(role.id().to_owned());
                    }
                }
            }
            BoardDeadline {
                rule: d.rule.clone(),
                title: d.title.clone(),
                basis: d.basis.clone(),
                due: d.due,
                last_day: d
                    .due_date
                    .unwrap_or_else(|| fazhi_core::time::china::last_day_before(d.due)),
                working_days: matches!(d.period, Period::WorkingDays(_)),
                roles,
                optional: rule.is_some_and(|r| r.optional()),
                late: d.status == DeadlineStatus::Late,
                provisional: d.provisional,
            }
        })
        .collect()
}

/// The board's deadlines of `case` reckoned at `now` (what an append at `now` carries).
pub fn board_at(case: &Case, now: DateTime<Utc>, calendar: &Calendar) -> Vec<BoardDeadline> {
    board_of(case, &case.deadlines(now, calendar))
}

/// How many days are left before a deadline's last day is out, or how many it is overdue,
/// counted as the law counts a period: whole legal days (China time), the day it is read on
/// not counted for what is left; in working days on the calendar when its period is in
/// working days. `(days_left, days_overdue)`; `days_left` is 0 on the last day itself.
pub fn days(
    last_day: NaiveDate,
    working_days: bool,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> (Option<i64>, Option<i64>) {
    let today = cst_date(now);
    // Days d with from < d <= to, each counted when it is one (bounded: ten years).
    let count = |from: NaiveDate, to: NaiveDate| -> i64 {
        let span = (to - from).num_days().clamp(0, 3660);
        if !working_days {
            return span;
        }
        let mut n = 0;
        let mut day = from;
        for _ in 0..span {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            if calendar.is_working_day(day).value {
                n += 1;
            }
        }
        n
    };
    if last_day >= today {
        (Some(count(today, last_day)), None)
    } else {
        (None, Some(count(last_day, today)))
    }
}

/// A role that must act, by id and Chinese title.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleItem {
    /// The role's id.
    pub id: String,
    /// Its Chinese title.
    pub title: String,
}

/// One running deadline of a case, as the board shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineItem {
    /// The case's id.
    pub case: String,
    /// The case's title.
    pub case_title: String,
    /// The case's procedure id.
    pub procedure: String,
    /// The procedure's Chinese title.
    pub procedure_title: String,
    /// The time rule's id.
    pub rule: String,
    /// The deadline's Chinese title.
    pub title: String,
    /// Its article, as the rule file writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// When it ends (exclusive), in China time (`+08:00`).
    #[serde(serialize_with = "fazhi_core::time::china::serialize")]
    pub due: DateTime<Utc>,
    /// The last legal day (China time) on which the act is in time.
    pub last_day: NaiveDate,
    /// `pending`, `overdue` or `late`, at the server's clock.
    pub status: BoardStatus,
    /// The status in Chinese: `期间进行中`, `已逾期`, `逾期办理`.
    pub status_zh: String,
    /// The roles that may take its actions.
    pub roles: Vec<RoleItem>,
    /// For a pending deadline: the days left after today up to its last day (0: today is
    /// the last day), in working days when its period is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// For an overdue deadline: the days since its last day, today included, in working
    /// days when its period is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_overdue: Option<i64>,
    /// `days` or `working_days`: what `days_left` and `days_overdue` count.
    pub day_unit: String,
    /// Where it stands, in Chinese (`还剩3日`, `已逾期2个工作日`, `逾期办理`).
    pub summary_zh: String,
}

impl DeadlineItem {
    /// The row as shown at `now`, with the procedure's and roles' titles from `rules`.
    pub fn of(row: DeadlineRow, rules: &RuleSet, now: DateTime<Utc>, calendar: &Calendar) -> Self {
        let p = rules.get(&row.procedure, None);
        let d = row.deadline;
        let (days_left, days_overdue) = match row.status {
            BoardStatus::Late => (None, None),
            _ => days(d.last_day, d.working_days, now, calendar),
        };
        let unit_zh = if d.working_days {
            "个工作日"
        } else {
            "日"
        };
        let summary_zh = match (row.status, days_left, days_overdue) {
            (BoardStatus::Late, _, _) => "逾期办理".to_owned(),
            (_, Some(0), _) => "今日为最后一日".to_owned(),
            (_, Some(n), _) => format!("还剩{n}{unit_zh}"),
            (_, _, Some(n)) => format!("已逾期{n}{unit_zh}"),
            _ => row.status.zh().to_owned(),
        };
        DeadlineItem {
            procedure_title: p.map_or_else(|| row.procedure.clone(), |p| p.meta.title.clone()),
            roles: d
                .roles
                .iter()
                .map(|r| RoleItem {
                    id: r.clone(),
                    title: p
                        .and_then(|p| p.role(r))
                        .map_or_else(|| r.clone(), |role| role.title().to_owned()),
                })
                .collect(),
            case: row.case,
            case_title: row.case_title,
            procedure: row.procedure,
            rule: d.rule,
            title: d.title,
            basis: d.basis,
            due: d.due,
            last_day: d.last_day,
            status: row.status,
            status_zh: row.status.zh().to_owned(),
            days_left,
            days_overdue,
            day_unit: if d.working_days {
                "working_days"
            } else {
                "days"
            }
            .to_owned(),
            summary_zh,
        }
    }
}

/// Filters and a cursor for the deadline board.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// Only deadlines due strictly before this time (RFC 3339, or a date: 00:00 China time
    /// of that day).
    #[param(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
    )]
    pub due_before: Option<String>,
    /// Only deadlines due strictly after this time (RFC 3339, or a date: 00:00 China time
    /// of that day).
    #[param(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
    )]
    pub due_after: Option<String>,
    /// `pending` (due after now), `overdue` (due at or before now, not acted on) or `late`
    /// (acted on after due); absent: pending and overdue.
    #[param(value_type = Option<BoardStatus>)]
    pub status: Option<String>,
    /// Only deadlines of cases of this procedure.
    pub procedure: Option<String>,
    /// Only deadlines this role may act on.
    pub role: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^-?[0-9]+~.+~.+$")]
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of the deadline board.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineList {
    /// The deadlines, by due time, then case id, then time rule.
    pub deadlines: Vec<DeadlineItem>,
    /// The server's clock the statuses and days were reckoned at, in China time.
    #[serde(serialize_with = "fazhi_core::time::china::serialize")]
    pub now: DateTime<Utc>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A time given as RFC 3339 or as a date (00:00 China time of that day).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let date: NaiveDate = s.parse().ok()?;
    Some(fazhi_core::time::cst_start_of_day(date))
}

/// Whether `s` starts as the documented pattern does: `YYYY-MM-DD`, digits and dashes.
fn shaped_like_a_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b.iter().take(10).enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The board query for `query` at `now` (without its reader), or the 400 (422 for a date
/// well written that names no day) it is.
pub fn query_of(q: &BoardQuery, now: DateTime<Utc>) -> Result<DeadlineQuery, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::malformed(
            "limit",
            "`limit` 须在 1 到 1000 之间（`limit` must be between 1 and 1000）",
        ));
    }
    let time = |name: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
        v.as_deref()
            .map(|s| {
                parse_time(s).ok_or_else(|| {
                    let text = format!(
                        "`{name}` 须为 RFC 3339 时间（如 2027-01-05T00:00:00+08:00）或日期（如 2027-01-05），收到 `{s}`（`{name}` must be an RFC 3339 time or a date, got `{s}`）"
                    );
                    // Written as a date or time should be but naming none (`2027-02-30`,
                    // `0000-00-00`): understood, not acted on, as other well-formed values
                    // the server cannot use (422); anything else is malformed (400).
                    if shaped_like_a_date(s) {
                        ApiError::invalid(name, text)
                    } else {
                        ApiError::malformed(name, text)
                    }
                })
            })
            .transpose()
    };
    let status = q
        .status
        .as_deref()
        .map(|s| {
            BoardStatus::parse(s).ok_or_else(|| {
                ApiError::malformed(
                    "status",
                    format!(
                        "`status` 须为 pending（期间进行中）、overdue（已逾期）或 late（逾期办理），收到 `{s}`（`status` must be pending, overdue or late）"
                    ),
                )
            })
        })
        .transpose()?;
    let after = q
        .after
        .as_deref()
        .map(|s| {
            DeadlineCursor::parse(s).ok_or_else(|| {
                ApiError::malformed(
                    "after",
                    "`after` 须为上一页返回的 `next_cursor`（`after` must be the `next_cursor` of the previous page）",
                )
            })
        })
        .transpose()?;
    Ok(DeadlineQuery {
        now,
        status,
        due_after: time("due_after", &q.due_after)?,
        due_before: time("due_before", &q.due_before)?,
        procedure: q.procedure.clone(),
        role: q.role.clone(),
        after,
        limit,
        reader: None,
    })
}

/// The running deadlines of every case the caller may read (every case of a procedure one
/// of its roles reads whole, its own of those its roles read their own of), by due time,
/// then case, then time rule; `overdue` and `pending` at the server's clock.
#[utoipa::path(get, path = "/v1/deadlines", tag = "cases", params(BoardQuery),
    responses((status = 200, body = DeadlineList), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`due_after` or `due_before` written as a date or time but naming none (`2027-02-30`)")),
    security(("bearer" = [])))]
pub async fn list_deadlines(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BoardQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let mut q = query_of(&query, now)?;
    q.reader = Some(access::reader(&state, &caller.0));
    let page = state.store.deadlines(q).await?;
    let body = DeadlineList {
        deadlines: page
            .deadlines
            .into_iter()
            .map(|row| DeadlineItem::of(row, &state.rules, now, &state.calendar))
            .collect(),
        now,
        next_cursor: page.next.map(|c| c.encode()),
    };
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default()))
}

/// Reckons the board's deadlines of the cases stored before the board existed (after the
/// store's migration to it) and of those with a deadline counted on a year the calendar
/// did not cover, replaying each with `rules` at the later of its last event and now. A
/// case that does not replay is left as it was (and logged). Answers how many were written.
pub fn fill_unfilled(store: &Arc<SqliteStore>, rules: &RuleSet, calendar: &Calendar) -> usize {
    let ids = match store.deadlines_to_reckon() {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the cases whose deadlines are to be reckoned");
            return 0;
        }
    };
    let mut filled = 0;
    for id in ids {
        let case = store
            .snapshot(&id)
            .and_then(|(_, events)| events)
            .map_err(|e| e.to_string())
            .and_then(|stored| {
                stored
                    .iter()
                    .map(|e| fazhi_core::runtime::Event::from_bytes(&e.bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())
            })
            .and_then(|events| Case::replay(rules, &events).map_err(|e| e.to_string()));
        match case {
            Ok(case) => {
                let rows = board_at(&case, Utc::now().max(case.last_at()), calendar);
                match store.fill_deadlines(&id, case.seq(), &rows) {
                    Ok(true) => filled += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(case = %id, error = %e, "cannot store the case's deadlines")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(case = %id, error = %e, "the case's deadlines cannot be reckoned")
            }
        }
    }
    filled
}
