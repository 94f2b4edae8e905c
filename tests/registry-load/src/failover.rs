//! Leader failover of a three-replica Ward site: the leader is killed again and again, and
//! each time the time from the kill until a new leader commits a write is taken.
//!
//! ```text
//! settled site ──kill leader──▶ survivors elect ──▶ new leader commits a write ──▶ time taken
//!      ▲                                                                              │
//!      └──────────── killed replica restarted from its redb file, caught up ◀─────────┘
//! ```
//!
//! The site runs the node's default timing ([`ward_consensus::ReplicaConfig::default`]):
//! heartbeats every 100 ms, an election timeout drawn from 500 to 1,000 ms. openraft 0.9 has
//! a follower that followed a leader wait out that leader's lease (the longest election
//! timeout, 1,000 ms) before its own timeout starts, so most of a failover is 1.5 to 2 s of
//! waiting that the configuration sets, not work.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::time::Instant;

use crate::ward::{WardSite, model_write};

/// How long one failover may take before the run is abandoned.
const FAILOVER_LIMIT: Duration = Duration::from_secs(30);

/// How often the survivors are looked at for a new leader: well below the times measured.
const POLL: Duration = Duration::from_millis(1);

/// Kills the leader of a fresh three-replica site `kills` times and returns how long each
/// failover took, in the order they happened.
pub async fn run(kills: usize) -> anyhow::Result<Vec<Duration>> {
    let mut site = WardSite::start(3).await?;
    let mut times = Vec::with_capacity(kills);
    for kill in 1..=kills {
        // A write before each kill, so that every failover starts from a site with a log
        // to carry over, and from a leader all three replicas follow.
        let leader = site.agreed_leader().await?;
        model_write(site.replica(leader)?, "failover".into(), vec![0; 256]).await?;
        site.settled().await?;

        let killed_at = Instant::now();
        let stopping = site.kill(leader)?;
        let new_leader = first_commit_after(&site, killed_at, kill).await?;
        let took = killed_at.elapsed();
        times.push(took);
        eprintln!(
            "registry-load: kill {kill}: leader {leader} killed, replica {new_leader} committed \
             after {:.1} ms",
            crate::latency::millis(took)
        );

        // The killed replica comes back from its database, as a restarted node would.
        stopping
            .await
            .context("the killed replica's shutdown panicked")??;
        site.heal();
        site.start_replica(leader).await?;
        site.settled().await?;
    }
    site.shutdown().await?;
    Ok(times)
}

/// Waits for a survivor to declare itself leader and commit a write, and returns its id.
async fn first_commit_after(
    site: &WardSite,
    killed_at: Instant,
    kill: usize,
) -> anyhow::Result<u64> {
    loop {
        if killed_at.elapsed() > FAILOVER_LIMIT {
            bail!("no new leader committed within {FAILOVER_LIMIT:?} of kill {kill}");
        }
        let Some(candidate) = site.self_declared_leader() else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        // openraft commits a blank entry of the new term first; the write commits after it,
        // so its acknowledgement shows the leader can serve clients. Should the candidate be
        // deposed meanwhile, the write goes on to its successor, as a client's would.
        match model_write(candidate, format!("failover-{kill}"), vec![0; 256]).await {
            Ok(()) => return Ok(candidate.id()),
            Err(error) => eprintln!(
                "registry-load: kill {kill}: write at {} failed: {error:#}",
                candidate.id()
            ),
        }
    }
}
