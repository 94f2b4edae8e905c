//! Admission of a peer to the mesh: the message both sides of a new connection exchange, and
//! the checks that decide whether the sender is a node of this fleet.
//!
//! This module does no I/O and reads no clock: [`Admission::check`] takes the remote PeerId,
//! which the transport has already authenticated (Noise on TCP, TLS 1.3 on QUIC), the
//! received message and the time, and returns the admitted peer or the reason for refusal.
//!
//! ```text
//! AdmissionMessage { credential, binding }
//!   credential  the sender's node credential (CWT), issued by a site CA of the fleet
//!   binding     ES256 signature by the credential's P-256 key over
//!               "ward mesh admission v1\0" || sender's PeerId (multihash bytes)
//! ```
//!
//! A peer is admitted when its credential chains to the fleet root, is not revoked, holds
//! the role `node`, names the peer's PeerId as its subject (DESIGN §2: a node certificate
//! binds a PeerId), and the binding verifies under the credential's key. The subject check
//! ties the certificate to the transport identity; the binding proves that whoever holds
//! the certificate's key consents to that PeerId. A credential and binding replayed by a
//! peer with another PeerId fail both.

use std::fmt;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use ward_crypto::credential::MAX_CREDENTIAL_LEN;
use ward_crypto::keys::SIGNATURE_LEN;
use ward_crypto::{
    ChainError, Credential, DecodeError, FleetRoot, Policy, Rejection, RevocationSet, RevokedBy,
    Role, SecretKey, TrustedSiteCa,
};

/// Domain label of the binding signature, so that it can never be mistaken for a signature
/// made for another purpose with the same key.
pub const BINDING_LABEL: &[u8] = b"ward mesh admission v1\0";

/// Largest encoded admission message the mesh reads. The CBOR codec writes byte vectors as
/// arrays of small integers, up to two bytes per byte, hence the factor.
// TODO(#4): encode the two fields as CBOR byte strings (half the bytes on the wire), and give
// the message's decoding and `Admission::check` a fuzz target, before the mesh is started by
// `ward run`.
pub const MAX_ADMISSION_MESSAGE_LEN: u64 = 2 * (MAX_CREDENTIAL_LEN + SIGNATURE_LEN) as u64 + 64;

/// What each side of a new connection sends: as a request from the dialer, as the response
/// from the listener once it has admitted the dialer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionMessage {
    /// The sender's node credential, as issued.
    pub credential: Vec<u8>,
    /// The sender's signature binding its credential key to its PeerId.
    pub binding: Vec<u8>,
}

impl fmt::Debug for AdmissionMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmissionMessage")
            .field("credential_len", &self.credential.len())
            .field("binding_len", &self.binding.len())
            .finish()
    }
}

/// The key given to [`AdmissionMessage::new`] is not the key the credential binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the signing key is not the key the node credential binds")]
pub struct KeyMismatch;

impl AdmissionMessage {
    /// The message a node with `credential` and its `key` sends as `peer`.
    pub fn new(
        credential: &Credential,
        key: &SecretKey,
        peer: &PeerId,
    ) -> Result<Self, KeyMismatch> {
        if key.public_key() != credential.claims().key {
            return Err(KeyMismatch);
        }
        Ok(AdmissionMessage {
            credential: credential.as_bytes().to_vec(),
            binding: key.sign(&binding_input(peer)).to_vec(),
        })
    }
}

fn binding_input(peer: &PeerId) -> Vec<u8> {
    let mut input = BINDING_LABEL.to_vec();
    input.extend_from_slice(&peer.to_bytes());
    input
}

/// Why a peer was refused. The display form names the rule, never key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The credential is not a well-formed Ward credential.
    #[error("credential does not decode: {0}")]
    Decode(DecodeError),
    /// The credential is not a node's.
    #[error("credential has role {0}, expected node")]
    NotANode(Role),
    /// The credential names another peer than the one connected.
    #[error("credential is for another PeerId")]
    PeerIdMismatch,
    /// No trusted site CA of this fleet bears the credential's issuer name.
    #[error("credential issued by unknown site CA {0:?}")]
    UnknownSiteCa(String),
    /// The credential does not chain to the fleet root.
    #[error("{0}")]
    Chain(ChainError),
    /// The credential, or its site CA, is revoked.
    #[error("credential is revoked: {0}")]
    Revoked(RevokedBy),
    /// The binding signature does not verify for the connected PeerId.
    #[error("PeerId binding does not verify")]
    BindingInvalid,
}

/// A peer whose admission message passed [`Admission::check`].
#[derive(Clone, Debug)]
pub struct AdmittedPeer {
    /// The peer, as authenticated by the transport.
    pub peer: PeerId,
    /// Its node credential.
    pub credential: Credential,
}

/// The admission policy of a node: whom it trusts, and what it knows to be revoked.
#[derive(Clone, Debug)]
pub struct Admission {
    root: FleetRoot,
    site_cas: Vec<TrustedSiteCa>,
    revocations: RevocationSet,
}

