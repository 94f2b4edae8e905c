//! Fuzz target `edhoc_initiator_m4`: an Initiator that completed the genuine handshake up to
//! message_3 reads untrusted bytes as message_4.
//!
//! The handshake is run once with fixed keys; every input goes to a copy of the Initiator's
//! state. The property: message_4
//! is accepted exactly when the input is the genuine message_4, and then the session keeps
//! the PRK_out that message_3 established. A forged message_4 must never get past its AEAD
//! tag.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::edhoc::MAX_EAD_ITEMS;
use ward_fuzz::edhoc_parties::{EAD_LABELS, genuine, initiator_wait_m4_copy};

fuzz_target!(|data: &[u8]| {
    let wait_m4 = initiator_wait_m4_copy();
    let genuine_m4 = genuine()[3].as_slice();
    let expected = wait_m4.session().prk_out().clone();
    match wait_m4.process_message_4_with_labels(data, &EAD_LABELS) {
        Ok((session, ead_4)) => {
            assert_eq!(data, genuine_m4, "a forged message_4 was accepted");
            assert!(ead_4.len() <= MAX_EAD_ITEMS);
            assert!(session.prk_out() == &expected);
        }
        Err(err) => {
            assert_ne!(data, genuine_m4, "the genuine message_4 failed: {err}");
            let _ = (format!("{err}"), err.to_error_message());
        }
    }
});
