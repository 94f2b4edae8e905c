//! The site registry's Raft traffic over the mesh: the `/ward/registry/1` request-response
//! protocol between admitted nodes, and [`MeshRegistryTransport`], the
//! [`RegistryTransport`] that a node's [`Replica`] sends through.
//!
//! ```text
//! sending node                          receiving node
//!
//! Replica → MeshRegistryTransport::send
//!   │ command, with a oneshot for the reply
//!   ▼
//! swarm task ══ /ward/registry/1 ══▶ swarm task: sender admitted? else dropped unanswered
//!                                      │ bounded inbox
//!                                      ▼
//!                                    serve task: decode, Replica::handle, encode
//!                                      │ command
//!                                      ▼
//! swarm task ◀═════════ reply ══════ swarm task
//!   │ oneshot
//!   ▼
//! Replica: the RaftReply; Unreachable if the request cannot have arrived, ReplyLost if it
//!          may have (a forwarded write is then not sent again)
//! ```
//!
//! **Wire.** One request and one reply per stream, each a 4-byte big-endian length followed
//! by exactly the bytes that [`encode_request`] or [`encode_reply`] give. The length is
//! checked against [`MAX_REQUEST_LEN`] or [`MAX_REPLY_LEN`] before any of the body is read,
//! and the body is collected as it arrives rather than allocated from the announced length,
//! so a peer that announces 8 MiB and sends ten bytes costs ten bytes.
//!
//! **Who is served.** Admitted peers only, both ways. A request from a peer whose admission
//! is still pending is dropped unanswered (its sender sees the stream close), never queued
//! for later; and no request is sent to a peer that is not admitted.
//!
//! **Raft node ids.** Raft names a node by a `u64`, the mesh by its PeerId. A node's Raft id
//! is [`raft_node_id`]: the first 8 bytes, big-endian, of SHA-256 over the PeerId's bytes
//! (its multihash form). Every node thus computes every other node's id alone, and the id
//! lasts as long as the node's identity key. With a site's handful of nodes, two PeerIds
//! sharing an id has a probability around n²/2⁶⁵, far below any other failure. A request
//! that speaks for a Raft id (a vote, an append, a snapshot) is only handled when that id is
//! its sender's own, so an admitted node cannot vote or lead in another node's name.
//!
//! **Member addresses.** openraft records each member as a [`BasicNode`] whose `addr` is a
//! string. Ward writes the PeerId in base58, optionally followed by `@` and a multiaddr where
//! the node listened when it joined: `12D3KooW…@/ip4/10.0.0.7/udp/7400/quic-v1`
//! ([`registry_member`]). The PeerId is the durable part, since membership outlives
//! addresses: messages go only over a connection to an admitted peer with that PeerId, and
//! the transport refuses a member whose PeerId does not derive to the Raft id it is asked to
//! reach. The multiaddr is only a hint for dialling a member the node is not connected to,
//! next to what the mesh's own discovery knows.
//!
//! **Start order.** [`Replica::start`] needs the transport, and serving needs the replica.
//! So the transport is made from the [`MeshClient`] first, the replica is started with it,
//! and [`MeshClient::serve_registry`] then attaches the replica. A request that arrives
//! before that is dropped unanswered, which Raft treats like any lost message. The transport
//! does not keep the mesh running: once the mesh stops, every member is unreachable.

use std::io;
use std::time::Duration;

use futures::prelude::*;
use libp2p::request_response::{self, OutboundFailure, ResponseChannel};
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};
use ward_consensus::Replica;
use ward_consensus::transport::{
    MAX_REPLY_LEN, MAX_REQUEST_LEN, RaftReply, RaftRequest, RegistryTransport, TransportError,
    decode_reply, decode_request, encode_reply, encode_request,
};
use ward_crypto::backend::{Backend as _, RustCrypto};

use super::client::{Command, MeshClient, MeshError};

/// The registry protocol's name.
pub const REGISTRY_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/registry/1");

