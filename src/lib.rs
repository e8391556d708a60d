//! fazhi: the command line's library side (file discovery, rendering) over [`fazhi_core`].

pub use fazhi_core as core;

pub mod calendars;
pub mod cmd_archive;
pub mod cmd_backup;
pub mod cmd_calendar;
pub mod cmd_check;
pub mod cmd_deadlines;
pub mod cmd_graph;
pub mod cmd_migrate;
pub mod cmd_report;
pub mod cmd_schema;
pub mod cmd_serve;
pub mod cmd_test;
pub mod cmd_verify;
pub mod db;
pub mod files;
