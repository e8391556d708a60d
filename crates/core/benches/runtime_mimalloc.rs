//! The runtime benches (`runtime.rs`) on the mimalloc allocator instead of the system one.
//! Run: `cargo bench -p fazhi-core --bench runtime_mimalloc -- --warm-up-time 1 --measurement-time 3`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "runtime.rs"]
mod runtime_benches;

fn main() {
    runtime_benches::main();
}
