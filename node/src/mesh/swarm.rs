//! The mesh's libp2p swarm, run on tokio: QUIC and TCP with Noise and Yamux, identify,
//! Kademlia, connection limits, admission of every peer before anything it says counts,
//! gossip of revocations and credentials, and anti-entropy.
//!
//! QUIC is preferred by listing it first in the default listen addresses; the mesh dials
//! exactly the address it is given. With [`PqMode::Required`], TCP connections are refused
//! and only QUIC, whose TLS 1.3 key exchange is X25519MLKEM768, carries the mesh.
//!
//! ```text
//! dialer                                         listener
//!   ── connection (Noise or QUIC-TLS authenticates both PeerIds) ──
//!   AdmissionMessage (request)  ─────────────▶   Admission::check
//!                                                  refused: ban, disconnect, no answer
//!   Admission::check  ◀─────────────────────────   AdmissionMessage (response)
//!     refused: ban, disconnect
//!   then both: anti-entropy Summary ⇄, gossipsub mesh, Kademlia routing
//! ```
//!
//! A peer counts as admitted only once its own message passed [`Admission::check`]. Until
//! then nothing it sends is acted on: gossip it forwards is ignored, its anti-entropy
//! requests go unanswered, identify reports from it are dropped, and Kademlia learns its
//! address only once it is admitted (inserts into the routing table are manual). Gossipsub
//! gives a pending peer an application score below its publish threshold, so nothing is
//! published to it and it is not grafted into the topic mesh. Peers that are not admitted
//! within [`MeshConfig::admission_timeout`] are disconnected.
//!
//! Gossip is validated by the application (gossipsub's `validate_messages`): a message is
//! forwarded only after [`Trust`] has verified it. A forged revocation or credential is
//! rejected, which costs its sender score (gossipsub's P4 penalty); duplicates are ignored.
//! A revocation is enforced on receipt: admitted peers it revokes are banned at once.
//!
//! Bans use `libp2p::allow_block_list`: a blocked peer's connections are denied as soon as
//! the transport has authenticated its PeerId, before any protocol runs, in both directions.
//! The swarm task keeps each ban's expiry and lifts it on its housekeeping tick.
//!
//! The swarm is owned by one task; [`MeshClient`] talks to it over a bounded channel, and
//! [`MeshEvent`]s are broadcast to subscribers.

use std::collections::HashMap;
use std::io;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::kad::{self, store::MemoryStore};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{DialError, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, TransportError, allow_block_list, connection_limits,
    identify, noise, tcp, yamux,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use ward_crypto::backend::{Backend as _, RustCrypto};
use ward_crypto::chain::DEFAULT_LEEWAY_SECS;
use ward_crypto::{Credential, Revocation, RevocationDigest, RevocationError, Role};

use super::admission::{Admission, AdmissionMessage, AdmittedPeer, MAX_ADMISSION_MESSAGE_LEN};
use super::sync::{
    self, CREDENTIALS_TOPIC, MAX_FETCH, MAX_GOSSIP_LEN, MAX_INVENTORY, MAX_SITE_CAS,
    MAX_SYNC_REQUEST_LEN, MAX_SYNC_RESPONSE_LEN, REVOCATIONS_TOPIC, SyncRequest, SyncResponse,
};
use super::trust::{CredentialRefused, EntryId, RevocationRefused, Trust};
use crate::metrics::Metrics;
use crate::store::{MeshStore, StoreError};

/// The admission protocol's name.
pub const ADMISSION_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/admission/1");

/// The anti-entropy protocol's name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/sync/1");

/// The Kademlia protocol's name: Ward's own DHT, apart from any public one.
pub const KADEMLIA_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/kad/1");

/// The protocol version identify announces.
const IDENTIFY_PROTOCOL: &str = "/ward/1";

/// Commands queued to the swarm task at most.
const COMMAND_QUEUE: usize = 64;

/// Events kept for a slow subscriber before it starts missing them.
const EVENT_QUEUE: usize = 1024;

/// How often the swarm task lifts expired bans and drops peers too slow to be admitted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(200);

/// How long [`Mesh::spawn`] waits for its listeners to report their addresses.
const LISTEN_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Gossipsub application score of a peer not admitted yet: with the weight below, -60,
/// under the publish threshold (-50) and above the graylist threshold (-80), so that its
/// subscriptions are recorded for when it is admitted, but nothing is sent to it.
const PENDING_APP_SCORE: f64 = -6.0;
const APP_SCORE_WEIGHT: f64 = 10.0;

/// Gossipsub penalty per invalid message, squared by the count: one forged message puts a
/// peer at -40, under the gossip threshold; two put it under the graylist threshold, where
/// everything it sends is dropped.
const INVALID_MESSAGE_WEIGHT: f64 = -40.0;

/// How the mesh listens, whom it dials first, and its limits.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    /// Addresses to listen on: `/ip4/0.0.0.0/udp/7400/quic-v1` and `/ip4/0.0.0.0/tcp/7400`
    /// by default.
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start.
    pub bootstrap: Vec<Multiaddr>,
    /// How long a refused peer stays banned.
    pub ban_duration: Duration,
    /// How long a new peer has to be admitted before it is disconnected.
    pub admission_timeout: Duration,
    /// Established connections at most, all peers together.
    pub max_connections: u32,
    /// Established connections per peer at most. Two lets simultaneous dials both succeed.
    pub max_connections_per_peer: u32,
    /// Incoming connections in their handshake at most.
    pub max_pending_incoming: u32,
    /// How long a connection with no open stream stays up.
    pub idle_timeout: Duration,
    /// Whether connections must be post-quantum hybrid. `Required` leaves TCP out of the
    /// transport, so only QUIC, whose TLS 1.3 offers X25519MLKEM768, carries the mesh.
    pub pq: PqMode,
    /// How often the revocation-set digest is compared with every admitted peer, besides
    /// once on admission.
    pub anti_entropy_interval: Duration,
    /// Gossipsub's heartbeat, which maintains the topic mesh.
    pub gossip_heartbeat: Duration,
    /// How often Kademlia walks the DHT to find peers beyond the bootstrap peers.
    pub discovery_interval: Duration,
}

