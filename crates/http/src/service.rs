//! The service's state: the rules, the calendar, the principals, the store, and the cases
//! decided so far, kept in memory and loaded lazily by replaying their stored events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use fazhi_core::lang::Lang;
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{
    ActionExample, ActionOption, Actor, Case, CaseView, Deadline, Event, next_due, verify,
};
use fazhi_core::time::Calendar;
use fazhi_store::{CaseSummary, EventStore};
use serde::Serialize;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use utoipa::ToSchema;

use crate::config::{Principal, Principals};
use crate::problem::ApiError;

/// A case slot: `None` until the case has been loaded (or when it does not exist).
pub type Slot = Arc<AsyncMutex<Option<Case>>>;

/// How many cases a server keeps in memory unless told otherwise.
pub const DEFAULT_CASES_IN_MEMORY: usize = 100_000;

/// The cases in memory, each behind its own lock so that appends to one case are decided
/// one after the other while different cases proceed in parallel.
///
/// At most about `capacity` are kept: when a new case would pass it, cases that no request
/// is using are dropped until a tenth of the room is free (the store has every event of
/// each, and the next request for one loads it again). Which idle cases go is arbitrary.
#[derive(Debug)]
pub struct CaseCache {
    map: Mutex<HashMap<String, Slot>>,
    capacity: usize,
    /// The store's count of reopenings when the cases in memory were read.
    epoch: std::sync::atomic::AtomicU64,
}

impl Default for CaseCache {
    fn default() -> Self {
        CaseCache::with_capacity(DEFAULT_CASES_IN_MEMORY)
    }
}

impl CaseCache {
    /// A cache that keeps about `capacity` cases in memory (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        CaseCache {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            epoch: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Drops every case from memory when the store has reopened its file since they were
    /// read (`reopened`, from [`fazhi_store::StoreStatus`]): a case read while a write was in
    /// doubt may not be what the file says, and each is read again when next asked for.
    pub fn renew(&self, reopened: u64) {
        use std::sync::atomic::Ordering;
        if self.epoch.load(Ordering::SeqCst) == reopened {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            self.epoch.store(reopened, Ordering::SeqCst);
            map.clear();
        }
    }

    /// The slot of a case (created empty when absent).
    pub fn slot(&self, id: &str) -> Slot {
        let Ok(mut map) = self.map.lock() else {
            return Arc::default();
        };
        if let Some(slot) = map.get(id) {
            return slot.clone();
        }
        if map.len() >= self.capacity {
            // Keep nine tenths; a slot whose only holder is the map is not in use (a
            // request holds its own handle while it reads or decides on the case).
            let keep = self.capacity - self.capacity / 10;
            let mut excess = (map.len() + 1).saturating_sub(keep);
            let before = map.len();
            map.retain(|_, slot| {
                if excess > 0 && Arc::strong_count(slot) == 1 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
            metrics::counter!("fazhi_cases_evicted_total").increment((before - map.len()) as u64);
        }
        map.entry(id.to_owned()).or_default().clone()
    }

    /// Drops a case from memory (it is loaded again from the store when next asked for).
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    /// How many cases are in memory.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything a request handler needs.
pub struct AppState {
    /// The loaded procedures.
    pub rules: RuleSet,
    /// The working-day calendar.
    pub calendar: Calendar,
    /// Who may call.
    pub principals: Principals,
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// The cases in memory.
    pub cases: CaseCache,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How many scenarios test each procedure (by id), as counted at start.
    pub scenarios: std::collections::BTreeMap<String, usize>,
    /// The migrations between versions of the procedures (`rules/migrations/`), proved at
    /// start.
    pub migrations: Vec<fazhi_core::migrate::Migration>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("procedures", &self.rules.len())
            .field("principals", &self.principals.len())
            .field("cases_in_memory", &self.cases.len())
            .finish_non_exhaustive()
    }
}

/// A case as the API shows it to one caller at one time: the core's view, the deadlines and
/// every action with whether the caller may take it now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseBody {
    /// The case (`id`, `title`, `procedure`, `procedure_version`, `seq`, `state`, `closed`,
    /// `tracks`, `facts`, `documents`, `opened_at`, `last_at`, `head`).
    #[serde(flatten)]
    pub view: CaseView,
    /// Every time rule whose period has started: due time, status and basis.
    pub deadlines: Vec<Deadline>,
    /// Every action: `id`, `allowed` (for the caller, now), `reasons` when not, the
    /// `payload_schema` (JSON Schema) and the `documents` kinds it needs.
    pub actions: Vec<ActionOption>,
    /// For each action the caller may take now, a request body for
    /// `POST /v1/cases/{id}/events` that the case accepts now: example payload values,
    /// placeholder documents (`<kind>.pdf` with the SHA-256 of an empty file), a placeholder
    /// reason when one is needed, and `expected_seq`. A form's first draft: replace the
    /// examples with the real values and documents before sending. An action whose guards
    /// need values no example guesses has none.
    pub examples: Vec<ActionExample>,
}

impl CaseBody {
    /// The case as `actor` sees it at `now`: the view, the deadlines reckoned on `calendar`,
    /// and every action with whether `actor` may take it.
    pub fn new(case: &Case, actor: &Actor, now: DateTime<Utc>, calendar: &Calendar) -> CaseBody {
        let actions = case.available_actions(actor, now, calendar);
        CaseBody {
            view: case.view(),
            deadlines: case.deadlines(now, calendar),
            examples: case.action_examples(&actions, actor, now, calendar),
            actions,
        }
    }

