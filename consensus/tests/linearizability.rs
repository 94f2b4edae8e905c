//! Linearizability of the registry under failures.
//!
//! One camera's anomaly model is a register: [`RegistryCommand::PutModelSnapshot`] writes it,
//! [`Replica::model_snapshot_linearizable`] reads it. Several clients write unique values and
//! read them back at random replicas of a three-node site while a nemesis kills the leader
//! (restarting it from its redb file later) and cuts nodes off the network. Every operation
//! is recorded with when it was invoked and when it returned; stateright's
//! [`LinearizabilityTester`] then decides whether one register, changing atomically at some
//! instant inside each operation, explains every answer.
//!
//! Each run is driven by a seed: the clients' choices (write or read, which replica, values,
//! pauses) and the nemesis' faults and their timing all come from it, so a failing seed,
//! replayed alone with `WARD_LINEARIZABILITY_SEED=<seed>`, makes the same choices. Raft's own
//! timers and the scheduler are not seeded, so the interleaving may differ on a replay.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::ServerState;
use stateright::semantics::register::{Register, RegisterOp, RegisterRet};
use stateright::semantics::{ConsistencyTester as _, LinearizabilityTester};
use support::Site;
use tokio::time::Instant;
use ward_consensus::memory::MemoryTransport;
use ward_consensus::{RegistryCommand, RegistryResponse, Replica, ReplicaConfig};

/// Seeds checked by the main test.
const SEEDS: u64 = 100;
/// Sites running at once: most of a run is spent waiting on Raft's timers, not computing.
const SITES_AT_ONCE: usize = 4;
/// Clients of each site, each with one operation in flight at a time.
const CLIENTS: u64 = 3;
/// How long the clients and the nemesis of one run work.
const RUN: Duration = Duration::from_millis(700);
/// The register.
const CAMERA: &str = "camera-1";
/// What a read of a register never written returns.
const UNWRITTEN: u64 = 0;

/// Timings a tenth of the defaults', so that a short run sees elections, and a snapshot
/// often enough that a restarted node may be brought back by one.
fn config() -> ReplicaConfig {
    ReplicaConfig {
        heartbeat: Duration::from_millis(20),
        election_timeout: (Duration::from_millis(80), Duration::from_millis(160)),
        snapshot_every: 40,
        keep_behind_snapshot: 10,
        write_timeout: Duration::from_millis(500),
    }
}

/// Sebastiano Vigna's SplitMix64: a small generator whose whole state is the seed.
struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator of one actor of run `seed`, independent of the other actors' draws.
    fn new(seed: u64, actor: u64) -> SplitMix64 {
        let mut mixer = SplitMix64(seed ^ actor.wrapping_mul(0xd1b5_4a32_d192_ed03));
        SplitMix64(mixer.next())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; the bias of the modulo does not matter here.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// One call to the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Write(u64),
    Read,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The write was acknowledged: committed and applied.
    Written,
    /// The read returned this value.
    Read(u64),
    /// The write failed, timed out, or its replica was killed under it: it may or may not
    /// have been committed, and may take effect at any time after its invocation.
    Unknown,
    /// The read failed; reads change nothing, so it is as if it never happened.
    Failed,
}

/// A call as the history records it, with the ticks of its invocation and return.
#[derive(Clone, Debug)]
struct Operation {
    /// Who called: a client, in one of its incarnations (see [`Client`]).
    process: u64,
    call: Call,
    invoked: u64,
    returned: u64,
    outcome: Outcome,
}

/// The operations of one run. A shared counter orders invocations and returns: a call that
/// returned before another was invoked has the smaller tick.
#[derive(Default)]
struct History {
    clock: AtomicU64,
    operations: Mutex<Vec<Operation>>,
}

impl History {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn record(&self, operation: Operation) {
        self.operations
            .lock()
            .expect("no client panicked while recording")
            .push(operation);
    }

    fn operations(&self) -> Vec<Operation> {
        self.operations
            .lock()
            .expect("no client panicked while recording")
            .clone()
    }
}

/// What the tester is told, in the order of the history's clock.
enum Event {
    Invoke(u64, RegisterOp<u64>),
    Return(u64, RegisterRet<u64>),
}

