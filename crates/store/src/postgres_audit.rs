//! What `fazhi verify` and `fazhi export` read of a PostgreSQL store ([`Inspect`]): the same
//! questions the SQLite store answers, each case's summary row and events read in one
//! `REPEATABLE READ` transaction so that they agree while nodes write.
//!
//! Cases are listed `ORDER BY id COLLATE "C"` (byte order, as SQLite sorts), so that an
//! export from PostgreSQL is the file an export from SQLite with the same cases is.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

use crate::audit::{CaseRecord, Cell, Columns, EVENT_NAMES, EventRecord, Inspect, SUMMARY_NAMES};
use crate::board::BoardDeadline;
use crate::postgres::{from_micros, summary_of};
use crate::sqlite_board::{parse_day, parse_roles};
use crate::{BoxFuture, CaseSummary, PgStore, StoreError, StoredEvent};

/// A column's value as a [`Cell`] (booleans are cast to integers in the queries, as SQLite
/// keeps them).
fn cell(r: &Row, i: usize) -> Result<Cell, StoreError> {
    let Some(column) = r.columns().get(i) else {
        return Ok(Cell::Null);
    };
    let t = column.type_();
    Ok(if *t == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Integer)
    } else if *t == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |v| Cell::Integer(i64::from(v)))
    } else if *t == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Cell::Null, Cell::Blob)
    } else {
        r.try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text)
    })
}

