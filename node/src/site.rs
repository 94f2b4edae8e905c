//! The node's side of its site registry: join tokens as operators hold them, and the Raft
//! status the admin API reports.
//!
//! The registry itself (its commands, its Raft log and state machine) is `ward-consensus`.
//! What lives here is what only a node needs around it:
//!
//! ```text
//! JoinToken      the secret an operator hands a new node or camera: made here, shown once,
//!                only its SHA-256 proposed to Raft
//! SiteStatus     leader, term, voters, learners, commit index and each member's lag
//! SiteRegistry   what the admin API asks of the registry, whatever transport carries it
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openraft::{BasicNode, RaftMetrics, ServerState};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use ward_consensus::registry::MAX_TOKEN_ID_LEN;
use ward_consensus::transport::RegistryTransport;
use ward_consensus::{RegistryCommand, RegistryResponse, Replica, TokenRole};
use zeroize::Zeroizing;

/// How a join token is written, so that a token pasted in the wrong place is recognised.
const TOKEN_PREFIX: &str = "wjt1";

/// Bytes of a token's id: enough that two tokens never collide by chance.
const TOKEN_ID_LEN: usize = 16;

// The registry refuses longer ids; a token it would refuse must not be made.
const _: () = assert!(TOKEN_ID_LEN <= MAX_TOKEN_ID_LEN);

/// Bytes of a token's secret: 256 bits, beyond guessing for a token's lifetime.
const TOKEN_SECRET_LEN: usize = 32;

/// The longest lifetime a join token may be given. A join token is a bearer secret; one that
/// outlives the rollout it was made for is a liability.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);

/// A one-time join token: an id the registry files it under, and a secret of which the
/// registry keeps only the SHA-256.
///
/// Written `wjt1.<id>.<secret>` in hex. Its `Debug` shows the id only, so a token never
/// reaches a log line by accident; the secret is wiped when the token is dropped.
pub struct JoinToken {
    id: [u8; TOKEN_ID_LEN],
    secret: Zeroizing<[u8; TOKEN_SECRET_LEN]>,
}

/// A join token could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a Ward join token: expected {TOKEN_PREFIX}.<32 hex digits>.<64 hex digits>")]
pub struct MalformedToken;

impl JoinToken {
    /// A new token from the operating system's random number generator.
    pub fn generate() -> Result<JoinToken, getrandom::Error> {
        let mut id = [0u8; TOKEN_ID_LEN];
        let mut secret = Zeroizing::new([0u8; TOKEN_SECRET_LEN]);
        getrandom::fill(&mut id)?;
        getrandom::fill(secret.as_mut())?;
        Ok(JoinToken { id, secret })
    }

    /// Reads a token as [`JoinToken::expose`] writes it.
    pub fn parse(text: &str) -> Result<JoinToken, MalformedToken> {
        let mut parts = text.trim().split('.');
        let (Some(TOKEN_PREFIX), Some(id_hex), Some(secret_hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MalformedToken);
        };
        let mut id = [0u8; TOKEN_ID_LEN];
        let mut secret = Zeroizing::new([0u8; TOKEN_SECRET_LEN]);
        hex::decode_to_slice(id_hex, &mut id).map_err(|_| MalformedToken)?;
        hex::decode_to_slice(secret_hex, secret.as_mut()).map_err(|_| MalformedToken)?;
        Ok(JoinToken { id, secret })
    }

    /// The id the registry files the token under; not secret.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The id in hex, as operators see it in listings and logs.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// SHA-256 of the secret: what the registry stores and compares.
    pub fn secret_hash(&self) -> Vec<u8> {
        Sha256::digest(self.secret.as_ref()).to_vec()
    }

    /// The secret itself, for the join request that proves it; nowhere else.
    pub(crate) fn secret(&self) -> &[u8] {
        self.secret.as_ref()
    }

    /// The whole token, secret included, to hand to whoever will join. The only way, besides
    /// a join request, to get the secret out.
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{TOKEN_PREFIX}.{}.{}",
            hex::encode(self.id),
            hex::encode(self.secret.as_ref())
        ))
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("id", &self.id_hex())
            .finish_non_exhaustive()
    }
}

