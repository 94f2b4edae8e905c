//! The site registry over the mesh: replicas on real libp2p nodes in one process, each on its
//! own redb file, sending Raft's messages over `/ward/registry/1` between admitted peers.
//!
//! Every wait is a poll of Raft's state or a mesh event with a timeout; no test sleeps to let
//! things happen.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::request_response::{self, OutboundFailure, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use ward_consensus::registry::SECRET_HASH_LEN;
use ward_consensus::transport::{
    RaftReply, RaftRequest, RegistryTransport as _, TransportError, encode_request,
};
use ward_consensus::{RegistryCommand, RegistryResponse, Replica, ReplicaConfig, TokenRole};
use ward_crypto::RevocationSet;
use ward_node::mesh::registry::RegistryCodec;
use ward_node::mesh::{
    MeshConfig, MeshEvent, MeshHandle, MeshRegistryTransport, REGISTRY_PROTOCOL, raft_node_id,
    registry_member,
};
use ward_tests::mesh::{
    Cluster, EVENT_TIMEOUT, Fleet, TCP, config, eventually, first_addr, now, spawn, spawn_with,
    wait_for,
};

/// Long enough for Raft over real sockets on a loaded two-core machine.
const WAIT: Duration = Duration::from_secs(10);

/// How long a site may be without a leader after losing it.
const FAILOVER: Duration = Duration::from_secs(3);

type MeshReplica = Replica<MeshRegistryTransport>;

/// Starts the replica of `mesh`'s node on a database in `dir`, and attaches it to the mesh.
async fn start_replica(mesh: &MeshHandle, dir: &Path) -> MeshReplica {
    let transport = MeshRegistryTransport::new(mesh);
    let id = raft_node_id(&mesh.peer_id());
    assert_eq!(transport.node_id(), id);
    let path = dir.join(format!("registry-{id}.redb"));
    let replica = Replica::start(id, &path, &ReplicaConfig::default(), transport)
        .await
        .expect("replica starts");
    mesh.serve_registry(replica.clone())
        .await
        .expect("mesh running");
    replica
}

