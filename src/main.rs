//! The `fazhi` command line.

fn main() {}
