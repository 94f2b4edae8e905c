//! One node's copy of the site registry: openraft running over the redb log and state
//! machine, answering its peers' Raft messages and taking registry writes.
//!
//! A write may be handed to any replica. A follower hands it to the leader it knows of, over
//! the transport; while an election is under way (no leader known), it waits and asks again,
//! up to [`ReplicaConfig::write_timeout`]. The answer is given only once the write is
//! committed by a majority and applied, so an acknowledged write survives the loss of any
//! minority of the site's nodes.
//!
//! A replica has one proposal out at a time; the writes handed to it meanwhile go out
//! together as one [`RegistryCommand::Batch`] entry when the proposal returns, each with its
//! own answer. Under load, one log entry, one fsync per member and one forward to the leader
//! carry many writes.
//!
//! A write is proposed at most once. It is asked again only when it certainly never entered
//! a leader's log (no leader, the leader unreachable, or a node that turned out not to lead);
//! once a leader may have appended it, a lost answer fails the write with
//! [`ReplicaError::WriteOutcomeUnknown`] instead. Sent twice, it could be applied twice: a
//! join token refused as used by its own consumer, a model snapshot stored again over a newer
//! one.
//!
//! Reads are local: a replica answers from its own state machine, which on a follower (or on
//! a leader already deposed without knowing it) may be behind. A read that must see every
//! write acknowledged before it began first passes [`Replica::ensure_linearizable`], Raft's
//! read index (Raft thesis §6.4):
//!
//! ```text
//! follower ──ReadIndex──▶ leader: heartbeat to a quorum (still the leader?), answer
//!          ◀──log id────          max(commit index, first entry of its term)
//! follower: wait until applied ≥ that index, then read locally
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, InitializeError, RaftError};
use openraft::metrics::WaitError;
use openraft::{BasicNode, Raft, RaftMetrics, SnapshotPolicy};
use redb::{ReadableTable as _, TableDefinition, TableError};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::registry::{
    JOIN_TOKENS, JoinTokenRecord, MAX_BATCH_COMMANDS, MODEL_SNAPSHOTS, ModelSnapshotRecord,
};
use crate::transport::{Network, RaftReply, RaftRequest, RegistryTransport, TransportError};
use crate::{OpenError, RedbStateMachine, RegistryCommand, RegistryResponse, SiteRaft, frame};

type NodeId = u64;

/// How long a stopped replica waits for Raft to stop, and then for the last user of its
/// database to let go.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait between attempts while no leader is known.
const LEADER_RETRY: Duration = Duration::from_millis(50);

/// The most bytes of commands (by [`RegistryCommand::size_hint`]) a replica puts in one
/// batch; a single larger command goes alone. With [`MAX_ENTRIES_PER_APPEND`], this keeps an
/// AppendEntries message well under the transport's limit.
const MAX_BATCH_BYTES: usize = 128 << 10;

/// The most entries the leader sends in one AppendEntries message: 32 batches of at most
/// [`MAX_BATCH_BYTES`] are 4 MiB, half of [`crate::transport::MAX_REQUEST_LEN`].
const MAX_ENTRIES_PER_APPEND: u64 = 32;
const _: () = assert!(
    MAX_ENTRIES_PER_APPEND as usize * MAX_BATCH_BYTES <= crate::transport::MAX_REQUEST_LEN / 2
);

/// Timing and snapshot policy of a replica.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// A follower that hears no leader for a random time in this range starts an election.
    pub election_timeout: (Duration, Duration),
    /// A snapshot is built every this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot, so that a briefly lagging follower catches
    /// up from the log instead of a snapshot.
    pub keep_behind_snapshot: u64,
    /// How long a write, or a linearizable read's wait for its read index, may take,
    /// forwarding and elections included, before it fails.
    pub write_timeout: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            heartbeat: Duration::from_millis(100),
            // Well above a loaded site's round trip, well below the 3 s a failover may take.
            election_timeout: (Duration::from_millis(500), Duration::from_millis(1000)),
            snapshot_every: 5_000,
            keep_behind_snapshot: 1_000,
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a replica could not start, or a write did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The configuration is not one openraft accepts.
    #[error("raft configuration: {0}")]
    Config(String),
    /// Raft stopped: a storage failure, or shutdown.
    #[error("raft stopped: {0}")]
    Stopped(String),
    /// The cluster was initialised already, or the membership is unusable.
    #[error("cannot initialise the site: {0}")]
    Initialize(String),
    /// No leader committed the write in time.
    #[error("write not committed within {0:?}: {1}")]
    WriteTimeout(Duration, String),
    /// The write reached a leader, whose answer was lost: it may be committed, now or later,
    /// or never. Only reading the registry tells.
    #[error("write outcome unknown: {0}")]
    WriteOutcomeUnknown(String),
    /// The registry could not be read.
    #[error("registry read failed: {0}")]
    Read(String),
    /// No leader confirmed a read index in time, or this replica did not apply up to it in
    /// time; nothing was read.
    #[error("no linearizable read within {0:?}: {1}")]
    ReadTimeout(Duration, String),
}