/// How long one exchange may take, both ways: longer than a forwarded write waits for its
/// commit (`ReplicaConfig::write_timeout`, 5 s by default) and than a snapshot chunk takes on
/// a slow link. openraft gives up on heartbeats and votes much sooner by itself.
pub const REGISTRY_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests queued between the swarm task and the replica at most; beyond, they are dropped
/// and Raft sends them again.
pub(super) const REGISTRY_INBOX: usize = 64;

/// Requests the replica handles at once at most. A forwarded write waits for its commit,
/// which must not hold up the heartbeats and votes behind it.
const CONCURRENT_REQUESTS: usize = 32;

/// The length in front of each message.
const LENGTH_PREFIX: usize = 4;

/// The separator between a member's PeerId and its address hint.
const ADDRESS_SEPARATOR: char = '@';

/// The Raft node id of the node whose PeerId is `peer`: SHA-256 of the PeerId's bytes, first
/// 8 bytes as a big-endian integer. Every node computes the same id for the same peer.
pub fn raft_node_id(peer: &PeerId) -> u64 {
    let hash = RustCrypto.sha256(&[&peer.to_bytes()]);
    let mut head = [0u8; 8];
    head.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(head)
}

/// How the registry's membership records the node `peer`: its PeerId in base58, and `addr`
/// after an `@` if given, as a hint for dialling it.
pub fn registry_member(peer: &PeerId, addr: Option<&Multiaddr>) -> BasicNode {
    match addr {
        Some(addr) => BasicNode::new(format!("{}{ADDRESS_SEPARATOR}{addr}", peer.to_base58())),
        None => BasicNode::new(peer.to_base58()),
    }
}

/// The PeerId and address hint a member was recorded with by [`registry_member`]; `None`
/// if its PeerId does not parse. An address hint that does not parse is ignored: the PeerId
/// alone still reaches a connected member.
pub fn member_peer(node: &BasicNode) -> Option<(PeerId, Option<Multiaddr>)> {
    let (peer, addr) = match node.addr.split_once(ADDRESS_SEPARATOR) {
        Some((peer, addr)) => (peer, addr.parse().ok()),
        None => (node.addr.as_str(), None),
    };
    Some((peer.parse().ok()?, addr))
}

/// The registry protocol's framing: a length, then the bytes, within the size limits.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegistryCodec;

impl request_response::Codec for RegistryCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_bounded(io, MAX_REQUEST_LEN).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_bounded(io, MAX_REPLY_LEN).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bounded(io, &request, MAX_REQUEST_LEN).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        reply: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_bounded(io, &reply, MAX_REPLY_LEN).await
    }
}

/// Reads one length-prefixed message of at most `limit` bytes.
async fn read_bounded<T>(io: &mut T, limit: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; LENGTH_PREFIX];
    io.read_exact(&mut prefix).await?;
    let announced = u32::from_be_bytes(prefix);
    let len = usize::try_from(announced).unwrap_or(usize::MAX);
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("registry message of {len} bytes exceeds the limit of {limit}"),
        ));
    }
    // Grown as bytes arrive: the announced length is the peer's claim, not a reservation.
    let mut bytes = Vec::new();
    io.take(u64::from(announced))
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "registry message shorter than announced",
        ));
    }
    Ok(bytes)
}

/// Writes `bytes` length-prefixed, refusing more than `limit`.
async fn write_bounded<T>(io: &mut T, bytes: &[u8], limit: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|_| bytes.len() <= limit)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "registry message of {} bytes exceeds the limit",
                    bytes.len()
                ),
            )
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.flush().await
}

