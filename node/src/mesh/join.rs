//! The join protocol, `/ward/join/1`: how a node with no credential yet gets one from a node
//! of the site it joins, by proving a join token.
//!
//! ```text
//! new node (own libp2p identity,                   bootstrap node (its mesh; the
//!   a short-lived swarm of its own)                  requester is not admitted)
//!   ── connection to /.../p2p/<PeerId> (Noise or QUIC-TLS authenticate both ends) ──
//!   JoinRequest { token id, token secret, key } ─▶  the site's join desk:
//!                                                     token consumed through Raft,
//!                                                     credential issued for the
//!                                                     connection's PeerId and `key`
//!   JoinResponse::Joined { credential,        ◀──     or JoinResponse::Refused(reason)
//!     site CA, fleet root }
//! ```
//!
//! The join protocol is the one thing a node answers before admission, and only on a
//! connection whose peer is still pending: it is how a peer without a credential gets one.
//! Requests are small and bounded, and the mesh hands at most [`JOIN_INBOX`] of them at a time
//! to the join desk; beyond that a requester is told to try again.
//!
//! What the new node trusts is the bootstrap node's PeerId, which its operator gave it in
//! the bootstrap address: the transport proves the other end holds that identity before the
//! token's secret is sent, so the secret goes to no one else. The credential is issued for
//! the PeerId the transport authenticated, never for one the request names, so a token
//! cannot buy a credential for another node's identity.

use std::fmt;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, identity::Keypair, noise, tcp, yamux};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};
use zeroize::Zeroize as _;

use super::client::{Command, MeshClient, MeshError};
use super::swarm::JoinOp;

/// The join protocol's name.
pub const JOIN_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/join/1");

/// The largest join request read: a token and a public key, with room to spare.
pub const MAX_JOIN_REQUEST_LEN: u64 = 1024;

/// The largest join response read: three credentials.
pub const MAX_JOIN_RESPONSE_LEN: u64 = 16 * 1024;

/// Join requests handed to the join desk and not answered yet, at most; one more is told to
/// try again.
pub(crate) const JOIN_INBOX: usize = 8;

/// A new node's request to join: the join token it was given, and the public key its node
/// credential is to certify.
///
/// `Debug` leaves the secret out, and it is wiped when the request is dropped.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The token's id, as the registry files it.
    #[serde(with = "serde_bytes")]
    pub token_id: Vec<u8>,
    /// The token's secret, whose SHA-256 the registry holds.
    #[serde(with = "serde_bytes")]
    pub token_secret: Vec<u8>,
    /// The new node's credential key: a COSE_Key with its public parameters only.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

impl fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinRequest")
            .field("token_id", &hex::encode(&self.token_id))
            .field("key_len", &self.key.len())
            .finish_non_exhaustive()
    }
}

impl Drop for JoinRequest {
    fn drop(&mut self) {
        self.token_secret.zeroize();
    }
}

/// The site's answer to a join request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinResponse {
    /// The token was consumed and a node credential issued.
    Joined {
        /// The new node's credential (CWT), issued by the site CA.
        #[serde(with = "serde_bytes")]
        credential: Vec<u8>,
        /// The site CA's credential.
        #[serde(with = "serde_bytes")]
        site_ca: Vec<u8>,
        /// The fleet root's credential.
        #[serde(with = "serde_bytes")]
        fleet_root: Vec<u8>,
    },
    /// Nothing was issued, and why (no secret in it).
    Refused(String),
}

/// A join request from a peer the mesh has not admitted, for the join desk to answer.
pub struct InboundJoin {
    /// The requester, as the transport authenticated it.
    pub peer: PeerId,
    /// What it asked.
    pub request: JoinRequest,
    /// Where the answer goes; dropping it leaves the requester without one.
    pub answer: oneshot::Sender<JoinResponse>,
}

impl fmt::Debug for InboundJoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundJoin")
            .field("peer", &self.peer)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl MeshClient {
    /// Join requests from peers not admitted yet, from now on and until the mesh stops (or
    /// another desk takes them). Each must be answered through [`InboundJoin::answer`].
    pub async fn take_join_requests(&self) -> Result<mpsc::Receiver<InboundJoin>, MeshError> {
        let (desk, requests) = mpsc::channel(JOIN_INBOX);
        self.commands
            .send(Command::Join(JoinOp::Serve(desk)))
            .await
            .map_err(|_| MeshError::Stopped)?;
        Ok(requests)
    }
}

