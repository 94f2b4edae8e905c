//! The site's revocations: every signed revocation the site enforces.
//!
//! Revocations reach a node from gossip, from anti-entropy with peers and from the admin API,
//! often the same one by several paths; each proposes it here. Adding a revocation is
//! therefore idempotent: the second proposal of the same revocation is answered "already
//! present" and changes nothing. The registry does not check the signature, which the node
//! did before proposing; it only refuses a different revocation under an id already taken,
//! which would mean the ids are not the digests they should be.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::versioned::versioned_v1;
use super::{Outcome, Records, Refusal, RegistryResponse, check_len, summary};

/// Revocations by id: framed [`RevocationRecord`]s.
pub(crate) const REVOCATIONS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(REVOCATIONS_NAME);
const REVOCATIONS_NAME: &str = "registry.revocations.v1";

/// The longest revocation id accepted (a SHA-512 digest fits).
pub const MAX_REVOCATION_ID_LEN: usize = 64;

/// The largest signed revocation accepted.
pub const MAX_SIGNED_REVOCATION_LEN: usize = 4 << 10;

/// A revocation as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationRecord {
    /// The signed revocation, opaque to the registry.
    pub signed: Vec<u8>,
}

/// The layout of version 1 of [`RevocationRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "RevocationRecord")]
struct RevocationRecordV1 {
    #[serde(with = "serde_bytes")]
    signed: Vec<u8>,
}

versioned_v1!(RevocationRecord, RevocationRecordV1, "revocation record");

/// `AddRevocation`: adds a revocation, or finds it present already.
pub(super) fn add(txn: &WriteTransaction, id: &[u8], signed: &[u8]) -> Outcome {
    if let Err(refusal) = check_len(id, 1, MAX_REVOCATION_ID_LEN, "revocation id")
        .and_then(|()| check_len(signed, 1, MAX_SIGNED_REVOCATION_LEN, "signed revocation"))
    {
        return Ok(Err(refusal));
    }
    let mut revocations = Records::open(txn, REVOCATIONS_NAME)?;
    if let Some(existing) = revocations.get::<RevocationRecord>(id)? {
        if existing.signed == signed {
            return Ok(Ok(RegistryResponse::RevocationAlreadyPresent));
        }
        return Ok(Err(Refusal::RevocationConflict));
    }
    let record = RevocationRecord {
        signed: signed.to_vec(),
    };
    revocations.put(id, &record)?;
    summary::update(txn, |summary| {
        summary.revocations = summary.revocations.saturating_add(1);
    })?;
    Ok(Ok(RegistryResponse::RevocationAdded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryCommand;
    use crate::registry::summary::{RegistrySummary, SUMMARY_KEY};
    use crate::registry::testing::Registry;
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};

    fn add(id: u8, signed: u8) -> RegistryCommand {
        RegistryCommand::AddRevocation {
            id: vec![id; 32],
            signed: vec![signed; 100],
        }
    }

    fn count(registry: &Registry) -> u64 {
        let summary: Option<RegistrySummary> = registry.read("registry.summary.v1", SUMMARY_KEY);
        summary.map_or(0, |s| s.revocations)
    }

    #[test]
    fn adding_a_revocation_twice_is_not_an_error() {
        let registry = Registry::new();
        assert_eq!(registry.apply(add(1, 1)), RegistryResponse::RevocationAdded);
        assert_eq!(
            registry.apply(add(1, 1)),
            RegistryResponse::RevocationAlreadyPresent
        );
        assert_eq!(registry.apply(add(2, 2)), RegistryResponse::RevocationAdded);
        assert_eq!(count(&registry), 2);
    }

    #[test]
    fn another_revocation_under_a_taken_id_is_refused() {
        let registry = Registry::new();
        registry.apply(add(1, 1));
        assert_eq!(
            registry.apply(add(1, 2)),
            RegistryResponse::Refused(Refusal::RevocationConflict)
        );
        let kept: RevocationRecord = registry.read(REVOCATIONS_NAME, &[1; 32]).expect("recorded");
        assert_eq!(kept.signed, vec![1; 100]);
        assert_eq!(count(&registry), 1);
    }

    #[test]
    fn malformed_revocations_are_refused() {
        let registry = Registry::new();
        for command in [
            RegistryCommand::AddRevocation {
                id: Vec::new(),
                signed: vec![1; 10],
            },
            RegistryCommand::AddRevocation {
                id: vec![1; MAX_REVOCATION_ID_LEN + 1],
                signed: vec![1; 10],
            },
            RegistryCommand::AddRevocation {
                id: vec![1; 32],
                signed: Vec::new(),
            },
            RegistryCommand::AddRevocation {
                id: vec![1; 32],
                signed: vec![1; MAX_SIGNED_REVOCATION_LEN + 1],
            },
        ] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
        assert_eq!(count(&registry), 0);
    }

    // [1, {"signed": h'd28440a0'}]
    const RECORD_V1: &str = "82 01 a1 66 7369676e6564 44 d28440a0";

    #[test]
    fn a_revocation_record_of_version_1_reads_as_written() {
        let record = RevocationRecord {
            signed: vec![0xd2, 0x84, 0x40, 0xa0],
        };
        assert_eq!(
            decode::<RevocationRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
