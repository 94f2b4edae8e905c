//! The site registry's commands, and how each one changes the registry's tables.
//!
//! Commands are what a node proposes to Raft; every node applies the same committed commands
//! in the same order, so every node's registry is the same. Applying a command is therefore a
//! pure function of the registry and the command: the time a command depends on (`now`) is
//! stamped into it by the proposer, never read while applying, and every refusal follows from
//! the registry and the command alone. A refused command changes nothing.
//!
//! ```text
//! table                          key                 record                    module
//! registry.join_tokens.v1        token id            JoinTokenRecord           tokens
//! registry.enrollments.v1        camera id           EnrollmentRecord          enrollments
//! registry.nodes.v1              Raft node id (BE)   NodeRecord                nodes
//! registry.sessions.v1           session id          SessionRecord             sessions
//! registry.frame_keys.v1         epoch (BE)          FrameKeyEpochRecord       frame_keys
//! registry.revocations.v1        revocation id       RevocationRecord          revocations
//! registry.model_snapshots.v1    camera id           ModelSnapshotRecord       models
//! registry.summary.v1            "summary"           RegistrySummary           summary
//! ```
//!
//! Every value is a checksummed frame (see [`crate::frame`]) around a versioned record (see
//! `versioned`), and every command is versioned the same way, so that a node reads what the
//! previous release wrote. Every field of a command has a limit, and a command beyond one is
//! refused as [`Refusal::Malformed`]: the registry is copied to every node of the site, so
//! nothing in it grows without bound.
//!
//! Secrets (a session's OSCORE master secret and salt, frame-token keys) enter the registry
//! only sealed by the proposer under the site storage key (see [`sealing`]); the registry
//! checks their lengths and never sees the plaintext.

