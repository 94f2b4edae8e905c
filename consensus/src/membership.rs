//! Who votes: the leader's steward promotes learners to voters up to the site's target, and
//! replaces a voter that has been silent too long by a healthy learner.
//!
//! ```text
//! every check:   leader? ── no ──▶ wait
//!                  │ yes
//!                probe every member ──▶ last heard, applied index
//!                  │
//!                a voter silent for dead_after, and a caught-up learner? ──▶ swap them
//!                fewer voters than the target, and caught-up learners?   ──▶ promote
//! ```
//!
//! A new node joins as a learner, so it copies the log (or a snapshot) before it counts
//! towards any quorum; a learner is caught up when it has applied all but
//! [`MembershipPolicy::catch_up_lag`] of what the leader has. openraft's metrics say how far
//! each follower's log matches, but not whether it is alive (a quiet site sends no entries),
//! so the steward probes members itself over the transport. A replaced voter is kept as a
//! learner: if it comes back, it catches up and may be promoted again.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use openraft::{ChangeMembers, ServerState};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::replica::Replica;
use crate::transport::{RaftReply, RaftRequest, RegistryTransport};

type NodeId = u64;

/// How many voters a site keeps, and when a voter counts as dead.
#[derive(Clone, Debug)]
pub struct MembershipPolicy {
    /// Voters wanted: 3 tolerates the loss of one, 5 of two.
    pub voters: usize,
    /// A voter that answers no probe for this long is replaced, if a learner can take its
    /// place.
    pub dead_after: Duration,
    /// How often the leader checks the membership and probes every member.
    pub check_every: Duration,
    /// A learner within this many entries of the leader's applied index is caught up.
    pub catch_up_lag: u64,
}

impl Default for MembershipPolicy {
    fn default() -> Self {
        MembershipPolicy {
            voters: 3,
            dead_after: Duration::from_secs(300),
            check_every: Duration::from_secs(1),
            catch_up_lag: 100,
        }
    }
}

/// The steward's task; dropping the handle stops it.
#[derive(Debug)]
pub struct Steward {
    task: JoinHandle<()>,
}

impl Drop for Steward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: RegistryTransport> Replica<T> {
    /// Waits `pause`; `true` if Raft stopped meanwhile, so that the steward lets go of the
    /// replica (and its database) once the replica is shut down.
    async fn stopped_within(&self, pause: Duration) -> bool {
        let mut metrics = self.raft().metrics();
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return false,
                // Raft's core owns the sender; it is gone once Raft has stopped.
                changed = metrics.changed() => if changed.is_err() {
                    return true;
                },
            }
        }
    }
}

/// What the steward last heard from a member.
#[derive(Clone, Copy, Debug)]
struct Heard {
    at: Instant,
    applied: Option<u64>,
}

impl<T: RegistryTransport> Replica<T> {
    /// Starts this replica's steward, which acts only while this replica leads.
    pub fn spawn_steward(&self, policy: MembershipPolicy) -> Steward {
        let replica = self.clone();
        Steward {
            task: tokio::spawn(async move { replica.steward(policy).await }),
        }
    }

    async fn steward(self, policy: MembershipPolicy) {
        let mut heard: HashMap<NodeId, Heard> = HashMap::new();
        // Members count as heard when this replica became leader, so a new leader gives
        // everyone `dead_after` before replacing them.
        let mut leading_since: Option<Instant> = None;
        loop {
            if self.stopped_within(policy.check_every).await {
                return;
            }
            let metrics = self.metrics();
            if metrics.state != ServerState::Leader {
                leading_since = None;
                heard.clear();
                continue;
            }
            let since = *leading_since.get_or_insert_with(Instant::now);
            let stored = metrics.membership_config.clone();
            let membership = stored.membership();
            // A change is under way (joint configuration): let it finish first.
            if membership.get_joint_config().len() > 1 {
                continue;
            }
            let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
            let learners: BTreeSet<NodeId> = membership.learner_ids().collect();

            for (id, node) in membership.nodes() {
                if *id == self.id() {
                    continue;
                }
                let probe = self.transport().send(*id, node, RaftRequest::Probe);
                if let Ok(Ok(RaftReply::Probe(applied))) =
                    tokio::time::timeout(policy.check_every, probe).await
                {
                    heard.insert(
                        *id,
                        Heard {
                            at: Instant::now(),
                            applied,
                        },
                    );
                }
            }

            let now = Instant::now();
            let leader_applied = metrics.last_applied.map_or(0, |id| id.index);
            let last_heard = |id: &NodeId| heard.get(id).map_or(since, |h| h.at.max(since));
            let dead: Vec<NodeId> = voters
                .iter()
                .filter(|v| **v != self.id() && now - last_heard(v) >= policy.dead_after)
                .copied()
                .collect();
            let healthy: Vec<NodeId> = learners
                .iter()
                .filter(|l| {
                    heard.get(l).is_some_and(|h| {
                        now - h.at <= policy.check_every * 3
                            && h.applied.unwrap_or(0) + policy.catch_up_lag >= leader_applied
                    })
                })
                .copied()
                .collect();

            let change = if !dead.is_empty() && !healthy.is_empty() {
                let swaps = dead.len().min(healthy.len());
                let mut next = voters.clone();
                for v in &dead[..swaps] {
                    next.remove(v);
                }
                next.extend(&healthy[..swaps]);
                info!(dead = ?&dead[..swaps], promoted = ?&healthy[..swaps], "replacing dead voters");
                Some(ChangeMembers::ReplaceAllVoters(next))
            } else if voters.len() < policy.voters && !healthy.is_empty() {
                let wanted = policy.voters - voters.len();
                let promoted: BTreeSet<NodeId> = healthy.iter().take(wanted).copied().collect();
                info!(?promoted, "promoting learners to voters");
                Some(ChangeMembers::AddVoterIds(promoted))
            } else {
                if !dead.is_empty() {
                    warn!(
                        ?dead,
                        "voters silent, and no caught-up learner to replace them"
                    );
                }
                None
            };
            if let Some(change) = change
                && let Err(error) = self.raft().change_membership(change, true).await
            {
                warn!(%error, "membership change failed");
            }
        }
    }
}