/// A join token just recorded by the registry.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token; its secret is shown to the operator once and kept nowhere.
    pub token: JoinToken,
    /// What it admits its holder as.
    pub role: TokenRole,
    /// Seconds since the UNIX epoch after which the registry refuses it.
    pub expires_at: u64,
}

/// Why the registry did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// The request itself is wrong (a lifetime out of bounds, say); nothing was proposed.
    #[error("{0}")]
    Invalid(String),
    /// The registry refused the command.
    #[error("the registry refused: {0}")]
    Refused(ward_consensus::Refusal),
    /// The site has no leader that committed the command in time, or Raft stopped.
    #[error("the site registry is unavailable: {0}")]
    Unavailable(String),
    /// The operating system gave no randomness for the token.
    #[error("no randomness for a join token: {0}")]
    Random(getrandom::Error),
}

/// Where the site's Raft group stands, as one member sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteStatus {
    /// This node's Raft id.
    pub node_id: u64,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// The leader this member knows of.
    pub leader: Option<u64>,
    /// The current term.
    pub term: u64,
    /// Raft ids of the voting members.
    pub voters: Vec<u64>,
    /// Raft ids of the learners: members that receive the log but do not vote.
    pub learners: Vec<u64>,
    /// The highest index a majority of voters hold; known to the leader only.
    pub commit_index: Option<u64>,
    /// The highest index this member has applied to its registry.
    pub applied_index: Option<u64>,
    /// The last index in this member's log.
    pub last_log_index: Option<u64>,
    /// Per member, as the leader replicates to it; empty at a member that is not the leader.
    pub members: Vec<MemberLag>,
}

/// How far one member is behind the leader's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLag {
    /// The member's Raft id.
    pub node_id: u64,
    /// The highest index the leader knows the member holds.
    pub matched_index: Option<u64>,
    /// Entries the member is missing from the leader's log.
    pub lag: u64,
}

impl SiteStatus {
    /// The status in `metrics`, as openraft reports it for one member.
    pub fn from_metrics(metrics: &RaftMetrics<u64, BasicNode>) -> SiteStatus {
        let membership = metrics.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let learners: Vec<u64> = membership.learner_ids().collect();
        let last = metrics.last_log_index;
        let members: Vec<MemberLag> = metrics
            .replication
            .iter()
            .flatten()
            .map(|(id, matched)| {
                let matched_index = matched.map(|log_id| log_id.index);
                MemberLag {
                    node_id: *id,
                    matched_index,
                    lag: lag(last, matched_index),
                }
            })
            .collect();
        let commit_index = metrics
            .replication
            .as_ref()
            .and_then(|_| quorum_index(&voters, &members, metrics.id, last));
        SiteStatus {
            node_id: metrics.id,
            role: role_name(metrics.state).to_owned(),
            leader: metrics.current_leader,
            term: metrics.current_term,
            voters,
            learners,
            commit_index,
            applied_index: metrics.last_applied.map(|log_id| log_id.index),
            last_log_index: last,
            members,
        }
    }
}

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

fn lag(last: Option<u64>, matched: Option<u64>) -> u64 {
    match (last, matched) {
        (Some(last), Some(matched)) => last.saturating_sub(matched),
        // Nothing matched yet: the member lacks the whole log, entry 0 included.
        (Some(last), None) => last + 1,
        (None, _) => 0,
    }
}

/// The highest index held by a majority of `voters`: the leader's commit index. The leader
/// counts with its own last index.
fn quorum_index(
    voters: &[u64],
    members: &[MemberLag],
    leader: u64,
    last: Option<u64>,
) -> Option<u64> {
    if voters.is_empty() {
        return None;
    }
    let mut held: Vec<Option<u64>> = voters
        .iter()
        .map(|voter| {
            if *voter == leader {
                return last;
            }
            members
                .iter()
                .find(|m| m.node_id == *voter)
                .and_then(|m| m.matched_index)
        })
        .collect();
    // Descending, with `None` (holds nothing) last; the majority-th value is the highest
    // index that a majority holds.
    held.sort_unstable_by(|a, b| b.cmp(a));
    held[voters.len() / 2]
}

