//! The `ward` command. Everything lives in the library so tests drive the same code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    ExitCode::from(ward_node::cli::main(
        std::env::args_os(),
        &mut stdout.lock(),
        &mut stderr.lock(),
    ))
}
