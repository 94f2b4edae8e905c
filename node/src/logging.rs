//! The node's logs: `tracing` events written to stderr, for people or for log collectors.
//!
//! stdout belongs to what a command tells its user (a node's bootstrap addresses, say);
//! logs go to stderr so the two never interleave in a pipe. `RUST_LOG` filters them; by
//! default Ward logs at `info` and the libraries under it at `warn`, except where noted in
//! [`DEFAULT_FILTER`].
//!
//! Policy for every log line in the node: a short fixed phrase with the variables as fields
//! (`info!(peer = %peer, "peer admitted")`); never key material, tokens or credentials'
//! signatures, only names, PeerIds, key ids, serials and paths. `info` marks rare lifecycle
//! events, `warn` a peer that misbehaved, `error` the node itself failing.

use std::io::IsTerminal as _;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The filter without `RUST_LOG`: Ward's lifecycle events, and openraft only when something
/// is wrong (at `info` it narrates every election and task start and stop).
pub const DEFAULT_FILTER: &str = "info,openraft=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Installs the process-wide subscriber writing `format` to stderr, filtered by `RUST_LOG`
/// or else [`DEFAULT_FILTER`].
///
/// A subscriber installed earlier in the process is kept: tests run several nodes in one
/// process, and the first one's logs are as good as any. An invalid `RUST_LOG` is an error
/// rather than silently logging something else than the operator asked for.
pub fn init(format: LogFormat) -> Result<()> {
    let given = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default();
    let directives = if given.trim().is_empty() {
        DEFAULT_FILTER
    } else {
        given.as_str()
    };
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives)
        .context("RUST_LOG is not a valid log filter")?;
    // Colours only for a person at a terminal; escape codes would litter files and pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // An error here only means a subscriber is already installed.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_init_in_one_process_is_harmless() {
        init(LogFormat::Json).expect("first init");
        init(LogFormat::Text).expect("second init");
    }
}
