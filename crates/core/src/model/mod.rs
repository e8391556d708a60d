//! The typed procedure: states, tracks, actions, facts, time rules and invariants.
