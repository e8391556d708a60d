//! Moving running cases onto a newer version of their procedure (issue 17): the plan for
//! every running case of a procedure and its application (`fazhi migrate plan|apply`), and
//! `POST /v1/cases/{id}/migrate` for an operator (`admin = true`).
//!
//! Everything here reads and writes through the [`EventStore`] trait, so that it works on
//! every store: a case is read from its events, moved by the core's
//! [`Migration::plan`], and its migration event appended with optimistic concurrency
//! (`expected_seq`): a case that moved meanwhile is reported, not overwritten.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use fazhi_core::migrate::{CannotMove, Migration, Planned};
use fazhi_core::model::{Procedure, RuleSet};
use fazhi_core::runtime::{Actor, Case, Event, Recorded, verify};
use fazhi_core::time::Calendar;
use fazhi_store::{Append, AppendOutcome, CaseQuery, EventStore, NewEvent, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{Caller, append_response, created, etag, lang_of_request, read_json, state_of};
use crate::problem::{ApiError, FieldError};
use fazhi_core::lang::Lang;

/// Why the cases of a procedure cannot be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// No such procedure version is loaded.
    #[error(
        "未加载程序`{procedure}`的第{version}版（procedure `{procedure}` version {version} is not loaded: check `--rules`）"
    )]
    UnknownVersion {
        /// The procedure's id.
        procedure: String,
        /// The version asked for.
        version: u32,
    },
    /// The store failed.
    #[error("数据库出错（the store failed）：{0}")]
    Store(#[from] StoreError),
}

/// What became, or would become, of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It would move to this state (plan).
    Moves {
        /// The state's id in the new version.
        to_state: String,
        /// Its title.
        to_title: String,
    },
    /// It moved (apply): the migration event is appended.
    Moved {
        /// The state's id in the new version.
        to_state: String,
        /// Its title.
        to_title: String,
        /// The migration event's seq.
        seq: u64,
    },
    /// It cannot move.
    CannotMove {
        /// Why, in Chinese.
        zh: String,
        /// Why, in English.
        en: String,
    },
    /// It changed between reading and appending: nothing was written.
    Changed {
        /// How many events it has now.
        current_seq: u64,
    },
}

/// One running case and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// The case's id.
    pub case: String,
    /// Its title.
    pub title: String,
    /// The version it ran on.
    pub from_version: u32,
    /// Its state's id.
    pub state: String,
    /// Its state's title.
    pub state_title: String,
    /// What becomes of it.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Line {
    /// The line for people: Chinese first, English beside, titles rather than ids.
    pub fn text(&self) -> String {
        let head = format!(
            "案件 {}「{}」（第{}版，“{}”）",
            self.case, self.title, self.from_version, self.state_title
        );
        match &self.outcome {
            Outcome::Moves { to_state, to_title } => {
                format!("{head}：将迁至“{to_title}”（moves to `{to_state}`）")
            }
            Outcome::Moved {
                to_state,
                to_title,
                seq,
            } => {
                format!(
                    "{head}：已迁至“{to_title}”，迁移事件为第{seq}号（moved to `{to_state}`, event {seq}）"
                )
            }
            Outcome::CannotMove { zh, en } => {
                format!("{head}：不能迁移：{zh}（cannot move: {en}）")
            }
            Outcome::Changed { current_seq } => format!(
                "{head}：读取后案件已有变动（现有{current_seq}个事件），未迁移，请重新执行（the case changed meanwhile: it has {current_seq} events now; not migrated, run again）"
            ),
        }
    }
}

fn cannot(e: CannotMove) -> Outcome {
    Outcome::CannotMove { zh: e.zh, en: e.en }
}

/// The migration of `case` onto version `to` of its procedure at `at` by `actor`: the plan,
/// and the new version; or why it cannot move (no migration file joins the two versions, the
/// version is not loaded, or the migration refuses the case).
pub fn plan_case<'r>(
    rules: &'r RuleSet,
    migrations: &[Migration],
    calendar: &Calendar,
    case: &Case,
    to: u32,
    actor: Actor,
    at: DateTime<Utc>,
) -> Result<(Planned, &'r Arc<Procedure>), CannotMove> {
    let p = case.procedure();
    let id = p.meta.id.as_str();
    if p.version == to {
        return Err(CannotMove {
            zh: format!("本案已适用第{to}版"),
            en: format!("the case already runs on version {to}"),
        });
    }
    let Some(new) = rules.get(id, Some(to)) else {
        return Err(CannotMove {
            zh: format!("未加载程序“{}”的第{to}版", p.meta.title),
            en: format!("version {to} of `{id}` is not loaded"),
        });
    };
    let Some(m) = Migration::find(migrations, id, p.version, to) else {
        return Err(CannotMove {
            zh: format!(
                "没有自第{}版迁至第{to}版的迁移文件（rules/migrations/{id}-v{}-v{to}.toml）",
                p.version, p.version
            ),
            en: format!(
                "no migration file moves `{id}` from version {} to {to} (rules/migrations/{id}-v{}-v{to}.toml)",
                p.version, p.version
            ),
        });
    };
    Ok((m.plan(case, new, actor, at, calendar)?, new))
}

