//! The libp2p mesh between Ward nodes.
//!
//! ```text
//! admission  the message nodes exchange on every new connection, and its checks (no I/O)
//! trust      what a node trusts and enforces: site CAs and revocations, in memory and in redb
//! sync       the anti-entropy protocol's messages, and the gossip framing of revocations
//! registry   the site registry's Raft traffic: its protocol, Raft node ids, the transport
//! join       how a node without a credential gets one: the protocol, and the requester's side
//! config     where the mesh listens, whom it dials, its limits, its post-quantum policy
//! behaviour  the libp2p behaviours and transports, configured
//! swarm      the task that owns the swarm: connections, admission, bans, discovery;
//!            with gossip, anti-entropy and registry traffic in its submodules
//! client     the handle other tasks hold on that task
//! ```

pub mod admission;
mod behaviour;
mod client;
pub mod config;
pub mod join;
pub mod registry;
pub mod swarm;
pub mod sync;
pub mod trust;

pub use admission::{Admission, AdmissionMessage, AdmittedPeer, Refusal};
pub use behaviour::{ADMISSION_PROTOCOL, KADEMLIA_PROTOCOL, SYNC_PROTOCOL};
pub use client::{MeshClient, MeshError, MeshEvent, MeshHandle, MeshStatus, Submitted, Via};
pub use config::{MeshConfig, PqMode};
pub use join::{InboundJoin, JOIN_PROTOCOL, JoinError, JoinRequest, JoinResponse, request_join};
pub use registry::{MeshRegistryTransport, REGISTRY_PROTOCOL, raft_node_id, registry_member};
pub use swarm::Mesh;
pub use trust::{EntryId, Trust};