/// A column list with booleans cast to integers.
fn names(list: &[&str], prefix: &str) -> String {
    list.iter()
        .map(|n| match *n {
            "closed" | "imported" => format!("{prefix}{n}::int::int8 AS {n}"),
            _ => format!("{prefix}{n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the reads of `f` in one read-only `REPEATABLE READ` transaction on `c`, ended
/// whatever `f` answers (the connection goes back to the pool outside any transaction).
async fn in_snapshot<T>(
    c: &Client,
    f: impl for<'a> FnOnce(&'a Client) -> BoxFuture<'a, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let out = f(c).await;
    let ended = c.batch_execute("ROLLBACK").await;
    let out = out?;
    ended?;
    Ok(out)
}

async fn events(c: &Client, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = c
        .query(
            "SELECT seq, hash, bytes FROM events WHERE case_id = $1 ORDER BY seq",
            &[&case],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (want, r) in (0u64..).zip(&rows) {
        let seq: i64 = r.try_get(0)?;
        if u64::try_from(seq).ok() != Some(want) {
            return Err(StoreError::Corrupt(format!(
                "the history of `{case}` breaks off at event {want}: it is missing"
            )));
        }
        out.push(StoredEvent {
            seq: want,
            hash: r.try_get(1)?,
            bytes: r.try_get(2)?,
        });
    }
    Ok(out)
}

async fn summary(c: &Client, case: &str) -> Result<Option<CaseSummary>, StoreError> {
    let sql = format!(
        "SELECT {} FROM cases WHERE cases.id = $1",
        crate::postgres::SUMMARY_COLUMNS
    );
    c.query_opt(&sql, &[&case])
        .await?
        .as_ref()
        .map(summary_of)
        .transpose()
}

async fn ids(c: &Client, sql: &str) -> Result<Vec<String>, StoreError> {
    c.query(sql, &[])
        .await?
        .iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}

async fn record(c: &Client, case: &str) -> Result<CaseRecord, StoreError> {
    let sql = format!(
        "SELECT {} FROM cases WHERE id = $1",
        names(&SUMMARY_NAMES, "")
    );
    let summary = match c.query_opt(&sql, &[&case]).await? {
        Some(r) => {
            let mut cells = Vec::with_capacity(SUMMARY_NAMES.len());
            for (i, name) in SUMMARY_NAMES.iter().enumerate() {
                cells.push((*name, cell(&r, i)?));
            }
            Some(Columns(cells))
        }
        None => None,
    };
    let sql = format!(
        "SELECT e.bytes, {} FROM events e WHERE e.case_id = $1 ORDER BY e.seq",
        names(&EVENT_NAMES, "e.")
    );
    let rows = c.query(&sql, &[&case]).await?;
    let mut events = Vec::with_capacity(rows.len());
    // Numbered by their place in the history, not by the `seq` column: that column is one
    // of those checked (a row missing in between breaks the chain's links).
    for (seq, r) in (0u64..).zip(&rows) {
        let mut cells = Vec::with_capacity(EVENT_NAMES.len());
        for (i, name) in EVENT_NAMES.iter().enumerate() {
            cells.push((*name, cell(r, i + 1)?));
        }
        let columns = Columns(cells);
        let hash = match columns.get("hash") {
            Some(Cell::Text(h)) => h.clone(),
            _ => String::new(),
        };
        events.push(EventRecord {
            event: StoredEvent {
                seq,
                hash,
                bytes: r.try_get(0)?,
            },
            columns,
        });
    }
    Ok(CaseRecord {
        summary,
        events: Ok(events),
    })
}

async fn case_deadlines(c: &Client, case: &str) -> Result<Vec<BoardDeadline>, StoreError> {
    let rows = c
        .query(
            "SELECT rule, title, basis, due, to_char(last_day, 'YYYY-MM-DD'), working_days, \
             roles::text, optional, late, provisional FROM deadlines WHERE case_id = $1 \
             ORDER BY rule COLLATE \"C\"",
            &[&case],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let last_day: String = r.try_get(4)?;
            let roles: String = r.try_get(6)?;
            Ok(BoardDeadline {
                rule: r.try_get(0)?,
                title: r.try_get(1)?,
                basis: r.try_get(2)?,
                due: from_micros(r.try_get(3)?)?,
                last_day: parse_day(&last_day)?,
                working_days: r.try_get(5)?,
                roles: parse_roles(&roles)?,
                optional: r.try_get(7)?,
                late: r.try_get(8)?,
                provisional: r.try_get(9)?,
            })
        })
        .collect()
}

impl Inspect for PgStore {
    fn case_ids(&self) -> Result<Vec<String>, StoreError> {
        self.block(
            self.read(|c| Box::pin(ids(c, "SELECT id FROM cases ORDER BY id COLLATE \"C\""))),
        )
    }

    fn orphan_case_ids(&self) -> Result<Vec<String>, StoreError> {
        self.block(self.read(|c| {
            Box::pin(ids(
                c,
                "SELECT DISTINCT e.case_id FROM events e WHERE NOT EXISTS \
                 (SELECT 1 FROM cases WHERE cases.id = e.case_id) ORDER BY 1",
            ))
        }))
    }

    fn event_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.block(self.read(|c| {
            Box::pin(async move {
                let rows = c
                    .query("SELECT case_id, count(*) FROM events GROUP BY case_id", &[])
                    .await?;
                rows.iter()
                    .map(|r| {
                        let n: i64 = r.try_get(1)?;
                        let n = u64::try_from(n)
                            .map_err(|_| StoreError::Corrupt(format!("negative count {n}")))?;
                        Ok((r.try_get(0)?, n))
                    })
                    .collect()
            })
        }))
    }

    fn participants(&self) -> Result<BTreeMap<String, BTreeSet<String>>, StoreError> {
        self.block(self.read(|c| {
            Box::pin(async move {
                let rows = c
                    .query("SELECT case_id, actor FROM participants", &[])
                    .await?;
                let mut out = BTreeMap::<String, BTreeSet<String>>::new();
                for r in &rows {
                    out.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?);
                }
                Ok(out)
            })
        }))
    }

    fn is_participant(&self, case: &str, actor: &str) -> Result<bool, StoreError> {
        self.block(crate::EventStore::takes_part(self, case, actor))
    }

    fn unfilled_deadlines(&self) -> Result<Vec<String>, StoreError> {
        // Every case on PostgreSQL was written with its deadlines (the board came first).
        Ok(Vec::new())
    }

    fn case_deadlines(&self, case: &str) -> Result<Vec<BoardDeadline>, StoreError> {
        let case = case.to_owned();
        self.block(self.read(move |c| Box::pin(async move { case_deadlines(c, &case).await })))
    }

    fn snapshot(
        &self,
        case: &str,
    ) -> Result<(Option<CaseSummary>, Result<Vec<StoredEvent>, StoreError>), StoreError> {
        let case = case.to_owned();
        self.block(self.read(move |c| {
            Box::pin(async move {
                in_snapshot(c, |c| {
                    Box::pin(async move {
                        let s = summary(c, &case).await?;
                        let e = match events(c, &case).await {
                            Err(e @ StoreError::Corrupt(_)) => Err(e),
                            Err(e) => return Err(e),
                            Ok(e) => Ok(e),
                        };
                        Ok((s, e))
                    })
                })
                .await
            })
        }))
    }

    fn record(&self, case: &str) -> Result<CaseRecord, StoreError> {
        let case = case.to_owned();
        self.block(self.read(move |c| {
            Box::pin(async move {
                in_snapshot(c, |c| Box::pin(async move { record(c, &case).await })).await
            })
        }))
    }
}
