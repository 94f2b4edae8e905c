//! Anti-entropy: on admission and on a timer, a node compares revocation-set digests with
//! each peer and fetches by id whatever it lacks, so that groups that missed each other's
//! gossip converge when they meet again.
//!
//! ```text
//! A                                   B
//!   Summary { digest_A }  ───────▶      equal: InSync
//!                          ◀───────     else: Inventory { digest_B, ids, site CAs }
//!   Fetch { ids A lacks } ───────▶
//!                          ◀───────     Revocations [...]
//! ```

use libp2p::PeerId;
use libp2p::request_response::{self};
use tracing::{debug, info, warn};
use ward_crypto::{Credential, Revocation, Role};

use super::{MeshRuntime, PeerState, gauge, unix_now};
use crate::mesh::client::{MeshEvent, Via};
use crate::mesh::sync::{self, MAX_FETCH, MAX_INVENTORY, MAX_SITE_CAS, SyncRequest, SyncResponse};
use crate::mesh::trust::EntryId;

impl MeshRuntime {
    pub(super) fn start_sync(&mut self, peer: PeerId) {
        if self.syncing.contains_key(&peer) {
            return;
        }
        self.syncing.insert(peer, None);
        let digest = self.trust.digest().0;
        self.swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest::Summary { digest });
    }

    pub(super) fn anti_entropy_round(&mut self) {
        let peers: Vec<PeerId> = self.admitted().collect();
        for peer in peers {
            self.start_sync(peer);
        }
    }

    pub(super) fn on_sync_event(
        &mut self,
        event: request_response::Event<SyncRequest, SyncResponse>,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // An unadmitted peer learns nothing: the request is dropped unanswered.
                if !matches!(self.peers.get(&peer), Some(PeerState::Admitted(_))) {
                    debug!(%peer, "anti-entropy request from a peer not admitted dropped");
                    return;
                }
                // A peer that differs from us may hold what we lack: pull from it too, once
                // per state of its set.
                if let SyncRequest::Summary { digest } = &request
                    && *digest != self.trust.digest().0
                    && self.pulled.get(&peer) != Some(digest)
                {
                    self.start_sync(peer);
                }
                let response = self.answer_sync(request);
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    debug!(%peer, "anti-entropy response not sent: connection gone");
                }
            }
            Event::Message {
                peer,
                message: Message::Response { response, .. },
                ..
            } => {
                if matches!(self.peers.get(&peer), Some(PeerState::Admitted(_))) {
                    self.on_sync_response(peer, response);
                } else {
                    self.syncing.remove(&peer);
                }
            }
            Event::OutboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "anti-entropy request failed");
                self.syncing.remove(&peer);
            }
            Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "anti-entropy request not answered");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    pub(super) fn answer_sync(&self, request: SyncRequest) -> SyncResponse {
        match request {
            SyncRequest::Summary { digest } if digest == self.trust.digest().0 => {
                SyncResponse::InSync
            }
            SyncRequest::Summary { .. } => SyncResponse::Inventory {
                digest: self.trust.digest().0,
                ids: sync::join_ids(self.trust.entry_ids().take(MAX_INVENTORY)),
                site_cas: self
                    .trust
                    .site_ca_credentials()
                    .iter()
                    .take(MAX_SITE_CAS)
                    .map(|ca| serde_bytes::ByteBuf::from(ca.as_bytes().to_vec()))
                    .collect(),
            },
            SyncRequest::Fetch { ids } => {
                let ids = sync::split_ids(&ids, MAX_FETCH).unwrap_or_default();
                SyncResponse::Revocations(
                    ids.iter()
                        .filter_map(|id| self.trust.revocation(id))
                        .map(|r| serde_bytes::ByteBuf::from(r.as_bytes().to_vec()))
                        .collect(),
                )
            }
        }
    }

    pub(super) fn on_sync_response(&mut self, peer: PeerId, response: SyncResponse) {
        match response {
            SyncResponse::InSync => {
                self.syncing.remove(&peer);
            }
            SyncResponse::Inventory {
                digest,
                ids,
                site_cas,
            } => {
                // Site CAs first, so that the revocations they signed verify.
                for bytes in site_cas.iter().take(MAX_SITE_CAS) {
                    let Ok(credential) = Credential::decode(bytes) else {
                        continue;
                    };
                    if credential.claims().role != Role::SiteCa {
                        continue;
                    }
                    if let Err(error) = self.trust.take_credential(&credential, unix_now()) {
                        debug!(%peer, %error, "site CA from anti-entropy not taken");
                    }
                }
                let Some(ids) = sync::split_ids(&ids, MAX_INVENTORY) else {
                    warn!(%peer, "anti-entropy inventory malformed");
                    self.syncing.remove(&peer);
                    return;
                };
                let missing: Vec<EntryId> = ids
                    .into_iter()
                    .filter(|id| !self.trust.holds(id))
                    .take(MAX_FETCH)
                    .collect();
                if missing.is_empty() {
                    // If the peer lacks something of ours, its own exchange pulls it.
                    self.syncing.remove(&peer);
                    self.pulled.insert(peer, digest);
                    return;
                }
                debug!(%peer, missing = missing.len(), "anti-entropy fetching");
                self.syncing.insert(peer, Some(digest));
                self.swarm.behaviour_mut().sync.send_request(
                    &peer,
                    SyncRequest::Fetch {
                        ids: sync::join_ids(&missing),
                    },
                );
            }
            SyncResponse::Revocations(batch) => {
                let from_digest = self.syncing.remove(&peer).flatten();
                let received = batch.len();
                let decoded: Vec<Revocation> = batch
                    .iter()
                    .take(MAX_FETCH)
                    .filter_map(|bytes| Revocation::decode(bytes).ok())
                    .collect();
                let (entries, invalid) = match self.trust.take_revocations(decoded) {
                    Ok(taken) => taken,
                    Err(error) => {
                        warn!(%peer, %error, "anti-entropy revocations not stored");
                        return;
                    }
                };
                if invalid > 0 || entries.len() + invalid < received {
                    warn!(%peer, invalid, "anti-entropy brought revocations that do not verify");
                }
                info!(%peer, added = entries.len(), "anti-entropy caught up");
                self.metrics.revocations_synced.inc_by(entries.len() as u64);
                for entry in &entries {
                    self.emit(MeshEvent::RevocationApplied {
                        entry: *entry,
                        via: Via::Sync,
                    });
                }
                if received >= MAX_FETCH {
                    // One fetch carries so much; ask again for the rest.
                    self.start_sync(peer);
                } else if let Some(digest) = from_digest {
                    self.pulled.insert(peer, digest);
                }
                if !entries.is_empty() {
                    self.metrics
                        .revocations
                        .set(gauge(self.trust.revocation_count()));
                    self.enforce_on_admitted();
                    // Tell the other peers: those that lack what arrived pull it from here.
                    let others: Vec<PeerId> = self.admitted().filter(|p| *p != peer).collect();
                    for other in others {
                        self.start_sync(other);
                    }
                }
            }
        }
    }
}
