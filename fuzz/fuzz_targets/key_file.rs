//! Fuzz target `key_file`: `SecretKey::from_cose_key_bytes` on untrusted bytes.
//!
//! A key file that reads must hold a usable key: written again with `to_cose_key_bytes` it
//! reads back to the same public key, that encoding is canonical (writing the re-read key
//! gives the same bytes), and a signature it makes verifies under its public key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::SecretKey;
use ward_crypto::keys::MAX_KEY_FILE_LEN;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = SecretKey::from_cose_key_bytes(data) else {
        return;
    };
    assert!(data.len() <= MAX_KEY_FILE_LEN);
    let public = key.public_key();
    assert_eq!(public.algorithm(), key.algorithm());

    // Written and read back, the key is the same key, and its encoding is a fixed point.
    let written = key.to_cose_key_bytes();
    let reread = SecretKey::from_cose_key_bytes(&written)
        .unwrap_or_else(|err| panic!("{key:?} does not read back from its own key file: {err}"));
    assert_eq!(reread.public_key(), public);
    assert_eq!(
        *reread.to_cose_key_bytes(),
        *written,
        "key file encoding is not canonical"
    );

    // The key signs, and the public half it reports verifies what it signs.
    let signature = key.sign(data);
    assert!(
        public.verify(data, &signature).is_ok(),
        "{key:?} made a signature it cannot verify"
    );
    let _ = format!("{key:?}");
});