use redb::{ReadableTable as _, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::frame::{self, FrameError};

mod enrollments;
mod frame_keys;
mod models;
mod nodes;
mod revocations;
pub mod sealing;
mod sessions;
mod summary;
mod tokens;
pub(crate) mod versioned;

pub use enrollments::{
    EnrollmentRecord, EnrollmentStatus, MAX_CREDENTIAL_LEN, MAX_SCOPE_LEN, MAX_SCOPES,
};
pub use frame_keys::FrameKeyEpochRecord;
pub use models::{MAX_MODEL_LEN, ModelSnapshotRecord};
pub use nodes::{MAX_PEER_ID_LEN, NodeRecord};
pub use revocations::{MAX_REVOCATION_ID_LEN, MAX_SIGNED_REVOCATION_LEN, RevocationRecord};
pub use sealing::{SealedField, SealedSecret, SiteStorageKey};
pub use sessions::{MAX_SESSION_ID_LEN, SessionRecord};
pub use summary::RegistrySummary;
pub use tokens::{JoinTokenRecord, MAX_CONSUMER_LEN, MAX_TOKEN_ID_LEN, SECRET_HASH_LEN, TokenRole};

pub(crate) use enrollments::ENROLLMENTS;
pub(crate) use frame_keys::{FRAME_KEYS, key as frame_key_epoch_key};
pub(crate) use models::MODEL_SNAPSHOTS;
pub(crate) use nodes::{NODES, key as node_key};
pub(crate) use revocations::REVOCATIONS;
pub(crate) use sessions::SESSIONS;
pub(crate) use summary::{SUMMARY, SUMMARY_KEY};
pub(crate) use tokens::JOIN_TOKENS;

/// A table of the registry: byte keys, framed records.
pub(crate) type RegistryTable = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// The registry's tables, in the order snapshots list them. A table left out of this list
/// would be left out of every snapshot, and a follower brought up by one would miss it.
pub(crate) const TABLES: [RegistryTable; 8] = [
    JOIN_TOKENS,
    MODEL_SNAPSHOTS,
    ENROLLMENTS,
    NODES,
    SESSIONS,
    FRAME_KEYS,
    REVOCATIONS,
    SUMMARY,
];

/// The longest camera id accepted.
pub const MAX_CAMERA_ID_LEN: usize = 128;

/// The most commands a [`RegistryCommand::Batch`] holds.
pub const MAX_BATCH_COMMANDS: usize = 64;

/// A change to the registry, as proposed to Raft.
///
/// Encoded as `[version, command]` (see `versioned`); this release writes version 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryCommand {
    /// Records a new join token. Refused if a token with this id exists.
    CreateJoinToken {
        /// The token's id, which the holder presents with the secret.
        id: Vec<u8>,
        /// SHA-256 of the token's secret; the secret itself never enters the registry.
        secret_hash: Vec<u8>,
        /// What the token admits its holder as.
        role: TokenRole,
        /// Seconds since the UNIX epoch after which the token is refused: the proposer's
        /// clock plus the token's lifetime.
        expires_at: u64,
    },
    /// Consumes a join token: succeeds once, for the first holder whose secret matches
    /// before the token expires.
    ConsumeJoinToken {
        /// The token's id.
        id: Vec<u8>,
        /// SHA-256 of the secret presented.
        secret_hash: Vec<u8>,
        /// Who presents it: a PeerId or a camera id, kept as who used the token.
        consumer: String,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
    },
    /// Replaces the anomaly model kept for a camera with a newer snapshot. The registry does
    /// not read the model; the behaviour monitor that wrote it does.
    PutModelSnapshot {
        /// The camera the model describes.
        camera: String,
        /// The model, opaque to the registry.
        model: Vec<u8>,
    },
    /// Records a camera's enrollment, active. Refused while an active enrollment of the camera
    /// exists; a suspended or revoked one is replaced.
    Enroll {
        /// The camera.
        camera: String,
        /// The camera's credential (a CWT), opaque to the registry.
        credential: Vec<u8>,
        /// What the camera may do through the node.
        scopes: Vec<String>,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
    },
    /// Sets the status of a camera's enrollment. Suspending or revoking it ends the camera's
    /// sessions; a revoked enrollment stays revoked.
    SetEnrollmentStatus {
        /// The camera.
        camera: String,
        /// Its new status.
        status: EnrollmentStatus,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
    },
    /// Records a node of the site, or renews the credential of one recorded with the same
    /// PeerId.
    RecordNode {
        /// The node's Raft id.
        node: u64,
        /// The node's libp2p PeerId, as text.
        peer: String,
        /// The node's credential, opaque to the registry.
        credential: Vec<u8>,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
    },
    /// Forgets a node of the site.
    RemoveNode {
        /// The node's Raft id.
        node: u64,
    },
    /// Records a camera's session, so that any node of the site can continue it.
    CreateSession {
        /// The session's id.
        id: Vec<u8>,
        /// The camera, which must be enrolled and active.
        camera: String,
        /// The session's secret parts, sealed by the proposer for this session id.
        secret: SealedSecret,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
        /// When the session ends unless refreshed.
        expires_at: u64,
    },
    /// Extends a live session after the node re-checked its camera, and replaces its secret
    /// parts when the keys were updated.
    RefreshSession {
        /// The session's id.
        id: Vec<u8>,
        /// The proposer's clock: the time of the revalidation.
        now: u64,
        /// The session's new end.
        expires_at: u64,
        /// The session's new secret parts, if its keys changed.
        secret: Option<SealedSecret>,
    },
    /// Ends a session.
    EndSession {
        /// The session's id.
        id: Vec<u8>,
    },
    /// Adds the frame-token key of a new epoch. Epochs only move forward.
    AddFrameKeyEpoch {
        /// The epoch, above every epoch recorded.
        epoch: u64,
        /// The key, sealed by the proposer for this epoch.
        key: SealedSecret,
        /// The first second the key is valid.
        not_before: u64,
        /// The last second the key is valid.
        not_after: u64,
    },
    /// Adds a signed revocation to the site's set. Adding it again is not an error.
    AddRevocation {
        /// The revocation's id, such as SHA-256 of the signed revocation.
        id: Vec<u8>,
        /// The signed revocation, opaque to the registry.
        signed: Vec<u8>,
    },
    /// Several commands in one log entry, applied in order exactly as if each were an entry
    /// of its own: each gets its own response in [`RegistryResponse::Batch`], and one that is
    /// refused changes nothing while the others still apply. A replica proposes the writes
    /// that queued up while its previous proposal was out as one batch. Between 1 and
    /// [`MAX_BATCH_COMMANDS`] commands, none of them a batch.
    Batch(Vec<RegistryCommand>),
}

