//! `ward run` as an operator meets it: the real binary, real sockets on loopback, signals.
//!
//! Every node listens on port 0, so the tests run in parallel; each waits for what the node
//! prints or logs rather than for a fixed time.

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a node may take to start, or to log what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The mesh on loopback, on ephemeral ports: QUIC and TCP.
const MESH_LOOPBACK: [&str; 4] = [
    "--listen",
    "/ip4/127.0.0.1/udp/0/quic-v1",
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
];

/// The admin API on loopback, on an ephemeral port.
const ADMIN_LOOPBACK: [&str; 2] = ["--admin-listen", "127.0.0.1:0"];

/// The `ward` command with no configuration leaking in from the test's environment.
fn ward() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ward"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WARD_") {
            command.env_remove(&name);
        }
    }
    command.env("RUST_LOG", "info");
    command
}

/// A running `ward run`, killed if the test ends without stopping it.
struct Node {
    child: Child,
    stdout: Receiver<String>,
    printed: Vec<String>,
    logs: Arc<Mutex<String>>,
}

impl Node {
    fn start(data_dir: &Path, extra: &[&str]) -> Node {
        // A loopback admin address unless the test brings its own.
        let admin = if extra.contains(&"--admin-listen") {
            &[][..]
        } else {
            &ADMIN_LOOPBACK[..]
        };
        let mut child = ward()
            .arg("run")
            .arg("--data-dir")
            .arg(data_dir)
            .args(MESH_LOOPBACK)
            .args(admin)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ward starts");
        let (lines, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let logs = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().expect("log buffer").push_str(&text);
            }
        });
        let mut node = Node {
            child,
            stdout,
            printed: Vec::new(),
            logs,
        };
        node.wait_until_running();
        node
    }

    /// Reads stdout until the first bootstrap address, and the rest of the announcement.
    fn wait_until_running(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    let done = line.trim_start().starts_with("admin API");
                    self.printed.push(line);
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "node did not announce itself; stdout: {:?}\nstderr: {}",
                    self.printed,
                    self.logs()
                ),
            }
        }
    }

    fn stdout(&self) -> String {
        self.printed.join("\n")
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("log buffer").clone()
    }

    /// The printed bootstrap multiaddrs.
    fn bootstrap_addrs(&self) -> Vec<String> {
        self.printed
            .iter()
            .filter_map(|line| line.trim().strip_prefix("bootstrap"))
            .map(|addr| addr.trim().to_owned())
            .collect()
    }

    /// The QUIC bootstrap address, the one other nodes should dial.
    fn quic_addr(&self) -> String {
        self.bootstrap_addrs()
            .into_iter()
            .find(|addr| addr.contains("/quic-v1/"))
            .expect("a QUIC bootstrap address")
    }

    /// The PeerId at the end of the bootstrap addresses.
    fn peer_id(&self) -> String {
        let addr = self.quic_addr();
        let (_, peer) = addr
            .rsplit_once("/p2p/")
            .expect("address ends in /p2p/<PeerId>");
        peer.to_owned()
    }

    /// Waits until the logs contain a line with all of `words`.
    fn wait_for_log(&self, words: &[&str]) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if log_line_with(&self.logs(), words).is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("no log line with {words:?}; logs:\n{}", self.logs());
    }

    /// Sends `signal` and waits for the process to end.
    fn stop(mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node ignored SIG{signal}; logs:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_line_with<'a>(logs: &'a str, words: &[&str]) -> Option<&'a str> {
    logs.lines()
        .find(|line| words.iter().all(|word| line.contains(word)))
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

