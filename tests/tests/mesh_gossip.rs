//! Gossip, anti-entropy and persistence of revocations over real sockets: many nodes in one
//! process, each a real libp2p swarm with a real redb store, the PKI made by `ward`.

use std::time::Duration;

use futures::StreamExt as _;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::swarm::SwarmEvent;
use ward_crypto::{Revocation, RevocationSet, RevocationStatement, SecretKey};
use ward_node::mesh::sync::{REVOCATIONS_TOPIC, encode_gossip_revocation};
use ward_node::mesh::{MeshConfig, MeshError, MeshEvent, PqMode, Submitted};
use ward_tests::mesh::{
    Cluster, EVENT_TIMEOUT, Fleet, QUIC, TCP, config, eventually, first_addr, spawn, spawn_with,
    wait_admitted, wait_for,
};

fn quick_config() -> MeshConfig {
    MeshConfig {
        gossip_heartbeat: Duration::from_millis(300),
        ..config(TCP)
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_published_at_one_node_is_enforced_at_all_twenty() {
    let fleet = Fleet::new("acme");
    let cluster = Cluster::start(&fleet, 20, &quick_config()).await;
    cluster.connect(0..20).await;
    let outsider = fleet.node();
    let revocation = fleet.revoke(&outsider);

    let delays = cluster.propagate(7, revocation).await;
    eprintln!(
        "revocation reached 20 nodes: p50 {:?}, max {:?}",
        percentile(&delays, 50),
        delays[delays.len() - 1]
    );

    // Every node enforces the same set, and refuses the revoked node.
    let digest = cluster.nodes[0]
        .status()
        .await
        .expect("running")
        .revocation_digest;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let status = node.status().await.expect("running");
        assert_eq!(status.revocation_count, 1, "node {i}");
        assert_eq!(status.revocation_digest, digest, "node {i}");
    }
    let revoked = spawn(TCP, outsider, fleet.admission(RevocationSet::new())).await;
    for i in [0, 13, 19] {
        let gate = &cluster.nodes[i];
        let mut events = gate.subscribe();
        revoked.dial(first_addr(gate).await).await.expect("dial");
        let revoked_id = revoked.peer_id();
        let verdict = wait_for(
            &mut events,
            |e| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == revoked_id),
        )
        .await;
        let MeshEvent::Refused(_, reason) = verdict else {
            panic!("node {i} admitted a revoked node");
        };
        assert!(reason.contains("revoked"), "node {i}: {reason}");
    }
    revoked.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partitioned_groups_converge_on_one_digest_within_five_seconds_of_healing() {
    let fleet = Fleet::new("acme");
    let heartbeat = Duration::from_millis(100);
    let config = MeshConfig {
        gossip_heartbeat: heartbeat,
        ..quick_config()
    };
    let cluster = Cluster::start(&fleet, 20, &config).await;
    // Two groups of ten with no link between them.
    cluster.connect(0..10).await;
    cluster.connect(10..20).await;
    let (a, b) = (fleet.node(), fleet.node());
    let (rev_a, rev_b) = (fleet.revoke(&a), fleet.revoke(&b));
    let reached: Vec<_> = cluster.nodes.iter().map(|n| n.subscribe()).collect();
    cluster.nodes[3]
        .submit_revocation(rev_a)
        .await
        .expect("running");
    cluster.nodes[15]
        .submit_revocation(rev_b)
        .await
        .expect("running");
    for mut events in reached {
        wait_for(&mut events, |e| {
            matches!(e, MeshEvent::RevocationApplied { .. })
        })
        .await;
    }
    let digest_a = cluster.nodes[0]
        .status()
        .await
        .expect("running")
        .revocation_digest;
    let digest_b = cluster.nodes[10]
        .status()
        .await
        .expect("running")
        .revocation_digest;
    assert_ne!(
        digest_a, digest_b,
        "each group holds only its own revocation"
    );

    // Gossipsub offers recent messages to new mesh peers for five heartbeats; past that,
    // only anti-entropy can carry them across, which is what this test is about.
    tokio::time::sleep(heartbeat * 10).await;

    // Heal with a single link.
    let healed = tokio::time::Instant::now();
    cluster.nodes[9]
        .dial(first_addr(&cluster.nodes[10]).await)
        .await
        .expect("dial");
    let mut digests = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        eventually(
            Duration::from_secs(5),
            &format!("node {i} converged"),
            || async { node.status().await.expect("running").revocation_count == 2 },
        )
        .await;
        digests.push(node.status().await.expect("running").revocation_digest);
    }
    eprintln!("partition converged {:?} after healing", healed.elapsed());
    assert!(healed.elapsed() <= Duration::from_secs(5));
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "one digest everywhere"
    );
    assert_ne!(digests[0], digest_a);
    assert_ne!(digests[0], digest_b);
    cluster.shutdown().await;
}