/// Whether a single register, starting at [`UNWRITTEN`], explains `operations`.
///
/// Failed reads are left out: they changed nothing. A write of unknown outcome is an
/// invocation that never returns, which the tester may place anywhere after it, or nowhere;
/// its process (see [`Client`]) invokes nothing after it. One whose value no read returned is
/// left out too: had it taken effect, removing it would change no read's answer, since a
/// value nobody read is overwritten before the next read; and the tester would try it at
/// every place a write can go.
fn check(operations: &[Operation]) -> Result<(), String> {
    let observed: HashSet<u64> = operations
        .iter()
        .filter_map(|op| match op.outcome {
            Outcome::Read(value) => Some(value),
            _ => None,
        })
        .collect();
    let mut events: Vec<(u64, Event)> = Vec::new();
    for op in operations {
        let invoke = match op.call {
            Call::Write(value) => RegisterOp::Write(value),
            Call::Read => RegisterOp::Read,
        };
        let ret = match (op.call, op.outcome) {
            (Call::Write(_), Outcome::Written) => Some(RegisterRet::WriteOk),
            (Call::Read, Outcome::Read(value)) => Some(RegisterRet::ReadOk(value)),
            (Call::Write(value), Outcome::Unknown) if observed.contains(&value) => None,
            (Call::Write(_), Outcome::Unknown) | (Call::Read, Outcome::Failed) => continue,
            (call, outcome) => return Err(format!("{call:?} cannot end as {outcome:?}")),
        };
        events.push((op.invoked, Event::Invoke(op.process, invoke)));
        if let Some(ret) = ret {
            events.push((op.returned, Event::Return(op.process, ret)));
        }
    }
    events.sort_by_key(|(tick, _)| *tick);

    let mut tester = LinearizabilityTester::new(Register(UNWRITTEN));
    for (_, event) in events {
        match event {
            Event::Invoke(process, invoke) => tester.on_invoke(process, invoke)?,
            Event::Return(process, ret) => tester.on_return(process, ret)?,
        };
    }
    if tester.is_consistent() {
        Ok(())
    } else {
        Err("no order of the operations explains every answer".into())
    }
}

/// The history as lines of text, in invocation order, for a failure's report.
fn describe(operations: &[Operation]) -> String {
    let mut operations = operations.to_vec();
    operations.sort_by_key(|op| op.invoked);
    operations
        .iter()
        .map(|op| {
            format!(
                "  [{:>4} .. {:>4}] process {:>7}: {:?} -> {:?}\n",
                op.invoked, op.returned, op.process, op.call, op.outcome
            )
        })
        .collect()
}

/// A site shared by the clients, which take a running replica now and then, and the nemesis,
/// which kills and restarts them.
type SharedSite = Arc<tokio::sync::Mutex<Site>>;

/// A replica of the site that is running, chosen by `rng`.
async fn any_replica(site: &SharedSite, rng: &mut SplitMix64) -> Replica<MemoryTransport> {
    let site = site.lock().await;
    let ids = site.ids();
    let id = ids[usize::try_from(rng.below(ids.len() as u64)).expect("few nodes")];
    site.replicas[&id].clone()
}

/// One client: writes and reads until the run ends. A write of unknown outcome may take
/// effect at any later time, so its call is never over; the client goes on as a new process
/// (its next incarnation), as a process may have only one call in flight.
struct Client {
    id: u64,
    rng: SplitMix64,
    incarnation: u64,
    writes: u64,
}

impl Client {
    fn process(&self) -> u64 {
        self.id * 1_000_000 + self.incarnation
    }

    /// A value no other write of the run uses.
    fn next_value(&mut self) -> u64 {
        self.writes += 1;
        self.id * 1_000_000 + self.writes
    }

    async fn run(mut self, site: SharedSite, history: Arc<History>, until: Instant) {
        while Instant::now() < until {
            let replica = any_replica(&site, &mut self.rng).await;
            let call = if self.rng.below(2) == 0 {
                Call::Write(self.next_value())
            } else {
                Call::Read
            };

            // The call, between two ticks of the history's clock.
            let invoked = history.tick();
            let outcome = match call {
                Call::Write(value) => write(&replica, value).await,
                Call::Read => read(&replica).await,
            };
            let returned = history.tick();
            drop(replica);
            history.record(Operation {
                process: self.process(),
                call,
                invoked,
                returned,
                outcome,
            });
            if outcome == Outcome::Unknown {
                self.incarnation += 1;
            }
            tokio::time::sleep(self.rng.millis(0, 10)).await;
        }
    }
}

async fn write(replica: &Replica<MemoryTransport>, value: u64) -> Outcome {
    let command = RegistryCommand::PutModelSnapshot {
        camera: CAMERA.into(),
        model: value.to_be_bytes().to_vec(),
    };
    match replica.write(command).await {
        Ok(RegistryResponse::ModelStored { .. }) => Outcome::Written,
        Ok(other) => panic!("model refused: {other:?}"),
        Err(_) => Outcome::Unknown,
    }
}

async fn read(replica: &Replica<MemoryTransport>) -> Outcome {
    match replica.model_snapshot_linearizable(CAMERA).await {
        Ok(None) => Outcome::Read(UNWRITTEN),
        Ok(Some(record)) => {
            let bytes: [u8; 8] = record.model.as_slice().try_into().expect("models are u64s");
            Outcome::Read(u64::from_be_bytes(bytes))
        }
        Err(_) => Outcome::Failed,
    }
}