/// What only the leader can do, and followers hand on to it.
enum LeaderTask {
    Write(RegistryCommand),
    AddLearner(NodeId, BasicNode),
}

impl LeaderTask {
    /// Whether doing the task twice is as doing it once. Adding a learner is; a registry
    /// write is not.
    fn is_idempotent(&self) -> bool {
        matches!(self, LeaderTask::AddLearner(..))
    }
}

/// Why handing a task to the leader failed.
enum ForwardError {
    /// The task never entered the leader's log: it may be sent again.
    NotDone(String),
    /// The leader may have appended the task before its answer was lost.
    Unknown(String),
}

/// One node's replica of the site registry.
#[derive(Clone)]
pub struct Replica<T: RegistryTransport> {
    id: NodeId,
    raft: Raft<SiteRaft>,
    state_machine: RedbStateMachine,
    /// Tells when the log store and its sync thread have let go of the database.
    log_lease: std::sync::Weak<()>,
    transport: T,
    write_timeout: Duration,
    writes: Arc<WriteQueue>,
}

/// The writes handed to one replica and not proposed yet, and whose turn it is to propose.
///
/// A replica has one proposal out at a time. The writes that arrive meanwhile wait in the
/// queue, and the first of them to get the turn proposes all of them (up to a batch's limits)
/// as one [`RegistryCommand::Batch`]: under load, one log entry, one replication round and
/// one forward to the leader carry many writes, as one fsync already carries many entries.
/// A lone write goes as itself.
#[derive(Default)]
struct WriteQueue {
    waiting: std::sync::Mutex<VecDeque<QueuedWrite>>,
    /// Held while a proposal is out. Fair: the writes take their turns in arrival order.
    turn: tokio::sync::Mutex<()>,
}

struct QueuedWrite {
    command: RegistryCommand,
    answer: oneshot::Sender<Result<RegistryResponse, ReplicaError>>,
}

impl WriteQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<QueuedWrite>> {
        // Nothing panics while holding the lock; a poisoned queue is still a sound queue.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The writes at the head of the queue that fit in one batch; at least one, if any wait.
    fn next_batch(&self) -> Vec<QueuedWrite> {
        let mut waiting = self.waiting();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = waiting.front() {
            let size = next.command.size_hint();
            if !batch.is_empty()
                && (batch.len() == MAX_BATCH_COMMANDS || bytes + size > MAX_BATCH_BYTES)
            {
                break;
            }
            bytes += size;
            batch.extend(waiting.pop_front());
        }
        batch
    }
}

impl<T: RegistryTransport> std::fmt::Debug for Replica<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<T: RegistryTransport> Replica<T> {
    /// Starts replica `id` on the registry database at `path`, talking through `transport`.
    /// A restarted replica resumes from what its database holds.
    pub async fn start(
        id: NodeId,
        path: &Path,
        config: &ReplicaConfig,
        transport: T,
    ) -> Result<Replica<T>, ReplicaError> {
        let (log, state_machine) = crate::open(path)?;
        Self::start_on(id, log, state_machine, config, transport).await
    }

    /// Starts replica `id` with its tables in `db`, a database the node shares with its other
    /// parts (its tables are named `raft.*` and `registry.*`). [`Replica::shutdown`] returns
    /// once the replica no longer holds `db`; the other holders keep it open.
    pub async fn start_in(
        id: NodeId,
        db: Arc<redb::Database>,
        config: &ReplicaConfig,
        transport: T,
    ) -> Result<Replica<T>, ReplicaError> {
        let (log, state_machine) = crate::from_database(db)?;
        Self::start_on(id, log, state_machine, config, transport).await
    }

