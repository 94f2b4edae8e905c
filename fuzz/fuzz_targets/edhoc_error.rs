//! Fuzz target `edhoc_error`: `ErrorMessage::decode` on untrusted bytes (RFC 9528 §6).
//!
//! An accepted error message must respect the limits on its diagnostic text and SUITES_R,
//! keep the ERR_CODE it starts with, and survive encoding: what `encode` writes decodes to
//! the same message, and encoding that again gives the same bytes. The decoder may accept
//! CBOR heads that are not in preferred form, so the input itself is not compared with the
//! encoding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::edhoc::{ErrorMessage, MAX_DIAGNOSTIC_LEN, MAX_MESSAGE_LEN, MAX_SUITES};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ErrorMessage::decode(data) else {
        return;
    };

    // Within the limits.
    assert!(data.len() <= MAX_MESSAGE_LEN);
    match &message {
        ErrorMessage::Unspecified(text) => assert!(text.len() <= MAX_DIAGNOSTIC_LEN),
        ErrorMessage::WrongSelectedSuite(suites) => {
            assert!(!suites.values().is_empty() && suites.values().len() <= MAX_SUITES);
        }
        _ => {}
    }
    let _ = format!("{message:?} {message}");

    // Encoding is a fixed point after one round, and keeps the message.
    let encoded = message.encode();
    let again = ErrorMessage::decode(&encoded)
        .unwrap_or_else(|err| panic!("{message:?} encodes to bytes that do not decode: {err}"));
    assert_eq!(again, message);
    assert_eq!(again.code(), message.code());
    assert_eq!(again.encode(), encoded);
});
