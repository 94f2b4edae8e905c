//! The writer that puts a client's values into an etcd cluster through one of its members.

use std::time::Duration;

use anyhow::Context as _;
use etcd_client::{Client, ConnectOptions, KvClient};

use crate::load::Writer;

/// A put that takes longer fails, as a Ward write does after its write timeout.
const PUT_TIMEOUT: Duration = Duration::from_secs(5);

/// One client's connection to one etcd member.
pub struct EtcdWriter {
    kv: KvClient,
}

impl std::fmt::Debug for EtcdWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // etcd-client's clients have no Debug of their own.
        f.debug_struct("EtcdWriter").finish_non_exhaustive()
    }
}

/// Opens a connection for each of `clients` clients, to the members of `endpoints` in turn,
/// as Ward's clients are spread over its replicas: members that are not the leader hand the
/// proposal on to it. The leader comes last in the turn, as in
/// [`crate::ward::WardSite::writers`], so that a lone client writes through a follower.
pub async fn writers(endpoints: &[String], clients: usize) -> anyhow::Result<Vec<EtcdWriter>> {
    let mut members = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let mut client = connect(endpoint).await?;
        let status = client
            .status()
            .await
            .with_context(|| format!("etcd at {endpoint} gives no status"))?;
        let is_leader = status.header().map(|h| h.member_id()) == Some(status.leader());
        members.push((is_leader, endpoint));
    }
    members.sort_by_key(|(is_leader, _)| *is_leader);

    let mut writers = Vec::with_capacity(clients);
    for i in 0..clients {
        let (_, endpoint) = members[i % members.len()];
        writers.push(EtcdWriter {
            kv: connect(endpoint).await?.kv_client(),
        });
    }
    Ok(writers)
}

/// A client of the one member at `endpoint`, on a connection of its own.
async fn connect(endpoint: &str) -> anyhow::Result<Client> {
    let options = ConnectOptions::new()
        .with_connect_timeout(PUT_TIMEOUT)
        .with_timeout(PUT_TIMEOUT);
    Client::connect([endpoint], Some(options))
        .await
        .with_context(|| format!("cannot connect to etcd at {endpoint}"))
}

impl Writer for EtcdWriter {
    async fn put(&mut self, key: String, value: Vec<u8>) -> anyhow::Result<()> {
        self.kv.put(key, value, None).await?;
        Ok(())
    }
}
