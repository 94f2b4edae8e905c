//! The harness the multi-replica tests share: a site of replicas in one process, each on its
//! own redb file, over the in-memory transport.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use openraft::BasicNode;
use tokio::time::Instant;
use ward_consensus::memory::{MemoryNetwork, MemoryTransport};
use ward_consensus::registry::SECRET_HASH_LEN;
use ward_consensus::{RegistryCommand, Replica, ReplicaConfig, TokenRole};

pub const WAIT: Duration = Duration::from_secs(10);
pub const NOW: u64 = 1_800_000_000;

pub struct Site {
    dir: tempfile::TempDir,
    pub network: MemoryNetwork,
    pub replicas: HashMap<u64, Replica<MemoryTransport>>,
    pub config: ReplicaConfig,
}

impl Site {
    /// A site of `size` voters, initialised and with a leader.
    pub async fn new(size: u64) -> Site {
        Site::with_voters(size, ReplicaConfig::default()).await
    }

    /// A site of `size` voters with `config`, initialised and with a leader.
    pub async fn with_voters(size: u64, config: ReplicaConfig) -> Site {
        let mut site = Site {
            dir: tempfile::tempdir().expect("temp dir"),
            network: MemoryNetwork::new(),
            replicas: HashMap::new(),
            config,
        };
        for id in 1..=size {
            site.start(id).await;
        }
        let members: BTreeMap<u64, BasicNode> = (1..=size).map(|id| (id, node(id))).collect();
        site.replicas[&1]
            .initialize(members)
            .await
            .expect("first node initialises the site");
        site.leader_within(WAIT).await;
        site
    }

    pub async fn start(&mut self, id: u64) {
        let path = self.dir.path().join(format!("node-{id}.redb"));
        let replica = Replica::start(id, &path, &self.config, self.network.transport(id))
            .await
            .expect("replica starts");
        self.network.attach(replica.clone());
        self.replicas.insert(id, replica);
    }

    pub async fn kill(&mut self, id: u64) {
        self.network.detach(id);
        let replica = self.replicas.remove(&id).expect("running");
        replica.shutdown().await.expect("stops");
    }

    /// The leader all running replicas agree on, once there is one.
    pub async fn leader_within(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let leaders: Vec<Option<u64>> = self.replicas.values().map(|r| r.leader()).collect();
            if let Some(Some(leader)) = leaders.first()
                && leaders.iter().all(|l| *l == Some(*leader))
                && self.replicas.contains_key(leader)
            {
                return *leader;
            }
            assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.replicas.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Waits until every running replica has applied what the leader has applied. The
    /// leader's index is read from its database, where an acknowledged write already is;
    /// openraft's metrics may report it a moment later.
    pub async fn settled(&self) {
        let leader = self.leader_within(WAIT).await;
        let index = self.replicas[&leader]
            .applied_index()
            .expect("leader's applied index")
            .unwrap_or(0);
        for replica in self.replicas.values() {
            replica
                .wait_for_applied(index, WAIT)
                .await
                .expect("replica catches up");
        }
    }
}

pub fn create(id: &str) -> RegistryCommand {
    RegistryCommand::CreateJoinToken {
        id: id.as_bytes().to_vec(),
        secret_hash: vec![7; SECRET_HASH_LEN],
        role: TokenRole::Camera,
        expires_at: NOW + 3600,
    }
}

pub fn consume(id: &str, consumer: &str) -> RegistryCommand {
    RegistryCommand::ConsumeJoinToken {
        id: id.as_bytes().to_vec(),
        secret_hash: vec![7; SECRET_HASH_LEN],
        consumer: consumer.into(),
        now: NOW,
    }
}

/// Where node `id` is reached, as the membership records it.
pub fn node(id: u64) -> BasicNode {
    BasicNode::new(format!("node-{id}"))
}
