//! RFC 8613 Appendix C.4 to C.8 reproduced byte for byte (C.1 to C.3, key derivation, are in
//! `context.rs`, the nonces in `cose.rs`).

use alloc::vec::Vec;

use super::*;
use crate::backend::RustCrypto;
use crate::coap::test_support::hex;
use crate::coap::{Limits, Message};

const MASTER_SECRET: &str = "0102030405060708090a0b0c0d0e0f10";
const MASTER_SALT: &str = "9e7ca92223786340";
const ID_CONTEXT: &str = "37cbf3210017a2d3";

fn context(salt: &str, id_context: Option<&str>, sender: &str, recipient: &str) -> SecurityContext {
    let (secret, salt) = (hex(MASTER_SECRET), hex(salt));
    let (sender, recipient) = (hex(sender), hex(recipient));
    let id_context = id_context.map(hex);
    let params = ContextParams {
        master_secret: &secret,
        master_salt: &salt,
        id_context: id_context.as_deref(),
        sender_id: &sender,
        recipient_id: &recipient,
    };
    let config = ContextConfig {
        send_kid_context: id_context.is_some(),
        ..ContextConfig::default()
    };
    SecurityContext::derive(&RustCrypto, &params, config).expect("valid parameters")
}

fn decode(s: &str) -> Message {
    Message::decode(&hex(s), &Limits::default()).expect("valid CoAP message")
}

fn encode(message: &Message) -> Vec<u8> {
    message.encode(&Limits::default()).expect("fits")
}

/// Protects `unprotected` with Sender Sequence Number 20, checks the bytes, then verifies
/// them with the server's context and checks the original comes back.
fn check_request(
    client: &mut SecurityContext,
    server: &mut SecurityContext,
    unprotected: &str,
    protected: &str,
) -> RequestBinding {
    client.sender_sequence_number = 20;
    let original = decode(unprotected);
    let (message, binding) = client
        .protect_request(&RustCrypto, &original)
        .expect("protects");
    assert_eq!(encode(&message), hex(protected));
    assert_eq!(binding.partial_iv().value(), 20);
    assert_eq!(client.sender_sequence_number(), 21);

    let received = decode(protected);
    let Ok(Verdict::Accepted(verified)) = server.verify_request(&RustCrypto, &received) else {
        panic!("the server does not accept the published request");
    };
    assert_eq!(verified.request, original);
    assert_eq!(verified.binding.kid(), client.sender_id());
    binding
}

const C4_REQUEST: &str = "44015d1f00003974396c6f63616c686f737483747631";
const C4_PROTECTED: &str = "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e";

#[test]
fn c4_request_protection_with_master_salt() {
    let mut client = context(MASTER_SALT, None, "", "01");
    let mut server = context(MASTER_SALT, None, "01", "");
    check_request(&mut client, &mut server, C4_REQUEST, C4_PROTECTED);
}

#[test]
fn c5_request_protection_without_master_salt() {
    let mut client = context("", None, "00", "01");
    let mut server = context("", None, "01", "00");
    check_request(
        &mut client,
        &mut server,
        "440171c30000b932396c6f63616c686f737483747631",
        "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0",
    );
}

#[test]
fn c6_request_protection_with_kid_context() {
    let mut client = context(MASTER_SALT, Some(ID_CONTEXT), "", "01");
    let mut server = context(MASTER_SALT, Some(ID_CONTEXT), "01", "");
    check_request(
        &mut client,
        &mut server,
        "44012f8eef9bbf7a396c6f63616c686f737483747631",
        "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff\
         72cd7273fd331ac45cffbe55c3",
    );
}

const C7_RESPONSE: &str = "64455d1f00003974ff48656c6c6f20576f726c6421";

/// Runs C.4, then has the server protect the C.7 response with `nonce` and the client verify
/// it; returns the protected bytes.
fn respond(nonce: ResponseNonce) -> (Vec<u8>, Option<u64>) {
    let mut client = context(MASTER_SALT, None, "", "01");
    let mut server = context(MASTER_SALT, None, "01", "");
    let client_binding = check_request(&mut client, &mut server, C4_REQUEST, C4_PROTECTED);
    // The server's binding comes from verifying the request; verify it once more on a fresh
    // server context, since the first one now refuses the replay.
    let mut server = context(MASTER_SALT, None, "01", "");
    let Ok(Verdict::Accepted(mut verified)) =
        server.verify_request(&RustCrypto, &decode(C4_PROTECTED))
    else {
        panic!("the server does not accept the published request");
    };

    let original = decode(C7_RESPONSE);
    let protected = server
        .protect_response(&RustCrypto, &original, &mut verified.binding, nonce)
        .expect("protects");
    let bytes = encode(&protected);

    let response = client
        .verify_response(&RustCrypto, &decode_bytes(&bytes), &client_binding)
        .expect("the client verifies the response");
    assert_eq!(response.response, original);
    (bytes, response.partial_iv)
}

fn decode_bytes(bytes: &[u8]) -> Message {
    Message::decode(bytes, &Limits::default()).expect("valid CoAP message")
}

#[test]
fn c7_response_protection_without_partial_iv() {
    let (bytes, piv) = respond(ResponseNonce::FromRequest);
    assert_eq!(
        bytes,
        hex("64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106")
    );
    assert_eq!(piv, None);
}

#[test]
fn c8_response_protection_with_partial_iv() {
    let (bytes, piv) = respond(ResponseNonce::Fresh);
    assert_eq!(
        bytes,
        hex("64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e")
    );
    assert_eq!(piv, Some(0));
}
