//! fazhi-core: the pure core of fazhi.
//!
//! It compiles declarative TOML rule files into verified state machines ([`load`]), runs cases
//! on them ([`runtime`]), and reckons statutory periods on the official working-day calendar
//! ([`time`]). It does no IO, reads no clock and keeps no global state: the caller passes
//! source text in and the time of every command as an argument.
//!
//! Modules, each importing only those listed before it:
//! - [`time`]: legal time: calendars, periods, working days.
//! - [`expr`]: the guard language: lexer, parser, type checker, evaluator.
//! - [`model`]: the typed, validated procedure, read through views that speak in ids and
//!   titles ([`model::Procedure::actions()`], [`model::ActionRef`], ...).
//! - [`graph`]: the procedure as a graph: reachability, invariants, export.
//! - [`load`]: TOML text to model, with every diagnostic at its file, line and column.
//! - [`runtime`]: cases: decide, apply, refusals, deadlines, available actions, the hash chain.
//! - [`report`]: the year in figures: the `[report]` counters counted over cases.
//! - [`scenario`]: scenario files and their runner (`fazhi test`).
//! - [`lang`]: the languages of messages: every refusal reason, deadline description and
//!   scenario failure is built in Chinese from the titles and in English beside it.
//!
//! Feature `openapi` (off by default) derives `utoipa::ToSchema` for the JSON forms a service
//! shows ([`runtime::CaseView`], [`runtime::ActionOption`], [`runtime::Reason`],
//! [`runtime::Deadline`], [`runtime::Event`] and what they hold), so that an OpenAPI document
//! describes them from the same definitions.
//!
//! Features:
//! - `miette` (on by default) implements `miette::Diagnostic` for load diagnostics and
//!   calendar errors, for graphical reports with the source line.
//! - `graph-svg` (on by default) draws procedures: [`graph::to_svg`] (with its own layout),
//!   [`graph::to_state_svg`], [`graph::to_dot`] and [`graph::to_mermaid`].
//! - `openapi` (off by default), below.
//!
//! An embedder of the runtime alone can build with `default-features = false` (and add back
//! what it needs); the core never reads a clock either way (chrono's `clock` feature is not
//! used).
//!
//! # Embedding
//!
//! A longer, runnable walk (the shipped rules, the 2025 calendar, deadlines, the chain, a
//! serde round trip and replay) is `examples/embed.rs` at the repository root:
//! `cargo run --example embed`.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{TimeZone, Utc};
//! use fazhi_core::load::{load, SourceFile};
//! use fazhi_core::runtime::{Actor, Case, Command, Opening, ReasonKind, verify};
//! use fazhi_core::time::Calendar;
//!
//! let rules = load(&[SourceFile::new("review.toml", r#"
//!     [procedure]
//!     id = "review"
//!     version = 1
//!     title = "合同合法性审查"
//!     initial = "submitted"
//!     terminal = ["signed"]
//!     [roles]
//!     sponsor = { title = "承办科室" }
//!     reviewer = { title = "司法所" }
//!     [states]
//!     submitted = { title = "已报送" }
//!     reviewed = { title = "审查通过" }
//!     signed = { title = "已签订" }
//!     [actions.approve]
//!     from = "submitted"
//!     to = "reviewed"
//!     by = ["reviewer"]
//!     [actions.sign]
//!     from = "reviewed"
//!     to = "signed"
//!     by = ["sponsor"]
//!     [time.review]
//!     at_least = { working_days = 3 }
//!     after = "submitted"
//!     actions = ["approve"]
//!     basis = "《示例合同审查办法》第八条"
//! "#)]);
//! assert!(rules.diagnostics.is_empty());
//! let procedure = rules.rules.get("review", None).unwrap();
//!
//! // The procedure speaks in ids and titles (views borrowed from it, see `model`).
//! let approve = procedure.action("approve").unwrap();
//! assert_eq!(approve.roles().map(|r| r.title()).collect::<Vec<_>>(), ["司法所"]);
//! assert_eq!(approve.to().map(|place| place.id()).as_deref(), Some("reviewed"));
//! let review = procedure.time_rule("review").unwrap();
//! assert_eq!(review.actions().map(|a| a.id()).collect::<Vec<_>>(), ["approve"]);
//! assert_eq!(review.basis(), Some("《示例合同审查办法》第八条"));
//! let calendar = Calendar::new(); // no years: weekends only, results marked provisional
//!
//! let at = |d, h| Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap();
//! let sponsor = Actor::new("bureau", ["sponsor"]);
//! let reviewer = Actor::new("justice", ["reviewer"]);
//! let (mut case, opened) = Case::open_recorded(procedure, Opening {
//!     case: "c-1".into(), title: "采购合同".into(), actor: sponsor.clone(),
//!     at: at(3, 1), facts: serde_json::json!({}), imported: false,
//! }).unwrap();
//!
//! // Too early: the review runs at least 3 working days (Tue, Wed, Thu after Mon 3 March).
//! let refusal = case.decide(Command::new("approve", reviewer.clone(), at(4, 1)), &calendar).unwrap_err();
//! assert_eq!(refusal.kinds(), vec![ReasonKind::TooEarly]);
//! // It cites the time rule's article, parsed: 《示例合同审查办法》第八条.
//! assert_eq!(refusal.reasons[0].article, Some(8));
//! // Its message is in Chinese, built from the titles and ending with the article; the
//! // English one is beside it, and `in_lang` picks.
//! assert_eq!(
//!     refusal.reasons[0].message,
//!     "“review”：自进入“已报送”起须满3个工作日，2025年3月7日起方可办理“approve”（依据：《示例合同审查办法》第八条）"
//! );
//! let english = refusal.clone().in_lang(fazhi_core::lang::Lang::En);
//! assert_eq!(english.reasons[0].message, refusal.reasons[0].message_en);
//! assert_eq!(refusal.reasons[0].allowed_from, Some(Utc.with_ymd_and_hms(2025, 3, 6, 16, 0, 0).unwrap()));
//!
//! let event = case.decide(Command::new("approve", reviewer, at(7, 1)), &calendar).unwrap();
//! let approved = case.record(event).unwrap();
//! assert_eq!(case.state(), "reviewed");
//! // (`case.decide_record(command, &calendar)` does both in one call, reading the command once.)
//!
//! // The stored bytes form a hash chain.
//! assert!(verify(&[opened.bytes, approved.bytes], Some(case.head())).is_ok());
//! ```

pub mod expr;
pub mod graph;
pub mod lang;
pub mod load;
pub mod migrate;
pub mod model;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod time;