impl RegistryCommand {
    /// An upper bound, give or take a few bytes, on the command's encoded size: what a
    /// replica counts to keep a batch, and so a log entry, small.
    pub fn size_hint(&self) -> usize {
        use RegistryCommand as C;
        // The version, the variant's name, field names and fixed-size fields.
        const FIXED: usize = 160;
        let sealed = |secret: &SealedSecret| secret.nonce.len() + secret.ciphertext.len() + 32;
        FIXED
            + match self {
                C::CreateJoinToken {
                    id, secret_hash, ..
                } => id.len() + secret_hash.len(),
                C::ConsumeJoinToken {
                    id,
                    secret_hash,
                    consumer,
                    ..
                } => id.len() + secret_hash.len() + consumer.len(),
                C::PutModelSnapshot { camera, model } => camera.len() + model.len(),
                C::Enroll {
                    camera,
                    credential,
                    scopes,
                    ..
                } => {
                    camera.len()
                        + credential.len()
                        + scopes.iter().map(|scope| scope.len() + 2).sum::<usize>()
                }
                C::SetEnrollmentStatus { camera, .. } => camera.len(),
                C::RecordNode {
                    peer, credential, ..
                } => peer.len() + credential.len(),
                C::RemoveNode { .. } => 0,
                C::CreateSession {
                    id, camera, secret, ..
                } => id.len() + camera.len() + sealed(secret),
                C::RefreshSession { id, secret, .. } => {
                    id.len() + secret.as_ref().map_or(0, sealed)
                }
                C::EndSession { id } => id.len(),
                C::AddFrameKeyEpoch { key, .. } => sealed(key),
                C::AddRevocation { id, signed } => id.len() + signed.len(),
                C::Batch(commands) => commands.iter().map(RegistryCommand::size_hint).sum(),
            }
    }
}

/// The layout of version 1 of [`RegistryCommand`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "RegistryCommand")]
enum RegistryCommandV1 {
    CreateJoinToken {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        #[serde(with = "serde_bytes")]
        secret_hash: Vec<u8>,
        role: TokenRole,
        expires_at: u64,
    },
    ConsumeJoinToken {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        #[serde(with = "serde_bytes")]
        secret_hash: Vec<u8>,
        consumer: String,
        now: u64,
    },
    PutModelSnapshot {
        camera: String,
        #[serde(with = "serde_bytes")]
        model: Vec<u8>,
    },
    Enroll {
        camera: String,
        #[serde(with = "serde_bytes")]
        credential: Vec<u8>,
        scopes: Vec<String>,
        now: u64,
    },
    SetEnrollmentStatus {
        camera: String,
        status: EnrollmentStatus,
        now: u64,
    },
    RecordNode {
        node: u64,
        peer: String,
        #[serde(with = "serde_bytes")]
        credential: Vec<u8>,
        now: u64,
    },
    RemoveNode {
        node: u64,
    },
    CreateSession {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        camera: String,
        secret: SealedSecret,
        now: u64,
        expires_at: u64,
    },
    RefreshSession {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        now: u64,
        expires_at: u64,
        secret: Option<SealedSecret>,
    },
    EndSession {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
    },
    AddFrameKeyEpoch {
        epoch: u64,
        key: SealedSecret,
        not_before: u64,
        not_after: u64,
    },
    AddRevocation {
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        #[serde(with = "serde_bytes")]
        signed: Vec<u8>,
    },
    Batch(Vec<RegistryCommand>),
}

