//! Frame-token key epochs: the site's keys for frame tokens, one per epoch.
//!
//! Each epoch's key is valid from `not_before` to `not_after` and is sealed by the proposer
//! for its epoch number (see [`super::sealing`]). Epochs only move forward: a command that
//! adds an epoch at or below the latest is refused, so that a delayed or replayed proposal
//! cannot bring back a key the site has moved past, and every node agrees which key is the
//! newest.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::sealing::SealedSecret;
use super::versioned::versioned_v1;
use super::{Outcome, Records, Refusal, RegistryResponse, malformed, summary};

/// Frame-token key epochs by epoch (8 bytes, big-endian, so that the last key is the latest
/// epoch): framed [`FrameKeyEpochRecord`]s.
pub(crate) const FRAME_KEYS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(FRAME_KEYS_NAME);
const FRAME_KEYS_NAME: &str = "registry.frame_keys.v1";

/// The frame-token key of one epoch as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameKeyEpochRecord {
    /// The key, sealed for this epoch.
    pub key: SealedSecret,
    /// The first second the key is valid.
    pub not_before: u64,
    /// The last second the key is valid.
    pub not_after: u64,
}

/// The layout of version 1 of [`FrameKeyEpochRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "FrameKeyEpochRecord")]
struct FrameKeyEpochRecordV1 {
    key: SealedSecret,
    not_before: u64,
    not_after: u64,
}

versioned_v1!(
    FrameKeyEpochRecord,
    FrameKeyEpochRecordV1,
    "frame-key epoch record"
);

impl FrameKeyEpochRecord {
    /// Whether the key is valid at `now`, seconds since the UNIX epoch.
    pub fn is_valid_at(&self, now: u64) -> bool {
        (self.not_before..=self.not_after).contains(&now)
    }
}

/// The key of epoch `epoch`.
pub(crate) fn key(epoch: u64) -> [u8; 8] {
    epoch.to_be_bytes()
}

/// `AddFrameKeyEpoch`: records the key of an epoch above every recorded one.
pub(super) fn add(
    txn: &WriteTransaction,
    epoch: u64,
    sealed: &SealedSecret,
    not_before: u64,
    not_after: u64,
) -> Outcome {
    if !sealed.well_formed() {
        return Ok(Err(malformed("sealed frame key")));
    }
    if not_after < not_before {
        return Ok(Err(malformed("frame key valid until before it is valid")));
    }
    let mut epochs = Records::open(txn, FRAME_KEYS_NAME)?;
    if let Some((latest, _)) = epochs.last::<FrameKeyEpochRecord>()? {
        let latest = <[u8; 8]>::try_from(latest.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| super::corrupt_key(FRAME_KEYS_NAME))?;
        if epoch <= latest {
            return Ok(Err(Refusal::StaleFrameKeyEpoch { latest }));
        }
    }
    let record = FrameKeyEpochRecord {
        key: sealed.clone(),
        not_before,
        not_after,
    };
    epochs.put(&key(epoch), &record)?;
    summary::update(txn, |summary| summary.latest_frame_key_epoch = Some(epoch))?;
    Ok(Ok(RegistryResponse::FrameKeyEpochAdded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryCommand;
    use crate::registry::sealing::{self, NONCE_LEN, SealedField, SiteStorageKey};
    use crate::registry::summary::{RegistrySummary, SUMMARY_KEY};
    use crate::registry::testing::{NOW, Registry, rng};
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};

    fn add(key: &SiteStorageKey, epoch: u64) -> RegistryCommand {
        let sealed = sealing::seal(
            key,
            SealedField::FrameKey { epoch },
            &[epoch as u8; 32],
            &mut rng(),
        )
        .expect("seals");
        RegistryCommand::AddFrameKeyEpoch {
            epoch,
            key: sealed,
            not_before: NOW,
            not_after: NOW + 3600,
        }
    }

    fn latest(registry: &Registry) -> Option<u64> {
        let summary: Option<RegistrySummary> = registry.read("registry.summary.v1", SUMMARY_KEY);
        summary.and_then(|s| s.latest_frame_key_epoch)
    }

    #[test]
    fn frame_key_epochs_only_move_forward() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        assert_eq!(
            registry.apply(add(&key, 3)),
            RegistryResponse::FrameKeyEpochAdded
        );
        assert_eq!(
            registry.apply(add(&key, 4)),
            RegistryResponse::FrameKeyEpochAdded
        );
        for stale in [4, 2, 0] {
            assert_eq!(
                registry.apply(add(&key, stale)),
                RegistryResponse::Refused(Refusal::StaleFrameKeyEpoch { latest: 4 })
            );
        }
        // Gaps are allowed: an epoch skipped by a failed proposal stays skipped.
        assert_eq!(
            registry.apply(add(&key, 9)),
            RegistryResponse::FrameKeyEpochAdded
        );
        assert_eq!(latest(&registry), Some(9));
    }

    #[test]
    fn a_frame_key_opens_only_for_its_epoch() {
        let registry = Registry::new();
        let key = SiteStorageKey::generate(&mut rng());
        registry.apply(add(&key, 1));
        let stored: FrameKeyEpochRecord = registry
            .read(FRAME_KEYS_NAME, &super::key(1))
            .expect("recorded");
        assert!(stored.is_valid_at(NOW) && !stored.is_valid_at(NOW + 3601));
        let opened =
            sealing::open(&key, SealedField::FrameKey { epoch: 1 }, &stored.key).expect("opens");
        assert_eq!(opened.as_slice(), &[1; 32]);
        assert!(sealing::open(&key, SealedField::FrameKey { epoch: 2 }, &stored.key).is_err());
    }

    #[test]
    fn malformed_frame_keys_are_refused() {
        let registry = Registry::new();
        let sealed = SealedSecret {
            nonce: vec![0; NONCE_LEN],
            ciphertext: vec![0; 48],
        };
        for command in [
            RegistryCommand::AddFrameKeyEpoch {
                epoch: 1,
                key: SealedSecret {
                    nonce: Vec::new(),
                    ciphertext: vec![0; 48],
                },
                not_before: NOW,
                not_after: NOW + 1,
            },
            RegistryCommand::AddFrameKeyEpoch {
                epoch: 1,
                key: SealedSecret {
                    nonce: vec![0; NONCE_LEN],
                    ciphertext: vec![0; sealing::MAX_SEALED_LEN + 1],
                },
                not_before: NOW,
                not_after: NOW + 1,
            },
            RegistryCommand::AddFrameKeyEpoch {
                epoch: 1,
                key: sealed,
                not_before: NOW + 1,
                not_after: NOW,
            },
        ] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
        assert_eq!(latest(&registry), None);
    }

    // [1, {"key": {"nonce": h'03' * 24, "ciphertext": h'04' * 16},
    //      "not_before": 1800000000, "not_after": 1800003600}]
    const RECORD_V1: &str = "
        82 01
        a3
           63 6b6579
              a2 65 6e6f6e6365 58 18 030303030303030303030303030303030303030303030303
                 6a 63697068657274657874 50 04040404040404040404040404040404
           6a 6e6f745f6265666f7265 1a 6b49d200
           69 6e6f745f6166746572 1a 6b49e010";

    #[test]
    fn a_frame_key_record_of_version_1_reads_as_written() {
        let record = FrameKeyEpochRecord {
            key: SealedSecret {
                nonce: vec![3; NONCE_LEN],
                ciphertext: vec![4; 16],
            },
            not_before: NOW,
            not_after: NOW + 3600,
        };
        assert_eq!(
            decode::<FrameKeyEpochRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
