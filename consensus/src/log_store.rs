//! The Raft log and the vote, in redb.
//!
//! ```text
//! raft.log.v1    index (u64)  -> frame(Entry)
//! raft.meta.v1   "vote"       -> frame(Vote)
//!                "committed"  -> frame(LogId)
//!                "purged"     -> frame(LogId)     the last entry removed by purge
//! ```
//!
//! Nothing is reported to openraft as written before it is on disk: an entry the leader
//! counts towards a quorum, or a vote a candidate was granted, survives a kill -9. Votes,
//! truncations and purges commit with [`Durability::Immediate`] before they return.
//!
//! Appends are group-committed. openraft hands the log one client write at a time and waits
//! for nothing but the append's return, so an fsync per append would cap a site at one write
//! per fsync however many clients wait. Instead an append commits without syncing (redb's
//! [`Durability::None`]: visible to readers, not yet durable) and queues openraft's
//! [`LogFlushed`] callback; a sync thread makes one durable commit, which persists every
//! commit before it, and only then reports every append it covers as flushed. While one sync
//! runs, the appends that arrive meanwhile gather for the next:
//!
//! ```text
//! append ─▶ commit (no sync) ─▶ queue callback ─┐
//! append ─▶ commit (no sync) ─▶ queue callback ─┼─▶ sync thread: one durable commit,
//! append ─▶ commit (no sync) ─▶ queue callback ─┘      then every queued callback: flushed
//! ```
//!
//! A crash loses only appends whose callbacks had not run, which openraft never counted.
//!
//! Every entry is read back through its checksum and must carry the index it is stored under;
//! anything else is a storage error, so a corrupt entry stops the node instead of being
//! replicated or applied.

use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::{Arc, Weak, mpsc};

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

/// The Raft log of one node, and its vote. Cheap to clone: clones share the database and the
/// sync thread, and openraft reads through a clone while it appends through the original.
#[derive(Clone, Debug)]
pub struct RedbLogStore {
    db: Arc<Database>,
    /// Appends waiting for the sync thread's next durable commit. The thread stops once every
    /// clone of the store is gone.
    unsynced: mpsc::Sender<LogFlushed<SiteRaft>>,
    /// Held by every clone and by the sync thread: once it has no holder, the log no longer
    /// touches the database, which other parts of the node may share.
    lease: Arc<()>,
}

impl RedbLogStore {
    /// The log kept in `db`; its tables are created if missing.
    pub fn new(db: Arc<Database>) -> Result<RedbLogStore, StorageError<NodeId>> {
        let (unsynced, queued) = mpsc::channel();
        // Weak, so that the database closes as soon as the stores let go of it: a node
        // restarted in the same process can open it again at once.
        let sync_db = Arc::downgrade(&db);
        let lease = Arc::new(());
        let thread_lease = lease.clone();
        std::thread::Builder::new()
            .name("ward-raft-log-sync".into())
            .spawn(move || {
                sync_appends(&sync_db, &queued);
                drop(thread_lease);
            })
            .map_err(write_logs)?;
        let store = RedbLogStore {
            db,
            unsynced,
            lease,
        };
        let txn = store.begin_write().map_err(write_logs)?;
        txn.open_table(LOG).map_err(write_logs)?;
        txn.open_table(META).map_err(write_logs)?;
        txn.commit().map_err(write_logs)?;
        Ok(store)
    }

    /// A handle that tells when the log, its clones and its sync thread are all gone.
    pub(crate) fn lease(&self) -> Weak<()> {
        Arc::downgrade(&self.lease)
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

/// The sync thread: waits for an append, takes every append queued by then, makes one
/// durable commit, and reports each of them flushed (or failed) in the order they came.
fn sync_appends(db: &Weak<Database>, queued: &mpsc::Receiver<LogFlushed<SiteRaft>>) {
    // `recv` fails once every store clone, and so every sender, is gone.
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        batch.extend(queued.try_iter());
        let synced = match db.upgrade() {
            Some(db) => sync(&db).map_err(|e| e.to_string()),
            None => Err("the database is closed".to_owned()),
        };
        // The database is let go of before anyone hears of the sync, so a caller that waits
        // for its append and then closes the store finds the file free.
        for callback in batch {
            let outcome = match &synced {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::other(format!("cannot sync the Raft log: {e}"))),
            };
            callback.log_io_completed(outcome);
        }
    }
}

/// One durable commit. An empty transaction suffices: it persists every commit before it.
fn sync(db: &Database) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.commit()?;
    Ok(())
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
            let mut txn = self.db.begin_write().map_err(io::Error::other)?;
            // Made durable by the sync thread, which reports the append flushed only then.
            txn.set_durability(Durability::None)
                .map_err(io::Error::other)?;
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
        // Openraft counts the entries as durable only once told so, after the sync.
        match written {
            Ok(()) => {
                if let Err(mpsc::SendError(callback)) = self.unsynced.send(callback) {
                    // Only if the sync thread died: report it rather than leave openraft
                    // waiting for a flush that will not come.
                    let error = io::Error::other("the Raft log's sync thread has stopped");
                    let storage_error = StorageIOError::write_logs(&error).into();
                    callback.log_io_completed(Err(error));
                    return Err(storage_error);
                }
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
