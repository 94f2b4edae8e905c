//! Enrollments: which cameras belong to the site, with what credential, and what they may do.
//!
//! A node that enrolls a camera (after the camera proved a join token or a factory key) issues
//! its credential and records it here, so that every node of the site recognises the camera.
//! The status is what the nodes enforce between credentials: a suspended camera is refused
//! until it is made active again; a revoked one stays revoked, and only a new enrollment with
//! a new credential brings the camera back. Either ends the camera's sessions at once, in the
//! same command, so that no node of the site continues one.

use std::fmt;

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::sessions;
use super::versioned::versioned_v1;
use super::{Outcome, Records, Refusal, RegistryResponse, check_camera, check_len, malformed};

/// Enrollments by camera id: framed [`EnrollmentRecord`]s.
pub(crate) const ENROLLMENTS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(ENROLLMENTS_NAME);
pub(super) const ENROLLMENTS_NAME: &str = "registry.enrollments.v1";

/// The largest credential accepted: a CWT with its signature and a short chain.
pub const MAX_CREDENTIAL_LEN: usize = 8 << 10;

/// The most scopes a camera may hold.
pub const MAX_SCOPES: usize = 32;

/// The longest scope accepted.
pub const MAX_SCOPE_LEN: usize = 64;

/// Whether an enrolled camera may authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnrollmentStatus {
    /// The camera may authenticate.
    Active,
    /// The camera is refused until it is made active again.
    Suspended,
    /// The camera is refused for good; only a new enrollment replaces this one.
    Revoked,
}

impl fmt::Display for EnrollmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnrollmentStatus::Active => "active",
            EnrollmentStatus::Suspended => "suspended",
            EnrollmentStatus::Revoked => "revoked",
        })
    }
}

/// A camera's enrollment as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentRecord {
    /// The camera's credential (a CWT), opaque to the registry.
    pub credential: Vec<u8>,
    /// Whether the camera may authenticate.
    pub status: EnrollmentStatus,
    /// What the camera may do through the node.
    pub scopes: Vec<String>,
    /// When the camera was enrolled, by the proposer's clock.
    pub enrolled_at: u64,
    /// When the status was last set, by the proposer's clock.
    pub status_since: u64,
}

/// The layout of version 1 of [`EnrollmentRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "EnrollmentRecord")]
struct EnrollmentRecordV1 {
    #[serde(with = "serde_bytes")]
    credential: Vec<u8>,
    status: EnrollmentStatus,
    scopes: Vec<String>,
    enrolled_at: u64,
    status_since: u64,
}

versioned_v1!(EnrollmentRecord, EnrollmentRecordV1, "enrollment record");

/// `Enroll`: records the camera as active, unless it is enrolled and active already.
pub(super) fn enroll(
    txn: &WriteTransaction,
    camera: &str,
    credential: &[u8],
    scopes: &[String],
    now: u64,
) -> Outcome {
    if let Err(refusal) = check_camera(camera)
        .and_then(|()| check_len(credential, 1, MAX_CREDENTIAL_LEN, "credential"))
        .and_then(|()| check_scopes(scopes))
    {
        return Ok(Err(refusal));
    }
    let mut enrollments = Records::open(txn, ENROLLMENTS_NAME)?;
    // An active enrollment is not overwritten: two nodes enrolling the same camera at once
    // would otherwise each believe their credential is the one in force.
    if let Some(existing) = enrollments.get::<EnrollmentRecord>(camera.as_bytes())?
        && existing.status == EnrollmentStatus::Active
    {
        return Ok(Err(Refusal::AlreadyEnrolled));
    }
    let record = EnrollmentRecord {
        credential: credential.to_vec(),
        status: EnrollmentStatus::Active,
        scopes: scopes.to_vec(),
        enrolled_at: now,
        status_since: now,
    };
    enrollments.put(camera.as_bytes(), &record)?;
    Ok(Ok(RegistryResponse::Enrolled))
}