/// Runs `ward run` that is expected to fail before starting anything.
fn run_failing(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = ward()
        .arg("run")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("ward runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit code 2; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn a_dev_node_starts_on_an_empty_directory_and_stops_on_sigterm() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let node = Node::start(&data, &[]);

    let peer_id = node.peer_id();
    assert!(
        peer_id.starts_with("12D3Koo"),
        "an Ed25519 PeerId: {peer_id}"
    );
    let addrs = node.bootstrap_addrs();
    assert!(
        addrs
            .iter()
            .any(|a| a.starts_with("/ip4/127.0.0.1/udp/") && a.contains("/quic-v1/p2p/")),
        "{addrs:?}"
    );
    assert!(
        addrs.iter().any(|a| a.starts_with("/ip4/127.0.0.1/tcp/")),
        "{addrs:?}"
    );
    assert!(
        addrs
            .iter()
            .all(|a| a.ends_with(&format!("/p2p/{peer_id}"))),
        "{addrs:?}"
    );
    // No real port is 0: the addresses are the ones the mesh actually listens on.
    assert!(addrs.iter().all(|a| !a.contains("/0/")), "{addrs:?}");
    let printed = node.stdout();
    assert!(printed.contains("Created development fleet"), "{printed}");
    assert!(printed.contains("dev-pki"), "{printed}");

    for secret in [
        "node-identity.key",
        "node.key",
        "dev-pki/fleet-root.key",
        "dev-pki/site-ca.key",
    ] {
        assert_eq!(mode(&data.join(secret)), 0o600, "{secret}");
    }
    for public in ["node.cwt", "fleet-root.cwt", "site-ca.cwt", "ward.redb"] {
        assert!(data.join(public).is_file(), "{public} missing");
    }

    let status = node.stop("TERM");
    assert_eq!(status.code(), Some(0), "graceful stop on SIGTERM");
}

#[test]
fn a_restart_keeps_the_peer_id_and_the_fleet_and_logs_json_when_asked() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let first = Node::start(&data, &[]);
    let peer_id = first.peer_id();
    let root = fs::read(data.join("fleet-root.cwt")).expect("fleet root");
    let credential = fs::read(data.join("node.cwt")).expect("node credential");
    assert_eq!(first.stop("INT").code(), Some(0), "graceful stop on SIGINT");

    let second = Node::start(&data, &["--log-format", "json"]);
    assert_eq!(second.peer_id(), peer_id);
    second.wait_for_log(&["admin API listening"]);
    for line in second.logs().lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            event["level"].is_string() && event["fields"].is_object(),
            "{line}"
        );
    }
    assert!(
        !second.stdout().contains("Created development fleet"),
        "{}",
        second.stdout()
    );
    assert_eq!(
        fs::read(data.join("fleet-root.cwt")).expect("fleet root"),
        root
    );
    assert_eq!(
        fs::read(data.join("node.cwt")).expect("credential"),
        credential
    );
    assert_eq!(second.stop("TERM").code(), Some(0));
}

#[test]
fn nodes_of_one_fleet_admit_each_other_and_a_stranger_fleet_is_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    let first_dir = temp.path().join("first");
    let first = Node::start(&first_dir, &[]);

    // A second node of the same fleet, set up as an operator would: the anchors copied in,
    // a first start that creates the identity and says which credential to issue.
    let second_dir = temp.path().join("second");
    fs::create_dir(&second_dir).expect("dir");
    for anchor in ["fleet-root.cwt", "site-ca.cwt"] {
        fs::copy(first_dir.join(anchor), second_dir.join(anchor)).expect("anchor copied");
    }
    let refused = run_failing(
        &second_dir,
        &[&MESH_LOOPBACK[..], &ADMIN_LOOPBACK].concat(),
        &[],
    );
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    let (_, rest) = message
        .split_once("ward cert issue --role node --subject ")
        .unwrap_or_else(|| panic!("no issuing instructions in: {message}"));
    let second_peer = rest.split_whitespace().next().expect("a PeerId").to_owned();
    let issued = ward()
        .args([
            "cert",
            "issue",
            "--role",
            "node",
            "--subject",
            &second_peer,
            "--ca",
        ])
        .arg(first_dir.join("dev-pki"))
        .arg("--out")
        .arg(second_dir.join("node"))
        .output()
        .expect("ward cert issue runs");
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let second = Node::start(&second_dir, &["--bootstrap", &first.quic_addr()]);
    assert_eq!(second.peer_id(), second_peer);
    assert!(
        !second.stdout().contains("Created development fleet"),
        "an operator's directory never becomes a dev fleet"
    );
    first.wait_for_log(&["peer admitted", &second_peer]);
    second.wait_for_log(&["peer admitted", &first.peer_id()]);

    // A dev node of its own fleet dials the first: neither side admits the other.
    let stranger = Node::start(
        &temp.path().join("stranger"),
        &["--bootstrap", &first.quic_addr()],
    );
    let stranger_peer = stranger.peer_id();
    first.wait_for_log(&["refused", &stranger_peer]);
    let first_peer = first.peer_id();
    assert!(
        log_line_with(&first.logs(), &["peer admitted", &stranger_peer]).is_none(),
        "a node of another fleet was admitted; logs:\n{}",
        first.logs()
    );
    assert!(
        log_line_with(&stranger.logs(), &["peer admitted", &first_peer]).is_none(),
        "a node admitted another fleet's node; logs:\n{}",
        stranger.logs()
    );

    for node in [stranger, second, first] {
        assert_eq!(node.stop("TERM").code(), Some(0));
    }
}

