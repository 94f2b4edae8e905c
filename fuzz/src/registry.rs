//! What the registry target and its seeds share: the frame around a payload, and genuine
//! Raft messages of a site.
//!
//! Every registry message crosses the network in a checksummed frame. A fuzzer cannot forge
//! a SHA-256 checksum by mutation, so it would never get past it to the CBOR decoder; the
//! target therefore treats its input as a payload and frames it the way `frame::seal` does
//! (format 1, the first 8 bytes of SHA-256 over the format byte and the payload).

use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, SnapshotMeta, Vote};
use sha2::{Digest as _, Sha256};
use ward_consensus::registry::SECRET_HASH_LEN;
use ward_consensus::transport::{RaftReply, RaftRequest};
use ward_consensus::{RegistryCommand, RegistryResponse, TokenRole};

/// `payload` in a frame whose header and checksum are sound.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let checksum = Sha256::new()
        .chain_update([1u8])
        .chain_update(payload)
        .finalize();
    let mut framed = Vec::with_capacity(9 + payload.len());
    framed.push(1);
    framed.extend_from_slice(&checksum[..8]);
    framed.extend_from_slice(payload);
    framed
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn create(id: &[u8]) -> RegistryCommand {
    RegistryCommand::CreateJoinToken {
        id: id.to_vec(),
        secret_hash: vec![0x5a; SECRET_HASH_LEN],
        role: TokenRole::Camera,
        expires_at: 1_800_003_600,
    }
}

/// Genuine requests: an append carrying entries of every kind, a heartbeat, a vote, a
/// snapshot chunk, a forwarded write and learner, and a probe.
pub fn requests() -> Vec<(&'static str, RaftRequest)> {
    let vote = Vote::new_committed(3, 1);
    let entries = vec![
        Entry {
            log_id: log_id(3, 7),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(3, 8),
            payload: EntryPayload::Normal(create(b"token-1")),
        },
        Entry {
            log_id: log_id(3, 9),
            payload: EntryPayload::Normal(RegistryCommand::ConsumeJoinToken {
                id: b"token-1".to_vec(),
                secret_hash: vec![0x5a; SECRET_HASH_LEN],
                consumer: "camera-17".into(),
                now: 1_800_000_000,
            }),
        },
    ];
    vec![
        (
            "append",
            RaftRequest::AppendEntries(AppendEntriesRequest {
                vote,
                prev_log_id: Some(log_id(3, 6)),
                entries,
                leader_commit: Some(log_id(3, 6)),
            }),
        ),
        (
            "heartbeat",
            RaftRequest::AppendEntries(AppendEntriesRequest {
                vote,
                prev_log_id: Some(log_id(3, 9)),
                entries: Vec::new(),
                leader_commit: Some(log_id(3, 9)),
            }),
        ),
        (
            "vote",
            RaftRequest::Vote(VoteRequest::new(Vote::new(4, 2), Some(log_id(3, 9)))),
        ),
        (
            "snapshot",
            RaftRequest::InstallSnapshot(InstallSnapshotRequest {
                vote,
                meta: SnapshotMeta {
                    last_log_id: Some(log_id(3, 9)),
                    last_membership: Default::default(),
                    snapshot_id: "3-9-00".into(),
                },
                offset: 0,
                data: vec![1, 2, 3, 4],
                done: true,
            }),
        ),
        ("write", RaftRequest::Write(create(b"token-2"))),
        (
            "add_learner",
            RaftRequest::AddLearner(4, openraft::BasicNode::new("node-4")),
        ),
        ("probe", RaftRequest::Probe),
    ]
}

/// Genuine replies.
pub fn replies() -> Vec<(&'static str, RaftReply)> {
    let vote = Vote::new_committed(3, 1);
    vec![
        (
            "appended",
            RaftReply::AppendEntries(Ok(AppendEntriesResponse::Success)),
        ),
        (
            "conflict",
            RaftReply::AppendEntries(Ok(AppendEntriesResponse::Conflict)),
        ),
        (
            "granted",
            RaftReply::Vote(Ok(VoteResponse {
                vote,
                vote_granted: true,
                last_log_id: Some(log_id(3, 9)),
            })),
        ),
        (
            "installed",
            RaftReply::InstallSnapshot(Ok(InstallSnapshotResponse { vote })),
        ),
        (
            "written",
            RaftReply::Write(Ok(openraft::raft::ClientWriteResponse {
                log_id: log_id(3, 10),
                data: RegistryResponse::JoinTokenCreated,
                membership: None,
            })),
        ),
        ("probed", RaftReply::Probe(Some(10))),
    ]
}