/// `SetEnrollmentStatus`: sets the camera's status, and ends its sessions unless it is made
/// active.
pub(super) fn set_status(
    txn: &WriteTransaction,
    camera: &str,
    status: EnrollmentStatus,
    now: u64,
) -> Outcome {
    if let Err(refusal) = check_camera(camera) {
        return Ok(Err(refusal));
    }
    let mut enrollments = Records::open(txn, ENROLLMENTS_NAME)?;
    let Some(mut record) = enrollments.get::<EnrollmentRecord>(camera.as_bytes())? else {
        return Ok(Err(Refusal::NotEnrolled));
    };
    // Revocation is final for a credential: making a revoked enrollment active again would
    // readmit a credential the site meant to retire.
    if record.status == EnrollmentStatus::Revoked && status != EnrollmentStatus::Revoked {
        return Ok(Err(Refusal::EnrollmentNotActive {
            status: EnrollmentStatus::Revoked,
        }));
    }
    if record.status != status {
        record.status = status;
        record.status_since = now;
        enrollments.put(camera.as_bytes(), &record)?;
    }
    let sessions_ended = match status {
        EnrollmentStatus::Active => 0,
        EnrollmentStatus::Suspended | EnrollmentStatus::Revoked => {
            sessions::end_all_of(txn, camera)?
        }
    };
    Ok(Ok(RegistryResponse::EnrollmentStatusSet { sessions_ended }))
}

/// Whether `camera` is enrolled and active; the refusal to give if not.
pub(super) fn check_active(
    txn: &WriteTransaction,
    camera: &str,
) -> Result<Result<(), Refusal>, super::ApplyError> {
    let enrollments = Records::open(txn, ENROLLMENTS_NAME)?;
    Ok(
        match enrollments.get::<EnrollmentRecord>(camera.as_bytes())? {
            None => Err(Refusal::NotEnrolled),
            Some(record) if record.status != EnrollmentStatus::Active => {
                Err(Refusal::EnrollmentNotActive {
                    status: record.status,
                })
            }
            Some(_) => Ok(()),
        },
    )
}

