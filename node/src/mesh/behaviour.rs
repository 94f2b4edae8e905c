//! The libp2p behaviours a node runs and how they are configured: the transports, connection
//! limits, the block list for bans, admission, anti-entropy, the site registry's Raft traffic
//! and joining over request-response, gossipsub with peer scoring, Kademlia and identify.

use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::kad::{self, store::MemoryStore};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    StreamProtocol, Swarm, allow_block_list, connection_limits, identify, noise, tcp, yamux,
};
use ward_crypto::backend::{Backend as _, RustCrypto};

use super::admission::{AdmissionMessage, MAX_ADMISSION_MESSAGE_LEN};
use super::client::MeshError;
use super::config::MeshConfig;
use super::join::{JOIN_PROTOCOL, JoinRequest, JoinResponse, join_codec};
use super::registry::{REGISTRY_PROTOCOL, REGISTRY_REQUEST_TIMEOUT, RegistryCodec};
use super::sync::{
    CREDENTIALS_TOPIC, MAX_GOSSIP_LEN, MAX_SYNC_REQUEST_LEN, MAX_SYNC_RESPONSE_LEN,
    REVOCATIONS_TOPIC, SyncRequest, SyncResponse,
};
use crate::metrics::Metrics;

/// The admission protocol's name.
pub const ADMISSION_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/admission/1");

/// The anti-entropy protocol's name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/sync/1");

/// The Kademlia protocol's name: Ward's own DHT, apart from any public one.
pub const KADEMLIA_PROTOCOL: StreamProtocol = StreamProtocol::new("/ward/kad/1");

/// The protocol version identify announces.
const IDENTIFY_PROTOCOL: &str = "/ward/1";

/// Gossipsub application score of a peer not admitted yet: with the weight below, -60,
/// under the publish threshold (-50) and above the graylist threshold (-80), so that its
/// subscriptions are recorded for when it is admitted, but nothing is sent to it.
pub(super) const PENDING_APP_SCORE: f64 = -6.0;
const APP_SCORE_WEIGHT: f64 = 10.0;

/// Gossipsub penalty per invalid message, squared by the count: one forged message puts a
/// peer at -40, under the gossip threshold; two put it under the graylist threshold, where
/// everything it sends is dropped.
const INVALID_MESSAGE_WEIGHT: f64 = -40.0;

/// Every protocol a node speaks, in the order the swarm consults them.
#[derive(NetworkBehaviour)]
pub(super) struct MeshBehaviour {
    // Checked first: a banned peer is turned away before the other behaviours see it.
    pub(super) blocks: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(super) limits: connection_limits::Behaviour,
    pub(super) admission: request_response::cbor::Behaviour<AdmissionMessage, AdmissionMessage>,
    pub(super) sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    pub(super) registry: request_response::Behaviour<RegistryCodec>,
    pub(super) join: request_response::cbor::Behaviour<JoinRequest, JoinResponse>,
    pub(super) gossip: gossipsub::Behaviour,
    pub(super) kademlia: kad::Behaviour<MemoryStore>,
    pub(super) identify: identify::Behaviour,
}

/// The swarm for `identity`: TCP with Noise and Yamux, QUIC, and [`MeshBehaviour`].
pub(super) fn build_swarm(
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
                registry: request_response::Behaviour::with_codec(
                    RegistryCodec,
                    [(REGISTRY_PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(REGISTRY_REQUEST_TIMEOUT),
                ),
                // Answered only: a node joins with a swarm of its own (see `join`).
                join: request_response::Behaviour::with_codec(
                    join_codec(),
                    [(JOIN_PROTOCOL, ProtocolSupport::Inbound)],
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