/// The append of a recorded migration event: the event with the new version, the case's
/// summary and deadline board after it, at `expected_seq`.
pub fn append_of(
    moved: &Case,
    recorded: &Recorded,
    expected_seq: u64,
    now: DateTime<Utc>,
    calendar: &Calendar,
) -> Append {
    let now = now.max(moved.last_at());
    Append {
        case: moved.id().to_owned(),
        expected_seq,
        events: vec![NewEvent::from_recorded(recorded, moved.procedure().version)],
        summary: crate::service::summary_at(moved, now, calendar),
        deadlines: crate::deadlines::board_at(moved, now, calendar),
        idempotency: None,
    }
}

/// Reads a case from its events (checking its chain against its head); `Err` says why not.
async fn read_case(
    store: &dyn EventStore,
    rules: &RuleSet,
    id: &str,
    head: &str,
) -> Result<Result<Case, CannotMove>, StoreError> {
    let stored = store.events(id).await?;
    let bytes: Vec<&[u8]> = stored.iter().map(|e| e.bytes.as_slice()).collect();
    if let Err(link) = verify(&bytes, Some(head)) {
        return Ok(Err(CannotMove {
            zh: format!("本案的哈希链不完整：{}", link.problem_zh),
            en: format!("the case's hash chain does not verify: {}", link.problem),
        }));
    }
    let events: Result<Vec<Event>, _> = bytes.iter().map(|b| Event::from_bytes(b)).collect();
    let replayed = events
        .map_err(|e| e.to_string())
        .and_then(|events| Case::replay(rules, &events).map_err(|e| e.to_string()));
    Ok(replayed.map_err(|e| CannotMove {
        zh: format!("无法按已加载的规则重建本案：{e}"),
        en: format!("the case does not replay with the loaded rules: {e}"),
    }))
}

/// For every running (not closed) case of `procedure` not on version `to`, what the migration
/// to `to` does with it at `at`; with `apply`, the migration events are appended (each at the
/// seq the case was read at: a case that changed meanwhile is reported as [`Outcome::Changed`]).
#[expect(clippy::too_many_arguments, reason = "the command's arguments, once")]
pub async fn run(
    store: &dyn EventStore,
    rules: &RuleSet,
    migrations: &[Migration],
    calendar: &Calendar,
    procedure: &str,
    to: u32,
    actor: Actor,
    at: DateTime<Utc>,
    apply: bool,
) -> Result<Vec<Line>, MigrateError> {
    if rules.get(procedure, Some(to)).is_none() {
        return Err(MigrateError::UnknownVersion {
            procedure: procedure.to_owned(),
            version: to,
        });
    }
    let mut lines = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(CaseQuery {
                procedure: Some(procedure.to_owned()),
                limit: 500,
                after: after.take(),
                ..CaseQuery::default()
            })
            .await?;
        for summary in &page.cases {
            if summary.closed || summary.procedure_version == to {
                continue;
            }
            let old = rules.get(procedure, Some(summary.procedure_version));
            let state_title = old
                .and_then(|p| {
                    p.states()
                        .find(|s| s.id() == summary.state)
                        .map(|s| s.title().to_owned())
                })
                .unwrap_or_else(|| summary.state.clone());
            let mut line = Line {
                case: summary.id.clone(),
                title: summary.title.clone(),
                from_version: summary.procedure_version,
                state: summary.state.clone(),
                state_title,
                outcome: Outcome::Changed {
                    current_seq: summary.seq,
                },
            };
            let case = match read_case(store, rules, &summary.id, &summary.head).await? {
                Ok(c) => c,
                Err(e) => {
                    line.outcome = cannot(e);
                    lines.push(line);
                    continue;
                }
            };
            let at = at.max(case.last_at());
            line.outcome =
                match plan_case(rules, migrations, calendar, &case, to, actor.clone(), at) {
                    Err(e) => cannot(e),
                    Ok((planned, _)) if !apply => Outcome::Moves {
                        to_state: planned.case.state().to_owned(),
                        to_title: planned.to_title,
                    },
                    Ok((planned, new)) => {
                        let mut moved = case.clone();
                        let to_title = planned.to_title.clone();
                        match moved.record_migration(new, planned.event) {
                            Err(e) => Outcome::CannotMove {
                                zh: format!("迁移事件无法记录：{e}"),
                                en: format!("the migration event cannot be recorded: {e}"),
                            },
                            Ok(recorded) => {
                                let seq = recorded.event.seq;
                                let append =
                                    append_of(&moved, &recorded, case.seq(), Utc::now(), calendar);
                                match store.append(append).await? {
                                    AppendOutcome::Appended => Outcome::Moved {
                                        to_state: moved.state().to_owned(),
                                        to_title,
                                        seq,
                                    },
                                    AppendOutcome::Conflict { current_seq } => {
                                        Outcome::Changed { current_seq }
                                    }
                                    AppendOutcome::Replay(_) => Outcome::Changed {
                                        current_seq: case.seq(),
                                    },
                                }
                            }
                        }
                    }
                };
            lines.push(line);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(lines)
}

/// The body of `POST /v1/cases/{id}/migrate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// The version of the case's procedure to move the case to.
    pub to: u32,
    /// The case's `seq` as last read (its `ETag`): a case that moved since is a 409.
    pub expected_seq: u64,
}