/// Post-quantum policy for mesh connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PqMode {
    /// Classical key exchange is acceptable.
    Off,
    /// Prefer hybrid key exchange (QUIC first); accept TCP with Noise too.
    #[default]
    Hybrid,
    /// Only hybrid key exchange: QUIC alone, no TCP.
    Required,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            listen: vec![
                "/ip4/0.0.0.0/udp/7400/quic-v1"
                    .parse()
                    .expect("the default QUIC address is a valid multiaddr"),
                "/ip4/0.0.0.0/tcp/7400"
                    .parse()
                    .expect("the default TCP address is a valid multiaddr"),
            ],
            bootstrap: Vec::new(),
            ban_duration: Duration::from_secs(600),
            admission_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_connections_per_peer: 2,
            max_pending_incoming: 64,
            // Gossipsub keeps mesh connections busy; the rest close after an hour of silence.
            idle_timeout: Duration::from_secs(3600),
            pq: PqMode::default(),
            anti_entropy_interval: Duration::from_secs(30),
            gossip_heartbeat: Duration::from_millis(700),
            discovery_interval: Duration::from_secs(60),
        }
    }
}

/// What happened to a peer, for whoever watches the mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshEvent {
    /// The peer's credential passed admission.
    Admitted(PeerId),
    /// The peer was refused, with the reason (no secrets in it).
    Refused(PeerId, String),
    /// The peer was banned for [`MeshConfig::ban_duration`].
    Banned(PeerId),
    /// The peer's ban ended; it may connect again.
    BanLifted(PeerId),
    /// The peer's last connection closed.
    Disconnected(PeerId),
    /// A revocation is enforced from now on.
    RevocationApplied {
        /// Its entry id.
        entry: EntryId,
        /// How it arrived.
        via: Via,
    },
    /// A gossip message was rejected as invalid; its sender pays in score.
    GossipRejected {
        /// The peer that forwarded it.
        from: PeerId,
        /// Why (no secrets in it).
        reason: String,
    },
}

/// How a revocation reached this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Submitted to this node, by the operator or the admin API.
    Local,
    /// Gossip.
    Gossip,
    /// Anti-entropy with a peer.
    Sync,
}

/// What [`MeshClient::submit_revocation`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// The revocation is new: it is stored, enforced and published.
    Applied,
    /// An equivalent revocation (same authority, same target) was enforced already.
    AlreadyEnforced,
}

/// A snapshot of the mesh, for the admin API.
#[derive(Clone, Debug)]
pub struct MeshStatus {
    /// This node's PeerId.
    pub peer_id: PeerId,
    /// Where it listens.
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers connected and admitted.
    pub admitted_peers: Vec<PeerId>,
    /// Peers in this node's gossipsub mesh for revocations.
    pub gossip_peers: usize,
    /// Revocations enforced.
    pub revocation_count: usize,
    /// Their digest, equal at two nodes exactly when they enforce the same revocations.
    pub revocation_digest: RevocationDigest,
    /// Site CAs trusted.
    pub site_cas: usize,
}

/// Why the mesh could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// The transport stack could not be built.
    #[error("building the transport failed: {0}")]
    Transport(#[from] noise::Error),
    /// A listen address was refused.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        source: TransportError<io::Error>,
    },
    /// A listener reported no address in time.
    #[error("listeners reported no address within {0:?}")]
    ListenTimeout(Duration),
    /// A dial could not start.
    #[error("cannot dial: {0}")]
    Dial(#[from] DialError),
    /// The swarm task has stopped.
    #[error("the mesh has stopped")]
    Stopped,
    /// The address is TCP and the mesh requires post-quantum key exchange.
    #[error("{0} is a TCP address, and pq = \"required\" allows QUIC only")]
    PqRequired(Multiaddr),
    /// A submitted revocation does not verify.
    #[error("revocation refused: {0}")]
    RevocationInvalid(RevocationError),
    /// The store failed; nothing was enforced that is not stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The gossipsub behaviour could not be configured.
    #[error("gossip configuration: {0}")]
    Gossip(String),
}

#[derive(NetworkBehaviour)]
struct MeshBehaviour {
    // Checked first: a banned peer is turned away before the other behaviours see it.
    blocks: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    admission: request_response::cbor::Behaviour<AdmissionMessage, AdmissionMessage>,
    sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    gossip: gossipsub::Behaviour,
    kademlia: kad::Behaviour<MemoryStore>,
    identify: identify::Behaviour,
}

