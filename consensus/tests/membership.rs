//! Who votes in a site: a node that joins as a learner ends as a voter, a dead voter is
//! replaced by a healthy learner, and a learner too far behind for the log catches up by
//! snapshot.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{Site, WAIT, create, node};
use tokio::time::Instant;
use ward_consensus::memory::MemoryTransport;
use ward_consensus::{MembershipPolicy, Replica, ReplicaConfig};

fn voters(replica: &Replica<MemoryTransport>) -> BTreeSet<u64> {
    replica
        .metrics()
        .membership_config
        .membership()
        .voter_ids()
        .collect()
}

fn quick(voters: usize) -> MembershipPolicy {
    MembershipPolicy {
        voters,
        dead_after: Duration::from_secs(2),
        check_every: Duration::from_millis(200),
        catch_up_lag: 10,
    }
}

async fn voters_become(site: &Site, at: u64, expected: &[u64], timeout: Duration) {
    let expected: BTreeSet<u64> = expected.iter().copied().collect();
    let deadline = Instant::now() + timeout;
    while voters(&site.replicas[&at]) != expected {
        assert!(
            Instant::now() < deadline,
            "voters are {:?}, not {expected:?}",
            voters(&site.replicas[&at])
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_join_as_learners_end_as_voters() {
    let mut site = Site::new(1).await;
    let _steward = site.replicas[&1].spawn_steward(quick(3));
    for id in [2, 3] {
        site.start(id).await;
        // Asked at node 1; from node 3 on, a follower would hand it to the leader.
        site.replicas[&1]
            .add_learner(id, node(id))
            .await
            .expect("learner added");
    }
    voters_become(&site, 1, &[1, 2, 3], WAIT).await;
    // A fourth node stays a learner: the site wants three voters.
    site.start(4).await;
    site.replicas[&3]
        .add_learner(4, node(4))
        .await
        .expect("added through a follower");
    site.replicas[&2].write(create("t")).await.expect("written");
    site.settled().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(voters(&site.replicas[&1]), BTreeSet::from([1, 2, 3]));
    assert!(site.replicas[&4].join_token(b"t").expect("read").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_voter_is_replaced_by_a_healthy_learner() {
    let mut site = Site::new(3).await;
    let stewards: Vec<_> = site
        .ids()
        .iter()
        .map(|id| site.replicas[id].spawn_steward(quick(3)))
        .collect();
    site.start(4).await;
    site.replicas[&1]
        .add_learner(4, node(4))
        .await
        .expect("learner added");
    let leader = site.leader_within(WAIT).await;
    let dead = *site
        .ids()
        .iter()
        .find(|id| **id != leader && **id != 4)
        .expect("a voter");
    site.kill(dead).await;
    let mut expected: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|id| *id != dead).collect();
    expected.sort_unstable();
    voters_become(&site, leader, &expected, Duration::from_secs(10)).await;
    // The new voter counts: the site commits with it and the leader alone.
    site.replicas[&4]
        .write(create("after"))
        .await
        .expect("written");
    drop(stewards);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_too_far_behind_catches_up_by_snapshot() {
    let config = ReplicaConfig {
        snapshot_every: 50,
        keep_behind_snapshot: 5,
        ..ReplicaConfig::default()
    };
    let mut site = Site::with_voters(3, config).await;
    for i in 0..200 {
        site.replicas[&1]
            .write(create(&format!("token-{i}")))
            .await
            .expect("written");
    }
    // The log it would need has been purged at the leader.
    let leader = site.leader_within(WAIT).await;
    let deadline = Instant::now() + WAIT;
    while site.replicas[&leader].metrics().purged.is_none() {
        assert!(Instant::now() < deadline, "the leader never purged its log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    site.start(4).await;
    site.replicas[&leader]
        .add_learner(4, node(4))
        .await
        .expect("learner added");
    site.settled().await;
    let learner = &site.replicas[&4];
    assert!(
        learner.metrics().snapshot.is_some(),
        "the learner was not sent a snapshot"
    );
    for i in 0..200 {
        assert!(
            learner
                .join_token(format!("token-{i}").as_bytes())
                .expect("read")
                .is_some(),
            "token-{i} missing at the learner"
        );
    }
}
