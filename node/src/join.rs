//! Joining a site by bootstrap peer, both ends of it.
//!
//! ```text
//! new node                                       member of the site (the join desk)
//!   identity (libp2p), fresh P-256 node key
//!   JoinRequest over /ward/join/1        ─────▶  key is a P-256 COSE_Key?
//!                                                token for a node? (linearizable read)
//!                                                ConsumeJoinToken through Raft
//!                                                node credential for the requester's PeerId
//!                                                RecordNode through Raft
//!   check the credential chains          ◀─────  credential, site CA, fleet root
//!   to the fleet root it came with, binds
//!   this PeerId and this key; then write
//!   node.key, fleet-root.cwt, site-ca.cwt,
//!   node.cwt (last)
//! ```
//!
//! The fleet root is taken on the word of the bootstrap node, whose PeerId the operator gave
//! in the bootstrap address and the transport authenticated: that PeerId is the new node's
//! anchor, as a pinned CA hash is for other bootstrap schemes. Once joined, the node starts
//! its mesh like any other and asks its bootstrap peer to add it to the site's Raft group as
//! a learner; the leader's steward promotes it when it has caught up.
//!
//! Only a member holding the site CA's key can answer: the desk is attached where that key
//! is. A token is spent only on a request the desk can fulfil, and the registry consumes it
//! exactly once. A node whose answer was lost asks again with the same token and gets a
//! credential again: the token is spent by its PeerId already, and the secret still matches.

use std::time::Duration;

use coset::{CborSerializable as _, CoseKey};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use openraft::BasicNode;
use openraft::error::{ClientWriteError, RaftError};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use ward_consensus::transport::{RaftReply, RaftRequest, RegistryTransport};
use ward_consensus::{
    Refusal as RegistryRefusal, RegistryCommand, RegistryResponse, Replica, TokenRole,
};
use ward_crypto::issue::{CredentialRequest, Issuer};
use ward_crypto::{Credential, FleetRoot, NoRevocations, PublicKey, Role, SecretKey};

use crate::mesh::{
    Admission, AdmissionMessage, InboundJoin, JoinError, JoinRequest, JoinResponse, raft_node_id,
    registry_member, request_join,
};
use crate::site::JoinToken;

/// How long a new node waits for each bootstrap peer to answer its join request.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a joined node waits before asking its bootstrap peers again to add it to the
/// site registry. The first asks usually fail: the peers admit the node a moment after the
/// mesh starts.
const LEARNER_RETRY: Duration = Duration::from_secs(1);

/// Every this many failed rounds, a node still not added says so at warning level.
const LEARNER_ROUNDS_BEFORE_WARNING: u32 = 30;

/// A member's desk for join requests: consumes tokens through the registry and issues node
/// credentials with the site CA's key.
#[derive(Debug)]
pub struct JoinDesk<T: RegistryTransport> {
    replica: Replica<T>,
    site_key: SecretKey,
    site_ca: Credential,
    fleet_root: Credential,
    node_lifetime_secs: u64,
}

/// The site CA key given to the desk does not belong to the site CA credential.
#[derive(Debug, thiserror::Error)]
#[error("the site CA key does not match the site CA credential")]
pub struct SiteKeyMismatch;

impl<T: RegistryTransport> JoinDesk<T> {
    /// A desk issuing credentials valid for `node_lifetime_secs` (cut at the site CA's own
    /// expiry) with `site_key`, which must be the key of `site_ca`.
    pub fn new(
        replica: Replica<T>,
        site_key: SecretKey,
        site_ca: Credential,
        fleet_root: Credential,
        node_lifetime_secs: u64,
    ) -> Result<Self, SiteKeyMismatch> {
        Issuer::new(&site_key, &site_ca).map_err(|_| SiteKeyMismatch)?;
        Ok(JoinDesk {
            replica,
            site_key,
            site_ca,
            fleet_root,
            node_lifetime_secs,
        })
    }

