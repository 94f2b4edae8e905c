//! Sites of three and five replicas in one process, each on its own redb file, over the
//! in-memory transport (which encodes every message as the mesh does): replication, the
//! leader's loss, a restart of every node, join tokens raced at two nodes at once, and
//! concurrent writes batched into shared log entries.

mod support;

use std::time::Duration;

use support::{Site, WAIT, consume, create};
use tokio::time::Instant;
use ward_consensus::{Refusal, RegistryResponse};

/// Writes tokens through every replica in turn, kills the leader, and checks that a new
/// leader is elected within 3 s and that every acknowledged write is on every survivor.
async fn survives_the_loss_of_its_leader(size: u64) {
    let mut site = Site::new(size).await;
    let ids = site.ids();
    let mut acknowledged = Vec::new();
    for i in 0..30 {
        let at = ids[i % ids.len()];
        let token = format!("token-{i}");
        let response = site.replicas[&at]
            .write(create(&token))
            .await
            .expect("written");
        assert_eq!(response, RegistryResponse::JoinTokenCreated);
        acknowledged.push(token);
    }

    let old_leader = site.leader_within(WAIT).await;
    let killed = Instant::now();
    site.kill(old_leader).await;
    let new_leader = site.leader_within(Duration::from_secs(3)).await;
    assert_ne!(new_leader, old_leader);
    println!(
        "{size} nodes: leader {old_leader} killed, {new_leader} leads after {:?}",
        killed.elapsed()
    );

    // The site still takes writes, at any survivor.
    let survivor = site.ids()[0];
    assert_eq!(
        site.replicas[&survivor]
            .write(create("after-failover"))
            .await
            .expect("written"),
        RegistryResponse::JoinTokenCreated
    );
    acknowledged.push("after-failover".into());
    site.settled().await;
    for replica in site.replicas.values() {
        for token in &acknowledged {
            assert!(
                replica
                    .join_token(token.as_bytes())
                    .expect("read")
                    .is_some(),
                "node {} lost acknowledged {token}",
                replica.id()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_and_survive_the_loss_of_their_leader() {
    survives_the_loss_of_its_leader(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_replicate_and_survive_the_loss_of_their_leader() {
    survives_the_loss_of_its_leader(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_restarted_whole_keeps_its_registry() {
    let mut site = Site::new(3).await;
    for i in 0..10 {
        site.replicas[&1]
            .write(create(&format!("token-{i}")))
            .await
            .expect("written");
    }
    site.replicas[&2]
        .write(consume("token-0", "camera-a"))
        .await
        .expect("written");
    for id in site.ids() {
        site.kill(id).await;
    }
    for id in 1..=3 {
        site.start(id).await;
    }
    site.leader_within(WAIT).await;
    site.settled().await;
    for replica in site.replicas.values() {
        for i in 0..10 {
            let record = replica
                .join_token(format!("token-{i}").as_bytes())
                .expect("read")
                .expect("token kept across the restart");
            assert_eq!(record.consumed_by.is_some(), i == 0);
        }
    }
    // Consumed before the restart stays consumed after it.
    assert_eq!(
        site.replicas[&3]
            .write(consume("token-0", "camera-b"))
            .await
            .expect("written"),
        RegistryResponse::Refused(Refusal::TokenUsed {
            by: "camera-a".into()
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_token_raced_at_two_nodes_is_consumed_exactly_once() {
    const RACES: usize = 100;
    let site = Site::new(3).await;
    for race in 0..RACES {
        site.replicas[&1]
            .write(create(&format!("raced-{race}")))
            .await
            .expect("written");
    }
    let ids = site.ids();
    for race in 0..RACES {
        let token = format!("raced-{race}");
        // Two different nodes each time, the leader among them or not.
        let (a, b) = (ids[race % 3], ids[(race + 1) % 3]);
        let (first, second) = tokio::join!(
            site.replicas[&a].write(consume(&token, "camera-a")),
            site.replicas[&b].write(consume(&token, "camera-b")),
        );
        let outcomes = [first.expect("written"), second.expect("written")];
        let consumed = outcomes
            .iter()
            .filter(|o| matches!(o, RegistryResponse::JoinTokenConsumed { .. }))
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, RegistryResponse::Refused(Refusal::TokenUsed { .. })))
            .count();
        assert_eq!((consumed, refused), (1, 1), "race {race}: {outcomes:?}");
    }
}

/// Writes that arrive at a replica while its last proposal is out go to the leader together,
/// in fewer log entries than writes, and each still gets its own answer: the same token
/// consumed by many at once is consumed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_at_a_replica_share_entries_and_keep_their_own_answers() {
    const WRITERS: usize = 64;
    let site = Site::new(3).await;
    site.replicas[&1]
        .write(create("shared"))
        .await
        .expect("written");
    let leader = site.leader_within(WAIT).await;
    // A follower, so that the batches are also what it forwards.
    let follower = site
        .ids()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    let replica = &site.replicas[&follower];
    site.settled().await;
    let before = replica.applied_index().expect("applied").unwrap_or(0);

    let mut writes = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let command = if i % 2 == 0 {
            create(&format!("batched-{i}"))
        } else {
            consume("shared", &format!("camera-{i}"))
        };
        let replica = replica.clone();
        writes.spawn(async move { (i, replica.write(command).await) });
    }
    let mut outcomes = vec![RegistryResponse::Done; WRITERS];
    while let Some(joined) = writes.join_next().await {
        let (i, outcome) = joined.expect("write task");
        outcomes[i] = outcome.expect("written");
    }

    for (i, outcome) in outcomes.iter().enumerate().step_by(2) {
        assert_eq!(*outcome, RegistryResponse::JoinTokenCreated, "write {i}");
    }
    let consumed: Vec<usize> = (1..WRITERS)
        .step_by(2)
        .filter(|i| matches!(outcomes[*i], RegistryResponse::JoinTokenConsumed { .. }))
        .collect();
    assert_eq!(consumed.len(), 1, "{outcomes:?}");
    let winner = format!("camera-{}", consumed[0]);
    for i in (1..WRITERS).step_by(2).filter(|i| *i != consumed[0]) {
        assert_eq!(
            outcomes[i],
            RegistryResponse::Refused(Refusal::TokenUsed { by: winner.clone() }),
            "write {i}"
        );
    }
    // Acknowledged means applied at the leader; the follower reads after its read index.
    replica.ensure_linearizable().await.expect("a read index");
    for i in (0..WRITERS).step_by(2) {
        let token = format!("batched-{i}");
        assert!(
            replica
                .join_token(token.as_bytes())
                .expect("read")
                .is_some()
        );
    }
    let entries = replica.applied_index().expect("applied").unwrap_or(0) - before;
    assert!(
        entries < WRITERS as u64 / 2,
        "{WRITERS} concurrent writes took {entries} log entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_minority_cannot_write_and_catches_up_when_healed() {
    let site = Site::new(3).await;
    let leader = site.leader_within(WAIT).await;
    let minority = *site
        .ids()
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");
    site.network.isolate(&[minority]);
    assert!(
        site.replicas[&minority]
            .write(create("lonely"))
            .await
            .is_err(),
        "one node of three committed a write alone"
    );
    let majority = *site
        .ids()
        .iter()
        .find(|id| **id != minority)
        .expect("another node");
    assert_eq!(
        site.replicas[&majority]
            .write(create("agreed"))
            .await
            .expect("written"),
        RegistryResponse::JoinTokenCreated
    );
    site.network.heal();
    site.settled().await;
    let caught_up = &site.replicas[&minority];
    assert!(caught_up.join_token(b"agreed").expect("read").is_some());
    assert!(caught_up.join_token(b"lonely").expect("read").is_none());
}
