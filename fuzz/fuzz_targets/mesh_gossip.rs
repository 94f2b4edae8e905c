//! Fuzz target `mesh_gossip`: a gossip message body, read as the node reads it before it
//! accepts or rejects the message.
//!
//! The first input byte picks the topic: even for revocations (an 8-byte stamp, then a
//! signed revocation, verified by `Admission::verify_revocation`), odd for credentials
//! (`Credential::decode`, then `Admission::add_site_ca` for a site CA and
//! `Admission::validate_node` for anything else). The node policy is the fixed fleet's, with
//! its one site CA trusted. A verified revocation must name the fixed root or the fixed site
//! CA as its issuer and enter a revocation set exactly once. A site CA taken in must chain to
//! the fixed root and be new; a node credential accepted must be a node's and chain.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::{Credential, NoRevocations, Policy, Revocation, RevocationSet, Role};
use ward_fuzz::fleet::{NOW, ROOT_NAME, SITE, fleet};
use ward_fuzz::mesh::mesh;
use ward_node::mesh::Refusal;
use ward_node::mesh::sync::decode_gossip_revocation;

fuzz_target!(|data: &[u8]| {
    let Some((&topic, body)) = data.split_first() else {
        return;
    };
    if topic % 2 == 0 {
        check_revocation(body);
    } else {
        check_credential(body);
    }
});

fn check_revocation(body: &[u8]) {
    let Some((_, bytes)) = decode_gossip_revocation(body) else {
        return;
    };
    let Ok(revocation) = Revocation::decode(bytes) else {
        return;
    };
    let issuer = revocation.statement().issuer.clone();
    let mut admission = mesh().admission.clone();
    match admission.verify_revocation(revocation) {
        Ok(verified) => {
            assert!(
                issuer == ROOT_NAME || issuer == SITE,
                "a revocation from {issuer:?} was verified"
            );
            assert_eq!(verified.revocation().as_bytes(), bytes);
            let mut set = RevocationSet::new();
            assert!(set.insert(verified.clone()));
            assert!(
                !set.insert(verified.clone()),
                "the set took the same revocation twice"
            );
            assert!(admission.insert_revocation(verified.clone()));
            assert!(
                !admission.insert_revocation(verified),
                "the node took the same revocation twice"
            );
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

fn check_credential(body: &[u8]) {
    let Ok(credential) = Credential::decode(body) else {
        return;
    };
    let fleet = fleet();
    let claims = credential.claims();
    let mut admission = mesh().admission.clone();
    if claims.role == Role::SiteCa {
        match admission.add_site_ca(&credential, NOW) {
            Ok(true) => {
                fleet
                    .root
                    .validate_site_ca(&credential, NOW, &NoRevocations)
                    .expect("a site CA taken in chains to the fleet root");
                assert_ne!(
                    claims.subject, SITE,
                    "the trusted site CA was taken in again"
                );
                assert_eq!(admission.add_site_ca(&credential, NOW), Ok(false));
            }
            // The node trusts one site CA; a CA of that name is valid but not new.
            Ok(false) => assert_eq!(claims.subject, SITE),
            Err(refusal) => {
                let _ = refusal.to_string();
            }
        }
        return;
    }

    match admission.validate_node(&credential, NOW) {
        Ok(()) => {
            assert_eq!(claims.role, Role::Node);
            assert_eq!(
                claims.issuer, SITE,
                "only the trusted site CA's nodes chain"
            );
            fleet
                .root
                .validate(
                    fleet.site_ca.credential(),
                    &credential,
                    &Policy::role(Role::Node),
                    NOW,
                    &NoRevocations,
                )
                .expect("an accepted node chains to the fleet root");
        }
        Err(Refusal::NotANode(role)) => {
            assert_eq!(role, claims.role);
            assert_ne!(role, Role::Node);
        }
        Err(refusal) => {
            assert_eq!(claims.role, Role::Node, "{refusal}");
        }
    }
}
