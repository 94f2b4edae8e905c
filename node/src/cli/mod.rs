//! The `ward` command line.
//!
//! Arguments are parsed by clap, turned into typed requests, and run against files. Output
//! for people goes to stdout, or JSON with `--json`; errors go to stderr with their cause
//! chain. No command prints a private key: key files are written, never shown.
//!
//! Exit codes:
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0    | success; for `cert verify`, the credential is valid |
//! | 1    | `cert verify`: the credential is invalid (the reason is printed) |
//! | 2    | usage error, or the command could not do its work (unreadable file, ...) |

mod pki;
mod run;
mod status;
mod verify;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};
use crate::duration::Lifetime;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for a credential found invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit code for a usage error or a failure to do the work.
pub const EXIT_ERROR: u8 = 2;

/// Ward: zero-trust authentication for camera fleets.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, max_term_width = 100)]
struct Cli {
    /// Configuration file (TOML). Every key is optional.
    #[arg(long, global = true, env = "WARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: join the mesh, serve the admin API, enforce revocations.
    Run(run::RunArgs),
    /// Show a running node's status, from its admin API.
    Status(status::StatusArgs),
    /// Create the fleet root, the offline trust anchor of every site.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Create a site CA signed by the fleet root.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Issue, inspect and verify credentials.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Sign a revocation of a credential serial or a key.
    Revoke(pki::RevokeArgs),
    /// One-time tokens with which a new node or camera joins the site.
    #[command(subcommand)]
    JoinToken(JoinTokenCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Generate the fleet root key and its self-signed credential.
    Init(pki::FleetInitArgs),
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Generate a site CA key and have the fleet root sign its credential.
    Init(pki::SiteInitArgs),
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Issue a node, camera or admin credential from a site CA.
    Issue(pki::IssueArgs),
    /// Show what a credential, CCS, revocation or key file says (never a private key).
    Inspect(verify::InspectArgs),
    /// Check a credential against the fleet root, its site CA, a policy and revocations.
    Verify(verify::VerifyArgs),
}

#[derive(Debug, Subcommand)]
enum JoinTokenCommand {
    /// Have a running node record a join token in the site registry, and print it once.
    Create(status::JoinTokenCreateArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the full configuration file with every default, commented.
    Example,
}

/// Options shared by commands that can print JSON.
#[derive(Debug, Args)]
struct OutputArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// What a command needs from its surroundings.
struct Env<'a> {
    out: &'a mut dyn Write,
    config: Config,
    now: u64,
}

/// Runs the command line `args` and returns the process exit code.
pub fn main<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let rendered = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(rendered.as_bytes())
            } else {
                out.write_all(rendered.as_bytes())
            };
            return code;
        }
    };
    match run(cli, out) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<u8> {
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let mut cx = Env { out, config, now };
    match cli.command {
        Command::Run(args) => run::run(&mut cx, args),
        Command::Status(args) => status::status(&mut cx, args),
        Command::Fleet(FleetCommand::Init(args)) => pki::fleet_init(&mut cx, args),
        Command::Site(SiteCommand::Init(args)) => pki::site_init(&mut cx, args),
        Command::Cert(CertCommand::Issue(args)) => pki::issue(&mut cx, args),
        Command::Cert(CertCommand::Inspect(args)) => verify::inspect(&mut cx, args),
        Command::Cert(CertCommand::Verify(args)) => verify::verify(&mut cx, args),
        Command::Revoke(args) => pki::revoke(&mut cx, args),
        Command::JoinToken(JoinTokenCommand::Create(args)) => {
            status::join_token_create(&mut cx, args)
        }
        Command::Config(ConfigCommand::Example) => {
            cx.out.write_all(config::EXAMPLE.as_bytes())?;
            Ok(EXIT_OK)
        }
    }
}

/// The operating system's random number generator. Failing to read it is fatal: no key may
/// be made without it.
fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn lifetime_or(given: Option<Lifetime>, default: Lifetime) -> u64 {
    given.unwrap_or(default).secs()
}
