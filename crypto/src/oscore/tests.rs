//! Behaviour tests: replay protection, the Echo round trip, error mapping, and mutations of
//! protected messages.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::backend::RustCrypto;
use crate::coap::{Code, Limits, Message, MessageType, OptionNumber, Token};

const SECRET: [u8; 16] = [0x5a; 16];
const SALT: [u8; 8] = [0x11; 8];

fn params<'a>(sender: &'a [u8], recipient: &'a [u8]) -> ContextParams<'a> {
    ContextParams {
        master_secret: &SECRET,
        master_salt: &SALT,
        id_context: None,
        sender_id: sender,
        recipient_id: recipient,
    }
}

/// A camera (client, Sender ID 0x2b) and a node (server, Sender ID 0x07).
fn pair() -> (SecurityContext, SecurityContext) {
    let config = ContextConfig::default();
    let client = SecurityContext::derive(&RustCrypto, &params(&[0x2b], &[0x07]), config);
    let server = SecurityContext::derive(&RustCrypto, &params(&[0x07], &[0x2b]), config);
    (client.expect("valid"), server.expect("valid"))
}

fn restored_server(sender_sequence_number: u64) -> SecurityContext {
    SecurityContext::restore(
        &RustCrypto,
        &params(&[0x07], &[0x2b]),
        ContextConfig::default(),
        sender_sequence_number,
    )
    .expect("valid")
}

fn request(message_id: u16, body: &[u8]) -> Message {
    let token = Token::new(&message_id.to_be_bytes()).expect("2 bytes");
    let mut request = Message::new(MessageType::Confirmable, Code::PUT, message_id, token);
    request.set_uri_host("node.site");
    request.set_uri_path("/cameras/7/state");
    request.set_content_format(60);
    request.payload = body.to_vec();
    request
}

/// Protects `request` and puts it through the wire encoding.
fn protect(client: &mut SecurityContext, request: &Message) -> (Message, RequestBinding) {
    let (protected, binding) = client
        .protect_request(&RustCrypto, request)
        .expect("protects");
    let bytes = protected.encode(&Limits::default()).expect("fits");
    (
        Message::decode(&bytes, &Limits::default()).expect("decodes"),
        binding,
    )
}

fn accepted(verdict: Result<Verdict, OscoreError>) -> VerifiedRequest {
    match verdict {
        Ok(Verdict::Accepted(verified)) => verified,
        other => panic!("expected an accepted request, got {other:?}"),
    }
}

#[test]
fn protected_requests_hide_the_path_and_keep_the_host_outside() {
    let (mut client, mut server) = pair();
    let original = request(1, b"on");
    let (protected, _) = protect(&mut client, &original);
    assert_eq!(protected.code, Code::POST);
    assert_eq!(
        protected.option(OptionNumber::URI_HOST),
        Some(&b"node.site"[..])
    );
    assert_eq!(protected.uri_path().count(), 0);
    assert_eq!(protected.content_format(), Ok(None));
    let verified = accepted(server.verify_request(&RustCrypto, &protected));
    assert_eq!(verified.request, original);
}

#[test]
fn a_replayed_request_is_refused() {
    let (mut client, mut server) = pair();
    let (protected, _) = protect(&mut client, &request(1, b"on"));
    accepted(server.verify_request(&RustCrypto, &protected));
    let again = server.verify_request(&RustCrypto, &protected);
    assert_eq!(again.err(), Some(OscoreError::Replay));
    let response = error_response(&protected, &OscoreError::Replay).expect("peer's fault");
    assert_eq!(response.code, Code::UNAUTHORIZED);
    assert_eq!(response.max_age(), Ok(Some(0)));
}

#[test]
fn reordering_inside_the_window_is_accepted_and_outside_refused() {
    let (mut client, mut server) = pair();
    let messages: Vec<Message> = (0..40)
        .map(|i| protect(&mut client, &request(i, b"x")).0)
        .collect();
    // Partial IVs 0..39. Deliver 5, then 2, then 4: all inside the window of 32.
    for i in [5, 2, 4] {
        accepted(server.verify_request(&RustCrypto, &messages[i]));
    }
    assert_eq!(
        server.verify_request(&RustCrypto, &messages[2]).err(),
        Some(OscoreError::Replay)
    );
    // After 39, Partial IV 7 is 32 behind (outside), 8 is 31 behind (inside).
    accepted(server.verify_request(&RustCrypto, &messages[39]));
    assert_eq!(
        server.verify_request(&RustCrypto, &messages[7]).err(),
        Some(OscoreError::Replay)
    );
    accepted(server.verify_request(&RustCrypto, &messages[8]));
}