    /// Answers `requests` one at a time until the mesh stops handing them over.
    pub fn spawn(self, mut requests: mpsc::Receiver<InboundJoin>) -> JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(inbound) = requests.recv().await {
                let response = match unix_now() {
                    Some(now) => self.answer(&inbound.peer, &inbound.request, now).await,
                    // Every token would look unexpired to a clock stuck before 1970.
                    None => JoinResponse::Refused("the node's clock is wrong".to_owned()),
                };
                // The requester may have gone; nothing to do about it.
                let _ = inbound.answer.send(response);
            }
        })
    }

    /// The answer to `peer`'s request at `now`.
    pub async fn answer(&self, peer: &PeerId, request: &JoinRequest, now: u64) -> JoinResponse {
        match self.try_answer(peer, request, now).await {
            Ok(credential) => {
                info!(%peer, token = %hex::encode(&request.token_id), "node joined the site; credential issued");
                JoinResponse::Joined {
                    credential: credential.as_bytes().to_vec(),
                    site_ca: self.site_ca.as_bytes().to_vec(),
                    fleet_root: self.fleet_root.as_bytes().to_vec(),
                }
            }
            Err(reason) => {
                warn!(%peer, token = %hex::encode(&request.token_id), %reason, "join refused");
                JoinResponse::Refused(reason)
            }
        }
    }

    async fn try_answer(
        &self,
        peer: &PeerId,
        request: &JoinRequest,
        now: u64,
    ) -> Result<Credential, String> {
        // Everything that can be checked without the token comes first, so a request the
        // desk would fail anyway does not spend it.
        let key = requested_node_key(&request.key)?;
        let unavailable =
            |e: &dyn std::fmt::Display| format!("the site registry is unavailable: {e}");
        let refused = |refusal: RegistryRefusal| format!("join token refused: {refusal}");
        // A token's role and secret never change: after a linearizable barrier, the local
        // record answers for them, so that a camera's token is not spent, and a guessed or
        // unknown token costs the site no Raft entry.
        self.replica
            .ensure_linearizable()
            .await
            .map_err(|e| unavailable(&e))?;
        let record = self
            .replica
            .join_token(&request.token_id)
            .map_err(|e| unavailable(&e))?
            .ok_or_else(|| refused(RegistryRefusal::UnknownToken))?;
        if record.role != TokenRole::Node {
            return Err("this join token is for a camera, not a node".to_owned());
        }
        let secret_hash = Sha256::digest(&request.token_secret).to_vec();
        if !bool::from(record.secret_hash.ct_eq(&secret_hash)) {
            return Err(refused(RegistryRefusal::WrongSecret));
        }
        let consumer = peer.to_base58();
        // The registry decides; these only spare it entries it would refuse anyway.
        match &record.consumed_by {
            Some(by) if *by != consumer => {
                return Err(refused(RegistryRefusal::TokenUsed { by: by.clone() }));
            }
            None if now > record.expires_at => {
                return Err(refused(RegistryRefusal::TokenExpired));
            }
            _ => {}
        }

        let consume = RegistryCommand::ConsumeJoinToken {
            id: request.token_id.clone(),
            secret_hash,
            consumer: consumer.clone(),
            now,
        };
        match self.replica.write(consume).await {
            Ok(RegistryResponse::JoinTokenConsumed {
                role: TokenRole::Node,
            }) => {}
            // The same node asking again, its first answer lost: the token is spent by it, and
            // it knows the secret.
            Ok(RegistryResponse::Refused(RegistryRefusal::TokenUsed { by })) if by == consumer => {
                info!(%peer, "join token already spent by this node; credential issued again");
            }
            Ok(RegistryResponse::Refused(refusal)) => return Err(refused(refusal)),
            Ok(other) => return Err(format!("unexpected answer from the registry: {other:?}")),
            Err(e) => return Err(unavailable(&e)),
        }

        let credential_request = CredentialRequest {
            subject: consumer.clone(),
            role: Role::Node,
            key,
            scopes: Vec::new(),
            lifetime_secs: self.node_lifetime_secs,
        };
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let credential = Issuer::new(&self.site_key, &self.site_ca)
            .and_then(|issuer| issuer.issue(&credential_request, now, &mut rng))
            .map_err(|e| format!("cannot issue the node credential: {e}"))?;

        // The credential is what the node needs; its record is bookkeeping, so a failure to
        // write it is logged and does not waste the token that was just spent.
        let record_node = RegistryCommand::RecordNode {
            node: raft_node_id(peer),
            peer: consumer,
            credential: credential.as_bytes().to_vec(),
            now,
        };
        match self.replica.write(record_node).await {
            Ok(RegistryResponse::NodeRecorded) => {}
            Ok(other) => warn!(%peer, answer = ?other, "joined node not recorded"),
            Err(e) => warn!(%peer, error = %e, "joined node not recorded"),
        }
        Ok(credential)
    }
}