versioned::versioned_v1!(RegistryCommand, RegistryCommandV1, "registry command");

/// What applying an entry produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RegistryResponse {
    /// The entry changed nothing a client asked about: a blank or membership entry.
    Done,
    /// The join token is recorded.
    JoinTokenCreated,
    /// The join token was consumed by this command; its holder joins as `role`.
    JoinTokenConsumed {
        /// What the token admits its holder as.
        role: TokenRole,
    },
    /// The camera's anomaly model is replaced; `revision` counts the snapshots stored for it,
    /// starting at 1.
    ModelStored {
        /// How many snapshots of this camera's model the registry has taken.
        revision: u64,
    },
    /// The camera is enrolled, active.
    Enrolled,
    /// The enrollment's status is set.
    EnrollmentStatusSet {
        /// How many of the camera's sessions this ended.
        sessions_ended: u64,
    },
    /// The node is recorded.
    NodeRecorded,
    /// The node is forgotten.
    NodeRemoved,
    /// The session is recorded.
    SessionCreated,
    /// The session is extended.
    SessionRefreshed,
    /// The session is ended.
    SessionEnded,
    /// The frame-token key epoch is recorded.
    FrameKeyEpochAdded,
    /// The revocation is added to the site's set.
    RevocationAdded,
    /// The same revocation was in the site's set already; nothing changed.
    RevocationAlreadyPresent,
    /// The command was refused, and changed nothing.
    Refused(Refusal),
    /// The responses to a [`RegistryCommand::Batch`]'s commands, in their order.
    Batch(Vec<RegistryResponse>),
}

/// Why a command was refused. Deterministic: every node refuses the same command the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A field is empty, longer than its limit, or inconsistent with another.
    #[error("malformed command: {0}")]
    Malformed(String),
    /// A token with this id exists already.
    #[error("a join token with this id exists")]
    TokenExists,
    /// No token has this id.
    #[error("no such join token")]
    UnknownToken,
    /// The token was used before.
    #[error("join token already used by {by}")]
    TokenUsed {
        /// Who used it.
        by: String,
    },
    /// The token's lifetime is over.
    #[error("join token expired")]
    TokenExpired,
    /// The secret presented is not the token's.
    #[error("wrong join token secret")]
    WrongSecret,
    /// The camera has an active enrollment already.
    #[error("the camera is enrolled and active")]
    AlreadyEnrolled,
    /// The camera is not enrolled.
    #[error("the camera is not enrolled")]
    NotEnrolled,
    /// The camera's enrollment is suspended or revoked.
    #[error("the camera's enrollment is {status}")]
    EnrollmentNotActive {
        /// Its status.
        status: EnrollmentStatus,
    },
    /// The node id is recorded for another PeerId.
    #[error("node id recorded for peer {peer}")]
    NodeTaken {
        /// The PeerId it is recorded for.
        peer: String,
    },
    /// No node has this id.
    #[error("no such node")]
    UnknownNode,
    /// A session with this id exists.
    #[error("a session with this id exists")]
    SessionExists,
    /// No session has this id.
    #[error("no such session")]
    UnknownSession,
    /// The session's lifetime is over; it cannot be extended.
    #[error("session expired")]
    SessionExpired,
    /// The epoch is not above the latest one recorded.
    #[error("frame-key epoch is not above the latest, {latest}")]
    StaleFrameKeyEpoch {
        /// The latest epoch recorded.
        latest: u64,
    },
    /// Another revocation is recorded under this id.
    #[error("another revocation has this id")]
    RevocationConflict,
}