/// What the swarm task is asked to do for the registry.
pub(super) enum RegistryOp {
    /// Send `request` to `peer`, dialling `addr` (and what discovery knows) if the peer is
    /// not connected, and answer on `reply`.
    Send {
        peer: PeerId,
        addr: Option<Multiaddr>,
        request: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, Undelivered>>,
    },
    /// Hand requests from admitted peers to `inbox` from now on, instead of any earlier one.
    Serve(mpsc::Sender<InboundRequest>),
    /// Answer a request handed out earlier.
    Respond {
        channel: ResponseChannel<Vec<u8>>,
        reply: Vec<u8>,
    },
}

/// A request from an admitted peer, on its way to the replica.
pub(super) struct InboundRequest {
    pub(super) peer: PeerId,
    pub(super) request: Vec<u8>,
    pub(super) channel: ResponseChannel<Vec<u8>>,
}

/// Why a request got no reply. What matters to the replica is whether the request may have
/// been handled ([`Undelivered::may_have_arrived`]): a write that may have arrived must not
/// be sent again, or it could be committed twice.
#[derive(Debug, thiserror::Error)]
pub(super) enum Undelivered {
    /// The peer is not connected and admitted as a node of this site (a dial may have
    /// started); nothing was sent.
    #[error("peer not admitted as a node of this site")]
    NotAdmitted,
    /// The peer answered, but was banned or lost its admission while the request was out,
    /// so its answer is not believed.
    #[error("answer from a peer no longer admitted discarded")]
    AnswerDiscarded,
    /// The exchange failed: dial, timeout, closed connection, refused stream.
    #[error(transparent)]
    Failed(#[from] OutboundFailure),
}

impl Undelivered {
    /// Whether the peer may have received and handled the request.
    fn may_have_arrived(&self) -> bool {
        match self {
            Undelivered::NotAdmitted => false,
            Undelivered::AnswerDiscarded => true,
            // A failed dial or a refused protocol never carried the request; a timeout, a
            // closed connection or an I/O error may have come after it was read.
            Undelivered::Failed(
                OutboundFailure::DialFailure | OutboundFailure::UnsupportedProtocols,
            ) => false,
            Undelivered::Failed(_) => true,
        }
    }
}

/// Carries a node's Raft messages over its mesh. Cheap to clone; it does not keep the mesh
/// running.
#[derive(Clone, Debug)]
pub struct MeshRegistryTransport {
    local: PeerId,
    commands: mpsc::WeakSender<Command>,
}

impl MeshRegistryTransport {
    /// The transport through the mesh that `client` talks to.
    pub fn new(client: &MeshClient) -> MeshRegistryTransport {
        MeshRegistryTransport {
            local: client.peer_id,
            commands: client.commands.downgrade(),
        }
    }