enum Command {
    Status(oneshot::Sender<MeshStatus>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    AdmittedPeers(oneshot::Sender<Vec<PeerId>>),
    Dial(Multiaddr, oneshot::Sender<Result<(), MeshError>>),
    Submit(
        Box<Revocation>,
        oneshot::Sender<Result<Submitted, MeshError>>,
    ),
    GossipScore(PeerId, oneshot::Sender<Option<f64>>),
    #[cfg(feature = "test-hooks")]
    PublishUnchecked(&'static str, Vec<u8>, oneshot::Sender<bool>),
    Shutdown,
}

/// The mesh of one node.
#[derive(Debug)]
pub struct Mesh;

impl Mesh {
    /// Loads what `store` holds into `admission`, builds the swarm for `identity`, starts
    /// listening and dialling, and runs it on a tokio task. `local` is what this node
    /// presents to its peers. Returns once every listener has reported an address; no
    /// connection is accepted before the store is loaded.
    pub async fn spawn(
        config: MeshConfig,
        identity: Keypair,
        local: AdmissionMessage,
        admission: Admission,
        store: MeshStore,
    ) -> Result<MeshHandle, MeshError> {
        let trust = Trust::load(admission, store, unix_now())?;
        let mut metrics = Metrics::new();
        metrics.revocations.set(gauge(trust.revocation_count()));
        let mut swarm = build_swarm(&config, identity, &mut metrics)?;
        let metrics = Arc::new(metrics);
        let local_peer_id = *swarm.local_peer_id();

        // Listen, and wait until each listener has an address, so callers can hand them out.
        let mut waiting = Vec::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|source| MeshError::Listen {
                    addr: addr.clone(),
                    source,
                })?;
            waiting.push(id);
        }
        let started = tokio::time::timeout(LISTEN_STARTUP_TIMEOUT, async {
            while !waiting.is_empty() {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        listener_id,
                        address,
                    } => {
                        info!(peer = %local_peer_id, %address, "mesh listening");
                        waiting.retain(|id| *id != listener_id);
                    }
                    SwarmEvent::ListenerError { error, .. } => {
                        warn!(%error, "mesh listener failed");
                    }
                    other => debug!(event = ?other, "swarm event during startup"),
                }
            }
        })
        .await;
        if started.is_err() {
            return Err(MeshError::ListenTimeout(LISTEN_STARTUP_TIMEOUT));
        }

        for addr in &config.bootstrap {
            if config.pq == PqMode::Required && is_tcp(addr) {
                warn!(%addr, "bootstrap address skipped: TCP while pq = \"required\"");
                continue;
            }
            if let Err(error) = swarm.dial(addr.clone()) {
                warn!(%addr, %error, "bootstrap dial failed");
            }
        }

        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let runtime = MeshRuntime {
            swarm,
            config,
            local,
            trust,
            peers: HashMap::new(),
            bans: HashMap::new(),
            syncing: HashMap::new(),
            pulled: HashMap::new(),
            events: events.clone(),
            metrics: metrics.clone(),
        };
        let task = tokio::spawn(runtime.run(command_rx));
        Ok(MeshHandle {
            client: MeshClient {
                peer_id: local_peer_id,
                commands,
                events,
                metrics,
            },
            task,
        })
    }
}

fn build_swarm(
    config: &MeshConfig,
    identity: Keypair,
    metrics: &mut Metrics,
) -> Result<Swarm<MeshBehaviour>, MeshError> {
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_incoming));
    let admission_codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_ADMISSION_MESSAGE_LEN)
        .set_response_size_maximum(MAX_ADMISSION_MESSAGE_LEN);
    let admission_config =
        request_response::Config::default().with_request_timeout(config.admission_timeout);
    let sync_codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_SYNC_REQUEST_LEN)
        .set_response_size_maximum(MAX_SYNC_RESPONSE_LEN);
    let gossip = build_gossip(config, &identity)?.with_metrics(
        metrics.sub_registry("gossipsub"),
        gossipsub::MetricsConfig::default(),
    );
    let builder = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_quic()
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let mut kad_config = kad::Config::new(KADEMLIA_PROTOCOL);
            kad_config
                .set_kbucket_inserts(kad::BucketInserts::Manual)
                .set_periodic_bootstrap_interval(Some(config.discovery_interval));
            let mut kademlia =
                kad::Behaviour::with_config(peer_id, MemoryStore::new(peer_id), kad_config);
            kademlia.set_mode(Some(kad::Mode::Server));
            MeshBehaviour {
                blocks: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(limits),
                admission: request_response::Behaviour::with_codec(
                    admission_codec,
                    [(ADMISSION_PROTOCOL, ProtocolSupport::Full)],
                    admission_config,
                ),
                sync: request_response::Behaviour::with_codec(
                    sync_codec,
                    [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default(),
                ),
                gossip,
                kademlia,
                identify: identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_PROTOCOL.into(),
                    key.public(),
                )),
            }
        });
    // The behaviour is built infallibly, so the error type is uninhabited.
    let Ok(builder) = builder;
    let swarm = builder
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    Ok(swarm)
}

/// Gossipsub for Ward's two topics: messages signed by their origin, identified by their
/// content (so the same revocation published twice is one message), validated by the
/// application before they are forwarded, and peers scored.
fn build_gossip(
    config: &MeshConfig,
    identity: &Keypair,
) -> Result<gossipsub::Behaviour, MeshError> {
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .heartbeat_interval(config.gossip_heartbeat)
        // The two sides of a connection admit each other a round trip apart; a GRAFT that
        // lands in between is refused (the peer is still pending) with this backoff, which
        // must stay short or that link is left out of the topic mesh for a minute.
        .prune_backoff(config.gossip_heartbeat * 2)
        .max_transmit_size(4 * MAX_GOSSIP_LEN)
        .message_id_fn(|message: &gossipsub::Message| {
            gossipsub::MessageId::from(content_id(&message.data))
        })
        .build()
        .map_err(|e| MeshError::Gossip(e.to_string()))?;
    let mut gossip =
        gossipsub::Behaviour::new(MessageAuthenticity::Signed(identity.clone()), gossip_config)
            .map_err(|e| MeshError::Gossip(e.into()))?;

    // Revocations and credentials are rare, so the parameters that reward or demand steady
    // traffic (P2, P3) are off; what counts is not sending invalid messages (P4) and being
    // admitted (the application score).
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            600,
        )),
        ..Default::default()
    };
    let mut score_params = gossipsub::PeerScoreParams {
        app_specific_weight: APP_SCORE_WEIGHT,
        // Nodes of one site often share an address (NAT, or loopback in tests); counting
        // peers per IP would punish exactly them.
        ip_colocation_factor_weight: 0.0,
        ..Default::default()
    };
    for topic in [REVOCATIONS_TOPIC, CREDENTIALS_TOPIC] {
        score_params
            .topics
            .insert(IdentTopic::new(topic).hash(), topic_params.clone());
    }
    gossip
        .with_peer_score(score_params, gossipsub::PeerScoreThresholds::default())
        .map_err(MeshError::Gossip)?;
    for topic in [REVOCATIONS_TOPIC, CREDENTIALS_TOPIC] {
        gossip
            .subscribe(&IdentTopic::new(topic))
            .map_err(|e| MeshError::Gossip(e.to_string()))?;
    }
    Ok(gossip)
}

