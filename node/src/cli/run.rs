//! `ward run`: start a node, and keep it running until SIGINT or SIGTERM.
//!
//! ```text
//! configuration   defaults < file (--config) < WARD_* environment < flags, then validated
//! data directory  no node.cwt and --join-token?  ── yes ─▶ join through the bootstrap peers:
//!                   │                                       node.key, node.cwt and anchors
//!                 fresh?  ── yes ─▶ development fleet, site and node credential (dev-pki/)
//!                   │
//!                 identity (created once), node.key + node.cwt, fleet-root.cwt, site-ca.cwt
//!                   │        missing credential: stop, and say how to issue one
//! start           ward.redb: mesh store ─▶ mesh ─▶ site registry replica, tables beside it,
//!                   first node of its site? initialise a one-voter Raft group;
//!                   given bootstrap peers? ask them to add this node as a learner
//!                 ─▶ join desk, if the site CA key is here ─▶ admin API; print addresses
//! stop            SIGINT or SIGTERM ─▶ admin API drains ─▶ mesh closes its connections
//!                   ─▶ the replica stops and releases its database
//! ```
//!
//! Everything that can be checked before a socket opens is checked first, so a mistake in the
//! configuration or the data directory ends the command with exit code 2 and leaves nothing
//! half started, and the data directory is not touched at all when the configuration is
//! wrong.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::Deserialize as _;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, error, info, info_span};
use ward_consensus::{Replica, ReplicaConfig};
use ward_crypto::issue::{self, CredentialRequest, Issuer};
use ward_crypto::{Credential, FleetRoot, NoRevocations, Role, SecretKey};
use zeroize::Zeroizing;

use super::pki::{ROOT_CREDENTIAL, ROOT_KEY, SITE_CREDENTIAL, SITE_KEY, read_credential};
use super::{EXIT_OK, Env, os_rng};
use crate::admin::{self, AdminToken};
use crate::config::Config;
use crate::datadir::{
    DATABASE, DataDir, FLEET_ROOT_CREDENTIAL, NODE_CREDENTIAL, NODE_KEY, SITE_CA_CREDENTIAL,
};
use crate::duration::{Lifetime, rfc3339};
use crate::files;
use crate::join::{JoinDesk, join_registry, join_site};
use crate::logging::{self, LogFormat};
use crate::mesh::{
    Admission, AdmissionMessage, Mesh, MeshHandle, MeshRegistryTransport, PqMode, raft_node_id,
    registry_member,
};
use crate::site::{JoinToken, SiteRegistry};
use crate::store::MeshStore;

/// Lifetime of a development fleet root. Development fleets are disposable, but a node that
/// stops working after a few months of tinkering would only confuse.
const DEV_ROOT_LIFETIME: Lifetime = Lifetime(10 * 365 * 86_400);
/// Lifetime of a development site CA.
const DEV_SITE_LIFETIME: Lifetime = Lifetime(2 * 365 * 86_400);

/// How long the admin API may take to finish its requests once the node is stopping.
const ADMIN_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Each flag overrides its environment variable, which overrides the configuration file.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Data directory: keys, credentials and the database (config: data_dir).
    #[arg(long, env = "WARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Mesh listen address; repeat or separate with commas (config: mesh.listen).
    #[arg(
        long,
        env = "WARD_LISTEN",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    listen: Vec<Multiaddr>,
    /// Peer to dial at start, /.../p2p/<PeerId>; repeat or separate with commas
    /// (config: mesh.bootstrap).
    #[arg(
        long,
        env = "WARD_BOOTSTRAP",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    bootstrap: Vec<Multiaddr>,
    /// Admin API address, IP:PORT (config: admin.listen).
    #[arg(long, env = "WARD_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// File holding the admin API's bearer token (config: admin.token_file).
    #[arg(long, env = "WARD_ADMIN_TOKEN_FILE", value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Post-quantum policy of mesh connections: off, hybrid or required (config: mesh.pq).
    #[arg(long, env = "WARD_PQ", value_name = "MODE", value_parser = parse_pq)]
    pq: Option<PqMode>,
    /// Log format (config: log.format). RUST_LOG filters the logs, info by default.
    #[arg(long, env = "WARD_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// One-time join token from `ward join-token create --role node`: a node with no
    /// credential yet proves it to a bootstrap peer and receives its node credential from
    /// the site. Ignored once the data directory holds a credential.
    // Read as text and parsed by `run`: clap would quote a malformed value, secret and all,
    // in its error.
    #[arg(
        long,
        env = "WARD_JOIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    join_token: Option<String>,
}