    /// The body with every reason's `message` and every deadline's `description` in `lang`
    /// (they are built in Chinese).
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> CaseBody {
        if lang == Lang::Zh {
            return self;
        }
        self.deadlines = self
            .deadlines
            .into_iter()
            .map(|d| d.in_lang(lang))
            .collect();
        for a in &mut self.actions {
            let reasons = std::mem::take(&mut a.reasons);
            a.reasons = reasons.into_iter().map(|r| r.in_lang(lang)).collect();
        }
        self
    }
}

/// The actor a principal acts as.
pub fn actor(p: &Principal) -> Actor {
    p.actor.clone()
}

impl AppState {
    /// The case as `principal` sees it at `now`, its messages in `lang`.
    pub fn case_body(
        &self,
        case: &Case,
        principal: &Principal,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> CaseBody {
        CaseBody::new(case, &principal.actor, now, &self.calendar).in_lang(lang)
    }

    /// The summary row of a case, from the body just built for it at the same time (its
    /// deadlines are not reckoned twice; they do not depend on who asks).
    pub fn summary(body: &CaseBody) -> CaseSummary {
        summary_of(&body.view, &body.deadlines)
    }

    /// Locks a case, loading it from the store when it is not in memory.
    pub async fn lock_case(&self, id: &str) -> Result<OwnedMutexGuard<Option<Case>>, ApiError> {
        self.lock_case_at(id, None).await
    }

    /// Locks a case for an append expecting it at `expected` events: as [`Self::lock_case`],
    /// but on a shared store a case in memory at `expected` is used without asking the
    /// database for its sequence number. The append's claim in the database (`seq =
    /// expected`, in its transaction) then guards what is written: a case another node moved
    /// on is a conflict that writes nothing. What the caller answers from the case without
    /// writing (a refusal) must be checked with [`Self::confirm`] first.
    pub async fn lock_case_at(
        &self,
        id: &str,
        expected: Option<u64>,
    ) -> Result<OwnedMutexGuard<Option<Case>>, ApiError> {
        self.cases.renew(self.store.status().reopened);
        let slot = self.cases.slot(id);
        let mut guard = slot.lock_owned().await;
        if self.store.shared()
            && let Some(case) = guard.as_ref()
            && expected != Some(case.seq())
        {
            // Other nodes write the same database: the case in memory is used only while
            // the store is at its sequence number (and head); otherwise it is read again.
            let stored = self.store.summary(id).await?;
            if stored.is_none_or(|s| s.seq != case.seq() || s.head != case.head()) {
                metrics::counter!("fazhi_http_cases_reloaded_total").increment(1);
                *guard = None;
            }
        }
        if guard.is_none() {
            match self.load(id).await {
                Ok(Some(case)) => *guard = Some(case),
                Ok(None) => {
                    drop(guard);
                    self.cases.forget(id);
                    return Err(ApiError::NotFound(format!("no case `{id}`")));
                }
                Err(e) => {
                    drop(guard);
                    self.cases.forget(id);
                    return Err(e);
                }
            }
        }
        Ok(guard)
    }

    /// On a shared store, whether the case in memory is still the stored one (its sequence
    /// number and head): `Ok` when it is (or the store is not shared), else the conflict an
    /// append expecting the case at `expected` events meets, the case dropped from memory
    /// so that the next request reads it again (the caller keeps the lock).
    pub async fn confirm(&self, slot: &mut Option<Case>, expected: u64) -> Result<(), ApiError> {
        if !self.store.shared() {
            return Ok(());
        }
        let Some(case) = slot.as_ref() else {
            return Ok(());
        };
        let id = case.id().to_owned();
        let stored = self.store.summary(&id).await?;
        match stored {
            Some(s) if s.seq == case.seq() && s.head == case.head() => Ok(()),
            other => {
                metrics::counter!("fazhi_http_cases_reloaded_total").increment(1);
                *slot = None;
                Err(ApiError::Conflict {
                    expected_seq: expected,
                    current_seq: other.map_or(0, |s| s.seq),
                })
            }
        }
    }

    /// Replays a case from the store, checking its chain first. A chain that does not
    /// verify (or a history the store cannot read whole because a link is gone) is
    /// [`ApiError::ChainBroken`], naming the first broken link.
    async fn load(&self, id: &str) -> Result<Option<Case>, ApiError> {
        // The summary first: its seq and head are committed with the events they follow, so
        // the history read after it holds at least those events. On a shared store (other
        // nodes write) it may hold more, appended in between: the case is taken as the
        // summary has it, and its chain checked against that head (read the other way round,
        // a write in between would look like a broken chain).
        let summary = self.store.summary(id).await?;
        let mut stored = match self.store.events(id).await {
            Ok(stored) => stored,
            Err(fazhi_store::StoreError::Corrupt(detail)) => {
                return Err(
                    match crate::history::find_break(self.store.as_ref(), id).await {
                        Some(broken) => ApiError::ChainBroken {
                            case: id.to_owned(),
                            broken,
                        },
                        None => ApiError::Internal(format!("case `{id}`: {detail}")),
                    },
                );
            }
            Err(e) => return Err(e.into()),
        };
        if stored.is_empty() {
            return Ok(None);
        }
        // The head the case's summary keeps: a change to the last event is found too.
        let head = match summary {
            Some(s) => {
                if self.store.shared()
                    && let Ok(seq) = usize::try_from(s.seq)
                    && seq > 0
                    && stored.len() > seq
                {
                    stored.truncate(seq);
                }
                s.head
            }
            None => stored.last().map(|e| e.hash.clone()).unwrap_or_default(),
        };
        let bytes: Vec<&[u8]> = stored.iter().map(|e| e.bytes.as_slice()).collect();
        verify(&bytes, Some(&head)).map_err(|broken| ApiError::ChainBroken {
            case: id.to_owned(),
            broken,
        })?;
        let events = stored
            .iter()
            .map(|e| Event::from_bytes(&e.bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Internal(format!("case `{id}`: {e}")))?;
        let case = Case::replay(&self.rules, &events)
            .map_err(|e| ApiError::Internal(format!("case `{id}` does not replay: {e}")))?;
        Ok(Some(case))
    }
}

/// The summary row of a case at `now`: what the server stores with each append (it is built
/// from the same view and deadlines, by [`summary_of`]). `fazhi verify` and `fazhi import`
/// recompute summaries with it.
pub fn summary_at(case: &Case, now: DateTime<Utc>, calendar: &Calendar) -> CaseSummary {
    summary_of(&case.view(), &case.deadlines(now, calendar))
}

/// The summary row of a case from its view and its deadlines at one time.
fn summary_of(view: &CaseView, deadlines: &[Deadline]) -> CaseSummary {
    CaseSummary {
        id: view.id.clone(),
        procedure: view.procedure.clone(),
        procedure_version: view.procedure_version,
        title: view.title.clone(),
        state: view.state.clone(),
        tracks: view.tracks.clone(),
        seq: view.seq,
        head: view.head.clone(),
        opened_at: view.opened_at,
        last_at: view.last_at,
        next_due: next_due(deadlines),
        closed: view.closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past its capacity the cache drops idle cases only, down to nine tenths, and keeps
    /// every case a request is holding.
    #[test]
    fn the_cache_drops_idle_cases_only() {
        let cache = CaseCache::with_capacity(10);
        let held = cache.slot("held");
        for i in 0..9 {
            drop(cache.slot(&format!("idle-{i}")));
        }
        assert_eq!(cache.len(), 10);
        let again = cache.slot("held");
        assert!(Arc::ptr_eq(&held, &again));
        drop(cache.slot("new"));
        assert_eq!(cache.len(), 9);
        assert!(Arc::ptr_eq(&held, &cache.slot("held")));
        // When every case is in use, none is dropped: the cache grows instead.
        let busy = CaseCache::with_capacity(2);
        let a = busy.slot("a");
        let b = busy.slot("b");
        let c = busy.slot("c");
        assert_eq!(busy.len(), 3);
        assert!(Arc::ptr_eq(&a, &busy.slot("a")) && Arc::ptr_eq(&b, &busy.slot("b")));
        drop(c);
    }
}
