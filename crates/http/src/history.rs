//! A case's history as the API serves it: `/events` and the dossier, each a page of events
//! (cursor: the seq of the last event seen), and the hash-chain checks behind them, read page
//! by page from the store so that a long case is served in bounded memory.
//!
//! A broken chain is said, not answered with a 500: the dossier's `chain` names the first
//! event that does not fit and what is wrong; each page of `/events` says whether the links
//! its events take part in hold; the case itself and appends to it answer the problem
//! `chain-broken` ([`ApiError::ChainBroken`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use fazhi_core::runtime::{BreakKind, BrokenLink, ChainWalk, Event, EventBody};
use fazhi_store::{CaseSummary, EventStore, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::{AcceptLang, Caller, DocumentIn, EventOut, ProcedureSource};
use crate::problem::{ApiError, Problem};
use crate::service::{AppState, CaseBody};

/// The most events a page holds, and how many unless `limit` says otherwise.
pub const MAX_PAGE: u32 = 1000;

/// How many events a streamed dossier reads and writes at a time.
const STREAM_PAGE: u32 = 256;

/// How many events the whole-chain check reads at a time (a few MB of stored bytes).
const CHECK_PAGE: u32 = 4096;

/// Which events of a case to show: those after `after`, at most `limit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Only events whose seq is greater than this (the `next_after` of the previous page);
    /// from the first event when absent.
    #[param(minimum = 0, maximum = 18446744073709551614_u64)]
    pub after: Option<u64>,
    /// At most this many events (1 to 1000, default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Which events of a case the dossier holds: a page (`after`, `limit`), or every event,
/// streamed (`all=true`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DossierQuery {
    /// Only events whose seq is greater than this (the `next_after` of the previous page);
    /// from the first event when absent.
    #[param(minimum = 0, maximum = 18446744073709551614_u64)]
    pub after: Option<u64>,
    /// At most this many events (1 to 1000, default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `true`: the whole dossier, every event, streamed in pages of the store's (memory stays
    /// bounded however long the case); neither `after` nor `limit` may be given with it.
    pub all: Option<bool>,
}

impl PageQuery {
    /// The first seq and the size of the page asked for.
    fn range(&self) -> Result<(u64, u32), ApiError> {
        let limit = self.limit.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::malformed(
                "limit",
                format!("`limit`须在1至{MAX_PAGE}之间 (`limit` must be between 1 and {MAX_PAGE})"),
            ));
        }
        let from = match self.after {
            None => 0,
            Some(a) => a.checked_add(1).ok_or_else(|| {
                ApiError::malformed("after", "`after`过大 (`after` is too large)")
            })?,
        };
        Ok((from, limit))
    }
}

/// Whether links of a case's hash chain hold, and where the first broken one is.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkCheck {
    /// Whether every link checked holds.
    pub ok: bool,
    /// The first broken link, when one is: the event's `seq`, the `kind` of break
    /// (`undecodable`, `misnumbered`, `other_case`, `bytes_changed`, `prev_mismatch`,
    /// `head_mismatch`, `missing`) and what is wrong (`problem`, `problem_zh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenLink>,
}

/// One page of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// The events of the page, in order, each with its hash. An event whose stored bytes are
    /// not an event cannot be shown and is left out (`chain.broken` names it).
    pub events: Vec<EventOut>,
    /// How many events the case has.
    pub total: u64,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
    /// The next page's path and query; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The links this page's events take part in: each event reads as an event of this case
    /// with its own seq, names the hash of the event before it (the one before the page
    /// too), is named by the events after it, and on the last page the last event hashes to
    /// the case's head. Walking every page checks every link once; the dossier's `chain`
    /// checks the whole chain at once.
    pub chain: LinkCheck,
}

/// The result of checking a case's whole hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainCheck {
    /// Whether every link holds.
    pub ok: bool,
    /// How many events the case has.
    pub events: u64,
    /// The hash of the last event, as the case's summary keeps it.
    pub head: String,
    /// The first broken link, when one is (see [`LinkCheck::broken`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenLink>,
}

/// A document on file in a case, with the event that brought it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierDocument {
    /// The event's seq.
    pub seq: u64,
    /// The action that attached it.
    pub action: String,
    /// The document.
    pub document: DocumentIn,
}

