//! Anomaly-model snapshots: what each camera's behaviour monitor has learned, kept in the
//! registry so that a failover to another node keeps it.
//!
//! The registry does not read a model; the monitor that wrote it does. It counts the
//! snapshots taken of each camera's model, so that a monitor can tell a newer model from the
//! one it wrote itself.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::versioned::versioned_v1;
use super::{Outcome, Records, RegistryResponse, check_camera, malformed};

/// Anomaly-model snapshots by camera id: framed [`ModelSnapshotRecord`]s.
pub(crate) const MODEL_SNAPSHOTS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(MODEL_SNAPSHOTS_NAME);
const MODEL_SNAPSHOTS_NAME: &str = "registry.model_snapshots.v1";

/// The largest anomaly-model snapshot accepted: the registry replicates every byte to every
/// node of the site, so a model is a summary, not a recording.
pub const MAX_MODEL_LEN: usize = 64 << 10;

/// The anomaly model of one camera as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSnapshotRecord {
    /// How many snapshots of this camera's model the registry has taken, this one included.
    pub revision: u64,
    /// The model, opaque to the registry.
    pub model: Vec<u8>,
}

/// The layout of version 1 of [`ModelSnapshotRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "ModelSnapshotRecord")]
struct ModelSnapshotRecordV1 {
    revision: u64,
    #[serde(with = "serde_bytes")]
    model: Vec<u8>,
}

versioned_v1!(
    ModelSnapshotRecord,
    ModelSnapshotRecordV1,
    "model snapshot record"
);

/// `PutModelSnapshot`: replaces the camera's model and counts the snapshot.
pub(super) fn put(txn: &WriteTransaction, camera: &str, model: &[u8]) -> Outcome {
    if let Err(refusal) = check_camera(camera) {
        return Ok(Err(refusal));
    }
    if model.len() > MAX_MODEL_LEN {
        return Ok(Err(malformed("model larger than the registry keeps")));
    }
    let mut models = Records::open(txn, MODEL_SNAPSHOTS_NAME)?;
    let previous = models.get::<ModelSnapshotRecord>(camera.as_bytes())?;
    let record = ModelSnapshotRecord {
        revision: previous.map_or(1, |p| p.revision.saturating_add(1)),
        model: model.to_vec(),
    };
    models.put(camera.as_bytes(), &record)?;
    Ok(Ok(RegistryResponse::ModelStored {
        revision: record.revision,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::testing::Registry;
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};
    use crate::registry::{Refusal, RegistryCommand};

    fn put(camera: &str, model: Vec<u8>) -> RegistryCommand {
        RegistryCommand::PutModelSnapshot {
            camera: camera.into(),
            model,
        }
    }

    #[test]
    fn each_snapshot_of_a_model_counts_one_revision_up() {
        let registry = Registry::new();
        for revision in 1..=3 {
            assert_eq!(
                registry.apply(put("cam-a", vec![revision as u8; 10])),
                RegistryResponse::ModelStored { revision }
            );
        }
        assert_eq!(
            registry.apply(put("cam-b", vec![9])),
            RegistryResponse::ModelStored { revision: 1 }
        );
        let stored: ModelSnapshotRecord = registry
            .read(MODEL_SNAPSHOTS_NAME, b"cam-a")
            .expect("stored");
        assert_eq!(stored.model, vec![3; 10]);
    }

    #[test]
    fn oversized_models_and_bad_camera_ids_are_refused() {
        let registry = Registry::new();
        for command in [put("", vec![1]), put("cam-a", vec![0; MAX_MODEL_LEN + 1])] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
    }

    // [1, {"revision": 2, "model": h'00ff'}]
    const RECORD_V1: &str = "82 01 a2 68 7265766973696f6e 02 65 6d6f64656c 42 00ff";

    #[test]
    fn a_model_snapshot_record_of_version_1_reads_as_written() {
        let record = ModelSnapshotRecord {
            revision: 2,
            model: vec![0x00, 0xff],
        };
        assert_eq!(
            decode::<ModelSnapshotRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
