//! Camera sessions: what any node of the site needs to continue a camera's session.
//!
//! After EDHOC and OSCORE are set up with a camera, the node records the session here (the
//! camera, when it expires, when the camera was last re-checked, and the OSCORE context's
//! secret parts), so that a camera failing over to another node resumes without a new
//! handshake. The secret parts arrive sealed for this session's id (see
//! [`super::sealing`]): the registry and its snapshots carry only ciphertext, and a node
//! opens it with the site storage key when it takes the session over.
//!
//! A session is created only for an active enrollment and refreshed only while both the
//! session and the enrollment hold; suspending or revoking the camera ends its sessions.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::enrollments;
use super::sealing::SealedSecret;
use super::versioned::versioned_v1;
use super::{
    ApplyError, Outcome, Records, Refusal, RegistryResponse, check_camera, check_len, malformed,
};

/// Sessions by id: framed [`SessionRecord`]s.
pub(crate) const SESSIONS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(SESSIONS_NAME);
pub(super) const SESSIONS_NAME: &str = "registry.sessions.v1";

/// The longest session id accepted.
pub const MAX_SESSION_ID_LEN: usize = 32;

/// A camera's session as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The camera.
    pub camera: String,
    /// When the session began, by the proposer's clock.
    pub created_at: u64,
    /// The last second of the session, unless it is refreshed.
    pub expires_at: u64,
    /// When a node last re-checked the camera and extended the session.
    pub last_revalidated: u64,
    /// The OSCORE context's secret parts, sealed for this session's id.
    pub secret: SealedSecret,
}

/// The layout of version 1 of [`SessionRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "SessionRecord")]
struct SessionRecordV1 {
    camera: String,
    created_at: u64,
    expires_at: u64,
    last_revalidated: u64,
    secret: SealedSecret,
}

versioned_v1!(SessionRecord, SessionRecordV1, "session record");

impl SessionRecord {
    /// Whether the session is live at `now`, seconds since the UNIX epoch.
    pub fn is_live(&self, now: u64) -> bool {
        now <= self.expires_at
    }
}

/// `CreateSession`: records a new session of an active camera.
pub(super) fn create(
    txn: &WriteTransaction,
    id: &[u8],
    camera: &str,
    secret: &SealedSecret,
    now: u64,
    expires_at: u64,
) -> Outcome {
    if let Err(refusal) = check_id(id)
        .and_then(|()| check_camera(camera))
        .and_then(|()| check_secret(secret))
        .and_then(|()| check_lifetime(now, expires_at))
    {
        return Ok(Err(refusal));
    }
    if let Err(refusal) = enrollments::check_active(txn, camera)? {
        return Ok(Err(refusal));
    }
    let mut sessions = Records::open(txn, SESSIONS_NAME)?;
    if sessions.get::<SessionRecord>(id)?.is_some() {
        return Ok(Err(Refusal::SessionExists));
    }
    let record = SessionRecord {
        camera: camera.to_owned(),
        created_at: now,
        expires_at,
        last_revalidated: now,
        secret: secret.clone(),
    };
    sessions.put(id, &record)?;
    Ok(Ok(RegistryResponse::SessionCreated))
}

/// `RefreshSession`: extends a live session of a still active camera, and replaces its
/// secret parts if new ones are given.
pub(super) fn refresh(
    txn: &WriteTransaction,
    id: &[u8],
    now: u64,
    expires_at: u64,
    secret: Option<&SealedSecret>,
) -> Outcome {
    if let Err(refusal) = check_id(id)
        .and_then(|()| secret.map_or(Ok(()), check_secret))
        .and_then(|()| check_lifetime(now, expires_at))
    {
        return Ok(Err(refusal));
    }
    let mut sessions = Records::open(txn, SESSIONS_NAME)?;
    let Some(mut record) = sessions.get::<SessionRecord>(id)? else {
        return Ok(Err(Refusal::UnknownSession));
    };
    // An expired session is over: extending it would revive keys nobody re-checked in time.
    if !record.is_live(now) {
        return Ok(Err(Refusal::SessionExpired));
    }
    if let Err(refusal) = enrollments::check_active(txn, &record.camera)? {
        return Ok(Err(refusal));
    }
    record.expires_at = expires_at;
    record.last_revalidated = now;
    if let Some(secret) = secret {
        record.secret = secret.clone();
    }
    sessions.put(id, &record)?;
    Ok(Ok(RegistryResponse::SessionRefreshed))
}

