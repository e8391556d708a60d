//! Unit tests of the whole pipeline.