#[test]
fn a_token_file_lets_the_admin_api_leave_loopback() {
    let temp = tempfile::tempdir().expect("temp dir");
    let token = temp.path().join("admin.token");
    fs::write(&token, "0123456789abcdef0123456789abcdef0123456789abcdef\n").expect("token");
    let token = token.to_str().expect("UTF-8 path");
    let node = Node::start(
        &temp.path().join("data"),
        &["--admin-listen", "0.0.0.0:0", "--admin-token-file", token],
    );
    assert!(
        node.stdout().contains("admin API    http://0.0.0.0:"),
        "{}",
        node.stdout()
    );
    assert!(
        !node.logs().contains("0123456789abcdef"),
        "the token must never be logged"
    );
    assert_eq!(node.stop("TERM").code(), Some(0));
}

#[test]
fn unsafe_configuration_is_refused_before_anything_is_created() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");

    // The admin API beyond loopback needs a token, from a flag or from the environment.
    let flag = run_failing(&data, &["--admin-listen", "0.0.0.0:0"], &[]);
    assert!(String::from_utf8_lossy(&flag.stderr).contains("token_file"));
    let env = run_failing(&data, &[], &[("WARD_ADMIN_LISTEN", "0.0.0.0:0")]);
    assert!(String::from_utf8_lossy(&env.stderr).contains("token_file"));

    // A flag overrides its environment variable: the safe variable alone would start.
    let overridden = run_failing(
        &data,
        &["--admin-listen", "0.0.0.0:0"],
        &[("WARD_ADMIN_LISTEN", "127.0.0.1:0")],
    );
    assert!(String::from_utf8_lossy(&overridden.stderr).contains("token_file"));

    // pq = "required" refuses a TCP listen address.
    let tcp = run_failing(
        &data,
        &["--pq", "required", "--listen", "/ip4/127.0.0.1/tcp/0"],
        &[],
    );
    let text = String::from_utf8_lossy(&tcp.stderr).into_owned();
    assert!(text.contains("mesh.listen"), "{text}");

    // pq = "required" refuses TCP, from a flag or from the configuration file.
    let config = temp.path().join("ward.toml");
    fs::write(
        &config,
        "[mesh]\npq = \"required\"\nlisten = [\"/ip4/127.0.0.1/udp/0/quic-v1\"]\n\
         bootstrap = [\"/ip4/127.0.0.1/tcp/7400\"]\n",
    )
    .expect("config written");
    let from_file = ward()
        .arg("--config")
        .arg(&config)
        .args(["run", "--data-dir"])
        .arg(&data)
        .output()
        .expect("ward runs");
    assert_eq!(from_file.status.code(), Some(2));
    let text = String::from_utf8_lossy(&from_file.stderr).into_owned();
    assert!(text.contains("mesh.bootstrap"), "{text}");

    assert!(
        !data.exists(),
        "a refused configuration must not create a data directory"
    );
}

/// How long a site may take to settle: joiners added as learners, then promoted to voters.
const SITE_PATIENCE: Duration = Duration::from_secs(40);