/// What the admin API asks of the site registry. Object-safe, so the API does not depend on
/// which transport carries the registry's Raft messages.
pub trait SiteRegistry: Send + Sync + 'static {
    /// Where the Raft group stands, as this member sees it.
    fn status(&self) -> SiteStatus;

    /// Makes a join token for `role` that the registry refuses after `ttl`, and records it
    /// through Raft before returning it.
    fn create_join_token(
        &self,
        role: TokenRole,
        ttl: Duration,
        now: u64,
    ) -> Pin<Box<dyn Future<Output = Result<IssuedToken, SiteError>> + Send + '_>>;
}

impl<T: RegistryTransport> SiteRegistry for Replica<T> {
    fn status(&self) -> SiteStatus {
        SiteStatus::from_metrics(&self.metrics())
    }

    fn create_join_token(
        &self,
        role: TokenRole,
        ttl: Duration,
        now: u64,
    ) -> Pin<Box<dyn Future<Output = Result<IssuedToken, SiteError>> + Send + '_>> {
        Box::pin(async move {
            if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
                return Err(SiteError::Invalid(format!(
                    "a join token lives between 1 s and {} days",
                    MAX_TOKEN_TTL.as_secs() / 86_400
                )));
            }
            let token = JoinToken::generate().map_err(SiteError::Random)?;
            let expires_at = now.saturating_add(ttl.as_secs());
            let command = RegistryCommand::CreateJoinToken {
                id: token.id().to_vec(),
                secret_hash: token.secret_hash(),
                role,
                expires_at,
            };
            match self.write(command).await {
                Ok(RegistryResponse::JoinTokenCreated) => Ok(IssuedToken {
                    token,
                    role,
                    expires_at,
                }),
                Ok(RegistryResponse::Refused(refusal)) => Err(SiteError::Refused(refusal)),
                Ok(other) => Err(SiteError::Unavailable(format!(
                    "unexpected answer from the registry: {other:?}"
                ))),
                Err(e) => Err(SiteError::Unavailable(e.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_as_written_and_hashes_the_same() {
        let token = JoinToken::generate().expect("randomness");
        let again = JoinToken::parse(&token.expose()).expect("parses");
        assert_eq!(token.id(), again.id());
        assert_eq!(token.secret_hash(), again.secret_hash());
        assert_eq!(token.secret_hash().len(), 32);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let token = JoinToken::generate().expect("randomness");
        let exposed = token.expose();
        let secret_hex = exposed.rsplit('.').next().expect("three parts");
        let debug = format!("{token:?}");
        assert!(!debug.contains(secret_hex), "{debug}");
        assert!(debug.contains(&token.id_hex()));
    }

    #[test]
    fn anything_but_a_whole_token_is_refused() {
        let token = JoinToken::generate().expect("randomness");
        let text = token.expose();
        for bad in [
            String::new(),
            text.replacen("wjt1", "wjt2", 1),
            text[..text.len() - 2].to_owned(),
            format!("{}.00", *text),
            text.replace('.', ":"),
            format!("{}zz", &text[..text.len() - 2]),
        ] {
            assert!(JoinToken::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_commit_index_is_what_a_majority_of_voters_hold() {
        let member = |node_id, matched: Option<u64>| MemberLag {
            node_id,
            matched_index: matched,
            lag: 0,
        };
        // Leader 1 at 10; 2 holds 7, 3 holds 4: a majority (1 and 2) holds 7.
        let members = [member(2, Some(7)), member(3, Some(4))];
        assert_eq!(quorum_index(&[1, 2, 3], &members, 1, Some(10)), Some(7));
        // Five voters, two of them silent: the third highest.
        let members = [member(2, Some(9)), member(3, None), member(4, Some(3))];
        assert_eq!(
            quorum_index(&[1, 2, 3, 4, 5], &members, 1, Some(10)),
            Some(3)
        );
        // A lone voter commits what it holds.
        assert_eq!(quorum_index(&[1], &[], 1, Some(4)), Some(4));
        // Without a majority holding anything, nothing is committed.
        assert_eq!(quorum_index(&[1, 2, 3], &[], 1, Some(4)), None);
    }

    #[test]
    fn lag_counts_the_entries_a_member_lacks() {
        assert_eq!(lag(Some(10), Some(10)), 0);
        assert_eq!(lag(Some(10), Some(6)), 4);
        assert_eq!(lag(Some(10), None), 11);
        assert_eq!(lag(None, None), 0);
    }
}
