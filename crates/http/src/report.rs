//! The year in figures (issue 18): `GET /v1/reports/annual?year=` and the cases behind each
//! figure (`GET /v1/cases?report=<figure>&year=<year>[&group=<key>]`).
//!
//! Figures are computed through the [`EventStore`] trait only (list, events), so every
//! backend gives them, and only over the cases the caller may read (the store's listing
//! filter, [`crate::access::reader`]): a caller sees the figures of what it may read, and
//! every figure's list holds exactly the cases it counts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use fazhi_core::model::RuleSet;
use fazhi_core::report::{self, AnnualReport, Tally};
use fazhi_core::runtime::{Case, Event, verify};
use fazhi_store::{CaseQuery, CaseSummary, EventStore, Reader, StoreError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::access;
use crate::api::{Caller, CaseList};
use crate::problem::{ApiError, Problem};
use crate::service::AppState;

/// The first and last year a report is asked for (the floor of an importer's times is
/// 1949-10-01).
pub const YEARS: std::ops::RangeInclusive<i32> = 1949..=9999;

/// How many summaries are read per page of the store's listing.
const PAGE: u32 = 500;

/// Reads every case of the procedures that declare counters (those `reader` may read, or
/// all when `None`), replays it and hands it to `each`. A case whose chain does not verify
/// or that does not replay is not counted: its id is handed to `skipped`.
pub async fn each_case(
    store: &dyn EventStore,
    rules: &RuleSet,
    reader: Option<Reader>,
    mut each: impl FnMut(&CaseSummary, &Case),
    mut skipped: impl FnMut(&str),
) -> Result<(), StoreError> {
    let mut procedures: Vec<String> = rules
        .all()
        .filter(|p| !p.counters().is_empty())
        .map(|p| p.meta.id.clone())
        .collect();
    procedures.sort();
    procedures.dedup();
    for procedure in procedures {
        let mut after = None;
        loop {
            let page = store
                .list(CaseQuery {
                    procedure: Some(procedure.clone()),
                    limit: PAGE,
                    after: after.clone(),
                    reader: reader.clone(),
                    ..CaseQuery::default()
                })
                .await?;
            for summary in &page.cases {
                match load(store, rules, summary).await? {
                    Some(case) => each(summary, &case),
                    None => skipped(&summary.id),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(())
}

/// Replays one listed case, its chain checked against the summary's head; `None` when it
/// does not verify or replay.
async fn load(
    store: &dyn EventStore,
    rules: &RuleSet,
    summary: &CaseSummary,
) -> Result<Option<Case>, StoreError> {
    let stored = match store.events(&summary.id).await {
        Ok(stored) => stored,
        Err(StoreError::Corrupt(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes: Vec<&[u8]> = stored.iter().map(|e| e.bytes.as_slice()).collect();
    if bytes.is_empty() || verify(&bytes, Some(&summary.head)).is_err() {
        return Ok(None);
    }
    let Ok(events) = stored
        .iter()
        .map(|e| Event::from_bytes(&e.bytes))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Ok(None);
    };
    Ok(Case::replay(rules, &events).ok())
}

/// The figures of `year` over the cases `reader` may read (all when `None`).
pub async fn annual(
    store: &dyn EventStore,
    rules: &RuleSet,
    year: i32,
    reader: Option<Reader>,
) -> Result<AnnualReport, StoreError> {
    let mut tally = Tally::new(rules, year);
    let mut unreadable = Vec::new();
    each_case(
        store,
        rules,
        reader,
        |_, case| tally.add(case),
        |id| unreadable.push(id.to_owned()),
    )
    .await?;
    for id in unreadable {
        tally.skip(id);
    }
    Ok(tally.finish())
}

/// The year asked for, in the years a report covers.
fn year_of(year: Option<i32>) -> Result<i32, ApiError> {
    match year {
        Some(y) if YEARS.contains(&y) => Ok(y),
        Some(y) => Err(ApiError::malformed(
            "year",
            format!(
                "年份 {y} 超出范围 (`year` must be between {} and {})",
                YEARS.start(),
                YEARS.end()
            ),
        )),
        None => Err(ApiError::invalid(
            "year",
            "缺少年份 (`report` needs the figure's `year`: `?report=<figure>&year=2026`)",
        )),
    }
}

/// The query of the annual report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnnualQuery {
    /// The year, counted in China time.
    #[param(minimum = 1949, maximum = 9999)]
    pub year: i32,
    /// `json` (default), `md` (a section of the annual report, Chinese headings first) or
    /// `csv`.
    #[param(inline)]
    pub format: Option<AnnualFormat>,
}

/// The forms of the annual report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnnualFormat {
    /// JSON ([`AnnualReport`]).
    Json,
    /// Markdown, like a section of the annual report.
    Md,
    /// CSV, one row per figure and per group.
    Csv,
}

/// The figures of a year: every counter the procedures declare (`[report]`), with its total,
/// its groups and the query listing its cases, over the cases the caller may read.
#[utoipa::path(get, path = "/v1/reports/annual", tag = "reports", params(AnnualQuery),
    responses((status = 200, description = "the figures: JSON by default; `format=md` a section of the annual report in Markdown, `format=csv` one row per figure and group",
            content((AnnualReport = "application/json"), (String = "text/markdown"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_annual(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AnnualQuery>,
) -> Result<HttpResponse, ApiError> {
    let year = year_of(Some(query.year))?;
    let reader = access::reader(&state, &caller.0);
    let r = annual(state.store.as_ref(), &state.rules, year, Some(reader)).await?;
    Ok(match query.format.unwrap_or(AnnualFormat::Json) {
        AnnualFormat::Md => HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .body(report::to_markdown(&r)),
        AnnualFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(report::to_csv(&r)),
        AnnualFormat::Json => HttpResponse::build(StatusCode::OK)
            .content_type("application/json")
            .body(serde_json::to_vec(&r).unwrap_or_default()),
    })
}

/// `GET /v1/cases?report=…&year=…[&group=…]`: a page of the cases behind a figure, by id,
/// of those the caller may read.
pub async fn cases_behind(
    state: &AppState,
    caller: &crate::config::Principal,
    figure: &str,
    year: Option<i32>,
    group: Option<&str>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<CaseList, ApiError> {
    let year = year_of(year)?;
    let known: Vec<String> = state
        .rules
        .all()
        .flat_map(|p| {
            p.counters()
                .iter()
                .map(|c| report::figure_id(&p.meta.id, &c.meta.id))
                .collect::<Vec<_>>()
        })
        .collect();
    if !known.iter().any(|k| k == figure) {
        let mut list = known.clone();
        list.sort();
        list.dedup();
        return Err(ApiError::invalid(
            "report",
            format!(
                "没有报表指标 `{figure}` (no figure `{figure}`: one of {})",
                list.join(", ")
            ),
        ));
    }
    let (procedure, _) = figure.split_once('.').unwrap_or((figure, ""));
    let reader = access::reader(state, caller);
    let mut found: Vec<CaseSummary> = Vec::new();
    let mut after = cursor.map(str::to_owned);
    'pages: loop {
        let page = state
            .store
            .list(CaseQuery {
                procedure: Some(procedure.to_owned()),
                limit: PAGE,
                after: after.clone(),
                reader: Some(reader.clone()),
                ..CaseQuery::default()
            })
            .await?;
        for summary in page.cases {
            let Some(case) = load(state.store.as_ref(), &state.rules, &summary).await? else {
                continue;
            };
            if report::is_behind(&case, figure, year, group) {
                found.push(summary);
                if found.len() > limit as usize {
                    break 'pages;
                }
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|s| s.id.clone())
    } else {
        None
    };
    Ok(CaseList {
        cases: found,
        next_cursor,
    })
}