/// Why applying a command failed: the registry's own storage, never the command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// redb failed.
    #[error("registry table {table}: {source}")]
    Storage {
        /// The table.
        table: &'static str,
        /// What redb reported.
        source: redb::Error,
    },
    /// A stored record is corrupt, or of a version this release does not read.
    #[error("registry table {table}: {source}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong with it.
        source: FrameError,
    },
}

/// Applies `command` to the registry in `txn`.
pub(crate) fn apply(
    txn: &WriteTransaction,
    command: &RegistryCommand,
) -> Result<RegistryResponse, ApplyError> {
    use RegistryCommand as C;
    let outcome = match command {
        C::CreateJoinToken {
            id,
            secret_hash,
            role,
            expires_at,
        } => tokens::create(txn, id, secret_hash, *role, *expires_at),
        C::ConsumeJoinToken {
            id,
            secret_hash,
            consumer,
            now,
        } => tokens::consume(txn, id, secret_hash, consumer, *now),
        C::PutModelSnapshot { camera, model } => models::put(txn, camera, model),
        C::Enroll {
            camera,
            credential,
            scopes,
            now,
        } => enrollments::enroll(txn, camera, credential, scopes, *now),
        C::SetEnrollmentStatus {
            camera,
            status,
            now,
        } => enrollments::set_status(txn, camera, *status, *now),
        C::RecordNode {
            node,
            peer,
            credential,
            now,
        } => nodes::record(txn, *node, peer, credential, *now),
        C::RemoveNode { node } => nodes::remove(txn, *node),
        C::CreateSession {
            id,
            camera,
            secret,
            now,
            expires_at,
        } => sessions::create(txn, id, camera, secret, *now, *expires_at),
        C::RefreshSession {
            id,
            now,
            expires_at,
            secret,
        } => sessions::refresh(txn, id, *now, *expires_at, secret.as_ref()),
        C::EndSession { id } => sessions::end(txn, id),
        C::AddFrameKeyEpoch {
            epoch,
            key,
            not_before,
            not_after,
        } => frame_keys::add(txn, *epoch, key, *not_before, *not_after),
        C::AddRevocation { id, signed } => revocations::add(txn, id, signed),
        C::Batch(commands) => {
            if commands.is_empty()
                || commands.len() > MAX_BATCH_COMMANDS
                || commands
                    .iter()
                    .any(|command| matches!(command, C::Batch(_)))
            {
                Ok(Err(malformed("batch")))
            } else {
                let responses = commands
                    .iter()
                    .map(|command| apply(txn, command))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Ok(RegistryResponse::Batch(responses)))
            }
        }
    }?;
    Ok(outcome.unwrap_or_else(RegistryResponse::Refused))
}

/// What applying one command gives: a response, or the refusal that left the registry as it
/// was; the outer error is the registry's own storage failing.
pub(crate) type Outcome = Result<Result<RegistryResponse, Refusal>, ApplyError>;

/// Refuses a command as malformed, naming the field.
pub(crate) fn malformed(what: &str) -> Refusal {
    Refusal::Malformed(what.to_owned())
}

/// Checks a camera id: not empty, within [`MAX_CAMERA_ID_LEN`].
pub(crate) fn check_camera(camera: &str) -> Result<(), Refusal> {
    check_len(camera.as_bytes(), 1, MAX_CAMERA_ID_LEN, "camera id")
}

/// Checks that `field` holds between `min` and `max` bytes.
pub(crate) fn check_len(field: &[u8], min: usize, max: usize, what: &str) -> Result<(), Refusal> {
    if field.len() < min || field.len() > max {
        return Err(malformed(what));
    }
    Ok(())
}

/// One registry table as a command sees it while applying: framed, versioned records by key.
pub(crate) struct Records<'txn> {
    name: &'static str,
    table: redb::Table<'txn, &'static [u8], &'static [u8]>,
}

