//! A fleet and its nodes for mesh tests: the PKI is made with the `ward` command as an
//! operator would make it, and every node is a real libp2p swarm with a real redb store.
//!
//! Every wait is on a mesh event or a status poll with a timeout; nothing sleeps to let
//! things happen.

use std::collections::HashSet;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::broadcast;
use ward_crypto::{
    Credential, FleetRoot, Revocation, RevocationReason, RevocationSet, RevocationStatement,
    RevocationTarget, SecretKey, Serial,
};
use ward_node::mesh::{Admission, AdmissionMessage, Mesh, MeshConfig, MeshEvent, MeshHandle};
use ward_node::store::MeshStore;

use crate::ward;

/// Long enough for a loaded two-core machine, short enough to fail fast.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Listen on a free loopback TCP port.
pub const TCP: &str = "/ip4/127.0.0.1/tcp/0";
/// Listen on a free loopback UDP port with QUIC.
pub const QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

/// Seconds since the UNIX epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Runs `ward ARGS...` in `dir` and returns its stdout; fails the test if it fails.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let outcome = ward(dir, args);
    assert_eq!(outcome.code, 0, "ward {args:?}: {}", outcome.stderr);
    outcome.stdout
}

/// A fleet with one site, `site-a`, made with `ward fleet init` and `ward site init`.
#[derive(Debug)]
pub struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    /// A new fleet named `name`, in a fresh temporary directory.
    pub fn new(name: &str) -> Fleet {
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

    /// The fleet's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Reads a credential file of the fleet's directory.
    pub fn read_credential(&self, file: &str) -> Credential {
        Credential::decode(&fs::read(self.dir.path().join(file)).expect("file written"))
            .expect("a Ward credential")
    }

    /// The admission policy of a node of this fleet, enforcing `revocations`.
    pub fn admission(&self, revocations: RevocationSet) -> Admission {
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

    /// A node identity and its credential, issued with `ward cert issue --role node`, and a
    /// path for its store.
    pub fn node(&self) -> Node {
        self.node_of("site-a")
    }

    /// Adds a site to the fleet with `ward site init`; its bundle is the directory `name`.
    pub fn add_site(&self, name: &str) {
        run(
            self.dir.path(),
            &[
                "site",
                "init",
                "--name",
                name,
                "--fleet",
                "./fleet",
                "--dir",
                &format!("./{name}"),
            ],
        );
    }

    /// A node of `site`, a site of this fleet, as [`Fleet::node`] makes one of `site-a`. The
    /// message of a node of another site brings its site CA, so that nodes trusting only
    /// `site-a` admit it.
    pub fn node_of(&self, site: &str) -> Node {
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
                &format!("./{site}"),
                "--out",
                &prefix,
            ],
        );
        let credential = self.read_credential(&format!("node-{peer}.cwt"));
        let key = SecretKey::from_cose_key_bytes(
            &fs::read(self.dir.path().join(format!("node-{peer}.key"))).expect("key written"),
        )
        .expect("a Ward key file");
        let mut message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        if site != "site-a" {
            message = message.with_site_ca(&self.read_credential(&format!("{site}/site-ca.cwt")));
        }
        Node {
            identity,
            message,
            cred_file: format!("./node-{peer}.cwt"),
            store: self.dir.path().join(format!("node-{peer}.redb")),
        }
    }

    /// Signs a revocation of `node`'s credential with `ward revoke`, by the site CA.
    pub fn revoke(&self, node: &Node) -> Revocation {
        self.revoke_file(&node.cred_file)
    }

    /// Signs a revocation of the credential in `cred_file` with `ward revoke`.
    pub fn revoke_file(&self, cred_file: &str) -> Revocation {
        let out = format!("./revocation-{}.rev", now_nanos());
        run(
            self.dir.path(),
            &[
                "revoke",
                "--ca",
                "./site-a",
                "--cert",
                cred_file,
                "--reason",
                "key-compromise",
                "--out",
                &out,
            ],
        );
        Revocation::decode(&fs::read(self.dir.path().join(&out[2..])).expect("written"))
            .expect("a revocation")
    }

    /// `count` revocations of random serials, signed by the site CA directly (thousands of
    /// `ward revoke` runs would measure the command, not the mesh).
    pub fn bulk_revocations(&self, count: usize) -> Vec<Revocation> {
        let key = SecretKey::from_cose_key_bytes(
            &fs::read(self.dir.path().join("site-a/site-ca.key")).expect("site CA key"),
        )
        .expect("a Ward key file");
        let issuer = self
            .read_credential("site-a/site-ca.cwt")
            .claims()
            .subject
            .clone();
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        (0..count)
            .map(|_| {
                let statement = RevocationStatement {
                    issuer: issuer.clone(),
                    target: RevocationTarget::Serial(Serial::random(&mut rng)),
                    reason: RevocationReason::KeyCompromise,
                    revoked_at: now(),
                };
                Revocation::sign(statement, &key)
            })
            .collect()
    }

    /// `revocations`, verified against this fleet, as a set.
    pub fn revocation_set(&self, revocations: &[Revocation]) -> RevocationSet {
        let admission = self.admission(RevocationSet::new());
        let mut set = RevocationSet::new();
        for revocation in revocations {
            set.insert(
                admission
                    .verify_revocation(revocation.clone())
                    .expect("genuine"),
            );
        }
        set
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

/// What a node starts from: its identity, its admission message and its store's path.
#[derive(Clone, Debug)]
pub struct Node {
    /// The libp2p identity.
    pub identity: Keypair,
    /// What it presents to peers.
    pub message: AdmissionMessage,
    /// Its credential file, relative to the fleet's directory.
    pub cred_file: String,
    /// Its redb store.
    pub store: PathBuf,
}

/// A mesh configuration listening on `listen`, with test-friendly timers.
pub fn config(listen: &str) -> MeshConfig {
    MeshConfig {
        listen: vec![listen.parse().expect("valid multiaddr")],
        ban_duration: Duration::from_secs(60),
        admission_timeout: Duration::from_secs(10),
        ..MeshConfig::default()
    }
}

/// Starts `node` with `config` and `admission`, on its store.
pub async fn spawn_with(config: MeshConfig, node: Node, admission: Admission) -> MeshHandle {
    let store = MeshStore::open(&node.store).expect("store opens");
    Mesh::spawn(config, node.identity, node.message, admission, store)
        .await
        .expect("mesh starts")
}

/// Starts `node` listening on `listen`.
pub async fn spawn(listen: &str, node: Node, admission: Admission) -> MeshHandle {
    spawn_with(config(listen), node, admission).await
}

/// The first address `mesh` listens on.
pub async fn first_addr(mesh: &MeshHandle) -> Multiaddr {
    let addrs = mesh.listen_addrs().await.expect("mesh running");
    addrs.into_iter().next().expect("one listen address")
}

/// Waits for the first event `want` accepts; fails on timeout.
pub async fn wait_for(
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

/// Waits until every one of `peers` has been admitted.
pub async fn wait_admitted(events: &mut broadcast::Receiver<MeshEvent>, peers: &[PeerId]) {
    let mut missing: HashSet<PeerId> = peers.iter().copied().collect();
    while !missing.is_empty() {
        if let MeshEvent::Admitted(peer) =
            wait_for(events, |e| matches!(e, MeshEvent::Admitted(_))).await
        {
            missing.remove(&peer);
        }
    }
}

/// Polls `check` every 20 ms until it holds; fails after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Many nodes of one fleet, connected by their own dials.
#[derive(Debug)]
pub struct Cluster {
    /// The running nodes.
    pub nodes: Vec<MeshHandle>,
}

impl Cluster {
    /// Starts `count` nodes of `fleet` with `config`, none connected yet.
    pub async fn start(fleet: &Fleet, count: usize, config: &MeshConfig) -> Cluster {
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            let admission = fleet.admission(RevocationSet::new());
            nodes.push(spawn_with(config.clone(), fleet.node(), admission).await);
        }
        Cluster { nodes }
    }

    /// Connects node `i` to nodes `i - 1`, `i / 2` and `(7 i + 3) mod i` within `range`:
    /// a connected graph with a few paths between any two nodes and no hub. Returns once
    /// every node has at least one peer in its revocation gossip mesh.
    pub async fn connect(&self, range: Range<usize>) {
        let mut addrs = Vec::new();
        for node in &self.nodes[range.clone()] {
            addrs.push(first_addr(node).await);
        }
        for i in 1..range.len() {
            let mut targets = vec![i - 1, i / 2, (7 * i + 3) % i];
            targets.sort_unstable();
            targets.dedup();
            for j in targets {
                self.nodes[range.start + i]
                    .dial(addrs[j].clone())
                    .await
                    .expect("dial");
            }
        }
        // Every node has as many peers in its revocation mesh as it has admitted, up to
        // two: the mesh is whole, not just begun.
        for node in &self.nodes[range] {
            eventually(EVENT_TIMEOUT, "gossip mesh formed", || async {
                let status = node.status().await.expect("running");
                status.gossip_peers >= status.admitted_peers.len().clamp(1, 2)
            })
            .await;
        }
    }

    /// Connects every pair of nodes directly, and returns once each node has admitted all
    /// the others: for protocols that talk to every member rather than over gossip's hops,
    /// such as the site registry's Raft.
    pub async fn connect_all(&self) {
        let mut addrs = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            addrs.push(first_addr(node).await);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            for addr in &addrs[..i] {
                node.dial(addr.clone()).await.expect("dial");
            }
        }
        let others = self.nodes.len().saturating_sub(1);
        for node in &self.nodes {
            eventually(EVENT_TIMEOUT, "every other node admitted", || async {
                node.admitted_peers().await.expect("running").len() == others
            })
            .await;
        }
    }

    /// Submits `revocation` at node `origin` and returns, for every node, how long after
    /// the submission it enforced the revocation.
    pub async fn propagate(&self, origin: usize, revocation: Revocation) -> Vec<Duration> {
        let mut waiting = tokio::task::JoinSet::new();
        let start = tokio::time::Instant::now();
        for node in &self.nodes {
            let mut events = node.subscribe();
            waiting.spawn(async move {
                wait_for(&mut events, |e| {
                    matches!(e, MeshEvent::RevocationApplied { .. })
                })
                .await;
                start.elapsed()
            });
        }
        let submitted = self.nodes[origin]
            .submit_revocation(revocation)
            .await
            .expect("running");
        assert_eq!(submitted, ward_node::mesh::Submitted::Applied);
        let mut delays = Vec::with_capacity(self.nodes.len());
        while let Some(delay) = waiting.join_next().await {
            delays.push(delay.expect("waiter"));
        }
        delays.sort_unstable();
        delays
    }

    /// Stops every node.
    pub async fn shutdown(self) {
        for node in self.nodes {
            node.shutdown().await;
        }
    }
}