/// Moves a case onto a newer version of its procedure, by the migration file that joins the
/// two versions (`rules/migrations/`): appends the migration event (201, as an append of an
/// action). Only an operator (a principal with `admin = true`) may (403 for others); a stale
/// `expected_seq` is a 409; a case the migration does not move (no migration file, a state it
/// excludes, an invariant of the new version the case does not meet) is a 422 saying why.
#[utoipa::path(post, path = "/v1/cases/{id}/migrate", tag = "cases", request_body = MigrateRequest,
    params(("id" = String, Path, description = "the case's id"),
        ("Accept-Language" = Option<String>, Header, description = "`en` for an English problem")),
    responses((status = 201, body = crate::api::AppendResponse, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn migrate_case(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = state_of(&req)?;
    let lang = lang_of_request(&req);
    let Caller(caller) = caller;
    let id = path.into_inner();
    if !caller.admin {
        return Err(ApiError::Forbidden {
            detail: match lang {
                Lang::Zh => format!(
                    "`{}`不是运行管理员（admin）：只有运行管理员可以迁移案件",
                    caller.id
                ),
                Lang::En => format!(
                    "`{}` is not an operator (`admin = true`): only an operator may migrate cases",
                    caller.id
                ),
            },
            reasons: Vec::new(),
            lang,
        });
    }
    let (body, _): (MigrateRequest, _) = read_json(&req, payload, &state).await?;
    let mut guard = state.lock_case(&id).await?;
    let Some(case) = guard.as_mut() else {
        return Err(ApiError::NotFound(format!("no case `{id}`")));
    };
    if body.expected_seq != case.seq() {
        return Err(ApiError::Conflict {
            expected_seq: body.expected_seq,
            current_seq: case.seq(),
        });
    }
    let now = Utc::now().max(case.last_at());
    let (planned, new) = plan_case(
        &state.rules,
        &state.migrations,
        &state.calendar,
        case,
        body.to,
        caller.actor.clone(),
        now,
    )
    .map_err(|e| {
        let detail = match lang {
            Lang::Zh => format!("不能迁移：{}（cannot move: {}）", e.zh, e.en),
            Lang::En => format!("cannot move: {} ({})", e.en, e.zh),
        };
        ApiError::Invalid {
            detail: detail.clone(),
            errors: vec![FieldError {
                at: "to".into(),
                message: detail,
            }],
        }
    })?;
    let mut next = case.clone();
    let recorded = next
        .record_migration(new, planned.event)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let case_body = state.case_body(&next, &caller, now, lang);
    let bytes = append_response(&recorded, &case_body);
    drop(case_body);
    let headers = vec![
        (
            "Location".to_owned(),
            format!("/v1/cases/{id}/events/{}", recorded.event.seq),
        ),
        ("ETag".to_owned(), etag(next.seq())),
    ];
    let append = append_of(&next, &recorded, body.expected_seq, now, &state.calendar);
    match state.store.append(append).await {
        Ok(AppendOutcome::Appended) => {
            metrics::counter!("fazhi_cases_migrated_total").increment(1);
            *case = next;
            drop(guard);
            Ok(created(headers, bytes))
        }
        Ok(AppendOutcome::Conflict { current_seq }) => {
            *guard = None;
            drop(guard);
            state.cases.forget(&id);
            Err(ApiError::Conflict {
                expected_seq: body.expected_seq,
                current_seq,
            })
        }
        Ok(AppendOutcome::Replay(_)) => {
            *guard = None;
            drop(guard);
            state.cases.forget(&id);
            Err(ApiError::Internal("unexpected idempotency replay".into()))
        }
        Err(e) => {
            *guard = None;
            drop(guard);
            state.cases.forget(&id);
            Err(e.into())
        }
    }
}