/// What the nemesis did in one run.
#[derive(Debug, Default)]
struct Faults {
    kills: u64,
    partitions: u64,
}

/// Until the run ends, waits a while, then brings one fault and, a while later, repairs it:
/// kills the leader and restarts it from its database, cuts the leader off from the others,
/// or cuts off any one node. One fault at a time, so that a majority is usually reachable.
async fn nemesis(site: SharedSite, mut rng: SplitMix64, until: Instant) -> Faults {
    let mut faults = Faults::default();
    loop {
        tokio::time::sleep(rng.millis(30, 150)).await;
        if Instant::now() >= until {
            return faults;
        }
        let fault = rng.below(3);
        let pick = rng.next();
        let victim = {
            let site = site.lock().await;
            let ids = site.ids();
            let leader = ids
                .iter()
                .copied()
                .find(|id| site.replicas[id].metrics().state == ServerState::Leader);
            match (fault, leader) {
                (0 | 1, Some(leader)) => leader,
                _ => ids[usize::try_from(pick % ids.len() as u64).expect("few nodes")],
            }
        };
        let lasts = rng.millis(50, 300);
        if fault == 0 {
            site.lock().await.kill(victim).await;
            faults.kills += 1;
            tokio::time::sleep(lasts).await;
            site.lock().await.start(victim).await;
        } else {
            site.lock().await.network.isolate(&[victim]);
            faults.partitions += 1;
            tokio::time::sleep(lasts).await;
            site.lock().await.network.heal();
        }
    }
}

/// What one run saw, for the summary.
#[derive(Debug, Default)]
struct RunReport {
    written: u64,
    read: u64,
    unknown: u64,
    failed_reads: u64,
    faults: Faults,
}

/// Runs the workload of `seed` on a new site and checks its history.
async fn run(seed: u64) -> Result<RunReport, String> {
    let site: SharedSite = Arc::new(tokio::sync::Mutex::new(
        Site::with_voters(3, config()).await,
    ));
    let history = Arc::new(History::default());
    let until = Instant::now() + RUN;

    let clients: Vec<_> = (1..=CLIENTS)
        .map(|id| {
            let client = Client {
                id,
                rng: SplitMix64::new(seed, id),
                incarnation: 0,
                writes: 0,
            };
            tokio::spawn(client.run(site.clone(), history.clone(), until))
        })
        .collect();
    let faults = nemesis(site.clone(), SplitMix64::new(seed, 0), until).await;
    for client in clients {
        client
            .await
            .map_err(|e| format!("seed {seed}: client: {e}"))?;
    }

    // Stop every replica, so that no Raft task of this run outlives it.
    let mut site = Arc::try_unwrap(site)
        .map_err(|_| format!("seed {seed}: the site is still shared"))?
        .into_inner();
    site.network.heal();
    for id in site.ids() {
        site.kill(id).await;
    }

    let operations = history.operations();
    check(&operations).map_err(|why| {
        format!(
            "seed {seed}: not linearizable ({why}); replay with WARD_LINEARIZABILITY_SEED={seed}\n{}",
            describe(&operations)
        )
    })?;
    let count = |wanted: fn(&Outcome) -> bool| {
        operations.iter().filter(|op| wanted(&op.outcome)).count() as u64
    };
    Ok(RunReport {
        written: count(|o| *o == Outcome::Written),
        read: count(|o| matches!(o, Outcome::Read(_))),
        unknown: count(|o| *o == Outcome::Unknown),
        failed_reads: count(|o| *o == Outcome::Failed),
        faults,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_stays_linearizable_under_leader_kills_and_partitions() {
    let seeds: Vec<u64> = match std::env::var("WARD_LINEARIZABILITY_SEED") {
        Ok(seed) => vec![seed.parse().expect("WARD_LINEARIZABILITY_SEED is a number")],
        Err(_) => (1..=SEEDS).collect(),
    };
    let started = std::time::Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(SITES_AT_ONCE));
    let runs: Vec<_> = seeds
        .iter()
        .map(|&seed| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _turn = gate.acquire().await.expect("the gate stays open");
                run(seed).await
            })
        })
        .collect();

    let mut total = RunReport::default();
    let mut violations = Vec::new();
    for (seed, handle) in seeds.iter().zip(runs) {
        match handle.await {
            Ok(Ok(report)) => {
                total.written += report.written;
                total.read += report.read;
                total.unknown += report.unknown;
                total.failed_reads += report.failed_reads;
                total.faults.kills += report.faults.kills;
                total.faults.partitions += report.faults.partitions;
            }
            Ok(Err(violation)) => violations.push(violation),
            Err(panic) => violations.push(format!(
                "seed {seed} panicked: {panic}; replay with WARD_LINEARIZABILITY_SEED={seed}"
            )),
        }
    }
    println!(
        "{} seeds in {:?}: {} writes acknowledged, {} of unknown outcome, {} reads, {} reads \
         failed; {} leader kills, {} partitions",
        seeds.len(),
        started.elapsed(),
        total.written,
        total.unknown,
        total.read,
        total.failed_reads,
        total.faults.kills,
        total.faults.partitions,
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));

    // Runs in which nothing succeeded, or nothing failed, check little. (A replayed seed
    // alone may draw no fault of one kind.)
    let runs = seeds.len() as u64;
    assert!(total.written >= 5 * runs, "too few writes acknowledged");
    assert!(total.read >= 5 * runs, "too few reads answered");
    if runs == SEEDS {
        assert!(total.faults.kills > 0 && total.faults.partitions > 0);
    }
}

