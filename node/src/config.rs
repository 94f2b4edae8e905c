//! The node's configuration: one TOML file in which every key is optional.
//!
//! Defaults are the safe choice, so an empty file, or none, gives a working node.
//! `ward config example` prints [`EXAMPLE`], the full file with every default written out
//! and explained; a test keeps the two in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::{Deserialize, Serialize};

use crate::duration::Lifetime;
use crate::files;
use crate::logging::LogFormat;
use crate::mesh::{MeshConfig, PqMode};
use ward_consensus::MembershipPolicy;

/// The commented default configuration, as printed by `ward config example`.
pub const EXAMPLE: &str = r#"# Ward node configuration. Every key is optional: the values below are the defaults.

# Where the node keeps its keys, credentials and database.
data_dir = "ward-data"

[credentials]
# Tolerance for clocks that disagree about a credential's validity period, in seconds.
leeway_secs = 60
# Default lifetimes of credentials issued with `ward cert issue`, per role. A credential
# never outlives the site CA that issues it.
node_lifetime = "90d"
camera_lifetime = "30d"
admin_lifetime = "7d"
# The site CA's private key. A node that holds it answers join requests: it spends join
# tokens and issues credentials to the nodes that present them. By default, the key of the
# development fleet's site (<data_dir>/dev-pki/site-ca.key) when there is one.
# site_ca_key = "/etc/ward/site-ca.key"

[frame_tokens]
# How long a frame token stays valid after the camera stamped it: 1000 to 5000 ms.
lifetime_ms = 2000
# How far ahead of the node's clock a camera's timestamp may be, at most 1000 ms.
max_skew_ms = 250

[mesh]
# Addresses the mesh listens on. QUIC comes first: its TLS 1.3 negotiates the post-quantum
# hybrid X25519MLKEM768, while TCP with Noise is classical only.
listen = ["/ip4/0.0.0.0/udp/7400/quic-v1", "/ip4/0.0.0.0/tcp/7400"]
# Peers dialled at start, as printed by `ward run`: /ip4/.../quic-v1/p2p/<PeerId>.
bootstrap = []
# How long a peer that failed admission stays banned.
ban_duration = "10m"
# How long a new peer has to prove its credential before it is disconnected.
admission_timeout = "10s"
# Established connections at most, all peers together.
max_connections = 256
# How often revocation sets are compared with every admitted peer, besides on admission.
anti_entropy_interval = "30s"
# Post-quantum policy: "off", "hybrid" (prefer QUIC, accept TCP) or "required" (QUIC only;
# then no /tcp address may appear in listen or bootstrap).
pq = "hybrid"

[raft]
# Voters the site registry keeps: 3 survives the loss of one node, 5 of two. Nodes beyond
# that follow the log as learners, and replace a voter that dies.
voters = 3
# How long a voter may answer nothing before a caught-up learner takes its place.
dead_after = "5m"

[admin]
# Address of the admin API and metrics. Anything beyond loopback requires token_file.
listen = "127.0.0.1:7480"
# File holding the bearer token that admin clients present. Unset: no token, which is
# allowed on loopback only.
# token_file = "/etc/ward/admin.token"

[log]
# "text" for people, "json" for log collectors. RUST_LOG filters them (default: info).
format = "text"
"#;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the node keeps its state.
    pub data_dir: PathBuf,
    /// Credential issuance and validation.
    pub credentials: CredentialConfig,
    /// Per-frame token checks at the stream gate.
    pub frame_tokens: FrameTokenConfig,
    /// The node-to-node mesh.
    pub mesh: MeshSettings,
    /// The site registry's Raft group.
    pub raft: RaftSettings,
    /// The admin API.
    pub admin: AdminConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("ward-data"),
            credentials: CredentialConfig::default(),
            frame_tokens: FrameTokenConfig::default(),
            mesh: MeshSettings::default(),
            raft: RaftSettings::default(),
            admin: AdminConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// Credential issuance and validation settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialConfig {
    /// Clock tolerance for validity periods, in seconds.
    pub leeway_secs: u64,
    /// Default lifetime of node credentials.
    pub node_lifetime: Lifetime,
    /// Default lifetime of camera credentials.
    pub camera_lifetime: Lifetime,
    /// Default lifetime of admin credentials.
    pub admin_lifetime: Lifetime,
    /// The site CA's private key, for answering join requests.
    pub site_ca_key: Option<PathBuf>,
}

impl Default for CredentialConfig {
    fn default() -> Self {
        CredentialConfig {
            leeway_secs: ward_crypto::chain::DEFAULT_LEEWAY_SECS,
            node_lifetime: Lifetime(90 * 86_400),
            camera_lifetime: Lifetime(30 * 86_400),
            admin_lifetime: Lifetime(7 * 86_400),
            site_ca_key: None,
        }
    }
}

/// Frame token settings, checked against the limits of `ward_crypto::token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameTokenConfig {
    /// Token lifetime in milliseconds.
    pub lifetime_ms: u64,
    /// Largest accepted clock skew in milliseconds.
    pub max_skew_ms: u64,
}

