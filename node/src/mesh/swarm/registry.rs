//! The swarm task's side of the registry protocol: Raft's requests sent to admitted peers of
//! this node's site and their replies routed back to the waiting transport, and requests from
//! them handed to the replica's serve task. Everything else is dropped unanswered.
//!
//! The swarm task never decodes a registry message nor waits on the replica: bytes pass
//! through, and the replica's answer comes back as a command, so a slow write or a large
//! snapshot chunk does not hold up the mesh.

use std::collections::HashMap;

use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::{MeshRuntime, PeerState, is_tcp};
use crate::mesh::config::PqMode;
use crate::mesh::registry::{InboundRequest, RegistryOp, Undelivered};

/// Where the swarm task routes registry traffic.
#[derive(Default)]
pub(super) struct RegistryRoutes {
    /// Requests sent and not answered yet, with who waits for each. Bounded by the
    /// protocol's timeout: libp2p reports every request as answered or failed by then.
    waiting: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, Undelivered>>>,
    /// Where requests from admitted peers go; none until a replica is attached.
    inbox: Option<mpsc::Sender<InboundRequest>>,
}

impl MeshRuntime {
    pub(super) fn on_registry_op(&mut self, op: RegistryOp) {
        match op {
            RegistryOp::Send {
                peer,
                addr,
                request,
                reply,
            } => {
                if self.is_site_member(&peer) {
                    let id = self
                        .swarm
                        .behaviour_mut()
                        .registry
                        .send_request(&peer, request);
                    self.registry.waiting.insert(id, reply);
                    return;
                }
                // Raft retries within a heartbeat; connecting now lets that retry find the
                // member admitted, instead of queueing messages that would be stale by then.
                if !self.swarm.is_connected(&peer) {
                    self.dial_member(peer, addr);
                }
                let _ = reply.send(Err(Undelivered::NotAdmitted));
            }
            RegistryOp::Serve(inbox) => self.registry.inbox = Some(inbox),
            RegistryOp::Respond { channel, reply } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .registry
                    .send_response(channel, reply)
                    .is_err()
                {
                    debug!("registry reply not sent: connection gone");
                }
            }
        }
    }

    pub(super) fn on_registry_event(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_registry_request(peer, request, channel),
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let Some(reply) = self.registry.waiting.remove(&request_id) else {
                    return;
                };
                // Banned or expired while the request was out: its answer counts for nothing.
                let result = if self.is_site_member(&peer) {
                    Ok(response)
                } else {
                    Err(Undelivered::AnswerDiscarded)
                };
                // An error means openraft stopped waiting; the reply is simply late.
                let _ = reply.send(result);
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %error, "registry request failed");
                if let Some(reply) = self.registry.waiting.remove(&request_id) {
                    let _ = reply.send(Err(error.into()));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "registry request not answered");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn on_registry_request(
        &mut self,
        peer: PeerId,
        request: Vec<u8>,
        channel: request_response::ResponseChannel<Vec<u8>>,
    ) {
        // Dropping the channel closes the stream: the sender learns nothing, not even why.
        if !self.is_site_member(&peer) {
            debug!(%peer, "registry request from a peer not admitted, or of another site, dropped");
            return;
        }
        let Some(inbox) = &self.registry.inbox else {
            debug!(%peer, "registry request dropped: no replica attached");
            return;
        };
        let inbound = InboundRequest {
            peer,
            request,
            channel,
        };
        match inbox.try_send(inbound) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                debug!(%peer, "registry request dropped: replica busy");
            }
            Err(TrySendError::Closed(_)) => {
                debug!(%peer, "registry request dropped: replica detached");
                self.registry.inbox = None;
            }
        }
    }

    /// Whether `peer` is admitted and belongs to this node's site. Nodes of other sites are
    /// admitted to the mesh for gossip, but a site's registry is its own.
    fn is_site_member(&self, peer: &PeerId) -> bool {
        match self.peers.get(peer) {
            Some(PeerState::Admitted(admitted)) => {
                self.site.is_some() && admitted.credential.claims().site == self.site
            }
            _ => false,
        }
    }

    /// Dials a registry member at its recorded address and at whatever discovery knows of
    /// it; admission follows as for any connection.
    fn dial_member(&mut self, peer: PeerId, addr: Option<Multiaddr>) {
        if peer == *self.swarm.local_peer_id() || self.bans.contains_key(&peer) {
            return;
        }
        let addrs: Vec<Multiaddr> = addr
            .into_iter()
            .filter(|a| !(self.config.pq == PqMode::Required && is_tcp(a)))
            .collect();
        let dial = DialOpts::peer_id(peer)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .addresses(addrs)
            .extend_addresses_through_behaviour()
            .build();
        if let Err(error) = self.swarm.dial(dial) {
            debug!(%peer, %error, "registry member not dialled");
        }
    }
}
