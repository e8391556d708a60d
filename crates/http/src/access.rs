//! Who reads which case. Each procedure declares, per role, whether the role reads every
//! case of the procedure (`reads = "all"`) or only the cases it takes part in
//! (`reads = "own"`): those its actor opened, was named in by the opening (`participants`
//! of `POST /v1/cases`, recorded in the opening event), or recorded an event in. A caller holding none
//! of a procedure's roles reads none of its cases. The newest loaded version of a procedure
//! decides for every case of it, whatever version the case runs on.
//!
//! A case the caller may not read answers exactly as a case that does not exist (404,
//! `no case …`): the answer does not tell that it exists. Writing is still decided by the
//! actions' roles: a caller that may not read a case yet may take an action on it that its
//! roles allow (a review body taking up a petition the office registered), and takes part
//! from then on. To do so it must know the case's `seq`, which a 409 tells it (only that
//! number: ids are random UUIDs, so a caller that sends one was told of the case); a refusal
//! (403, 422), which would tell the case's state and facts, is that 404. Listings leave such cases out in
//! the store's query, so pages and cursors stay right.

use fazhi_core::model::Reads;
use fazhi_core::runtime::Participants;
use fazhi_store::Reader;

use crate::config::Principal;
use crate::problem::ApiError;
use crate::service::AppState;

/// The cases `caller` may list: every case of the procedures it reads whole, its own of the
/// others whose roles it holds.
pub fn reader(state: &AppState, caller: &Principal) -> Reader {
    let mut reader = Reader {
        actor: caller.id.clone(),
        all: Vec::new(),
        own: Vec::new(),
    };
    for p in state.rules.latest() {
        match p.reads_for(&caller.roles) {
            Some(Reads::All) => reader.all.push(p.meta.id.clone()),
            Some(Reads::Own) => reader.own.push(p.meta.id.clone()),
            None => {}
        }
    }
    reader
}

/// How `caller` reads the cases of procedure `procedure` (by the newest version loaded).
pub fn reads(state: &AppState, caller: &Principal, procedure: &str) -> Option<Reads> {
    state
        .rules
        .get(procedure, None)
        .and_then(|p| p.reads_for(&caller.roles))
}

/// Whether `caller` may read case `id` of `procedure`: `Ok` when it may, else the 404 a
/// missing case gets.
pub async fn check(
    state: &AppState,
    caller: &Principal,
    id: &str,
    procedure: &str,
) -> Result<(), ApiError> {
    if may_read(state, caller, id, procedure).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// Whether `caller` may read case `id` of `procedure`.
pub async fn may_read(
    state: &AppState,
    caller: &Principal,
    id: &str,
    procedure: &str,
) -> Result<bool, ApiError> {
    Ok(match reads(state, caller, procedure) {
        Some(Reads::All) => true,
        Some(Reads::Own) => state.store.takes_part(id, &caller.id).await?,
        None => false,
    })
}

/// Locks case `id` (loading it when needed), as [`AppState::lock_case`]; a case whose chain
/// is broken is told (409 `chain-broken`, with where it breaks) only to a caller that may
/// read it, and is the 404 of a missing case to any other.
pub async fn lock_readable(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> Result<tokio::sync::OwnedMutexGuard<Option<fazhi_core::runtime::Case>>, ApiError> {
    lock_readable_at(state, caller, id, None).await
}

/// [`lock_readable`] for an append expecting the case at `expected` events (see
/// [`AppState::lock_case_at`]).
pub async fn lock_readable_at(
    state: &AppState,
    caller: &Principal,
    id: &str,
    expected: Option<u64>,
) -> Result<tokio::sync::OwnedMutexGuard<Option<fazhi_core::runtime::Case>>, ApiError> {
    match state.lock_case_at(id, expected).await {
        Err(e @ ApiError::ChainBroken { .. }) => {
            check_stored(state, caller, id).await?;
            Err(e)
        }
        other => other,
    }
}

/// Whether `caller` may read case `id`, looking up its procedure in the store: `Ok` when it
/// may, else the 404 a missing case gets.
pub async fn check_stored(state: &AppState, caller: &Principal, id: &str) -> Result<(), ApiError> {
    match state.store.summary(id).await? {
        Some(s) => check(state, caller, id, &s.procedure).await,
        None => Err(not_found(id)),
    }
}

/// The answer to a case that does not exist, or that the caller may not read.
pub fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no case `{id}`"))
}

/// Checks the participants an opening names against the principals the service knows: each
/// must be a principal holding the role it is named under (a name nobody holds would give
/// nobody access, and would be found out only when the person could not read their case).
/// The first that is not is a 422 at `participants.ROLE[i]`. The core has already checked
/// the roles and the form of each name.
pub fn check_named(state: &AppState, participants: &Participants) -> Result<(), ApiError> {
    if participants.is_empty() {
        return Ok(());
    }
    let known = state.principals.all();
    for (role, names) in participants {
        for (i, name) in names.iter().enumerate() {
            let at = format!("participants.{role}[{i}]");
            match known.iter().find(|p| p.id == *name) {
                None => {
                    return Err(ApiError::invalid(
                        at,
                        format!(
                            "没有标识为`{name}`的主体：参与人须为本服务配置的主体（fazhi.toml 的 [[principals]]）；no principal `{name}`: a participant must be a principal of this service (`[[principals]]` in fazhi.toml)"
                        ),
                    ));
                }
                Some(p) if !p.roles.iter().any(|r| r == role) => {
                    return Err(ApiError::invalid(
                        at,
                        format!(
                            "主体`{name}`不担任角色`{role}`（其角色：{}）：请将其列于所担任的角色下；principal `{name}` does not hold role `{role}` (it holds: {}): name it under a role it holds",
                            p.roles.join("、"),
                            p.roles.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}