impl Admission {
    /// A policy admitting nodes of any of `site_cas`, all of `root`'s fleet. Nodes of every
    /// site are admitted: DESIGN §4 has revocations gossiped across all sites.
    pub fn new(root: FleetRoot, site_cas: Vec<TrustedSiteCa>) -> Self {
        Admission {
            root,
            site_cas,
            revocations: RevocationSet::new(),
        }
    }

    /// The same policy, enforcing `revocations`.
    pub fn with_revocations(mut self, revocations: RevocationSet) -> Self {
        self.revocations = revocations;
        self
    }

    /// The revocations enforced.
    pub fn revocations(&self) -> &RevocationSet {
        &self.revocations
    }

    /// Decides whether `remote` may join the mesh with `message`, at `now` (seconds since
    /// the UNIX epoch).
    pub fn check(
        &self,
        remote: &PeerId,
        message: &AdmissionMessage,
        now: u64,
    ) -> Result<AdmittedPeer, Refusal> {
        // Cheap structural checks first, so that junk costs no signature verification.
        let credential = Credential::decode(&message.credential).map_err(Refusal::Decode)?;
        let claims = credential.claims();
        if claims.role != Role::Node {
            return Err(Refusal::NotANode(claims.role));
        }
        if claims.subject != remote.to_base58() {
            return Err(Refusal::PeerIdMismatch);
        }

        self.validate_chain(&credential, now)?;

        // Proof of possession of the credential key, for this PeerId.
        claims
            .key
            .verify(&binding_input(remote), &message.binding)
            .map_err(|_| Refusal::BindingInvalid)?;
        Ok(AdmittedPeer {
            peer: *remote,
            credential,
        })
    }

    /// Replaces the revocations enforced from now on. Peers admitted earlier are not
    /// affected until [`Admission::still_valid`] is asked about them.
    pub fn set_revocations(&mut self, revocations: RevocationSet) {
        self.revocations = revocations;
    }

    /// Whether a peer admitted earlier would still be admitted at `now`: its credential
    /// still chains, has not expired and is not revoked. Its binding was proven on admission
    /// and does not change.
    pub fn still_valid(&self, admitted: &AdmittedPeer, now: u64) -> Result<(), Refusal> {
        self.validate_chain(&admitted.credential, now)
    }

    fn validate_chain(&self, credential: &Credential, now: u64) -> Result<(), Refusal> {
        // The chain, checked again in full at `now`: the site CA may have expired or been
        // revoked since it was trusted.
        let issuer = &credential.claims().issuer;
        let site_ca = self
            .site_cas
            .iter()
            .find(|ca| ca.name() == issuer)
            .ok_or_else(|| Refusal::UnknownSiteCa(issuer.clone()))?;
        let policy = Policy::role(Role::Node);
        self.root
            .validate(
                site_ca.credential(),
                credential,
                &policy,
                now,
                &self.revocations,
            )
            .map_err(|err| match err.reason {
                Rejection::Revoked(by) => Refusal::Revoked(by),
                _ => Refusal::Chain(err),
            })
    }
}

#[cfg(test)]
mod tests {
    use libp2p::identity::Keypair;
    use ward_crypto::issue::{self, CredentialRequest, Issuer};
    use ward_crypto::{
        Link, NoRevocations, Revocation, RevocationReason, RevocationStatement, RevocationTarget,
    };

    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW: u64 = 1_767_225_600;
    const DAY: u64 = 86_400;

    fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
        rand_core::UnwrapErr(getrandom::SysRng)
    }

    struct Fleet {
        root_key: SecretKey,
        root: Credential,
        site_key: SecretKey,
        site_ca: Credential,
    }

    impl Fleet {
        fn new(name: &str) -> Fleet {
            let root_key = SecretKey::generate_ed25519(&mut rng());
            let root = issue::fleet_root(name, &root_key, NOW, 3650 * DAY, &mut rng())
                .expect("root issuance");
            let site_key = SecretKey::generate_p256(&mut rng());
            let site_ca = issue_with(&root_key, &root, Role::SiteCa, "site-a", &site_key);
            Fleet {
                root_key,
                root,
                site_key,
                site_ca,
            }
        }

        fn admission(&self) -> Admission {
            let root = FleetRoot::new(self.root.clone()).expect("valid anchor");
            let site_ca = root
                .validate_site_ca(&self.site_ca, NOW, &NoRevocations)
                .expect("valid site CA");
            Admission::new(root, vec![site_ca])
        }

        /// A node credential for a fresh PeerId; returns the PeerId, the key and the message.
        fn node(&self, role: Role) -> (PeerId, SecretKey, Credential) {
            let peer = Keypair::generate_ed25519().public().to_peer_id();
            let key = SecretKey::generate_p256(&mut rng());
            let subject = peer.to_base58();
            let credential = issue_with(&self.site_key, &self.site_ca, role, &subject, &key);
            (peer, key, credential)
        }
    }

    fn issue_with(
        issuer_key: &SecretKey,
        issuer: &Credential,
        role: Role,
        subject: &str,
        key: &SecretKey,
    ) -> Credential {
        let request = CredentialRequest {
            subject: subject.into(),
            role,
            key: key.public_key(),
            scopes: vec![],
            lifetime_secs: 30 * DAY,
        };
        Issuer::new(issuer_key, issuer)
            .and_then(|issuer| issuer.issue(&request, NOW, &mut rng()))
            .expect("issuance")
    }

    #[test]
    fn node_of_the_fleet_is_admitted() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let admitted = fleet
            .admission()
            .check(&peer, &message, NOW + 60)
            .expect("admitted");
        assert_eq!(admitted.peer, peer);
        assert_eq!(admitted.credential, credential);
    }

    #[test]
    fn message_needs_the_credential_key() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, _, credential) = fleet.node(Role::Node);
        let other = SecretKey::generate_p256(&mut rng());
        assert_eq!(
            AdmissionMessage::new(&credential, &other, &peer),
            Err(KeyMismatch)
        );
    }

    #[test]
    fn garbage_credential_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let message = AdmissionMessage {
            credential: vec![0xa0, 0x01, 0x02],
            binding: vec![0; 64],
        };
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert!(matches!(refusal, Refusal::Decode(_)), "{refusal}");
    }

    #[test]
    fn camera_credential_is_not_a_node() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Camera);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::NotANode(Role::Camera));
    }

    #[test]
    fn node_of_another_fleet_does_not_chain() {
        let (ours, theirs) = (Fleet::new("fleet:acme"), Fleet::new("fleet:acme"));
        let (peer, key, credential) = theirs.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        // Same names, other keys: the site CA's signature on the leaf does not verify.
        let refusal = ours
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        let Refusal::Chain(err) = refusal else {
            panic!("expected a chain refusal, got {refusal}");
        };
        assert_eq!(err.link, Link::Leaf);
        assert_eq!(err.reason, Rejection::BadSignature);
    }

    #[test]
    fn node_of_an_unknown_site_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let other_site_key = SecretKey::generate_p256(&mut rng());
        let other_site = issue_with(
            &fleet.root_key,
            &fleet.root,
            Role::SiteCa,
            "site-b",
            &other_site_key,
        );
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let key = SecretKey::generate_p256(&mut rng());
        let credential = issue_with(
            &other_site_key,
            &other_site,
            Role::Node,
            &peer.to_base58(),
            &key,
        );
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::UnknownSiteCa("site-b".into()));
    }

    #[test]
    fn expired_credential_does_not_chain() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW + 31 * DAY)
            .expect_err("the peer must be refused");
        let Refusal::Chain(err) = &refusal else {
            panic!("expected a chain refusal, got {refusal}");
        };
        assert!(matches!(err.reason, Rejection::Expired { .. }), "{refusal}");
    }

    /// A revocation set holding the site CA's revocation of `credential`.
    fn revoked(fleet: &Fleet, credential: &Credential) -> RevocationSet {
        let statement = RevocationStatement {
            issuer: "site-a".into(),
            target: RevocationTarget::Serial(credential.claims().serial),
            reason: RevocationReason::KeyCompromise,
            revoked_at: NOW,
        };
        let root = FleetRoot::new(fleet.root.clone()).expect("valid anchor");
        let site_ca = root
            .validate_site_ca(&fleet.site_ca, NOW, &NoRevocations)
            .expect("valid site CA");
        let verified = Revocation::sign(statement, &fleet.site_key)
            .verify(&root, Some(&site_ca))
            .expect("genuine revocation");
        let mut revocations = RevocationSet::new();
        revocations.insert(verified);
        revocations
    }

    #[test]
    fn revoked_node_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let refusal = fleet
            .admission()
            .with_revocations(revoked(&fleet, &credential))
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        let Refusal::Revoked(by) = &refusal else {
            panic!("expected a revocation, got {refusal}");
        };
        assert_eq!(by.reason, RevocationReason::KeyCompromise);
        assert!(refusal.to_string().contains("revoked"), "{refusal}");
    }

    #[test]
    fn admitted_node_revoked_later_is_no_longer_valid() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let mut admission = fleet.admission();
        let admitted = admission.check(&peer, &message, NOW).expect("admitted");
        assert_eq!(admission.still_valid(&admitted, NOW), Ok(()));

        admission.set_revocations(revoked(&fleet, &credential));
        let refusal = admission
            .still_valid(&admitted, NOW)
            .expect_err("revoked since admission");
        assert!(matches!(refusal, Refusal::Revoked(_)), "{refusal}");
    }

    #[test]
    fn credential_replayed_by_another_peer_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let thief = Keypair::generate_ed25519().public().to_peer_id();
        let refusal = fleet
            .admission()
            .check(&thief, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::PeerIdMismatch);
    }

    #[test]
    fn binding_for_another_peer_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let elsewhere = Keypair::generate_ed25519().public().to_peer_id();
        let message = AdmissionMessage::new(&credential, &key, &elsewhere).expect("matching key");
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::BindingInvalid);
    }

    #[test]
    fn binding_without_the_label_is_refused() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage {
            credential: credential.as_bytes().to_vec(),
            binding: key.sign(&peer.to_bytes()).to_vec(),
        };
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::BindingInvalid);
    }
}
