//! ward-consensus: the site registry, replicated by Raft across a site's nodes.
//!
//! Each site keeps one registry (join tokens, camera enrollments, node records, camera
//! sessions, frame-token key epochs, the site's revocations and anomaly-model snapshots), so
//! that any node of the site can authenticate any of its cameras, and a site cut off from
//! the cloud still has one consistent registry. openraft orders the commands; this crate is
//! what openraft drives:
//!
//! ```text
//! registry        the commands, their responses, and how each changes the registry:
//!   tokens          join tokens, consumed exactly once
//!   enrollments     cameras: credential, status, scopes
//!   nodes           the site's nodes: Raft id to PeerId and credential
//!   sessions        camera sessions any node can continue, secrets sealed
//!   frame_keys      frame-token key epochs, only moving forward
//!   revocations     the site's signed revocations, added idempotently
//!   models          anomaly-model snapshots, opaque
//!   summary         figures queries need without a scan
//!   sealing         secrets sealed under the site storage key, bound to their record
//!   versioned       the version every command and record carries
//! reads           queries of the registry as this replica last applied it
//! log_store       the Raft log and vote in redb        (openraft's RaftLogStorage)
//! state_machine   the registry and its snapshots in redb (openraft's RaftStateMachine)
//! frame           the checksummed form of everything stored, so corruption is refused
//! transport       the seam to the network: Raft's messages as bytes, and a trait to move them
//! replica         one node's copy: openraft over the stores, writes forwarded to the leader
//! membership      the leader's steward: learners promoted to voters, dead voters replaced
//! memory          an in-memory transport for tests of many replicas in one process
//! ```
//!
//! The crate knows no libp2p: the node carries Raft's messages over its mesh. One redb
//! database holds both the log and the state machine, and may be shared with the rest of the
//! node's state (see [`open`]).

#![warn(missing_docs)]
#![allow(
    clippy::result_large_err,
    reason = "openraft's storage traits return its StorageError by value; the helpers behind them return the same type"
)]

pub mod frame;
pub mod log_store;
pub mod membership;
pub mod memory;
mod reads;
pub mod registry;
pub mod replica;
pub mod state_machine;
pub mod transport;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use log_store::RedbLogStore;
pub use membership::{MembershipPolicy, Steward};
pub use registry::{
    EnrollmentStatus, Refusal, RegistryCommand, RegistryResponse, SealedSecret, SiteStorageKey,
    TokenRole,
};
pub use replica::{Replica, ReplicaConfig, ReplicaError};
pub use state_machine::RedbStateMachine;

openraft::declare_raft_types!(
    /// The Raft types of a site registry.
    pub SiteRaft:
        D = RegistryCommand,
        R = RegistryResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

/// Why a registry database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// redb could not create or open the file.
    #[error("cannot open the registry database at {}", path.display())]
    Database {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: redb::DatabaseError,
    },
    /// The tables could not be created.
    #[error("cannot prepare the registry tables: {0}")]
    Tables(#[from] openraft::StorageError<u64>),
}

/// Opens (or creates) the registry database at `path`, and the log and state machine in it.
pub fn open(path: &Path) -> Result<(RedbLogStore, RedbStateMachine), OpenError> {
    let db = redb::Database::create(path).map_err(|source| OpenError::Database {
        path: path.to_path_buf(),
        source,
    })?;
    from_database(Arc::new(db))
}

/// The log and state machine kept in `db`, which other parts of the node may share.
pub fn from_database(
    db: Arc<redb::Database>,
) -> Result<(RedbLogStore, RedbStateMachine), OpenError> {
    Ok((RedbLogStore::new(db.clone())?, RedbStateMachine::new(db)?))
}