impl Node {
    /// The printed admin API address, HOST:PORT as `ward status --admin` takes it.
    fn admin_addr(&self) -> String {
        self.printed
            .iter()
            .find_map(|line| line.trim().strip_prefix("admin API"))
            .and_then(|url| url.trim().strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no admin API address in: {}", self.stdout()))
            .to_owned()
    }
}

/// Runs `ward <args> --admin <node's admin API>` and returns its stdout; it must succeed.
fn ward_admin(node: &Node, args: &[&str]) -> String {
    let output = ward()
        .args(args)
        .arg("--admin")
        .arg(node.admin_addr())
        .stdin(Stdio::null())
        .output()
        .expect("ward runs");
    assert!(
        output.status.success(),
        "ward {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Has `node` make a one-time node join token, as an operator would.
fn create_node_token(node: &Node) -> String {
    let printed = ward_admin(
        node,
        &["join-token", "create", "--role", "node", "--ttl", "1h"],
    );
    let token = printed.lines().next().unwrap_or_default().trim().to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    assert!(
        matches!(parts[..], ["wjt1", id, secret] if id.len() == 32 && secret.len() == 64),
        "not a join token: {printed}"
    );
    token
}

/// The secret part of a join token, which no output or log may ever show.
fn token_secret(token: &str) -> &str {
    token.rsplit('.').next().expect("a secret")
}

/// The site registry as the node's `ward status --json` reports it; `None` while it has none.
fn site_status(node: &Node) -> Option<serde_json::Value> {
    let printed = ward_admin(node, &["status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&printed)
        .unwrap_or_else(|e| panic!("ward status --json printed no JSON ({e}): {printed}"));
    report.get("site").filter(|site| !site.is_null()).cloned()
}

/// The Raft ids in a site status's `voters` or `learners`.
fn member_ids(site: &serde_json::Value, field: &str) -> Vec<u64> {
    site[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} array in {site}"))
        .iter()
        .map(|id| id.as_u64().unwrap_or_else(|| panic!("not a Raft id: {id}")))
        .collect()
}

/// Polls `node`'s site status until `done` holds, and returns that status; on a timeout,
/// panics with the last status seen and the logs of `nodes`.
fn wait_for_site(
    node: &Node,
    what: &str,
    nodes: &[&Node],
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + SITE_PATIENCE;
    let mut last = None;
    while Instant::now() < deadline {
        last = site_status(node);
        if let Some(site) = last.as_ref().filter(|site| done(site)) {
            return site.clone();
        }
        thread::sleep(Duration::from_millis(200));
    }
    let logs: Vec<String> = nodes
        .iter()
        .map(|node| format!("--- {} ---\n{}", node.peer_id(), node.logs()))
        .collect();
    panic!(
        "{what}: not within {SITE_PATIENCE:?}; last site status: {last:?}\n{}",
        logs.join("\n")
    );
}

/// The flags of a node that joins the site through `bootstrap` with `token`.
fn joining<'a>(bootstrap: &'a str, token: &'a str) -> [&'a str; 4] {
    ["--bootstrap", bootstrap, "--join-token", token]
}

/// Nodes started on empty directories, given the first node as bootstrap peer and a join
/// token it made, receive their credentials from the site instead of founding a fleet, and
/// become voters of the site's registry; a joined node restarts from what it received, and a
/// used token admits no one else.
#[test]
fn nodes_that_join_by_bootstrap_peer_and_token_become_voters() {
    let temp = tempfile::tempdir().expect("temp dir");
    let first_dir = temp.path().join("first");
    let first = Node::start(&first_dir, &[]);
    let bootstrap = first.quic_addr();
    let tokens = [create_node_token(&first), create_node_token(&first)];
    assert_ne!(tokens[0], tokens[1], "every token is new");

    let dirs = [temp.path().join("second"), temp.path().join("third")];
    let second = Node::start(&dirs[0], &joining(&bootstrap, &tokens[0]));
    let third = Node::start(&dirs[1], &joining(&bootstrap, &tokens[1]));

    let fleet_root = fs::read(first_dir.join("fleet-root.cwt")).expect("fleet root");
    for (node, dir) in [(&second, &dirs[0]), (&third, &dirs[1])] {
        for public in ["node.cwt", "fleet-root.cwt", "site-ca.cwt"] {
            assert!(dir.join(public).is_file(), "{public} missing");
        }
        assert_eq!(mode(&dir.join("node.key")), 0o600, "node.key");
        assert_eq!(
            fs::read(dir.join("fleet-root.cwt")).expect("fleet root"),
            fleet_root,
            "a joined node trusts the site's fleet root"
        );
        assert!(
            !dir.join("dev-pki").exists(),
            "a joined node has no development PKI"
        );
        assert!(
            !node.stdout().contains("Created development fleet"),
            "{}",
            node.stdout()
        );
    }

    let all = [&first, &second, &third];
    let site = wait_for_site(&first, "three voters", &all, |site| {
        member_ids(site, "voters").len() == 3
    });
    let voters = member_ids(&site, "voters");
    assert_eq!(voters.len(), 3, "{site}");
    for node in all {
        let own = wait_for_site(node, "a member of the site registry", &all, |site| {
            site["node_id"].is_u64()
        });
        let id = own["node_id"].as_u64().expect("a Raft id");
        assert!(voters.contains(&id), "{id:016x} is not a voter: {site}");
    }

    // A used token admits no one: a fourth node is refused before it starts.
    let fourth = temp.path().join("fourth");
    let refused = run_failing(
        &fourth,
        &[
            &MESH_LOOPBACK[..],
            &ADMIN_LOOPBACK,
            &joining(&bootstrap, &tokens[0]),
        ]
        .concat(),
        &[],
    );
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    // Words, not substrings: "refused" holds "used".
    let lowered = message.to_lowercase();
    let words: Vec<&str> = lowered.split(|c: char| !c.is_alphanumeric()).collect();
    assert!(
        words.contains(&"token") && words.contains(&"used"),
        "the refusal does not say the token was used: {message}"
    );
    assert!(
        !fourth.join("node.cwt").exists(),
        "a refused node has no credential"
    );
    assert!(
        !fourth.join("dev-pki").exists(),
        "a refused node founds no fleet"
    );

    // No token secret reaches a log, nor the refusal.
    for token in &tokens {
        let secret = token_secret(token);
        assert!(!message.contains(secret), "a token secret in: {message}");
        for node in all {
            assert!(
                !node.logs().contains(secret),
                "a token secret in the logs of {}",
                node.peer_id()
            );
        }
    }

    // A joined node restarts with the flags it joined with: the directory holds its
    // credential, so the used token is not presented again.
    let peer_id = second.peer_id();
    let credential = fs::read(dirs[0].join("node.cwt")).expect("node credential");
    assert_eq!(
        second.stop("TERM").code(),
        Some(0),
        "graceful stop on SIGTERM"
    );
    let second = Node::start(&dirs[0], &joining(&bootstrap, &tokens[0]));
    assert_eq!(second.peer_id(), peer_id);
    assert_eq!(
        fs::read(dirs[0].join("node.cwt")).expect("node credential"),
        credential
    );
    assert!(
        !second.stdout().contains("Created development fleet"),
        "{}",
        second.stdout()
    );

    for node in [second, third, first] {
        assert_eq!(node.stop("TERM").code(), Some(0));
    }
}

/// A join token is proved to a bootstrap peer; given one without a bootstrap peer, a node on
/// an empty directory refuses to start rather than found a development fleet of its own.
#[test]
fn a_join_token_without_a_bootstrap_peer_is_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let token = format!("wjt1.{}.{}", "0f".repeat(16), "a5".repeat(32));
    let refused = run_failing(
        &data,
        &[
            &MESH_LOOPBACK[..],
            &ADMIN_LOOPBACK,
            &["--join-token", token.as_str()],
        ]
        .concat(),
        &[],
    );
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(message.contains("bootstrap"), "{message}");
    assert!(!message.contains(token_secret(&token)), "{message}");
    assert!(!data.join("dev-pki").exists(), "no development fleet");
    assert!(!data.join("node.cwt").exists(), "no credential");
}
