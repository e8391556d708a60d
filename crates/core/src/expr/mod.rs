//! The guard language: small boolean expressions over facts, payload fields, tracks,
//! documents and the case's history, written as TOML strings and type-checked at load.

mod stub;
mod types;

pub use stub::*;
pub use types::{Env, EvalContext, TrackInfo, Type, Value, VarInfo, VarSlot};
