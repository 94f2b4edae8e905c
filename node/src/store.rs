//! The node's redb database for mesh state: the revocations and credentials a node has
//! learned from the mesh.
//!
//! A revocation is only enforced while some node remembers it. Kept in memory alone, a node
//! restarted after a crash would accept a revoked camera until gossip or anti-entropy told it
//! again. So every revocation and credential the node takes in is written here first, and a
//! starting node loads them all before it accepts its first connection.
//!
//! ```text
//! <data_dir>/ward.redb
//!   mesh.revocations.v1   SHA-256(revocation bytes)  -> revocation bytes
//!   mesh.credentials.v1   len(cti) | cti | iss       -> credential bytes (COSE_Sign1 CWT)
//! ```
//!
//! **No trust decisions.** The store keeps bytes and hands back decoded objects; it never
//! checks a signature, a chain or an authority. Whoever reads it validates what it reads
//! (against the fleet root and site CAs) before enforcing or serving it, exactly as it would
//! for the same bytes arriving from a peer. A file an attacker could write is no worse than a
//! peer that sends the same bytes.
//!
//! **Durability.** Every `put_*` commits with [`Durability::Immediate`]: once it returns
//! `Ok`, the write is on disk and survives a kill -9 of the node or a power cut (DESIGN §6).
//! A put that finds its entry already stored writes nothing and syncs nothing.
//!
//! **Integrity.** A stored value that no longer decodes, or no longer matches the key it is
//! stored under, is reported as [`StoreError::Corrupt`], never skipped: a revocation that is
//! silently dropped is a revoked camera let back in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, DatabaseError, Durability, ReadOnlyTable, ReadableDatabase as _, ReadableTable as _,
    ReadableTableMetadata as _, TableDefinition, WriteTransaction,
};
use tracing::{debug, info};
use ward_crypto::backend::{Backend as _, RustCrypto};
use ward_crypto::{Credential, DecodeError, Revocation};

/// Revocations, keyed by the SHA-256 of their bytes.
const REVOCATIONS: &str = "mesh.revocations.v1";
/// Credentials, keyed by serial and issuer (see [`credential_key`]).
const CREDENTIALS: &str = "mesh.credentials.v1";

/// A table of byte strings. Its name is versioned: a change of layout takes a new name.
type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Why the mesh store failed. Revocations and credentials are public, so errors may name keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be created or opened.
    #[error("cannot open the mesh store at {}", path.display())]
    Open {
        /// The file that was asked for.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: DatabaseError,
    },
    /// The database is already open, by another handle in this process or by another process.
    #[error("the mesh store at {} is already open elsewhere", path.display())]
    Locked {
        /// The file that was asked for.
        path: PathBuf,
    },
    /// redb failed to begin a transaction, open a table, read, write or commit.
    #[error("mesh store: cannot {op} in table {table}")]
    Database {
        /// The table concerned.
        table: &'static str,
        /// What was being done.
        op: &'static str,
        /// What redb reported.
        #[source]
        source: redb::Error,
    },
    /// A stored value is not what was written under its key.
    #[error("mesh store: corrupt value under key {key_hex} in table {table}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The key, in hex.
        key_hex: String,
        /// What is wrong with the value.
        #[source]
        problem: Corruption,
    },
}

/// Maps any redb error to [`StoreError::Database`], naming the table and the operation.
fn failed<E: Into<redb::Error>>(
    table: &'static str,
    op: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |source| StoreError::Database {
        table,
        op,
        source: source.into(),
    }
}

/// What is wrong with a corrupt stored value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The bytes do not decode as the object the table holds.
    #[error("the value does not decode")]
    Undecodable(#[source] DecodeError),
    /// The value decodes, but belongs under another key.
    #[error("the value does not belong under its key")]
    KeyMismatch,
}

/// The node's persistent mesh state: revocations and credentials, in the node's redb file.
#[derive(Debug)]
pub struct MeshStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl MeshStore {
    /// Opens the store at `path` (by convention `<data_dir>/ward.redb`), creating the file
    /// and its tables if they do not exist. The directory must exist.
    pub fn open(path: impl AsRef<Path>) -> Result<MeshStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = match Database::create(&path) {
            Ok(db) => db,
            // redb locks the file, so a second handle fails here even within one process.
            Err(DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::Locked { path }),
            Err(source) => return Err(StoreError::Open { path, source }),
        };
        let store = MeshStore {
            db: Arc::new(db),
            path,
        };

