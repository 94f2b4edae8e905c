//! What must fail, fails with the right error: unknown and untrusted credentials, wrong
//! credentials, tampered and replayed messages, unsupported suites, methods and EAD.

use alloc::vec::Vec;

use super::parties::{Directory, Party, Reference, parties, run};
use crate::backend::RustCrypto;
use crate::edhoc::{
    CipherSuite, ConnectionId, EadItem, Error, ErrorMessage, Initiator, InitiatorConfig,
    InitiatorWaitM2, MAX_MESSAGE_LEN, Method, Misuse, PeerError, Rejection, Responder,
    ResponderConfig, ResponderWaitM3, Unsupported,
};
use crate::test_rng::TestRng;

const C_I: &[u8] = &[0x01];
const C_R: &[u8] = &[0x02];

fn configs(method: Method, suite: CipherSuite) -> (InitiatorConfig, ResponderConfig) {
    (
        InitiatorConfig::new(method, &[suite]).expect("config"),
        ResponderConfig::new(&[method], &[suite]).expect("config"),
    )
}

fn id(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).expect("short")
}

/// message_1 and message_2 of a handshake, and the states waiting for them to be answered.
fn up_to_message_2(
    method: Method,
    suite: CipherSuite,
    r: &Party,
    y: u8,
) -> (
    InitiatorWaitM2<RustCrypto>,
    ResponderWaitM3<RustCrypto>,
    Vec<u8>,
    Vec<u8>,
) {
    let (config, r_config) = configs(method, suite);
    let (wait_m2, m1) =
        Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let (wait_m3, m2) = Responder::process_message_1(RustCrypto, &r_config, &m1)
        .and_then(|s| s.prepare_message_2(&r.local, &[y; 32], id(C_R), &[]))
        .expect("m2");
    (wait_m2, wait_m3, m1, m2)
}

#[test]
fn an_unknown_kid_is_refused_with_err_code_3() {
    let (i, r) = parties(1, Method::StaticStatic, CipherSuite::Suite2, Reference::Kid);
    let (wait_m2, wait_m3, _, m2) =
        up_to_message_2(Method::StaticStatic, CipherSuite::Suite2, &r, 2);

    // The Initiator does not know kid 0x0b.
    let refused = wait_m2
        .process_message_2(&m2)
        .expect("m2 reads")
        .resolve(&mut Directory::default())
        .expect_err("unknown kid");
    assert_eq!(refused, Error::Rejected(Rejection::UnknownCredential));
    assert_eq!(
        refused.to_error_message(),
        Some(ErrorMessage::UnknownCredential)
    );

    // The Responder does not know the Initiator's kid either, and says so with ERR_CODE 3;
    // the Initiator waiting for message_4 reads that as the end of the handshake.
    let (_, _, _, m2) = up_to_message_2(Method::StaticStatic, CipherSuite::Suite2, &r, 2);
    let (config, _) = configs(Method::StaticStatic, CipherSuite::Suite2);
    let (wait_m2, _) =
        Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let (wait_m4, m3) = wait_m2
        .process_message_2(&m2)
        .and_then(|s| s.resolve(&mut Directory::with(&r)))
        .and_then(|s| s.prepare_message_3(&i.local, &[]))
        .expect("m3");
    let refused = wait_m3
        .process_message_3(&m3)
        .expect("m3 decrypts")
        .resolve(&mut Directory::with(&r))
        .expect_err("kid 0x0a unknown");
    let error = refused
        .to_error_message()
        .expect("an error to send")
        .encode();
    assert_eq!(error, [0x03, 0xf5]);
    assert_eq!(
        wait_m4.process_message_4(&error).map(|_| ()),
        Err(Error::Aborted(ErrorMessage::UnknownCredential))
    );
}

