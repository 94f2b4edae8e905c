//! Admission of a peer to the mesh: the message both sides of a new connection exchange, and
//! the checks that decide whether the sender is a node of this fleet.
//!
//! This module does no I/O and reads no clock: [`Admission::check`] takes the remote PeerId,
//! which the transport has already authenticated (Noise on TCP, TLS 1.3 on QUIC), the
//! received message and the time, and returns the admitted peer or the reason for refusal.
//!
//! ```text
//! AdmissionMessage { credential, binding, site_ca }     CBOR map of byte strings
//!   credential  the sender's node credential (CWT), issued by a site CA of the fleet
//!   binding     ES256 signature by the credential's P-256 key over
//!               "ward mesh admission v1\0" || sender's PeerId (multihash bytes)
//!   site_ca     the credential of that site CA (may be empty)
//! ```
//!
//! A peer is admitted when its credential chains to the fleet root, is not revoked, holds
//! the role `node`, names the peer's PeerId as its subject (DESIGN §2: a node certificate
//! binds a PeerId), and the binding verifies under the credential's key. The subject check
//! ties the certificate to the transport identity; the binding proves that whoever holds
//! the certificate's key consents to that PeerId. A credential and binding replayed by a
//! peer with another PeerId fail both.
//!
//! Nodes of every site of the fleet admit each other, so a node meets site CAs it has not
//! been given: the message carries the sender's site CA, which counts only if it chains to
//! the receiver's own fleet root. Admitting the peer is what makes its site CA trusted.

use std::fmt;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use ward_crypto::backend::AwsLc;
use ward_crypto::credential::MAX_CREDENTIAL_LEN;
use ward_crypto::keys::SIGNATURE_LEN;
use ward_crypto::{
    ChainError, Credential, DecodeError, FleetRoot, Policy, Rejection, Revocation, RevocationError,
    RevocationSet, RevocationStatus as _, RevokedBy, Role, SecretKey, TrustedSiteCa,
    VerifiedRevocation,
};

/// Domain label of the binding signature, so that it can never be mistaken for a signature
/// made for another purpose with the same key.
pub const BINDING_LABEL: &[u8] = b"ward mesh admission v1\0";

/// Largest encoded admission message the mesh reads: two credentials, a signature and the
/// CBOR framing around them.
pub const MAX_ADMISSION_MESSAGE_LEN: u64 = (2 * MAX_CREDENTIAL_LEN + SIGNATURE_LEN) as u64 + 64;

/// What each side of a new connection sends: as a request from the dialer, as the response
/// from the listener once it has admitted the dialer. Every field is a CBOR byte string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionMessage {
    /// The sender's node credential, as issued.
    #[serde(with = "serde_bytes")]
    pub credential: Vec<u8>,
    /// The sender's signature binding its credential key to its PeerId.
    #[serde(with = "serde_bytes")]
    pub binding: Vec<u8>,
    /// The credential of the site CA that issued the sender's, so that a node of a site the
    /// receiver has not heard of yet can still be admitted; empty when not sent. It is
    /// trusted only if it chains to the receiver's own fleet root.
    #[serde(with = "serde_bytes", default)]
    pub site_ca: Vec<u8>,
}

impl fmt::Debug for AdmissionMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmissionMessage")
            .field("credential_len", &self.credential.len())
            .field("binding_len", &self.binding.len())
            .field("site_ca_len", &self.site_ca.len())
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
            site_ca: Vec::new(),
        })
    }

    /// The same message, carrying the credential of the site CA that issued the sender's.
    pub fn with_site_ca(mut self, site_ca: &Credential) -> Self {
        self.site_ca = site_ca.as_bytes().to_vec();
        self
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
    /// The site CA the peer's message brought, when this node did not trust it before.
    /// Admitting the peer is what makes it trusted: the caller adds it with
    /// [`Admission::trust_site_ca`].
    pub new_site_ca: Option<TrustedSiteCa>,
}

/// The admission policy of a node: whom it trusts, and what it knows to be revoked.
#[derive(Clone, Debug)]
pub struct Admission {
    root: FleetRoot,
    site_cas: Vec<TrustedSiteCa>,
    revocations: RevocationSet,
    /// Verifies revocation signatures; `None` if AWS-LC could not start, and the pure-Rust
    /// backend does it, slower.
    aws_lc: Option<AwsLc>,
}

