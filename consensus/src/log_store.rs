//! The Raft log and the vote, in redb.
//!
//! ```text
//! raft.log.v1    index (u64)  -> frame(Entry)
//! raft.meta.v1   "vote"       -> frame(Vote)
//!                "committed"  -> frame(LogId)
//!                "purged"     -> frame(LogId)     the last entry removed by purge
//! ```
//!
//! Every write commits with [`Durability::Immediate`] before openraft is told it happened: an
//! entry the leader counts towards a quorum, or a vote a candidate was granted, is on disk
//! and survives a kill -9. Every entry is read back through its checksum and must carry the
//! index it is stored under; anything else is a storage error, so a corrupt entry stops the
//! node instead of being replicated or applied.

use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, StorageError, StorageIOError, Vote};
use redb::{
    Database, Durability, ReadableDatabase as _, ReadableTable as _, TableDefinition,
    WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SiteRaft;
use crate::frame;

const LOG: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("raft.log.v1");
const META: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("raft.meta.v1");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";

type NodeId = u64;

/// The Raft log of one node, and its vote. Cheap to clone: clones share the database, and
/// openraft reads through a clone while it appends through the original.
#[derive(Clone, Debug)]
pub struct RedbLogStore {
    db: Arc<Database>,
}

impl RedbLogStore {
    /// The log kept in `db`; its tables are created if missing.
    pub fn new(db: Arc<Database>) -> Result<RedbLogStore, StorageError<NodeId>> {
        let store = RedbLogStore { db };
        let txn = store.begin_write().map_err(write_logs)?;
        txn.open_table(LOG).map_err(write_logs)?;
        txn.open_table(META).map_err(write_logs)?;
        txn.commit().map_err(write_logs)?;
        Ok(store)
    }

    fn begin_write(&self) -> Result<WriteTransaction, redb::Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        Ok(txn)
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, io::Error> {
        let txn = self.db.begin_read().map_err(io::Error::other)?;
        let table = txn.open_table(META).map_err(io::Error::other)?;
        match table.get(key).map_err(io::Error::other)? {
            Some(bytes) => frame::open(bytes.value())
                .map(Some)
                .map_err(io::Error::other),
            None => Ok(None),
        }
    }

    fn write_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), io::Error> {
        let bytes = frame::seal(value).map_err(io::Error::other)?;
        let txn = self.begin_write().map_err(io::Error::other)?;
        txn.open_table(META)
            .map_err(io::Error::other)?
            .insert(key, bytes.as_slice())
            .map_err(io::Error::other)?;
        txn.commit().map_err(io::Error::other)
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_logs)?;
        let table = txn.open_table(LOG).map_err(read_logs)?;
        match table.last().map_err(read_logs)? {
            Some((index, bytes)) => {
                let entry = decode_entry(index.value(), bytes.value())?;
                Ok(Some(entry.log_id))
            }
            None => Ok(None),
        }
    }
}

/// Decodes the entry stored at `index`, refusing one whose checksum or index is wrong.
fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry<SiteRaft>, StorageError<NodeId>> {
    let entry: Entry<SiteRaft> = frame::open(bytes)
        .map_err(|e| StorageError::from(StorageIOError::read_log_at_index(index, &e)))?;
    if entry.log_id.index != index {
        let error = io::Error::other(format!(
            "entry stored at index {index} names index {}",
            entry.log_id.index
        ));
        return Err(StorageIOError::read_log_at_index(index, &error).into());
    }
    Ok(entry)
}

impl RaftLogReader<SiteRaft> for RedbLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<SiteRaft>>, StorageError<NodeId>> {
        let txn = self.db.begin_read().map_err(read_logs)?;
        let table = txn.open_table(LOG).map_err(read_logs)?;
        let mut entries = Vec::new();
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        for row in table.range(bounds).map_err(read_logs)? {
            let (index, bytes) = row.map_err(read_logs)?;
            entries.push(decode_entry(index.value(), bytes.value())?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<SiteRaft> for RedbLogStore {
    type LogReader = RedbLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<SiteRaft>, StorageError<NodeId>> {
        let last_purged_log_id: Option<LogId<NodeId>> =
            self.read_meta(PURGED).map_err(read_logs)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.write_meta(VOTE, vote)
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.read_meta(VOTE)
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.write_meta(COMMITTED, &committed).map_err(write_logs)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .read_meta::<Option<LogId<NodeId>>>(COMMITTED)
            .map_err(read_logs)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<SiteRaft>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<SiteRaft>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let written = (|| -> Result<(), io::Error> {
            let txn = self.begin_write().map_err(io::Error::other)?;
            {
                let mut log = txn.open_table(LOG).map_err(io::Error::other)?;
                for entry in entries {
                    let bytes = frame::seal(&entry).map_err(io::Error::other)?;
                    log.insert(entry.log_id.index, bytes.as_slice())
                        .map_err(io::Error::other)?;
                }
            }
            txn.commit().map_err(io::Error::other)
        })();
        // Openraft counts the entries as durable only once told so, after the commit.
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                let storage_error = StorageIOError::write_logs(&error).into();
                callback.log_io_completed(Err(error));
                Err(storage_error)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let txn = self.begin_write().map_err(write_logs)?;
        txn.open_table(LOG)
            .map_err(write_logs)?
            .retain_in(log_id.index.., |_, _| false)
            .map_err(write_logs)?;
        txn.commit().map_err(write_logs)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let purged = frame::seal(&log_id).map_err(write_logs)?;
        // One transaction: the purge mark and the removal are on disk together or not at all.
        let txn = self.begin_write().map_err(write_logs)?;
        txn.open_table(META)
            .map_err(write_logs)?
            .insert(PURGED, purged.as_slice())
            .map_err(write_logs)?;
        txn.open_table(LOG)
            .map_err(write_logs)?
            .retain_in(..=log_id.index, |_, _| false)
            .map_err(write_logs)?;
        txn.commit().map_err(write_logs)
    }
}

fn write_logs(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_logs(&error).into()
}

fn read_logs(error: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_logs(&error).into()
}