/// The codec both sides use: CBOR, bounded both ways.
pub(super) fn join_codec() -> request_response::cbor::codec::Codec<JoinRequest, JoinResponse> {
    request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_JOIN_REQUEST_LEN)
        .set_response_size_maximum(MAX_JOIN_RESPONSE_LEN)
}

/// Why a join request got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// A bootstrap address does not name the peer to trust.
    #[error(
        "bootstrap address {0} does not end in /p2p/<PeerId>: joining needs the PeerId to trust"
    )]
    NoPeerId(Multiaddr),
    /// No bootstrap address was given.
    #[error("joining a site needs at least one bootstrap address")]
    NoBootstrap,
    /// The swarm for the request could not be built.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// No bootstrap peer answered; the last failure.
    #[error("no bootstrap peer answered the join request: {0}")]
    NoAnswer(String),
}

/// Sends `request` to the bootstrap peers in turn, as `identity`, over a swarm that lives
/// for this request only, and returns the first answer. Each peer gets `timeout`.
pub async fn request_join(
    identity: Keypair,
    bootstrap: &[Multiaddr],
    request: &JoinRequest,
    timeout: Duration,
) -> Result<(PeerId, JoinResponse), JoinError> {
    let targets = bootstrap
        .iter()
        .map(|addr| match addr.iter().last() {
            Some(Protocol::P2p(peer)) => Ok((peer, addr.clone())),
            _ => Err(JoinError::NoPeerId(addr.clone())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(JoinError::NoBootstrap);
    }

    let builder = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(MeshError::from)?
        .with_quic()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                join_codec(),
                [(JOIN_PROTOCOL, ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(timeout),
            )
        });
    // The behaviour is built infallibly, so the error type is uninhabited.
    let Ok(builder) = builder;
    let mut swarm = builder.build();

    let mut last_failure = String::new();
    for (peer, addr) in targets {
        swarm.add_peer_address(peer, addr.clone());
        let sent = swarm.behaviour_mut().send_request(&peer, request.clone());
        let answer = tokio::time::timeout(timeout, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        peer: from,
                        message:
                            request_response::Message::Response {
                                request_id,
                                response,
                            },
                        ..
                    }) if request_id == sent && from == peer => return Ok(response),
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                        request_id,
                        error,
                        ..
                    }) if request_id == sent => return Err(describe(&error)),
                    other => debug!(event = ?other, "join swarm event"),
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(response)) => {
                info!(%peer, "join request answered");
                return Ok((peer, response));
            }
            Ok(Err(failure)) => last_failure = format!("{addr}: {failure}"),
            Err(_) => last_failure = format!("{addr}: no answer within {timeout:?}"),
        }
        let _ = swarm.disconnect_peer_id(peer);
    }
    Err(JoinError::NoAnswer(last_failure))
}

/// An outbound failure in words an operator can act on.
fn describe(error: &OutboundFailure) -> String {
    match error {
        OutboundFailure::DialFailure => "cannot connect (wrong address, or not the PeerId \
                                          given)"
            .to_owned(),
        OutboundFailure::UnsupportedProtocols => {
            "the peer does not take join requests (not a Ward node, or an older one)".to_owned()
        }
        // The mesh closes the stream without an answer when it drops a request.
        OutboundFailure::ConnectionClosed | OutboundFailure::Io(_) => {
            "the peer closed the request unanswered (banned, or busy)".to_owned()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_request_never_shows_its_secret() {
        let request = JoinRequest {
            token_id: vec![0xab; 16],
            token_secret: vec![0x5e; 32],
            key: vec![1, 2, 3],
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("abab"), "{shown}");
        assert!(
            !shown.contains("5e5e") && !shown.contains("94, 94"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn joining_refuses_a_bootstrap_address_without_a_peer_id() {
        let request = JoinRequest {
            token_id: vec![1; 16],
            token_secret: vec![2; 32],
            key: Vec::new(),
        };
        let addr: Multiaddr = "/ip4/127.0.0.1/udp/7400/quic-v1"
            .parse()
            .expect("multiaddr");
        let result = request_join(
            Keypair::generate_ed25519(),
            &[addr],
            &request,
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(result, Err(JoinError::NoPeerId(_))), "{result:?}");
        let none = request_join(
            Keypair::generate_ed25519(),
            &[],
            &request,
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(none, Err(JoinError::NoBootstrap)), "{none:?}");
    }
}
