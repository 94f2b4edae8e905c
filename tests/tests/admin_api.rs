//! The admin API over real HTTP: a node (a real libp2p mesh over a real store) in the test
//! process, its admin API on a loopback port, and requests made with the few lines of
//! HTTP/1.1 below, so the server is held to the protocol rather than to the client Ward
//! ships. `ward status`, `ward revoke --submit` and `ward join-token create` then run against
//! the same node.
//!
//! The PKI is made with the `ward` command, as an operator would make it.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::PeerId;
use libp2p::identity::Keypair;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ward_consensus::{RegistryCommand, RegistryResponse, Replica, ReplicaConfig, TokenRole};
use ward_crypto::revocation::MAX_REVOCATION_LEN;
use ward_crypto::{Credential, FleetRoot, RevocationSet, SecretKey};
use ward_node::admin::{self, AdminToken};
use ward_node::mesh::{
    Admission, AdmissionMessage, Mesh, MeshConfig, MeshHandle, MeshRegistryTransport, raft_node_id,
    registry_member,
};
use ward_node::site::SiteRegistry;
use ward_node::store::MeshStore;
use ward_tests::{Outcome, ward};

/// The admin token of the nodes that require one: 38 bytes, above the 32-byte minimum.
const TOKEN: &str = "test-admin-token-0123456789abcdefghijk";

/// How long a raw HTTP exchange may take before the test fails instead of hanging.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

const REVOCATION_TYPE: &str = "application/ward-revocation+cbor";

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

/// A fleet named `name` with one site, `site-a`, made by `ward fleet init` and `ward site
/// init` in a temporary directory.
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

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn credential(&self, file: &str) -> Credential {
        Credential::decode(&fs::read(self.path(file)).expect("file written"))
            .expect("a Ward credential")
    }

    /// The admission policy of a node of this fleet: its root and its one site CA.
    fn admission(&self) -> Admission {
        let root = FleetRoot::new(self.credential("fleet/fleet-root.cwt")).expect("anchor");
        let site_ca = root
            .validate_site_ca(
                &self.credential("site-a/site-ca.cwt"),
                now(),
                &RevocationSet::new(),
            )
            .expect("site CA chains to the root");
        Admission::new(root, vec![site_ca])
    }

    /// A node identity and what it presents to peers, issued by `ward cert issue`.
    fn node_identity(&self) -> (Keypair, AdmissionMessage) {
        let identity = Keypair::generate_ed25519();
        let peer = identity.public().to_peer_id();
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
                "./node",
            ],
        );
        let credential = self.credential("node.cwt");
        let key = SecretKey::from_cose_key_bytes(&fs::read(self.path("node.key")).expect("key"))
            .expect("a Ward key file");
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        (identity, message)
    }

    /// Signs a revocation of `serial` with the authority in `ca` (a directory of this fleet)
    /// using `ward revoke`, and returns the file's bytes.
    fn revoke(&self, ca: &str, serial: &str, out: &str) -> Vec<u8> {
        run(
            self.dir.path(),
            &[
                "revoke",
                "--ca",
                ca,
                "--serial",
                serial,
                "--reason",
                "key-compromise",
                "--out",
                out,
            ],
        );
        fs::read(self.path(out.trim_start_matches("./"))).expect("revocation written")
    }
}

/// A running node: its mesh and its admin API, on a runtime of their own so that the test
/// thread can make blocking HTTP requests and run the `ward` command, which builds its own
/// runtime.
struct Node {
    runtime: Runtime,
    addr: SocketAddr,
    peer_id: PeerId,
    mesh: Option<MeshHandle>,
    replica: Option<Replica<MeshRegistryTransport>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
    _data: tempfile::TempDir,
}

impl Node {
    fn start(fleet: &Fleet, token: Option<AdminToken>) -> Node {
        Node::start_with(fleet, token, false)
    }

    /// A node that is also the one voter of its site's registry, as `ward run` makes the
    /// first node of a site.
    fn start_first_of_site(fleet: &Fleet) -> Node {
        Node::start_with(fleet, None, true)
    }