/// A bare gossipsub peer that speaks none of Ward's admission: what an outsider who knows
/// the topic names can do.
fn bare_gossip_peer() -> libp2p::Swarm<gossipsub::Behaviour> {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("TCP transport")
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(100))
                .build()
                .expect("gossipsub config");
            let mut gossip =
                gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)
                    .expect("gossipsub");
            gossip
                .subscribe(&IdentTopic::new(REVOCATIONS_TOPIC))
                .expect("subscribe");
            gossip
        })
        .expect("gossip behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_not_admitted_cannot_inject_even_a_genuine_revocation() {
    let fleet = Fleet::new("acme");
    let gate = spawn_with(
        MeshConfig {
            admission_timeout: Duration::from_secs(2),
            ..quick_config()
        },
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let mut events = gate.subscribe();
    // Genuinely signed by the site CA: only the sender's standing is wrong.
    let revocation = fleet.revoke(&fleet.node());

    let mut outsider = bare_gossip_peer();
    let outsider_id = *outsider.local_peer_id();
    outsider.dial(first_addr(&gate).await).expect("dial");
    let data = encode_gossip_revocation(0, revocation.as_bytes());
    let driver = tokio::spawn(async move {
        let topic = IdentTopic::new(REVOCATIONS_TOPIC);
        let mut published = false;
        loop {
            let event = outsider.select_next_some().await;
            if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) = event
                && !published
            {
                published = outsider
                    .behaviour_mut()
                    .publish(topic.clone(), data.clone())
                    .is_ok();
            }
        }
    });

    // The gate received the message (gossipsub counts it before validation) ...
    eventually(
        EVENT_TIMEOUT,
        "gossip from the outsider received",
        || async {
            gate.metrics().encode().lines().any(|l| {
                l.starts_with("ward_gossipsub_topic_msg_recv_counts_unfiltered_total")
                    && !l.ends_with(" 0")
            })
        },
    )
    .await;
    // ... ignored it, and cut the outsider off when admission timed out.
    wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) if *p == outsider_id),
    )
    .await;
    let status = gate.status().await.expect("running");
    assert_eq!(status.revocation_count, 0);
    assert!(!status.admitted_peers.contains(&outsider_id));
    driver.abort();
    gate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_revocations_are_rejected_and_cost_the_sender_score() {
    let fleet = Fleet::new("acme");
    let gate = spawn_with(
        quick_config(),
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let member_node = fleet.node();
    let member = spawn_with(
        quick_config(),
        member_node,
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let mut events = gate.subscribe();
    member.dial(first_addr(&gate).await).await.expect("dial");
    wait_admitted(&mut events, &[member.peer_id()]).await;
    eventually(
        EVENT_TIMEOUT,
        "member in the gate's gossip mesh",
        || async { gate.status().await.expect("running").gossip_peers > 0 },
    )
    .await;
    // And the other way: until the member has seen the gate subscribe, it has nobody to
    // publish to, and its publication would fail before reaching the gate.
    eventually(
        EVENT_TIMEOUT,
        "gate in the member's gossip mesh",
        || async { member.status().await.expect("running").gossip_peers > 0 },
    )
    .await;
    let before = gate
        .gossip_score(member.peer_id())
        .await
        .expect("running")
        .expect("the gate scores the member");

    // One with its signature broken; one naming the site CA but signed by another key.
    let genuine = fleet.revoke(&fleet.node());
    let mut broken = genuine.as_bytes().to_vec();
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    let impostor_key = SecretKey::generate_p256(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let statement = RevocationStatement {
        revoked_at: genuine.statement().revoked_at + 1,
        ..genuine.statement().clone()
    };
    let not_a_ca = Revocation::sign(statement, &impostor_key);
    for forged in [broken, not_a_ca.as_bytes().to_vec()] {
        let sent = member
            .publish_unchecked(REVOCATIONS_TOPIC, encode_gossip_revocation(0, &forged))
            .await
            .expect("running");
        assert!(sent, "the member published");
        let rejected = wait_for(&mut events, |e| {
            matches!(e, MeshEvent::GossipRejected { .. })
        })
        .await;
        let MeshEvent::GossipRejected { from, reason } = rejected else {
            unreachable!("filtered on GossipRejected");
        };
        assert_eq!(from, member.peer_id());
        assert!(reason.contains("signature"), "{reason}");
    }

    let after = gate
        .gossip_score(member.peer_id())
        .await
        .expect("running")
        .expect("still scored");
    assert!(after < before, "score {before} -> {after}");
    assert_eq!(gate.status().await.expect("running").revocation_count, 0);
    gate.shutdown().await;
    member.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_restarted_from_its_store_still_enforces_every_revocation() {
    let fleet = Fleet::new("acme");
    let node = fleet.node();
    let revoked = fleet.node();
    let revocations = [fleet.revoke(&revoked), fleet.revoke(&fleet.node())];

    let first = spawn(TCP, node.clone(), fleet.admission(RevocationSet::new())).await;
    for revocation in &revocations {
        assert_eq!(
            first
                .submit_revocation(revocation.clone())
                .await
                .expect("running"),
            Submitted::Applied
        );
    }
    let digest = first.status().await.expect("running").revocation_digest;
    first.shutdown().await;

    // The same identity and store, and an admission policy that knows of no revocation.
    let second = spawn(TCP, node, fleet.admission(RevocationSet::new())).await;
    let status = second.status().await.expect("running");
    assert_eq!(status.revocation_count, 2);
    assert_eq!(status.revocation_digest, digest);
    let revoked = spawn(TCP, revoked, fleet.admission(RevocationSet::new())).await;
    let mut events = second.subscribe();
    revoked.dial(first_addr(&second).await).await.expect("dial");
    let revoked_id = revoked.peer_id();
    let verdict = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == revoked_id),
    )
    .await;
    assert!(
        matches!(&verdict, MeshEvent::Refused(_, reason) if reason.contains("revoked")),
        "{verdict:?}"
    );
    second.shutdown().await;
    revoked.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pq_required_refuses_tcp_and_connects_over_quic() {
    let fleet = Fleet::new("acme");
    // Listening on TCP too, which the configuration file would refuse, to prove that the
    // mesh itself turns TCP connections away.
    let strict = spawn_with(
        MeshConfig {
            listen: vec![QUIC.parse().expect("addr"), TCP.parse().expect("addr")],
            pq: PqMode::Required,
            ..config(QUIC)
        },
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let relaxed = spawn_with(
        MeshConfig {
            listen: vec![QUIC.parse().expect("addr"), TCP.parse().expect("addr")],
            pq: PqMode::Off,
            ..config(QUIC)
        },
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let addrs = |addrs: Vec<libp2p::Multiaddr>| {
        let tcp = addrs
            .iter()
            .find(|a| a.to_string().contains("/tcp/"))
            .cloned();
        let quic = addrs
            .iter()
            .find(|a| a.to_string().contains("/quic-v1"))
            .cloned();
        (tcp.expect("a TCP address"), quic.expect("a QUIC address"))
    };
    let (strict_tcp, strict_quic) = addrs(strict.listen_addrs().await.expect("running"));
    let (relaxed_tcp, _) = addrs(relaxed.listen_addrs().await.expect("running"));

    // Dialling out over TCP is refused before any packet is sent.
    let refused = strict.dial(relaxed_tcp).await;
    assert!(
        matches!(refused, Err(MeshError::PqRequired(_))),
        "{refused:?}"
    );
    // A TCP connection coming in is closed before admission.
    let mut events = strict.subscribe();
    let relaxed_id = relaxed.peer_id();
    relaxed.dial(strict_tcp).await.expect("dial");
    let verdict = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == relaxed_id),
    )
    .await;
    assert!(
        matches!(&verdict, MeshEvent::Refused(_, reason) if reason.contains("post-quantum")),
        "{verdict:?}"
    );
    // QUIC connects and admits.
    relaxed.dial(strict_quic).await.expect("dial");
    wait_admitted(&mut events, &[relaxed_id]).await;

    strict.shutdown().await;
    relaxed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_submitted_twice_is_enforced_once() {
    let fleet = Fleet::new("acme");
    let node = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let revocation = fleet.revoke(&fleet.node());
    assert_eq!(
        node.submit_revocation(revocation.clone())
            .await
            .expect("running"),
        Submitted::Applied
    );
    assert_eq!(
        node.submit_revocation(revocation).await.expect("running"),
        Submitted::AlreadyEnforced
    );
    let other_fleet = Fleet::new("acme");
    let foreign = other_fleet.revoke(&other_fleet.node());
    let refused = node.submit_revocation(foreign).await;
    assert!(
        matches!(refused, Err(MeshError::RevocationInvalid(_))),
        "{refused:?}"
    );
    assert_eq!(node.status().await.expect("running").revocation_count, 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_finds_peers_beyond_its_bootstrap_peer() {
    let fleet = Fleet::new("acme");
    let discovering = MeshConfig {
        discovery_interval: Duration::from_secs(1),
        ..quick_config()
    };
    let a = spawn_with(
        discovering.clone(),
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let b = spawn_with(
        discovering.clone(),
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let mut b_events = b.subscribe();
    b.dial(first_addr(&a).await).await.expect("dial");
    wait_admitted(&mut b_events, &[a.peer_id()]).await;

    // C is given B alone; Kademlia walks from B to A.
    let c = spawn_with(
        MeshConfig {
            bootstrap: vec![first_addr(&b).await],
            ..discovering
        },
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let a_id = a.peer_id();
    eventually(
        EVENT_TIMEOUT,
        "C admitted A without being told of it",
        || async { c.admitted_peers().await.expect("running").contains(&a_id) },
    )
    .await;
    for node in [a, b, c] {
        node.shutdown().await;
    }
}
