//! openraft's own conformance suite for storage, run against the redb log and state machine:
//! votes, appends, truncation, purging, membership recovery and snapshots, each on a fresh
//! database file.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use ward_consensus::{RedbLogStore, RedbStateMachine, SiteRaft};

/// Each test of the suite gets its own database in its own temporary directory, which lives
/// as long as the test does.
struct FreshDatabase;

impl StoreBuilder<SiteRaft, RedbLogStore, RedbStateMachine, tempfile::TempDir> for FreshDatabase {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, RedbLogStore, RedbStateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (log, state_machine) =
            ward_consensus::open(&dir.path().join("registry.redb")).expect("a fresh database");
        Ok((dir, log, state_machine))
    }
}

#[test]
fn redb_storage_passes_the_openraft_storage_suite() {
    Suite::test_all(FreshDatabase).expect("every storage test of the suite passes");
}