    fn start_with(fleet: &Fleet, token: Option<AdminToken>, registry: bool) -> Node {
        let runtime = Runtime::new().expect("tokio runtime");
        let data = tempfile::tempdir().expect("temp dir");
        let store = MeshStore::open(data.path().join("ward.redb")).expect("store opens");
        let (identity, message) = fleet.node_identity();
        let config = MeshConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
            ..MeshConfig::default()
        };
        let (mesh, listener) = runtime.block_on(async {
            let mesh = Mesh::spawn(config, identity, message, fleet.admission(), store)
                .await
                .expect("mesh starts");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the admin port");
            (mesh, listener)
        });
        let addr = listener.local_addr().expect("admin address");
        let replica = registry.then(|| {
            runtime.block_on(async {
                let client = mesh.client();
                let id = raft_node_id(&mesh.peer_id());
                let replica = Replica::start(
                    id,
                    &data.path().join("registry.redb"),
                    &ReplicaConfig::default(),
                    MeshRegistryTransport::new(&client),
                )
                .await
                .expect("replica starts");
                client
                    .serve_registry(replica.clone())
                    .await
                    .expect("served");
                let member = registry_member(&mesh.peer_id(), None);
                replica
                    .initialize([(id, member)].into_iter().collect())
                    .await
                    .expect("a one-voter site");
                replica
                    .wait_for_applied(1, Duration::from_secs(10))
                    .await
                    .expect("leads its site");
                replica
            })
        });
        let mut services = admin::Services::mesh_only(mesh.client());
        services.site = replica
            .clone()
            .map(|r| std::sync::Arc::new(r) as std::sync::Arc<dyn SiteRegistry>);
        let (stop, stopping) = oneshot::channel::<()>();
        let server = runtime.spawn(admin::serve(listener, services, token, async {
            let _ = stopping.await;
        }));
        Node {
            addr,
            peer_id: mesh.peer_id(),
            mesh: Some(mesh),
            replica,
            stop: Some(stop),
            server: Some(server),
            runtime,
            _data: data,
        }
    }

    fn admin(&self) -> String {
        self.addr.to_string()
    }

    /// Asks the admin API to stop and returns what `serve` returned.
    fn stop(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = match self.server.take() {
            Some(server) => self
                .runtime
                .block_on(async { tokio::time::timeout(HTTP_TIMEOUT, server).await })
                .expect("the admin API stops in time")
                .expect("the admin API task did not panic"),
            None => Ok(()),
        };
        if let Some(mesh) = self.mesh.take() {
            self.runtime.block_on(mesh.shutdown());
        }
        if let Some(replica) = self.replica.take() {
            self.runtime
                .block_on(replica.shutdown())
                .expect("the replica releases its database");
        }
        served
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A failed test still stops its node; the result no longer matters then.
        let _ = self.stop();
    }
}

/// An HTTP response, as read off the socket.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The `error` of a JSON error body.
    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("an error message")
            .to_owned()
    }
}

/// Makes one HTTP/1.1 request on a fresh connection, closed after the response.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the admin API");
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .expect("read timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send the head");
    stream.write_all(body).expect("send the body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size_line = std::str::from_utf8(&raw[..line_end]).expect("ASCII chunk size");
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hex chunk size");
        if size == 0 {
            return body;
        }
        let start = line_end + 2;
        body.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
}

fn get(node: &Node, path: &str) -> Response {
    http(node.addr, "GET", path, &[], b"")
}

fn post_revocation(node: &Node, body: &[u8]) -> Response {
    http(
        node.addr,
        "POST",
        "/v1/revocations",
        &[("Content-Type", REVOCATION_TYPE)],
        body,
    )
}

