//! How Raft's messages travel between the nodes of a site: the seam between this crate,
//! which knows no network, and the node, which carries the messages over its mesh.
//!
//! ```text
//! openraft ──RaftNetwork──▶ Network<T> ──RaftRequest──▶ T: RegistryTransport ──▶ peer
//!                                      ◀──RaftReply──                       ◀── Replica::handle
//! ```
//!
//! A transport moves one [`RaftRequest`] to a node and brings back its [`RaftReply`]. Every
//! message crosses as bytes in the form [`encode_request`] and [`encode_reply`] give it, with
//! the size limits below, so an implementation only moves bytes; the in-memory transport for
//! tests encodes and decodes exactly as the mesh does.

use std::future::Future;

use openraft::error::{
    CheckIsLeaderError, ClientWriteError, InstallSnapshotError, NetworkError, RPCError, RaftError,
    RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, InstallSnapshotRequest,
    InstallSnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, LogId};
use serde::{Deserialize, Serialize};

use crate::frame::{self, FrameError};
use crate::{RegistryCommand, SiteRaft};

type NodeId = u64;

/// Why a node gave no read index: it does not lead, or no quorum confirmed that it does.
type ReadIndexError = RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>;

/// The largest request a node accepts: an append of many entries, or a snapshot chunk
/// (openraft's default chunk is 3 MiB) with its framing.
pub const MAX_REQUEST_LEN: usize = 8 << 20;

/// The largest reply a node accepts. Replies are small; a client write's reply carries one
/// registry response.
pub const MAX_REPLY_LEN: usize = 1 << 20;

/// A message from one node of a site to another.
#[derive(Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RaftRequest {
    /// Raft's log replication and heartbeat.
    AppendEntries(AppendEntriesRequest<SiteRaft>),
    /// A candidate asking for a vote.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot, for a follower too far behind for the log.
    InstallSnapshot(InstallSnapshotRequest<SiteRaft>),
    /// A registry write that a follower received and hands to the leader.
    Write(RegistryCommand),
    /// A node to add as a learner, handed to the leader like a write.
    AddLearner(NodeId, BasicNode),
    /// The leader checking that a member is alive.
    Probe,
    /// A follower about to serve a linearizable read, asking the leader for the index the
    /// follower must have applied first (Raft's read index).
    ReadIndex,
}

/// The answer to a [`RaftRequest`], of the same kind.
#[derive(Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RaftReply {
    /// To [`RaftRequest::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RaftRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RaftRequest::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// To [`RaftRequest::Write`] and [`RaftRequest::AddLearner`].
    Write(
        Result<
            ClientWriteResponse<SiteRaft>,
            RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
        >,
    ),
    /// To [`RaftRequest::Probe`]: the index this member has applied.
    Probe(Option<u64>),
    /// To [`RaftRequest::ReadIndex`]: the log id up to which a replica must have applied
    /// before it reads, given once the leader has confirmed its leadership with a quorum.
    ReadIndex(Result<Option<LogId<NodeId>>, ReadIndexError>),
}

/// Why a message did not get an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The node cannot be reached now, and the request did not reach it; Raft backs off and
    /// retries.
    #[error("node {0} is unreachable")]
    Unreachable(NodeId),
    /// The request reached the node but its answer was lost: whatever it asked for may or
    /// may not have been done, so a write must not be sent again.
    #[error("the answer of node {0} was lost")]
    ReplyLost(NodeId),
    /// The message or its answer is larger than the limits above, or does not decode.
    #[error("malformed message: {0}")]
    Malformed(#[from] FrameError),
    /// The answer is of another kind than the request.
    #[error("node {0} answered with another kind of reply")]
    Mismatch(NodeId),
}

/// Carries Raft's messages to the other nodes of a site.
pub trait RegistryTransport: Clone + Send + Sync + 'static {
    /// Sends `request` to node `target` (reachable at `node`) and waits for its reply.
    fn send(
        &self,
        target: NodeId,
        node: &BasicNode,
        request: RaftRequest,
    ) -> impl Future<Output = Result<RaftReply, TransportError>> + Send;
}