impl<'txn> Records<'txn> {
    /// Opens the table called `name` in `txn`.
    pub(crate) fn open(
        txn: &'txn WriteTransaction,
        name: &'static str,
    ) -> Result<Records<'txn>, ApplyError> {
        let table = txn
            .open_table(RegistryTable::new(name))
            .map_err(|e| storage(name, e))?;
        Ok(Records { name, table })
    }

    /// The record under `key`, checked and decoded.
    pub(crate) fn get<R: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<R>, ApplyError> {
        match self.table.get(key).map_err(|e| storage(self.name, e))? {
            Some(stored) => frame::open(stored.value())
                .map(Some)
                .map_err(|e| corrupt(self.name, e)),
            None => Ok(None),
        }
    }

    /// The last record in key order, with its key.
    pub(crate) fn last<R: DeserializeOwned>(&self) -> Result<Option<(Vec<u8>, R)>, ApplyError> {
        match self.table.last().map_err(|e| storage(self.name, e))? {
            Some((key, stored)) => {
                let record = frame::open(stored.value()).map_err(|e| corrupt(self.name, e))?;
                Ok(Some((key.value().to_vec(), record)))
            }
            None => Ok(None),
        }
    }

    /// The keys of the records for which `select` holds, in key order.
    pub(crate) fn keys_where<R: DeserializeOwned>(
        &self,
        mut select: impl FnMut(&R) -> bool,
    ) -> Result<Vec<Vec<u8>>, ApplyError> {
        let mut keys = Vec::new();
        for row in self.table.iter().map_err(|e| storage(self.name, e))? {
            let (key, stored) = row.map_err(|e| storage(self.name, e))?;
            let record: R = frame::open(stored.value()).map_err(|e| corrupt(self.name, e))?;
            if select(&record) {
                keys.push(key.value().to_vec());
            }
        }
        Ok(keys)
    }

    /// Stores `record` under `key`, replacing what was there.
    pub(crate) fn put<R: Serialize>(&mut self, key: &[u8], record: &R) -> Result<(), ApplyError> {
        let bytes = frame::seal(record).map_err(|e| corrupt(self.name, e))?;
        self.table
            .insert(key, bytes.as_slice())
            .map_err(|e| storage(self.name, e))?;
        Ok(())
    }

    /// Removes the record under `key`; whether there was one.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Result<bool, ApplyError> {
        let removed = self
            .table
            .remove(key)
            .map_err(|e| storage(self.name, e))?
            .is_some();
        Ok(removed)
    }
}

fn storage(table: &'static str, error: impl Into<redb::Error>) -> ApplyError {
    ApplyError::Storage {
        table,
        source: error.into(),
    }
}

fn corrupt(table: &'static str, source: FrameError) -> ApplyError {
    ApplyError::Corrupt { table, source }
}

/// A stored key that cannot be one the registry wrote, such as an epoch not of 8 bytes.
fn corrupt_key(table: &'static str) -> ApplyError {
    corrupt(
        table,
        FrameError::Decode("a key of the wrong length".into()),
    )
}

#[cfg(test)]
pub(crate) mod testing {
    //! A registry in a temporary redb file, for the tests of each module.

    use rand_core::UnwrapErr;

    use super::*;

    pub(crate) const NOW: u64 = 1_800_000_000;

    pub(crate) struct Registry {
        _dir: tempfile::TempDir,
        db: redb::Database,
    }

    impl Registry {
        pub(crate) fn new() -> Registry {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = redb::Database::create(dir.path().join("r.redb")).expect("database");
            Registry { _dir: dir, db }
        }

        pub(crate) fn apply(&self, command: RegistryCommand) -> RegistryResponse {
            let txn = self.db.begin_write().expect("write");
            let response = apply(&txn, &command).expect("applies");
            txn.commit().expect("commit");
            response
        }