/// `EndSession`: forgets a session.
pub(super) fn end(txn: &WriteTransaction, id: &[u8]) -> Outcome {
    if let Err(refusal) = check_id(id) {
        return Ok(Err(refusal));
    }
    let mut sessions = Records::open(txn, SESSIONS_NAME)?;
    if !sessions.remove(id)? {
        return Ok(Err(Refusal::UnknownSession));
    }
    Ok(Ok(RegistryResponse::SessionEnded))
}

/// Ends every session of `camera`; how many there were.
pub(super) fn end_all_of(txn: &WriteTransaction, camera: &str) -> Result<u64, ApplyError> {
    let mut sessions = Records::open(txn, SESSIONS_NAME)?;
    // A scan: a site holds a session per camera or so, and cameras are suspended rarely, so an
    // index by camera would cost more on every session than it saves here.
    let ended = sessions.keys_where(|record: &SessionRecord| record.camera == camera)?;
    for id in &ended {
        sessions.remove(id)?;
    }
    Ok(ended.len() as u64)
}

fn check_id(id: &[u8]) -> Result<(), Refusal> {
    check_len(id, 1, MAX_SESSION_ID_LEN, "session id")
}

fn check_secret(secret: &SealedSecret) -> Result<(), Refusal> {
    if !secret.well_formed() {
        return Err(malformed("sealed session secret"));
    }
    Ok(())
}