#[test]
fn an_untrusted_credential_by_value_gets_the_generic_error() {
    let (_, r) = parties(
        2,
        Method::StaticStatic,
        CipherSuite::Suite2,
        Reference::ByValue,
    );
    let (wait_m2, _, _, m2) = up_to_message_2(Method::StaticStatic, CipherSuite::Suite2, &r, 2);
    let refused = wait_m2
        .process_message_2(&m2)
        .expect("m2 reads")
        .resolve(&mut Directory::default())
        .expect_err("not provisioned");
    assert_eq!(refused, Error::Rejected(Rejection::Untrusted));
    assert_eq!(
        refused.to_error_message(),
        Some(ErrorMessage::unspecified())
    );
}

#[test]
fn a_wrong_credential_fails_authentication_for_every_method() {
    for (n, method) in Method::ALL.into_iter().enumerate() {
        for suite in [CipherSuite::Suite0, CipherSuite::Suite2] {
            let (i, r) = parties(10 + n as u64, method, suite, Reference::Kid);
            // Impostors: the same kinds of key, other values.
            let (i2, r2) = parties(20 + n as u64, method, suite, Reference::Kid);

            // The Initiator is given a credential that is not the Responder's.
            let (wait_m2, wait_m3, _, m2) = up_to_message_2(method, suite, &r, 2);
            let wait_cred_r = wait_m2.process_message_2(&m2).expect("m2 reads");
            assert_eq!(
                wait_cred_r.verify(&r2.public).map(|_| ()),
                Err(Error::Peer(PeerError::Authentication)),
                "{method:?} {suite}"
            );

            // The Responder is given a credential that is not the Initiator's.
            let (config, _) = configs(method, suite);
            let (wait_m2, _) =
                Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
            let (_, m3) = wait_m2
                .process_message_2(&m2)
                .and_then(|s| s.verify(&r.public))
                .and_then(|s| s.prepare_message_3(&i.local, &[]))
                .expect("m3");
            let wait_cred_i = wait_m3.process_message_3(&m3).expect("m3 decrypts");
            assert_eq!(
                wait_cred_i.verify(&i2.public).map(|_| ()),
                Err(Error::Peer(PeerError::Authentication)),
                "{method:?} {suite}"
            );
        }
    }
}

#[test]
fn a_credential_of_the_wrong_kind_is_unsupported() {
    // Method 3 needs a static DH key; a signature key cannot stand in for it.
    let (_, r) = parties(3, Method::StaticStatic, CipherSuite::Suite2, Reference::Kid);
    let (_, signer) = parties(
        4,
        Method::SignatureSignature,
        CipherSuite::Suite0,
        Reference::Kid,
    );
    let (wait_m2, _, _, m2) = up_to_message_2(Method::StaticStatic, CipherSuite::Suite2, &r, 2);
    assert_eq!(
        wait_m2
            .process_message_2(&m2)
            .and_then(|s| s.verify(&signer.public))
            .map(|_| ()),
        Err(Error::Unsupported(Unsupported::CredentialKey))
    );
}

#[test]
fn every_tampered_byte_of_message_2_is_caught() {
    for method in [Method::StaticStatic, Method::SignatureSignature] {
        let (_, r) = parties(5, method, CipherSuite::Suite2, Reference::Kid);
        let (_, _, _, m2) = up_to_message_2(method, CipherSuite::Suite2, &r, 2);
        for position in 0..m2.len() {
            let mut tampered = m2.clone();
            tampered[position] ^= 0x04;
            let (wait_m2, _, _, _) = up_to_message_2(method, CipherSuite::Suite2, &r, 2);
            let outcome = wait_m2
                .process_message_2(&tampered)
                .and_then(|s| s.verify(&r.public));
            assert!(
                outcome.is_err(),
                "{method:?}: byte {position} went unnoticed"
            );
        }
    }
}

