//! A three-replica Ward site in this process, each replica on its own redb file, and the
//! writer that hands a client's writes to one of its replicas.
//!
//! The replicas exchange Raft's messages over [`ward_consensus::memory`]: encoded and
//! decoded as on the wire, size limits included, but handed over by a function call instead
//! of a socket. etcd's members talk over loopback TCP, so this transport favours Ward.
//!
//! The same site over real sockets, the mesh's registry transport, is [`crate::mesh`].

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use openraft::{BasicNode, ServerState};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use ward_consensus::memory::{MemoryNetwork, MemoryTransport};
use ward_consensus::transport::RegistryTransport;
use ward_consensus::{RegistryCommand, RegistryResponse, Replica, ReplicaConfig};

use crate::load::Writer;

/// How long the site may take to agree on a leader or to catch a replica up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the site's state is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(1);

/// The replicas of one site, their databases and the network between them.
#[derive(Debug)]
pub struct WardSite {
    /// Holds the databases; removed when the site is dropped.
    dir: tempfile::TempDir,
    network: MemoryNetwork,
    replicas: BTreeMap<u64, Replica<MemoryTransport>>,
    config: ReplicaConfig,
}

impl WardSite {
    /// Starts replicas 1 to `size` with the node's default configuration, makes them the
    /// site's voters and waits for a leader.
    pub async fn start(size: u64) -> anyhow::Result<WardSite> {
        // Under $TMPDIR, so that the script puts Ward's files on the disk etcd's are on.
        let dir = tempfile::tempdir().context("cannot create the site's directory")?;
        let mut site = WardSite {
            dir,
            network: MemoryNetwork::new(),
            replicas: BTreeMap::new(),
            config: ReplicaConfig::default(),
        };
        for id in 1..=size {
            site.start_replica(id).await?;
        }
        let members = (1..=size).map(|id| (id, node(id))).collect();
        site.replica(1)?
            .initialize(members)
            .await
            .context("cannot initialise the site")?;
        site.agreed_leader().await?;
        Ok(site)
    }

    /// Starts replica `id` from its database, which it creates on its first start.
    pub async fn start_replica(&mut self, id: u64) -> anyhow::Result<()> {
        let path = self.dir.path().join(format!("replica-{id}.redb"));
        let replica = Replica::start(id, &path, &self.config, self.network.transport(id))
            .await
            .with_context(|| format!("replica {id} does not start"))?;
        self.network.attach(replica.clone());
        self.replicas.insert(id, replica);
        Ok(())
    }

    /// Cuts replica `id` off at once, as if its process died, and stops it in the background;
    /// the returned task ends when its database is released for a restart.
    pub fn kill(&mut self, id: u64) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
        // Links are cut before the replica leaves the network: a replica still shutting down
        // could otherwise go on sending heartbeats and hold off the election.
        self.network.isolate(&[id]);
        self.network.detach(id);
        let replica = self
            .replicas
            .remove(&id)
            .with_context(|| format!("replica {id} is not running"))?;
        Ok(tokio::spawn(async move {
            replica
                .shutdown()
                .await
                .context("the killed replica does not stop")
        }))
    }

    /// Restores the links cut by [`WardSite::kill`], for a restarted replica.
    pub fn heal(&self) {
        self.network.heal();
    }

    /// The running replica `id`.
    pub fn replica(&self, id: u64) -> anyhow::Result<&Replica<MemoryTransport>> {
        self.replicas
            .get(&id)
            .with_context(|| format!("replica {id} is not running"))
    }

    /// A writer for each of `clients` clients, spread over the replicas in turn, so that
    /// most clients write through a follower that forwards to the leader, as in a site. The
    /// leader comes last in the turn, as etcd's does in [`crate::etcd::writers`], so that a
    /// lone client writes through a follower on both systems.
    pub async fn writers(&self, clients: usize) -> anyhow::Result<Vec<WardWriter>> {
        let leader = self.agreed_leader().await?;
        let mut replicas: Vec<_> = self.replicas.values().cloned().collect();
        replicas.sort_by_key(|replica| replica.id() == leader);
        let writers = (0..clients)
            .map(|i| WardWriter::new(replicas[i % replicas.len()].clone()))
            .collect();
        Ok(writers)
    }

    /// The running replica that considers itself leader, if any.
    pub fn self_declared_leader(&self) -> Option<&Replica<MemoryTransport>> {
        self.replicas.values().find(|replica| {
            let metrics = replica.metrics();
            metrics.state == ServerState::Leader && metrics.current_leader == Some(replica.id())
        })
    }

    /// The leader every running replica names, once they agree on a running one.
    pub async fn agreed_leader(&self) -> anyhow::Result<u64> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let named: Vec<Option<u64>> = self.replicas.values().map(|r| r.leader()).collect();
            if let Some(Some(leader)) = named.first()
                && named.iter().all(|n| *n == Some(*leader))
                && self.replicas.contains_key(leader)
            {
                return Ok(*leader);
            }
            if Instant::now() >= deadline {
                bail!("the replicas agree on no leader: {named:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every running replica has applied all that the leader has applied.
    pub async fn settled(&self) -> anyhow::Result<()> {
        let leader = self.agreed_leader().await?;
        let index = self
            .replica(leader)?
            .applied_index()
            .context("cannot read the leader's applied index")?
            .unwrap_or(0);
        for replica in self.replicas.values() {
            replica
                .wait_for_applied(index, SETTLE_TIMEOUT)
                .await
                .with_context(|| format!("replica {} does not catch up", replica.id()))?;
        }
        Ok(())
    }

    /// Stops every replica.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for (id, replica) in self.replicas {
            self.network.detach(id);
            replica
                .shutdown()
                .await
                .with_context(|| format!("replica {id} does not stop"))?;
        }
        Ok(())
    }
}

/// One client's writes, each handed to the same replica.
#[derive(Debug)]
pub struct WardWriter<T: RegistryTransport = MemoryTransport> {
    replica: Replica<T>,
}

impl<T: RegistryTransport> WardWriter<T> {
    /// A client writing through `replica`.
    pub fn new(replica: Replica<T>) -> Self {
        WardWriter { replica }
    }
}

impl<T: RegistryTransport> Writer for WardWriter<T> {
    async fn put(&mut self, key: String, value: Vec<u8>) -> anyhow::Result<()> {
        model_write(&self.replica, key, value).await
    }
}

/// Stores `model` as the anomaly model of `camera` through `replica`.
pub async fn model_write<T: RegistryTransport>(
    replica: &Replica<T>,
    camera: String,
    model: Vec<u8>,
) -> anyhow::Result<()> {
    let command = RegistryCommand::PutModelSnapshot { camera, model };
    match replica.write(command).await? {
        RegistryResponse::ModelStored { .. } => Ok(()),
        other => bail!("the registry answered {other:?}"),
    }
}

/// Where replica `id` is reached, as the membership records it; the in-memory transport
/// routes by id and never reads it.
fn node(id: u64) -> BasicNode {
    BasicNode::new(format!("replica-{id}"))
}
