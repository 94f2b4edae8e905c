//! Fuzz target `oscore_verify`: `SecurityContext::verify_request` on untrusted bytes decoded
//! as CoAP.
//!
//! Every input that decodes is verified twice: by a node whose context was freshly derived
//! and trusts its replay window, and by one whose context was restored from storage and must
//! re-establish freshness with Echo (RFC 9175) first. The genuine requests are the camera's,
//! protected with the same context (`ward_fuzz::oscore_pair`). The properties:
//!
//! - only a genuine request (its OSCORE option and ciphertext) is ever authentic, and then
//!   what it decrypts to is the camera's request: code, path, Content-Format, Echo, payload;
//! - the fresh node accepts it once: the same bytes again are refused as a replay;
//! - the restored node never accepts anything before its challenge; after challenging an
//!   authentic request it accepts the camera's answer carrying the Echo, once.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ward_crypto::backend::RustCrypto;
use ward_crypto::coap::{Limits, Message};
use ward_crypto::oscore::{OscoreError, Verdict, VerifiedRequest, error_response};
use ward_fuzz::oscore_pair::{ECHO, GenuineRequest, genuine_requests, restored_server, server};

/// The genuine requests, decoded once.
fn genuine() -> &'static [(Message, &'static GenuineRequest)] {
    static DECODED: OnceLock<Vec<(Message, &'static GenuineRequest)>> = OnceLock::new();
    DECODED.get_or_init(|| {
        genuine_requests()
            .iter()
            .map(|request| {
                let wire = Message::decode(&request.wire, &Limits::default());
                (wire.expect("a genuine request decodes"), request)
            })
            .collect()
    })
}

/// The genuine request whose protected part `request` carries, if any.
fn genuine_for(request: &Message) -> Option<&'static GenuineRequest> {
    genuine()
        .iter()
        .find(|(wire, _)| wire.oscore() == request.oscore() && wire.payload == request.payload)
        .map(|(_, genuine)| *genuine)
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Message::decode(data, &Limits::default()) else {
        return;
    };
    check_fresh(&request);
    check_restored(&request);
});

fn check_fresh(request: &Message) {
    let mut node = server();
    let verified = match node.verify_request(&RustCrypto, request) {
        Ok(Verdict::Accepted(verified)) => verified,
        Ok(Verdict::FreshnessRequired(_)) => panic!("a derived context asked for freshness"),
        Err(err) => {
            refused(request, &err);
            return;
        }
    };
    let genuine = genuine_for(request).expect("a forged request was accepted");
    check_decrypted(&verified, genuine);

    // §7.4: the same request a second time is a replay.
    let again = node.verify_request(&RustCrypto, request);
    assert!(
        matches!(again, Err(OscoreError::Replay)),
        "an accepted request was not refused as a replay: {again:?}"
    );
}

fn check_restored(request: &Message) {
    let mut node = restored_server();
    let challenge = match node.verify_request(&RustCrypto, request) {
        Ok(Verdict::FreshnessRequired(challenge)) => challenge,
        Ok(Verdict::Accepted(_)) => panic!("a restored context accepted a request unchallenged"),
        Err(err) => {
            refused(request, &err);
            return;
        }
    };
    assert!(
        genuine_for(request).is_some(),
        "a forged request was found authentic"
    );
    assert!(node.needs_freshness());

    // RFC 9175 §2.3: challenge with Echo; the camera's request carrying it is then fresh.
    node.challenge(&RustCrypto, request, challenge, &ECHO)
        .expect("an authentic request can be challenged");
    let (answer, genuine) = genuine()
        .iter()
        .find(|(_, genuine)| genuine.plain.echo() == Ok(Some(&ECHO[..])))
        .expect("one genuine request carries the Echo");
    match node.verify_request(&RustCrypto, answer) {
        Ok(Verdict::Accepted(verified)) => check_decrypted(&verified, genuine),
        other => panic!("the answer to the challenge was not accepted: {other:?}"),
    }
    assert!(!node.needs_freshness());
    let again = node.verify_request(&RustCrypto, answer);
    assert!(
        matches!(again, Err(OscoreError::Replay)),
        "the answer to the challenge was accepted twice: {again:?}"
    );
}

/// What the node hands the application is what the camera protected.
fn check_decrypted(verified: &VerifiedRequest, genuine: &GenuineRequest) {
    let (got, sent) = (&verified.request, &genuine.plain);
    assert_eq!(got.code, sent.code);
    assert_eq!(got.payload, sent.payload);
    assert!(
        got.uri_path().eq(sent.uri_path()),
        "{got:?} is not {sent:?}"
    );
    assert_eq!(got.content_format(), sent.content_format());
    assert_eq!(got.echo(), sent.echo());
    assert_eq!(got.oscore(), None);
}

/// A refusal maps to a response without panicking.
fn refused(request: &Message, err: &OscoreError) {
    let _ = (format!("{err}"), err.response_code());
    let _ = error_response(request, err);
}