    async fn start_on(
        id: NodeId,
        log: crate::RedbLogStore,
        state_machine: RedbStateMachine,
        config: &ReplicaConfig,
        transport: T,
    ) -> Result<Replica<T>, ReplicaError> {
        let raft_config = openraft::Config {
            cluster_name: "ward-site".into(),
            heartbeat_interval: millis(config.heartbeat),
            election_timeout_min: millis(config.election_timeout.0),
            election_timeout_max: millis(config.election_timeout.1),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
            max_in_snapshot_log_to_keep: config.keep_behind_snapshot,
            max_payload_entries: MAX_ENTRIES_PER_APPEND,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ReplicaError::Config(e.to_string()))?;
        let log_lease = log.lease();
        let raft = Raft::new(
            id,
            Arc::new(raft_config),
            Network::new(transport.clone()),
            log,
            state_machine.clone(),
        )
        .await
        .map_err(|e| ReplicaError::Stopped(e.to_string()))?;
        info!(node = id, "registry replica started");
        Ok(Replica {
            id,
            raft,
            state_machine,
            log_lease,
            transport,
            write_timeout: config.write_timeout,
            writes: Arc::default(),
        })
    }

    /// This replica's node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub(crate) fn raft(&self) -> &Raft<SiteRaft> {
        &self.raft
    }

    pub(crate) fn transport(&self) -> &T {
        &self.transport
    }

    /// Makes `members` the site's first voters. Done once, by the site's first node; a second
    /// call, here or at any member, is refused.
    pub async fn initialize(
        &self,
        members: BTreeMap<NodeId, BasicNode>,
    ) -> Result<(), ReplicaError> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(e))) => {
                Err(ReplicaError::Initialize(e.to_string()))
            }
            Err(e) => Err(ReplicaError::Initialize(e.to_string())),
        }
    }

    /// Whether this replica's log or vote shows it has been part of a site: a replica that
    /// was initialised, or added to a site, even if it has not caught up. Read from Raft's
    /// own state, so it is right at once after [`Replica::start`], before the metrics are.
    pub async fn is_initialized(&self) -> Result<bool, ReplicaError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| ReplicaError::Stopped(e.to_string()))
    }

    /// Raft's view of this replica: its role, term, leader, log and membership.
    pub fn metrics(&self) -> RaftMetrics<NodeId, BasicNode> {
        self.raft.metrics().borrow().clone()
    }

    /// Waits until this replica has applied the log up to `index`, or `timeout` passes.
    pub async fn wait_for_applied(
        &self,
        index: u64,
        timeout: Duration,
    ) -> Result<(), ReplicaError> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "registry caught up")
            .await
            .map(|_| ())
            .map_err(|e| ReplicaError::Stopped(e.to_string()))
    }

    /// The index of the last entry this replica applied, read from its database.
    pub fn applied_index(&self) -> Result<Option<u64>, ReplicaError> {
        self.state_machine
            .applied_index()
            .map_err(|e| ReplicaError::Read(e.to_string()))
    }

    /// The leader this replica knows of, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// Commits `command` through the leader and returns what applying it produced. Proposed
    /// at most once: [`ReplicaError::WriteOutcomeUnknown`] when the leader's answer was lost,
    /// [`ReplicaError::WriteTimeout`] when no leader took it in time.
    pub async fn write(&self, command: RegistryCommand) -> Result<RegistryResponse, ReplicaError> {
        if matches!(command, RegistryCommand::Batch(_)) {
            // A caller's own batch goes as it is; batches do not nest.
            return self.through_leader(LeaderTask::Write(command)).await;
        }
        let (answer, mut answered) = oneshot::channel();
        self.writes
            .waiting()
            .push_back(QueuedWrite { command, answer });
        loop {
            let turn = self.writes.turn.lock().await;
            match answered.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = self.writes.next_batch();
            if batch.is_empty() {
                // This write is in a proposal still out, whose proposer gave its turn up
                // early: the proposal answers it.
                drop(turn);
                return answered.await.unwrap_or_else(|_| Err(abandoned()));
            }
            // A task of its own, so that a caller who stops waiting does not abandon the
            // other writes of the batch.
            let _ = tokio::spawn(self.clone().propose(batch)).await;
        }
    }

    /// Proposes `batch` at the leader and answers each of its writes.
    async fn propose(self, batch: Vec<QueuedWrite>) {
        let (commands, answers): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|write| (write.command, write.answer))
            .unzip();
        let count = commands.len();
        let command = match <[RegistryCommand; 1]>::try_from(commands) {
            Ok([single]) => single,
            Err(commands) => RegistryCommand::Batch(commands),
        };
        let result = self.through_leader(LeaderTask::Write(command)).await;
        let responses: Vec<Result<RegistryResponse, ReplicaError>> = match result {
            Ok(RegistryResponse::Batch(responses)) if count > 1 && responses.len() == count => {
                responses.into_iter().map(Ok).collect()
            }
            Ok(response) if count == 1 => vec![Ok(response)],
            Ok(other) => {
                let error = format!("the registry answered a batch of {count} with {other:?}");
                (0..count)
                    .map(|_| Err(ReplicaError::Stopped(error.clone())))
                    .collect()
            }
            Err(error) => (0..count).map(|_| Err(error.duplicate())).collect(),
        };
        for (answer, response) in answers.into_iter().zip(responses) {
            // The caller may have stopped waiting; the write happened all the same.
            let _ = answer.send(response);
        }
    }

    /// Adds node `id`, reachable at `node`, as a learner: it receives the log (or a snapshot)
    /// but does not vote until the leader promotes it.
    pub async fn add_learner(&self, id: NodeId, node: BasicNode) -> Result<(), ReplicaError> {
        self.through_leader(LeaderTask::AddLearner(id, node))
            .await
            .map(|_| ())
    }

    /// Runs `task` (a write or a learner to add) at the leader, forwarding it when this
    /// replica is not the leader, and waits until it is committed. A task is tried again only
    /// if it is idempotent or certainly not in any log.
    async fn through_leader(&self, task: LeaderTask) -> Result<RegistryResponse, ReplicaError> {
        let deadline = Instant::now() + self.write_timeout;
        loop {
            // openraft's calls have no deadline of their own: a leader cut off from its
            // quorum keeps a write waiting until it hears of a newer term. Past the deadline,
            // a write it may have appended has an unknown outcome.
            let local = async {
                match &task {
                    LeaderTask::Write(command) => self.raft.client_write(command.clone()).await,
                    LeaderTask::AddLearner(id, node) => {
                        self.raft.add_learner(*id, node.clone(), false).await
                    }
                }
            };
            let Ok(local) = tokio::time::timeout_at(deadline, local).await else {
                return Err(if task.is_idempotent() {
                    ReplicaError::WriteTimeout(self.write_timeout, "no answer from Raft".into())
                } else {
                    ReplicaError::WriteOutcomeUnknown(
                        "no answer from Raft within the write timeout".into(),
                    )
                });
            };
            let attempt = match local {
                Ok(written) => return Ok(written.data),
                // openraft answers ForwardToLeader before appending, or for an entry it
                // appended and then truncated: either way the entry is in no log.
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                    match (forward.leader_id, forward.leader_node) {
                        (Some(leader), Some(node)) => {
                            tokio::time::timeout_at(deadline, self.forward(leader, &node, &task))
                                .await
                                .unwrap_or_else(|_| {
                                    Err(ForwardError::Unknown(format!(
                                        "leader {leader}: no answer in time"
                                    )))
                                })
                        }
                        _ => Err(ForwardError::NotDone("no leader known".to_string())),
                    }
                }
                Err(RaftError::APIError(error)) => Err(ForwardError::NotDone(error.to_string())),
                Err(RaftError::Fatal(fatal)) => {
                    return Err(ReplicaError::Stopped(fatal.to_string()));
                }
            };
            let last_error = match attempt {
                Ok(response) => return Ok(response),
                Err(ForwardError::NotDone(error)) => error,
                Err(ForwardError::Unknown(error)) if task.is_idempotent() => error,
                Err(ForwardError::Unknown(error)) => {
                    return Err(ReplicaError::WriteOutcomeUnknown(error));
                }
            };
            if Instant::now() + LEADER_RETRY > deadline {
                return Err(ReplicaError::WriteTimeout(self.write_timeout, last_error));
            }
            debug!(node = self.id, error = %last_error, "write retried");
            tokio::time::sleep(LEADER_RETRY).await;
        }
    }

    /// Hands `task` to the leader, and tells from a failure whether the leader may have
    /// appended it.
    async fn forward(
        &self,
        leader: NodeId,
        node: &BasicNode,
        task: &LeaderTask,
    ) -> Result<RegistryResponse, ForwardError> {
        let request = match task {
            LeaderTask::Write(command) => RaftRequest::Write(command.clone()),
            LeaderTask::AddLearner(id, node) => RaftRequest::AddLearner(*id, node.clone()),
        };
        let failed = |error: &dyn std::fmt::Display| format!("leader {leader}: {error}");
        match self.transport.send(leader, node, request).await {
            Ok(RaftReply::Write(Ok(written))) => Ok(written.data),
            Ok(RaftReply::Write(Err(RaftError::APIError(error)))) => {
                Err(ForwardError::NotDone(failed(&error)))
            }
            // The leader stopped, perhaps after appending the task.
            Ok(RaftReply::Write(Err(RaftError::Fatal(fatal)))) => {
                Err(ForwardError::Unknown(failed(&fatal)))
            }
            Ok(_) => Err(ForwardError::Unknown(
                TransportError::Mismatch(leader).to_string(),
            )),
            // Only a request that never left is known not to have been done; a lost or
            // garbled answer may follow an append.
            Err(error @ TransportError::Unreachable(_)) => {
                Err(ForwardError::NotDone(error.to_string()))
            }
            Err(error) => Err(ForwardError::Unknown(error.to_string())),
        }
    }

    /// Answers a peer's message.
    pub async fn handle(&self, request: RaftRequest) -> RaftReply {
        match request {
            RaftRequest::AppendEntries(rpc) => {
                RaftReply::AppendEntries(self.raft.append_entries(rpc).await)
            }
            RaftRequest::Vote(rpc) => RaftReply::Vote(self.raft.vote(rpc).await),
            RaftRequest::InstallSnapshot(rpc) => {
                RaftReply::InstallSnapshot(self.raft.install_snapshot(rpc).await)
            }
            // Only the leader takes a forwarded write; a replica that lost leadership since
            // answers ForwardToLeader and the sender tries again.
            RaftRequest::Write(command) => RaftReply::Write(self.raft.client_write(command).await),
            RaftRequest::AddLearner(id, node) => {
                RaftReply::Write(self.raft.add_learner(id, node, false).await)
            }
            RaftRequest::Probe => RaftReply::Probe(self.metrics().last_applied.map(|id| id.index)),
            // Only the leader gives a read index; a replica that is not answers
            // ForwardToLeader and the follower asks again.
            RaftRequest::ReadIndex => {
                RaftReply::ReadIndex(self.raft.get_read_log_id().await.map(|(read, _)| read))
            }
        }
    }

    /// Waits until a read of this replica's registry is linearizable: it will see every write
    /// acknowledged, at any replica, before this call began. Returns the read index, the
    /// last log index the read is guaranteed to reflect (`None` for a site that never
    /// committed anything).
    ///
    /// The leader confirms with a quorum that it still leads and names its read index; this
    /// replica, leader or follower, then waits until it has applied that index. Asking the
    /// leader, forwarding included, and the wait for the apply share
    /// [`ReplicaConfig::write_timeout`]; past it the read fails with
    /// [`ReplicaError::ReadTimeout`], as a cut-off minority's reads do.
    pub async fn ensure_linearizable(&self) -> Result<Option<u64>, ReplicaError> {
        let deadline = Instant::now() + self.write_timeout;
        let read_index = self.read_index(deadline).await?;
        if let Some(index) = read_index {
            let remaining = deadline.saturating_duration_since(Instant::now());
            self.raft
                .wait(Some(remaining))
                .applied_index_at_least(Some(index), "linearizable read")
                .await
                .map_err(|error| match error {
                    WaitError::Timeout(..) => ReplicaError::ReadTimeout(
                        self.write_timeout,
                        format!("read index {index} not applied here"),
                    ),
                    WaitError::ShuttingDown => ReplicaError::Stopped(error.to_string()),
                })?;
        }
        Ok(read_index)
    }

    /// The leader's read index: asked of openraft when this replica leads, of the leader it
    /// knows of otherwise, again and again until `deadline` while no leader answers.
    async fn read_index(&self, deadline: Instant) -> Result<Option<u64>, ReplicaError> {
        loop {
            let attempt = match self.raft.get_read_log_id().await {
                Ok((read, _applied)) => Ok(read.map(|id| id.index)),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward))) => {
                    match (forward.leader_id, forward.leader_node) {
                        (Some(leader), Some(node)) => self.forward_read_index(leader, &node).await,
                        _ => Err("no leader known".to_string()),
                    }
                }
                // A leader that heard from no quorum within a heartbeat may have been deposed.
                Err(RaftError::APIError(error)) => Err(error.to_string()),
                Err(RaftError::Fatal(fatal)) => {
                    return Err(ReplicaError::Stopped(fatal.to_string()));
                }
            };
            let last_error = match attempt {
                Ok(index) => return Ok(index),
                Err(error) => error,
            };
            if Instant::now() + LEADER_RETRY > deadline {
                return Err(ReplicaError::ReadTimeout(self.write_timeout, last_error));
            }
            debug!(node = self.id, error = %last_error, "read index retried");
            tokio::time::sleep(LEADER_RETRY).await;
        }
    }

    /// Asks `leader` for its read index; `Err` with the reason when it should be asked again.
    async fn forward_read_index(
        &self,
        leader: NodeId,
        node: &BasicNode,
    ) -> Result<Option<u64>, String> {
        match self
            .transport
            .send(leader, node, RaftRequest::ReadIndex)
            .await
        {
            Ok(RaftReply::ReadIndex(Ok(read))) => Ok(read.map(|id| id.index)),
            Ok(RaftReply::ReadIndex(Err(error))) => Err(format!("leader {leader}: {error}")),
            Ok(_) => Err(TransportError::Mismatch(leader).to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The join token `id` as this replica last applied it.
    pub fn join_token(&self, id: &[u8]) -> Result<Option<JoinTokenRecord>, ReplicaError> {
        self.read_record(JOIN_TOKENS, id)
    }

    /// The anomaly model of `camera` as this replica last applied it. A follower may be
    /// behind the leader; this is a local read, not a linearizable one.
    pub fn model_snapshot(
        &self,
        camera: &str,
    ) -> Result<Option<ModelSnapshotRecord>, ReplicaError> {
        self.read_record(MODEL_SNAPSHOTS, camera.as_bytes())
    }

    /// The anomaly model of `camera`, read linearizably: the model of the last
    /// [`RegistryCommand::PutModelSnapshot`] for it acknowledged before this call began, or
    /// of one committed since. Costs the leader a heartbeat round to a quorum, and a
    /// follower a message to the leader; see [`Replica::ensure_linearizable`].
    pub async fn model_snapshot_linearizable(
        &self,
        camera: &str,
    ) -> Result<Option<ModelSnapshotRecord>, ReplicaError> {
        self.ensure_linearizable().await?;
        self.model_snapshot(camera)
    }

    /// The record under `key` in one of the registry's tables, checked against its checksum.
    pub(crate) fn read_record<R: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<'static, &'static [u8], &'static [u8]>,
        key: &[u8],
    ) -> Result<Option<R>, ReplicaError> {
        let read = |e: &dyn std::fmt::Display| ReplicaError::Read(e.to_string());
        let txn = self.state_machine.read().map_err(|e| read(&e))?;
        let table = match txn.open_table(table) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(read(&e)),
        };
        match table.get(key).map_err(|e| read(&e))? {
            Some(bytes) => frame::open(bytes.value()).map(Some).map_err(|e| read(&e)),
            None => Ok(None),
        }
    }

    /// Stops Raft and waits until the replica has let go of its database (openraft's tasks
    /// and messages still being answered hold it for a moment). A database the replica had
    /// to itself is then closed, so that the node can be started again from it; a shared one
    /// stays open for its other holders. The database keeps everything for that restart.
    pub async fn shutdown(self) -> Result<(), ReplicaError> {
        let leases = [self.state_machine.lease(), self.log_lease.clone()];
        tokio::time::timeout(RELEASE_TIMEOUT, self.raft.shutdown())
            .await
            .map_err(|_| ReplicaError::Stopped("raft did not stop in time".into()))?
            .map_err(|e| ReplicaError::Stopped(e.to_string()))?;
        drop(self);
        let deadline = Instant::now() + RELEASE_TIMEOUT;
        while leases.iter().any(|lease| lease.strong_count() > 0) {
            if Instant::now() >= deadline {
                return Err(ReplicaError::Stopped(
                    "the registry database is still in use".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

/// The error for a write whose proposal ended without an answer: its task was cancelled,
/// which happens only when the runtime stops.
fn abandoned() -> ReplicaError {
    ReplicaError::WriteOutcomeUnknown("the proposal carrying the write was abandoned".into())
}

impl ReplicaError {
    /// The same error, for another write of the batch that failed with it.
    fn duplicate(&self) -> ReplicaError {
        match self {
            ReplicaError::WriteTimeout(timeout, why) => {
                ReplicaError::WriteTimeout(*timeout, why.clone())
            }
            ReplicaError::WriteOutcomeUnknown(why) => {
                ReplicaError::WriteOutcomeUnknown(why.clone())
            }
            ReplicaError::Stopped(why) => ReplicaError::Stopped(why.clone()),
            other => ReplicaError::Stopped(other.to_string()),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
