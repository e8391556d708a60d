//! The deadline board: every running deadline of every case, kept by the store beside the
//! summary rows so that "what is due, what is overdue" across all cases is one indexed query.
//!
//! The service reckons a case's deadlines when it appends (the store is clock-free and knows
//! no rules); the append carries them ([`Append::deadlines`](crate::Append::deadlines)) and
//! the store replaces the case's rows in the same transaction. Whether a kept deadline is
//! pending or overdue is decided when the board is read, against the `now` the query gives.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Reader;

/// One deadline of a case as the board keeps it: a deadline (`within`) whose period has
/// started and that is still to be met (pending or overdue when the case was last
/// appended to), or one that was met late. Deadlines met in time, waived, lapsed, with their
/// clock stopped, and minimum periods are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardDeadline {
    /// The time rule's id.
    pub rule: String,
    /// Its Chinese title (`陈述申辩期限`).
    pub title: String,
    /// Its basis as the rule file writes it (`《行政处罚法》第四十四条`), when given.
    pub basis: Option<String>,
    /// When it ends (exclusive): an act at or after it is late.
    pub due: DateTime<Utc>,
    /// The last legal day (China time) on which the act is in time.
    pub last_day: NaiveDate,
    /// Whether its period is counted in working days (days left are then working days).
    pub working_days: bool,
    /// The roles that may take its actions (those that must act), by id.
    pub roles: Vec<String>,
    /// Whether it marks a right that may go unused: past due it has lapsed, and is not
    /// overdue (nor on the board).
    pub optional: bool,
    /// Whether it was met late (its action came at or after the due time).
    pub late: bool,
    /// Whether its due time was counted on a year the calendar did not cover (weekends
    /// only): the server reckons such a case again when it starts, so that a calendar
    /// added since moves it.
    pub provisional: bool,
}

/// Where a deadline on the board stands when the board is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BoardStatus {
    /// Still to be met, due after `now`.
    Pending,
    /// Still to be met, due at or before `now` (and not optional: an optional right past
    /// due has lapsed).
    Overdue,
    /// Met late: acted on at or after the due time.
    Late,
}

impl BoardStatus {
    /// Its name on the wire: `pending`, `overdue`, `late`.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardStatus::Pending => "pending",
            BoardStatus::Overdue => "overdue",
            BoardStatus::Late => "late",
        }
    }

    /// Its name in Chinese: `期间进行中`, `已逾期`, `逾期办理`.
    pub fn zh(self) -> &'static str {
        match self {
            BoardStatus::Pending => "期间进行中",
            BoardStatus::Overdue => "已逾期",
            BoardStatus::Late => "逾期办理",
        }
    }

    /// A kept deadline's status at `now`: late when it was met late, else overdue when due
    /// at or before `now`, else pending (times in microseconds, as the stores keep them).
    pub(crate) fn at(late: bool, due: i64, now: i64) -> BoardStatus {
        if late {
            BoardStatus::Late
        } else if due <= now {
            BoardStatus::Overdue
        } else {
            BoardStatus::Pending
        }
    }

    /// The status named `s` (`pending`, `overdue`, `late`).
    pub fn parse(s: &str) -> Option<BoardStatus> {
        match s {
            "pending" => Some(BoardStatus::Pending),
            "overdue" => Some(BoardStatus::Overdue),
            "late" => Some(BoardStatus::Late),
            _ => None,
        }
    }
}

/// Where a page of the board ends: the last row's due time, case and time rule. The board
/// is sorted by these three, so the next page starts strictly after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineCursor {
    /// The last row's due time.
    pub due: DateTime<Utc>,
    /// The last row's case id.
    pub case: String,
    /// The last row's time rule id.
    pub rule: String,
}

impl DeadlineCursor {
    /// The cursor as one opaque string: `{due in microseconds}~{case}~{rule}`.
    pub fn encode(&self) -> String {
        format!(
            "{}~{}~{}",
            self.due.timestamp_micros(),
            self.case,
            self.rule
        )
    }

    /// The cursor [`DeadlineCursor::encode`] wrote, or `None` when `s` is not one.
    pub fn parse(s: &str) -> Option<DeadlineCursor> {
        let (due, rest) = s.split_once('~')?;
        let (case, rule) = rest.rsplit_once('~')?;
        let due = DateTime::from_timestamp_micros(due.parse().ok()?)?;
        (!case.is_empty() && !rule.is_empty()).then(|| DeadlineCursor {
            due,
            case: case.to_owned(),
            rule: rule.to_owned(),
        })
    }
}

/// Which deadlines to read from the board, by due time, then case id, then time rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineQuery {
    /// The time the board is read at: a deadline still to be met is overdue when due at or
    /// before it, pending when due after it (the server's clock; the store has none).
    pub now: DateTime<Utc>,
    /// Only deadlines in this status; `None`: the running ones, pending and overdue.
    pub status: Option<BoardStatus>,
    /// Only deadlines due strictly after this time.
    pub due_after: Option<DateTime<Utc>>,
    /// Only deadlines due strictly before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only deadlines of cases of this procedure.
    pub procedure: Option<String>,
    /// Only deadlines this role may act on (one of [`BoardDeadline::roles`]).
    pub role: Option<String>,
    /// Only deadlines sorting after this one (the cursor of the page before).
    pub after: Option<DeadlineCursor>,
    /// At most this many (at least 1, at most 1000).
    pub limit: u32,
    /// Only the deadlines of cases this reader may read (as [`crate::CaseQuery::reader`]);
    /// `None` reads every case (for tools, never for a caller of the service).
    pub reader: Option<Reader>,
}

impl DeadlineQuery {
    /// The running deadlines (pending and overdue) at `now`, at most `limit`, of every case.
    pub fn running(now: DateTime<Utc>, limit: u32) -> Self {
        DeadlineQuery {
            now,
            status: None,
            due_after: None,
            due_before: None,
            procedure: None,
            role: None,
            after: None,
            limit,
            reader: None,
        }
    }
}

/// One row of the board: a deadline of a case, with where it stands at the query's `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRow {
    /// The case's id.
    pub case: String,
    /// The case's title.
    pub case_title: String,
    /// The case's procedure id.
    pub procedure: String,
    /// The deadline as kept.
    pub deadline: BoardDeadline,
    /// Where it stands at the query's `now`.
    pub status: BoardStatus,
}

/// One page of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePage {
    /// The rows, by due time, case id and time rule.
    pub deadlines: Vec<DeadlineRow>,
    /// The cursor for the next page, when there may be more.
    pub next: Option<DeadlineCursor>,
}

impl DeadlinePage {
    /// The page of the first `want` of `rows` (read one beyond the page, in board order),
    /// with a cursor after its last row when there were more.
    pub(crate) fn of(mut rows: Vec<DeadlineRow>, want: usize) -> DeadlinePage {
        let more = rows.len() > want;
        rows.truncate(want);
        let next = if more {
            rows.last().map(|r| DeadlineCursor {
                due: r.deadline.due,
                case: r.case.clone(),
                rule: r.deadline.rule.clone(),
            })
        } else {
            None
        };
        DeadlinePage {
            deadlines: rows,
            next,
        }
    }
}
