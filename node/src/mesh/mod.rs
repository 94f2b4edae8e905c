//! The libp2p mesh between Ward nodes.
//!
//! ```text
//! admission  the message nodes exchange on every new connection, and its checks (no I/O)
//! swarm      the libp2p swarm on tokio: QUIC and TCP, identify, connection limits,
//!            admission over request-response, bans
//! ```

pub mod admission;
pub mod swarm;
pub mod sync;
pub mod trust;

pub use admission::{Admission, AdmissionMessage, AdmittedPeer, Refusal};
pub use swarm::{
    Mesh, MeshClient, MeshConfig, MeshError, MeshEvent, MeshHandle, MeshStatus, PqMode, Submitted,
    Via,
};
pub use trust::{EntryId, Trust};
