//! Node records: which Ward nodes belong to the site, by Raft id.
//!
//! Raft's membership knows a node by its id and address; the rest of Ward knows it by its
//! libp2p PeerId and the credential the site issued it when it joined. This table ties the
//! two together, so that a node receiving a Raft message over the mesh can tell which member
//! sent it. A Raft id belongs to one PeerId: recording it again for the same peer renews the
//! credential, for another peer is refused, so a joining node cannot take over a member's id.

use redb::{TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::enrollments::MAX_CREDENTIAL_LEN;
use super::versioned::versioned_v1;
use super::{Outcome, Records, Refusal, RegistryResponse, check_len};

/// Node records by Raft node id (8 bytes, big-endian): framed [`NodeRecord`]s.
pub(crate) const NODES: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new(NODES_NAME);
const NODES_NAME: &str = "registry.nodes.v1";

/// The longest PeerId accepted, as text (an Ed25519 PeerId takes 52 characters).
pub const MAX_PEER_ID_LEN: usize = 128;

/// A node of the site as the registry keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's libp2p PeerId, as text.
    pub peer: String,
    /// The node's credential, opaque to the registry.
    pub credential: Vec<u8>,
    /// When the node joined the site, by the proposer's clock.
    pub joined_at: u64,
}

/// The layout of version 1 of [`NodeRecord`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "NodeRecord")]
struct NodeRecordV1 {
    peer: String,
    #[serde(with = "serde_bytes")]
    credential: Vec<u8>,
    joined_at: u64,
}

versioned_v1!(NodeRecord, NodeRecordV1, "node record");

/// The key of node `id`: big-endian, so that the table lists nodes in id order.
pub(crate) fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// `RecordNode`: records a node, or renews the credential of the same peer.
pub(super) fn record(
    txn: &WriteTransaction,
    node: u64,
    peer: &str,
    credential: &[u8],
    now: u64,
) -> Outcome {
    if let Err(refusal) = check_len(peer.as_bytes(), 1, MAX_PEER_ID_LEN, "peer id")
        .and_then(|()| check_len(credential, 1, MAX_CREDENTIAL_LEN, "credential"))
    {
        return Ok(Err(refusal));
    }
    let mut nodes = Records::open(txn, NODES_NAME)?;
    let joined_at = match nodes.get::<NodeRecord>(&key(node))? {
        Some(existing) if existing.peer != peer => {
            return Ok(Err(Refusal::NodeTaken {
                peer: existing.peer,
            }));
        }
        // A renewal: the node has been a member since it first joined.
        Some(existing) => existing.joined_at,
        None => now,
    };
    let record = NodeRecord {
        peer: peer.to_owned(),
        credential: credential.to_vec(),
        joined_at,
    };
    nodes.put(&key(node), &record)?;
    Ok(Ok(RegistryResponse::NodeRecorded))
}

/// `RemoveNode`: forgets a node.
pub(super) fn remove(txn: &WriteTransaction, node: u64) -> Outcome {
    let mut nodes = Records::open(txn, NODES_NAME)?;
    if !nodes.remove(&key(node))? {
        return Ok(Err(Refusal::UnknownNode));
    }
    Ok(Ok(RegistryResponse::NodeRemoved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryCommand;
    use crate::registry::testing::{NOW, Registry};
    use crate::registry::versioned::tests::{cbor, decode, hex, unhex};

    fn record_node(node: u64, peer: &str, credential: u8, now: u64) -> RegistryCommand {
        RegistryCommand::RecordNode {
            node,
            peer: peer.into(),
            credential: vec![credential; 30],
            now,
        }
    }

    fn stored(registry: &Registry, node: u64) -> Option<NodeRecord> {
        registry.read(NODES_NAME, &key(node))
    }

    #[test]
    fn a_node_id_belongs_to_one_peer() {
        let registry = Registry::new();
        assert_eq!(
            registry.apply(record_node(2, "peer-a", 1, NOW)),
            RegistryResponse::NodeRecorded
        );
        assert_eq!(
            registry.apply(record_node(2, "peer-b", 1, NOW + 1)),
            RegistryResponse::Refused(Refusal::NodeTaken {
                peer: "peer-a".into()
            })
        );
        assert_eq!(stored(&registry, 2).expect("recorded").peer, "peer-a");
    }

    #[test]
    fn recording_a_node_again_renews_its_credential_and_keeps_its_join_time() {
        let registry = Registry::new();
        registry.apply(record_node(2, "peer-a", 1, NOW));
        assert_eq!(
            registry.apply(record_node(2, "peer-a", 2, NOW + 100)),
            RegistryResponse::NodeRecorded
        );
        assert_eq!(
            stored(&registry, 2),
            Some(NodeRecord {
                peer: "peer-a".into(),
                credential: vec![2; 30],
                joined_at: NOW,
            })
        );
    }

    #[test]
    fn a_removed_node_is_forgotten_once() {
        let registry = Registry::new();
        registry.apply(record_node(2, "peer-a", 1, NOW));
        assert_eq!(
            registry.apply(RegistryCommand::RemoveNode { node: 2 }),
            RegistryResponse::NodeRemoved
        );
        assert!(stored(&registry, 2).is_none());
        assert_eq!(
            registry.apply(RegistryCommand::RemoveNode { node: 2 }),
            RegistryResponse::Refused(Refusal::UnknownNode)
        );
        // Its id is free for another peer.
        assert_eq!(
            registry.apply(record_node(2, "peer-b", 1, NOW)),
            RegistryResponse::NodeRecorded
        );
    }

    #[test]
    fn malformed_node_records_are_refused() {
        let registry = Registry::new();
        for command in [
            record_node(2, "", 1, NOW),
            record_node(2, &"p".repeat(MAX_PEER_ID_LEN + 1), 1, NOW),
            RegistryCommand::RecordNode {
                node: 2,
                peer: "peer-a".into(),
                credential: Vec::new(),
                now: NOW,
            },
        ] {
            assert!(matches!(
                registry.apply(command),
                RegistryResponse::Refused(Refusal::Malformed(_))
            ));
        }
        assert!(stored(&registry, 2).is_none());
    }

    // [1, {"peer": "12D3", "credential": h'a1b2', "joined_at": 1800000000}]
    const RECORD_V1: &str = "
        82 01
        a3
           64 70656572 64 31324433
           6a 63726564656e7469616c 42 a1b2
           69 6a6f696e65645f6174 1a 6b49d200";

    #[test]
    fn a_node_record_of_version_1_reads_as_written() {
        let record = NodeRecord {
            peer: "12D3".into(),
            credential: vec![0xa1, 0xb2],
            joined_at: NOW,
        };
        assert_eq!(
            decode::<NodeRecord>(&unhex(RECORD_V1)).expect("decodes"),
            record
        );
        assert_eq!(hex(&cbor(&record)), hex(&unhex(RECORD_V1)));
    }
}