/// A gossip message's id: a hash of its content, truncated to 20 bytes.
fn content_id(data: &[u8]) -> Vec<u8> {
    let hash = RustCrypto.sha256(&[data]);
    hash[..20].to_vec()
}

/// Talks to a running mesh; cheap to clone.
#[derive(Clone, Debug)]
pub struct MeshClient {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<MeshEvent>,
    metrics: Arc<Metrics>,
}

impl MeshClient {
    /// This node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MeshEvent> {
        self.events.subscribe()
    }

    /// The node's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// A snapshot of the mesh.
    pub async fn status(&self) -> Result<MeshStatus, MeshError> {
        self.ask(Command::Status).await
    }

    /// The addresses the mesh listens on.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, MeshError> {
        self.ask(Command::ListenAddrs).await
    }

    /// Peers connected and admitted.
    pub async fn admitted_peers(&self) -> Result<Vec<PeerId>, MeshError> {
        self.ask(Command::AdmittedPeers).await
    }

    /// Dials `addr`; admission starts once the connection is up.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), MeshError> {
        self.ask(|reply| Command::Dial(addr, reply)).await?
    }

    /// Verifies `revocation` against the fleet root and the trusted site CAs, stores it,
    /// enforces it (admitted peers it revokes are banned before this returns) and publishes
    /// it to the mesh. Peers that miss the gossip get it by anti-entropy.
    pub async fn submit_revocation(&self, revocation: Revocation) -> Result<Submitted, MeshError> {
        self.ask(|reply| Command::Submit(Box::new(revocation), reply))
            .await?
    }

    /// The gossipsub score this node gives `peer`, if it knows the peer.
    pub async fn gossip_score(&self, peer: PeerId) -> Result<Option<f64>, MeshError> {
        self.ask(|reply| Command::GossipScore(peer, reply)).await
    }

    /// Publishes `data` on `topic` without checking it first, as a misbehaving node would:
    /// for tests of what peers do with invalid gossip. Returns whether it was sent.
    #[cfg(feature = "test-hooks")]
    pub async fn publish_unchecked(
        &self,
        topic: &'static str,
        data: Vec<u8>,
    ) -> Result<bool, MeshError> {
        self.ask(|reply| Command::PublishUnchecked(topic, data, reply))
            .await
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MeshError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| MeshError::Stopped)?;
        answer.await.map_err(|_| MeshError::Stopped)
    }
}

/// Owns a running mesh: a [`MeshClient`] that also holds the swarm task. Dropping the
/// handle leaves the task running until every client is gone; `shutdown` stops it.
#[derive(Debug)]
pub struct MeshHandle {
    client: MeshClient,
    task: JoinHandle<()>,
}

impl MeshHandle {
    /// A client for other tasks.
    pub fn client(&self) -> MeshClient {
        self.client.clone()
    }

    /// Stops the mesh, closing every connection, and waits for the task to end.
    pub async fn shutdown(self) {
        // A send error means the task is gone already.
        let _ = self.client.commands.send(Command::Shutdown).await;
        let _ = self.task.await;
    }
}

impl Deref for MeshHandle {
    type Target = MeshClient;

    fn deref(&self) -> &MeshClient {
        &self.client
    }
}

/// Where a connected peer stands.
enum PeerState {
    /// Connected since `since`, not admitted yet; what identify reported is held back.
    Pending {
        since: Instant,
        listen_addrs: Vec<Multiaddr>,
    },
    Admitted(Box<AdmittedPeer>),
}

struct MeshRuntime {
    swarm: Swarm<MeshBehaviour>,
    config: MeshConfig,
    local: AdmissionMessage,
    trust: Trust,
    peers: HashMap<PeerId, PeerState>,
    bans: HashMap<PeerId, Instant>,
    /// Peers with an anti-entropy exchange in flight (so that triggers do not pile up more),
    /// with the digest of the inventory being fetched from, once known.
    syncing: HashMap<PeerId, Option<[u8; 32]>>,
    /// Per peer, the digest of its set as of the last exchange that pulled everything from
    /// it; a Summary with that digest again starts no exchange back.
    pulled: HashMap<PeerId, [u8; 32]>,
    events: broadcast::Sender<MeshEvent>,
    metrics: Arc<Metrics>,
}

