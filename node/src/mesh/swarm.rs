//! The mesh's libp2p swarm, run on tokio: QUIC and TCP with Noise and Yamux, identify,
//! connection limits, and admission of every peer before anything it says counts.
//!
//! QUIC is preferred by listing it first in the default listen addresses; the mesh dials
//! exactly the address it is given.
//!
//! ```text
//! dialer                                         listener
//!   ── connection (Noise or QUIC-TLS authenticates both PeerIds) ──
//!   AdmissionMessage (request)  ─────────────▶   Admission::check
//!                                                  refused: ban, disconnect, no answer
//!   Admission::check  ◀─────────────────────────   AdmissionMessage (response)
//!     refused: ban, disconnect
//! ```
//!
//! A peer counts as admitted only once its own message passed [`Admission::check`]. Until
//! then nothing it sends is acted on: the admission protocol is the only one whose messages
//! are read, and identify reports from peers not yet admitted are dropped. Peers that are not
//! admitted within [`MeshConfig::admission_timeout`] are disconnected.
//!
//! Bans use `libp2p::allow_block_list`: a blocked peer's connections are denied as soon as
//! the transport has authenticated its PeerId, before any protocol runs, in both directions.
//! The swarm task keeps each ban's expiry and lifts it on its housekeeping tick.
//!
//! The swarm is owned by one task; [`MeshHandle`] talks to it over a bounded channel, and
//! [`MeshEvent`]s are broadcast to subscribers.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use libp2p::core::ConnectedPoint;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{DialError, ListenError, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, TransportError, allow_block_list, connection_limits,
    identify, noise, tcp, yamux,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use ward_crypto::RevocationSet;
use ward_crypto::chain::DEFAULT_LEEWAY_SECS;

use super::admission::{
    Admission, AdmissionMessage, AdmittedPeer, MAX_ADMISSION_MESSAGE_LEN, Refusal,
};

/// The admission protocol's name.
pub const ADMISSION_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/admission/1");

/// The protocol version identify announces.
const IDENTIFY_PROTOCOL: &str = "/ward/1";

/// Commands queued to the swarm task at most.
const COMMAND_QUEUE: usize = 64;

/// Events kept for a slow subscriber before it starts missing them.
const EVENT_QUEUE: usize = 256;

/// How often the swarm task lifts expired bans and drops peers too slow to be admitted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(200);

/// How long [`Mesh::spawn`] waits for its listeners to report their addresses.
const LISTEN_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

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
            // TODO(#4): gossipsub keeps admitted connections busy; until it lands, a long
            // idle timeout keeps the mesh connected.
            idle_timeout: Duration::from_secs(3600),
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
}

#[derive(NetworkBehaviour)]
struct MeshBehaviour {
    // Checked first: a banned peer is turned away before the other behaviours see it.
    blocks: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    admission: request_response::cbor::Behaviour<AdmissionMessage, AdmissionMessage>,
    identify: identify::Behaviour,
}

enum Command {
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    AdmittedPeers(oneshot::Sender<Vec<PeerId>>),
    Dial(Multiaddr, oneshot::Sender<Result<(), DialError>>),
    SetRevocations(RevocationSet, oneshot::Sender<()>),
    Shutdown,
}

/// The mesh of one node.
#[derive(Debug)]
pub struct Mesh;

impl Mesh {
    /// Builds the swarm for `identity`, starts listening and dialling, and runs it on a tokio
    /// task. `local` is what this node presents to its peers; `admission` decides whom it
    /// admits. Returns once every listener has reported an address.
    pub async fn spawn(
        config: MeshConfig,
        identity: Keypair,
        local: AdmissionMessage,
        admission: Admission,
    ) -> Result<MeshHandle, MeshError> {
        let mut swarm = build_swarm(&config, identity)?;
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
            admission,
            peers: HashMap::new(),
            bans: HashMap::new(),
            events: events.clone(),
        };
        let task = tokio::spawn(runtime.run(command_rx));
        Ok(MeshHandle {
            peer_id: local_peer_id,
            commands,
            events,
            task,
        })
    }
}

fn build_swarm(config: &MeshConfig, identity: Keypair) -> Result<Swarm<MeshBehaviour>, MeshError> {
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_incoming));
    let codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_ADMISSION_MESSAGE_LEN)
        .set_response_size_maximum(MAX_ADMISSION_MESSAGE_LEN);
    let admission_config =
        request_response::Config::default().with_request_timeout(config.admission_timeout);
    let builder = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_quic()
        .with_behaviour(|key| MeshBehaviour {
            blocks: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(limits),
            admission: request_response::Behaviour::with_codec(
                codec,
                [(ADMISSION_PROTOCOL, ProtocolSupport::Full)],
                admission_config,
            ),
            identify: identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL.into(),
                key.public(),
            )),
        });
    // The behaviour is built infallibly, so the error type is uninhabited.
    let Ok(builder) = builder;
    let swarm = builder
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    Ok(swarm)
}

/// Talks to a running mesh. Dropping the handle stops the mesh, as `shutdown` does, without
/// waiting for it.
#[derive(Debug)]
pub struct MeshHandle {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<MeshEvent>,
    task: JoinHandle<()>,
}