/// The archive of one case (档案), its events one page at a time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dossier {
    /// The case now; `null` when its chain is broken (it is not served as a case then).
    pub case: Option<CaseBody>,
    /// The procedure version it ran on: names, titles, and the rule file's text with its
    /// SHA-256.
    pub procedure: Option<ProcedureSource>,
    /// The page's events, with their hashes.
    pub events: Vec<EventOut>,
    /// How many events the case has.
    pub total: u64,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
    /// The next page's path and query; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The document references of the page's events, in order.
    pub documents: Vec<DossierDocument>,
    /// The check of the whole chain (every page's dossier checks every event).
    pub chain: ChainCheck,
}

/// A broken link for an event the store does not have on the case's chain.
fn missing(seq: u64) -> BrokenLink {
    BrokenLink {
        seq,
        kind: BreakKind::Missing,
        problem: format!("the store has no event {seq} on the case's chain"),
        problem_zh: format!("存储中本案链上缺少第{seq}号事件"),
    }
}

/// Pushes stored events to a walk, checking the store's numbering too (a gap is a missing
/// event). Answers the first broken link.
fn walk_rows(walk: &mut ChainWalk, rows: &[StoredEvent]) -> Result<(), BrokenLink> {
    for row in rows {
        if row.seq != walk.next_seq() {
            return Err(missing(walk.next_seq()));
        }
        walk.push(&row.bytes)?;
    }
    Ok(())
}

/// Checks a case's whole chain against its summary (the count and the head), reading
/// [`CHECK_PAGE`] events at a time.
pub async fn check_chain(
    store: &dyn EventStore,
    id: &str,
    summary: &CaseSummary,
) -> Result<ChainCheck, ApiError> {
    let mut walk = ChainWalk::new();
    let mut broken = None;
    loop {
        let from = walk.next_seq();
        let rows = store.events_page(id, from, CHECK_PAGE).await?;
        let done = rows.len() < CHECK_PAGE as usize;
        if let Err(b) = walk_rows(&mut walk, &rows) {
            broken = Some(b);
            break;
        }
        if done {
            break;
        }
    }
    if broken.is_none() {
        let taken = walk.next_seq();
        broken = if taken < summary.seq {
            Some(missing(taken))
        } else {
            walk.finish(Some(&summary.head)).err()
        };
    }
    Ok(ChainCheck {
        ok: broken.is_none(),
        events: summary.seq,
        head: summary.head.clone(),
        broken,
    })
}

/// The broken link of a case whose full read failed (a link missing in the store): found by
/// the paged check. `None` when that finds the chain whole.
pub async fn find_break(store: &dyn EventStore, id: &str) -> Option<BrokenLink> {
    let summary = store.summary(id).await.ok()??;
    check_chain(store, id, &summary).await.ok()?.broken
}

/// A page of events read and checked: the events shown, the link check, and the cursor.
struct Page {
    events: Vec<EventOut>,
    chain: LinkCheck,
    next_after: Option<u64>,
}

/// Reads events `from` to `from + limit - 1` of a case that has `summary.seq` events, with
/// the event before them and two after them, so that every link the page's events take
/// part in is checked (and which side of a broken one changed is told).
async fn read_page(
    store: &dyn EventStore,
    id: &str,
    summary: &CaseSummary,
    from: u64,
    limit: u32,
) -> Result<Page, ApiError> {
    let start = from.saturating_sub(1);
    let ahead = limit.saturating_add(3);
    let rows = if from >= summary.seq {
        Vec::new()
    } else {
        store.events_page(id, start, ahead).await?
    };
    let end = from.saturating_add(u64::from(limit)).min(summary.seq);
    let mut walk = if from == 0 {
        ChainWalk::new()
    } else {
        ChainWalk::resume_at(start)
    };
    let mut broken = walk_rows(&mut walk, &rows).err();
    let last_page = end >= summary.seq;
    if broken.is_none() && from < summary.seq {
        let taken = walk.next_seq();
        if last_page && taken < summary.seq {
            broken = Some(missing(taken));
        } else if last_page {
            broken = walk.finish(Some(&summary.head)).err();
        } else if taken < end {
            broken = Some(missing(taken));
        } else {
            // A mismatch at the last event read is told by the next page, which reads on.
            broken = walk.finish(None).err().filter(|b| b.seq < end);
        }
    }
    let events = rows
        .iter()
        .filter(|r| r.seq >= from && r.seq < end)
        .filter_map(|r| {
            Event::from_bytes(&r.bytes).ok().map(|event| EventOut {
                event,
                hash: r.hash.clone(),
            })
        })
        .collect();
    Ok(Page {
        events,
        chain: LinkCheck {
            ok: broken.is_none(),
            broken,
        },
        next_after: (!last_page).then(|| end - 1),
    })
}