    /// This node's Raft id, [`raft_node_id`] of its PeerId.
    pub fn node_id(&self) -> u64 {
        raft_node_id(&self.local)
    }
}

impl RegistryTransport for MeshRegistryTransport {
    async fn send(
        &self,
        target: u64,
        node: &BasicNode,
        request: RaftRequest,
    ) -> Result<RaftReply, TransportError> {
        let Some((peer, addr)) = member_peer(node) else {
            warn!(node = target, addr = %node.addr, "registry member has no readable PeerId");
            return Err(TransportError::Unreachable(target));
        };
        // A membership entry naming someone else's PeerId must not divert Raft's traffic.
        if raft_node_id(&peer) != target {
            warn!(node = target, %peer, "registry member's PeerId is not its node's");
            return Err(TransportError::Unreachable(target));
        }
        let request = encode_request(&request)?;

        let (reply, answer) = oneshot::channel();
        let op = RegistryOp::Send {
            peer,
            addr,
            request,
            reply,
        };
        // Upgraded only for the send, so an in-flight message never keeps a stopping mesh up.
        let commands = self
            .commands
            .upgrade()
            .ok_or(TransportError::Unreachable(target))?;
        commands
            .send(Command::Registry(op))
            .await
            .map_err(|_| TransportError::Unreachable(target))?;
        drop(commands);

        match answer.await {
            Ok(Ok(bytes)) => Ok(decode_reply(&bytes)?),
            Ok(Err(undelivered)) => {
                debug!(node = target, %peer, reason = %undelivered, "registry request undelivered");
                if undelivered.may_have_arrived() {
                    Err(TransportError::ReplyLost(target))
                } else {
                    Err(TransportError::Unreachable(target))
                }
            }
            // The mesh stopped with the request handed to it: it may have gone out.
            Err(_) => Err(TransportError::ReplyLost(target)),
        }
    }
}

impl MeshClient {
    /// Answers admitted peers' registry requests with `replica`, from now on and until the
    /// mesh stops (or another replica is attached). Requests that arrived before are lost,
    /// as Raft allows. See the module docs for why this comes after [`Replica::start`].
    pub async fn serve_registry<T: RegistryTransport>(
        &self,
        replica: Replica<T>,
    ) -> Result<(), MeshError> {
        let (inbox, requests) = mpsc::channel(REGISTRY_INBOX);
        self.commands
            .send(Command::Registry(RegistryOp::Serve(inbox)))
            .await
            .map_err(|_| MeshError::Stopped)?;
        // The serve task ends when the swarm task drops the inbox, and with it lets go of
        // the replica, so the replica's database can be closed.
        tokio::spawn(serve(requests, replica, self.commands.downgrade()));
        Ok(())
    }
}

/// Hands each request to `replica` and its reply back to the swarm task.
async fn serve<T: RegistryTransport>(
    mut requests: mpsc::Receiver<InboundRequest>,
    replica: Replica<T>,
    commands: mpsc::WeakSender<Command>,
) {
    stream::poll_fn(|cx| requests.poll_recv(cx))
        .for_each_concurrent(CONCURRENT_REQUESTS, |inbound| {
            answer(&replica, &commands, inbound)
        })
        .await;
}

async fn answer<T: RegistryTransport>(
    replica: &Replica<T>,
    commands: &mpsc::WeakSender<Command>,
    inbound: InboundRequest,
) {
    let InboundRequest {
        peer,
        request,
        channel,
    } = inbound;
    let request = match decode_request(&request) {
        Ok(request) => request,
        Err(error) => {
            warn!(%peer, %error, "malformed registry request dropped");
            return;
        }
    };
    if !speaks_for_itself(&peer, &request) {
        warn!(%peer, "registry request in another node's name dropped");
        return;
    }
    let reply = replica.handle(request).await;
    let reply = match encode_reply(&reply) {
        Ok(reply) => reply,
        Err(error) => {
            error!(%peer, %error, "registry reply cannot be encoded");
            return;
        }
    };
    // A mesh that stopped meanwhile has closed the stream already.
    if let Some(commands) = commands.upgrade() {
        let _ = commands
            .send(Command::Registry(RegistryOp::Respond { channel, reply }))
            .await;
    }
}

/// Whether `request`, if it acts for a Raft node (a candidate's vote, a leader's append or
/// snapshot, a learner to add), acts for `peer`'s own. A node may ask to join the registry,
/// but only as itself, at an address that names it. Writes and probes act for no node.
fn speaks_for_itself(peer: &PeerId, request: &RaftRequest) -> bool {
    let claimed = match request {
        RaftRequest::Vote(rpc) => rpc.vote.leader_id().voted_for(),
        RaftRequest::AppendEntries(rpc) => rpc.vote.leader_id().voted_for(),
        RaftRequest::InstallSnapshot(rpc) => rpc.vote.leader_id().voted_for(),
        RaftRequest::AddLearner(id, node) => {
            let named = member_peer(node).map(|(named, _)| named);
            return *id == raft_node_id(peer) && named.as_ref() == Some(peer);
        }
        _ => None,
    };
    claimed.is_none_or(|id| id == raft_node_id(peer))
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;
    use libp2p::request_response::Codec as _;

    use super::*;

    fn peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    #[test]
    fn a_node_may_add_only_itself_as_a_learner() {
        let (joiner, other) = (peer(), peer());
        let addr: Multiaddr = "/ip4/10.0.0.7/udp/7400/quic-v1".parse().expect("multiaddr");
        let itself =
            RaftRequest::AddLearner(raft_node_id(&joiner), registry_member(&joiner, Some(&addr)));
        assert!(speaks_for_itself(&joiner, &itself));
        assert!(
            !speaks_for_itself(&other, &itself),
            "a peer adding another node"
        );
        let borrowed_address =
            RaftRequest::AddLearner(raft_node_id(&joiner), registry_member(&other, Some(&addr)));
        assert!(
            !speaks_for_itself(&joiner, &borrowed_address),
            "its own id at an address naming another peer"
        );
        assert!(speaks_for_itself(&other, &RaftRequest::Probe));
    }

    #[test]
    fn node_id_is_a_function_of_the_peer_id() {
        let (a, b) = (peer(), peer());
        assert_eq!(raft_node_id(&a), raft_node_id(&a));
        assert_ne!(raft_node_id(&a), raft_node_id(&b));
        let hash = RustCrypto.sha256(&[&a.to_bytes()]);
        assert_eq!(raft_node_id(&a).to_be_bytes(), hash[..8]);
    }

    #[test]
    fn member_addresses_round_trip_with_and_without_a_hint() {
        let id = peer();
        let addr: Multiaddr = "/ip4/10.0.0.7/udp/7400/quic-v1".parse().expect("multiaddr");
        let with = registry_member(&id, Some(&addr));
        assert_eq!(with.addr, format!("{id}@{addr}"));
        assert_eq!(member_peer(&with), Some((id, Some(addr))));
        assert_eq!(member_peer(&registry_member(&id, None)), Some((id, None)));
        assert_eq!(
            member_peer(&BasicNode::new(format!("{id}@not-an-address"))),
            Some((id, None))
        );
        assert_eq!(member_peer(&BasicNode::new("node-1")), None);
    }

    #[tokio::test]
    async fn codec_round_trips_a_message() {
        let mut wire = Vec::new();
        RegistryCodec
            .write_request(&REGISTRY_PROTOCOL, &mut wire, b"append".to_vec())
            .await
            .expect("written");
        assert_eq!(&wire[..LENGTH_PREFIX], &6u32.to_be_bytes());
        let read = RegistryCodec
            .read_request(&REGISTRY_PROTOCOL, &mut &wire[..])
            .await
            .expect("read");
        assert_eq!(read, b"append");
    }

    #[tokio::test]
    async fn codec_refuses_an_announced_length_over_the_limit_before_the_body() {
        let announced = u32::try_from(MAX_REPLY_LEN + 1).expect("fits");
        // Only the prefix: the refusal must not wait for, or make room for, the body.
        let wire = announced.to_be_bytes();
        let error = RegistryCodec
            .read_response(&REGISTRY_PROTOCOL, &mut &wire[..])
            .await
            .expect_err("over the limit");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        // A request may be larger than a reply.
        let mut wire = announced.to_be_bytes().to_vec();
        wire.extend(std::iter::repeat_n(0u8, MAX_REPLY_LEN + 1));
        let read = RegistryCodec
            .read_request(&REGISTRY_PROTOCOL, &mut &wire[..])
            .await
            .expect("within the request limit");
        assert_eq!(read.len(), MAX_REPLY_LEN + 1);
    }

    #[tokio::test]
    async fn codec_refuses_a_truncated_message_and_an_oversized_write() {
        let mut wire = 10u32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"short");
        let error = RegistryCodec
            .read_request(&REGISTRY_PROTOCOL, &mut &wire[..])
            .await
            .expect_err("truncated");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let mut sink = Vec::new();
        let error = RegistryCodec
            .write_response(&REGISTRY_PROTOCOL, &mut sink, vec![0; MAX_REPLY_LEN + 1])
            .await
            .expect_err("over the limit");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(sink.is_empty(), "nothing written");
    }
}
