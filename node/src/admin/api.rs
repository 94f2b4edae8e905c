//! The admin API's wire format: media types, size limits and the JSON bodies, shared by the
//! server and the client so the two cannot drift apart.
//!
//! Every error body is an [`ErrorReport`]. No body ever carries a key, a token or a
//! credential's bytes: only names, ids and counts.

use serde::{Deserialize, Serialize};
use ward_crypto::Revocation;
use ward_crypto::revocation::MAX_REVOCATION_LEN;

use crate::mesh::MeshStatus;
use crate::site::SiteStatus;

/// Media type of a signed revocation file, as `ward revoke` writes it.
pub const REVOCATION_MEDIA_TYPE: &str = "application/ward-revocation+cbor";

/// Media type also accepted for a revocation, for tools that know no better (`curl`).
pub const OCTET_STREAM_MEDIA_TYPE: &str = "application/octet-stream";

/// Media type of `/metrics`: the OpenMetrics text exposition, which Prometheus negotiates.
pub const OPENMETRICS_MEDIA_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Largest request body `POST /v1/revocations` reads. A little above the largest revocation
/// so that a body just over it is refused by the decoder with a reason, while anything
/// larger is cut off before it is buffered.
pub const MAX_SUBMISSION_LEN: usize = MAX_REVOCATION_LEN + 64;

/// `GET /v1/status`: what the node's mesh knows now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The node's libp2p PeerId (base58).
    pub peer_id: String,
    /// Multiaddrs the mesh listens on.
    pub listen_addrs: Vec<String>,
    /// PeerIds of the peers connected and admitted.
    pub admitted_peers: Vec<String>,
    /// Peers this node exchanges revocation gossip with.
    pub gossip_peers: usize,
    /// Revocations enforced.
    pub revocation_count: usize,
    /// Order-independent digest of the enforced revocations (64 hex digits); two nodes
    /// enforcing the same set report the same digest.
    pub revocation_digest: String,
    /// Site CAs the node trusts.
    pub site_cas: usize,
    /// The site registry's Raft group as this node sees it; absent on a node that is not a
    /// member of its site's registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteStatus>,
}

impl From<MeshStatus> for StatusReport {
    fn from(status: MeshStatus) -> StatusReport {
        StatusReport {
            peer_id: status.peer_id.to_base58(),
            listen_addrs: status
                .listen_addrs
                .iter()
                .map(ToString::to_string)
                .collect(),
            admitted_peers: status
                .admitted_peers
                .iter()
                .map(|p| p.to_base58())
                .collect(),
            gossip_peers: status.gossip_peers,
            revocation_count: status.revocation_count,
            revocation_digest: status.revocation_digest.to_string(),
            site_cas: status.site_cas,
            site: None,
        }
    }
}

/// `POST /v1/revocations`, when the node accepted the revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionReport {
    /// `true` if the node enforces it from now on (201); `false` if it already did (200).
    pub applied: bool,
    /// The authority that signed it: the fleet root's or a site CA's name.
    pub issuer: String,
    /// What it revokes, e.g. `serial 0a1b...` or `key 5c3d...`.
    pub target: String,
    /// Why, e.g. `key-compromise`.
    pub reason: String,
}

impl SubmissionReport {
    /// Describes `revocation` as accepted, newly (`applied`) or again.
    pub fn new(revocation: &Revocation, applied: bool) -> SubmissionReport {
        let statement = revocation.statement();
        SubmissionReport {
            applied,
            issuer: statement.issuer.clone(),
            target: statement.target.to_string(),
            reason: statement.reason.name().to_owned(),
        }
    }
}

/// Media type of the JSON requests the API takes.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// Largest JSON request body the API reads; its requests are a few fields.
pub const MAX_JSON_REQUEST_LEN: usize = 1024;

/// `POST /v1/join-tokens`: the token to make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    /// `node` or `camera`: what the token admits its holder as.
    pub role: String,
    /// Seconds until the registry refuses the token.
    pub ttl_secs: u64,
}

/// `POST /v1/join-tokens`, once the registry has recorded the token.
///
/// The one body that carries a secret: the token is made for the operator who asked, is
/// shown in this answer only, and the node keeps nothing but its SHA-256.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenReport {
    /// The whole token, `wjt1.<id>.<secret>`, to pass to `ward run --join-token`.
    pub token: String,
    /// The token's id (hex), which is not secret.
    pub id: String,
    /// `node` or `camera`.
    pub role: String,
    /// Seconds since the UNIX epoch after which the token is refused.
    pub expires_at: u64,
}

impl std::fmt::Debug for JoinTokenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTokenReport")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `GET /readyz`, when the node is ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyReport {
    /// Always `true`; a node that is not ready answers 503 with an [`ErrorReport`].
    pub ready: bool,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// What went wrong, for a person to read.
    pub error: String,
}
