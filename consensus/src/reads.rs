//! Queries of the registry: what this replica last applied, read from its own database.
//!
//! Every read here is local. A follower may be a few entries behind the leader, so a read
//! can miss a write another node was just told succeeded; a caller that must see every
//! acknowledged write first waits for [`Replica::ensure_linearizable`], and a caller that
//! acts on what it reads (consuming a join token, say) writes a command instead, which Raft
//! orders. Records
//! are checked against their checksum and version as they are read, so a corrupt record or
//! one written by a later release is an error, never a wrong answer.

use crate::registry::{
    self, EnrollmentRecord, FrameKeyEpochRecord, NodeRecord, RegistrySummary, RevocationRecord,
    SessionRecord,
};
use crate::transport::RegistryTransport;
use crate::{Replica, ReplicaError};

impl<T: RegistryTransport> Replica<T> {
    /// The enrollment of `camera`.
    pub fn enrollment(&self, camera: &str) -> Result<Option<EnrollmentRecord>, ReplicaError> {
        self.read_record(registry::ENROLLMENTS, camera.as_bytes())
    }

    /// The record of the node with Raft id `id`.
    pub fn node_record(&self, id: u64) -> Result<Option<NodeRecord>, ReplicaError> {
        self.read_record(registry::NODES, &registry::node_key(id))
    }

    /// The session `id`, live or expired: see [`SessionRecord::is_live`].
    pub fn session(&self, id: &[u8]) -> Result<Option<SessionRecord>, ReplicaError> {
        self.read_record(registry::SESSIONS, id)
    }

    /// The frame-token key of `epoch`.
    pub fn frame_key_epoch(&self, epoch: u64) -> Result<Option<FrameKeyEpochRecord>, ReplicaError> {
        self.read_record(registry::FRAME_KEYS, &registry::frame_key_epoch_key(epoch))
    }

    /// The latest frame-token key epoch, and its key.
    pub fn latest_frame_key_epoch(
        &self,
    ) -> Result<Option<(u64, FrameKeyEpochRecord)>, ReplicaError> {
        let Some(epoch) = self.summary()?.latest_frame_key_epoch else {
            return Ok(None);
        };
        // The summary and the epochs are written in one transaction; a summary naming an
        // epoch that is not there is a corrupt registry, not an empty one.
        match self.frame_key_epoch(epoch)? {
            Some(record) => Ok(Some((epoch, record))),
            None => Err(ReplicaError::Read(format!(
                "the summary names frame-key epoch {epoch}, which is not recorded"
            ))),
        }
    }

    /// The signed revocation with id `id`, if the site's set holds it.
    pub fn revocation(&self, id: &[u8]) -> Result<Option<RevocationRecord>, ReplicaError> {
        self.read_record(registry::REVOCATIONS, id)
    }

    /// How many revocations the site's set holds.
    pub fn revocation_count(&self) -> Result<u64, ReplicaError> {
        Ok(self.summary()?.revocations)
    }

    fn summary(&self) -> Result<RegistrySummary, ReplicaError> {
        Ok(self
            .read_record(registry::SUMMARY, registry::SUMMARY_KEY)?
            .unwrap_or_default())
    }
}
