//! A three-node Ward site in this process over real sockets: each node runs the mesh
//! (libp2p over loopback TCP with Noise and Yamux, admission by node credential) and a
//! replica of the registry on its own redb file, and Raft's messages travel over the mesh's
//! `/ward/registry/1` protocol as in `ward run`. etcd's members talk over loopback TCP too,
//! so neither system is spared the sockets.
//!
//! The fleet is made here with `ward_crypto::issue`: a fleet root, a site CA and a node
//! credential per node, as `ward run` makes a development fleet.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::time::Instant;
use ward_consensus::{Replica, ReplicaConfig};
use ward_crypto::issue::{CredentialRequest, Issuer, fleet_root};
use ward_crypto::{FleetRoot, NoRevocations, Role, SecretKey};
use ward_node::mesh::{
    Admission, AdmissionMessage, Mesh, MeshConfig, MeshHandle, MeshRegistryTransport, raft_node_id,
    registry_member,
};
use ward_node::store::MeshStore;

use crate::ward::WardWriter;

/// How long the nodes may take to admit each other and agree on a leader.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the site's state is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(5);

/// The nodes of one site, their databases and their meshes.
#[derive(Debug)]
pub struct MeshSite {
    /// Holds the databases; removed when the site is dropped.
    _dir: tempfile::TempDir,
    meshes: Vec<MeshHandle>,
    replicas: BTreeMap<u64, Replica<MeshRegistryTransport>>,
}

impl MeshSite {
    /// Starts `size` nodes of a new fleet, connects them, makes them the site's voters and
    /// waits for a leader.
    pub async fn start(size: usize) -> anyhow::Result<MeshSite> {
        // Under $TMPDIR, so that the script puts Ward's files on the disk etcd's are on.
        let dir = tempfile::tempdir().context("cannot create the site's directory")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("a clock before 1970")?
            .as_secs();
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let root_key = SecretKey::generate_ed25519(&mut rng);
        let root = fleet_root("fleet-bench", &root_key, now, 86_400, &mut rng)?;
        let site_key = SecretKey::generate_p256(&mut rng);
        let site_request = CredentialRequest {
            subject: "site-bench".into(),
            role: Role::SiteCa,
            key: site_key.public_key(),
            scopes: Vec::new(),
            lifetime_secs: 86_400,
        };
        let site_ca = Issuer::new(&root_key, &root)?.issue(&site_request, now, &mut rng)?;
        let anchor = FleetRoot::new(root)?;
        let trusted = anchor.validate_site_ca(&site_ca, now, &NoRevocations)?;
        let site = Issuer::new(&site_key, &site_ca)?;

        let mut meshes = Vec::with_capacity(size);
        let mut databases = Vec::with_capacity(size);
        // Each node dials every node before it, so that all are connected from the start.
        let mut earlier: Vec<Multiaddr> = Vec::with_capacity(size);
        for i in 0..size {
            let identity = Keypair::generate_ed25519();
            let peer = identity.public().to_peer_id();
            let key = SecretKey::generate_p256(&mut rng);
            let request = CredentialRequest {
                subject: peer.to_base58(),
                role: Role::Node,
                key: key.public_key(),
                scopes: Vec::new(),
                lifetime_secs: 86_400,
            };
            let credential = site.issue(&request, now, &mut rng)?;
            let message = AdmissionMessage::new(&credential, &key, &peer)?.with_site_ca(&site_ca);
            let store = MeshStore::open(dir.path().join(format!("node-{i}.redb")))?;
            databases.push(store.database());
            let config = MeshConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
                bootstrap: earlier.clone(),
                ..MeshConfig::default()
            };
            let admission = Admission::new(anchor.clone(), vec![trusted.clone()]);
            let mesh = Mesh::spawn(config, identity, message, admission, store)
                .await
                .with_context(|| format!("node {i}'s mesh does not start"))?;
            let addr = mesh.listen_addrs().await?.into_iter().next();
            earlier.extend(addr.map(|addr| addr.with(Protocol::P2p(peer))));
            meshes.push(mesh);
        }
        admitted_by_all(&meshes).await?;

        let mut replicas = BTreeMap::new();
        let mut members = BTreeMap::new();
        for (mesh, database) in meshes.iter().zip(databases) {
            let peer = mesh.peer_id();
            let id = raft_node_id(&peer);
            let transport = MeshRegistryTransport::new(mesh);
            let replica = Replica::start_in(id, database, &ReplicaConfig::default(), transport)
                .await
                .with_context(|| format!("replica {id:016x} does not start"))?;
            mesh.serve_registry(replica.clone()).await?;
            let addr = mesh.listen_addrs().await?.into_iter().next();
            members.insert(id, registry_member(&peer, addr.as_ref()));
            replicas.insert(id, replica);
        }
        let founder = replicas.values().next().context("a site of no node")?;
        founder
            .initialize(members)
            .await
            .context("cannot initialise the site")?;
        let site = MeshSite {
            _dir: dir,
            meshes,
            replicas,
        };
        site.agreed_leader().await?;
        Ok(site)
    }

    /// A writer for each of `clients` clients, spread over the nodes in turn with the
    /// leader last, as [`crate::ward::WardSite::writers`] spreads them.
    pub async fn writers(
        &self,
        clients: usize,
    ) -> anyhow::Result<Vec<WardWriter<MeshRegistryTransport>>> {
        let leader = self.agreed_leader().await?;
        let mut replicas: Vec<_> = self.replicas.values().cloned().collect();
        replicas.sort_by_key(|replica| replica.id() == leader);
        Ok((0..clients)
            .map(|i| WardWriter::new(replicas[i % replicas.len()].clone()))
            .collect())
    }

    /// The leader every replica names, once they agree.
    async fn agreed_leader(&self) -> anyhow::Result<u64> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let named: Vec<Option<u64>> = self.replicas.values().map(|r| r.leader()).collect();
            if let Some(Some(leader)) = named.first()
                && named.iter().all(|n| *n == Some(*leader))
            {
                return Ok(*leader);
            }
            if Instant::now() >= deadline {
                bail!("the replicas agree on no leader: {named:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops every mesh, then every replica, as `ward run` stops.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for mesh in self.meshes {
            mesh.shutdown().await;
        }
        for (id, replica) in self.replicas {
            replica
                .shutdown()
                .await
                .with_context(|| format!("replica {id:016x} does not stop"))?;
        }
        Ok(())
    }
}

/// Waits until every mesh has admitted every other node.
async fn admitted_by_all(meshes: &[MeshHandle]) -> anyhow::Result<()> {
    let peers: Vec<PeerId> = meshes.iter().map(|mesh| mesh.peer_id()).collect();
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let mut complete = true;
        for mesh in meshes {
            let admitted = mesh.admitted_peers().await?;
            let me = mesh.peer_id();
            complete &= peers
                .iter()
                .all(|peer| *peer == me || admitted.contains(peer));
        }
        if complete {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the nodes did not admit each other within {SETTLE_TIMEOUT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}
