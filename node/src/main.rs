//! The `ward` command. Everything lives in the library so tests drive the same code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Unlocked handles: each write takes the lock briefly. Holding stderr's lock for the
    // whole run would block every other thread that logs (`ward run` logs from its runtime's
    // worker threads) and deadlock the node.
    ExitCode::from(ward_node::cli::main(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ))
}