        /// The record under `key` in the table called `name`.
        pub(crate) fn read<R: DeserializeOwned>(
            &self,
            name: &'static str,
            key: &[u8],
        ) -> Option<R> {
            use redb::ReadableDatabase as _;
            let txn = self.db.begin_read().expect("read");
            let table = match txn.open_table(RegistryTable::new(name)) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return None,
                Err(e) => panic!("table {name}: {e}"),
            };
            let stored = table.get(key).expect("get")?;
            Some(frame::open(stored.value()).expect("a sound record"))
        }
    }

    pub(crate) fn rng() -> UnwrapErr<getrandom::SysRng> {
        UnwrapErr(getrandom::SysRng)
    }

    /// A camera enrolled in `registry`, active, so that sessions may be created for it.
    pub(crate) fn enrolled(registry: &Registry, camera: &str) {
        assert_eq!(
            registry.apply(RegistryCommand::Enroll {
                camera: camera.into(),
                credential: vec![0xd2; 40],
                scopes: vec!["stream".into()],
                now: NOW,
            }),
            RegistryResponse::Enrolled
        );
    }
}

#[cfg(test)]
mod tests {
    use super::versioned::tests::{cbor, decode, hex, unhex};
    use super::*;
    use crate::frame::FrameError;

    // [1, {"ConsumeJoinToken": {"id": h'7431', "secret_hash": h'07' * 32,
    //      "consumer": "cam-a", "now": 1800000000}}]
    const CONSUME_V1: &str = "
        82 01
        a1 70 436f6e73756d654a6f696e546f6b656e
        a4
           62 6964 42 7431
           6b 7365637265745f68617368
              58 20 0707070707070707070707070707070707070707070707070707070707070707
           68 636f6e73756d6572 65 63616d2d61
           63 6e6f77 1a 6b49d200";

    fn consume_command() -> RegistryCommand {
        RegistryCommand::ConsumeJoinToken {
            id: b"t1".to_vec(),
            secret_hash: vec![7; SECRET_HASH_LEN],
            consumer: "cam-a".into(),
            now: 1_800_000_000,
        }
    }

    #[test]
    fn a_command_of_version_1_reads_as_written() {
        assert_eq!(
            decode::<RegistryCommand>(&unhex(CONSUME_V1)).expect("decodes"),
            consume_command()
        );
        assert_eq!(hex(&cbor(&consume_command())), hex(&unhex(CONSUME_V1)));
    }

    #[test]
    fn a_command_of_a_later_version_is_refused_by_name() {
        let mut later = unhex(CONSUME_V1);
        later[1] = 0x02;
        let Err(FrameError::Decode(message)) = decode::<RegistryCommand>(&later) else {
            panic!("a command of version 2 was read");
        };
        assert!(
            message.contains("registry command of version 2 is unknown"),
            "{message}"
        );
    }

