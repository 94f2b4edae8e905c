//! `ward status` and `ward join-token create`, and what every command that talks to a running
//! node shares: the `--admin` and `--token-file` flags and a runtime to make the request on.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use serde_json::json;

use super::{EXIT_OK, Env, OutputArgs};
use crate::admin::api::StatusReport;
use crate::admin::{AdminClient, AdminToken};
use crate::config::Config;
use crate::duration::{Lifetime, rfc3339};

/// Where a node's admin API is and how to get in. Each flag falls back to the configuration
/// file's `[admin]` section, so a command run beside the node with the node's `--config`
/// needs neither.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// Address of the node's admin API, HOST:PORT [default: admin.listen from the
    /// configuration, 127.0.0.1:7480 without one].
    #[arg(long = "admin", env = "WARD_ADMIN", value_name = "ADDR")]
    addr: Option<String>,
    /// File holding the admin API's bearer token, if the node requires one [default:
    /// admin.token_file from the configuration].
    #[arg(long, env = "WARD_ADMIN_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl AdminArgs {
    /// A client for the node these flags, or else `config`, name.
    pub(crate) fn client(&self, config: &Config) -> Result<AdminClient> {
        let addr = match &self.addr {
            Some(addr) => addr.clone(),
            None => reachable(config.admin.listen).to_string(),
        };
        let token = self
            .token_file
            .as_ref()
            .or(config.admin.token_file.as_ref())
            .map(|path| AdminToken::load(path))
            .transpose()?;
        Ok(AdminClient::new(&addr, token)?)
    }
}

/// The address to connect to for a listen address: a node listening on every interface
/// (0.0.0.0 or ::) is reached on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    output: OutputArgs,
}

pub(crate) fn status(cx: &mut Env<'_>, args: StatusArgs) -> Result<u8> {
    let client = args.admin.client(&cx.config)?;
    let report = block_on(client.status())?;
    if args.output.json {
        writeln!(cx.out, "{:#}", json!(report))?;
    } else {
        print_status(cx, &report)?;
    }
    Ok(EXIT_OK)
}

fn print_status(cx: &mut Env<'_>, report: &StatusReport) -> Result<()> {
    writeln!(cx.out, "Node {}", report.peer_id)?;
    for (i, addr) in report.listen_addrs.iter().enumerate() {
        let label = if i == 0 { "listening" } else { "" };
        writeln!(cx.out, "  {label:<12} {addr}")?;
    }
    writeln!(
        cx.out,
        "  {:<12} {} admitted, {} in revocation gossip",
        "peers",
        report.admitted_peers.len(),
        report.gossip_peers
    )?;
    for peer in &report.admitted_peers {
        writeln!(cx.out, "  {:<12} {peer}", "")?;
    }
    writeln!(
        cx.out,
        "  {:<12} {} enforced, digest {}",
        "revocations", report.revocation_count, report.revocation_digest
    )?;
    writeln!(cx.out, "  {:<12} {}", "site CAs", report.site_cas)?;
    match &report.site {
        None => writeln!(
            cx.out,
            "  {:<12} not a member of its site's registry",
            "registry"
        )?,
        Some(site) => {
            let leader = site
                .leader
                .map_or_else(|| "none known".to_owned(), |id| format!("{id:016x}"));
            writeln!(
                cx.out,
                "  {:<12} {:016x} is {} in term {}; leader {leader}",
                "registry", site.node_id, site.role, site.term
            )?;
            let ids = |ids: &[u64]| {
                if ids.is_empty() {
                    return "none".to_owned();
                }
                ids.iter()
                    .map(|id| format!("{id:016x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(cx.out, "  {:<12} {}", "voters", ids(&site.voters))?;
            writeln!(cx.out, "  {:<12} {}", "learners", ids(&site.learners))?;
            let index = |i: Option<u64>| i.map_or_else(|| "-".to_owned(), |i| i.to_string());
            writeln!(
                cx.out,
                "  {:<12} commit {}, applied {}, last {}",
                "log",
                index(site.commit_index),
                index(site.applied_index),
                index(site.last_log_index)
            )?;
            for member in &site.members {
                writeln!(
                    cx.out,
                    "  {:<12} {:016x} holds {}, {} behind",
                    "",
                    member.node_id,
                    index(member.matched_index),
                    member.lag
                )?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct JoinTokenCreateArgs {
    /// What the token admits its holder as: node or camera.
    #[arg(long, value_parser = ["node", "camera"])]
    role: String,
    /// How long the token is valid: e.g. 15m, 1h, 7d (at most 30d).
    #[arg(long, default_value = "1h")]
    ttl: Lifetime,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Prints the token to stdout, the only place it ever appears: the node keeps its hash.
pub(crate) fn join_token_create(cx: &mut Env<'_>, args: JoinTokenCreateArgs) -> Result<u8> {
    let client = args.admin.client(&cx.config)?;
    let report = block_on(client.create_join_token(&args.role, args.ttl.secs()))?;
    if args.output.json {
        writeln!(cx.out, "{:#}", json!(report))?;
    } else {
        writeln!(cx.out, "{}", report.token)?;
        writeln!(
            cx.out,
            "  {} join token {}, valid until {}; it works once",
            report.role,
            report.id,
            rfc3339(report.expires_at)
        )?;
    }
    Ok(EXIT_OK)
}

/// Runs one admin request to completion. The command line is synchronous; a current-thread
/// runtime is all a request or two needs.
pub(crate) fn block_on<T, E>(request: impl Future<Output = Result<T, E>>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(request)?)
}
