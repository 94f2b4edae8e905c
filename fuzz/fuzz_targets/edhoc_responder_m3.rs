//! Fuzz target `edhoc_responder_m3`: a Responder that answered the genuine message_1 with the
//! genuine message_2 reads untrusted bytes as message_3.
//!
//! Every input goes to a copy of the Responder's state after the genuine message_2, which
//! checks whatever message_3 decrypts against the Initiator's genuine credential. The property: the Initiator is
//! authenticated exactly when the input is the genuine message_3, and then message_4 can be
//! built. A forged message_3 must never get past its AEAD tag and MAC_3.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::edhoc::{MAX_CONNECTION_ID_LEN, MAX_EAD_ITEMS};
use ward_fuzz::edhoc_parties::{genuine, initiator_credential, responder_wait_m3_copy};

fuzz_target!(|data: &[u8]| {
    let genuine_m3 = &genuine()[2];
    let wait_m3 = responder_wait_m3_copy();
    let wait_cred_i = match wait_m3.process_message_3(data) {
        Ok(wait_cred_i) => wait_cred_i,
        Err(err) => {
            assert_ne!(
                data,
                genuine_m3.as_slice(),
                "the genuine message_3 failed: {err}"
            );
            let _ = (format!("{err}"), err.to_error_message());
            return;
        }
    };

    // Decryption succeeded, so the AEAD tag was right: only the genuine bytes carry it.
    assert_eq!(
        data,
        genuine_m3.as_slice(),
        "a forged message_3 passed the AEAD check"
    );
    assert!(wait_cred_i.c_i().as_bytes().len() <= MAX_CONNECTION_ID_LEN);
    assert!(wait_cred_i.ead_3().len() <= MAX_EAD_ITEMS);
    let _ = format!("{wait_cred_i:?} {:?}", wait_cred_i.id_cred_i());

    let (_, i_public) = initiator_credential();
    let ready_m4 = wait_cred_i
        .verify(&i_public)
        .expect("the genuine message_3 authenticates the Initiator");
    let (_, message_4) = ready_m4
        .prepare_message_4(&[])
        .expect("message_4 follows an authenticated message_3");
    assert_eq!(message_4, genuine()[3]);
});
