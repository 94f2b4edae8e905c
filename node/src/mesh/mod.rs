//! The libp2p mesh between Ward nodes.
//!
//! ```text
//! admission  the message nodes exchange on every new connection, and its checks (no I/O)
//! swarm      the libp2p swarm on tokio: QUIC and TCP, identify, connection limits,
//!            admission over request-response, bans
//! ```

pub mod admission;
pub mod swarm;

pub use admission::{Admission, AdmissionMessage, AdmittedPeer, Refusal};
pub use swarm::{Mesh, MeshConfig, MeshError, MeshEvent, MeshHandle};
