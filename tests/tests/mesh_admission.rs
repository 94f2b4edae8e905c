//! Mesh admission over real sockets: several nodes in one process, each a real libp2p swarm,
//! with a PKI made by the `ward` command as an operator would make it.
//!
//! Every wait is on a mesh event with a timeout; no test sleeps to let things happen.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::broadcast;
use ward_crypto::{Credential, FleetRoot, Revocation, RevocationSet, SecretKey};
use ward_node::mesh::{Admission, AdmissionMessage, Mesh, MeshConfig, MeshEvent, MeshHandle};
use ward_tests::ward;

/// Long enough for a loaded two-core machine, short enough to fail fast.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

const TCP: &str = "/ip4/127.0.0.1/tcp/0";
const QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn run(dir: &Path, args: &[&str]) -> String {
    let outcome = ward(dir, args);
    assert_eq!(outcome.code, 0, "ward {args:?}: {}", outcome.stderr);
    outcome.stdout
}

/// A fleet with one site, made with `ward fleet init` and `ward site init` under `dir/name`.
struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new(name: &str) -> Fleet {
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            dir.path(),
            &["fleet", "init", "--name", name, "--dir", "./fleet"],
        );
        run(
            dir.path(),
            &[
                "site", "init", "--name", "site-a", "--fleet", "./fleet", "--dir", "./site-a",
            ],
        );
        Fleet { dir }
    }

    fn read_credential(&self, file: &str) -> Credential {
        Credential::decode(&fs::read(self.dir.path().join(file)).expect("file written"))
            .expect("a Ward credential")
    }

    fn admission(&self, revocations: RevocationSet) -> Admission {
        let root = FleetRoot::new(self.read_credential("fleet/fleet-root.cwt")).expect("anchor");
        let site_ca = root
            .validate_site_ca(
                &self.read_credential("site-a/site-ca.cwt"),
                now(),
                &revocations,
            )
            .expect("site CA chains to the root");
        Admission::new(root, vec![site_ca]).with_revocations(revocations)
    }

    /// A node identity and its credential, issued with `ward cert issue --role node`.
    fn node(&self) -> Node {
        let identity = Keypair::generate_ed25519();
        let peer = identity.public().to_peer_id();
        let prefix = format!("./node-{peer}");
        let subject = peer.to_base58();
        run(
            self.dir.path(),
            &[
                "cert",
                "issue",
                "--role",
                "node",
                "--subject",
                &subject,
                "--ca",
                "./site-a",
                "--out",
                &prefix,
            ],
        );
        let credential = self.read_credential(&format!("node-{peer}.cwt"));
        let key = SecretKey::from_cose_key_bytes(
            &fs::read(self.dir.path().join(format!("node-{peer}.key"))).expect("key written"),
        )
        .expect("a Ward key file");
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        Node {
            identity,
            message,
            cred_file: format!("./node-{peer}.cwt"),
        }
    }

    /// Revokes a node's credential with `ward revoke` and returns the verified revocation.
    fn revoke(&self, node: &Node) -> RevocationSet {
        run(
            self.dir.path(),
            &[
                "revoke",
                "--ca",
                "./site-a",
                "--cert",
                &node.cred_file,
                "--reason",
                "key-compromise",
                "--out",
                "./node.rev",
            ],
        );
        let revocation =
            Revocation::decode(&fs::read(self.dir.path().join("node.rev")).expect("written"))
                .expect("a revocation");
        let root = FleetRoot::new(self.read_credential("fleet/fleet-root.cwt")).expect("anchor");
        let site_ca = root
            .validate_site_ca(
                &self.read_credential("site-a/site-ca.cwt"),
                now(),
                &RevocationSet::new(),
            )
            .expect("site CA");
        let mut set = RevocationSet::new();
        set.insert(revocation.verify(&root, Some(&site_ca)).expect("genuine"));
        set
    }
}

struct Node {
    identity: Keypair,
    message: AdmissionMessage,
    cred_file: String,
}

fn config(listen: &str) -> MeshConfig {
    MeshConfig {
        listen: vec![listen.parse().expect("valid multiaddr")],
        ban_duration: Duration::from_secs(60),
        admission_timeout: Duration::from_secs(10),
        ..MeshConfig::default()
    }
}

async fn spawn(listen: &str, node: Node, admission: Admission) -> MeshHandle {
    Mesh::spawn(config(listen), node.identity, node.message, admission)
        .await
        .expect("mesh starts")
}

async fn first_addr(mesh: &MeshHandle) -> Multiaddr {
    let addrs = mesh.listen_addrs().await.expect("mesh running");
    addrs.into_iter().next().expect("one listen address")
}

/// Waits for the first event `want` accepts; fails on timeout.
async fn wait_for(
    events: &mut broadcast::Receiver<MeshEvent>,
    mut want: impl FnMut(&MeshEvent) -> bool,
) -> MeshEvent {
    tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match events.recv().await {
                Ok(event) if want(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("mesh stopped"),
            }
        }
    })
    .await
    .expect("event within the timeout")
}

async fn wait_admitted(events: &mut broadcast::Receiver<MeshEvent>, peers: &[PeerId]) {
    let mut missing: HashSet<PeerId> = peers.iter().copied().collect();
    while !missing.is_empty() {
        if let MeshEvent::Admitted(peer) =
            wait_for(events, |e| matches!(e, MeshEvent::Admitted(_))).await
        {
            missing.remove(&peer);
        }
    }
}

async fn three_nodes_admit_each_other(listen: &str) {
    let fleet = Fleet::new("acme");
    let meshes = [
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
        spawn(listen, fleet.node(), fleet.admission(RevocationSet::new())).await,
    ];
    let ids: Vec<PeerId> = meshes.iter().map(MeshHandle::peer_id).collect();
    let mut events: Vec<_> = meshes.iter().map(MeshHandle::subscribe).collect();

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
    let revocations = fleet.revoke(&revoked_node);
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
        message: victim.message.clone(),
        cred_file: victim.cred_file.clone(),
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
    let gate_node = fleet.node();
    let gate = Mesh::spawn(
        gate_config,
        gate_node.identity,
        gate_node.message,
        fleet.admission(RevocationSet::new()),
    )
    .await
    .expect("mesh starts");
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
    let revocations = fleet.revoke(&member);
    let member = spawn(TCP, member, fleet.admission(RevocationSet::new())).await;
    let member_id = member.peer_id();

    let mut events = gate.subscribe();
    let mut member_events = member.subscribe();
    member.dial(first_addr(&gate).await).await.expect("dial");
    wait_admitted(&mut events, &[member_id]).await;
    wait_admitted(&mut member_events, &[gate.peer_id()]).await;

    gate.set_revocations(revocations).await.expect("running");
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
    let gate_node = ours.node();
    let gate = Mesh::spawn(
        MeshConfig {
            ban_duration: Duration::from_secs(2),
            ..config(TCP)
        },
        gate_node.identity,
        gate_node.message,
        ours.admission(RevocationSet::new()),
    )
    .await
    .expect("mesh starts");
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