        // Create both tables now, so that readers never meet a missing table.
        let txn = store.begin_write(REVOCATIONS)?;
        for table in [REVOCATIONS, CREDENTIALS] {
            txn.open_table(Table::new(table))
                .map_err(failed(table, "create the table"))?;
        }
        txn.commit()
            .map_err(failed(CREDENTIALS, "commit the table creation"))?;

        let revocations = store.revocation_count()?;
        info!(path = %store.path.display(), revocations, "mesh store opened");
        Ok(store)
    }

    /// The database the store lives in, for the node's other parts to keep their tables in
    /// (the site registry's replica does): one file per node. It stays open while any
    /// holder has it.
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `revocation`; `Ok(false)` if the same bytes were already stored. Durable once it
    /// returns `Ok`.
    ///
    /// A re-encoding of the same statement (say, a high-S twin of its signature) has other
    /// bytes and is stored beside it; that costs a few hundred bytes and changes nothing
    /// enforced, since the revocation set keeps one entry per authority and target.
    pub fn put_revocation(&self, revocation: &Revocation) -> Result<bool, StoreError> {
        let key = revocation_key(revocation.as_bytes());
        self.put(REVOCATIONS, &key, revocation.as_bytes())
    }

    /// Stores every revocation of `batch` in one durable commit, so that catching up on
    /// thousands costs one sync rather than thousands. Returns how many were new.
    pub fn put_revocations(&self, batch: &[Revocation]) -> Result<usize, StoreError> {
        let txn = self.begin_write(REVOCATIONS)?;
        let mut added = 0;
        {
            let mut entries = txn
                .open_table(Table::new(REVOCATIONS))
                .map_err(failed(REVOCATIONS, "open the table"))?;
            for revocation in batch {
                let key = revocation_key(revocation.as_bytes());
                let held = entries
                    .get(key.as_slice())
                    .map_err(failed(REVOCATIONS, "look up a key"))?
                    .is_some();
                if !held {
                    entries
                        .insert(key.as_slice(), revocation.as_bytes())
                        .map_err(failed(REVOCATIONS, "insert an entry"))?;
                    added += 1;
                }
            }
        }
        if added == 0 {
            txn.abort()
                .map_err(failed(REVOCATIONS, "abort an empty write"))?;
            return Ok(0);
        }
        txn.commit()
            .map_err(failed(REVOCATIONS, "commit a batch"))?;
        debug!(added, "mesh store revocations written");
        Ok(added)
    }

    /// Every stored revocation, decoded but not verified, in key order.
    pub fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.read_all(REVOCATIONS, |bytes| {
            let revocation = Revocation::decode(bytes).map_err(Corruption::Undecodable)?;
            Ok((revocation_key(bytes).to_vec(), revocation))
        })
    }

    /// How many revocations are stored.
    pub fn revocation_count(&self) -> Result<u64, StoreError> {
        let revocations = self.read_table(REVOCATIONS)?;
        revocations
            .len()
            .map_err(failed(REVOCATIONS, "count entries"))
    }

    /// Stores `credential`; `Ok(false)` if one with the same serial and issuer was already
    /// stored, which is kept unchanged. Durable once it returns `Ok`.
    ///
    /// The store checks no signature, so the first copy of a serial wins: store only
    /// credentials that passed chain validation.
    pub fn put_credential(&self, credential: &Credential) -> Result<bool, StoreError> {
        self.put(
            CREDENTIALS,
            &credential_key(credential),
            credential.as_bytes(),
        )
    }

    /// Every stored credential, decoded but not verified, in key order.
    pub fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        self.read_all(CREDENTIALS, |bytes| {
            let credential = Credential::decode(bytes).map_err(Corruption::Undecodable)?;
            Ok((credential_key(&credential), credential))
        })
    }

    /// Inserts `value` under `key` unless the key is taken, committing durably.
    fn put(&self, table: &'static str, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let txn = self.begin_write(table)?;
        let held = {
            let mut entries = txn
                .open_table(Table::new(table))
                .map_err(failed(table, "open the table"))?;
            let held = entries
                .get(key)
                .map_err(failed(table, "look up a key"))?
                .is_some();
            if !held {
                entries
                    .insert(key, value)
                    .map_err(failed(table, "insert an entry"))?;
            }
            held
        };
        if held {
            // Nothing was written: abort rather than pay for a sync.
            txn.abort().map_err(failed(table, "abort an empty write"))?;
            return Ok(false);
        }
        txn.commit().map_err(failed(table, "commit a write"))?;
        debug!(table, key = %hex::encode(key), "mesh store entry written");
        Ok(true)
    }

    /// Decodes every value of a table with `decode`, which also returns the key the value
    /// belongs under; a value that fails either check is [`StoreError::Corrupt`].
    fn read_all<T>(
        &self,
        table: &'static str,
        decode: impl Fn(&[u8]) -> Result<(Vec<u8>, T), Corruption>,
    ) -> Result<Vec<T>, StoreError> {
        let entries = self.read_table(table)?;
        let mut out = Vec::new();
        for entry in entries.iter().map_err(failed(table, "read entries"))? {
            let (key, value) = entry.map_err(failed(table, "read an entry"))?;
            let (key, value) = (key.value(), value.value());
            let corrupt = |problem| StoreError::Corrupt {
                table,
                key_hex: hex::encode(key),
                problem,
            };
            let (expected_key, item) = decode(value).map_err(corrupt)?;
            if expected_key != key {
                return Err(corrupt(Corruption::KeyMismatch));
            }
            out.push(item);
        }
        Ok(out)
    }

    /// A snapshot of `table` as last committed.
    fn read_table(
        &self,
        table: &'static str,
    ) -> Result<ReadOnlyTable<&'static [u8], &'static [u8]>, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(failed(table, "begin a read"))?;
        // The table keeps the transaction's snapshot alive for as long as it lives.
        txn.open_table(Table::new(table))
            .map_err(failed(table, "open the table"))
    }

    /// Begins a write transaction to `table` that commits with immediate durability.
    fn begin_write(&self, table: &'static str) -> Result<WriteTransaction, StoreError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(failed(table, "begin a write"))?;
        // redb's default already, set here because DESIGN §6 depends on it.
        txn.set_durability(Durability::Immediate)
            .map_err(failed(table, "request immediate durability"))?;
        Ok(txn)
    }
}

