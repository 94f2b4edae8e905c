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
//! then nothing it sends is acted on: gossip it forwards is ignored, its anti-entropy and
//! registry requests go unanswered, identify reports from it are dropped, and Kademlia learns its
//! address only once it is admitted (inserts into the routing table are manual). Gossipsub
//! gives a pending peer an application score below its publish threshold, so nothing is
//! published to it and it is not grafted into the topic mesh. Peers that are not admitted
//! within [`MeshConfig::admission_timeout`] are disconnected. The one thing a pending peer may
//! ask is to join the site (`join`): that is how a node without a credential gets one.
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
//! [`MeshEvent`]s are broadcast to subscribers. This file holds the task's connection,
//! admission, ban and discovery handling; `gossip`, `anti_entropy`, `registry` (the site
//! registry's Raft traffic) and `join` hold the rest of it.

mod anti_entropy;
mod gossip;
mod join;
mod registry;

pub(crate) use join::JoinOp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::IdentTopic;
use libp2p::identity::Keypair;
use libp2p::kad::{self};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self};
use libp2p::swarm::{ListenError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, identify};
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info, warn};
use ward_crypto::Credential;
use ward_crypto::chain::DEFAULT_LEEWAY_SECS;

use super::admission::{Admission, AdmissionMessage, AdmittedPeer};
use super::behaviour::{MeshBehaviour, MeshBehaviourEvent, PENDING_APP_SCORE, build_swarm};
use super::client::{
    COMMAND_QUEUE, Command, EVENT_QUEUE, MeshClient, MeshError, MeshEvent, MeshHandle, MeshStatus,
};
use super::config::{MeshConfig, PqMode};
use super::join::InboundJoin;
use super::sync::REVOCATIONS_TOPIC;
use super::trust::Trust;
use crate::metrics::Metrics;
use crate::store::MeshStore;

/// How often the swarm task lifts expired bans and drops peers too slow to be admitted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(200);

/// How long [`Mesh::spawn`] waits for its listeners to report their addresses.
const LISTEN_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

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
        // The credential was checked by whoever built `local`; one that does not decode names
        // no site, and then no peer shares the site registry.
        let site = Credential::decode(&local.credential)
            .ok()
            .and_then(|credential| credential.claims().site.clone());
        let runtime = MeshRuntime {
            swarm,
            config,
            site,
            local,
            trust,
            peers: HashMap::new(),
            bans: HashMap::new(),
            syncing: HashMap::new(),
            pulled: HashMap::new(),
            registry: registry::RegistryRoutes::default(),
            join_desk: None,
            own_commands: commands.downgrade(),
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
    registry: registry::RegistryRoutes,
    /// The site named in this node's credential: only admitted peers of the same site take
    /// part in its registry.
    site: Option<String>,
    /// Where join requests from pending peers go; none until a desk is attached.
    join_desk: Option<mpsc::Sender<InboundJoin>>,
    /// The task's own command queue, for answers that come back from other tasks.
    own_commands: mpsc::WeakSender<Command>,
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
            Command::Registry(op) => self.on_registry_op(op),
            Command::Join(op) => self.on_join_op(op),
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
            SwarmEvent::Behaviour(MeshBehaviourEvent::Registry(event)) => {
                self.on_registry_event(event)
            }
            SwarmEvent::Behaviour(MeshBehaviourEvent::Join(event)) => self.on_join_event(event),
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
