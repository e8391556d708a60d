//! fazhi: a thin facade over [`fazhi_core`] for the command line.

pub use fazhi_core as core;

pub mod calendars;
pub mod cmd_calendar;
