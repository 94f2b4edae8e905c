//! What the registry's storage promises beyond openraft's suite: what was acknowledged
//! survives reopening the database, corrupt entries and snapshots are refused rather than
//! returned or installed, and a snapshot carries the registry to another node.

use std::io::Cursor;
use std::path::Path;

use openraft::storage::RaftStateMachine as _;
use openraft::storage::{RaftLogReader as _, RaftLogStorage as _, RaftLogStorageExt as _};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder as _, Vote};
use redb::{ReadableTable as _, TableDefinition};
use ward_consensus::registry::{JoinTokenRecord, SECRET_HASH_LEN};
use ward_consensus::{RegistryCommand, RegistryResponse, SiteRaft, TokenRole, frame};

const LOG: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("raft.log.v1");
const JOIN_TOKENS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new("registry.join_tokens.v1");

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 0), index)
}

fn token(id: &str) -> Entry<SiteRaft> {
    Entry {
        log_id: log_id(0),
        payload: EntryPayload::Normal(RegistryCommand::CreateJoinToken {
            id: id.as_bytes().to_vec(),
            secret_hash: vec![7; SECRET_HASH_LEN],
            role: TokenRole::Node,
            expires_at: u64::MAX,
        }),
    }
}

fn at(index: u64, mut entry: Entry<SiteRaft>) -> Entry<SiteRaft> {
    entry.log_id = log_id(index);
    entry
}

fn blank(index: u64) -> Entry<SiteRaft> {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Blank,
    }
}

fn path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("registry.redb")
}

/// Overwrites the log entry at `index` behind the store's back, as a disk fault would.
fn tamper_with_entry(file: &Path, index: u64, change: impl FnOnce(&mut Vec<u8>)) {
    let db = redb::Database::open(file).expect("database");
    let txn = db.begin_write().expect("write");
    {
        let mut rows = txn.open_table(LOG).expect("table");
        let mut bytes = rows
            .get(index)
            .expect("read")
            .expect("row present")
            .value()
            .to_vec();
        change(&mut bytes);
        rows.insert(index, bytes.as_slice()).expect("insert");
    }
    txn.commit().expect("commit");
}

#[tokio::test]
async fn acknowledged_entries_and_votes_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut log, _) = ward_consensus::open(&path(&dir)).expect("open");
        log.blocking_append([blank(1), at(2, token("t1")), blank(3)])
            .await
            .expect("appended");
        log.save_vote(&Vote::new(4, 2)).await.expect("vote saved");
        log.purge(log_id(1)).await.expect("purged");
    }
    let (mut log, _) = ward_consensus::open(&path(&dir)).expect("reopen");
    assert_eq!(log.read_vote().await.expect("read"), Some(Vote::new(4, 2)));
    let state = log.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1)));
    assert_eq!(state.last_log_id, Some(log_id(3)));
    let entries = log.try_get_log_entries(0..10).await.expect("read");
    assert_eq!(
        entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(entries[0].payload, token("t1").payload);
}

#[tokio::test]
async fn a_corrupt_log_entry_is_refused_not_returned() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut log, _) = ward_consensus::open(&path(&dir)).expect("open");
        log.blocking_append([blank(1), at(2, token("t1"))])
            .await
            .expect("appended");
    }
    tamper_with_entry(&path(&dir), 2, |bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
    });
    let (mut log, _) = ward_consensus::open(&path(&dir)).expect("reopen");
    assert_eq!(
        log.try_get_log_entries(1..2)
            .await
            .expect("sound entry")
            .len(),
        1
    );
    assert!(log.try_get_log_entries(1..3).await.is_err());
    assert!(
        log.get_log_state().await.is_err(),
        "the last entry is corrupt"
    );
}

#[tokio::test]
async fn an_entry_stored_under_another_index_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (mut log, _) = ward_consensus::open(&path(&dir)).expect("open");
        log.blocking_append([blank(1), blank(2)])
            .await
            .expect("appended");
    }
    // A sound frame, in the wrong row: what a misdirected write would leave.
    let misplaced = frame::seal(&blank(1)).expect("encodes");
    tamper_with_entry(&path(&dir), 2, |bytes| *bytes = misplaced);
    let (mut log, _) = ward_consensus::open(&path(&dir)).expect("reopen");
    assert!(log.try_get_log_entries(2..3).await.is_err());
}

#[tokio::test]
async fn applied_state_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (_, mut sm) = ward_consensus::open(&path(&dir)).expect("open");
        let responses = sm
            .apply([blank(1), at(2, token("t1"))])
            .await
            .expect("applied");
        assert_eq!(
            responses,
            [RegistryResponse::Done, RegistryResponse::JoinTokenCreated]
        );
    }
    let (_, mut sm) = ward_consensus::open(&path(&dir)).expect("reopen");
    let (applied, _) = sm.applied_state().await.expect("state");
    assert_eq!(applied, Some(log_id(2)));
    let again = sm.apply([at(3, token("t1"))]).await.expect("applied");
    assert!(
        matches!(again[0], RegistryResponse::Refused(_)),
        "t1 is still there"
    );
}

async fn registry_with_tokens(dir: &tempfile::TempDir) -> ward_consensus::RedbStateMachine {
    let (_, mut sm) = ward_consensus::open(&path(dir)).expect("open");
    sm.apply([at(1, token("t1")), at(2, token("t2"))])
        .await
        .expect("applied");
    sm
}

#[tokio::test]
async fn a_snapshot_carries_the_registry_to_another_node() {
    let (source_dir, target_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut source = registry_with_tokens(&source_dir).await;
    let snapshot = source.build_snapshot().await.expect("built");
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(2)));

    let (_, mut target) = ward_consensus::open(&path(&target_dir)).expect("open");
    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect("installed");
    let (applied, _) = target.applied_state().await.expect("state");
    assert_eq!(applied, Some(log_id(2)));
    let txn = target.read().expect("read");
    let tokens = txn.open_table(JOIN_TOKENS).expect("table");
    for id in ["t1", "t2"] {
        let row = tokens
            .get(id.as_bytes())
            .expect("read")
            .expect("token carried");
        let record: JoinTokenRecord = frame::open(row.value()).expect("sound record");
        assert_eq!(record.role, TokenRole::Node);
    }
    let current = target
        .get_current_snapshot()
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(current.meta, snapshot.meta);
}

#[tokio::test]
async fn a_corrupt_snapshot_is_refused_and_changes_nothing() {
    let (source_dir, target_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut source = registry_with_tokens(&source_dir).await;
    let snapshot = source.build_snapshot().await.expect("built");
    let mut data = snapshot.snapshot.into_inner();
    let middle = data.len() / 2;
    data[middle] ^= 0x40;

    let (_, mut target) = ward_consensus::open(&path(&target_dir)).expect("open");
    target.apply([blank(1)]).await.expect("applied");
    let refused = target
        .install_snapshot(&snapshot.meta, Box::new(Cursor::new(data)))
        .await;
    assert!(refused.is_err());
    let (applied, _) = target.applied_state().await.expect("state");
    assert_eq!(
        applied,
        Some(log_id(1)),
        "nothing of the snapshot was installed"
    );
    assert!(target.get_current_snapshot().await.expect("read").is_none());
}
