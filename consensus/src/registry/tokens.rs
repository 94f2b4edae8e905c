//! Join tokens: how a new node or camera proves it may join the site.
//!
//! The operator holds the token (an id and a secret); the registry holds only a hash of the
//! secret, the role the token admits its holder as, and when it expires (the proposer's
//! clock plus the token's lifetime). A token is consumed through Raft, so that it works
//! exactly once even when it is presented at two nodes at the same moment: both proposals are
//! ordered by the log, and only the first one finds the token unused.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::versioned::versioned_v1;
use super::{Outcome, Records, Refusal, RegistryResponse, check_len, malformed};

/// Join tokens by id: framed [`JoinTokenRecord`]s.
pub const JOIN_TOKENS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(JOIN_TOKENS_NAME);
const JOIN_TOKENS_NAME: &str = "registry.join_tokens.v1";

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

/// A join token as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinTokenRecord {
    /// SHA-256 of the token's secret.
    pub secret_hash: Vec<u8>,
    /// What the token admits its holder as.
    pub role: TokenRole,
    /// Seconds since the UNIX epoch after which the token is refused.
    pub expires_at: u64,
    /// Who consumed it, once consumed.
    pub consumed_by: Option<String>,
}

/// The layout of version 1 of [`JoinTokenRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "JoinTokenRecord")]
struct JoinTokenRecordV1 {
    #[serde(with = "serde_bytes")]
    secret_hash: Vec<u8>,
    role: TokenRole,
    expires_at: u64,
    consumed_by: Option<String>,
}

versioned_v1!(JoinTokenRecord, JoinTokenRecordV1, "join token record");

/// `CreateJoinToken`: records a token, unless one with this id exists.
pub(super) fn create(
    txn: &WriteTransaction,
    id: &[u8],
    secret_hash: &[u8],
    role: TokenRole,
    expires_at: u64,
) -> Outcome {
    if let Err(refusal) = check_token_fields(id, secret_hash) {
        return Ok(Err(refusal));
    }
    let mut tokens = Records::open(txn, JOIN_TOKENS_NAME)?;
    if tokens.get::<JoinTokenRecord>(id)?.is_some() {
        return Ok(Err(Refusal::TokenExists));
    }
    let record = JoinTokenRecord {
        secret_hash: secret_hash.to_vec(),
        role,
        expires_at,
        consumed_by: None,
    };
    tokens.put(id, &record)?;
    Ok(Ok(RegistryResponse::JoinTokenCreated))
}

/// `ConsumeJoinToken`: marks the token used by `consumer`, if it is unused, unexpired at
/// `now`, and `secret_hash` is its hash.
pub(super) fn consume(
    txn: &WriteTransaction,
    id: &[u8],
    secret_hash: &[u8],
    consumer: &str,
    now: u64,
) -> Outcome {
    if let Err(refusal) = check_token_fields(id, secret_hash)
        .and_then(|()| check_len(consumer.as_bytes(), 1, MAX_CONSUMER_LEN, "consumer name"))
    {
        return Ok(Err(refusal));
    }
    let mut tokens = Records::open(txn, JOIN_TOKENS_NAME)?;
    let Some(mut record) = tokens.get::<JoinTokenRecord>(id)? else {
        return Ok(Err(Refusal::UnknownToken));
    };
    // A used token is refused before its secret is compared, so a holder learns the token is
    // spent even after the fact; a wrong secret leaves the token usable, so that guessing at
    // someone else's token cannot burn it.
    if let Some(by) = &record.consumed_by {
        return Ok(Err(Refusal::TokenUsed { by: by.clone() }));
    }
    if now > record.expires_at {
        return Ok(Err(Refusal::TokenExpired));
    }
    if !hashes_equal(&record.secret_hash, secret_hash) {
        return Ok(Err(Refusal::WrongSecret));
    }
    record.consumed_by = Some(consumer.to_owned());
    tokens.put(id, &record)?;
    Ok(Ok(RegistryResponse::JoinTokenConsumed {
        role: record.role,
    }))
}

fn check_token_fields(id: &[u8], secret_hash: &[u8]) -> Result<(), Refusal> {
    check_len(id, 1, MAX_TOKEN_ID_LEN, "token id")?;
    if secret_hash.len() != SECRET_HASH_LEN {
        return Err(malformed("secret hash"));
    }
    Ok(())
}

/// Compares two secret hashes in constant time, so the time taken does not tell how many
/// leading bytes of a guess were right.
fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryCommand;
    use crate::registry::testing::{NOW, Registry};
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};

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

    // [1, {"secret_hash": h'07' * 32, "role": "Camera", "expires_at": 1800003600,
    //      "consumed_by": "cam-a"}]
    const RECORD_V1: &str = "
        82 01
        a4
           6b 7365637265745f68617368
              58 20 0707070707070707070707070707070707070707070707070707070707070707
           64 726f6c65 66 43616d657261
           6a 657870697265735f6174 1a 6b49e010
           6b 636f6e73756d65645f6279 65 63616d2d61";

    #[test]
    fn a_token_record_of_version_1_reads_as_written() {
        let record = JoinTokenRecord {
            secret_hash: vec![7; SECRET_HASH_LEN],
            role: TokenRole::Camera,
            expires_at: NOW + 3600,
            consumed_by: Some("cam-a".into()),
        };
        assert_eq!(
            decode::<JoinTokenRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
        let mut later = unhex(RECORD_V1);
        later[1] = 0x03;
        assert!(decode::<JoinTokenRecord>(&later).is_err());
    }
}