#[test]
fn the_echo_round_trip_restores_freshness() {
    let (mut client, _) = pair();
    // The node restores the session from the registry: it may not trust any replay state.
    let mut server = restored_server(1 << 20);
    assert!(server.needs_freshness());

    // 1. The first request is authentic but not processed: it is answered with Echo.
    let first = request(1, b"on");
    let (protected, binding) = protect(&mut client, &first);
    let Ok(Verdict::FreshnessRequired(challenge)) = server.verify_request(&RustCrypto, &protected)
    else {
        panic!("a restored context must ask for freshness");
    };
    let echo = [0xe7; 8];
    let challenge = server
        .challenge(&RustCrypto, &protected, challenge, &echo)
        .expect("protects the challenge");
    // Appendix B.1.2: the 4.01 carries the server's own Partial IV.
    assert_eq!(challenge.code, Code::CHANGED);
    assert_eq!(challenge.oscore(), Some(&[0x03, 0x10, 0x00, 0x00][..]));
    assert_eq!(server.sender_sequence_number(), (1 << 20) + 1);

    // 2. The client sees a 4.01 with the Echo value and repeats the request with it.
    let response = client
        .verify_response(&RustCrypto, &challenge, &binding)
        .expect("authentic challenge");
    assert_eq!(response.response.code, Code::UNAUTHORIZED);
    assert_eq!(response.response.echo(), Ok(Some(&echo[..])));
    assert_eq!(response.partial_iv, Some(1 << 20));
    assert!(response.response.payload.is_empty());

    // A request with a wrong Echo value is challenged again.
    let mut wrong = first.clone();
    wrong.set_echo(&[0x00; 8]).expect("valid length");
    let (wrong, _) = protect(&mut client, &wrong);
    assert!(matches!(
        server.verify_request(&RustCrypto, &wrong),
        Ok(Verdict::FreshnessRequired(_))
    ));

    let mut retry = first.clone();
    retry.set_echo(&echo).expect("valid length");
    let (retry, _) = protect(&mut client, &retry);
    let verified = accepted(server.verify_request(&RustCrypto, &retry));
    assert_eq!(verified.request.payload, b"on");
    assert!(!server.needs_freshness());

    // 3. Its replay is refused, and so are the requests sent before it.
    assert_eq!(
        server.verify_request(&RustCrypto, &retry).err(),
        Some(OscoreError::Replay)
    );
    assert_eq!(
        server.verify_request(&RustCrypto, &wrong).err(),
        Some(OscoreError::Replay)
    );
    // 4. Later requests go through without Echo.
    let (next, _) = protect(&mut client, &request(4, b"off"));
    accepted(server.verify_request(&RustCrypto, &next));
}

#[test]
fn an_old_request_replayed_to_a_restored_context_is_never_processed() {
    let (mut client, mut original_server) = pair();
    let (old, _) = protect(&mut client, &request(1, b"unlock"));
    accepted(original_server.verify_request(&RustCrypto, &old));
    // Replayed to another node that restored the session: only a challenge comes back.
    let mut server = restored_server(100);
    assert!(matches!(
        server.verify_request(&RustCrypto, &old),
        Ok(Verdict::FreshnessRequired(_))
    ));
}

#[test]
fn a_response_nonce_is_used_once() {
    let (mut client, mut server) = pair();
    let (protected, _) = protect(&mut client, &request(1, b"on"));
    let mut verified = accepted(server.verify_request(&RustCrypto, &protected));
    let response = Message::response_to(&verified.request, Code::CHANGED);
    let binding = &mut verified.binding;
    server
        .protect_response(&RustCrypto, &response, binding, ResponseNonce::FromRequest)
        .expect("first response");
    assert_eq!(
        server
            .protect_response(&RustCrypto, &response, binding, ResponseNonce::FromRequest)
            .err(),
        Some(OscoreError::NonceReuse)
    );
    server
        .protect_response(&RustCrypto, &response, binding, ResponseNonce::Fresh)
        .expect("a notification with its own Partial IV");
}

