//! The wire forms of gossip and anti-entropy (no I/O).
//!
//! **Gossip.** Two gossipsub topics. On [`REVOCATIONS_TOPIC`] a message is the publisher's
//! clock in milliseconds (8 bytes, big-endian), then the signed revocation; the clock only
//! feeds the propagation-delay metric and is trusted for nothing else. On
//! [`CREDENTIALS_TOPIC`] a message is a site CA or node credential, as issued.
//!
//! **Anti-entropy.** Gossip can be missed: a node was down, or its site was cut off. So peers
//! compare what they hold, on admission and on a timer, over a request-response protocol:
//!
//! ```text
//! A                                               B
//!   Summary { digest }                   ─────▶
//!                                        ◀─────   InSync                      (same digest)
//!                                        ◀─────   Inventory { digest, ids, site_cas }
//!   A takes the site CAs, and asks for the ids it lacks:
//!   Fetch { ids }                        ─────▶
//!                                        ◀─────   Revocations [signed revocation, ...]
//! ```
//!
//! A node that receives a Summary unlike its own digest answers it and starts the same
//! exchange the other way, once per digest it has not pulled from yet: so each side pulls
//! what it lacks, nobody pushes, and two nodes that stay different (one holds a revocation
//! the other cannot verify) do not ping-pong. A node whose set grew by anti-entropy sends
//! its new digest to its other peers, which then pull from it: after a partition heals, the
//! missing revocations cross the groups hop by hop without waiting for the timer.
//! Everything received is verified like gossip before it counts.

use serde::{Deserialize, Serialize};

use super::trust::EntryId;

/// The gossipsub topic of signed revocations.
pub const REVOCATIONS_TOPIC: &str = "/ward/revocations/1";

/// The gossipsub topic of site CA and node credentials.
pub const CREDENTIALS_TOPIC: &str = "/ward/credentials/1";

/// Largest gossip message: a revocation or a credential with room to spare.
pub const MAX_GOSSIP_LEN: usize = 4096;

/// Revocations a node asks for in one [`SyncRequest::Fetch`]; a larger gap takes more rounds.
pub const MAX_FETCH: usize = 20_000;

/// Entry ids an [`SyncResponse::Inventory`] carries at most: far more revocations than a
/// fleet should ever hold, and still a bounded message.
pub const MAX_INVENTORY: usize = 200_000;

/// Site CA credentials an inventory carries at most.
pub const MAX_SITE_CAS: usize = 1024;

/// Largest anti-entropy request: a full fetch, with CBOR framing.
pub const MAX_SYNC_REQUEST_LEN: u64 = (MAX_FETCH * 32 + 64) as u64;

/// Largest anti-entropy response: a full inventory, or a fetch's worth of revocations.
pub const MAX_SYNC_RESPONSE_LEN: u64 = 16 * 1024 * 1024;

/// The stamp in front of a revocation on the gossip topic.
const STAMP_LEN: usize = 8;

/// A revocation as gossiped: `published_ms || revocation`.
pub fn encode_gossip_revocation(published_ms: u64, revocation: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(STAMP_LEN + revocation.len());
    out.extend_from_slice(&published_ms.to_be_bytes());
    out.extend_from_slice(revocation);
    out
}

/// Splits a gossiped revocation into its publisher's stamp and the revocation's bytes;
/// `None` if it is too short to hold a stamp.
pub fn decode_gossip_revocation(data: &[u8]) -> Option<(u64, &[u8])> {
    let (stamp, revocation) = data.split_at_checked(STAMP_LEN)?;
    let stamp: [u8; STAMP_LEN] = stamp.try_into().ok()?;
    Some((u64::from_be_bytes(stamp), revocation))
}

/// What one node asks another during anti-entropy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// "This is the digest of what I enforce."
    Summary {
        /// The asker's revocation-set digest.
        #[serde(with = "serde_bytes")]
        digest: [u8; 32],
    },
    /// "Send me these revocations."
    Fetch {
        /// Entry ids, 32 bytes each, concatenated.
        #[serde(with = "serde_bytes")]
        ids: Vec<u8>,
    },
}

/// The answer to a [`SyncRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The digests are equal.
    InSync,
    /// Everything the answering node enforces, by id, and the site CAs it trusts.
    Inventory {
        /// The answering node's digest, so that the asker knows which state it pulled from.
        #[serde(with = "serde_bytes")]
        digest: [u8; 32],
        /// Entry ids, 32 bytes each, concatenated.
        #[serde(with = "serde_bytes")]
        ids: Vec<u8>,
        /// Site CA credentials, as issued.
        site_cas: Vec<serde_bytes::ByteBuf>,
    },
    /// The revocations asked for that the answering node holds, as signed.
    Revocations(Vec<serde_bytes::ByteBuf>),
}

/// Concatenates entry ids for the wire.
pub fn join_ids<'a>(ids: impl IntoIterator<Item = &'a EntryId>) -> Vec<u8> {
    ids.into_iter().flatten().copied().collect()
}

/// Splits concatenated entry ids, taking at most `max`; `None` if the length is not a
/// multiple of 32.
pub fn split_ids(bytes: &[u8], max: usize) -> Option<Vec<EntryId>> {
    let (chunks, rest) = bytes.as_chunks::<32>();
    if !rest.is_empty() {
        return None;
    }
    Some(chunks.iter().take(max).copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossiped_revocation_keeps_stamp_and_bytes() {
        let data = encode_gossip_revocation(1_767_225_600_123, b"signed revocation");
        assert_eq!(
            decode_gossip_revocation(&data),
            Some((1_767_225_600_123, &b"signed revocation"[..]))
        );
        assert_eq!(decode_gossip_revocation(&data[..7]), None);
    }

    #[test]
    fn entry_ids_survive_the_wire_and_ragged_lists_are_refused() {
        let ids = [[1u8; 32], [2u8; 32], [3u8; 32]];
        let joined = join_ids(&ids);
        assert_eq!(split_ids(&joined, 10), Some(ids.to_vec()));
        assert_eq!(split_ids(&joined, 2), Some(ids[..2].to_vec()));
        assert_eq!(split_ids(&joined[..33], 10), None);
    }
}
