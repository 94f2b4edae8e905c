//! Gossip of revocations and credentials: what a node publishes, and how it judges what its
//! peers forward before gossipsub passes it on.

use libp2p::PeerId;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use tracing::{debug, info, warn};
use ward_crypto::{Credential, Revocation};

use super::{MeshRuntime, PeerState, gauge, unix_millis, unix_now};
use crate::mesh::client::{MeshError, MeshEvent, Submitted, Via};
use crate::mesh::sync::{self, CREDENTIALS_TOPIC, REVOCATIONS_TOPIC};
use crate::mesh::trust::{CredentialRefused, EntryId, RevocationRefused};

impl MeshRuntime {
    pub(super) fn submit(&mut self, revocation: Revocation) -> Result<Submitted, MeshError> {
        let bytes = revocation.as_bytes().to_vec();
        let entry = match self.trust.take_revocation(revocation) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(Submitted::AlreadyEnforced),
            Err(RevocationRefused::Invalid(error)) => {
                return Err(MeshError::RevocationInvalid(error));
            }
            Err(RevocationRefused::Store(error)) => return Err(MeshError::Store(error)),
        };
        self.applied(entry, Via::Local);
        let data = sync::encode_gossip_revocation(unix_millis(), &bytes);
        match self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(IdentTopic::new(REVOCATIONS_TOPIC), data)
        {
            Ok(_) => {
                self.metrics.gossip_out.inc();
            }
            // Alone for now: anti-entropy hands it to whoever connects.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                info!("revocation enforced; no gossip peer yet, anti-entropy will spread it");
            }
            Err(error) => warn!(%error, "revocation enforced but not published"),
        }
        Ok(Submitted::Applied)
    }

    /// A revocation was taken in: count it, tell watchers, and cut off peers it revokes.
    pub(super) fn applied(&mut self, entry: EntryId, via: Via) {
        self.metrics
            .revocations
            .set(gauge(self.trust.revocation_count()));
        self.emit(MeshEvent::RevocationApplied { entry, via });
        self.enforce_on_admitted();
    }

    /// DESIGN §1: a revoked node is refused at once, including on connections it already
    /// holds.
    pub(super) fn enforce_on_admitted(&mut self) {
        let revoked: Vec<(PeerId, String)> = self
            .peers
            .iter()
            .filter_map(|(peer, state)| match state {
                PeerState::Admitted(admitted) => self
                    .trust
                    .admission()
                    .revoked(admitted)
                    .map(|by| (*peer, format!("credential is revoked: {by}"))),
                PeerState::Pending { .. } => None,
            })
            .collect();
        for (peer, reason) in revoked {
            warn!(%peer, %reason, "admitted peer revoked");
            self.metrics.refused.inc();
            self.emit(MeshEvent::Refused(peer, reason));
            self.ban(peer);
        }
    }

    /// Tells the mesh about a node credential newly learned, so that nodes that never meet
    /// this peer still hold it.
    pub(super) fn publish_credential(&mut self, credential: &Credential) {
        let topic = IdentTopic::new(CREDENTIALS_TOPIC);
        match self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(topic, credential.as_bytes().to_vec())
        {
            Ok(_) => {
                self.metrics.gossip_out.inc();
            }
            // Someone published it first (content-addressed ids), or no peer is in the mesh
            // yet: either way it is not lost, admission and anti-entropy carry it.
            Err(error) => {
                debug!(%error, "credential not published");
            }
        }
    }

    pub(super) fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = event
        else {
            return;
        };
        let acceptance = self.judge_gossip(&propagation_source, &message);
        if let (MessageAcceptance::Reject, reason) = &acceptance {
            warn!(peer = %propagation_source, %reason, "invalid gossip rejected");
            self.metrics.gossip_rejected.inc();
            self.emit(MeshEvent::GossipRejected {
                from: propagation_source,
                reason: reason.clone(),
            });
        }
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&message_id, &propagation_source, acceptance.0);
    }

    /// Decides what becomes of a gossip message, taking it in if it is valid and new.
    pub(super) fn judge_gossip(
        &mut self,
        source: &PeerId,
        message: &gossipsub::Message,
    ) -> (MessageAcceptance, String) {
        // Nothing a peer sends before admission counts.
        if !matches!(self.peers.get(source), Some(PeerState::Admitted(_))) {
            return (MessageAcceptance::Ignore, "sender not admitted".into());
        }
        let reject = |reason: String| (MessageAcceptance::Reject, reason);
        let topic = message.topic.as_str();
        if topic == REVOCATIONS_TOPIC {
            let Some((published_ms, bytes)) = sync::decode_gossip_revocation(&message.data) else {
                return reject("revocation message too short".into());
            };
            let revocation = match Revocation::decode(bytes) {
                Ok(revocation) => revocation,
                Err(error) => return reject(format!("revocation does not decode: {error}")),
            };
            match self.trust.take_revocation(revocation) {
                Ok(Some(entry)) => {
                    self.metrics.gossip_in.inc();
                    let delay_ms = unix_millis().saturating_sub(published_ms);
                    self.metrics
                        .propagation_delay
                        .observe(delay_ms as f64 / 1000.0);
                    self.applied(entry, Via::Gossip);
                    (MessageAcceptance::Accept, String::new())
                }
                Ok(None) => (MessageAcceptance::Ignore, "duplicate".into()),
                Err(RevocationRefused::Invalid(error)) => reject(error.to_string()),
                // Our fault, not the sender's: do not forward what we could not keep.
                Err(RevocationRefused::Store(error)) => {
                    warn!(%error, "gossiped revocation not stored");
                    (MessageAcceptance::Ignore, error.to_string())
                }
            }
        } else if topic == CREDENTIALS_TOPIC {
            let credential = match Credential::decode(&message.data) {
                Ok(credential) => credential,
                Err(error) => return reject(format!("credential does not decode: {error}")),
            };
            match self.trust.take_credential(&credential, unix_now()) {
                Ok(true) => {
                    self.metrics.gossip_in.inc();
                    (MessageAcceptance::Accept, String::new())
                }
                Ok(false) => (MessageAcceptance::Ignore, "duplicate".into()),
                Err(CredentialRefused::Store(error)) => {
                    warn!(%error, "gossiped credential not stored");
                    (MessageAcceptance::Ignore, error.to_string())
                }
                Err(error) => reject(error.to_string()),
            }
        } else {
            reject(format!("unknown topic {topic}"))
        }
    }
}