/// The node key a join request carries: a public COSE_Key of the type a node credential
/// must bind (P-256, ES256).
pub fn requested_node_key(cose_key: &[u8]) -> Result<PublicKey, String> {
    let key = CoseKey::from_slice(cose_key)
        .ok()
        .and_then(|key| PublicKey::from_cose_key(&key).ok())
        .ok_or("the node key is not a public COSE_Key")?;
    if Some(key.algorithm()) != Role::Node.required_key_algorithm() {
        return Err("a node key must be a P-256 (ES256) key".to_owned());
    }
    Ok(key)
}

/// What a node that joined holds, checked: its key, and the credentials it was given.
#[derive(Debug)]
pub struct Joined {
    /// The node's credential key, made for this join.
    pub key: SecretKey,
    /// Its node credential.
    pub credential: Credential,
    /// The site CA that issued it.
    pub site_ca: Credential,
    /// The fleet root above that.
    pub fleet_root: Credential,
}

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinFailed {
    /// No bootstrap peer answered, or the request could not be sent.
    #[error(transparent)]
    Request(#[from] JoinError),
    /// The site answered with a refusal.
    #[error("the site refused to let this node join: {0}")]
    Refused(String),
    /// The site's answer does not hold together; nothing was written.
    #[error("the bootstrap peer {peer} answered with {what}; nothing was written")]
    Invalid {
        /// Who answered.
        peer: PeerId,
        /// What is wrong.
        what: String,
    },
}

/// Joins the site of `bootstrap` with `token`, as `identity`: makes a node key, asks for a
/// credential, and checks the answer at `now` with `leeway` seconds for clocks.
pub async fn join_site(
    identity: Keypair,
    bootstrap: &[Multiaddr],
    token: &JoinToken,
    now: u64,
    leeway: u64,
) -> Result<Joined, JoinFailed> {
    let peer = identity.public().to_peer_id();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key = SecretKey::generate_p256(&mut rng);
    let public = key
        .public_key()
        .to_cose_key()
        .to_vec()
        .map_err(|e| JoinFailed::Refused(format!("cannot encode the node key: {e}")))?;
    let request = JoinRequest {
        token_id: token.id().to_vec(),
        token_secret: token.secret().to_vec(),
        key: public,
    };
    let (answered_by, response) = request_join(identity, bootstrap, &request, JOIN_TIMEOUT).await?;
    check_joined(&peer, key, response, now, leeway).map_err(|what| match what {
        Checked::Refused(reason) => JoinFailed::Refused(reason),
        Checked::Invalid(what) => JoinFailed::Invalid {
            peer: answered_by,
            what,
        },
    })
}

/// What [`check_joined`] found in an answer that is not a usable credential.
#[derive(Debug)]
pub enum Checked {
    /// The site said no, and why.
    Refused(String),
    /// The answer does not hold together, and how.
    Invalid(String),
}

/// Checks that `response` gives `peer` a valid node credential for `key` at `now`, chaining
/// to the fleet root it came with; the joiner's check of what a bootstrap peer sent.
pub fn check_joined(
    peer: &PeerId,
    key: SecretKey,
    response: JoinResponse,
    now: u64,
    leeway: u64,
) -> Result<Joined, Checked> {
    let (credential, site_ca, fleet_root) = match response {
        JoinResponse::Joined {
            credential,
            site_ca,
            fleet_root,
        } => (credential, site_ca, fleet_root),
        JoinResponse::Refused(reason) => return Err(Checked::Refused(reason)),
    };
    let invalid = |what: &str, e: &dyn std::fmt::Display| Checked::Invalid(format!("{what}: {e}"));
    let decode =
        |bytes: &[u8], what: &str| Credential::decode(bytes).map_err(|e| invalid(what, &e));
    let credential = decode(&credential, "a node credential that does not decode")?;
    let site_ca = decode(&site_ca, "a site CA that does not decode")?;
    let fleet_root = decode(&fleet_root, "a fleet root that does not decode")?;

    let root = FleetRoot::new(fleet_root.clone()).map_err(|e| invalid("no fleet root", &e))?;
    let trusted = root
        .validate_site_ca_with_leeway(&site_ca, now, leeway, &NoRevocations)
        .map_err(|e| invalid("a site CA the fleet root does not vouch for", &e))?;
    Admission::new(root, vec![trusted])
        .validate_node(&credential, now)
        .map_err(|e| invalid("a node credential that does not chain to the site CA", &e))?;
    if credential.claims().subject != peer.to_base58() {
        return Err(Checked::Invalid(format!(
            "a credential for {:?}, not this node",
            credential.claims().subject
        )));
    }
    AdmissionMessage::new(&credential, &key, peer)
        .map_err(|e| invalid("a credential for another key", &e))?;
    Ok(Joined {
        key,
        credential,
        site_ca,
        fleet_root,
    })
}

/// Asks the site registry, through the bootstrap peers, to add this node (`member`, with Raft
/// id `node_id`) as a learner, and again every second until one of them, or the leader it
/// names, says it has. The leader promotes the learner to voter once it has caught up.
///
/// Each peer answers with its own Raft: a follower names the leader, which is asked next.
/// Adding a learner twice is as adding it once, so an answer lost on the way costs nothing.
/// Runs until the node is added; the caller aborts it when the node stops first.
pub async fn join_registry<T: RegistryTransport>(
    transport: T,
    bootstrap: Vec<Multiaddr>,
    node_id: u64,
    member: BasicNode,
) {
    let peers: Vec<(u64, BasicNode)> = bootstrap
        .iter()
        .filter_map(|addr| {
            let Some(Protocol::P2p(peer)) = addr.iter().last() else {
                warn!(%addr, "bootstrap address without /p2p/<PeerId> cannot take a registry request");
                return None;
            };
            let mut dial = addr.clone();
            dial.pop();
            Some((raft_node_id(&peer), registry_member(&peer, Some(&dial))))
        })
        .collect();
    let ask = || RaftRequest::AddLearner(node_id, member.clone());
    let mut rounds = 0u32;
    loop {
        for (target, node) in &peers {
            let outcome = match transport.send(*target, node, ask()).await {
                Ok(RaftReply::Write(Err(RaftError::APIError(
                    ClientWriteError::ForwardToLeader(forward),
                )))) => match (forward.leader_id, forward.leader_node) {
                    (Some(leader), Some(leader_node)) => {
                        transport.send(leader, &leader_node, ask()).await
                    }
                    _ => continue,
                },
                other => other,
            };
            match outcome {
                Ok(RaftReply::Write(Ok(_))) => {
                    info!(
                        node = format_args!("{node_id:016x}"),
                        "added to the site registry as a learner"
                    );
                    return;
                }
                Ok(other) => debug!(answer = ?other, "not added to the site registry yet"),
                Err(e) => debug!(error = %e, "not added to the site registry yet"),
            }
        }
        rounds += 1;
        if rounds.is_multiple_of(LEARNER_ROUNDS_BEFORE_WARNING) {
            warn!(
                rounds,
                "still not added to the site registry; are the bootstrap peers reachable?"
            );
        }
        tokio::time::sleep(LEARNER_RETRY).await;
    }
}

/// Seconds since the UNIX epoch; `None` for a clock before 1970.
fn unix_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ward_consensus::memory::{MemoryNetwork, MemoryTransport};
    use ward_consensus::{ReplicaConfig, TokenRole};
    use ward_crypto::issue;

    use super::*;
    use crate::site::SiteRegistry as _;

    /// 2026-01-01T00:00:00Z.
    const NOW: u64 = 1_767_225_600;
    const DAY: u64 = 86_400;

    fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
        rand_core::UnwrapErr(getrandom::SysRng)
    }

    fn new_peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    /// A one-node site: its registry on a real redb file, and a desk holding its CA key.
    struct Site {
        desk: JoinDesk<MemoryTransport>,
        replica: Replica<MemoryTransport>,
        _dir: tempfile::TempDir,
    }

    impl Site {
        async fn new() -> Site {
            let root_key = SecretKey::generate_ed25519(&mut rng());
            let root = issue::fleet_root("fleet", &root_key, NOW, 3650 * DAY, &mut rng())
                .expect("fleet root");
            let site_key = SecretKey::generate_p256(&mut rng());
            let request = CredentialRequest {
                subject: "site-a".to_owned(),
                role: Role::SiteCa,
                key: site_key.public_key(),
                scopes: Vec::new(),
                lifetime_secs: 365 * DAY,
            };
            let site_ca = Issuer::new(&root_key, &root)
                .and_then(|issuer| issuer.issue(&request, NOW, &mut rng()))
                .expect("site CA");

            let dir = tempfile::tempdir().expect("temp dir");
            let network = MemoryNetwork::new();
            let replica = Replica::start(
                1,
                &dir.path().join("registry.redb"),
                &ReplicaConfig::default(),
                network.transport(1),
            )
            .await
            .expect("replica");
            network.attach(replica.clone());
            replica
                .initialize([(1, BasicNode::new("1"))].into_iter().collect())
                .await
                .expect("initialised");
            let desk = JoinDesk::new(replica.clone(), site_key, site_ca, root, 90 * DAY)
                .expect("the site key is the site CA's");
            Site {
                desk,
                replica,
                _dir: dir,
            }
        }

        async fn token(&self, role: TokenRole) -> JoinToken {
            self.replica
                .create_join_token(role, Duration::from_secs(3600), NOW)
                .await
                .expect("token created")
                .token
        }

        fn consumed_by(&self, token: &JoinToken) -> Option<String> {
            self.replica
                .join_token(token.id())
                .expect("registry readable")
                .expect("token recorded")
                .consumed_by
        }
    }

    fn copy(key: &SecretKey) -> SecretKey {
        SecretKey::from_cose_key_bytes(&key.to_cose_key_bytes()).expect("a key reads back")
    }

    fn request(token: &JoinToken, key: &SecretKey) -> JoinRequest {
        JoinRequest {
            token_id: token.id().to_vec(),
            token_secret: token.secret().to_vec(),
            key: key.public_key().to_cose_key().to_vec().expect("COSE_Key"),
        }
    }

    fn refusal(response: &JoinResponse) -> &str {
        match response {
            JoinResponse::Refused(reason) => reason,
            JoinResponse::Joined { .. } => panic!("admitted where it should have been refused"),
        }
    }

    #[tokio::test]
    async fn a_node_token_admits_one_node_and_its_answer_can_be_asked_again() {
        let site = Site::new().await;
        let token = site.token(TokenRole::Node).await;
        let (joiner, key) = (new_peer(), SecretKey::generate_p256(&mut rng()));

        let first = site.desk.answer(&joiner, &request(&token, &key), NOW).await;
        let joined = check_joined(&joiner, copy(&key), first, NOW, 60)
            .unwrap_or_else(|_| panic!("the answer is not a valid credential for the joiner"));
        assert_eq!(joined.credential.claims().subject, joiner.to_base58());
        assert_eq!(joined.credential.claims().site.as_deref(), Some("site-a"));
        assert_eq!(site.consumed_by(&token), Some(joiner.to_base58()));

        // Its answer lost, the same node asks again with the same token and secret.
        let again = site.desk.answer(&joiner, &request(&token, &key), NOW).await;
        assert!(
            check_joined(&joiner, key, again, NOW, 60).is_ok(),
            "the node that spent the token is answered again"
        );

        // Anyone else presenting it, secret and all, is refused.
        let other = new_peer();
        let other_key = SecretKey::generate_p256(&mut rng());
        let refused = site
            .desk
            .answer(&other, &request(&token, &other_key), NOW)
            .await;
        assert!(refusal(&refused).contains("used"), "{refused:?}");
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_even_for_the_node_that_spent_the_token() {
        let site = Site::new().await;
        let token = site.token(TokenRole::Node).await;
        let (joiner, key) = (new_peer(), SecretKey::generate_p256(&mut rng()));
        let joined = site.desk.answer(&joiner, &request(&token, &key), NOW).await;
        assert!(matches!(joined, JoinResponse::Joined { .. }), "{joined:?}");

        let mut guessed = request(&token, &key);
        guessed.token_secret[0] ^= 1;
        let refused = site.desk.answer(&joiner, &guessed, NOW).await;
        refusal(&refused);

        let fresh = site.token(TokenRole::Node).await;
        let mut guessed = request(&fresh, &key);
        guessed.token_secret[31] ^= 0x80;
        let refused = site.desk.answer(&new_peer(), &guessed, NOW).await;
        assert!(refusal(&refused).contains("secret"), "{refused:?}");
        assert_eq!(
            site.consumed_by(&fresh),
            None,
            "a wrong secret spends nothing"
        );
    }

    #[tokio::test]
    async fn requests_the_desk_cannot_fulfil_leave_the_token_unspent() {
        let site = Site::new().await;
        let camera_token = site.token(TokenRole::Camera).await;
        let key = SecretKey::generate_p256(&mut rng());
        let refused = site
            .desk
            .answer(&new_peer(), &request(&camera_token, &key), NOW)
            .await;
        assert!(refusal(&refused).contains("camera"), "{refused:?}");
        assert_eq!(site.consumed_by(&camera_token), None);

        let node_token = site.token(TokenRole::Node).await;
        let ed25519 = SecretKey::generate_ed25519(&mut rng());
        let refused = site
            .desk
            .answer(&new_peer(), &request(&node_token, &ed25519), NOW)
            .await;
        assert!(refusal(&refused).contains("P-256"), "{refused:?}");
        let mut garbage = request(&node_token, &key);
        garbage.key = vec![0xa1, 0x01];
        let refused = site.desk.answer(&new_peer(), &garbage, NOW).await;
        assert!(refusal(&refused).contains("COSE_Key"), "{refused:?}");
        assert_eq!(
            site.consumed_by(&node_token),
            None,
            "a refused key spends nothing"
        );

        let expired = site
            .desk
            .answer(&new_peer(), &request(&node_token, &key), NOW + 2 * 3600)
            .await;
        assert!(refusal(&expired).contains("expired"), "{expired:?}");
    }

    #[tokio::test]
    async fn a_joiner_accepts_only_a_credential_for_itself_and_its_key() {
        let site = Site::new().await;
        let (joiner, key) = (new_peer(), SecretKey::generate_p256(&mut rng()));

        let token = site.token(TokenRole::Node).await;
        let answer = site.desk.answer(&joiner, &request(&token, &key), NOW).await;
        let for_someone_else = check_joined(&new_peer(), key, answer, NOW, 60);
        assert!(matches!(for_someone_else, Err(Checked::Invalid(_))));

        let token = site.token(TokenRole::Node).await;
        let key = SecretKey::generate_p256(&mut rng());
        let answer = site.desk.answer(&joiner, &request(&token, &key), NOW).await;
        let other_key = SecretKey::generate_p256(&mut rng());
        let for_another_key = check_joined(&joiner, other_key, answer, NOW, 60);
        assert!(matches!(for_another_key, Err(Checked::Invalid(_))));

        let garbled = JoinResponse::Joined {
            credential: vec![0x80],
            site_ca: Vec::new(),
            fleet_root: Vec::new(),
        };
        let key = SecretKey::generate_p256(&mut rng());
        assert!(matches!(
            check_joined(&joiner, key, garbled, NOW, 60),
            Err(Checked::Invalid(_))
        ));
    }
}
