//! Handshakes between Ward's Initiator and Responder: every method on both suites, every
//! credential form, EAD in every message, negotiation, and what the session derives.

use alloc::vec::Vec;

use super::parties::{Directory, Reference, parties, run};
use crate::backend::RustCrypto;
use crate::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, EadItem, Error, ErrorMessage, IdCred, Initiator,
    InitiatorConfig, LocalCredential, Method, Responder, ResponderConfig, Session,
};
use crate::fixtures::Fleet;
use crate::test_rng::TestRng;

const SUITES: [CipherSuite; 2] = [CipherSuite::Suite0, CipherSuite::Suite2];

fn assert_same_keys(initiator: &Session<RustCrypto>, responder: &Session<RustCrypto>) {
    assert_eq!(initiator.prk_out(), responder.prk_out());
    let (i, r) = (
        initiator.oscore_parameters().expect("OSCORE"),
        responder.oscore_parameters().expect("OSCORE"),
    );
    assert_eq!(i.master_secret(), r.master_secret());
    assert_eq!(i.master_salt(), r.master_salt());
    assert_eq!(i.sender_id(), r.recipient_id());
    assert_eq!(i.recipient_id(), r.sender_id());
    assert_ne!(i.sender_id(), i.recipient_id());
    let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
    initiator
        .exporter(40_000, b"frame token", &mut a)
        .expect("export");
    responder
        .exporter(40_000, b"frame token", &mut b)
        .expect("export");
    assert_eq!(a, b);
    responder
        .exporter(40_001, b"frame token", &mut b)
        .expect("export");
    assert_ne!(a, b, "another label derives another key");
}

#[test]
fn every_method_completes_on_both_suites_with_kid_references() {
    for (n, method) in Method::ALL.into_iter().enumerate() {
        for suite in SUITES {
            let (i, r) = parties(n as u64, method, suite, Reference::Kid);
            let run = run(method, suite, &i, &r, [&[]; 4])
                .unwrap_or_else(|e| panic!("{method:?} {suite}: {e}"));
            assert_same_keys(&run.initiator, &run.responder);
            assert_eq!(run.initiator.method(), method);
            assert_eq!(run.responder.suite(), suite);
        }
    }
}

#[test]
fn every_method_completes_with_credentials_by_value() {
    for (n, method) in Method::ALL.into_iter().enumerate() {
        for suite in SUITES {
            let (i, r) = parties(100 + n as u64, method, suite, Reference::ByValue);
            let run = run(method, suite, &i, &r, [&[]; 4])
                .unwrap_or_else(|e| panic!("{method:?} {suite}: {e}"));
            assert_same_keys(&run.initiator, &run.responder);
        }
    }
}

#[test]
fn method_3_with_kid_references_takes_37_45_and_19_bytes() {
    // RFC 9528 §1.2 (and §3 of RFC 9529 with a one-suite SUITES_I): 37, 45 and 19 bytes.
    let (i, r) = parties(7, Method::StaticStatic, CipherSuite::Suite2, Reference::Kid);
    let run = run(Method::StaticStatic, CipherSuite::Suite2, &i, &r, [&[]; 4]).expect("run");
    let sizes: Vec<usize> = run.messages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [37, 45, 19, 9]);
}