fn check_lifetime(now: u64, expires_at: u64) -> Result<(), Refusal> {
    if expires_at <= now {
        return Err(malformed("session expiry not after now"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::sealing::{self, NONCE_LEN, SealedField, SiteStorageKey};
    use crate::registry::testing::{NOW, Registry, enrolled, rng};
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};
    use crate::registry::{EnrollmentStatus, RegistryCommand};

    const SECRET: &[u8] = b"master secret | master salt";

    fn sealed_for(key: &SiteStorageKey, id: &[u8]) -> SealedSecret {
        sealing::seal(
            key,
            SealedField::SessionSecret { session: id },
            SECRET,
            &mut rng(),
        )
        .expect("seals")
    }

    fn create(id: &[u8], camera: &str, secret: SealedSecret) -> RegistryCommand {
        RegistryCommand::CreateSession {
            id: id.to_vec(),
            camera: camera.into(),
            secret,
            now: NOW,
            expires_at: NOW + 86_400,
        }
    }

    fn refresh(id: &[u8], now: u64, secret: Option<SealedSecret>) -> RegistryCommand {
        RegistryCommand::RefreshSession {
            id: id.to_vec(),
            now,
            expires_at: now + 86_400,
            secret,
        }
    }

    fn stored(registry: &Registry, id: &[u8]) -> Option<SessionRecord> {
        registry.read(SESSIONS_NAME, id)
    }

    #[test]
    fn a_session_is_created_refreshed_and_ended() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        enrolled(&registry, "cam-a");
        assert_eq!(
            registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1"))),
            RegistryResponse::SessionCreated
        );
        assert_eq!(
            registry.apply(refresh(b"s1", NOW + 900, None)),
            RegistryResponse::SessionRefreshed
        );
        let record = stored(&registry, b"s1").expect("recorded");
        assert_eq!(
            (
                record.created_at,
                record.last_revalidated,
                record.expires_at
            ),
            (NOW, NOW + 900, NOW + 900 + 86_400)
        );
        // A key update replaces the sealed secret.
        let updated = sealed_for(&key, b"s1");
        registry.apply(refresh(b"s1", NOW + 1800, Some(updated.clone())));
        assert_eq!(stored(&registry, b"s1").expect("recorded").secret, updated);
        assert_eq!(
            registry.apply(RegistryCommand::EndSession { id: b"s1".to_vec() }),
            RegistryResponse::SessionEnded
        );
        assert!(stored(&registry, b"s1").is_none());
        assert_eq!(
            registry.apply(RegistryCommand::EndSession { id: b"s1".to_vec() }),
            RegistryResponse::Refused(Refusal::UnknownSession)
        );
    }

    #[test]
    fn a_stored_session_secret_opens_only_for_its_own_session() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        enrolled(&registry, "cam-a");
        registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1")));
        // Someone who can propose copies s1's sealed secret into a session of their own.
        let moved = stored(&registry, b"s1").expect("recorded").secret;
        registry.apply(create(b"s2", "cam-a", moved));
        let s2 = stored(&registry, b"s2").expect("recorded");
        assert!(
            sealing::open(
                &key,
                SealedField::SessionSecret { session: b"s2" },
                &s2.secret
            )
            .is_err()
        );
        let s1 = stored(&registry, b"s1").expect("recorded");
        let opened = sealing::open(
            &key,
            SealedField::SessionSecret { session: b"s1" },
            &s1.secret,
        )
        .expect("opens");
        assert_eq!(opened.as_slice(), SECRET);
    }

    #[test]
    fn sessions_need_an_active_enrollment() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        assert_eq!(
            registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1"))),
            RegistryResponse::Refused(Refusal::NotEnrolled)
        );
        enrolled(&registry, "cam-a");
        registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1")));
        registry.apply(RegistryCommand::SetEnrollmentStatus {
            camera: "cam-a".into(),
            status: EnrollmentStatus::Suspended,
            now: NOW + 1,
        });
        let suspended = RegistryResponse::Refused(Refusal::EnrollmentNotActive {
            status: EnrollmentStatus::Suspended,
        });
        assert_eq!(
            registry.apply(create(b"s2", "cam-a", sealed_for(&key, b"s2"))),
            suspended
        );
    }

    #[test]
    fn an_expired_session_cannot_be_refreshed() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        enrolled(&registry, "cam-a");
        registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1")));
        assert_eq!(
            registry.apply(refresh(b"s1", NOW + 86_401, None)),
            RegistryResponse::Refused(Refusal::SessionExpired)
        );
        // Its last second still counts.
        assert_eq!(
            registry.apply(refresh(b"s1", NOW + 86_400, None)),
            RegistryResponse::SessionRefreshed
        );
    }

    #[test]
    fn session_ids_are_unique_and_fields_bounded() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        enrolled(&registry, "cam-a");
        registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1")));
        assert_eq!(
            registry.apply(create(b"s1", "cam-a", sealed_for(&key, b"s1"))),
            RegistryResponse::Refused(Refusal::SessionExists)
        );
        let bad_secret = SealedSecret {
            nonce: vec![0; NONCE_LEN - 1],
            ciphertext: vec![0; 40],
        };
        for command in [
            create(b"", "cam-a", sealed_for(&key, b"")),
            create(
                &[1; MAX_SESSION_ID_LEN + 1],
                "cam-a",
                sealed_for(&key, b"x"),
            ),
            create(b"s2", "cam-a", bad_secret),
            RegistryCommand::CreateSession {
                id: b"s2".to_vec(),
                camera: "cam-a".into(),
                secret: sealed_for(&key, b"s2"),
                now: NOW,
                expires_at: NOW,
            },
            RegistryCommand::RefreshSession {
                id: b"s1".to_vec(),
                now: NOW + 5,
                expires_at: NOW + 4,
                secret: None,
            },
        ] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
    }

    // [1, {"camera": "cam-a", "created_at": 1800000000, "expires_at": 1800086400,
    //      "last_revalidated": 1800000900,
    //      "secret": {"nonce": h'01' * 24, "ciphertext": h'02' * 17}}]
    const RECORD_V1: &str = "
        82 01
        a5
           66 63616d657261 65 63616d2d61
           6a 637265617465645f6174 1a 6b49d200
           6a 657870697265735f6174 1a 6b4b2380
           70 6c6173745f726576616c696461746564 1a 6b49d584
           66 736563726574
              a2 65 6e6f6e6365 58 18 010101010101010101010101010101010101010101010101
                 6a 63697068657274657874 51 0202020202020202020202020202020202";

    #[test]
    fn a_session_record_of_version_1_reads_as_written() {
        let record = SessionRecord {
            camera: "cam-a".into(),
            created_at: NOW,
            expires_at: NOW + 86_400,
            last_revalidated: NOW + 900,
            secret: SealedSecret {
                nonce: vec![1; NONCE_LEN],
                ciphertext: vec![2; 17],
            },
        };
        assert_eq!(
            decode::<SessionRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
