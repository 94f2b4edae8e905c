//! The registry's summary: figures that queries need without scanning a table.
//!
//! A node asks for the latest frame-token key epoch whenever a camera's session starts, and
//! compares the size of the site's revocation set with its peers'; both would otherwise
//! take a scan of a table. The commands that change them keep this one record up to date, in
//! the same transaction, so it never disagrees with the tables it summarises.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::versioned::versioned_v1;
use super::{ApplyError, Records};

/// The summary, under [`SUMMARY_KEY`]: one framed [`RegistrySummary`].
pub(crate) const SUMMARY: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(SUMMARY_NAME);
const SUMMARY_NAME: &str = "registry.summary.v1";

/// The key of the one record in [`SUMMARY`].
pub(crate) const SUMMARY_KEY: &[u8] = b"summary";

/// Figures about the registry as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrySummary {
    /// The latest frame-token key epoch recorded, if any.
    pub latest_frame_key_epoch: Option<u64>,
    /// How many revocations the site's set holds.
    pub revocations: u64,
}

/// The layout of version 1 of [`RegistrySummary`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "RegistrySummary")]
struct RegistrySummaryV1 {
    latest_frame_key_epoch: Option<u64>,
    revocations: u64,
}

versioned_v1!(RegistrySummary, RegistrySummaryV1, "registry summary");

/// Reads the summary, changes it with `change`, and stores it.
pub(super) fn update(
    txn: &WriteTransaction,
    change: impl FnOnce(&mut RegistrySummary),
) -> Result<(), ApplyError> {
    let mut table = Records::open(txn, SUMMARY_NAME)?;
    let mut summary: RegistrySummary = table.get(SUMMARY_KEY)?.unwrap_or_default();
    change(&mut summary);
    table.put(SUMMARY_KEY, &summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};

    // [1, {"latest_frame_key_epoch": 7, "revocations": 300}]
    const RECORD_V1: &str = "
        82 01
        a2
           76 6c61746573745f6672616d655f6b65795f65706f6368 07
           6b 7265766f636174696f6e73 19 012c";

    #[test]
    fn a_summary_of_version_1_reads_as_written() {
        let summary = RegistrySummary {
            latest_frame_key_epoch: Some(7),
            revocations: 300,
        };
        assert_eq!(
            decode::<RegistrySummary>(&unhex(RECORD_V1)).expect("decodes"),
            summary
        );
        assert_eq!(hex(&cbor(&summary)), hex(&unhex(RECORD_V1)));
    }
}
