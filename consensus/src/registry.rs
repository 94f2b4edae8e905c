//! The site registry's commands, and how each one changes the registry's tables.
//!
//! Commands are what a node proposes to Raft; every node applies the same committed commands
//! in the same order, so every node's registry is the same. Applying a command is therefore a
//! pure function of the registry and the command: the time a command depends on (`now`) is
//! stamped into it by the proposer, never read while applying.
//!
//! Join tokens are how a new node or camera proves it may join a site. The operator holds the
//! token (an id and a secret); the registry holds only a hash of the secret. A token is
//! consumed through Raft, so that it works exactly once even when it is presented at two
//! nodes at the same moment: both proposals are ordered by the log, and only the first one
//! finds the token unused.

use redb::{ReadableTable as _, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::frame::{self, FrameError};

/// Join tokens by id: framed [`JoinTokenRecord`]s.
pub(crate) const JOIN_TOKENS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(JOIN_TOKENS_NAME);
const JOIN_TOKENS_NAME: &str = "registry.join_tokens.v1";

/// The registry's tables, in the order snapshots list them.
pub(crate) const TABLES: [TableDefinition<'static, &'static [u8], &'static [u8]>; 1] =
    [JOIN_TOKENS];

/// The longest token id accepted.
pub const MAX_TOKEN_ID_LEN: usize = 32;

/// The longest name of whoever consumes a token.
pub const MAX_CONSUMER_LEN: usize = 128;

/// The length of a hash of a token's secret (SHA-256).
pub const SECRET_HASH_LEN: usize = 32;

/// What a join token admits its holder as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenRole {
    /// A Ward node of the site.
    Node,
    /// A camera of the site.
    Camera,
}

/// A change to the registry, as proposed to Raft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RegistryCommand {
    /// Records a new join token. Refused if a token with this id exists.
    CreateJoinToken {
        /// The token's id, which the holder presents with the secret.
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        /// SHA-256 of the token's secret; the secret itself never enters the registry.
        #[serde(with = "serde_bytes")]
        secret_hash: Vec<u8>,
        /// What the token admits its holder as.
        role: TokenRole,
        /// Seconds since the UNIX epoch after which the token is refused.
        expires_at: u64,
    },
    /// Consumes a join token: succeeds once, for the first holder whose secret matches
    /// before the token expires.
    ConsumeJoinToken {
        /// The token's id.
        #[serde(with = "serde_bytes")]
        id: Vec<u8>,
        /// SHA-256 of the secret presented.
        #[serde(with = "serde_bytes")]
        secret_hash: Vec<u8>,
        /// Who presents it: a PeerId or a camera id, kept as who used the token.
        consumer: String,
        /// The proposer's clock, seconds since the UNIX epoch.
        now: u64,
    },
}

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
    /// The command was refused, and changed nothing.
    Refused(Refusal),
}

/// Why a command was refused. Deterministic: every node refuses the same command the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A field is empty or longer than its limit.
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
}

/// A join token as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenRecord {
    /// SHA-256 of the token's secret.
    #[serde(with = "serde_bytes")]
    pub secret_hash: Vec<u8>,
    /// What the token admits its holder as.
    pub role: TokenRole,
    /// Seconds since the UNIX epoch after which the token is refused.
    pub expires_at: u64,
    /// Who consumed it, once consumed.
    pub consumed_by: Option<String>,
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
    /// A stored record is corrupt.
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
    match command {
        RegistryCommand::CreateJoinToken {
            id,
            secret_hash,
            role,
            expires_at,
        } => {
            if let Err(refusal) = check_token_fields(id, secret_hash) {
                return Ok(RegistryResponse::Refused(refusal));
            }
            let mut tokens = open_tokens(txn)?;
            if tokens.get(id.as_slice()).map_err(storage)?.is_some() {
                return Ok(RegistryResponse::Refused(Refusal::TokenExists));
            }
            let record = JoinTokenRecord {
                secret_hash: secret_hash.clone(),
                role: *role,
                expires_at: *expires_at,
                consumed_by: None,
            };
            let bytes = frame::seal(&record).map_err(corrupt)?;
            tokens
                .insert(id.as_slice(), bytes.as_slice())
                .map_err(storage)?;
            Ok(RegistryResponse::JoinTokenCreated)
        }
        RegistryCommand::ConsumeJoinToken {
            id,
            secret_hash,
            consumer,
            now,
        } => {
            if let Err(refusal) = check_token_fields(id, secret_hash) {
                return Ok(RegistryResponse::Refused(refusal));
            }
            if consumer.is_empty() || consumer.len() > MAX_CONSUMER_LEN {
                return Ok(RegistryResponse::Refused(Refusal::Malformed(
                    "consumer name".into(),
                )));
            }
            let mut tokens = open_tokens(txn)?;
            let mut record: JoinTokenRecord = match tokens.get(id.as_slice()).map_err(storage)? {
                Some(stored) => frame::open(stored.value()).map_err(corrupt)?,
                None => return Ok(RegistryResponse::Refused(Refusal::UnknownToken)),
            };
            // A used token is refused before its secret is compared, so a holder learns the
            // token is spent even after the fact; a wrong secret leaves the token usable, so
            // that guessing at someone else's token cannot burn it.
            if let Some(by) = &record.consumed_by {
                return Ok(RegistryResponse::Refused(Refusal::TokenUsed {
                    by: by.clone(),
                }));
            }
            if *now > record.expires_at {
                return Ok(RegistryResponse::Refused(Refusal::TokenExpired));
            }
            if !hashes_equal(&record.secret_hash, secret_hash) {
                return Ok(RegistryResponse::Refused(Refusal::WrongSecret));
            }
            record.consumed_by = Some(consumer.clone());
            let bytes = frame::seal(&record).map_err(corrupt)?;
            tokens
                .insert(id.as_slice(), bytes.as_slice())
                .map_err(storage)?;
            Ok(RegistryResponse::JoinTokenConsumed { role: record.role })
        }
    }
}