#[test]
fn every_tampered_byte_of_message_3_and_message_4_is_caught() {
    let method = Method::StaticStatic;
    let suite = CipherSuite::Suite2;
    let (i, r) = parties(6, method, suite, Reference::Kid);
    let good = run(method, suite, &i, &r, [&[]; 4]).expect("run");
    let [_, _, m3, m4] = &good.messages;
    for position in 0..m3.len() {
        let mut tampered = m3.clone();
        tampered[position] ^= 0x80;
        let (wait_m2, wait_m3, _, m2) = up_to_message_2(method, suite, &r, 0x22);
        drop(wait_m2);
        assert_eq!(&m2, &good.messages[1]);
        let outcome = wait_m3
            .process_message_3(&tampered)
            .and_then(|s| s.verify(&i.public));
        assert!(outcome.is_err(), "message_3 byte {position} went unnoticed");
    }
    for position in 0..m4.len() {
        let mut tampered = m4.clone();
        tampered[position] ^= 0x01;
        let (wait_m2, _, _, m2) = up_to_message_2(method, suite, &r, 0x22);
        let (wait_m4, _) = wait_m2
            .process_message_2(&m2)
            .and_then(|s| s.verify(&r.public))
            .and_then(|s| s.prepare_message_3(&i.local, &[]))
            .expect("m3");
        assert!(
            wait_m4.process_message_4(&tampered).is_err(),
            "message_4 byte {position} went unnoticed"
        );
    }
}

#[test]
fn a_replayed_message_3_does_not_authenticate_in_a_new_session() {
    let method = Method::StaticStatic;
    let suite = CipherSuite::Suite2;
    let (i, r) = parties(7, method, suite, Reference::Kid);
    let first = run(method, suite, &i, &r, [&[]; 4]).expect("first session");
    let [m1, _, m3, _] = &first.messages;

    // An attacker replays message_1; the Responder answers with a fresh ephemeral key, as
    // it always does, and then receives the old message_3.
    let (_, r_config) = configs(method, suite);
    let mut rng = TestRng::new(8);
    let (wait_m3, _) = Responder::process_message_1(RustCrypto, &r_config, m1)
        .and_then(|s| s.prepare_message_2_with_rng(&r.local, &mut rng, id(C_R), &[]))
        .expect("m2");
    assert_eq!(
        wait_m3.process_message_3(m3).map(|_| ()),
        Err(Error::Peer(PeerError::Authentication))
    );
}

