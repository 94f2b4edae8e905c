//! How a node's mesh listens, whom it dials, its limits and its post-quantum policy.

use std::time::Duration;

use libp2p::Multiaddr;

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
