//! Fuzz target `mesh_admission`: the admission message a peer sends on a new connection,
//! decoded as libp2p-request-response's CBOR codec decodes it, then `Admission::check`.
//!
//! The first input byte picks the remote PeerId (the fixed peer or the other one), as the
//! transport would have authenticated it; the rest is the message. A decoded message must
//! encode back to an equal message. Whatever the fixed fleet's node admits must be a node
//! credential that decodes, names the remote PeerId, chains to the fixed root through the
//! site CA that issued it, and carries a binding that verifies under the credential's key
//! for that PeerId; the same message from the other peer must be refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use libp2p_identity::PeerId;
use ward_crypto::{Credential, NoRevocations, Policy, Role};
use ward_fuzz::fleet::{NOW, fleet};
use ward_fuzz::mesh::{mesh, remote_peer};
use ward_node::mesh::admission::BINDING_LABEL;
use ward_node::mesh::{AdmissionMessage, AdmittedPeer};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let Ok(message) = cbor4ii::serde::from_slice::<AdmissionMessage>(body) else {
        return;
    };
    check_encoding(&message);

    let remote = remote_peer(selector);
    let admission = &mesh().admission;
    match admission.check(&remote, &message, NOW) {
        Ok(admitted) => {
            check_admitted(&remote, &message, &admitted);
            // The subject names one PeerId: the message is nobody else's.
            let other = remote_peer(selector ^ 1);
            assert!(
                admission.check(&other, &message, NOW).is_err(),
                "a message admitted for {remote} is admitted for {other} too"
            );
        }
        Err(refusal) => {
            let _ = refusal.to_string();
        }
    }
});

/// The codec's encoder writes every decoded message back to bytes that decode to it, and
/// those bytes are a fixed point.
fn check_encoding(message: &AdmissionMessage) {
    let bytes = cbor4ii::serde::to_vec(Vec::new(), message).expect("encoding into a Vec");
    let again: AdmissionMessage =
        cbor4ii::serde::from_slice(&bytes).expect("an encoded message decodes");
    assert_eq!(&again, message);
    let twice = cbor4ii::serde::to_vec(Vec::new(), &again).expect("encoding into a Vec");
    assert_eq!(twice, bytes, "encoding is not deterministic");
    let _ = format!("{message:?}");
}

/// Re-checks an admission from the message alone, without the admission code.
fn check_admitted(remote: &PeerId, message: &AdmissionMessage, admitted: &AdmittedPeer) {
    let fleet = fleet();
    let credential =
        Credential::decode(&message.credential).expect("an admitted credential decodes");
    let claims = credential.claims();
    assert_eq!(admitted.peer, *remote);
    assert_eq!(admitted.credential, credential);
    assert_eq!(claims.role, Role::Node);
    assert_eq!(claims.subject, remote.to_base58());

    // The site CA: the fixed one, which the node trusts, or one the message brought.
    let site_ca = if claims.issuer == fleet.site_ca.name() {
        assert!(
            admitted.new_site_ca.is_none(),
            "a trusted site CA came back as new"
        );
        fleet.site_ca.credential().clone()
    } else {
        let new = admitted
            .new_site_ca
            .as_ref()
            .expect("a node of an untrusted site comes with its site CA");
        assert_eq!(new.credential().as_bytes(), &message.site_ca[..]);
        assert_eq!(new.name(), claims.issuer);
        new.credential().clone()
    };
    fleet
        .root
        .validate(
            &site_ca,
            &credential,
            &Policy::role(Role::Node),
            NOW,
            &NoRevocations,
        )
        .expect("an admitted node chains to the fleet root");

    let mut input = BINDING_LABEL.to_vec();
    input.extend_from_slice(&remote.to_bytes());
    claims
        .key
        .verify(&input, &message.binding)
        .expect("an admitted binding verifies for the remote PeerId");
}
