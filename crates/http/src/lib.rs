//! fazhi-http: the actix-web adapter of fazhi.
//!
//! It is thin: a handler authenticates the caller (a bearer token mapped to a principal by
//! `fazhi.toml`), reads the request, asks [`fazhi_core`] to decide, appends what the core
//! decided to a [`fazhi_store::EventStore`], and answers. Errors are
//! `application/problem+json` ([`problem`]); the API is described by OpenAPI 3.1 at
//! `/openapi.json` ([`openapi`]).
//!
//! [`Application::build`] binds the listener (port 0 picks a free one) and returns the
//! server to run, as in zero-to-production's `startup.rs`.

pub mod access;
pub mod api;
pub mod config;
pub mod console;
pub mod deadlines;
pub mod history;
pub mod migrate;
pub mod openapi;
mod picture;
pub mod problem;
pub mod report;
pub mod service;
mod startup;

pub use startup::{Application, Settings, StartError, lock_database, lock_path};