impl Default for FrameTokenConfig {
    fn default() -> Self {
        FrameTokenConfig {
            lifetime_ms: 2_000,
            max_skew_ms: 250,
        }
    }
}

/// The `[mesh]` section: what an operator may tune of [`MeshConfig`]. The remaining limits
/// keep the mesh's own defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshSettings {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start.
    pub bootstrap: Vec<Multiaddr>,
    /// How long a refused peer stays banned.
    pub ban_duration: Lifetime,
    /// How long a new peer has to be admitted.
    pub admission_timeout: Lifetime,
    /// Established connections at most.
    pub max_connections: u32,
    /// Period of the revocation-set comparison with admitted peers.
    pub anti_entropy_interval: Lifetime,
    /// Post-quantum policy for mesh connections.
    pub pq: PqMode,
}

impl Default for MeshSettings {
    /// The mesh's own defaults, so the two cannot drift apart.
    fn default() -> Self {
        let mesh = MeshConfig::default();
        MeshSettings {
            listen: mesh.listen,
            bootstrap: mesh.bootstrap,
            ban_duration: whole_seconds(mesh.ban_duration),
            admission_timeout: whole_seconds(mesh.admission_timeout),
            max_connections: mesh.max_connections,
            anti_entropy_interval: whole_seconds(mesh.anti_entropy_interval),
            pq: mesh.pq,
        }
    }
}

impl MeshSettings {
    /// The mesh configuration these settings describe.
    pub fn to_mesh_config(&self) -> MeshConfig {
        MeshConfig {
            listen: self.listen.clone(),
            bootstrap: self.bootstrap.clone(),
            ban_duration: Duration::from_secs(self.ban_duration.secs()),
            admission_timeout: Duration::from_secs(self.admission_timeout.secs()),
            max_connections: self.max_connections,
            anti_entropy_interval: Duration::from_secs(self.anti_entropy_interval.secs()),
            pq: self.pq,
            ..MeshConfig::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.max_connections == 0 {
            bail!("mesh.max_connections must be at least 1");
        }
        // DESIGN §7: TCP with Noise is classical only, so a node that requires post-quantum
        // hybrid key exchange may neither listen on TCP nor dial it.
        if self.pq == PqMode::Required {
            for (key, addrs) in [("listen", &self.listen), ("bootstrap", &self.bootstrap)] {
                if let Some(addr) = addrs.iter().find(|addr| is_tcp(addr)) {
                    bail!(
                        "mesh.{key}: {addr} is TCP, which is not post-quantum hybrid; with \
                         mesh.pq = \"required\" use QUIC addresses only (/udp/PORT/quic-v1)"
                    );
                }
            }
        }
        Ok(())
    }
}

/// Whether a multiaddr runs over TCP: QUIC runs over UDP, so any `/tcp` component means a
/// Noise-secured stream.
fn is_tcp(addr: &Multiaddr) -> bool {
    addr.iter()
        .any(|protocol| matches!(protocol, Protocol::Tcp(_)))
}

fn whole_seconds(duration: Duration) -> Lifetime {
    Lifetime(duration.as_secs())
}

/// The `[raft]` section: how the site registry's Raft group is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftSettings {
    /// Voters wanted.
    pub voters: usize,
    /// A voter silent this long is replaced by a caught-up learner.
    pub dead_after: Lifetime,
}

impl Default for RaftSettings {
    /// The steward's own defaults, so the two cannot drift apart.
    fn default() -> Self {
        let policy = MembershipPolicy::default();
        RaftSettings {
            voters: policy.voters,
            dead_after: whole_seconds(policy.dead_after),
        }
    }
}

impl RaftSettings {
    /// The membership policy these settings describe.
    pub fn to_policy(&self) -> MembershipPolicy {
        MembershipPolicy {
            voters: self.voters,
            dead_after: Duration::from_secs(self.dead_after.secs()),
            ..MembershipPolicy::default()
        }
    }

    fn validate(&self) -> Result<()> {
        // An even count tolerates no more failures than the odd count below it, and makes
        // every quorum larger.
        if !matches!(self.voters, 1 | 3 | 5 | 7) {
            bail!(
                "raft.voters = {}: use 1, 3, 5 or 7 (an odd count; 3 survives one lost node)",
                self.voters
            );
        }
        // Replacing a voter moves the quorum; doing it for a reboot would churn the group.
        if self.dead_after.secs() < 30 {
            bail!(
                "raft.dead_after = {}: at least 30s, so a restart is not taken for a death",
                self.dead_after
            );
        }
        Ok(())
    }
}

/// The `[admin]` section: where the admin API listens and who may use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin API and metrics.
    pub listen: SocketAddr,
    /// File holding the bearer token admin clients must present.
    pub token_file: Option<PathBuf>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: crate::admin::DEFAULT_ADMIN_ADDR
                .parse()
                .expect("the default admin address is a valid socket address"),
            token_file: None,
        }
    }
}

impl AdminConfig {
    fn validate(&self) -> Result<()> {
        // DESIGN §5: anything beyond loopback requires admin credentials. An unspecified
        // address (0.0.0.0, ::) is beyond loopback: it listens on every interface.
        if !self.listen.ip().is_loopback() && self.token_file.is_none() {
            bail!(
                "admin.listen = {}: admin API beyond loopback requires token_file",
                self.listen
            );
        }
        Ok(())
    }
}