#[test]
fn observe_uses_fetch_and_content_outside() {
    let (mut client, mut server) = pair();
    let mut observe = Message::new(MessageType::Confirmable, Code::GET, 3, Token::EMPTY);
    observe.set_uri_path("/frames");
    observe.set_observe(0);
    let (protected, binding) = protect(&mut client, &observe);
    assert_eq!(protected.code, Code::FETCH);
    assert_eq!(protected.observe(), Ok(Some(0)));
    let mut verified = accepted(server.verify_request(&RustCrypto, &protected));
    assert_eq!(verified.request, observe);

    let mut notification = Message::response_to(&verified.request, Code::CONTENT);
    notification.set_observe(12);
    notification.payload = b"frame".to_vec();
    let protected = server
        .protect_response(
            &RustCrypto,
            &notification,
            &mut verified.binding,
            ResponseNonce::Fresh,
        )
        .expect("protects");
    assert_eq!(protected.code, Code::CONTENT);
    assert_eq!(protected.observe(), Ok(Some(12)));
    let received = client
        .verify_response(&RustCrypto, &protected, &binding)
        .expect("verifies");
    // §4.1.3.5.2: the Inner Observe of a notification is empty.
    assert_eq!(received.response.observe(), Ok(Some(0)));
    assert_eq!(received.response.payload, b"frame");
}

#[test]
fn an_inner_observe_answering_a_plain_request_is_refused() {
    let (mut client, mut server) = pair();
    let (protected, binding) = protect(&mut client, &request(1, b"on"));
    let mut verified = accepted(server.verify_request(&RustCrypto, &protected));
    let mut response = Message::response_to(&verified.request, Code::CONTENT);
    response.set_observe(1);
    let protected = server
        .protect_response(
            &RustCrypto,
            &response,
            &mut verified.binding,
            ResponseNonce::Fresh,
        )
        .expect("protects");
    assert!(matches!(
        client.verify_response(&RustCrypto, &protected, &binding),
        Err(OscoreError::MalformedPlaintext(_))
    ));
}

#[test]
fn wrong_contexts_and_malformed_options_map_to_their_codes() {
    let (mut client, mut server) = pair();
    let (protected, _) = protect(&mut client, &request(1, b"on"));

    // A context whose Recipient ID is not the kid.
    let mut other = SecurityContext::derive(
        &RustCrypto,
        &params(&[0x07], &[0x2c]),
        ContextConfig::default(),
    )
    .expect("valid");
    let err = other.verify_request(&RustCrypto, &protected).err();
    assert_eq!(err, Some(OscoreError::UnknownContext));
    assert_eq!(
        err.and_then(|e| e.response_code()),
        Some(Code::UNAUTHORIZED)
    );

    let mut reserved = protected.clone();
    reserved.set_option(OptionNumber::OSCORE, vec![0x89, 0x00, 0x2b]);
    let err = server.verify_request(&RustCrypto, &reserved).err();
    assert!(matches!(err, Some(OscoreError::Malformed(_))));
    assert_eq!(err.and_then(|e| e.response_code()), Some(Code::BAD_OPTION));

    let mut empty = protected.clone();
    empty.payload.clear();
    assert!(matches!(
        server.verify_request(&RustCrypto, &empty),
        Err(OscoreError::Malformed(_))
    ));

    let mut tampered = protected.clone();
    tampered.payload[0] ^= 1;
    let err = server.verify_request(&RustCrypto, &tampered).err();
    assert_eq!(err, Some(OscoreError::DecryptionFailed));
    assert_eq!(err.and_then(|e| e.response_code()), Some(Code::BAD_REQUEST));
    // A forgery does not move the window: the genuine request is still accepted.
    accepted(server.verify_request(&RustCrypto, &protected));

    let plain = request(2, b"on");
    assert_eq!(
        server.verify_request(&RustCrypto, &plain).err(),
        Some(OscoreError::NotOscore)
    );
    assert_eq!(error_response(&plain, &OscoreError::Nested), None);
}

#[test]
fn protecting_refuses_nested_oscore_and_non_requests() {
    let (mut client, _) = pair();
    let mut nested = request(1, b"x");
    nested.set_option(OptionNumber::OSCORE, vec![]);
    assert_eq!(
        client.protect_request(&RustCrypto, &nested).err(),
        Some(OscoreError::Nested)
    );
    let response = Message::new(MessageType::Acknowledgement, Code::CONTENT, 1, Token::EMPTY);
    assert!(client.protect_request(&RustCrypto, &response).is_err());
}

#[test]
fn an_exhausted_sequence_number_stops_protection() {
    let config = ContextConfig::default();
    let mut client = SecurityContext::restore(
        &RustCrypto,
        &params(&[0x2b], &[0x07]),
        config,
        MAX_PARTIAL_IV,
    )
    .expect("valid");
    let (_, binding) = client
        .protect_request(&RustCrypto, &request(1, b"x"))
        .expect("the last Partial IV");
    assert_eq!(binding.partial_iv().as_bytes(), &[0xff; 5]);
    assert_eq!(
        client.protect_request(&RustCrypto, &request(2, b"x")).err(),
        Some(OscoreError::SequenceExhausted)
    );
}

