//! The handle other tasks hold on a running mesh: commands to the swarm task over a bounded
//! channel, answers on oneshot channels, and events broadcast to whoever subscribes.

use std::io;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use libp2p::swarm::DialError;
use libp2p::{Multiaddr, PeerId, TransportError, noise};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use ward_crypto::{Revocation, RevocationDigest, RevocationError};

use super::trust::EntryId;
use crate::metrics::Metrics;
use crate::store::StoreError;

/// Commands queued to the swarm task at most.
pub(super) const COMMAND_QUEUE: usize = 64;

/// Events kept for a slow subscriber before it starts missing them.
pub(super) const EVENT_QUEUE: usize = 1024;

/// What happened to a peer, for whoever watches the mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshEvent {
    /// The peer's credential passed admission.
    Admitted(PeerId),
    /// The peer was refused, with the reason (no secrets in it).
    Refused(PeerId, String),
    /// The peer was banned for [`MeshConfig::ban_duration`](super::MeshConfig::ban_duration).
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

/// What the swarm task is asked to do.
pub(super) enum Command {
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
    Registry(super::registry::RegistryOp),
    Join(super::swarm::JoinOp),
    Shutdown,
}

/// Talks to a running mesh; cheap to clone.
#[derive(Clone, Debug)]
pub struct MeshClient {
    pub(super) peer_id: PeerId,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) events: broadcast::Sender<MeshEvent>,
    pub(super) metrics: Arc<Metrics>,
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
    pub(super) client: MeshClient,
    pub(super) task: JoinHandle<()>,
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
