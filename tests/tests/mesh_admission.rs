//! Mesh admission over real sockets: several nodes in one process, each a real libp2p swarm,
//! with a PKI made by the `ward` command as an operator would make it.
//!
//! Every wait is on a mesh event with a timeout; no test sleeps to let things happen.

use std::collections::HashSet;
use std::time::Duration;

use libp2p::PeerId;
use libp2p::identity::Keypair;
use ward_crypto::RevocationSet;
use ward_node::mesh::{MeshConfig, MeshEvent, MeshHandle};
use ward_tests::mesh::{
    EVENT_TIMEOUT, Fleet, Node, QUIC, TCP, config, first_addr, spawn, spawn_with, wait_admitted,
    wait_for,
};

async fn three_nodes_admit_each_other(listen: &str) {
    let fleet = Fleet::new("acme");
    let meshes = [
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
    ];
    let ids: Vec<PeerId> = meshes.iter().map(|m| m.peer_id()).collect();
    let mut events: Vec<_> = meshes.iter().map(|m| m.subscribe()).collect();

    // 0 dials 1 and 2, 1 dials 2: every pair is connected once.
    let (addr1, addr2) = (first_addr(&meshes[1]).await, first_addr(&meshes[2]).await);
    meshes[0].dial(addr1).await.expect("dial");
    meshes[0].dial(addr2.clone()).await.expect("dial");
    meshes[1].dial(addr2).await.expect("dial");

    for (i, events) in events.iter_mut().enumerate() {
        let others: Vec<PeerId> = ids.iter().copied().filter(|p| *p != ids[i]).collect();
        wait_admitted(events, &others).await;
    }
    for (i, mesh) in meshes.iter().enumerate() {
        let admitted: HashSet<PeerId> = mesh
            .admitted_peers()
            .await
            .expect("running")
            .into_iter()
            .collect();
        let others: HashSet<PeerId> = ids.iter().copied().filter(|p| *p != ids[i]).collect();
        assert_eq!(admitted, others, "node {i}");
    }
    for mesh in meshes {
        mesh.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_of_one_fleet_admit_each_other_over_tcp() {
    three_nodes_admit_each_other(TCP).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_of_one_fleet_admit_each_other_over_quic() {
    three_nodes_admit_each_other(QUIC).await;
}

/// Has `intruder` dial `gate` and returns the reason `gate` refused it with.
async fn refused_reason(gate: &MeshHandle, intruder: &MeshHandle) -> String {
    let mut events = gate.subscribe();
    intruder.dial(first_addr(gate).await).await.expect("dial");
    let intruder_id = intruder.peer_id();
    let refused = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == intruder_id),
    )
    .await;
    let MeshEvent::Refused(_, reason) = refused else {
        panic!("intruder admitted");
    };
    wait_for(&mut events, |e| *e == MeshEvent::Banned(intruder_id)).await;
    assert!(
        !gate
            .admitted_peers()
            .await
            .expect("running")
            .contains(&intruder_id),
        "a refused peer is not admitted"
    );
    reason
}

#[tokio::test(flavor = "multi_thread")]
async fn node_of_another_fleet_is_refused_and_banned() {
    let (ours, theirs) = (Fleet::new("acme"), Fleet::new("acme"));
    let gate = spawn(TCP, ours.node(), ours.admission(RevocationSet::new())).await;
    let intruder = spawn(TCP, theirs.node(), theirs.admission(RevocationSet::new())).await;

    let reason = refused_reason(&gate, &intruder).await;
    assert!(reason.contains("signature does not verify"), "{reason}");

    // While banned, a fresh connection is turned away before admission.
    let mut events = gate.subscribe();
    let intruder_id = intruder.peer_id();
    intruder.dial(first_addr(&gate).await).await.expect("dial");
    let again = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == intruder_id),
    )
    .await;
    assert_eq!(again, MeshEvent::Refused(intruder_id, "banned".into()));
    assert!(
        !intruder
            .admitted_peers()
            .await
            .expect("running")
            .contains(&gate.peer_id())
    );

    gate.shutdown().await;
    intruder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_node_is_refused() {
    let fleet = Fleet::new("acme");
    let revoked_node = fleet.node();
    let revocations = fleet.revocation_set(&[fleet.revoke(&revoked_node)]);
    let gate = spawn(TCP, fleet.node(), fleet.admission(revocations)).await;
    let revoked = spawn(TCP, revoked_node, fleet.admission(RevocationSet::new())).await;

    let reason = refused_reason(&gate, &revoked).await;
    assert!(
        reason.contains("revoked") && reason.contains("key-compromise"),
        "{reason}"
    );

    gate.shutdown().await;
    revoked.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_presenting_another_nodes_credential_is_refused() {
    let fleet = Fleet::new("acme");
    let victim = fleet.node();
    // The thief has its own libp2p identity but sends the victim's credential and binding.
    let thief = Node {
        identity: Keypair::generate_ed25519(),
        ..victim
    };
    let gate = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let thief = spawn(TCP, thief, fleet.admission(RevocationSet::new())).await;

    let reason = refused_reason(&gate, &thief).await;
    assert!(reason.contains("another PeerId"), "{reason}");

    gate.shutdown().await;
    thief.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_that_never_presents_a_credential_is_disconnected() {
    use futures::StreamExt as _;
    use libp2p::swarm::{SwarmEvent, dummy};

    let fleet = Fleet::new("acme");
    let gate_config = MeshConfig {
        admission_timeout: Duration::from_secs(1),
        ..config(TCP)
    };
    let gate = spawn_with(
        gate_config,
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let mut events = gate.subscribe();

    // A real libp2p peer that speaks no Ward protocol and keeps its connection open.
    let mut silent = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("TCP transport")
        .with_behaviour(|_| dummy::Behaviour)
        .expect("dummy behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let silent_id = *silent.local_peer_id();
    silent.dial(first_addr(&gate).await).expect("dial");
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let driver = tokio::spawn(async move {
        let mut closed_tx = Some(closed_tx);
        loop {
            if let SwarmEvent::ConnectionClosed { .. } = silent.select_next_some().await
                && let Some(tx) = closed_tx.take()
            {
                let _ = tx.send(());
            }
        }
    });

    let refused = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) if *p == silent_id),
    )
    .await;
    assert_eq!(
        refused,
        MeshEvent::Refused(silent_id, "admission timed out".into())
    );
    tokio::time::timeout(EVENT_TIMEOUT, closed_rx)
        .await
        .expect("the gate closed the connection")
        .expect("driver running");
    assert!(gate.admitted_peers().await.expect("running").is_empty());

    driver.abort();
    gate.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admitted_node_revoked_later_is_disconnected_and_banned() {
    let fleet = Fleet::new("acme");
    let member = fleet.node();
    let gate = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let revocation = fleet.revoke(&member);
    let member = spawn(TCP, member, fleet.admission(RevocationSet::new())).await;
    let member_id = member.peer_id();

    let mut events = gate.subscribe();
    let mut member_events = member.subscribe();
    member.dial(first_addr(&gate).await).await.expect("dial");
    wait_admitted(&mut events, &[member_id]).await;
    wait_admitted(&mut member_events, &[gate.peer_id()]).await;

    gate.submit_revocation(revocation).await.expect("running");
    let refused = wait_for(
        &mut events,
        |e| matches!(e, MeshEvent::Refused(p, _) if *p == member_id),
    )
    .await;
    let MeshEvent::Refused(_, reason) = refused else {
        unreachable!("filtered on Refused");
    };
    assert!(reason.contains("revoked"), "{reason}");
    wait_for(&mut events, |e| *e == MeshEvent::Banned(member_id)).await;
    assert!(gate.admitted_peers().await.expect("running").is_empty());
    // The member sees its connection end.
    let gate_id = gate.peer_id();
    wait_for(&mut member_events, |e| {
        *e == MeshEvent::Disconnected(gate_id)
    })
    .await;

    gate.shutdown().await;
    member.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ban_is_lifted_after_its_duration() {
    let (ours, theirs) = (Fleet::new("acme"), Fleet::new("acme"));
    let gate = spawn_with(
        MeshConfig {
            ban_duration: Duration::from_secs(2),
            ..config(TCP)
        },
        ours.node(),
        ours.admission(RevocationSet::new()),
    )
    .await;
    let intruder = spawn(TCP, theirs.node(), theirs.admission(RevocationSet::new())).await;
    let intruder_id = intruder.peer_id();
    let first = refused_reason(&gate, &intruder).await;

    // Banned: turned away before admission. Then, once the ban is lifted, judged on its
    // credential again.
    let addr = first_addr(&gate).await;
    let mut events = gate.subscribe();
    let is_verdict = |e: &MeshEvent| matches!(e, MeshEvent::Refused(p, _) | MeshEvent::Admitted(p) if *p == intruder_id);
    intruder.dial(addr.clone()).await.expect("dial");
    let verdict = wait_for(&mut events, is_verdict).await;
    assert_eq!(verdict, MeshEvent::Refused(intruder_id, "banned".into()));
    wait_for(&mut events, |e| *e == MeshEvent::BanLifted(intruder_id)).await;
    intruder.dial(addr).await.expect("dial");
    let verdict = wait_for(&mut events, is_verdict).await;
    assert_eq!(verdict, MeshEvent::Refused(intruder_id, first));

    gate.shutdown().await;
    intruder.shutdown().await;
}
