//! registry-load: the write load of issue #5, given to the Ward site registry and to an etcd
//! cluster alike, and the leader failover time of a Ward site.
//!
//! ```text
//! registry-load ward     --clients N --seconds S --value-bytes B   three replicas in-process
//! registry-load ward-mesh --clients N ...                          the same over the mesh
//! registry-load etcd     --endpoints A,B,C --clients N ...         an etcd cluster already running
//! registry-load failover --kills K                                  kill the Ward leader K times
//! ```
//!
//! Each run prints one line to stdout of `key=value` fields for scripts
//! (scripts/bench-registry.sh makes its table from them); progress and errors go to stderr.
//! Exit code 0 on success, 1 when a run could not be made, 2 for bad arguments.

mod etcd;
mod failover;
mod latency;
mod load;
mod mesh;
mod ward;

use std::time::Duration;

use anyhow::{Context as _, ensure};
use clap::{Args, Parser, Subcommand};

use crate::latency::{ResultLine, Summary, millis};
use crate::load::Load;

#[derive(Debug, Parser)]
#[command(about = "Drives the Ward site registry and an etcd cluster with the same write load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes to a three-replica Ward site run in this process, over the in-memory transport.
    Ward(LoadArgs),
    /// Writes to a three-node Ward site run in this process, each node with its mesh, over
    /// loopback TCP: Raft over the mesh's registry protocol, as in `ward run`.
    WardMesh(LoadArgs),
    /// Writes to a running etcd cluster.
    Etcd {
        /// The members' client URLs, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        endpoints: Vec<String>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Kills the leader of a three-replica Ward site repeatedly and times each failover.
    Failover {
        /// How many times the leader is killed.
        #[arg(long, default_value_t = 20)]
        kills: usize,
    },
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// Concurrent clients, each writing its next value once the last is acknowledged.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// How long writes are measured.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Writes before the measured window are not counted.
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// The size of every value written.
    #[arg(long, default_value_t = 256)]
    value_bytes: usize,
}

impl LoadArgs {
    /// The arguments checked, as the load to run.
    fn load(&self) -> anyhow::Result<Load> {
        ensure!(self.clients >= 1, "--clients must be at least 1");
        ensure!(self.seconds >= 1, "--seconds must be at least 1");
        // The same values must fit both systems; Ward's registry caps a model snapshot.
        ensure!(
            self.value_bytes <= ward_consensus::registry::MAX_MODEL_LEN,
            "--value-bytes is above the registry's {} byte limit on a model snapshot",
            ward_consensus::registry::MAX_MODEL_LEN
        );
        Ok(Load {
            warmup: Duration::from_secs(self.warmup_seconds),
            measured: Duration::from_secs(self.seconds),
            value_bytes: self.value_bytes,
        })
    }

    /// The fields naming a run of `system` with these arguments.
    fn run_fields(&self, system: &str) -> Vec<(&'static str, String)> {
        vec![
            ("system", system.to_string()),
            ("clients", self.clients.to_string()),
            ("value_bytes", self.value_bytes.to_string()),
            ("seconds", self.seconds.to_string()),
        ]
    }
}

fn main() -> std::process::ExitCode {
    // Parse errors exit with clap's code 2.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("registry-load: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("registry-load: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ward(args) => {
            let load = args.load()?;
            let site = ward::WardSite::start(3).await?;
            let summary = load::run(load, site.writers(args.clients).await?).await?;
            site.shutdown().await?;
            report(args.run_fields("ward"), &summary);
        }
        Command::WardMesh(args) => {
            let load = args.load()?;
            let site = mesh::MeshSite::start(3).await?;
            let summary = load::run(load, site.writers(args.clients).await?).await?;
            site.shutdown().await?;
            report(args.run_fields("ward-mesh"), &summary);
        }
        Command::Etcd {
            endpoints,
            load: args,
        } => {
            let load = args.load()?;
            let writers = etcd::writers(&endpoints, args.clients).await?;
            let summary = load::run(load, writers).await?;
            report(args.run_fields("etcd"), &summary);
        }
        Command::Failover { kills } => {
            ensure!(kills >= 1, "--kills must be at least 1");
            let times = failover::run(kills)
                .await
                .context("the failover run stopped")?;
            let summary = Summary::new(times, 0, Duration::from_secs(1));
            println!(
                "registry-load system=ward-failover kills={kills} p50_ms={:.1} max_ms={:.1} \
                 min_ms={:.1}",
                millis(summary.quantile(0.50)),
                millis(summary.max()),
                millis(summary.quantile(0.0)),
            );
        }
    }
    Ok(())
}

fn report(run: Vec<(&'static str, String)>, summary: &Summary) {
    println!("{}", ResultLine { run, summary });
}