/// A camera and a node with P-256 CWTs from the site CA, signing (method 0): by value
/// (`kcwt`) or referenced by their RFC 9679 thumbprint as `kid`.
fn cwt_handshake(by_value: bool) {
    let mut fleet = Fleet::new(30);
    let (camera_key, camera) = fleet.leaf(crate::Role::Camera, "camera-7", &["stream:publish"]);
    let (node_key, node) = fleet.leaf(crate::Role::Node, "node-1", &[]);
    let id_cred = |cred: &crate::Credential| {
        if by_value {
            IdCred::Kcwt(cred.as_bytes().to_vec())
        } else {
            IdCred::kid(&cred.key_id().0).expect("32-byte kid")
        }
    };
    let local = |key, cred: &crate::Credential| {
        LocalCredential::<RustCrypto>::signing(AuthCredential::from_cwt(cred), id_cred(cred), key)
            .expect("key fits")
    };
    let (camera_local, node_local) = (local(camera_key, &camera), local(node_key, &node));
    let site_key = fleet.site_key.public_key();
    // The caller's trust decision: a CWT signed by the site CA, found in a registry by its
    // key id or carried by value.
    let registry = [camera.clone(), node.clone()];
    let check = |id_cred: &IdCred| -> AuthCredential {
        let credential = match id_cred {
            IdCred::Kcwt(cwt) => crate::Credential::decode(cwt).expect("CWT"),
            IdCred::Kid(kid) => registry
                .iter()
                .find(|c| c.key_id().0[..] == kid[..])
                .cloned()
                .expect("registered"),
            other => panic!("unexpected {other:?}"),
        };
        credential
            .verify_signature(&site_key)
            .expect("issued by the site CA");
        AuthCredential::from_cwt(&credential)
    };

    let method = Method::SignatureSignature;
    let suite = CipherSuite::Suite2;
    let config = InitiatorConfig::new(method, &[suite]).expect("config");
    let r_config = ResponderConfig::new(&[method], &[suite]).expect("config");
    let c_i = ConnectionId::new(&[]).expect("empty");
    let c_r = ConnectionId::new(&[0x20, 0x21]).expect("two bytes");
    let mut rng = TestRng::new(31);
    let (wait_m2, m1) =
        Initiator::start_with_rng(RustCrypto, &config, &mut rng, c_i, &[]).expect("m1");
    let ready_m2 = Responder::process_message_1(RustCrypto, &r_config, &m1).expect("m1");
    let (wait_m3, m2) = ready_m2
        .prepare_message_2_with_rng(&node_local, &mut rng, c_r, &[])
        .expect("m2");
    let wait_cred_r = wait_m2.process_message_2(&m2).expect("m2");
    let cred_r = check(wait_cred_r.id_cred_r());
    // RFC 9528 §3.5.2: CRED_x of a CWT is the untagged CWT.
    assert_eq!(
        cred_r.as_bytes(),
        crate::edhoc::id::untagged(node.as_bytes())
    );
    assert_eq!(cred_r.as_bytes()[0], 0x84);
    let (wait_m4, m3) = wait_cred_r
        .verify(&cred_r)
        .expect("node authenticated")
        .prepare_message_3(&camera_local, &[])
        .expect("m3");
    let wait_cred_i = wait_m3.process_message_3(&m3).expect("m3");
    let cred_i = check(wait_cred_i.id_cred_i());
    let responder = wait_cred_i
        .verify(&cred_i)
        .expect("camera authenticated")
        .finish();
    let initiator = wait_m4.finish_without_message_4();
    assert_same_keys(&initiator, &responder);
}

#[test]
fn cwt_credentials_by_value_authenticate_both_ways() {
    cwt_handshake(true);
}

#[test]
fn cwt_credentials_by_thumbprint_kid_authenticate_both_ways() {
    cwt_handshake(false);
}

#[test]
fn ead_items_reach_the_peer_in_every_message() {
    let items: Vec<Vec<EadItem>> = (1..=4u16)
        .map(|label| {
            alloc::vec![
                EadItem::new(label, label % 2 == 1, Some(&[label as u8; 3])).expect("item"),
                EadItem::padding(4).expect("padding"),
                EadItem::new(500 + label, false, None).expect("item"),
            ]
        })
        .collect();
    let ead = [&items[0][..], &items[1][..], &items[2][..], &items[3][..]];
    for method in [Method::SignatureSignature, Method::StaticStatic] {
        let (i, r) = parties(40, method, CipherSuite::Suite2, Reference::Kid);
        let run = run(method, CipherSuite::Suite2, &i, &r, ead).expect("run");
        for (received, sent) in run.ead.iter().zip(&items) {
            // Padding is dropped; the rest arrives in order.
            assert_eq!(received, &[sent[0].clone(), sent[2].clone()]);
        }
    }
}

