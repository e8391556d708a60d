//! fazhi: the command line's library side (file discovery, rendering) over [`fazhi_core`].

pub use fazhi_core as core;

pub mod cmd_check;
pub mod cmd_schema;
pub mod files;
