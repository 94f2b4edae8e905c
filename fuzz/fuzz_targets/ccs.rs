//! Fuzz target `ccs`: `Ccs::decode` on untrusted bytes.
//!
//! A CCS that decodes must keep its bytes exactly, decode the same way twice and respect the
//! name limit. Its subject and key, built into a new CCS, with and without a `kid`, must read
//! back unchanged; since `Ccs::new` always writes a P-256 point uncompressed, this also checks
//! that a compressed point (a boolean `y`) decodes to the same key as its full form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::Ccs;
use ward_crypto::credential::{MAX_CREDENTIAL_LEN, MAX_NAME_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(ccs) = Ccs::decode(data) else {
        return;
    };

    // Decoding keeps the input and is repeatable.
    assert_eq!(ccs.as_bytes(), data);
    assert!(data.len() <= MAX_CREDENTIAL_LEN);
    assert_eq!(Ccs::decode(ccs.as_bytes()).as_ref(), Ok(&ccs));
    assert!(
        ccs.subject()
            .is_none_or(|subject| subject.len() <= MAX_NAME_LEN)
    );
    let _ = format!("{ccs:?}");

    // What was read, written again, reads back the same.
    let subject = ccs.subject().map(String::from);
    for kid in [None, Some(&b"fuzz kid"[..])] {
        let rebuilt = Ccs::new(subject.clone(), ccs.key().clone(), kid);
        let decoded = Ccs::decode(rebuilt.as_bytes())
            .unwrap_or_else(|err| panic!("a CCS rebuilt from {ccs:?} does not decode: {err}"));
        assert_eq!(decoded.subject(), ccs.subject());
        assert_eq!(decoded.key(), ccs.key());
        assert_eq!(decoded.key().key_id(), ccs.key().key_id());
    }
});