impl Admission {
    /// A policy admitting nodes of any of `site_cas`, all of `root`'s fleet. Nodes of every
    /// site are admitted: DESIGN §4 has revocations gossiped across all sites.
    pub fn new(root: FleetRoot, site_cas: Vec<TrustedSiteCa>) -> Self {
        Admission {
            root,
            site_cas,
            revocations: RevocationSet::new(),
            aws_lc: AwsLc::new().ok(),
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

        // A site CA this node does not know yet may come with the message; it counts only
        // if it chains to this node's fleet root.
        let issuer = claims.issuer.as_str();
        let known = self.site_cas.iter().find(|ca| ca.name() == issuer).cloned();
        let site_ca = match known {
            Some(ca) => ca,
            None if !message.site_ca.is_empty() => {
                let offered = Credential::decode(&message.site_ca).map_err(Refusal::Decode)?;
                if offered.claims().subject != issuer {
                    return Err(Refusal::UnknownSiteCa(issuer.into()));
                }
                self.validate_site_ca(&offered, now)?
            }
            None => return Err(Refusal::UnknownSiteCa(issuer.into())),
        };
        self.validate_leaf(&site_ca, &credential, now)?;

        // Proof of possession of the credential key, for this PeerId.
        claims
            .key
            .verify(&binding_input(remote), &message.binding)
            .map_err(|_| Refusal::BindingInvalid)?;
        let new_site_ca = (!self.site_cas.iter().any(|ca| ca.name() == issuer)).then_some(site_ca);
        Ok(AdmittedPeer {
            peer: *remote,
            credential,
            new_site_ca,
        })
    }

    /// The fleet root.
    pub fn root(&self) -> &FleetRoot {
        &self.root
    }

    /// The site CAs trusted so far.
    pub fn site_cas(&self) -> &[TrustedSiteCa] {
        &self.site_cas
    }

    /// Checks that `revocation` is signed by the authority it names: the fleet root or a
    /// trusted site CA.
    pub fn verify_revocation(
        &self,
        revocation: Revocation,
    ) -> Result<VerifiedRevocation, RevocationError> {
        let issuer = revocation.statement().issuer.as_str();
        let site_ca = self.site_cas.iter().find(|ca| ca.name() == issuer);
        match &self.aws_lc {
            Some(aws_lc) => revocation.verify_with(aws_lc, &self.root, site_ca),
            None => revocation.verify(&self.root, site_ca),
        }
    }

    /// Enforces `revocation` from now on; `false` if an equivalent one was enforced already.
    pub fn insert_revocation(&mut self, revocation: VerifiedRevocation) -> bool {
        self.revocations.insert(revocation)
    }

    /// Validates `credential` as a site CA of this fleet at `now` and trusts it from now on.
    /// `Ok(false)` if a CA of that name was trusted already: the first one stays.
    pub fn add_site_ca(&mut self, credential: &Credential, now: u64) -> Result<bool, Refusal> {
        let trusted = self.validate_site_ca(credential, now)?;
        Ok(self.trust_site_ca(trusted))
    }

    /// Trusts a site CA validated earlier; `false` if a CA of that name was trusted already.
    pub fn trust_site_ca(&mut self, site_ca: TrustedSiteCa) -> bool {
        if self.site_cas.iter().any(|ca| ca.name() == site_ca.name()) {
            return false;
        }
        self.site_cas.push(site_ca);
        true
    }

    /// Whether an admitted peer's credential, or the site CA that issued it, is revoked now.
    /// A lookup in the revocation index, with no signature checked: cheap enough to ask
    /// about every peer whenever a revocation arrives.
    pub fn revoked(&self, admitted: &AdmittedPeer) -> Option<RevokedBy> {
        if let Err(by) = self.revocations.check(&admitted.credential) {
            return Some(by);
        }
        let issuer = &admitted.credential.claims().issuer;
        let site_ca = self.site_cas.iter().find(|ca| ca.name() == issuer)?;
        self.revocations.check(site_ca.credential()).err()
    }

    /// Validates a node credential learned from the mesh at `now`: it must be a node's and
    /// chain to the fleet root through a trusted site CA, unrevoked.
    pub fn validate_node(&self, credential: &Credential, now: u64) -> Result<(), Refusal> {
        let role = credential.claims().role;
        if role != Role::Node {
            return Err(Refusal::NotANode(role));
        }
        self.validate_chain(credential, now)
    }

    fn validate_chain(&self, credential: &Credential, now: u64) -> Result<(), Refusal> {
        let issuer = &credential.claims().issuer;
        let site_ca = self
            .site_cas
            .iter()
            .find(|ca| ca.name() == issuer)
            .ok_or_else(|| Refusal::UnknownSiteCa(issuer.clone()))?;
        // The site CA is checked again in full at `now`: it may have expired or been revoked
        // since it was trusted.
        let site_ca = self.validate_site_ca(site_ca.credential(), now)?;
        self.validate_leaf(&site_ca, credential, now)
    }

    fn validate_site_ca(&self, site_ca: &Credential, now: u64) -> Result<TrustedSiteCa, Refusal> {
        let policy = Policy::role(Role::Node);
        self.root
            .validate_site_ca_with_leeway(site_ca, now, policy.leeway_secs, &self.revocations)
            .map_err(refusal)
    }

    fn validate_leaf(
        &self,
        site_ca: &TrustedSiteCa,
        credential: &Credential,
        now: u64,
    ) -> Result<(), Refusal> {
        let policy = Policy::role(Role::Node);
        site_ca
            .validate_leaf(credential, &policy, now, &self.revocations)
            .map_err(refusal)
    }
}

fn refusal(err: ChainError) -> Refusal {
    match err.reason {
        Rejection::Revoked(by) => Refusal::Revoked(by),
        _ => Refusal::Chain(err),
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
            site_ca: Vec::new(),
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
    fn admitted_node_revoked_later_is_found_revoked() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let message = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        let mut admission = fleet.admission();
        let admitted = admission.check(&peer, &message, NOW).expect("admitted");
        assert_eq!(admission.revoked(&admitted), None);

        for verified in revoked(&fleet, &credential).iter() {
            assert!(admission.insert_revocation(verified.clone()));
        }
        let by = admission
            .revoked(&admitted)
            .expect("revoked since admission");
        assert_eq!(by.reason, RevocationReason::KeyCompromise);
    }

    #[test]
    fn node_of_a_site_not_yet_known_is_admitted_with_its_site_ca() {
        let fleet = Fleet::new("fleet:acme");
        let (peer, key, credential) = fleet.node(Role::Node);
        let root = FleetRoot::new(fleet.root.clone()).expect("valid anchor");
        // This node trusts no site CA yet.
        let admission = Admission::new(root, vec![]);
        let bare = AdmissionMessage::new(&credential, &key, &peer).expect("matching key");
        assert_eq!(
            admission.check(&peer, &bare, NOW).map(|_| ()),
            Err(Refusal::UnknownSiteCa("site-a".into()))
        );
        let message = bare.with_site_ca(&fleet.site_ca);
        let admitted = admission.check(&peer, &message, NOW).expect("admitted");
        let learned = admitted.new_site_ca.expect("the site CA is new here");
        assert_eq!(learned.credential(), &fleet.site_ca);
    }

    #[test]
    fn site_ca_of_another_fleet_brought_along_is_refused() {
        let (ours, theirs) = (Fleet::new("fleet:acme"), Fleet::new("fleet:acme"));
        let (peer, key, credential) = theirs.node(Role::Node);
        let root = FleetRoot::new(ours.root.clone()).expect("valid anchor");
        let admission = Admission::new(root, vec![]);
        let message = AdmissionMessage::new(&credential, &key, &peer)
            .expect("matching key")
            .with_site_ca(&theirs.site_ca);
        let refusal = admission
            .check(&peer, &message, NOW)
            .expect_err("their site CA does not chain to our root");
        assert!(matches!(refusal, Refusal::Chain(_)), "{refusal}");
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
            site_ca: Vec::new(),
        };
        let refusal = fleet
            .admission()
            .check(&peer, &message, NOW)
            .expect_err("the peer must be refused");
        assert_eq!(refusal, Refusal::BindingInvalid);
    }
}
