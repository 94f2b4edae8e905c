//! The node's Prometheus metrics, served by the admin API at `/metrics`.
//!
//! One [`Metrics`] per node owns its registry; the mesh updates the handles it holds, the
//! admin API sets the site registry's gauges from Raft's state as each scrape begins, and
//! encodes the registry in the OpenMetrics text format. Metric names carry no
//! peer ids or credential names, so the label set stays bounded whatever peers do.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::site::SiteStatus;

/// Bounds of the propagation-delay histogram, in seconds: 5 ms up to 10 s.
const PROPAGATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Peers connected and admitted now.
    pub peers: Gauge,
    /// Peers admitted since start.
    pub admitted: Counter,
    /// Peers refused since start (bad credential, revoked, timed out, banned).
    pub refused: Counter,
    /// Gossip messages received and accepted.
    pub gossip_in: Counter,
    /// Gossip messages received and rejected as invalid.
    pub gossip_rejected: Counter,
    /// Gossip messages this node published.
    pub gossip_out: Counter,
    /// Revocations enforced now.
    pub revocations: Gauge,
    /// Revocations learned by anti-entropy rather than gossip.
    pub revocations_synced: Counter,
    /// Seconds from a revocation's publication at its first node to its application here.
    pub propagation_delay: Histogram,
    /// The site registry as this member saw it at the last scrape (see
    /// [`Metrics::record_site`]).
    site: SiteGauges,
}

/// The site registry's Raft state, as gauges.
#[derive(Debug, Default)]
struct SiteGauges {
    term: Gauge,
    is_leader: Gauge,
    voters: Gauge,
    learners: Gauge,
    applied_index: Gauge,
    last_log_index: Gauge,
}

impl Metrics {
    /// A fresh registry holding every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ward");
        let peers = Gauge::default();
        let admitted = Counter::default();
        let refused = Counter::default();
        let gossip_in = Counter::default();
        let gossip_rejected = Counter::default();
        let gossip_out = Counter::default();
        let revocations = Gauge::default();
        let revocations_synced = Counter::default();
        let propagation_delay = Histogram::new(PROPAGATION_BUCKETS);
        registry.register("mesh_peers", "Peers connected and admitted", peers.clone());
        registry.register(
            "mesh_admitted",
            "Peers admitted since start",
            admitted.clone(),
        );
        registry.register("mesh_refused", "Peers refused since start", refused.clone());
        registry.register(
            "gossip_in",
            "Gossip messages received and accepted",
            gossip_in.clone(),
        );
        registry.register(
            "gossip_rejected",
            "Gossip messages received and rejected as invalid",
            gossip_rejected.clone(),
        );
        registry.register(
            "gossip_out",
            "Gossip messages published by this node",
            gossip_out.clone(),
        );
        registry.register("revocations", "Revocations enforced", revocations.clone());
        registry.register(
            "revocations_synced",
            "Revocations learned by anti-entropy",
            revocations_synced.clone(),
        );
        registry.register(
            "revocation_propagation_seconds",
            "Delay from a revocation's publication to its application at this node",
            propagation_delay.clone(),
        );
        let site = SiteGauges::default();
        for (name, help, gauge) in [
            ("site_term", "Raft term of the site registry", &site.term),
            (
                "site_is_leader",
                "1 while this node leads the site registry",
                &site.is_leader,
            ),
            (
                "site_voters",
                "Voting members of the site registry",
                &site.voters,
            ),
            (
                "site_learners",
                "Learners of the site registry: members that do not vote yet",
                &site.learners,
            ),
            (
                "site_applied_index",
                "Last log index this node applied to its registry",
                &site.applied_index,
            ),
            (
                "site_last_log_index",
                "Last index in this node's registry log",
                &site.last_log_index,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        Metrics {
            registry,
            site,
            peers,
            admitted,
            refused,
            gossip_in,
            gossip_rejected,
            gossip_out,
            revocations,
            revocations_synced,
            propagation_delay,
        }
    }

    /// Room in the registry for a component's own metrics (gossipsub's), under `prefix`.
    pub fn sub_registry(&mut self, prefix: &str) -> &mut Registry {
        self.registry.sub_registry_with_prefix(prefix)
    }

    /// Sets the site registry's gauges from `status`; called as a scrape begins, so that
    /// they say what Raft says at that moment.
    pub fn record_site(&self, status: &SiteStatus) {
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let count = |members: &[u64]| as_gauge(members.len() as u64);
        self.site.term.set(as_gauge(status.term));
        let leading = status.leader == Some(status.node_id) && status.role == "leader";
        self.site.is_leader.set(i64::from(leading));
        self.site.voters.set(count(&status.voters));
        self.site.learners.set(count(&status.learners));
        self.site
            .applied_index
            .set(as_gauge(status.applied_index.unwrap_or(0)));
        self.site
            .last_log_index
            .set(as_gauge(status.last_log_index.unwrap_or(0)));
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_registry_names_every_mesh_metric() {
        let metrics = Metrics::new();
        metrics.revocations.set(3);
        metrics.gossip_in.inc();
        let text = metrics.encode();
        for name in [
            "ward_mesh_peers",
            "ward_mesh_admitted_total",
            "ward_mesh_refused_total",
            "ward_gossip_in_total",
            "ward_gossip_rejected_total",
            "ward_gossip_out_total",
            "ward_revocations 3",
            "ward_revocations_synced_total",
            "ward_revocation_propagation_seconds_bucket",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.contains("ward_gossip_in_total 1"));
    }
}
