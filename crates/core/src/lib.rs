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
//! - [`model`]: the typed, validated procedure.
//! - [`graph`]: the procedure as a graph: reachability, invariants, export.
//! - [`load`]: TOML text to model, with every diagnostic at its file, line and column.
//! - [`runtime`]: cases: decide, apply, refusals, deadlines, available actions, the hash chain.

pub mod expr;
pub mod graph;
pub mod load;
pub mod model;
pub mod runtime;
pub mod scenario;
pub mod time;
