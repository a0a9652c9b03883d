//! The `handbook-sync` binary: the allocator, then the command line in [`handbook_sync::cli`].

use std::process::ExitCode;

// Parsing a handbook allocates many small strings; mimalloc halves parse time against
// the system allocator (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    handbook_sync::cli::main()
}