fn status(node: &Node) -> Value {
    let response = get(node, "/v1/status");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn ward_admin(dir: &Path, node: &Node, args: &[&str]) -> Outcome {
    let admin = node.admin();
    let mut full = args.to_vec();
    full.extend(["--admin", &admin]);
    ward(dir, &full)
}

#[test]
fn status_submission_and_metrics_over_http() {
    let fleet = Fleet::new("acme");
    let node = Node::start(&fleet, None);

    // Liveness and readiness.
    let health = get(&node, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    let ready = get(&node, "/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["ready"], true);

    // A fresh node: its own identity, its one site CA, nothing revoked.
    let before = status(&node);
    assert_eq!(before["peer_id"], node.peer_id.to_base58());
    assert_eq!(before["revocation_count"], 0);
    assert_eq!(before["site_cas"], 1);
    assert_eq!(before["admitted_peers"], Value::Array(Vec::new()));
    assert_eq!(before["gossip_peers"], 0);
    let listen = before["listen_addrs"].as_array().expect("a list");
    assert!(
        listen.iter().any(|a| a
            .as_str()
            .is_some_and(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))),
        "{before}"
    );
    let digest = before["revocation_digest"].as_str().expect("hex digest");
    assert_eq!(digest.len(), 64);
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));

    // A revocation signed by the site CA is applied: 201, and the node now enforces it.
    let revocation = fleet.revoke("./site-a", "0a0b0c0d", "./first.rev");
    let applied = post_revocation(&node, &revocation);
    assert_eq!(applied.status, 201, "{}", applied.text());
    let report = applied.json();
    assert_eq!(report["applied"], true);
    assert_eq!(report["issuer"], "site-a");
    assert_eq!(report["target"], "serial 0a0b0c0d");
    assert_eq!(report["reason"], "key-compromise");
    let after = status(&node);
    assert_eq!(after["revocation_count"], 1);
    assert_ne!(after["revocation_digest"], before["revocation_digest"]);

    // The same revocation again changes nothing: 200, already enforced.
    let again = post_revocation(&node, &revocation);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["applied"], false);
    assert_eq!(
        status(&node)["revocation_digest"],
        after["revocation_digest"]
    );

    // Bytes that are no revocation: 400 with the decoder's reason.
    let garbage = post_revocation(&node, b"\xd2\x84not a revocation");
    assert_eq!(garbage.status, 400, "{}", garbage.text());
    assert!(garbage.error().contains("not a signed Ward revocation"));
    let mut tampered = revocation.clone();
    tampered.truncate(revocation.len() - 1);
    assert_eq!(post_revocation(&node, &tampered).status, 400);

    // More than a revocation can be is refused before it is read: 413.
    let oversized = vec![0u8; MAX_REVOCATION_LEN + 100];
    let too_large = post_revocation(&node, &oversized);
    assert_eq!(too_large.status, 413, "{}", too_large.text());

    // Only the revocation media type (or octet-stream) is accepted.
    let form = http(
        node.addr,
        "POST",
        "/v1/revocations",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &revocation,
    );
    assert_eq!(form.status, 415, "{}", form.text());
    let second = fleet.revoke("./site-a", "0e0f", "./second.rev");
    let octets = http(
        node.addr,
        "POST",
        "/v1/revocations",
        &[("Content-Type", "application/octet-stream")],
        &second,
    );
    assert_eq!(octets.status, 201, "{}", octets.text());

    // Well-formed but signed by nobody this node trusts: 422 with the reason. First a fleet
    // of another name, then a forger who named its fleet and site like ours.
    let other = Fleet::new("globex");
    let foreign = post_revocation(&node, &other.revoke("./fleet", "0a0b0c0d", "./r.rev"));
    assert_eq!(foreign.status, 422, "{}", foreign.text());
    assert!(
        foreign.error().contains("not a known authority"),
        "{}",
        foreign.text()
    );
    let forger = Fleet::new("acme");
    let forged = post_revocation(&node, &forger.revoke("./site-a", "0a0b0c0d", "./r.rev"));
    assert_eq!(forged.status, 422, "{}", forged.text());
    assert!(forged.error().contains("signature"), "{}", forged.text());
    assert_eq!(status(&node)["revocation_count"], 2);

    // Metrics in the OpenMetrics text format, counting what is enforced.
    let metrics = get(&node, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{metrics:?}"
    );
    let text = metrics.text();
    assert!(text.contains("ward_revocations 2"), "{text}");
    assert!(
        text.lines().any(|l| l == "ward_site_is_leader 0"),
        "a node without a registry leads none: {text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    // Anything else is a JSON 404.
    let missing = get(&node, "/v2/status");
    assert_eq!(missing.status, 404);
    assert!(!missing.error().is_empty());
}