/// The leader that every one of `replicas` agrees on and that is among them.
async fn leader_within(replicas: &[MeshReplica], timeout: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let leaders: Vec<Option<u64>> = replicas.iter().map(Replica::leader).collect();
        if let Some(Some(leader)) = leaders.first()
            && leaders.iter().all(|l| *l == Some(*leader))
            && replicas.iter().any(|r| r.id() == *leader)
        {
            return *leader;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader within {timeout:?}: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until every one of `replicas` has applied what the leader has.
async fn settled(replicas: &[MeshReplica]) {
    let leader = leader_within(replicas, WAIT).await;
    let leader = replicas
        .iter()
        .find(|r| r.id() == leader)
        .expect("leader among them");
    let index = leader
        .applied_index()
        .expect("leader's applied index")
        .unwrap_or(0);
    for replica in replicas {
        replica
            .wait_for_applied(index, WAIT)
            .await
            .expect("replica catches up");
    }
}

fn create(token: &str) -> RegistryCommand {
    RegistryCommand::CreateJoinToken {
        id: token.as_bytes().to_vec(),
        secret_hash: vec![7; SECRET_HASH_LEN],
        role: TokenRole::Camera,
        expires_at: now() + 3600,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_keep_the_registry_over_the_mesh_through_the_loss_of_their_leader() {
    let fleet = Fleet::new("acme");
    let mut cluster = Cluster::start(&fleet, 3, &config(TCP)).await;
    cluster.connect_all().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut replicas = Vec::new();
    let mut members = BTreeMap::new();
    for mesh in &cluster.nodes {
        let replica = start_replica(mesh, dir.path()).await;
        let addr = first_addr(mesh).await;
        members.insert(replica.id(), registry_member(&mesh.peer_id(), Some(&addr)));
        replicas.push(replica);
    }
    replicas[0]
        .initialize(members)
        .await
        .expect("first node initialises the site");
    let leader = leader_within(&replicas, WAIT).await;

    // Written at a follower, so every write is forwarded to the leader over the mesh; then
    // at every node in turn.
    let follower = replicas
        .iter()
        .position(|r| r.id() != leader)
        .expect("a follower");
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        let token = format!("token-{i}");
        let response = replicas[follower]
            .write(create(&token))
            .await
            .expect("written through the leader");
        assert_eq!(response, RegistryResponse::JoinTokenCreated);
        acknowledged.push(token);
    }
    for i in 10..16 {
        let token = format!("token-{i}");
        let response = replicas[i % replicas.len()]
            .write(create(&token))
            .await
            .expect("written");
        assert_eq!(response, RegistryResponse::JoinTokenCreated);
        acknowledged.push(token);
    }
    settled(&replicas).await;
    for replica in &replicas {
        for token in &acknowledged {
            assert!(
                replica
                    .join_token(token.as_bytes())
                    .expect("read")
                    .is_some(),
                "node {} did not apply {token}",
                replica.id()
            );
        }
    }

    // Kill the leader: its mesh node, then its replica.
    let old_leader = leader_within(&replicas, WAIT).await;
    let at = replicas
        .iter()
        .position(|r| r.id() == old_leader)
        .expect("leader among the replicas");
    let killed = tokio::time::Instant::now();
    cluster.nodes.remove(at).shutdown().await;
    let dead = replicas.remove(at);
    // The election runs while the dead replica releases its database.
    let (stopped, new_leader) = tokio::join!(
        dead.shutdown(),
        leader_within(&replicas, FAILOVER.saturating_sub(killed.elapsed())),
    );
    stopped.expect("replica stops and releases its database");
    assert_ne!(new_leader, old_leader);
    eprintln!(
        "leader {old_leader:x} killed, {new_leader:x} leads after {:?}",
        killed.elapsed()
    );

    // The survivors still take writes, and hold every acknowledged one.
    let response = replicas[1]
        .write(create("after-failover"))
        .await
        .expect("written after the failover");
    assert_eq!(response, RegistryResponse::JoinTokenCreated);
    acknowledged.push("after-failover".into());
    settled(&replicas).await;
    for replica in &replicas {
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

    cluster.shutdown().await;
    for replica in replicas {
        replica.shutdown().await.expect("replica stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_not_admitted_gets_no_answer_and_reaches_no_replica() {
    let fleet = Fleet::new("acme");
    let gate = spawn_with(
        MeshConfig {
            admission_timeout: Duration::from_secs(5),
            ..config(TCP)
        },
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let replica = start_replica(&gate, dir.path()).await;
    let members = BTreeMap::from([(replica.id(), registry_member(&gate.peer_id(), None))]);
    replica.initialize(members).await.expect("site initialised");
    leader_within(std::slice::from_ref(&replica), WAIT).await;

    // An admitted member is answered: the gate serves the protocol.
    let member = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let mut events = member.subscribe();
    member.dial(first_addr(&gate).await).await.expect("dial");
    // The dialer admits the gate last, on the gate's answer to its own admission.
    let gate_id = gate.peer_id();
    wait_for(&mut events, |e| *e == MeshEvent::Admitted(gate_id)).await;
    let gate_node = registry_member(&gate_id, None);
    let reply = MeshRegistryTransport::new(&member)
        .send(replica.id(), &gate_node, RaftRequest::Probe)
        .await
        .expect("an admitted member is answered");
    assert!(matches!(reply, RaftReply::Probe(_)), "{reply:?}");
    let applied = replica.applied_index().expect("applied index");

    // An outsider that speaks the registry protocol but never presents a credential asks
    // the gate, the site's leader, to create a join token.
    let mut outsider = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("TCP transport")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RegistryCodec,
                [(REGISTRY_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .expect("registry behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let outsider_id = *outsider.local_peer_id();
    let request = encode_request(&RaftRequest::Write(create("intruder"))).expect("encodes");
    outsider.dial(first_addr(&gate).await).expect("dial");
    let (connected_tx, connected_rx) = tokio::sync::oneshot::channel();
    let exchange = tokio::spawn(async move {
        let mut connected_tx = Some(connected_tx);
        loop {
            match outsider.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    outsider
                        .behaviour_mut()
                        .send_request(&peer_id, request.clone());
                    if let Some(tx) = connected_tx.take() {
                        let _ = tx.send(());
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::Message { .. }) => {
                    return Err("the gate answered an outsider");
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => return Ok((error, outsider)),
                _ => {}
            }
        }
    });
    tokio::time::timeout(EVENT_TIMEOUT, connected_rx)
        .await
        .expect("outsider connected")
        .expect("exchange running");

    // Nor does the gate send registry traffic to the outsider while it is connected.
    let outsider_node = registry_member(&outsider_id, None);
    let sent = MeshRegistryTransport::new(&gate)
        .send(
            raft_node_id(&outsider_id),
            &outsider_node,
            RaftRequest::Probe,
        )
        .await;
    assert!(
        matches!(sent, Err(TransportError::Unreachable(_))),
        "registry request to a peer not admitted: {sent:?}"
    );

    let (error, outsider) = tokio::time::timeout(EVENT_TIMEOUT, exchange)
        .await
        .expect("the outsider's request ends within the timeout")
        .expect("exchange task")
        .expect("no answer");
    // The stream was accepted and closed unanswered: the gate speaks the protocol, and
    // dropped the request rather than failing to hear it.
    assert!(
        !matches!(
            error,
            OutboundFailure::DialFailure | OutboundFailure::UnsupportedProtocols
        ),
        "{error:?}"
    );
    drop(outsider);

    // Nothing reached the replica: no token, no entry applied.
    assert!(
        replica.join_token(b"intruder").expect("read").is_none(),
        "the outsider's write was applied"
    );
    assert_eq!(replica.applied_index().expect("applied index"), applied);
    assert!(
        !gate
            .admitted_peers()
            .await
            .expect("running")
            .contains(&outsider_id)
    );

    member.shutdown().await;
    gate.shutdown().await;
    replica.shutdown().await.expect("replica stops");
}

/// Nodes of two sites of one fleet admit each other for gossip, but a site's registry is its
/// own: no Raft message goes either way between them. Within a site, a node may ask to be
/// added as a learner, but only as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_nodes_of_the_site_take_part_in_its_registry_and_each_adds_only_itself() {
    let fleet = Fleet::new("acme");
    fleet.add_site("site-b");
    let gate = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let replica = start_replica(&gate, dir.path()).await;
    let gate_id = gate.peer_id();
    let members = BTreeMap::from([(replica.id(), registry_member(&gate_id, None))]);
    replica.initialize(members).await.expect("site initialised");
    leader_within(std::slice::from_ref(&replica), WAIT).await;
    let gate_node = registry_member(&gate_id, None);

    // A node of the other site: admitted both ways, and still no registry traffic.
    let stranger = spawn(
        TCP,
        fleet.node_of("site-b"),
        fleet.admission(RevocationSet::new()),
    )
    .await;
    let stranger_id = stranger.peer_id();
    let mut events = stranger.subscribe();
    stranger.dial(first_addr(&gate).await).await.expect("dial");
    wait_for(&mut events, |e| *e == MeshEvent::Admitted(gate_id)).await;
    eventually(WAIT, "the gate admits the node of site-b", || async {
        gate.admitted_peers()
            .await
            .expect("running")
            .contains(&stranger_id)
    })
    .await;
    let asked = MeshRegistryTransport::new(&stranger)
        .send(
            replica.id(),
            &gate_node,
            RaftRequest::AddLearner(
                raft_node_id(&stranger_id),
                registry_member(&stranger_id, None),
            ),
        )
        .await;
    assert!(
        matches!(asked, Err(TransportError::Unreachable(_))),
        "a node of another site reached the registry: {asked:?}"
    );
    let sent = MeshRegistryTransport::new(&gate)
        .send(
            raft_node_id(&stranger_id),
            &registry_member(&stranger_id, None),
            RaftRequest::Probe,
        )
        .await;
    assert!(
        matches!(sent, Err(TransportError::Unreachable(_))),
        "registry traffic to a node of another site: {sent:?}"
    );

    // A node of the site, admitted, asks to add someone else: dropped unanswered.
    let member = spawn(TCP, fleet.node(), fleet.admission(RevocationSet::new())).await;
    let member_id = member.peer_id();
    let mut events = member.subscribe();
    member.dial(first_addr(&gate).await).await.expect("dial");
    wait_for(&mut events, |e| *e == MeshEvent::Admitted(gate_id)).await;
    let transport = MeshRegistryTransport::new(&member);
    let someone_else = RaftRequest::AddLearner(
        raft_node_id(&stranger_id),
        registry_member(&stranger_id, None),
    );
    let reply = transport.send(replica.id(), &gate_node, someone_else).await;
    assert!(reply.is_err(), "a node added another: {reply:?}");
    let its_id_at_another_address = RaftRequest::AddLearner(
        raft_node_id(&member_id),
        registry_member(&stranger_id, None),
    );
    let reply = transport
        .send(replica.id(), &gate_node, its_id_at_another_address)
        .await;
    assert!(
        reply.is_err(),
        "a node added itself under another PeerId: {reply:?}"
    );
    let learners = |replica: &MeshReplica| -> Vec<u64> {
        replica
            .metrics()
            .membership_config
            .nodes()
            .map(|(id, _)| *id)
            .collect()
    };
    assert_eq!(learners(&replica), vec![replica.id()], "membership changed");

    // As itself, it is added.
    let reply = transport
        .send(
            replica.id(),
            &gate_node,
            RaftRequest::AddLearner(raft_node_id(&member_id), registry_member(&member_id, None)),
        )
        .await
        .expect("a node of the site is answered");
    assert!(matches!(reply, RaftReply::Write(Ok(_))), "{reply:?}");
    let mut members = learners(&replica);
    members.sort_unstable();
    let mut expected = vec![replica.id(), raft_node_id(&member_id)];
    expected.sort_unstable();
    assert_eq!(members, expected);

    stranger.shutdown().await;
    member.shutdown().await;
    gate.shutdown().await;
    replica.shutdown().await.expect("replica stops");
}