impl MeshRuntime {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        let mut anti_entropy = tokio::time::interval(self.config.anti_entropy_interval);
        anti_entropy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = housekeeping.tick() => self.housekeeping(),
                _ = anti_entropy.tick() => self.anti_entropy_round(),
            }
        }
        info!(peer = %self.swarm.local_peer_id(), "mesh stopped");
    }

    fn on_command(&mut self, command: Command) {
        // A reply error means the asker gave up waiting; nothing to do about it.
        match command {
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::AdmittedPeers(reply) => {
                let _ = reply.send(self.admitted().collect());
            }
            Command::Dial(addr, reply) => {
                let result = if self.config.pq == PqMode::Required && is_tcp(&addr) {
                    Err(MeshError::PqRequired(addr))
                } else {
                    self.swarm.dial(addr).map_err(MeshError::from)
                };
                let _ = reply.send(result);
            }
            Command::Submit(revocation, reply) => {
                let _ = reply.send(self.submit(*revocation));
            }
            Command::GossipScore(peer, reply) => {
                let _ = reply.send(self.swarm.behaviour().gossip.peer_score(&peer));
            }
            #[cfg(feature = "test-hooks")]
            Command::PublishUnchecked(topic, data, reply) => {
                let sent = self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .publish(IdentTopic::new(topic), data)
                    .is_ok();
                let _ = reply.send(sent);
            }
            // The run loop stops on it before dispatching here.
            Command::Shutdown => {}
        }
    }

    fn admitted(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.iter().filter_map(|(peer, state)| match state {
            PeerState::Admitted(_) => Some(*peer),
            PeerState::Pending { .. } => None,
        })
    }

    fn status(&self) -> MeshStatus {
        let topic = IdentTopic::new(REVOCATIONS_TOPIC).hash();
        MeshStatus {
            peer_id: *self.swarm.local_peer_id(),
            listen_addrs: self.swarm.listeners().cloned().collect(),
            admitted_peers: self.admitted().collect(),
            gossip_peers: self.swarm.behaviour().gossip.mesh_peers(&topic).count(),
            revocation_count: self.trust.revocation_count(),
            revocation_digest: self.trust.digest(),
            site_cas: self.trust.admission().site_cas().len(),
        }
    }

    fn submit(&mut self, revocation: Revocation) -> Result<Submitted, MeshError> {
        let bytes = revocation.as_bytes().to_vec();
        let entry = match self.trust.take_revocation(revocation) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(Submitted::AlreadyEnforced),
            Err(RevocationRefused::Invalid(error)) => {
                return Err(MeshError::RevocationInvalid(error));
            }
            Err(RevocationRefused::Store(error)) => return Err(MeshError::Store(error)),
        };
        self.applied(entry, Via::Local);
        let data = sync::encode_gossip_revocation(unix_millis(), &bytes);
        match self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(IdentTopic::new(REVOCATIONS_TOPIC), data)
        {
            Ok(_) => {
                self.metrics.gossip_out.inc();
            }
            // Alone for now: anti-entropy hands it to whoever connects.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                info!("revocation enforced; no gossip peer yet, anti-entropy will spread it");
            }
            Err(error) => warn!(%error, "revocation enforced but not published"),
        }
        Ok(Submitted::Applied)
    }

    /// A revocation was taken in: count it, tell watchers, and cut off peers it revokes.
    fn applied(&mut self, entry: EntryId, via: Via) {
        self.metrics
            .revocations
            .set(gauge(self.trust.revocation_count()));
        self.emit(MeshEvent::RevocationApplied { entry, via });
        self.enforce_on_admitted();
    }

    /// DESIGN §1: a revoked node is refused at once, including on connections it already
    /// holds.
    fn enforce_on_admitted(&mut self) {
        let revoked: Vec<(PeerId, String)> = self
            .peers
            .iter()
            .filter_map(|(peer, state)| match state {
                PeerState::Admitted(admitted) => self
                    .trust
                    .admission()
                    .revoked(admitted)
                    .map(|by| (*peer, format!("credential is revoked: {by}"))),
                PeerState::Pending { .. } => None,
            })
            .collect();
        for (peer, reason) in revoked {
            warn!(%peer, %reason, "admitted peer revoked");
            self.metrics.refused.inc();
            self.emit(MeshEvent::Refused(peer, reason));
            self.ban(peer);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<MeshBehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => self.on_connection(peer_id, &endpoint),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                debug!(peer = %peer_id, "peer disconnected");
                self.syncing.remove(&peer_id);
                self.pulled.remove(&peer_id);
                if let Some(state) = self.peers.remove(&peer_id) {
                    if matches!(state, PeerState::Admitted(_)) {
                        self.metrics.peers.dec();
                    }
                    self.emit(MeshEvent::Disconnected(peer_id));
                }
            }
            // Judged by the cause, not by `bans`: the ban may expire between the denial and
            // this event.
            SwarmEvent::IncomingConnectionError {
                peer_id: Some(peer),
                error: ListenError::Denied { cause },
                ..
            } if cause.downcast_ref::<allow_block_list::Blocked>().is_some() => {
                debug!(%peer, "connection from banned peer denied");
                self.emit(MeshEvent::Refused(peer, "banned".into()));
            }
            SwarmEvent::Behaviour(MeshBehaviourEvent::Admission(event)) => {
                self.on_admission_event(event)
            }
            SwarmEvent::Behaviour(MeshBehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Gossip(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.on_identified(peer_id, info.listen_addrs),
            SwarmEvent::Behaviour(MeshBehaviourEvent::Kademlia(event)) => self.on_kademlia(event),
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "mesh listening"),
            other => debug!(event = ?other, "swarm event"),
        }
    }

    fn on_connection(&mut self, peer: PeerId, endpoint: &ConnectedPoint) {
        // The block list denies banned peers first; this is a second line in case a ban
        // raced with a handshake already past that check.
        if self.bans.contains_key(&peer) {
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        if self.config.pq == PqMode::Required && is_tcp(endpoint.get_remote_address()) {
            info!(%peer, "TCP connection closed: pq = \"required\" allows QUIC only");
            let _ = self.swarm.disconnect_peer_id(peer);
            self.emit(MeshEvent::Refused(
                peer,
                "TCP while post-quantum is required".into(),
            ));
            return;
        }
        let state = self
            .peers
            .entry(peer)
            .or_insert_with(|| PeerState::Pending {
                since: Instant::now(),
                listen_addrs: Vec::new(),
            });
        if matches!(state, PeerState::Pending { .. }) {
            // Nothing is published to a pending peer, and it is not grafted.
            self.swarm
                .behaviour_mut()
                .gossip
                .set_application_score(&peer, PENDING_APP_SCORE);
            // The dialer speaks first; the listener answers only after admitting it. A
            // request goes out on every new outbound connection while the peer is pending,
            // since an earlier one may have been sent on a connection that is closing;
            // duplicates are answered idempotently.
            if endpoint.is_dialer() {
                self.send_admission_request(peer);
            }
        }
    }

    fn on_identified(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        match self.peers.get_mut(&peer) {
            Some(PeerState::Admitted(_)) => {
                for addr in addrs {
                    self.swarm.behaviour_mut().kademlia.add_address(&peer, addr);
                }
            }
            // Held until admission: an unadmitted peer's addresses never reach the DHT.
            Some(PeerState::Pending { listen_addrs, .. }) => *listen_addrs = addrs,
            None => {}
        }
    }

    fn on_kademlia(&mut self, event: kad::Event) {
        match event {
            // Kademlia met a peer during a walk; meet it too, and admission decides.
            kad::Event::RoutablePeer { peer, address }
            | kad::Event::PendingRoutablePeer { peer, address } => {
                if !self.swarm.is_connected(&peer) && !self.bans.contains_key(&peer) {
                    self.dial_discovered(peer, address);
                }
            }
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(found)),
                ..
            } => {
                for info in found.peers {
                    if let Some(addr) = info.addrs.first()
                        && !self.swarm.is_connected(&info.peer_id)
                        && !self.bans.contains_key(&info.peer_id)
                    {
                        self.dial_discovered(info.peer_id, addr.clone());
                    }
                }
            }
            other => debug!(event = ?other, "kademlia event"),
        }
    }

    fn dial_discovered(&mut self, peer: PeerId, address: Multiaddr) {
        if self.config.pq == PqMode::Required && is_tcp(&address) {
            return;
        }
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        debug!(%peer, %address, "dialling a peer found by discovery");
        let _ = self
            .swarm
            .dial(address.with_p2p(peer).unwrap_or_else(|a| a));
    }

    fn send_admission_request(&mut self, peer: PeerId) {
        debug!(%peer, "admission request sent");
        self.swarm
            .behaviour_mut()
            .admission
            .send_request(&peer, self.local.clone());
    }

    fn on_admission_event(
        &mut self,
        event: request_response::Event<AdmissionMessage, AdmissionMessage>,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // Already admitted on another connection: answer again, so a simultaneous
                // dial completes on both sides.
                let admitted = matches!(self.peers.get(&peer), Some(PeerState::Admitted(_)))
                    || self.admit(peer, &request);
                if admitted {
                    let response = self.local.clone();
                    if self
                        .swarm
                        .behaviour_mut()
                        .admission
                        .send_response(channel, response)
                        .is_err()
                    {
                        debug!(%peer, "admission response not sent: connection gone");
                    }
                }
            }
            Event::Message {
                peer,
                message: Message::Response { response, .. },
                ..
            } => {
                if matches!(self.peers.get(&peer), Some(PeerState::Pending { .. })) {
                    self.admit(peer, &response);
                }
            }
            Event::OutboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "admission request failed");
                // The request rode a connection that closed while another is still up: ask
                // again there. Each retry needs a closed connection, so retries are bounded
                // by the connections the peer makes, and the admission timeout ends them.
                if matches!(error, request_response::OutboundFailure::ConnectionClosed)
                    && matches!(self.peers.get(&peer), Some(PeerState::Pending { .. }))
                    && self.swarm.is_connected(&peer)
                {
                    self.send_admission_request(peer);
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "admission request not answered");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Checks `peer`'s message; admits it, or refuses and bans it. Returns whether admitted.
    fn admit(&mut self, peer: PeerId, message: &AdmissionMessage) -> bool {
        let mut admitted = match self.trust.admission().check(&peer, message, unix_now()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                warn!(%peer, reason = %refusal, "peer refused");
                self.metrics.refused.inc();
                self.emit(MeshEvent::Refused(peer, refusal.to_string()));
                self.ban(peer);
                return false;
            }
        };
        if let Err(error) = self.trust.take_admitted(&mut admitted) {
            // Admission does not depend on it; the site CA is trusted in memory regardless.
            warn!(%peer, %error, "admitted peer's credentials not stored");
        }
        info!(%peer, subject = %admitted.credential.claims().subject, "peer admitted");
        let credential = admitted.credential.clone();
        let held_addrs = match self
            .peers
            .insert(peer, PeerState::Admitted(Box::new(admitted)))
        {
            Some(PeerState::Pending { listen_addrs, .. }) => listen_addrs,
            _ => Vec::new(),
        };
        self.metrics.admitted.inc();
        self.metrics.peers.inc();
        let behaviour = self.swarm.behaviour_mut();
        behaviour.gossip.set_application_score(&peer, 0.0);
        for addr in held_addrs {
            behaviour.kademlia.add_address(&peer, addr);
        }
        self.emit(MeshEvent::Admitted(peer));
        self.publish_credential(&credential);
        self.start_sync(peer);
        true
    }

    /// Tells the mesh about a node credential newly learned, so that nodes that never meet
    /// this peer still hold it.
    fn publish_credential(&mut self, credential: &Credential) {
        let topic = IdentTopic::new(CREDENTIALS_TOPIC);
        match self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(topic, credential.as_bytes().to_vec())
        {
            Ok(_) => {
                self.metrics.gossip_out.inc();
            }
            // Someone published it first (content-addressed ids), or no peer is in the mesh
            // yet: either way it is not lost, admission and anti-entropy carry it.
            Err(error) => {
                debug!(%error, "credential not published");
            }
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = event
        else {
            return;
        };
        let acceptance = self.judge_gossip(&propagation_source, &message);
        if let (MessageAcceptance::Reject, reason) = &acceptance {
            warn!(peer = %propagation_source, %reason, "invalid gossip rejected");
            self.metrics.gossip_rejected.inc();
            self.emit(MeshEvent::GossipRejected {
                from: propagation_source,
                reason: reason.clone(),
            });
        }
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&message_id, &propagation_source, acceptance.0);
    }

    /// Decides what becomes of a gossip message, taking it in if it is valid and new.
    fn judge_gossip(
        &mut self,
        source: &PeerId,
        message: &gossipsub::Message,
    ) -> (MessageAcceptance, String) {
        // Nothing a peer sends before admission counts.
        if !matches!(self.peers.get(source), Some(PeerState::Admitted(_))) {
            return (MessageAcceptance::Ignore, "sender not admitted".into());
        }
        let reject = |reason: String| (MessageAcceptance::Reject, reason);
        let topic = message.topic.as_str();
        if topic == REVOCATIONS_TOPIC {
            let Some((published_ms, bytes)) = sync::decode_gossip_revocation(&message.data) else {
                return reject("revocation message too short".into());
            };
            let revocation = match Revocation::decode(bytes) {
                Ok(revocation) => revocation,
                Err(error) => return reject(format!("revocation does not decode: {error}")),
            };
            match self.trust.take_revocation(revocation) {
                Ok(Some(entry)) => {
                    self.metrics.gossip_in.inc();
                    let delay_ms = unix_millis().saturating_sub(published_ms);
                    self.metrics
                        .propagation_delay
                        .observe(delay_ms as f64 / 1000.0);
                    self.applied(entry, Via::Gossip);
                    (MessageAcceptance::Accept, String::new())
                }
                Ok(None) => (MessageAcceptance::Ignore, "duplicate".into()),
                Err(RevocationRefused::Invalid(error)) => reject(error.to_string()),
                // Our fault, not the sender's: do not forward what we could not keep.
                Err(RevocationRefused::Store(error)) => {
                    warn!(%error, "gossiped revocation not stored");
                    (MessageAcceptance::Ignore, error.to_string())
                }
            }
        } else if topic == CREDENTIALS_TOPIC {
            let credential = match Credential::decode(&message.data) {
                Ok(credential) => credential,
                Err(error) => return reject(format!("credential does not decode: {error}")),
            };
            match self.trust.take_credential(&credential, unix_now()) {
                Ok(true) => {
                    self.metrics.gossip_in.inc();
                    (MessageAcceptance::Accept, String::new())
                }
                Ok(false) => (MessageAcceptance::Ignore, "duplicate".into()),
                Err(CredentialRefused::Store(error)) => {
                    warn!(%error, "gossiped credential not stored");
                    (MessageAcceptance::Ignore, error.to_string())
                }
                Err(error) => reject(error.to_string()),
            }
        } else {
            reject(format!("unknown topic {topic}"))
        }
    }

    /// Starts an anti-entropy exchange with `peer` unless one is in flight.
    fn start_sync(&mut self, peer: PeerId) {
        if self.syncing.contains_key(&peer) {
            return;
        }
        self.syncing.insert(peer, None);
        let digest = self.trust.digest().0;
        self.swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest::Summary { digest });
    }

    fn anti_entropy_round(&mut self) {
        let peers: Vec<PeerId> = self.admitted().collect();
        for peer in peers {
            self.start_sync(peer);
        }
    }

    fn on_sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // An unadmitted peer learns nothing: the request is dropped unanswered.
                if !matches!(self.peers.get(&peer), Some(PeerState::Admitted(_))) {
                    debug!(%peer, "anti-entropy request from a peer not admitted dropped");
                    return;
                }
                // A peer that differs from us may hold what we lack: pull from it too, once
                // per state of its set.
                if let SyncRequest::Summary { digest } = &request
                    && *digest != self.trust.digest().0
                    && self.pulled.get(&peer) != Some(digest)
                {
                    self.start_sync(peer);
                }
                let response = self.answer_sync(request);
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    debug!(%peer, "anti-entropy response not sent: connection gone");
                }
            }
            Event::Message {
                peer,
                message: Message::Response { response, .. },
                ..
            } => {
                if matches!(self.peers.get(&peer), Some(PeerState::Admitted(_))) {
                    self.on_sync_response(peer, response);
                } else {
                    self.syncing.remove(&peer);
                }
            }
            Event::OutboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "anti-entropy request failed");
                self.syncing.remove(&peer);
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "anti-entropy request not answered");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn answer_sync(&self, request: SyncRequest) -> SyncResponse {
        match request {
            SyncRequest::Summary { digest } if digest == self.trust.digest().0 => {
                SyncResponse::InSync
            }
            SyncRequest::Summary { .. } => SyncResponse::Inventory {
                digest: self.trust.digest().0,
                ids: sync::join_ids(self.trust.entry_ids().take(MAX_INVENTORY)),
                site_cas: self
                    .trust
                    .site_ca_credentials()
                    .iter()
                    .take(MAX_SITE_CAS)
                    .map(|ca| serde_bytes::ByteBuf::from(ca.as_bytes().to_vec()))
                    .collect(),
            },
            SyncRequest::Fetch { ids } => {
                let ids = sync::split_ids(&ids, MAX_FETCH).unwrap_or_default();
                SyncResponse::Revocations(
                    ids.iter()
                        .filter_map(|id| self.trust.revocation(id))
                        .map(|r| serde_bytes::ByteBuf::from(r.as_bytes().to_vec()))
                        .collect(),
                )
            }
        }
    }

    fn on_sync_response(&mut self, peer: PeerId, response: SyncResponse) {
        match response {
            SyncResponse::InSync => {
                self.syncing.remove(&peer);
            }
            SyncResponse::Inventory {
                digest,
                ids,
                site_cas,
            } => {
                // Site CAs first, so that the revocations they signed verify.
                for bytes in site_cas.iter().take(MAX_SITE_CAS) {
                    let Ok(credential) = Credential::decode(bytes) else {
                        continue;
                    };
                    if credential.claims().role != Role::SiteCa {
                        continue;
                    }
                    if let Err(error) = self.trust.take_credential(&credential, unix_now()) {
                        debug!(%peer, %error, "site CA from anti-entropy not taken");
                    }
                }
                let Some(ids) = sync::split_ids(&ids, MAX_INVENTORY) else {
                    warn!(%peer, "anti-entropy inventory malformed");
                    self.syncing.remove(&peer);
                    return;
                };
                let missing: Vec<EntryId> = ids
                    .into_iter()
                    .filter(|id| !self.trust.holds(id))
                    .take(MAX_FETCH)
                    .collect();
                if missing.is_empty() {
                    // If the peer lacks something of ours, its own exchange pulls it.
                    self.syncing.remove(&peer);
                    self.pulled.insert(peer, digest);
                    return;
                }
                debug!(%peer, missing = missing.len(), "anti-entropy fetching");
                self.syncing.insert(peer, Some(digest));
                self.swarm.behaviour_mut().sync.send_request(
                    &peer,
                    SyncRequest::Fetch {
                        ids: sync::join_ids(&missing),
                    },
                );
            }
            SyncResponse::Revocations(batch) => {
                let from_digest = self.syncing.remove(&peer).flatten();
                let received = batch.len();
                let decoded: Vec<Revocation> = batch
                    .iter()
                    .take(MAX_FETCH)
                    .filter_map(|bytes| Revocation::decode(bytes).ok())
                    .collect();
                let (entries, invalid) = match self.trust.take_revocations(decoded) {
                    Ok(taken) => taken,
                    Err(error) => {
                        warn!(%peer, %error, "anti-entropy revocations not stored");
                        return;
                    }
                };
                if invalid > 0 || entries.len() + invalid < received {
                    warn!(%peer, invalid, "anti-entropy brought revocations that do not verify");
                }
                info!(%peer, added = entries.len(), "anti-entropy caught up");
                self.metrics.revocations_synced.inc_by(entries.len() as u64);
                for entry in &entries {
                    self.emit(MeshEvent::RevocationApplied {
                        entry: *entry,
                        via: Via::Sync,
                    });
                }
                if received >= MAX_FETCH {
                    // One fetch carries so much; ask again for the rest.
                    self.start_sync(peer);
                } else if let Some(digest) = from_digest {
                    self.pulled.insert(peer, digest);
                }
                if !entries.is_empty() {
                    self.metrics
                        .revocations
                        .set(gauge(self.trust.revocation_count()));
                    self.enforce_on_admitted();
                    // Tell the other peers: those that lack what arrived pull it from here.
                    let others: Vec<PeerId> = self.admitted().filter(|p| *p != peer).collect();
                    for other in others {
                        self.start_sync(other);
                    }
                }
            }
        }
    }

    fn ban(&mut self, peer: PeerId) {
        self.bans
            .insert(peer, Instant::now() + self.config.ban_duration);
        if let Some(PeerState::Admitted(_)) = self.peers.remove(&peer) {
            self.metrics.peers.dec();
        }
        self.syncing.remove(&peer);
        let behaviour = self.swarm.behaviour_mut();
        behaviour.kademlia.remove_peer(&peer);
        // Blocking closes every connection to the peer and denies new ones.
        behaviour.blocks.block_peer(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        info!(%peer, secs = self.config.ban_duration.as_secs(), "peer banned");
        self.emit(MeshEvent::Banned(peer));
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();

        // Lift expired bans.
        let expired: Vec<PeerId> = self
            .bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in expired {
            self.bans.remove(&peer);
            self.swarm.behaviour_mut().blocks.unblock_peer(peer);
            debug!(%peer, "ban lifted");
            self.emit(MeshEvent::BanLifted(peer));
        }

        // Drop peers that did not complete admission in time.
        let timeout = self.config.admission_timeout;
        let late: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, state)| match state {
                PeerState::Pending { since, .. } => now.duration_since(*since) >= timeout,
                PeerState::Admitted(_) => false,
            })
            .map(|(peer, _)| *peer)
            .collect();
        for peer in late {
            warn!(%peer, "admission timed out");
            self.peers.remove(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
            self.metrics.refused.inc();
            self.emit(MeshEvent::Refused(peer, "admission timed out".into()));
        }

        // Drop admitted peers whose credential has expired since, with the leeway the chain
        // check allowed them.
        let unix = unix_now();
        let expired: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, state)| match state {
                PeerState::Admitted(admitted) => {
                    let expires = admitted.credential.claims().expires;
                    expires.saturating_add(DEFAULT_LEEWAY_SECS) <= unix
                }
                PeerState::Pending { .. } => false,
            })
            .map(|(peer, _)| *peer)
            .collect();
        for peer in expired {
            info!(%peer, "peer credential expired");
            self.peers.remove(&peer);
            self.metrics.peers.dec();
            let _ = self.swarm.disconnect_peer_id(peer);
            self.emit(MeshEvent::Refused(peer, "credential expired".into()));
        }
    }

    fn emit(&self, event: MeshEvent) {
        // No subscriber is not an error: events are for whoever watches.
        let _ = self.events.send(event);
    }
}

/// Whether `addr` runs over TCP.
fn is_tcp(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::Tcp(_)))
}

/// A count as a gauge value.
fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Seconds since the UNIX epoch; a clock before 1970 reads as 0, which no credential
/// accepts, so a broken clock refuses peers rather than admitting expired ones.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the UNIX epoch, for the propagation-delay metric only.
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