impl MeshHandle {
    /// This node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MeshEvent> {
        self.events.subscribe()
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
        self.ask(|reply| Command::Dial(addr, reply))
            .await?
            .map_err(MeshError::from)
    }

    /// Enforces `revocations` from now on, replacing the set enforced so far. Admitted
    /// peers that it revokes are refused, disconnected and banned before this returns.
    pub async fn set_revocations(&self, revocations: RevocationSet) -> Result<(), MeshError> {
        self.ask(|reply| Command::SetRevocations(revocations, reply))
            .await
    }

    /// Stops the mesh, closing every connection, and waits for the task to end.
    pub async fn shutdown(self) {
        // A send error means the task is gone already.
        let _ = self.commands.send(Command::Shutdown).await;
        let _ = self.task.await;
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

/// Where a connected peer stands.
enum PeerState {
    /// Connected since `since`, not admitted yet.
    Pending {
        since: Instant,
    },
    Admitted(Box<AdmittedPeer>),
}

struct MeshRuntime {
    swarm: Swarm<MeshBehaviour>,
    config: MeshConfig,
    local: AdmissionMessage,
    admission: Admission,
    peers: HashMap<PeerId, PeerState>,
    bans: HashMap<PeerId, Instant>,
    events: broadcast::Sender<MeshEvent>,
}

impl MeshRuntime {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = housekeeping.tick() => self.housekeeping(),
            }
        }
        info!(peer = %self.swarm.local_peer_id(), "mesh stopped");
    }

    fn on_command(&mut self, command: Command) {
        // A reply error means the asker gave up waiting; nothing to do about it.
        match command {
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::AdmittedPeers(reply) => {
                let admitted = self.peers.iter().filter_map(|(peer, state)| match state {
                    PeerState::Admitted(_) => Some(*peer),
                    PeerState::Pending { .. } => None,
                });
                let _ = reply.send(admitted.collect());
            }
            Command::Dial(addr, reply) => {
                let _ = reply.send(self.swarm.dial(addr));
            }
            Command::SetRevocations(revocations, reply) => {
                self.set_revocations(revocations);
                let _ = reply.send(());
            }
            // The run loop stops on it before dispatching here.
            Command::Shutdown => {}
        }
    }

    /// DESIGN §1: a revoked node is refused at once, including on connections it already
    /// holds.
    fn set_revocations(&mut self, revocations: RevocationSet) {
        self.admission.set_revocations(revocations);
        let now = unix_now();
        let refused: Vec<(PeerId, Refusal)> = self
            .peers
            .iter()
            .filter_map(|(peer, state)| match state {
                PeerState::Admitted(admitted) => self
                    .admission
                    .still_valid(admitted, now)
                    .err()
                    .map(|r| (*peer, r)),
                PeerState::Pending { .. } => None,
            })
            .collect();
        for (peer, refusal) in refused {
            warn!(%peer, reason = %refusal, "admitted peer no longer valid");
            self.emit(MeshEvent::Refused(peer, refusal.to_string()));
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
                if self.peers.remove(&peer_id).is_some() {
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
            SwarmEvent::Behaviour(MeshBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                // TODO(#4): feed admitted peers' listen addresses to Kademlia once it lands.
                if matches!(self.peers.get(&peer_id), Some(PeerState::Admitted(_))) {
                    debug!(peer = %peer_id, agent = %info.agent_version, "peer identified");
                }
            }
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
        let state = self.peers.entry(peer).or_insert(PeerState::Pending {
            since: Instant::now(),
        });
        // The dialer speaks first; the listener answers only after admitting it. A request
        // goes out on every new outbound connection while the peer is pending, since an
        // earlier one may have been sent on a connection that is closing; duplicates are
        // answered idempotently.
        if matches!(state, PeerState::Pending { .. }) && endpoint.is_dialer() {
            self.send_admission_request(peer);
        }
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
        match self.admission.check(&peer, message, unix_now()) {
            Ok(admitted) => {
                info!(%peer, subject = %admitted.credential.claims().subject, "peer admitted");
                self.peers
                    .insert(peer, PeerState::Admitted(Box::new(admitted)));
                self.emit(MeshEvent::Admitted(peer));
                true
            }
            Err(refusal) => {
                warn!(%peer, reason = %refusal, "peer refused");
                self.emit(MeshEvent::Refused(peer, refusal.to_string()));
                self.ban(peer);
                false
            }
        }
    }

    fn ban(&mut self, peer: PeerId) {
        self.bans
            .insert(peer, Instant::now() + self.config.ban_duration);
        self.peers.remove(&peer);
        // Blocking closes every connection to the peer and denies new ones.
        self.swarm.behaviour_mut().blocks.block_peer(peer);
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
            let _ = self.swarm.disconnect_peer_id(peer);
            self.emit(MeshEvent::Refused(peer, "credential expired".into()));
        }
    }

    fn emit(&self, event: MeshEvent) {
        // No subscriber is not an error: events are for whoever watches.
        let _ = self.events.send(event);
    }
}

/// Seconds since the UNIX epoch; a clock before 1970 reads as 0, which no credential
/// accepts, so a broken clock refuses peers rather than admitting expired ones.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
