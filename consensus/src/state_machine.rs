//! The registry as openraft's state machine, in redb, with its snapshots.
//!
//! ```text
//! raft.applied.v1    "applied"     -> frame(Option<LogId>)
//!                    "membership"  -> frame(StoredMembership)
//! raft.snapshot.v1   "meta"        -> frame(SnapshotMeta)
//!                    "data"        -> frame(SnapshotImage)
//! registry.*.v1      the registry's own tables (see `registry`)
//! ```
//!
//! A batch of entries is applied in one redb transaction, together with the index of the last
//! one: after a crash the registry and `applied` agree, and openraft re-applies from there.
//!
//! A snapshot is a copy of every registry table as of one applied index, read from a redb
//! read transaction (a consistent view while writes go on) and framed with a checksum.
//! Openraft sends it to a lagging follower in chunks; the follower checks the checksum of
//! the whole and of every record in it before it replaces its own tables, so a corrupt
//! snapshot is refused whole and never installed.

use std::io::{self, Cursor};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase as _, ReadableTable as _,
    TableDefinition, TableHandle as _, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::registry::{self, RegistryResponse};
use crate::{SiteRaft, frame};

const APPLIED: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("raft.applied.v1");
const SNAPSHOT: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("raft.snapshot.v1");

const LAST_APPLIED: &str = "applied";
const MEMBERSHIP: &str = "membership";
const SNAPSHOT_META: &str = "meta";
const SNAPSHOT_DATA: &str = "data";

type NodeId = u64;
type Membership = StoredMembership<NodeId, BasicNode>;

/// Everything a snapshot carries besides its metadata: each registry table's rows, as stored
/// (every value a frame of its own).
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotImage {
    last_applied: Option<LogId<NodeId>>,
    membership: Membership,
    tables: Vec<TableImage>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TableImage {
    name: String,
    rows: Vec<(serde_bytes::ByteBuf, serde_bytes::ByteBuf)>,
}

/// The registry state machine of one node. Cheap to clone: clones share the database, and
/// the snapshot builder is one.
#[derive(Clone, Debug)]
pub struct RedbStateMachine {
    db: Arc<Database>,
    /// Held by every clone: once it has no holder, the state machine no longer touches the
    /// database, which other parts of the node may share.
    lease: Arc<()>,
}

impl RedbStateMachine {
    /// The state machine kept in `db`; its tables are created if missing.
    pub fn new(db: Arc<Database>) -> Result<RedbStateMachine, StorageError<NodeId>> {
        let sm = RedbStateMachine {
            db,
            lease: Arc::new(()),
        };
        let txn = sm.begin_write().map_err(write_sm)?;
        txn.open_table(APPLIED).map_err(write_sm)?;
        txn.open_table(SNAPSHOT).map_err(write_sm)?;
        for table in registry::TABLES {
            txn.open_table(table).map_err(write_sm)?;
        }
        txn.commit().map_err(write_sm)?;
        Ok(sm)
    }

    /// The index of the last entry applied, as stored with the registry: once a write has
    /// been acknowledged, this includes it, even before openraft's metrics say so.
    pub fn applied_index(&self) -> Result<Option<u64>, StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_sm)?;
        let (applied, _) = Self::applied_from(&txn)?;
        Ok(applied.map(|id| id.index))
    }

    /// A handle that tells when the state machine and all its clones are gone.
    pub(crate) fn lease(&self) -> std::sync::Weak<()> {
        Arc::downgrade(&self.lease)
    }

    /// A read transaction over the registry as last applied, for queries.
    pub fn read(&self) -> Result<ReadTransaction, redb::Error> {
        Ok(self.db.begin_read()?)
    }

    fn begin_write(&self) -> Result<WriteTransaction, redb::Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        Ok(txn)
    }

    fn applied_from(
        txn: &ReadTransaction,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let table = txn.open_table(APPLIED).map_err(read_sm)?;
        let last_applied = match table.get(LAST_APPLIED).map_err(read_sm)? {
            Some(bytes) => frame::open(bytes.value()).map_err(read_sm)?,
            None => None,
        };
        let membership = match table.get(MEMBERSHIP).map_err(read_sm)? {
            Some(bytes) => frame::open(bytes.value()).map_err(read_sm)?,
            None => Membership::default(),
        };
        Ok((last_applied, membership))
    }

    fn stored_snapshot(&self) -> Result<Option<Snapshot<SiteRaft>>, StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_snapshot)?;
        let table = txn.open_table(SNAPSHOT).map_err(read_snapshot)?;
        let (Some(meta), Some(data)) = (
            table.get(SNAPSHOT_META).map_err(read_snapshot)?,
            table.get(SNAPSHOT_DATA).map_err(read_snapshot)?,
        ) else {
            return Ok(None);
        };
        let meta: SnapshotMeta<NodeId, BasicNode> =
            frame::open(meta.value()).map_err(read_snapshot)?;
        frame::verify(data.value()).map_err(read_snapshot)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data.value().to_vec())),
        }))
    }
}

