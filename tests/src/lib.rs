//! Helpers for Ward's integration tests, which live in `tests/tests/`.
//!
//! The tests drive the `ward` command through `ward_node::cli::main`, the function the
//! binary's `main` calls, so they exercise the real argument parsing, file handling and exit
//! codes without spawning processes.

pub mod mesh;

use std::path::Path;

/// What one `ward` invocation produced.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code.
    pub code: u8,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `ward ARGS...` with `dir` as the base of relative paths in `args`.
pub fn ward(dir: &Path, args: &[&str]) -> Outcome {
    let mut full = vec!["ward".to_owned()];
    full.extend(args.iter().map(|arg| {
        // Paths are given relative to the test's directory; options and values stay as-is.
        match arg.strip_prefix("./") {
            Some(relative) => dir.join(relative).display().to_string(),
            None => (*arg).to_owned(),
        }
    }));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ward_node::cli::main(full, &mut out, &mut err);
    Outcome {
        code,
        stdout: String::from_utf8(out).expect("ward prints UTF-8"),
        stderr: String::from_utf8(err).expect("ward prints UTF-8"),
    }
}
