//! Fuzz target `coap_decode`: `Message::decode` with the default limits on untrusted bytes.
//!
//! The codec is documented as unique (RFC 7252 §3 leaves one encoding per message once
//! options are sorted and lengths minimal), so an accepted message must encode back to
//! exactly the input, and decode again to an equal message. The readers that run on a decoded
//! message before any cryptography (the EDHOC resource's request and response readers, the
//! EDHOC + OSCORE split of RFC 9668, the OSCORE option's decompression and the typed option
//! accessors) must not panic on it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::coap::{
    DEFAULT_MAX_OPTIONS, Limits, Message, read_edhoc_request, read_edhoc_response,
    split_edhoc_oscore,
};
use ward_crypto::oscore::{OscoreError, OscoreOption, error_response};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(message) = Message::decode(data, &limits) else {
        return;
    };

    // The codec is unique: the message is its bytes.
    assert!(data.len() <= limits.max_message_size);
    assert!(message.options().len() <= DEFAULT_MAX_OPTIONS);
    let encoded = message
        .encode(&limits)
        .unwrap_or_else(|err| panic!("{message:?} decoded but does not encode: {err}"));
    assert_eq!(encoded, data, "{message:?} encodes to other bytes");
    assert_eq!(Message::decode(&encoded, &limits).as_ref(), Ok(&message));

    // The readers that come next on a server or a camera.
    let _ = read_edhoc_request(&message);
    let _ = read_edhoc_response(&message);
    if let Ok(combined) = split_edhoc_oscore(&message) {
        let _ = combined.oscore_request.encode(&limits);
    }
    if let Some(value) = message.oscore() {
        let _ = OscoreOption::decode(value);
    }
    let _ = (
        message.content_format(),
        message.echo(),
        message.uri_path().count(),
    );
    let _ = error_response(&message, &OscoreError::Replay);
});
