//! The swarm task's side of the join protocol: requests from peers not admitted yet handed
//! to the join desk, and its answers sent back.
//!
//! Only a pending peer may ask: an admitted one holds a credential already. The swarm task
//! never waits on the desk (it consumes a token through Raft); each answer comes back as a
//! command.

use libp2p::PeerId;
use libp2p::request_response::{self, ResponseChannel};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

use super::{MeshRuntime, PeerState};
use crate::mesh::client::Command;
use crate::mesh::join::{InboundJoin, JoinRequest, JoinResponse};

/// What the swarm task is asked to do about joins.
pub(crate) enum JoinOp {
    /// Hand join requests to this desk from now on.
    Serve(mpsc::Sender<InboundJoin>),
    /// The desk's answer to a request.
    Respond(ResponseChannel<JoinResponse>, JoinResponse),
}

impl MeshRuntime {
    pub(super) fn on_join_op(&mut self, op: JoinOp) {
        match op {
            JoinOp::Serve(desk) => self.join_desk = Some(desk),
            JoinOp::Respond(channel, response) => {
                if self
                    .swarm
                    .behaviour_mut()
                    .join
                    .send_response(channel, response)
                    .is_err()
                {
                    debug!("join answer not sent: connection gone");
                }
            }
        }
    }

    pub(super) fn on_join_event(
        &mut self,
        event: request_response::Event<JoinRequest, JoinResponse>,
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
            } => self.on_join_request(peer, request, channel),
            Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "join request not answered");
            }
            // The mesh only answers join requests; it sends none.
            Event::Message { .. } | Event::OutboundFailure { .. } | Event::ResponseSent { .. } => {}
        }
    }

    fn on_join_request(
        &mut self,
        peer: PeerId,
        request: JoinRequest,
        channel: ResponseChannel<JoinResponse>,
    ) {
        let refusal = match (self.peers.get(&peer), &self.join_desk) {
            (Some(PeerState::Pending { .. }), Some(desk)) => {
                let (answer, answered) = oneshot::channel();
                info!(%peer, token = %hex::encode(&request.token_id), "join request");
                match desk.try_send(InboundJoin {
                    peer,
                    request,
                    answer,
                }) {
                    Ok(()) => {
                        self.await_join_answer(channel, answered);
                        return;
                    }
                    Err(TrySendError::Full(_)) => "the node is busy with other joins; try again",
                    Err(TrySendError::Closed(_)) => {
                        self.join_desk = None;
                        "this node takes no join requests"
                    }
                }
            }
            (Some(PeerState::Admitted(_)), _) => "already admitted: this node holds a credential",
            (_, None) => "this node takes no join requests",
            // Not connected any more, or refused meanwhile.
            (None, Some(_)) => return,
        };
        debug!(%peer, reason = refusal, "join request refused");
        let _ = self
            .swarm
            .behaviour_mut()
            .join
            .send_response(channel, JoinResponse::Refused(refusal.to_owned()));
    }

    /// Sends the desk's answer back through the swarm task once it comes; a desk that drops
    /// the request leaves the requester to time out.
    fn await_join_answer(
        &self,
        channel: ResponseChannel<JoinResponse>,
        answered: oneshot::Receiver<JoinResponse>,
    ) {
        let commands: mpsc::WeakSender<Command> = self.own_commands.clone();
        tokio::spawn(async move {
            let Ok(response) = answered.await else {
                return;
            };
            if let Some(commands) = commands.upgrade() {
                let _ = commands
                    .send(Command::Join(JoinOp::Respond(channel, response)))
                    .await;
            }
        });
    }
}