fn check_scopes(scopes: &[String]) -> Result<(), Refusal> {
    if scopes.len() > MAX_SCOPES {
        return Err(malformed("too many scopes"));
    }
    for (at, scope) in scopes.iter().enumerate() {
        check_len(scope.as_bytes(), 1, MAX_SCOPE_LEN, "scope")?;
        // A repeated scope means nothing more; refusing it keeps one spelling of a set.
        if scopes[..at].contains(scope) {
            return Err(malformed("repeated scope"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::sessions::SessionRecord;
    use crate::registry::testing::{NOW, Registry, enrolled};
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};
    use crate::registry::{MAX_CAMERA_ID_LEN, RegistryCommand};

    fn enroll(camera: &str, credential: u8) -> RegistryCommand {
        RegistryCommand::Enroll {
            camera: camera.into(),
            credential: vec![credential; 40],
            scopes: vec!["stream".into(), "api".into()],
            now: NOW,
        }
    }

    fn set(camera: &str, status: EnrollmentStatus, now: u64) -> RegistryCommand {
        RegistryCommand::SetEnrollmentStatus {
            camera: camera.into(),
            status,
            now,
        }
    }

    fn stored(registry: &Registry, camera: &str) -> EnrollmentRecord {
        registry
            .read(ENROLLMENTS_NAME, camera.as_bytes())
            .expect("enrolled")
    }

    #[test]
    fn an_enrollment_cannot_be_overwritten_while_active() {
        let registry = Registry::new();
        assert_eq!(
            registry.apply(enroll("cam-a", 1)),
            RegistryResponse::Enrolled
        );
        assert_eq!(
            registry.apply(enroll("cam-a", 2)),
            RegistryResponse::Refused(Refusal::AlreadyEnrolled)
        );
        assert_eq!(stored(&registry, "cam-a").credential, vec![1; 40]);
    }

    #[test]
    fn a_suspended_camera_is_made_active_again_or_re_enrolled() {
        let registry = Registry::new();
        registry.apply(enroll("cam-a", 1));
        assert!(matches!(
            registry.apply(set("cam-a", EnrollmentStatus::Suspended, NOW + 5)),
            RegistryResponse::EnrollmentStatusSet { .. }
        ));
        let record = stored(&registry, "cam-a");
        assert_eq!(record.status, EnrollmentStatus::Suspended);
        assert_eq!((record.enrolled_at, record.status_since), (NOW, NOW + 5));
        registry.apply(set("cam-a", EnrollmentStatus::Active, NOW + 6));
        assert_eq!(stored(&registry, "cam-a").status, EnrollmentStatus::Active);
        registry.apply(set("cam-a", EnrollmentStatus::Suspended, NOW + 7));
        assert_eq!(
            registry.apply(enroll("cam-a", 2)),
            RegistryResponse::Enrolled
        );
        assert_eq!(stored(&registry, "cam-a").credential, vec![2; 40]);
    }

    #[test]
    fn a_revoked_enrollment_stays_revoked_until_the_camera_is_enrolled_anew() {
        let registry = Registry::new();
        registry.apply(enroll("cam-a", 1));
        registry.apply(set("cam-a", EnrollmentStatus::Revoked, NOW + 1));
        for status in [EnrollmentStatus::Active, EnrollmentStatus::Suspended] {
            assert_eq!(
                registry.apply(set("cam-a", status, NOW + 2)),
                RegistryResponse::Refused(Refusal::EnrollmentNotActive {
                    status: EnrollmentStatus::Revoked
                })
            );
        }
        assert_eq!(
            registry.apply(enroll("cam-a", 2)),
            RegistryResponse::Enrolled
        );
    }

    #[test]
    fn suspending_a_camera_ends_its_sessions_and_no_others() {
        let registry = Registry::new();
        enrolled(&registry, "cam-a");
        enrolled(&registry, "cam-b");
        let session = |id: &[u8], camera: &str| RegistryCommand::CreateSession {
            id: id.to_vec(),
            camera: camera.into(),
            secret: crate::registry::SealedSecret {
                nonce: vec![0; crate::registry::sealing::NONCE_LEN],
                ciphertext: vec![0; 48],
            },
            now: NOW,
            expires_at: NOW + 60,
        };
        for (id, camera) in [(b"s1", "cam-a"), (b"s2", "cam-a"), (b"s3", "cam-b")] {
            assert_eq!(
                registry.apply(session(id, camera)),
                RegistryResponse::SessionCreated
            );
        }
        assert_eq!(
            registry.apply(set("cam-a", EnrollmentStatus::Suspended, NOW + 1)),
            RegistryResponse::EnrollmentStatusSet { sessions_ended: 2 }
        );
        let gone: Option<SessionRecord> = registry.read(sessions::SESSIONS_NAME, b"s1");
        assert!(gone.is_none());
        let kept: Option<SessionRecord> = registry.read(sessions::SESSIONS_NAME, b"s3");
        assert!(kept.is_some());
    }

    #[test]
    fn unknown_cameras_and_malformed_enrollments_are_refused() {
        let registry = Registry::new();
        assert_eq!(
            registry.apply(set("cam-x", EnrollmentStatus::Suspended, NOW)),
            RegistryResponse::Refused(Refusal::NotEnrolled)
        );
        let long_camera = "c".repeat(MAX_CAMERA_ID_LEN + 1);
        let cases = [
            enroll("", 1),
            enroll(&long_camera, 1),
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: Vec::new(),
                scopes: Vec::new(),
                now: NOW,
            },
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![1; MAX_CREDENTIAL_LEN + 1],
                scopes: Vec::new(),
                now: NOW,
            },
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![1; 4],
                scopes: (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect(),
                now: NOW,
            },
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![1; 4],
                scopes: vec!["x".repeat(MAX_SCOPE_LEN + 1)],
                now: NOW,
            },
            RegistryCommand::Enroll {
                camera: "cam-a".into(),
                credential: vec![1; 4],
                scopes: vec!["api".into(), "api".into()],
                now: NOW,
            },
        ];
        for command in cases {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
        let none: Option<EnrollmentRecord> = registry.read(ENROLLMENTS_NAME, b"cam-a");
        assert!(none.is_none());
    }

    // [1, {"credential": h'd28443', "status": "Suspended", "scopes": ["stream"],
    //      "enrolled_at": 1800000000, "status_since": 1800000060}]
    const RECORD_V1: &str = "
        82 01
        a5
           6a 63726564656e7469616c 43 d28443
           66 737461747573 69 53757370656e646564
           66 73636f706573 81 66 73747265616d
           6b 656e726f6c6c65645f6174 1a 6b49d200
           6c 7374617475735f73696e6365 1a 6b49d23c";

    #[test]
    fn an_enrollment_record_of_version_1_reads_as_written() {
        let record = EnrollmentRecord {
            credential: vec![0xd2, 0x84, 0x43],
            status: EnrollmentStatus::Suspended,
            scopes: vec!["stream".into()],
            enrolled_at: NOW,
            status_since: NOW + 60,
        };
        assert_eq!(
            decode::<EnrollmentRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