/// `request` as it crosses the network.
pub fn encode_request(request: &RaftRequest) -> Result<Vec<u8>, FrameError> {
    bounded(frame::seal(request)?, MAX_REQUEST_LEN)
}

/// A request as received, refused if larger than [`MAX_REQUEST_LEN`] or malformed.
pub fn decode_request(bytes: &[u8]) -> Result<RaftRequest, FrameError> {
    frame::open(bounded_ref(bytes, MAX_REQUEST_LEN)?)
}

/// `reply` as it crosses the network.
pub fn encode_reply(reply: &RaftReply) -> Result<Vec<u8>, FrameError> {
    bounded(frame::seal(reply)?, MAX_REPLY_LEN)
}

/// A reply as received, refused if larger than [`MAX_REPLY_LEN`] or malformed.
pub fn decode_reply(bytes: &[u8]) -> Result<RaftReply, FrameError> {
    frame::open(bounded_ref(bytes, MAX_REPLY_LEN)?)
}

fn bounded(bytes: Vec<u8>, limit: usize) -> Result<Vec<u8>, FrameError> {
    bounded_ref(&bytes, limit)?;
    Ok(bytes)
}

fn bounded_ref(bytes: &[u8], limit: usize) -> Result<&[u8], FrameError> {
    if bytes.len() > limit {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// openraft's network, over any [`RegistryTransport`].
#[derive(Clone, Debug)]
pub struct Network<T> {
    transport: T,
}

impl<T> Network<T> {
    /// The network that sends through `transport`.
    pub fn new(transport: T) -> Network<T> {
        Network { transport }
    }
}

/// openraft's connection to one node: the transport and where the node is.
#[derive(Debug)]
pub struct Connection<T> {
    transport: T,
    target: NodeId,
    node: BasicNode,
}

impl<T: RegistryTransport> RaftNetworkFactory<SiteRaft> for Network<T> {
    type Network = Connection<T>;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection<T> {
        Connection {
            transport: self.transport.clone(),
            target,
            node: node.clone(),
        }
    }
}

impl<T: RegistryTransport> Connection<T> {
    async fn call(&self, request: RaftRequest) -> Result<RaftReply, TransportError> {
        self.transport.send(self.target, &self.node, request).await
    }

    fn failed<E: std::error::Error>(
        &self,
        error: TransportError,
    ) -> RPCError<NodeId, BasicNode, E> {
        match error {
            TransportError::Unreachable(_) | TransportError::ReplyLost(_) => {
                RPCError::Unreachable(Unreachable::new(&error))
            }
            _ => RPCError::Network(NetworkError::new(&error)),
        }
    }

    fn remote<E: std::error::Error>(&self, error: E) -> RPCError<NodeId, BasicNode, E> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            self.node.clone(),
            error,
        ))
    }
}

impl<T: RegistryTransport> RaftNetwork<SiteRaft> for Connection<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<SiteRaft>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self.call(RaftRequest::AppendEntries(rpc)).await {
            Ok(RaftReply::AppendEntries(reply)) => reply.map_err(|e| self.remote(e)),
            Ok(_) => Err(self.failed(TransportError::Mismatch(self.target))),
            Err(error) => Err(self.failed(error)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<SiteRaft>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self.call(RaftRequest::InstallSnapshot(rpc)).await {
            Ok(RaftReply::InstallSnapshot(reply)) => reply.map_err(|e| self.remote(e)),
            Ok(_) => Err(self.failed(TransportError::Mismatch(self.target))),
            Err(error) => Err(self.failed(error)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self.call(RaftRequest::Vote(rpc)).await {
            Ok(RaftReply::Vote(reply)) => reply.map_err(|e| self.remote(e)),
            Ok(_) => Err(self.failed(TransportError::Mismatch(self.target))),
            Err(error) => Err(self.failed(error)),
        }
    }
}