/// The key of a revocation: the SHA-256 of its bytes. It only deduplicates storage; what a
/// revocation revokes is named inside it, by serial or key id, never by a hash.
fn revocation_key(bytes: &[u8]) -> [u8; 32] {
    RustCrypto.sha256(&[bytes])
}

/// The key of a credential: its serial (`cti`), then its issuer.
///
/// A serial is what names a credential: it is what a revocation by serial targets and what
/// an issuer guarantees unique among what it issued. It is unique only per issuer, so the
/// issuer is part of the key. The key id is not an identity (a renewed credential binds the
/// same key), and neither is a hash of the bytes (a credential whose signature is re-encoded
/// is the same credential). The serial's length comes first, at most 32 so one byte, which
/// makes the concatenation unambiguous.
fn credential_key(credential: &Credential) -> Vec<u8> {
    let claims = credential.claims();
    let serial = claims.serial.as_bytes();
    let mut key = Vec::with_capacity(1 + serial.len() + claims.issuer.len());
    // At most MAX_SERIAL_LEN (32): the cast cannot truncate.
    key.push(serial.len() as u8);
    key.extend_from_slice(serial);
    key.extend_from_slice(claims.issuer.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use ward_crypto::issue::{self, CredentialRequest, Issuer};
    use ward_crypto::revocation::{RevocationReason, RevocationStatement, RevocationTarget};
    use ward_crypto::{Role, SecretKey};

    use super::*;

    const NOW: u64 = 1_800_000_000;

    /// A fleet root and a site CA under it, with fresh keys, and two revocations by the root.
    fn fleet() -> ([Credential; 2], [Revocation; 2]) {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let root_key = SecretKey::generate_ed25519(&mut rng);
        let root = issue::fleet_root("fleet:test", &root_key, NOW, 86_400, &mut rng)
            .expect("a valid root request");
        let request = CredentialRequest {
            subject: "site-a".into(),
            role: Role::SiteCa,
            key: SecretKey::generate_p256(&mut rng).public_key(),
            scopes: vec![],
            lifetime_secs: 3_600,
        };
        let site_ca = Issuer::new(&root_key, &root)
            .and_then(|root| root.issue(&request, NOW, &mut rng))
            .expect("the root may issue a site CA");
        let revoke = |target| {
            let statement = RevocationStatement {
                issuer: "fleet:test".into(),
                target,
                reason: RevocationReason::KeyCompromise,
                revoked_at: NOW,
            };
            Revocation::sign(statement, &root_key)
        };
        let revocations = [
            revoke(RevocationTarget::Key(site_ca.key_id())),
            revoke(RevocationTarget::Serial(site_ca.claims().serial)),
        ];
        ([root, site_ca], revocations)
    }

    fn open_in(dir: &tempfile::TempDir) -> Result<MeshStore, StoreError> {
        MeshStore::open(dir.path().join("ward.redb"))
    }

    fn sorted_bytes<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
        let mut items: Vec<_> = items.into_iter().map(<[u8]>::to_vec).collect();
        items.sort();
        items
    }

    /// Writes `value` under `key` in the revocations table, behind the store's back.
    fn write_raw(store: &MeshStore, key: &[u8], value: &[u8]) {
        let txn = store.db.begin_write().expect("a write transaction");
        txn.open_table(Table::new(REVOCATIONS))
            .expect("the table exists")
            .insert(key, value)
            .expect("inserted");
        txn.commit().expect("committed");
    }

    #[test]
    fn revocations_and_credentials_survive_a_restart() {
        let (credentials, revocations) = fleet();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open_in(&dir).expect("a fresh store opens");
        for revocation in &revocations {
            assert!(store.put_revocation(revocation).expect("stored"));
        }
        for credential in &credentials {
            assert!(store.put_credential(credential).expect("stored"));
        }
        drop(store);

        let store = open_in(&dir).expect("the store reopens");
        assert_eq!(store.revocation_count().expect("counted"), 2);
        let read = store.revocations().expect("revocations read back");
        assert_eq!(
            sorted_bytes(read.iter().map(Revocation::as_bytes)),
            sorted_bytes(revocations.iter().map(Revocation::as_bytes)),
        );
        let read = store.credentials().expect("credentials read back");
        assert_eq!(
            sorted_bytes(read.iter().map(Credential::as_bytes)),
            sorted_bytes(credentials.iter().map(Credential::as_bytes)),
        );
    }

    #[test]
    fn an_entry_stored_twice_is_kept_once() {
        let ([_, site_ca], [revocation, _]) = fleet();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open_in(&dir).expect("a fresh store opens");

        assert!(store.put_revocation(&revocation).expect("first put"));
        assert!(!store.put_revocation(&revocation).expect("second put"));
        assert_eq!(store.revocation_count().expect("counted"), 1);
        assert!(store.put_credential(&site_ca).expect("first put"));
        assert!(!store.put_credential(&site_ca).expect("second put"));
        assert_eq!(store.credentials().expect("read").len(), 1);
    }

    #[test]
    fn a_corrupt_revocation_is_reported_not_skipped() {
        let (_, [good, misplaced]) = fleet();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = open_in(&dir).expect("a fresh store opens");
        store.put_revocation(&good).expect("stored");
        write_raw(&store, &[0xab; 32], b"not a revocation");

        let err = store.revocations().expect_err("garbage is refused");
        assert!(err.to_string().contains("mesh.revocations.v1"), "{err}");
        match err {
            StoreError::Corrupt {
                table: "mesh.revocations.v1",
                key_hex,
                problem: Corruption::Undecodable(_),
            } => assert_eq!(key_hex, "ab".repeat(32)),
            other => panic!("expected an undecodable value, got {other:?}"),
        }

        // A valid revocation under a key that is not its hash is as wrong as garbage.
        write_raw(&store, &[0xab; 32], misplaced.as_bytes());
        let err = store
            .revocations()
            .expect_err("a misplaced value is refused");
        let mismatch = Corruption::KeyMismatch;
        assert!(matches!(err, StoreError::Corrupt { problem, .. } if problem == mismatch));
    }

    #[test]
    fn opening_in_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("no-such-dir").join("ward.redb");

        let err = MeshStore::open(&path).expect_err("the directory does not exist");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(
            matches!(&err, StoreError::Open { path: p, .. } if *p == path),
            "{err:?}"
        );
    }

    #[test]
    fn a_second_open_of_an_open_store_is_refused_as_locked() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let _first = open_in(&dir).expect("a fresh store opens");

        let err = open_in(&dir).expect_err("the file is already open");
        assert!(err.to_string().contains("already open"), "{err}");
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    }

    #[test]
    fn the_store_and_its_errors_cross_threads() {
        // The node shares one store between tasks and reports its errors through anyhow.
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<MeshStore>();
        shareable::<StoreError>();
    }
}