#[test]
fn a_response_to_another_request_does_not_verify() {
    let (mut client, mut server) = pair();
    let (first, first_binding) = protect(&mut client, &request(1, b"a"));
    let (second, _) = protect(&mut client, &request(2, b"b"));
    accepted(server.verify_request(&RustCrypto, &first));
    let mut verified = accepted(server.verify_request(&RustCrypto, &second));
    let response = Message::response_to(&verified.request, Code::CHANGED);
    let protected = server
        .protect_response(
            &RustCrypto,
            &response,
            &mut verified.binding,
            ResponseNonce::Fresh,
        )
        .expect("protects");
    // §7.1: the response is bound to the second request, not the first.
    assert_eq!(
        client
            .verify_response(&RustCrypto, &protected, &first_binding)
            .err(),
        Some(OscoreError::DecryptionFailed)
    );
}

/// Code, Class E options and payload of a request.
type InnerParts = (Code, Vec<(u16, Vec<u8>)>, Vec<u8>);

/// The inner parts of a decrypted request: what OSCORE promises to protect.
fn inner_parts(message: &Message) -> InnerParts {
    let options = message
        .options()
        .iter()
        .filter(|o| !classes::is_outer_only(o.number))
        .map(|o| (o.number.0, o.value.clone()))
        .collect();
    (message.code, options, message.payload.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Flipping bits anywhere in the OSCORE option value or the ciphertext always fails.
    #[test]
    fn any_change_to_the_protected_parts_fails_verification(
        body in proptest::collection::vec(any::<u8>(), 0..40),
        index in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let (mut client, mut server) = pair();
        let (protected, _) = protect(&mut client, &request(1, &body));
        let mut tampered = protected.clone();
        let option_len = protected.oscore().map_or(0, <[u8]>::len);
        let at = index % (option_len + protected.payload.len());
        if at < option_len {
            let mut value = protected.oscore().map(<[u8]>::to_vec).unwrap_or_default();
            value[at] ^= flip;
            tampered.set_option(OptionNumber::OSCORE, value);
        } else {
            tampered.payload[at - option_len] ^= flip;
        }
        prop_assert!(server.verify_request(&RustCrypto, &tampered).is_err());
        // The untouched request still verifies: failures leave no trace in the window.
        prop_assert!(matches!(server.verify_request(&RustCrypto, &protected), Ok(Verdict::Accepted(_))));
    }

    /// Any change to the encoded message never panics, and whatever still verifies carries
    /// exactly the protected code, options and payload.
    #[test]
    fn mutated_wire_bytes_never_panic_nor_alter_protected_content(
        body in proptest::collection::vec(any::<u8>(), 0..40),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let (mut client, mut server) = pair();
        let original = request(1, &body);
        let (protected, binding) = client.protect_request(&RustCrypto, &original).expect("protects");
        let mut bytes = protected.encode(&Limits::default()).expect("fits");
        for (index, byte, kind) in edits {
            let at = index % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] ^= byte | 1,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.push(byte),
            }
        }
        let Ok(message) = Message::decode(&bytes, &Limits::default()) else {
            return Ok(());
        };
        if let Ok(Verdict::Accepted(verified)) = server.verify_request(&RustCrypto, &message) {
            prop_assert_eq!(inner_parts(&verified.request), inner_parts(&original));
        }
        // Responses too: a mutated request message is no valid response, and never panics.
        let _ = client.verify_response(&RustCrypto, &message, &binding);
    }
}

#[test]
fn replayed_old_requests_cannot_make_the_outstanding_echo_stale() {
    let (mut client, _) = pair();
    let mut server = restored_server(1 << 20);
    let first = request(1, b"on");
    let (protected, _) = protect(&mut client, &first);
    let Ok(Verdict::FreshnessRequired(challenge)) = server.verify_request(&RustCrypto, &protected)
    else {
        panic!("a restored context must ask for freshness");
    };
    let echo = [0xe7; 8];
    server
        .challenge(&RustCrypto, &protected, challenge, &echo)
        .expect("challenge");

    // An attacker replays the old request; the node challenges again, with a new value drawn,
    // but the outstanding value stays the one the genuine client already holds.
    let Ok(Verdict::FreshnessRequired(again)) = server.verify_request(&RustCrypto, &protected)
    else {
        panic!("still unfresh");
    };
    server
        .challenge(&RustCrypto, &protected, again, &[0x11; 8])
        .expect("challenge");

    let mut retry = first.clone();
    retry.set_echo(&echo).expect("valid length");
    let (retry, _) = protect(&mut client, &retry);
    accepted(server.verify_request(&RustCrypto, &retry));
}