impl RaftSnapshotBuilder<SiteRaft> for RedbStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<SiteRaft>, StorageError<NodeId>> {
        // One read transaction: the tables and the applied index are from the same instant.
        let txn = self.db.begin_read().map_err(read_sm)?;
        let (last_applied, membership) = Self::applied_from(&txn)?;
        let mut tables = Vec::with_capacity(registry::TABLES.len());
        for definition in registry::TABLES {
            let table = txn.open_table(definition).map_err(read_sm)?;
            let mut rows = Vec::new();
            for row in table.iter().map_err(read_sm)? {
                let (key, value) = row.map_err(read_sm)?;
                rows.push((
                    serde_bytes::ByteBuf::from(key.value().to_vec()),
                    serde_bytes::ByteBuf::from(value.value().to_vec()),
                ));
            }
            tables.push(TableImage {
                name: definition.name().to_owned(),
                rows,
            });
        }
        drop(txn);
        let image = SnapshotImage {
            last_applied,
            membership: membership.clone(),
            tables,
        };
        let data = frame::seal(&image).map_err(write_snapshot)?;
        let snapshot_id = match last_applied {
            // The checksum makes ids of snapshots at one index but of different content differ.
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, hex_prefix(&data)),
            None => format!("empty-{}", hex_prefix(&data)),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let meta_bytes = frame::seal(&meta).map_err(write_snapshot)?;
        let txn = self.begin_write().map_err(write_snapshot)?;
        {
            let mut table = txn.open_table(SNAPSHOT).map_err(write_snapshot)?;
            table
                .insert(SNAPSHOT_META, meta_bytes.as_slice())
                .map_err(write_snapshot)?;
            table
                .insert(SNAPSHOT_DATA, data.as_slice())
                .map_err(write_snapshot)?;
        }
        txn.commit().map_err(write_snapshot)?;
        info!(snapshot = %meta.snapshot_id, bytes = data.len(), "registry snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<SiteRaft> for RedbStateMachine {
    type SnapshotBuilder = RedbStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_sm)?;
        Self::applied_from(&txn)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<RegistryResponse>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<SiteRaft>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let txn = self.begin_write().map_err(write_sm)?;
        let mut responses = Vec::new();
        let mut last_applied = None;
        let mut membership = None;
        for entry in entries {
            last_applied = Some(entry.log_id);
            let response = match &entry.payload {
                EntryPayload::Blank => RegistryResponse::Done,
                EntryPayload::Normal(command) => {
                    registry::apply(&txn, command).map_err(write_sm)?
                }
                EntryPayload::Membership(config) => {
                    membership = Some(Membership::new(Some(entry.log_id), config.clone()));
                    RegistryResponse::Done
                }
            };
            responses.push(response);
        }
        if let Some(last_applied) = last_applied {
            let mut table = txn.open_table(APPLIED).map_err(write_sm)?;
            let bytes = frame::seal(&Some(last_applied)).map_err(write_sm)?;
            table
                .insert(LAST_APPLIED, bytes.as_slice())
                .map_err(write_sm)?;
            if let Some(membership) = &membership {
                let bytes = frame::seal(membership).map_err(write_sm)?;
                table
                    .insert(MEMBERSHIP, bytes.as_slice())
                    .map_err(write_sm)?;
            }
        }
        txn.commit().map_err(write_sm)?;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let signature = Some(meta.signature());
        let refuse = |error: &(dyn std::error::Error + 'static)| -> StorageError<NodeId> {
            StorageIOError::read_snapshot(signature.clone(), &io::Error::other(error.to_string()))
                .into()
        };
        // Check everything before touching the tables: a corrupt snapshot changes nothing.
        let image: SnapshotImage = frame::open(&data).map_err(|e| refuse(&e))?;
        if image.last_applied != meta.last_log_id {
            let error = io::Error::other("snapshot data is for another log index than its meta");
            return Err(refuse(&error));
        }
        for table in &image.tables {
            if !registry::TABLES.iter().any(|t| t.name() == table.name) {
                let error = io::Error::other(format!("unknown table {}", table.name));
                return Err(refuse(&error));
            }
            for (_, value) in &table.rows {
                frame::verify(value).map_err(|e| refuse(&e))?;
            }
        }

        let meta_bytes = frame::seal(meta).map_err(write_snapshot)?;
        let applied = frame::seal(&meta.last_log_id).map_err(write_snapshot)?;
        let membership = frame::seal(&meta.last_membership).map_err(write_snapshot)?;
        let txn = self.begin_write().map_err(write_snapshot)?;
        for definition in registry::TABLES {
            let mut table = txn.open_table(definition).map_err(write_snapshot)?;
            table.retain(|_, _| false).map_err(write_snapshot)?;
            if let Some(image) = image.tables.iter().find(|t| t.name == definition.name()) {
                for (key, value) in &image.rows {
                    table
                        .insert(key.as_slice(), value.as_slice())
                        .map_err(write_snapshot)?;
                }
            }
        }
        {
            let mut table = txn.open_table(APPLIED).map_err(write_snapshot)?;
            table
                .insert(LAST_APPLIED, applied.as_slice())
                .map_err(write_snapshot)?;
            table
                .insert(MEMBERSHIP, membership.as_slice())
                .map_err(write_snapshot)?;
            let mut table = txn.open_table(SNAPSHOT).map_err(write_snapshot)?;
            table
                .insert(SNAPSHOT_META, meta_bytes.as_slice())
                .map_err(write_snapshot)?;
            table
                .insert(SNAPSHOT_DATA, data.as_slice())
                .map_err(write_snapshot)?;
        }
        txn.commit().map_err(write_snapshot)?;
        info!(snapshot = %meta.snapshot_id, "registry snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<SiteRaft>>, StorageError<NodeId>> {
        self.stored_snapshot()
    }
}

fn hex_prefix(data: &[u8]) -> String {
    // Bytes 1..9 of a frame are its checksum.
    data.iter()
        .skip(1)
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_sm(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&error).into()
}

fn read_sm(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_state_machine(&error).into()
}

fn write_snapshot(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, &error).into()
}

fn read_snapshot(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_snapshot(None, &error).into()
}