#[test]
fn suite_negotiation_retries_with_a_suite_the_responder_supports() {
    let method = Method::StaticStatic;
    let (i, r) = parties(50, method, CipherSuite::Suite2, Reference::Kid);
    let mut config =
        InitiatorConfig::new(method, &[CipherSuite::Suite0, CipherSuite::Suite2]).expect("cfg");
    let r_config = ResponderConfig::new(&[method], &[CipherSuite::Suite2]).expect("config");
    let c_i = ConnectionId::new(&[0x01]).expect("short");

    // First attempt: suite 0 selected, refused with SUITES_R = 2 (RFC 9528 §6.3).
    let (wait_m2, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], c_i, &[]).expect("m1");
    assert_eq!(&m1[..2], [0x03, 0x00]);
    let err = Responder::process_message_1(RustCrypto, &r_config, &m1).expect_err("suite 0");
    let error = err.to_error_message().expect("ERR_CODE 2").encode();
    assert_eq!(error, [0x02, 0x02]);
    let Err(Error::Aborted(ErrorMessage::WrongSelectedSuite(suites_r))) =
        wait_m2.process_message_2(&error)
    else {
        panic!("expected the negotiation error");
    };

    // Second attempt: SUITES_I = [0, 2], suite 2 selected, and the handshake completes.
    assert_eq!(
        config.select_after_error(&suites_r),
        Ok(CipherSuite::Suite2)
    );
    let (wait_m2, m1) = Initiator::start(RustCrypto, &config, &[0x12; 32], c_i, &[]).expect("m1");
    assert_eq!(&m1[..4], [0x03, 0x82, 0x00, 0x02]);
    let ready_m2 = Responder::process_message_1(RustCrypto, &r_config, &m1).expect("suite 2");
    let c_r = ConnectionId::new(&[0x02]).expect("short");
    let (wait_m3, m2) = ready_m2
        .prepare_message_2(&r.local, &[0x22; 32], c_r, &[])
        .expect("m2");
    let (_, m3) = wait_m2
        .process_message_2(&m2)
        .and_then(|s| s.resolve(&mut Directory::with(&r)))
        .and_then(|s| s.prepare_message_3(&i.local, &[]))
        .expect("m3");
    wait_m3
        .process_message_3(&m3)
        .and_then(|s| s.resolve(&mut Directory::with(&i)))
        .expect("authenticated");
}

#[test]
fn a_responder_refuses_a_selected_suite_below_one_it_prefers() {
    // RFC 9528 §5.2.3: SUITES_I = [2, 0] with 0 selected, to a Responder supporting both,
    // means an attacker may have stripped suite 2; the Responder answers with SUITES_R.
    let method = Method::SignatureSignature;
    let mut config =
        InitiatorConfig::new(method, &[CipherSuite::Suite2, CipherSuite::Suite0]).expect("cfg");
    config.select(CipherSuite::Suite0).expect("configured");
    let both = [CipherSuite::Suite0, CipherSuite::Suite2];
    let r_config = ResponderConfig::new(&[method], &both).expect("config");
    let c_i = ConnectionId::new(&[0x01]).expect("short");
    let (_, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], c_i, &[]).expect("m1");
    let err = Responder::process_message_1(RustCrypto, &r_config, &m1).expect_err("downgrade");
    assert_eq!(
        err.to_error_message(),
        Some(ErrorMessage::WrongSelectedSuite(r_config.suites_r()))
    );
}

#[test]
fn key_update_and_restore_keep_both_sides_in_step() {
    let (i, r) = parties(
        60,
        Method::StaticStatic,
        CipherSuite::Suite0,
        Reference::Kid,
    );
    let mut run = run(Method::StaticStatic, CipherSuite::Suite0, &i, &r, [&[]; 4]).expect("run");
    let before = run.initiator.oscore_parameters().expect("OSCORE");
    run.initiator.key_update(b"nonces of both").expect("update");
    run.responder.key_update(b"nonces of both").expect("update");
    assert_same_keys(&run.initiator, &run.responder);
    let after = run.initiator.oscore_parameters().expect("OSCORE");
    assert_ne!(before.master_secret(), after.master_secret());

    // A node that loads the session from the registry derives the same keys.
    let stored = run.responder.prk_out().clone();
    let restored = Session::restore(
        RustCrypto,
        run.responder.role(),
        run.responder.method(),
        run.responder.suite(),
        run.responder.c_i(),
        run.responder.c_r(),
        stored,
    )
    .expect("restore");
    assert_same_keys(&run.initiator, &restored);
}

#[test]
fn debug_output_shows_no_key_material() {
    let (i, r) = parties(
        70,
        Method::StaticStatic,
        CipherSuite::Suite2,
        Reference::Kid,
    );
    let run = run(Method::StaticStatic, CipherSuite::Suite2, &i, &r, [&[]; 4]).expect("run");
    let secret_hex: alloc::string::String = run
        .initiator
        .prk_out()
        .expose()
        .iter()
        .map(|b| alloc::format!("{b:02x}"))
        .collect();
    let oscore = run.initiator.oscore_parameters().expect("OSCORE");
    let shown = alloc::format!(
        "{:?} {:?} {:?} {:?}",
        run.initiator,
        oscore,
        i.local,
        r.local
    );
    assert!(!shown.contains(&secret_hex[..16]), "{shown}");
    assert!(!shown.contains(&alloc::format!("{:?}", run.initiator.prk_out().expose())));
    assert!(!shown.contains(&alloc::format!("{:?}", oscore.master_secret())));
}
