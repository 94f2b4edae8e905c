//! Whole-system figures for the mesh (docs/benchmarks.md): revocation propagation across
//! 50 nodes in one process on loopback, the gossip messages and bytes each revocation
//! costs, and how long a node that missed 10,000 revocations takes to catch up.
//!
//! ```sh
//! cargo bench -p ward-tests --bench propagation
//! ```
//!
//! Every node is a real swarm (TCP, Noise, Yamux, gossipsub, Kademlia) with a real redb
//! store; the PKI is made by `ward`. Not a criterion benchmark: each figure is a whole
//! distributed run, printed once.

use std::time::{Duration, Instant};

use ward_crypto::RevocationSet;
use ward_node::store::MeshStore;
use ward_tests::mesh::{Cluster, Fleet, TCP, config, eventually, first_addr, spawn_with};

const NODES: usize = 50;
const REVOCATIONS: usize = 40;
const CATCH_UP: usize = 10_000;

/// Sums a gossipsub counter over the revocation topic in a node's metrics text.
fn gossip_counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && line.contains("revocations"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn totals(cluster: &Cluster) -> (u64, u64) {
    cluster.nodes.iter().fold((0, 0), |(msgs, bytes), node| {
        let text = node.metrics().encode();
        (
            msgs + gossip_counter(&text, "ward_gossipsub_topic_msg_sent_counts_total"),
            bytes + gossip_counter(&text, "ward_gossipsub_topic_msg_sent_bytes_total"),
        )
    })
}

fn at(sorted: &[Duration], percent: usize) -> Duration {
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}

async fn propagation() {
    let fleet = Fleet::new("bench");
    let mesh_config = config(TCP);
    let started = Instant::now();
    let cluster = Cluster::start(&fleet, NODES, &mesh_config).await;
    cluster.connect(0..NODES).await;
    println!(
        "{NODES} nodes started and meshed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // While Kademlia is still finding peers, every node dials and admits dozens more;
    // revocations gossiped then compete with that work.
    let revocations = fleet.bulk_revocations(2 * REVOCATIONS);
    let (early, late) = revocations.split_at(REVOCATIONS);
    measure(&cluster, "while the mesh is still discovering peers", early).await;

    let settling = Instant::now();
    let degree = settle(&cluster).await;
    println!(
        "peer counts settled {:.1} s later: {degree:.1} admitted peers per node on average",
        settling.elapsed().as_secs_f64()
    );
    measure(&cluster, "once peer counts have settled", late).await;
    cluster.shutdown().await;
}

/// Publishes each revocation at a different node, waits until all nodes enforce it, and
/// prints the delays and what the gossip cost.
async fn measure(cluster: &Cluster, phase: &str, revocations: &[ward_crypto::Revocation]) {
    let (msgs_before, bytes_before) = totals(cluster);
    let mut delays = Vec::new();
    for (i, revocation) in revocations.iter().enumerate() {
        let origin = (i * 17) % NODES;
        delays.extend(cluster.propagate(origin, revocation.clone()).await);
    }
    // Let forwarding that is still in flight finish before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (msgs_after, bytes_after) = totals(cluster);
    delays.sort_unstable();
    let per = revocations.len() as u64;
    println!(
        "propagation over {NODES} nodes {phase}, {} revocations ({} deliveries): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        revocations.len(),
        delays.len(),
        at(&delays, 50).as_secs_f64() * 1e3,
        at(&delays, 99).as_secs_f64() * 1e3,
        delays[delays.len() - 1].as_secs_f64() * 1e3,
    );
    println!(
        "gossip cost per revocation {phase}: {} messages sent, {} bytes sent (all nodes together)",
        (msgs_after - msgs_before) / per,
        (bytes_after - bytes_before) / per,
    );
}

/// Waits until no node's count of admitted peers has changed for a second (discovery has
/// done its work), and returns the mean count.
async fn settle(cluster: &Cluster) -> f64 {
    let mut last = Vec::new();
    let mut steady_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut counts = Vec::with_capacity(cluster.nodes.len());
        for node in &cluster.nodes {
            counts.push(node.status().await.expect("running").admitted_peers.len());
        }
        if counts != last {
            last = counts;
            steady_since = Instant::now();
        } else if steady_since.elapsed() >= Duration::from_secs(1) {
            return last.iter().sum::<usize>() as f64 / last.len() as f64;
        }
        assert!(Instant::now() < deadline, "peer counts never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn catch_up() {
    let fleet = Fleet::new("bench");
    let source = fleet.node();
    let signing = Instant::now();
    let revocations = fleet.bulk_revocations(CATCH_UP);
    println!(
        "signed {CATCH_UP} revocations in {:.1} s",
        signing.elapsed().as_secs_f64()
    );
    {
        let store = MeshStore::open(&source.store).expect("store");
        store.put_revocations(&revocations).expect("stored");
    }
    let loading = Instant::now();
    let source = spawn_with(config(TCP), source, fleet.admission(RevocationSet::new())).await;
    println!(
        "a node loaded {CATCH_UP} revocations from its store in {:.2} s",
        loading.elapsed().as_secs_f64()
    );
    let late = spawn_with(
        config(TCP),
        fleet.node(),
        fleet.admission(RevocationSet::new()),
    )
    .await;

    let start = Instant::now();
    late.dial(first_addr(&source).await).await.expect("dial");
    eventually(Duration::from_secs(60), "caught up", || async {
        late.status().await.expect("running").revocation_count == CATCH_UP
    })
    .await;
    let took = start.elapsed();
    let (source_status, late_status) = (
        source.status().await.expect("running"),
        late.status().await.expect("running"),
    );
    assert_eq!(
        source_status.revocation_digest,
        late_status.revocation_digest
    );
    println!(
        "a node that missed {CATCH_UP} revocations caught up in {:.0} ms (dial, admission, anti-entropy, verification, one durable commit)",
        took.as_secs_f64() * 1e3
    );
    late.shutdown().await;
    source.shutdown().await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        propagation().await;
        catch_up().await;
    });
}