/// The summary of a case, or 404.
async fn summary_of(state: &AppState, id: &str) -> Result<CaseSummary, ApiError> {
    state
        .store
        .summary(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no case `{id}`")))
}

/// A page of a case's history, with hashes and the check of the links it holds.
#[utoipa::path(get, path = "/v1/cases/{id}/events", tag = "cases",
    params(("id" = String, Path, description = "the case's id"), PageQuery),
    responses((status = 200, body = History),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_events(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (from, limit) = query.range()?;
    let summary = summary_of(&state, &id).await?;
    // A case the caller may not read is 404, as a missing one.
    crate::access::check(&state, &caller.0, &id, &summary.procedure).await?;
    let page = read_page(state.store.as_ref(), &id, &summary, from, limit).await?;
    if !page.chain.ok {
        // A case in memory was read before its history was changed: read it again (and
        // find the break) before it takes another action.
        state.cases.forget(&id);
    }
    let next = page
        .next_after
        .map(|a| format!("/v1/cases/{id}/events?after={a}&limit={limit}"));
    Ok(json(&History {
        events: page.events,
        total: summary.seq,
        next_after: page.next_after,
        next,
        chain: page.chain,
    }))
}

/// One event of a case, with its hash: where the `Location` of a new event points. A case
/// the caller may not read is 404, as a missing one; an event whose links do not verify is
/// 409 `chain-broken`.
#[utoipa::path(get, path = "/v1/cases/{id}/events/{seq}", tag = "cases",
    params(("id" = String, Path, description = "the case's id"),
        ("seq" = u64, Path, minimum = 0, description = "the event's seq (0 is the opening)")),
    responses((status = 200, body = EventOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`chain-broken`: the event's links do not verify")),
    security(("bearer" = [])))]
pub async fn get_event(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, u64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, seq) = path.into_inner();
    let summary = summary_of(&state, &id).await?;
    crate::access::check(&state, &caller.0, &id, &summary.procedure).await?;
    if seq >= summary.seq {
        return Err(ApiError::NotFound(format!(
            "case `{id}` has no event {seq}"
        )));
    }
    let page = read_page(state.store.as_ref(), &id, &summary, seq, 1).await?;
    if let Some(broken) = page.chain.broken {
        state.cases.forget(&id);
        return Err(ApiError::ChainBroken { case: id, broken });
    }
    let event = page
        .events
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("case `{id}` has no event {seq}")))?;
    Ok(json(&event))
}

/// A case's archive: the case, a page of its events with their document references, the
/// procedure version's basis, and the check of the whole chain. A broken chain is shown
/// here (`chain.ok = false`, `chain.broken`), with `case` null.
#[utoipa::path(get, path = "/v1/cases/{id}/dossier", tag = "cases",
    params(("id" = String, Path, description = "the case's id"), DossierQuery),
    responses((status = 200, body = Dossier),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`all=true` with `after` or `limit`")),
    security(("bearer" = [])))]
pub async fn get_dossier(
    caller: Caller,
    AcceptLang(lang): AcceptLang,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DossierQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let query = query.into_inner();
    let all = query.all == Some(true);
    if all && (query.after.is_some() || query.limit.is_some()) {
        return Err(ApiError::invalid(
            "all",
            "`all=true`不能与`after`或`limit`同用 (`all=true` takes neither `after` nor `limit`)",
        ));
    }
    let (from, limit) = PageQuery {
        after: query.after,
        limit: query.limit,
    }
    .range()?;
    let summary = summary_of(&state, &id).await?;
    // A case the caller may not read is 404, as a missing one.
    crate::access::check(&state, &caller.0, &id, &summary.procedure).await?;
    let chain = check_chain(state.store.as_ref(), &id, &summary).await?;
    let page = if all {
        Page {
            events: Vec::new(),
            chain: LinkCheck {
                ok: true,
                broken: None,
            },
            next_after: None,
        }
    } else {
        read_page(state.store.as_ref(), &id, &summary, from, limit).await?
    };
    let (case, procedure) = if chain.ok {
        let guard = state.lock_case(&id).await?;
        let Some(case) = guard.as_ref() else {
            return Err(ApiError::NotFound(format!("no case `{id}`")));
        };
        let body = state.case_body(case, &caller.0, Utc::now().max(case.last_at()), lang);
        (Some(body), Some(ProcedureSource::of(case.procedure())))
    } else {
        state.cases.forget(&id);
        let procedure = state
            .rules
            .get(&summary.procedure, Some(summary.procedure_version))
            .map(|p| ProcedureSource::of(p));
        (None, procedure)
    };
    if all {
        return Ok(stream_dossier(
            state.store.clone(),
            id,
            summary.seq,
            DossierHead {
                case,
                procedure,
                total: summary.seq,
                chain,
            },
        ));
    }
    let documents = page.events.iter().flat_map(documents_of).collect();
    let next = page
        .next_after
        .map(|a| format!("/v1/cases/{id}/dossier?after={a}&limit={limit}"));
    Ok(json(&Dossier {
        case,
        procedure,
        events: page.events,
        total: summary.seq,
        next_after: page.next_after,
        next,
        documents,
        chain,
    }))
}