fn check_token_fields(id: &[u8], secret_hash: &[u8]) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_TOKEN_ID_LEN {
        return Err(Refusal::Malformed("token id".into()));
    }
    if secret_hash.len() != SECRET_HASH_LEN {
        return Err(Refusal::Malformed("secret hash".into()));
    }
    Ok(())
}

/// Compares two secret hashes in constant time, so the time taken does not tell how many
/// leading bytes of a guess were right.
fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

fn open_tokens(
    txn: &WriteTransaction,
) -> Result<redb::Table<'_, &'static [u8], &'static [u8]>, ApplyError> {
    txn.open_table(JOIN_TOKENS).map_err(storage)
}

fn storage(error: impl Into<redb::Error>) -> ApplyError {
    ApplyError::Storage {
        table: JOIN_TOKENS_NAME,
        source: error.into(),
    }
}

fn corrupt(source: FrameError) -> ApplyError {
    ApplyError::Corrupt {
        table: JOIN_TOKENS_NAME,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    struct Registry {
        _dir: tempfile::TempDir,
        db: redb::Database,
    }

    impl Registry {
        fn new() -> Registry {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = redb::Database::create(dir.path().join("r.redb")).expect("database");
            Registry { _dir: dir, db }
        }

        fn apply(&self, command: RegistryCommand) -> RegistryResponse {
            let txn = self.db.begin_write().expect("write");
            let response = apply(&txn, &command).expect("applies");
            txn.commit().expect("commit");
            response
        }
    }

    fn create(id: &[u8], secret: u8, expires_at: u64) -> RegistryCommand {
        RegistryCommand::CreateJoinToken {
            id: id.to_vec(),
            secret_hash: vec![secret; SECRET_HASH_LEN],
            role: TokenRole::Camera,
            expires_at,
        }
    }

    fn consume(id: &[u8], secret: u8, consumer: &str, now: u64) -> RegistryCommand {
        RegistryCommand::ConsumeJoinToken {
            id: id.to_vec(),
            secret_hash: vec![secret; SECRET_HASH_LEN],
            consumer: consumer.into(),
            now,
        }
    }

    #[test]
    fn a_join_token_works_exactly_once() {
        let registry = Registry::new();
        assert_eq!(
            registry.apply(create(b"t1", 7, NOW + 3600)),
            RegistryResponse::JoinTokenCreated
        );
        assert_eq!(
            registry.apply(consume(b"t1", 7, "camera-a", NOW)),
            RegistryResponse::JoinTokenConsumed {
                role: TokenRole::Camera
            }
        );
        assert_eq!(
            registry.apply(consume(b"t1", 7, "camera-b", NOW)),
            RegistryResponse::Refused(Refusal::TokenUsed {
                by: "camera-a".into()
            })
        );
    }

    #[test]
    fn a_wrong_secret_is_refused_and_leaves_the_token_usable() {
        let registry = Registry::new();
        registry.apply(create(b"t1", 7, NOW + 3600));
        assert_eq!(
            registry.apply(consume(b"t1", 8, "guesser", NOW)),
            RegistryResponse::Refused(Refusal::WrongSecret)
        );
        assert!(matches!(
            registry.apply(consume(b"t1", 7, "camera-a", NOW)),
            RegistryResponse::JoinTokenConsumed { .. }
        ));
    }

    #[test]
    fn an_expired_token_is_refused_by_the_proposers_clock() {
        let registry = Registry::new();
        registry.apply(create(b"t1", 7, NOW));
        assert_eq!(
            registry.apply(consume(b"t1", 7, "camera-a", NOW + 1)),
            RegistryResponse::Refused(Refusal::TokenExpired)
        );
        // The last second of its lifetime still counts.
        assert!(matches!(
            registry.apply(consume(b"t1", 7, "camera-a", NOW)),
            RegistryResponse::JoinTokenConsumed { .. }
        ));
    }

    #[test]
    fn tokens_cannot_be_recreated_or_made_up() {
        let registry = Registry::new();
        registry.apply(create(b"t1", 7, NOW + 3600));
        assert_eq!(
            registry.apply(create(b"t1", 9, NOW + 7200)),
            RegistryResponse::Refused(Refusal::TokenExists)
        );
        assert_eq!(
            registry.apply(consume(b"t2", 7, "camera-a", NOW)),
            RegistryResponse::Refused(Refusal::UnknownToken)
        );
    }

    #[test]
    fn malformed_commands_are_refused_and_change_nothing() {
        let registry = Registry::new();
        let too_long = vec![1u8; MAX_TOKEN_ID_LEN + 1];
        for command in [
            create(b"", 7, NOW),
            create(&too_long, 7, NOW),
            RegistryCommand::CreateJoinToken {
                id: b"t1".to_vec(),
                secret_hash: vec![7; SECRET_HASH_LEN - 1],
                role: TokenRole::Node,
                expires_at: NOW,
            },
            consume(b"t1", 7, "", NOW),
        ] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
        assert_eq!(
            registry.apply(consume(b"t1", 7, "camera-a", NOW)),
            RegistryResponse::Refused(Refusal::UnknownToken)
        );
    }
}