/// Reads a post-quantum mode with the configuration file's own spelling.
fn parse_pq(text: &str) -> Result<PqMode, String> {
    use serde::de::IntoDeserializer as _;
    let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    PqMode::deserialize(deserializer).map_err(|_| "expected off, hybrid or required".to_owned())
}

pub(crate) fn run(cx: &mut Env<'_>, mut args: RunArgs) -> Result<u8> {
    let join_token = args.join_token.take().map(Zeroizing::new);
    let config = merge(cx.config.clone(), args);
    config.validate().context("invalid configuration")?;
    logging::init(config.log.format)?;

    // Trust material first: nothing listens until the node knows who it is and whom it trusts.
    let dir = DataDir::open(&config.data_dir)?;
    let join_token = match join_token {
        Some(_) if dir.file(NODE_CREDENTIAL).symlink_metadata().is_ok() => {
            // A joined node restarts with the command it joined with.
            info!("the data directory holds a node credential; the join token is not used");
            None
        }
        Some(text) => {
            let token = JoinToken::parse(&text).context("--join-token")?;
            if config.mesh.bootstrap.is_empty() {
                bail!(
                    "--join-token needs a bootstrap peer to prove the token to: add --bootstrap \
                     with an address `ward run` printed on a node of the site"
                );
            }
            Some(token)
        }
        None => None,
    };
    let dev = if join_token.is_none() && dir.is_fresh() {
        Some(create_dev_fleet(&dir, &config, cx.now)?)
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ward")
        .build()
        .context("cannot start the async runtime")?;
    if let Some(token) = join_token {
        runtime.block_on(join(&dir, &config, &token, cx.now))?;
    }
    let node = NodeTrust::load(&dir, &config, cx.now)?;
    let desk = DeskKeys::load(&dir, &config)?;
    let span = info_span!("node", peer = %node.peer_id);
    runtime.block_on(serve(cx, &config, &dir, dev.as_ref(), node, desk).instrument(span))?;
    Ok(EXIT_OK)
}

/// Lays the flags (and, through clap, their environment variables) over the configuration.
fn merge(mut config: Config, args: RunArgs) -> Config {
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if !args.listen.is_empty() {
        config.mesh.listen = args.listen;
    }
    if !args.bootstrap.is_empty() {
        config.mesh.bootstrap = args.bootstrap;
    }
    if let Some(listen) = args.admin_listen {
        config.admin.listen = listen;
    }
    if let Some(path) = args.admin_token_file {
        config.admin.token_file = Some(path);
    }
    if let Some(pq) = args.pq {
        config.mesh.pq = pq;
    }
    if let Some(format) = args.log_format {
        config.log.format = format;
    }
    config
}

/// What `ward run` made in a fresh data directory.
struct DevFleet {
    fleet: String,
    site: String,
}

/// Makes a development fleet in a fresh data directory: a fleet root and a site CA whose
/// keys stay in `dev-pki/`, and this node's identity, key and credential.
fn create_dev_fleet(dir: &DataDir, config: &Config, now: u64) -> Result<DevFleet> {
    let (identity, _) = dir.load_or_create_identity()?;
    let peer_id = identity.public().to_peer_id().to_base58();
    let mut rng = os_rng();

    // Fleet and site are named after the first node, so two development fleets are told
    // apart in every message that names an issuer, and a node of one is refused by another's
    // as "unknown site CA" rather than for a signature that does not verify.
    let tail = &peer_id[peer_id.len().saturating_sub(8)..];
    let fleet = format!("dev-fleet-{tail}");
    let site = format!("dev-site-{tail}");
    let root_key = SecretKey::generate_ed25519(&mut rng);
    let root = issue::fleet_root(&fleet, &root_key, now, DEV_ROOT_LIFETIME.secs(), &mut rng)
        .context("cannot create the development fleet root")?;
    let site_key = SecretKey::generate_p256(&mut rng);
    let site_request = CredentialRequest {
        subject: site.clone(),
        role: Role::SiteCa,
        key: site_key.public_key(),
        scopes: Vec::new(),
        lifetime_secs: DEV_SITE_LIFETIME.secs(),
    };
    let site_ca = Issuer::new(&root_key, &root)
        .and_then(|issuer| issuer.issue(&site_request, now, &mut rng))
        .context("cannot issue the development site CA")?;
    let node_key = SecretKey::generate_p256(&mut rng);
    let node_request = CredentialRequest {
        subject: peer_id,
        role: Role::Node,
        key: node_key.public_key(),
        scopes: Vec::new(),
        lifetime_secs: config.credentials.node_lifetime.secs(),
    };
    let node = Issuer::new(&site_key, &site_ca)
        .and_then(|issuer| issuer.issue(&node_request, now, &mut rng))
        .context("cannot issue the development node credential")?;

    // Check every output before writing one, so a failure leaves no half-made fleet.
    let pki = dir.dev_pki();
    let outputs = [
        pki.join(ROOT_KEY),
        pki.join(ROOT_CREDENTIAL),
        pki.join(SITE_KEY),
        pki.join(SITE_CREDENTIAL),
        dir.file(FLEET_ROOT_CREDENTIAL),
        dir.file(SITE_CA_CREDENTIAL),
        dir.file(NODE_KEY),
        dir.file(NODE_CREDENTIAL),
    ];
    files::ensure_absent(&outputs.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    files::create_private_dir(&pki)?;
    files::write_secret(&pki.join(ROOT_KEY), &root_key.to_cose_key_bytes())?;
    files::write_public(&pki.join(ROOT_CREDENTIAL), root.as_bytes())?;
    files::write_secret(&pki.join(SITE_KEY), &site_key.to_cose_key_bytes())?;
    files::write_public(&pki.join(SITE_CREDENTIAL), site_ca.as_bytes())?;
    files::write_public(&dir.file(FLEET_ROOT_CREDENTIAL), root.as_bytes())?;
    files::write_public(&dir.file(SITE_CA_CREDENTIAL), site_ca.as_bytes())?;
    files::write_secret(&dir.file(NODE_KEY), &node_key.to_cose_key_bytes())?;
    // Last, so an interrupted run leaves a directory that says a credential is missing.
    files::write_public(&dir.file(NODE_CREDENTIAL), node.as_bytes())?;
    info!(fleet = %fleet, site = %site, pki = %pki.display(), "development fleet created");
    Ok(DevFleet { fleet, site })
}

/// Joins the site of the configured bootstrap peers with `token`, and writes what the site
/// gave into `dir`: the node key and credential, and the anchors they chain to. A fleet root
/// already in `dir` is a pin: a site under another root is refused.
async fn join(dir: &DataDir, config: &Config, token: &JoinToken, now: u64) -> Result<()> {
    let (identity, _) = dir.load_or_create_identity()?;
    // Checked before the token is spent, so a directory that cannot take the result does
    // not waste it.
    let outputs = [
        dir.file(NODE_KEY),
        dir.file(SITE_CA_CREDENTIAL),
        dir.file(NODE_CREDENTIAL),
    ];
    files::ensure_absent(&outputs.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    let root_path = dir.file(FLEET_ROOT_CREDENTIAL);
    let pinned_root = match root_path.symlink_metadata() {
        Ok(_) => Some(read_credential(&root_path)?),
        Err(_) => None,
    };

    info!(token = %token.id_hex(), "joining the site through its bootstrap peers");
    let joined = join_site(
        identity,
        &config.mesh.bootstrap,
        token,
        now,
        config.credentials.leeway_secs,
    )
    .await
    .context("cannot join the site")?;
    if let Some(pinned) = &pinned_root
        && pinned.as_bytes() != joined.fleet_root.as_bytes()
    {
        bail!(
            "the site's fleet root is not the one in {}; refusing to join another fleet",
            root_path.display()
        );
    }

    if pinned_root.is_none() {
        files::write_public(&root_path, joined.fleet_root.as_bytes())?;
    }
    files::write_public(&dir.file(SITE_CA_CREDENTIAL), joined.site_ca.as_bytes())?;
    files::write_secret(&dir.file(NODE_KEY), &joined.key.to_cose_key_bytes())?;
    // Last, as in a development fleet: without it, the directory says it is incomplete.
    files::write_public(&dir.file(NODE_CREDENTIAL), joined.credential.as_bytes())?;
    info!(
        site = joined.credential.claims().site.as_deref().unwrap_or("-"),
        "joined the site; node credential received"
    );
    Ok(())
}

/// Who this node is and whom it trusts, loaded from the data directory and checked.
struct NodeTrust {
    identity: Keypair,
    peer_id: PeerId,
    credential: Credential,
    local: AdmissionMessage,
    admission: Admission,
}

impl NodeTrust {
    fn load(dir: &DataDir, config: &Config, now: u64) -> Result<NodeTrust> {
        let (identity, created) = dir.load_or_create_identity()?;
        let peer_id = identity.public().to_peer_id();
        if created {
            info!(peer = %peer_id, "node identity created");
        }

        let credential_path = dir.file(NODE_CREDENTIAL);
        if credential_path.symlink_metadata().is_err() {
            bail!("{}", missing_credential(dir, &peer_id));
        }
        let credential = read_credential(&credential_path)?;
        let key_path = dir.file(NODE_KEY);
        let key = SecretKey::from_cose_key_bytes(&files::read_secret(&key_path)?)
            .with_context(|| format!("{} is not a Ward private key", key_path.display()))?;
        let subject = &credential.claims().subject;
        if *subject != peer_id.to_base58() {
            bail!(
                "{} was issued for {subject:?}, but this node's PeerId is {peer_id}; issue one \
                 with --subject {peer_id}",
                credential_path.display()
            );
        }

        // The anchors: the fleet root, and the site CA that vouches for this node.
        let root_path = dir.file(FLEET_ROOT_CREDENTIAL);
        let root = FleetRoot::new(read_credential(&root_path)?)
            .with_context(|| format!("{} is not a fleet root", root_path.display()))?;
        let site_path = dir.file(SITE_CA_CREDENTIAL);
        let site_ca = read_credential(&site_path)?;
        let leeway = config.credentials.leeway_secs;
        let trusted = root
            .validate_site_ca_with_leeway(&site_ca, now, leeway, &NoRevocations)
            .with_context(|| {
                format!(
                    "{} is not a valid site CA of {}",
                    site_path.display(),
                    root_path.display()
                )
            })?;
        let admission = Admission::new(root, vec![trusted]);
        admission.validate_node(&credential, now).with_context(|| {
            format!(
                "{} is not a valid node credential",
                credential_path.display()
            )
        })?;
        let local = AdmissionMessage::new(&credential, &key, &peer_id)
            .with_context(|| {
                format!(
                    "{} does not belong to {}",
                    key_path.display(),
                    credential_path.display()
                )
            })?
            .with_site_ca(&site_ca);
        Ok(NodeTrust {
            identity,
            peer_id,
            credential,
            local,
            admission,
        })
    }
}

/// What a node needs to answer join requests: the site CA's key and credential, and the
/// fleet root above them, which a joining node takes as its anchor.
struct DeskKeys {
    site_key: SecretKey,
    site_ca: Credential,
    fleet_root: Credential,
}

impl DeskKeys {
    /// The keys at `credentials.site_ca_key`, or else in the development fleet's directory;
    /// `None` when the node has no site CA key, and so takes no join requests.
    fn load(dir: &DataDir, config: &Config) -> Result<Option<DeskKeys>> {
        let key_path = match &config.credentials.site_ca_key {
            Some(path) => path.clone(),
            None => {
                let dev_key = dir.dev_pki().join(SITE_KEY);
                if dev_key.symlink_metadata().is_err() {
                    return Ok(None);
                }
                dev_key
            }
        };
        let site_key = SecretKey::from_cose_key_bytes(&files::read_secret(&key_path)?)
            .with_context(|| format!("{} is not a Ward private key", key_path.display()))?;
        let site_path = dir.file(SITE_CA_CREDENTIAL);
        let site_ca = read_credential(&site_path)?;
        Issuer::new(&site_key, &site_ca).with_context(|| {
            format!(
                "{} is not the key of the site CA in {}",
                key_path.display(),
                site_path.display()
            )
        })?;
        let fleet_root = read_credential(&dir.file(FLEET_ROOT_CREDENTIAL))?;
        Ok(Some(DeskKeys {
            site_key,
            site_ca,
            fleet_root,
        }))
    }
}

/// The error for a data directory set up by an operator without a node credential: this
/// node's PeerId, and the commands that complete the directory.
fn missing_credential(dir: &DataDir, peer_id: &PeerId) -> String {
    let mut text = format!(
        "no node credential in {dir}; this node's PeerId is {peer_id}. Issue one from the \
         site bundle:\n  ward cert issue --role node --subject {peer_id} --ca SITE_BUNDLE_DIR \
         --out {prefix}",
        dir = dir.path().display(),
        prefix = dir.file("node").display(),
    );
    for anchor in [FLEET_ROOT_CREDENTIAL, SITE_CA_CREDENTIAL] {
        if dir.file(anchor).symlink_metadata().is_err() {
            text.push_str(&format!(
                "\nand copy the bundle's {anchor} to {}",
                dir.file(anchor).display()
            ));
        }
    }
    text
}

/// Runs the node until a signal asks it to stop.
async fn serve(
    cx: &mut Env<'_>,
    config: &Config,
    dir: &DataDir,
    dev: Option<&DevFleet>,
    node: NodeTrust,
    desk: Option<DeskKeys>,
) -> Result<()> {
    // Installed before anything is announced, so a signal sent as soon as the addresses
    // are printed stops the node gracefully instead of killing it.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;

    let token = match &config.admin.token_file {
        Some(path) => Some(AdminToken::load(path)?),
        None => None,
    };
    let store = MeshStore::open(dir.file(DATABASE))
        .with_context(|| format!("cannot open the mesh store in {}", dir.path().display()))?;
    // One database per node: the registry's tables go beside the mesh store's.
    let database = store.database();
    let admin_listener = tokio::net::TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the admin API", config.admin.listen))?;
    let admin_addr = admin_listener.local_addr().context("admin API address")?;

    let NodeTrust {
        identity,
        peer_id,
        credential,
        local,
        admission,
    } = node;
    let mesh = Mesh::spawn(
        config.mesh.to_mesh_config(),
        identity,
        local,
        admission,
        store,
    )
    .await
    .context("cannot start the mesh")?;

    let (replica, joining) = match start_registry(config, database, &mesh).await {
        Ok(started) => started,
        Err(e) => {
            mesh.shutdown().await;
            return Err(e);
        }
    };
    let steward = replica.spawn_steward(config.raft.to_policy());
    let desk = match desk {
        Some(keys) => match open_join_desk(keys, &replica, &mesh, config).await {
            Ok(desk) => Some(desk),
            Err(e) => {
                mesh.shutdown().await;
                let _ = replica.shutdown().await;
                return Err(e);
            }
        },
        None => {
            info!("no site CA key here: this node takes no join requests");
            None
        }
    };

    let (stop_admin, admin_stopping) = tokio::sync::oneshot::channel::<()>();
    let site: Arc<dyn SiteRegistry> = Arc::new(replica.clone());
    let services = admin::Services {
        mesh: mesh.client(),
        site: Some(site),
    };
    let mut admin_task = tokio::spawn(admin::serve(admin_listener, services, token, async {
        // A dropped sender stops the API too.
        let _ = admin_stopping.await;
    }));
    info!(address = %admin_addr, "admin API listening");

    let outcome = match announce(cx, &mesh, dir, dev, &credential, admin_addr).await {
        Ok(()) => until_stopped(&mut sigterm, &mut sigint, &mut admin_task).await,
        Err(e) => Err(e),
    };

    // Stop taking requests first, so none meets a mesh that is going away.
    let _ = stop_admin.send(());
    if !admin_task.is_finished()
        && tokio::time::timeout(ADMIN_DRAIN_TIMEOUT, &mut admin_task)
            .await
            .is_err()
    {
        admin_task.abort();
    }
    drop(steward);
    for task in [joining, desk].into_iter().flatten() {
        task.abort();
    }
    // The mesh goes first: its task serves the replica to peers, and lets go of it only once
    // it stops; then the replica can release its database.
    mesh.shutdown().await;
    if let Err(e) = replica.shutdown().await {
        error!(error = %e, "the site registry did not stop cleanly");
    }
    info!(peer = %peer_id, "node stopped");
    outcome
}

/// Starts this node's replica of its site registry and serves it to the mesh. On the first
/// node of a site, makes the site's Raft group with this node as its one voter; on a node
/// given bootstrap peers and not a member yet, starts asking them to add it as a learner,
/// and returns that task.
///
/// A node is the first of its site when its registry has no members yet and it was given no
/// peer to bootstrap from.
async fn start_registry(
    config: &Config,
    database: Arc<redb::Database>,
    mesh: &MeshHandle,
) -> Result<(Replica<MeshRegistryTransport>, Option<JoinHandle<()>>)> {
    let client = mesh.client();
    let transport = MeshRegistryTransport::new(&client);
    let node_id = raft_node_id(&mesh.peer_id());
    let replica = Replica::start_in(node_id, database, &ReplicaConfig::default(), transport)
        .await
        .context("cannot start the site registry")?;
    client
        .serve_registry(replica.clone())
        .await
        .context("cannot serve the site registry to the mesh")?;

    // Raft's own state, not its metrics: those are published a moment after start, and a
    // restarted first node must not take its site for a fresh one.
    let initialized = replica
        .is_initialized()
        .await
        .context("cannot read the site registry's state")?;
    if initialized {
        return Ok((replica, None));
    }
    let addrs = mesh
        .listen_addrs()
        .await
        .context("cannot read the mesh's listen addresses")?;
    let member = registry_member(&mesh.peer_id(), addrs.first());
    if config.mesh.bootstrap.is_empty() {
        replica
            .initialize([(node_id, member)].into_iter().collect())
            .await
            .context("cannot initialise the site registry")?;
        info!(
            node = format_args!("{node_id:016x}"),
            "site registry initialised with this node as its voter"
        );
        return Ok((replica, None));
    }
    info!(
        node = format_args!("{node_id:016x}"),
        "not a member of the site registry yet: asking the bootstrap peers to add this node"
    );
    let joining = tokio::spawn(join_registry(
        MeshRegistryTransport::new(&client),
        config.mesh.bootstrap.clone(),
        node_id,
        member,
    ));
    Ok((replica, Some(joining)))
}

/// Attaches a join desk with `keys` to the mesh: from now on, this node answers join
/// requests for its site.
async fn open_join_desk(
    keys: DeskKeys,
    replica: &Replica<MeshRegistryTransport>,
    mesh: &MeshHandle,
    config: &Config,
) -> Result<JoinHandle<()>> {
    let desk = JoinDesk::new(
        replica.clone(),
        keys.site_key,
        keys.site_ca,
        keys.fleet_root,
        config.credentials.node_lifetime.secs(),
    )?;
    let requests = mesh
        .client()
        .take_join_requests()
        .await
        .context("cannot take join requests from the mesh")?;
    info!("site CA key loaded: this node answers join requests");
    Ok(desk.spawn(requests))
}

/// Waits for SIGTERM or SIGINT, or for the admin API to fail, which stops the node too: a
/// node its operator cannot reach should not go on unattended.
async fn until_stopped(
    sigterm: &mut Signal,
    sigint: &mut Signal,
    admin_task: &mut JoinHandle<std::io::Result<()>>,
) -> Result<()> {
    tokio::select! {
        _ = sigterm.recv() => {
            info!(signal = "SIGTERM", "node stopping");
            Ok(())
        }
        _ = sigint.recv() => {
            info!(signal = "SIGINT", "node stopping");
            Ok(())
        }
        served = admin_task => {
            let e = match served {
                Ok(Ok(())) => anyhow!("the admin API stopped by itself"),
                Ok(Err(e)) => anyhow::Error::new(e).context("the admin API failed"),
                Err(e) => anyhow::Error::new(e).context("the admin API task failed"),
            };
            error!(error = %format!("{e:#}"), "node stopping");
            Err(e)
        }
    }
}

/// Tells the operator where the node can be reached and where its keys are.
async fn announce(
    cx: &mut Env<'_>,
    mesh: &MeshHandle,
    dir: &DataDir,
    dev: Option<&DevFleet>,
    credential: &Credential,
    admin_addr: SocketAddr,
) -> Result<()> {
    let peer_id = mesh.peer_id();
    let mut addrs = mesh
        .listen_addrs()
        .await
        .context("cannot read the mesh's listen addresses")?;
    // QUIC first: it is what a peer should dial (post-quantum hybrid, DESIGN §7).
    addrs.sort_by_key(|addr| !addr.iter().any(|p| matches!(p, Protocol::QuicV1)));

    let out = &mut *cx.out;
    if let Some(dev) = dev {
        let pki = dir.dev_pki();
        writeln!(
            out,
            "Created development fleet {:?} and site {:?}",
            dev.fleet, dev.site
        )?;
        writeln!(
            out,
            "  fleet root key  {} (mode 0600; development only)",
            pki.join(ROOT_KEY).display()
        )?;
        writeln!(
            out,
            "  site CA key     {} (mode 0600)",
            pki.join(SITE_KEY).display()
        )?;
        writeln!(
            out,
            "  more nodes      ward join-token create --role node, then on the new node: \
             ward run --bootstrap <a bootstrap address below> --join-token <token>"
        )?;
    }
    writeln!(out, "Ward node {peer_id} running")?;
    for addr in &addrs {
        writeln!(out, "  bootstrap    {}", with_peer(addr, peer_id))?;
    }
    writeln!(out, "  admin API    http://{admin_addr}")?;
    writeln!(out, "  data dir     {}", dir.path().display())?;
    writeln!(
        out,
        "  node key     {} (mode 0600)",
        dir.file(NODE_KEY).display()
    )?;
    writeln!(
        out,
        "  credential   {} (site {}, valid until {})",
        dir.file(NODE_CREDENTIAL).display(),
        credential.claims().site.as_deref().unwrap_or("-"),
        rfc3339(credential.claims().expires)
    )?;
    if dev.is_none() && dir.dev_pki().exists() {
        writeln!(
            out,
            "  dev keys     {} (development fleet)",
            dir.dev_pki().display()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// `addr` ending in `/p2p/<peer>`, the form a bootstrap flag takes.
fn with_peer(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(_)) => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(peer)),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["ward", "run"].iter().chain(flags);
        match Cli::try_parse_from(argv).expect("flags parse").command {
            Command::Run(args) => args,
            _ => unreachable!("parsed as ward run"),
        }
    }

    #[test]
    fn flags_override_the_file_and_leave_the_rest() {
        let file = Config::parse(
            "data_dir = \"/var/lib/ward\"\n[mesh]\nbootstrap = [\"/ip4/10.0.0.1/udp/7400/quic-v1\"]\n\
             [admin]\nlisten = \"127.0.0.1:9000\"",
        )
        .expect("file parses");
        let merged = merge(
            file,
            run_args(&[
                "--listen",
                "/ip4/127.0.0.1/udp/0/quic-v1,/ip4/127.0.0.1/tcp/0",
                "--pq",
                "off",
                "--log-format",
                "json",
            ]),
        );
        assert_eq!(merged.data_dir, PathBuf::from("/var/lib/ward"));
        assert_eq!(merged.mesh.listen.len(), 2, "comma-separated addresses");
        assert_eq!(merged.mesh.bootstrap.len(), 1, "kept from the file");
        assert_eq!(merged.admin.listen.port(), 9000, "kept from the file");
        assert_eq!(merged.mesh.pq, PqMode::Off);
        assert_eq!(merged.log.format, LogFormat::Json);
    }

    #[test]
    fn a_flag_can_complete_the_file() {
        let file = Config::parse("[admin]\nlisten = \"0.0.0.0:7480\"").expect("file parses");
        assert!(file.validate().is_err(), "no token: refused on its own");
        let merged = merge(
            file,
            run_args(&["--admin-token-file", "/etc/ward/admin.token"]),
        );
        merged.validate().expect("the flag supplies the token file");
    }

    #[test]
    fn pq_flag_reads_the_configuration_spelling() {
        assert_eq!(parse_pq("required"), Ok(PqMode::Required));
        assert_eq!(parse_pq("hybrid"), Ok(PqMode::Hybrid));
        assert!(parse_pq("Required").is_err());
    }

    #[test]
    fn data_dir_anchors_keep_the_site_bundle_names() {
        assert_eq!(FLEET_ROOT_CREDENTIAL, ROOT_CREDENTIAL);
        assert_eq!(SITE_CA_CREDENTIAL, SITE_CREDENTIAL);
    }

    #[test]
    fn a_fresh_directory_becomes_a_dev_node_that_loads_again() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = DataDir::open(temp.path()).expect("opened");
        let config = Config::default();
        let now = 1_800_000_000;
        create_dev_fleet(&dir, &config, now).expect("dev fleet");
        let first = NodeTrust::load(&dir, &config, now).expect("loads");
        let again = NodeTrust::load(&dir, &config, now + 60).expect("loads again");
        assert_eq!(first.peer_id, again.peer_id);
        assert_eq!(first.credential.claims().subject, first.peer_id.to_base58());
        assert!(!dir.is_fresh());
    }

    #[test]
    fn an_identity_without_a_credential_says_how_to_get_one() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = DataDir::open(temp.path()).expect("opened");
        let (identity, _) = dir.load_or_create_identity().expect("identity");
        let peer_id = identity.public().to_peer_id();
        let err = NodeTrust::load(&dir, &Config::default(), 1_800_000_000)
            .err()
            .expect("no credential");
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("ward cert issue --role node --subject {peer_id}")),
            "{text}"
        );
        assert!(text.contains(FLEET_ROOT_CREDENTIAL), "{text}");
    }
}
