//! Fuzz target `edhoc_initiator_m2`: an Initiator that sent the genuine message_1 reads
//! untrusted bytes as message_2.
//!
//! Every input goes to a copy of the Initiator's state after the genuine message_1 (fixed
//! keys, fixed ephemeral X), and the Responder's genuine credential is the one it checks any decrypted message_2
//! against, whatever ID_CRED_R the input names. The property: the Responder is authenticated
//! exactly when the input is the genuine message_2. A forged message_2 may decrypt and parse,
//! but its MAC_2 must never verify.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::edhoc::{MAX_CONNECTION_ID_LEN, MAX_EAD_ITEMS};
use ward_fuzz::edhoc_parties::{genuine, initiator_wait_m2_copy, responder_credential};

fuzz_target!(|data: &[u8]| {
    let genuine_m2 = &genuine()[1];
    let wait_m2 = initiator_wait_m2_copy();
    let wait_cred_r = match wait_m2.process_message_2(data) {
        Ok(wait_cred_r) => wait_cred_r,
        Err(err) => {
            assert_ne!(
                data,
                genuine_m2.as_slice(),
                "the genuine message_2 failed: {err}"
            );
            let _ = (format!("{err}"), err.to_error_message());
            return;
        }
    };

    // What was decrypted is within the limits, and formatting it never panics.
    assert!(wait_cred_r.c_r().as_bytes().len() <= MAX_CONNECTION_ID_LEN);
    assert!(wait_cred_r.ead_2().len() <= MAX_EAD_ITEMS);
    let _ = format!("{wait_cred_r:?} {:?}", wait_cred_r.id_cred_r());

    let (_, r_public) = responder_credential();
    match wait_cred_r.verify(&r_public) {
        Ok(_) => assert_eq!(
            data,
            genuine_m2.as_slice(),
            "a forged message_2 authenticated the Responder"
        ),
        Err(err) => assert_ne!(data, genuine_m2.as_slice(), "the genuine message_2: {err}"),
    }
});