/// The checker and the way histories are handed to it reject what they must, and accept
/// what they must, on histories written by hand.
#[test]
fn the_checker_rejects_a_stale_read_and_accepts_what_a_register_allows() {
    fn op(process: u64, call: Call, span: (u64, u64), outcome: Outcome) -> Operation {
        Operation {
            process,
            call,
            invoked: span.0,
            returned: span.1,
            outcome,
        }
    }
    use Call::{Read, Write};
    use Outcome::{Failed, Read as Saw, Unknown, Written};

    // A read invoked after a write was acknowledged returns the value before it.
    let stale = [
        op(1, Write(7), (0, 1), Written),
        op(2, Read, (2, 3), Saw(UNWRITTEN)),
    ];
    assert!(check(&stale).is_err());

    // The same read overlapping the write may return either value.
    let concurrent = [
        op(1, Write(7), (0, 3), Written),
        op(2, Read, (1, 2), Saw(UNWRITTEN)),
        op(3, Read, (4, 5), Saw(7)),
    ];
    assert!(check(&concurrent).is_ok());

    // A value once read, here one of a write of unknown outcome, is not unread later...
    let unread = [
        op(1, Write(7), (0, 1), Unknown),
        op(2, Read, (2, 3), Saw(7)),
        op(2, Read, (4, 5), Saw(UNWRITTEN)),
    ];
    assert!(check(&unread).is_err());
    // ...but such a write may take effect long after it gave up...
    let late = [
        op(1, Write(7), (0, 1), Unknown),
        op(2, Read, (2, 3), Saw(UNWRITTEN)),
        op(2, Read, (4, 5), Saw(7)),
    ];
    assert!(check(&late).is_ok());
    // ...or never, and a failed read says nothing.
    let never = [
        op(1, Write(7), (0, 1), Unknown),
        op(2, Read, (2, 3), Failed),
        op(2, Read, (4, 5), Saw(UNWRITTEN)),
    ];
    assert!(check(&never).is_ok());

    // Two acknowledged writes in sequence: reading the first after the second is stale.
    let overwritten = [
        op(1, Write(7), (0, 1), Written),
        op(1, Write(8), (2, 3), Written),
        op(2, Read, (4, 5), Saw(7)),
    ];
    assert!(check(&overwritten).is_err());
}

/// A follower cut off from the leader still holds the value before the last write; its
/// local read returns it, its linearizable read refuses to, and once healed returns the new
/// value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_follower_refuses_a_stale_linearizable_read() {
    let site = Site::with_voters(3, config()).await;
    let leader = site.leader_within(support::WAIT).await;
    let follower = *site
        .ids()
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");
    let model = |value: u64| value.to_be_bytes().to_vec();
    assert_eq!(write(&site.replicas[&leader], 1).await, Outcome::Written);
    site.settled().await;

    site.network.isolate(&[follower]);
    assert_eq!(write(&site.replicas[&leader], 2).await, Outcome::Written);
    let cut_off = &site.replicas[&follower];
    let stale = cut_off.model_snapshot(CAMERA).expect("local read");
    assert_eq!(stale.map(|record| record.model), Some(model(1)));
    assert!(matches!(
        cut_off.model_snapshot_linearizable(CAMERA).await,
        Err(ward_consensus::ReplicaError::ReadTimeout(..))
    ));

    // Once healed, the site may hold an election first (the cut-off node's term may have
    // moved on); a read may fail while it does, but one that answers is never stale.
    site.network.heal();
    let deadline = Instant::now() + support::WAIT;
    let fresh = loop {
        match cut_off.model_snapshot_linearizable(CAMERA).await {
            Ok(fresh) => break fresh,
            Err(e) if Instant::now() < deadline => {
                println!("linearizable read after the heal failed, retried: {e}");
            }
            Err(e) => panic!(
                "no linearizable read within {:?} of the heal: {e}",
                support::WAIT
            ),
        }
    };
    assert_eq!(fresh.map(|record| record.model), Some(model(2)));
}