/// The `[log]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// How log lines are written.
    pub format: LogFormat,
}

impl Config {
    /// Reads and parses a configuration file (see [`Config::parse`]).
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = files::read_bounded(path)?;
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        Self::parse(text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// Parses configuration text and checks each section's values.
    ///
    /// Rules that tie keys a flag can override (the admin address and its token, the
    /// post-quantum mode and the addresses) are left to [`Config::validate`], run once flags
    /// and environment variables are merged in: a file may rely on a flag to complete it.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text)?;
        ward_crypto::token::TokenPolicy::new(
            config.frame_tokens.lifetime_ms,
            config.frame_tokens.max_skew_ms,
        )
        .context("frame_tokens")?;
        Ok(config)
    }

    /// Checks the whole configuration a node runs with: every limit, and the combinations
    /// of keys that would be unsafe.
    pub fn validate(&self) -> Result<()> {
        ward_crypto::token::TokenPolicy::new(
            self.frame_tokens.lifetime_ms,
            self.frame_tokens.max_skew_ms,
        )
        .context("frame_tokens")?;
        self.mesh.validate()?;
        self.raft.validate()?;
        self.admin.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a file that is the whole configuration, as `ward run` checks it.
    fn checked(text: &str) -> Result<Config> {
        let config = Config::parse(text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn printed_example_is_exactly_the_defaults() {
        assert_eq!(checked(EXAMPLE).expect("example parses"), Config::default());
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(Config::parse("").expect("empty parses"), Config::default());
    }

    #[test]
    fn unknown_keys_and_unsafe_values_are_refused() {
        assert!(
            Config::parse("data_dri = \"x\"").is_err(),
            "a typo must not be ignored"
        );
        assert!(Config::parse("[frame_tokens]\nlifetime_ms = 60000").is_err());
        assert!(Config::parse("[credentials]\ncamera_lifetime = \"0d\"").is_err());
        assert!(Config::parse("[mesh]\nlisten = [\"not a multiaddr\"]").is_err());
        assert!(Config::parse("[mesh]\npq = \"maybe\"").is_err());
        assert!(Config::parse("[log]\nformat = \"xml\"").is_err());
    }

    #[test]
    fn mesh_defaults_are_the_mesh_crate_defaults() {
        let ours = MeshSettings::default().to_mesh_config();
        let theirs = MeshConfig::default();
        assert_eq!(ours.listen, theirs.listen);
        assert_eq!(ours.bootstrap, theirs.bootstrap);
        assert_eq!(ours.ban_duration, theirs.ban_duration);
        assert_eq!(ours.admission_timeout, theirs.admission_timeout);
        assert_eq!(ours.max_connections, theirs.max_connections);
        assert_eq!(ours.anti_entropy_interval, theirs.anti_entropy_interval);
        assert_eq!(ours.pq, theirs.pq);
    }

    #[test]
    fn required_pq_refuses_tcp_and_names_the_key() {
        let quic_only = "[mesh]\npq = \"required\"\nlisten = [\"/ip4/0.0.0.0/udp/7400/quic-v1\"]";
        checked(quic_only).expect("QUIC only is fine");

        let err = checked("[mesh]\npq = \"required\"").expect_err("default has TCP");
        assert!(format!("{err:#}").contains("mesh.listen"), "{err:#}");

        let tcp_bootstrap = format!("{quic_only}\nbootstrap = [\"/ip4/10.0.0.1/tcp/7400\"]");
        let err = checked(&tcp_bootstrap).expect_err("TCP bootstrap");
        assert!(format!("{err:#}").contains("mesh.bootstrap"), "{err:#}");

        checked("[mesh]\npq = \"off\"").expect("TCP is fine without required");
    }

    #[test]
    fn raft_voters_must_be_an_odd_quorum_and_deaths_not_reboots() {
        for (text, key) in [
            ("[raft]\nvoters = 4", "raft.voters"),
            ("[raft]\nvoters = 0", "raft.voters"),
            ("[raft]\ndead_after = \"10s\"", "raft.dead_after"),
        ] {
            let error = checked(text).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
        let five = checked("[raft]\nvoters = 5\ndead_after = \"2m\"").expect("valid");
        assert_eq!(five.raft.to_policy().voters, 5);
        assert_eq!(five.raft.to_policy().dead_after, Duration::from_secs(120));
    }

    #[test]
    fn admin_beyond_loopback_requires_a_token_file() {
        for listen in ["0.0.0.0:7480", "192.0.2.7:7480", "[::]:7480"] {
            let text = format!("[admin]\nlisten = \"{listen}\"");
            let err = checked(&text).expect_err(listen);
            assert!(format!("{err:#}").contains("token_file"), "{err:#}");
            checked(&format!("{text}\ntoken_file = \"admin.token\"")).expect("with a token file");
        }
        checked("[admin]\nlisten = \"[::1]:7480\"").expect("IPv6 loopback");
    }
}