/// What a streamed dossier says before its events.
#[derive(Serialize)]
struct DossierHead {
    case: Option<CaseBody>,
    procedure: Option<ProcedureSource>,
    total: u64,
    chain: ChainCheck,
}

/// The whole dossier as a chunked body, in the shape of [`Dossier`] (without `next`): the
/// head, then the events read from the store a page at a time, then the documents they
/// brought. Memory holds one page and the document references, however long the case. A
/// store error in the middle ends the body early (the JSON is then incomplete, which a client
/// sees as a parse error, never as a shorter dossier).
fn stream_dossier(
    store: std::sync::Arc<dyn EventStore>,
    id: String,
    total: u64,
    head: DossierHead,
) -> HttpResponse {
    use actix_web::web::Bytes;
    let mut first = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // `{...}` → `{...,"events":[`
    first.pop();
    first.extend_from_slice(if first.len() > 1 {
        b",\"events\":["
    } else {
        b"\"events\":["
    });
    struct Walk {
        store: std::sync::Arc<dyn EventStore>,
        id: String,
        next: u64,
        total: u64,
        documents: Vec<DossierDocument>,
        head: Option<Vec<u8>>,
        done: bool,
        /// How many events the body holds so far.
        written: u64,
    }
    let walk = Walk {
        store,
        id,
        next: 0,
        total,
        documents: Vec::new(),
        head: Some(first),
        done: false,
        written: 0,
    };
    let body = futures_util::stream::unfold(walk, |mut w| async move {
        if let Some(head) = w.head.take() {
            return Some((Ok::<_, ApiError>(Bytes::from(head)), w));
        }
        if w.done {
            return None;
        }
        if w.next >= w.total {
            w.done = true;
            let mut tail = b"],\"documents\":".to_vec();
            tail.extend(serde_json::to_vec(&w.documents).unwrap_or_else(|_| b"[]".to_vec()));
            tail.push(b'}');
            return Some((Ok(Bytes::from(tail)), w));
        }
        let rows = match w.store.events_page(&w.id, w.next, STREAM_PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                w.done = true;
                return Some((Err(ApiError::from(e)), w));
            }
        };
        let mut chunk = Vec::new();
        // The next seq to read: past every row of this page, decodable or not.
        let mut past = w.next;
        for r in rows.iter().filter(|r| r.seq >= w.next && r.seq < w.total) {
            past = past.max(r.seq + 1);
            let Ok(event) = Event::from_bytes(&r.bytes) else {
                continue;
            };
            let out = EventOut {
                event,
                hash: r.hash.clone(),
            };
            w.documents.extend(documents_of(&out));
            // An undecodable event (a broken chain, which `chain` reports) is left out; the
            // commas follow what was written.
            if w.written > 0 {
                chunk.push(b',');
            }
            w.written += 1;
            chunk.extend(serde_json::to_vec(&out).unwrap_or_default());
        }
        if past == w.next {
            // The store gave nothing where events should be: end the body early rather than
            // loop (the chain check before said it was whole; the case changed under us).
            w.done = true;
            return Some((
                Err(ApiError::Internal(format!(
                    "case `{}`: no event {} in the store",
                    w.id, w.next
                ))),
                w,
            ));
        }
        w.next = past;
        Some((Ok(Bytes::from(chunk)), w))
    });
    HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .streaming(body)
}

/// The document references an event brought.
fn documents_of(e: &EventOut) -> Vec<DossierDocument> {
    let seq = e.event.seq;
    match &e.event.body {
        EventBody::Action {
            action, documents, ..
        } => documents
            .iter()
            .map(|d| DossierDocument {
                seq,
                action: action.clone(),
                document: DocumentIn {
                    kind: d.kind.clone(),
                    name: d.name.clone(),
                    sha256: d.sha256.clone(),
                    uri: d.uri.clone(),
                },
            })
            .collect(),
        EventBody::Opened { .. } | EventBody::Migrated { .. } => Vec::new(),
    }
}

/// A 200 with a JSON body.
fn json<T: Serialize>(body: &T) -> HttpResponse {
    HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}
