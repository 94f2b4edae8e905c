//! Fuzz target `mesh_join`: the two messages of the join protocol, decoded as
//! libp2p-request-response's CBOR codec decodes them. A join request is what a member's desk
//! reads from a peer it has not admitted; a join response is what a new node reads from its
//! bootstrap peer.
//!
//! The first input byte picks the message: even, a request; odd, a response. Either must
//! encode back to an equal message. A request's `Debug` must not show its secret; the node
//! key the desk would take from it must be a P-256 key that reads back the same from its own
//! encoding. A response is checked as the fixed peer checks it, holding the fixed node key;
//! whatever that accepts must be a node credential for that peer and key, chaining through
//! the response's site CA to the response's fleet root. The same response checked with any
//! other key must be refused.

#![no_main]

use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use libfuzzer_sys::fuzz_target;
use ward_crypto::{Credential, FleetRoot, NoRevocations, Policy, Role, SecretKey};
use ward_fuzz::fleet::NOW;
use ward_fuzz::mesh::mesh;
use ward_node::join::{Checked, check_joined, requested_node_key};
use ward_node::mesh::{JoinRequest, JoinResponse};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        if let Ok(request) = cbor4ii::serde::from_slice::<JoinRequest>(body) {
            check_request(&request);
        }
    } else if let Ok(response) = cbor4ii::serde::from_slice::<JoinResponse>(body) {
        check_response(response);
    }
});

fn check_request(request: &JoinRequest) {
    let bytes = cbor4ii::serde::to_vec(Vec::new(), request).expect("encoding into a Vec");
    let again: JoinRequest =
        cbor4ii::serde::from_slice(&bytes).expect("an encoded request decodes");
    assert_eq!(again.token_id, request.token_id);
    assert_eq!(again.token_secret, request.token_secret);
    assert_eq!(again.key, request.key);

    // The id is shown in hex; a secret that happens to be part of it is not a leak.
    let shown = format!("{request:?}");
    let secret = hex(&request.token_secret);
    if request.token_secret.len() >= 4 && !hex(&request.token_id).contains(&secret) {
        assert!(!shown.contains(&secret), "a join request shows its secret");
    }

    if let Ok(key) = requested_node_key(&request.key) {
        assert_eq!(Some(key.algorithm()), Role::Node.required_key_algorithm());
        let encoded = coset::CborSerializable::to_vec(key.to_cose_key()).expect("encoding");
        let reread = requested_node_key(&encoded).expect("a node key's own encoding reads back");
        assert_eq!(reread, key);
    }
}

fn check_response(response: JoinResponse) {
    let bytes = cbor4ii::serde::to_vec(Vec::new(), &response).expect("encoding into a Vec");
    let again: JoinResponse =
        cbor4ii::serde::from_slice(&bytes).expect("an encoded response decodes");
    assert_eq!(again, response);

    let mesh = mesh();
    let stranger = SecretKey::generate_p256(&mut UnwrapErr(SysRng));
    assert!(
        check_joined(&mesh.peer, stranger, again, NOW, 0).is_err(),
        "a response accepted for a key that no credential binds"
    );

    match check_joined(&mesh.peer, node_key(), response, NOW, 0) {
        Ok(joined) => {
            let claims = joined.credential.claims();
            assert_eq!(claims.subject, mesh.peer.to_base58());
            assert_eq!(claims.role, Role::Node);
            assert_eq!(claims.key, mesh.node_key.public_key());
            let root = FleetRoot::new(joined.fleet_root.clone()).expect("an accepted fleet root");
            root.validate(
                &joined.site_ca,
                &joined.credential,
                &Policy::role(Role::Node),
                NOW,
                &NoRevocations,
            )
            .expect("an accepted credential chains to the fleet root it came with");
            let reread = Credential::decode(joined.credential.as_bytes()).expect("decodes");
            assert_eq!(reread, joined.credential);
        }
        Err(Checked::Refused(reason) | Checked::Invalid(reason)) => {
            let _ = reason.len();
        }
    }
}

/// The fixed node key, anew for each check, which takes it.
fn node_key() -> SecretKey {
    SecretKey::from_cose_key_bytes(&mesh().node_key.to_cose_key_bytes()).expect("the fixed key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
