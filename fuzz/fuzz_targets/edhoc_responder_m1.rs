//! Fuzz target `edhoc_responder_m1`: `Responder::process_message_1` on untrusted bytes.
//!
//! The Responder accepts every method on suites 0 and 2. A message_1 it accepts must respect
//! the documented limits and name a method and suite the configuration allows, and answering
//! it with message_2, with a credential of the kind that method and suite need, must succeed
//! or fail for one reason only: G_X is not a point of the suite's curve, which the Responder
//! learns when it first uses it. Nothing else a peer put in message_1 may make building
//! message_2 fail, and nothing may make it panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::backend::RustCrypto;
use ward_crypto::edhoc::{
    CipherSuite, ConnectionId, Error, LocalCredential, MAX_EAD_ITEMS, MAX_MESSAGE_LEN, Method,
    PeerError, Responder, ResponderConfig,
};
use ward_fuzz::edhoc_parties::{EAD_LABELS, RESPONDER_EPHEMERAL, responder_credentials};

const METHODS: [Method; 4] = [
    Method::SignatureSignature,
    Method::SignatureStatic,
    Method::StaticSignature,
    Method::StaticStatic,
];
const SUITES: [CipherSuite; 2] = [CipherSuite::Suite0, CipherSuite::Suite2];

thread_local! {
    // Building the signing credentials checks their keys, which costs scalar multiplications.
    static CREDENTIALS: [LocalCredential<RustCrypto>; 4] = responder_credentials();
}

fuzz_target!(|data: &[u8]| {
    let config = ResponderConfig::new(&METHODS, &SUITES)
        .expect("every method on suites 0 and 2 is supported")
        .with_ead_labels(&EAD_LABELS);
    let ready = match Responder::process_message_1(RustCrypto, &config, data) {
        Ok(ready) => ready,
        Err(err) => {
            // Turning a refusal into the peer's error message, and formatting it, never panic.
            let _ = (format!("{err}"), err.to_error_message());
            return;
        }
    };

    // What was accepted is within the limits and the configuration.
    assert!(data.len() <= MAX_MESSAGE_LEN);
    assert!(METHODS.contains(&ready.method()));
    assert!(SUITES.contains(&ready.suite()));
    assert!(ready.ead_1().len() <= MAX_EAD_ITEMS);
    let _ = format!("{ready:?}");

    // RFC 9528 §3.3.3: C_R must differ from C_I; pick one that does.
    let c_r = [0x27, 0x28]
        .iter()
        .filter_map(|id| ConnectionId::new(&[*id]))
        .find(|c_r| *c_r != ready.c_i())
        .expect("two distinct identifiers cannot both equal C_I");

    // A credential of the kind the accepted method and suite need: signing or static DH.
    let index = match (ready.suite(), ready.method().responder_signs()) {
        (CipherSuite::Suite0, true) => 0,
        (CipherSuite::Suite0, false) => 1,
        (CipherSuite::Suite2, true) => 2,
        _ => 3,
    };
    let prepared = CREDENTIALS.with(|credentials| {
        ready.prepare_message_2(&credentials[index], &RESPONDER_EPHEMERAL, c_r, &[])
    });
    match prepared {
        Ok((wait_m3, message_2)) => {
            assert!(message_2.len() <= MAX_MESSAGE_LEN);
            assert_eq!(wait_m3.c_r(), c_r);
        }
        Err(Error::Peer(PeerError::InvalidEphemeralKey)) => {}
        Err(err) => panic!("message_2 for an accepted message_1 failed: {err}"),
    }
});
