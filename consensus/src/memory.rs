//! An in-memory [`RegistryTransport`] for tests of many replicas in one process.
//!
//! Every message is encoded and decoded with the wire functions of [`crate::transport`], size
//! limits included, exactly as over the mesh; only the bytes' journey is a function call. A
//! test can stop a node and cut links between groups of nodes, and heal them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::BasicNode;

use crate::replica::Replica;
use crate::transport::{
    RaftReply, RaftRequest, RegistryTransport, TransportError, decode_reply, decode_request,
    encode_reply, encode_request,
};

type NodeId = u64;

/// The switchboard every in-memory transport of one test shares.
#[derive(Clone, Debug, Default)]
pub struct MemoryNetwork {
    router: Arc<Mutex<Router>>,
}

#[derive(Debug, Default)]
struct Router {
    replicas: HashMap<NodeId, Replica<MemoryTransport>>,
    /// Directed links that drop every message.
    cut: HashSet<(NodeId, NodeId)>,
}

impl MemoryNetwork {
    /// A network with no replica on it.
    pub fn new() -> MemoryNetwork {
        MemoryNetwork::default()
    }

    /// The transport node `id` sends through.
    pub fn transport(&self, id: NodeId) -> MemoryTransport {
        MemoryTransport {
            from: id,
            network: self.clone(),
        }
    }

    /// Makes `replica` reachable.
    pub fn attach(&self, replica: Replica<MemoryTransport>) {
        self.router().replicas.insert(replica.id(), replica);
    }

    /// Makes node `id` unreachable, as if its process died, and hands back its replica.
    pub fn detach(&self, id: NodeId) -> Option<Replica<MemoryTransport>> {
        self.router().replicas.remove(&id)
    }

    /// Cuts every link between a node of `group` and a node outside it, both ways.
    pub fn isolate(&self, group: &[NodeId]) {
        let mut router = self.router();
        let everyone: Vec<NodeId> = router.replicas.keys().copied().collect();
        for &inside in group {
            for &outside in everyone.iter().filter(|n| !group.contains(n)) {
                router.cut.insert((inside, outside));
                router.cut.insert((outside, inside));
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.router().cut.clear();
    }

    fn router(&self) -> MutexGuard<'_, Router> {
        // A test that panicked while holding the lock has failed already; its state is still
        // what the remaining threads should see.
        self.router
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn route(&self, from: NodeId, to: NodeId) -> Option<Replica<MemoryTransport>> {
        let router = self.router();
        if router.cut.contains(&(from, to)) {
            return None;
        }
        router.replicas.get(&to).cloned()
    }
}

/// What one node sends through.
#[derive(Clone, Debug)]
pub struct MemoryTransport {
    from: NodeId,
    network: MemoryNetwork,
}

impl RegistryTransport for MemoryTransport {
    async fn send(
        &self,
        target: NodeId,
        _node: &BasicNode,
        request: RaftRequest,
    ) -> Result<RaftReply, TransportError> {
        let bytes = encode_request(&request)?;
        let replica = self
            .network
            .route(self.from, target)
            .ok_or(TransportError::Unreachable(target))?;
        let reply = replica.handle(decode_request(&bytes)?).await;
        let bytes = encode_reply(&reply)?;
        // A link cut, or the node stopped, while the request was being handled loses the reply.
        if self.network.route(target, self.from).is_none() {
            return Err(TransportError::ReplyLost(target));
        }
        Ok(decode_reply(&bytes)?)
    }
}