#[test]
fn no_common_suite_ends_the_negotiation() {
    let method = Method::StaticStatic;
    let mut config = InitiatorConfig::new(method, &[CipherSuite::Suite2]).expect("config");
    let r_config = ResponderConfig::new(&[method], &[CipherSuite::Suite0]).expect("config");
    let (_, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let err = Responder::process_message_1(RustCrypto, &r_config, &m1).expect_err("suite 2");
    let Some(ErrorMessage::WrongSelectedSuite(suites_r)) = err.to_error_message() else {
        panic!("expected ERR_CODE 2, got {err:?}");
    };
    assert_eq!(suites_r.values(), [0]);
    assert_eq!(
        config.select_after_error(&suites_r),
        Err(Error::Unsupported(Unsupported::NoCommonSuite))
    );
}

#[test]
fn an_unaccepted_method_is_refused_with_the_generic_error() {
    let config =
        InitiatorConfig::new(Method::SignatureSignature, &[CipherSuite::Suite2]).expect("config");
    let r_config =
        ResponderConfig::new(&[Method::StaticStatic], &[CipherSuite::Suite2]).expect("config");
    let (_, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let err = Responder::process_message_1(RustCrypto, &r_config, &m1).expect_err("method 0");
    assert_eq!(err, Error::Unsupported(Unsupported::Method(0)));
    assert_eq!(err.to_error_message(), Some(ErrorMessage::unspecified()));
}

#[test]
fn an_unrecognized_critical_ead_item_ends_the_handshake() {
    let method = Method::StaticStatic;
    let (config, r_config) = configs(method, CipherSuite::Suite2);
    let critical = [EadItem::new(77, true, Some(b"must understand")).expect("item")];
    let (_, m1) =
        Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &critical).expect("m1");
    assert_eq!(
        Responder::process_message_1(RustCrypto, &r_config, &m1).map(|_| ()),
        Err(Error::Unsupported(Unsupported::CriticalEad(-77)))
    );
    // Recognized, it passes; non-critical, it passes unrecognized.
    let r_config = r_config.with_ead_labels(&[77]);
    assert!(Responder::process_message_1(RustCrypto, &r_config, &m1).is_ok());
}

#[test]
fn equal_connection_identifiers_are_refused() {
    let (_, r) = parties(9, Method::StaticStatic, CipherSuite::Suite2, Reference::Kid);
    let (config, r_config) = configs(Method::StaticStatic, CipherSuite::Suite2);
    let (_, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let ready = Responder::process_message_1(RustCrypto, &r_config, &m1).expect("m1");
    assert_eq!(
        ready
            .prepare_message_2(&r.local, &[0x22; 32], id(C_I), &[])
            .map(|_| ()),
        Err(Error::Misuse(Misuse::SameConnectionId))
    );
}

#[test]
fn oversized_and_empty_messages_are_refused_without_a_panic() {
    let (_, r) = parties(
        11,
        Method::StaticStatic,
        CipherSuite::Suite2,
        Reference::Kid,
    );
    let (_, r_config) = configs(Method::StaticStatic, CipherSuite::Suite2);
    let huge = alloc::vec![0x40u8; MAX_MESSAGE_LEN + 1];
    assert_eq!(
        Responder::process_message_1(RustCrypto, &r_config, &huge).map(|_| ()),
        Err(Error::Peer(PeerError::TooLarge(MAX_MESSAGE_LEN + 1)))
    );
    for bad in [&[][..], &[0x40], &[0x58, 0xff], &[0x03]] {
        let (wait_m2, wait_m3, _, _) =
            up_to_message_2(Method::StaticStatic, CipherSuite::Suite2, &r, 2);
        assert!(wait_m2.process_message_2(bad).is_err());
        assert!(wait_m3.process_message_3(bad).is_err());
        assert!(Responder::process_message_1(RustCrypto, &r_config, bad).is_err());
    }
}

#[test]
fn scalars_and_keys_that_do_not_match_are_misuse() {
    let (config, _) = configs(Method::StaticStatic, CipherSuite::Suite2);
    // Zero is not a P-256 scalar.
    assert_eq!(
        Initiator::start(RustCrypto, &config, &[0; 32], id(C_I), &[]).map(|_| ()),
        Err(Error::Misuse(Misuse::InvalidScalar))
    );
    let (i, r) = parties(
        12,
        Method::StaticStatic,
        CipherSuite::Suite2,
        Reference::Kid,
    );
    let mismatched = crate::edhoc::LocalCredential::<RustCrypto>::static_dh(
        &RustCrypto,
        i.public.clone(),
        crate::edhoc::IdCred::kid(&[1]).expect("kid"),
        crate::backend::Curve::P256,
        &[0x33; 32],
    );
    assert_eq!(
        mismatched.map(|_| ()),
        Err(Error::Misuse(Misuse::KeyMismatch))
    );
    // A static DH credential cannot sign for method 0.
    let (_, r_config) = configs(Method::SignatureSignature, CipherSuite::Suite2);
    let config =
        InitiatorConfig::new(Method::SignatureSignature, &[CipherSuite::Suite2]).expect("config");
    let (_, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], id(C_I), &[]).expect("m1");
    let ready = Responder::process_message_1(RustCrypto, &r_config, &m1).expect("m1");
    assert_eq!(
        ready
            .prepare_message_2(&r.local, &[0x22; 32], id(C_R), &[])
            .map(|_| ()),
        Err(Error::Misuse(Misuse::LocalCredential))
    );
}