#[test]
fn a_token_guards_every_route_but_healthz() {
    let fleet = Fleet::new("acme");
    let token_file = fleet.path("admin.token");
    fs::write(&token_file, format!("{TOKEN}\n")).expect("token written");
    let node = Node::start(
        &fleet,
        Some(AdminToken::load(&token_file).expect("a valid token")),
    );
    let right = format!("Bearer {TOKEN}");
    // Same length, last character changed: only a full comparison tells them apart.
    let wrong = format!("Bearer {}X", &TOKEN[..TOKEN.len() - 1]);

    // Liveness needs no token.
    assert_eq!(get(&node, "/healthz").status, 200);

    for path in ["/readyz", "/v1/status", "/metrics"] {
        let anonymous = get(&node, path);
        assert_eq!(anonymous.status, 401, "{path}");
        assert_eq!(
            anonymous.header("www-authenticate"),
            Some("Bearer realm=\"ward\"")
        );
        assert!(!anonymous.text().contains(TOKEN));
        let guessed = http(node.addr, "GET", path, &[("Authorization", &wrong)], b"");
        assert_eq!(guessed.status, 401, "{path}");
        let admitted = http(node.addr, "GET", path, &[("Authorization", &right)], b"");
        assert_eq!(admitted.status, 200, "{path}: {}", admitted.text());
    }

    // A submission without the token is refused before the body is looked at.
    let revocation = fleet.revoke("./site-a", "01", "./r.rev");
    assert_eq!(post_revocation(&node, &revocation).status, 401);
    let with_wrong = http(
        node.addr,
        "POST",
        "/v1/revocations",
        &[("Content-Type", REVOCATION_TYPE), ("Authorization", &wrong)],
        &revocation,
    );
    assert_eq!(with_wrong.status, 401);
    let with_right = http(
        node.addr,
        "POST",
        "/v1/revocations",
        &[("Content-Type", REVOCATION_TYPE), ("Authorization", &right)],
        &revocation,
    );
    assert_eq!(with_right.status, 201, "{}", with_right.text());

    // `ward status` says what is missing, then works with the token file.
    let dir = fleet.dir.path();
    let refused = ward_admin(dir, &node, &["status"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("--token-file"),
        "{}",
        refused.stderr
    );
    let token_arg = token_file.display().to_string();
    let shown = ward_admin(
        dir,
        &node,
        &["status", "--json", "--token-file", &token_arg],
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let report: Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(report["revocation_count"], 1);

    // Or with neither flag, from the node's configuration file.
    let config = fleet.path("ward.toml");
    let admin_section = format!(
        "[admin]\nlisten = \"{}\"\ntoken_file = {:?}\n",
        node.addr,
        token_file.display().to_string()
    );
    fs::write(&config, admin_section).expect("config written");
    let config_arg = config.display().to_string();
    let configured = ward(dir, &["--config", &config_arg, "status", "--json"]);
    assert_eq!(configured.code, 0, "{}", configured.stderr);
    let report: Value = serde_json::from_str(&configured.stdout).expect("JSON");
    assert_eq!(report["peer_id"], node.peer_id.to_base58());
}

#[test]
fn ward_status_and_revoke_submit_talk_to_the_node() {
    let fleet = Fleet::new("acme");
    let node = Node::start(&fleet, None);
    let dir = fleet.dir.path();

    // `ward status --json` prints what the API reports.
    let shown = ward_admin(dir, &node, &["status", "--json"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let report: Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(report["peer_id"], node.peer_id.to_base58());
    assert_eq!(report["revocation_count"], 0);
    assert_eq!(report, status(&node));

    // And for people.
    let human = ward_admin(dir, &node, &["status"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human.stdout.contains(&node.peer_id.to_base58()),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("0 enforced"), "{}", human.stdout);

    // `ward revoke --submit` signs, saves and submits: the node enforces it at once.
    let revoke = |serial: &str, out: &str| {
        ward_admin(
            dir,
            &node,
            &[
                "revoke", "--ca", "./site-a", "--serial", serial, "--out", out, "--submit",
                "--json",
            ],
        )
    };
    let submitted = revoke("0badc0de", "./first.rev");
    assert_eq!(submitted.code, 0, "{}", submitted.stderr);
    let printed: Value = serde_json::from_str(&submitted.stdout).expect("JSON");
    assert_eq!(printed["submitted"]["applied"], true);
    assert_eq!(printed["submitted"]["admin"], node.admin());
    assert!(fleet.path("first.rev").exists());
    assert_eq!(status(&node)["revocation_count"], 1);

    // The same target again is already enforced, which is success too.
    let repeated = revoke("0badc0de", "./second.rev");
    assert_eq!(repeated.code, 0, "{}", repeated.stderr);
    let printed: Value = serde_json::from_str(&repeated.stdout).expect("JSON");
    assert_eq!(printed["submitted"]["applied"], false);
    assert_eq!(status(&node)["revocation_count"], 1);

    // A revocation the node refuses: exit 2 with the node's reason, the file kept.
    let other = Fleet::new("globex");
    let refused = ward_admin(
        other.dir.path(),
        &node,
        &[
            "revoke", "--ca", "./fleet", "--serial", "01", "--out", "./r.rev", "--submit",
        ],
    );
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("not a known authority"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("saved in"), "{}", refused.stderr);
    assert!(other.path("r.rev").exists());
    assert_eq!(status(&node)["revocation_count"], 1);
}

#[test]
fn a_stopped_node_is_reported_unreachable() {
    let fleet = Fleet::new("acme");
    let mut node = Node::start(&fleet, None);
    let admin = node.admin();
    node.stop().expect("the admin API stops cleanly");

    assert!(TcpStream::connect(node.addr).is_err(), "the port is closed");
    let outcome = ward(fleet.dir.path(), &["status", "--admin", &admin]);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .contains(&format!("cannot reach the admin API at {admin}")),
        "{}",
        outcome.stderr
    );
}

#[test]
fn without_a_token_the_api_stays_on_loopback() {
    let fleet = Fleet::new("acme");
    let node = Node::start(&fleet, None);
    let mesh = node.mesh.as_ref().expect("running").client();
    let served = node.runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind every interface");
        admin::serve(
            listener,
            admin::Services::mesh_only(mesh),
            None,
            std::future::pending(),
        )
        .await
    });
    let error = served.expect_err("refused to start");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_join_token_is_recorded_through_raft_shown_once_and_works_once() {
    let fleet = Fleet::new("acme");
    let node = Node::start_first_of_site(&fleet);
    let dir = fleet.dir.path();

    // The status names the node as the leader and only voter of its site.
    let report = status(&node);
    let id = raft_node_id(&node.peer_id);
    assert_eq!(report["site"]["node_id"], id);
    assert_eq!(report["site"]["role"], "leader");
    assert_eq!(report["site"]["leader"], id);
    assert_eq!(report["site"]["voters"], serde_json::json!([id]));
    assert!(
        report["site"]["commit_index"].as_u64().is_some(),
        "{report}"
    );
    let human = ward_admin(dir, &node, &["status"]);
    assert!(
        human.stdout.contains(&format!("{id:016x} is leader")),
        "{}",
        human.stdout
    );
    // And so do the metrics, as Raft has it at the scrape.
    let text = get(&node, "/metrics").text();
    for line in [
        "ward_site_is_leader 1",
        "ward_site_voters 1",
        "ward_site_learners 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
    }
    let term = report["site"]["term"].as_u64().expect("a term");
    assert!(
        text.lines().any(|l| l == format!("ward_site_term {term}")),
        "{text}"
    );

    let created = ward_admin(
        dir,
        &node,
        &[
            "join-token",
            "create",
            "--role",
            "node",
            "--ttl",
            "1h",
            "--json",
        ],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let printed: Value = serde_json::from_str(&created.stdout).expect("JSON");
    let token = printed["token"].as_str().expect("the token").to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert_eq!(parts[0], "wjt1");
    assert_eq!(parts[1], printed["id"]);
    let expires = printed["expires_at"].as_u64().expect("expiry");
    assert!(
        expires >= now() + 3590 && expires <= now() + 3600,
        "{expires}"
    );

    // The registry holds the id and the hash of the secret, never the secret.
    let replica = node.replica.as_ref().expect("a member of its site");
    let id_bytes = hex::decode(parts[1]).expect("hex id");
    let secret = hex::decode(parts[2]).expect("hex secret");
    let record = replica
        .join_token(&id_bytes)
        .expect("readable")
        .expect("recorded before it was printed");
    assert_eq!(record.secret_hash, Sha256::digest(&secret).to_vec());
    assert_eq!(record.role, TokenRole::Node);
    assert_eq!(record.expires_at, expires);

    // And it admits exactly one holder.
    let consume = |who: &str| {
        node.runtime
            .block_on(replica.write(RegistryCommand::ConsumeJoinToken {
                id: id_bytes.clone(),
                secret_hash: Sha256::digest(&secret).to_vec(),
                consumer: who.into(),
                now: now(),
            }))
            .expect("committed")
    };
    assert_eq!(
        consume("first"),
        RegistryResponse::JoinTokenConsumed {
            role: TokenRole::Node
        }
    );
    assert!(matches!(consume("second"), RegistryResponse::Refused(_)));

    // The people's form prints the token on its first line, and nothing else of it after.
    let human = ward_admin(
        dir,
        &node,
        &["join-token", "create", "--role", "camera", "--ttl", "15m"],
    );
    assert_eq!(human.code, 0, "{}", human.stderr);
    let mut lines = human.stdout.lines();
    let token = lines.next().expect("the token line");
    let secret = token.rsplit('.').next().expect("a secret");
    assert!(token.starts_with("wjt1."), "{token}");
    assert!(lines.all(|line| !line.contains(secret)), "{}", human.stdout);
}

#[test]
fn join_tokens_are_refused_without_a_registry_or_a_sane_lifetime() {
    let fleet = Fleet::new("acme");
    let outside = Node::start(&fleet, None);
    let ask = |node: &Node, body: &str| {
        http(
            node.addr,
            "POST",
            "/v1/join-tokens",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    // A node outside any site registry cannot make tokens, and says why.
    let response = ask(&outside, r#"{"role":"node","ttl_secs":3600}"#);
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(
        response.error().contains("not a member"),
        "{}",
        response.text()
    );
    assert!(status(&outside).get("site").is_none());

    // (`Fleet` makes one node credential; the member is a node of a fleet of its own.)
    let member = Node::start_first_of_site(&Fleet::new("globex"));
    for (body, expected) in [
        (r#"{"role":"node","ttl_secs":0}"#, 400),
        (r#"{"role":"node","ttl_secs":2592001}"#, 400),
        (r#"{"role":"admin","ttl_secs":60}"#, 400),
        (r#"{"role":"node"}"#, 400),
        (r#"{"role":"node","ttl_secs":60,"secret":"mine"}"#, 400),
    ] {
        let response = ask(&member, body);
        assert_eq!(response.status, expected, "{body}: {}", response.text());
    }
    let wrong_type = http(
        member.addr,
        "POST",
        "/v1/join-tokens",
        &[("Content-Type", "text/plain")],
        br#"{"role":"node","ttl_secs":60}"#,
    );
    assert_eq!(wrong_type.status, 415);
    let too_long = ask(
        &member,
        &format!(
            r#"{{"role":"node","ttl_secs":60,"x":"{}"}}"#,
            "a".repeat(2000)
        ),
    );
    assert_eq!(too_long.status, 413);
    // Nothing refused reached the registry: the log holds the initial entry alone.
    let site = &status(&member)["site"];
    assert_eq!(site["last_log_index"], 1, "{site}");
}