    #[test]
    fn every_command_round_trips_through_its_encoding() {
        let sealed = SealedSecret {
            nonce: vec![1; sealing::NONCE_LEN],
            ciphertext: vec![2; 48],
        };
        let commands = [
            RegistryCommand::CreateJoinToken {
                id: b"t1".to_vec(),
                secret_hash: vec![7; SECRET_HASH_LEN],
                role: TokenRole::Node,
                expires_at: 1,
            },
            consume_command(),
            RegistryCommand::PutModelSnapshot {
                camera: "cam-a".into(),
                model: vec![1; 10],
            },
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![3; 20],
                scopes: vec!["stream".into(), "api".into()],
                now: 5,
            },
            RegistryCommand::SetEnrollmentStatus {
                camera: "cam-a".into(),
                status: EnrollmentStatus::Suspended,
                now: 6,
            },
            RegistryCommand::RecordNode {
                node: 9,
                peer: "12D3KooW".into(),
                credential: vec![4; 20],
                now: 7,
            },
            RegistryCommand::RemoveNode { node: 9 },
            RegistryCommand::CreateSession {
                id: vec![5; 8],
                camera: "cam-a".into(),
                secret: sealed.clone(),
                now: 8,
                expires_at: 9,
            },
            RegistryCommand::RefreshSession {
                id: vec![5; 8],
                now: 8,
                expires_at: 10,
                secret: None,
            },
            RegistryCommand::EndSession { id: vec![5; 8] },
            RegistryCommand::AddFrameKeyEpoch {
                epoch: 3,
                key: sealed,
                not_before: 1,
                not_after: 2,
            },
            RegistryCommand::AddRevocation {
                id: vec![6; 32],
                signed: vec![7; 64],
            },
        ];
        let batch = RegistryCommand::Batch(commands.to_vec());
        for command in commands.into_iter().chain([batch]) {
            let encoded = cbor(&command);
            assert!(
                encoded.len() <= command.size_hint(),
                "{} encoded bytes above the size hint of {command:?}",
                encoded.len()
            );
            assert_eq!(
                decode::<RegistryCommand>(&encoded).expect("decodes"),
                command
            );
        }
    }

    #[test]
    fn a_batch_applies_its_commands_in_order_each_as_if_alone() {
        let registry = testing::Registry::new();
        let create = RegistryCommand::CreateJoinToken {
            id: b"t1".to_vec(),
            secret_hash: vec![7; SECRET_HASH_LEN],
            role: TokenRole::Camera,
            expires_at: 1_900_000_000,
        };
        let response = registry.apply(RegistryCommand::Batch(vec![
            create.clone(),
            consume_command(),
            // Refused, and changes nothing, while the others stand.
            create,
            consume_command(),
        ]));
        let RegistryResponse::Batch(responses) = response else {
            panic!("a batch answered with {response:?}");
        };
        assert_eq!(
            responses,
            [
                RegistryResponse::JoinTokenCreated,
                RegistryResponse::JoinTokenConsumed {
                    role: TokenRole::Camera
                },
                RegistryResponse::Refused(Refusal::TokenExists),
                RegistryResponse::Refused(Refusal::TokenUsed { by: "cam-a".into() }),
            ]
        );
        let record: JoinTokenRecord = registry
            .read("registry.join_tokens.v1", b"t1")
            .expect("recorded");
        assert_eq!(record.consumed_by.as_deref(), Some("cam-a"));
    }

    #[test]
    fn an_empty_nested_or_oversized_batch_is_refused_whole() {
        let registry = testing::Registry::new();
        let put = |camera: &str| RegistryCommand::PutModelSnapshot {
            camera: camera.into(),
            model: vec![1; 4],
        };
        let malformed = RegistryResponse::Refused(Refusal::Malformed("batch".into()));
        assert_eq!(
            registry.apply(RegistryCommand::Batch(Vec::new())),
            malformed
        );
        let nested = RegistryCommand::Batch(vec![
            put("cam-a"),
            RegistryCommand::Batch(vec![put("cam-b")]),
        ]);
        assert_eq!(registry.apply(nested), malformed);
        let oversized = (0..=MAX_BATCH_COMMANDS)
            .map(|i| put(&format!("cam-{i}")))
            .collect();
        assert_eq!(registry.apply(RegistryCommand::Batch(oversized)), malformed);
        for camera in ["cam-a", "cam-b", "cam-0"] {
            assert!(
                registry
                    .read::<ModelSnapshotRecord>("registry.model_snapshots.v1", camera.as_bytes())
                    .is_none(),
                "a refused batch stored {camera}'s model"
            );
        }
    }

    #[test]
    fn every_table_is_in_snapshots_once() {
        use redb::TableHandle as _;
        let names: std::collections::BTreeSet<&str> = TABLES.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), TABLES.len());
        for name in &names {
            assert!(
                name.starts_with("registry.") && name.ends_with(".v1"),
                "{name}"
            );
        }
    }
}
