//! Known-answer tests for every backend operation, so a second backend can be held to the
//! same bytes.

use alloc::vec::Vec;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs every known-answer test against `backend`.
pub(crate) fn known_answers<B: Backend>(backend: &B) {
    // RFC 5869 Appendix A.1: HKDF-SHA256 test case 1.
    let ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    let salt = hex("000102030405060708090a0b0c");
    let info = hex("f0f1f2f3f4f5f6f7f8f9");
    let prk = backend.hkdf_extract(&salt, &ikm);
    assert_eq!(
        prk.expose().to_vec(),
        hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    );
    let mut okm = [0u8; 42];
    backend
        .hkdf_expand(&prk, &info, &mut okm)
        .expect("short output");
    assert_eq!(
        okm.to_vec(),
        hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );
    let mut too_long = alloc::vec![0u8; MAX_HKDF_OUTPUT + 1];
    assert_eq!(
        backend.hkdf_expand(&prk, &info, &mut too_long),
        Err(CryptoError::OutputTooLong)
    );

    // FIPS 180-2: SHA-256("abc"), fed in two parts.
    assert_eq!(
        backend.sha256(&[b"a", b"bc"]).to_vec(),
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );

    // AES-CCM-16-64-128 round trip, and a flipped bit refused.
    let (key, nonce) = ([7u8; 16], [9u8; 13]);
    let mut buffer = b"frame".to_vec();
    backend.aead_seal(&key, &nonce, b"aad", &mut buffer);
    assert_eq!(buffer.len(), 5 + AEAD_TAG_LEN);
    let mut tampered = buffer.clone();
    tampered[0] ^= 1;
    assert_eq!(
        backend.aead_open(&key, &nonce, b"aad", &mut tampered),
        Err(CryptoError::Decrypt)
    );
    assert!(
        tampered.is_empty(),
        "no unauthenticated plaintext is left behind"
    );
    backend
        .aead_open(&key, &nonce, b"aad", &mut buffer)
        .expect("genuine");
    assert_eq!(buffer, b"frame");

    // RFC 7748 §6.1: the X25519 Diffie-Hellman example.
    let alice = backend
        .agreement_key(
            Curve::X25519,
            &arr(&hex(
                "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            )),
        )
        .expect("any 32 bytes are an X25519 key");
    assert_eq!(
        backend.agreement_public(&alice).to_vec(),
        hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    let bob_public = arr(&hex(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    ));
    assert_eq!(
        backend
            .agree(&alice, &bob_public)
            .expect("valid")
            .expose()
            .to_vec(),
        hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    );
    assert_eq!(
        backend.agree(&alice, &[0u8; 32]).err(),
        Some(CryptoError::InvalidPublicKey)
    );

    // P-256: both sides agree, and bad scalars or points are refused.
    let a = backend
        .agreement_key(Curve::P256, &[0x11; 32])
        .expect("in range");
    let b = backend
        .agreement_key(Curve::P256, &[0x22; 32])
        .expect("in range");
    let ab = backend
        .agree(&a, &backend.agreement_public(&b))
        .expect("valid");
    let ba = backend
        .agree(&b, &backend.agreement_public(&a))
        .expect("valid");
    assert_eq!(ab, ba);
    assert!(backend.agreement_key(Curve::P256, &[0u8; 32]).is_err());
    assert!(backend.agreement_key(Curve::P256, &[0xff; 32]).is_err());
    // 2^256 - 1 is larger than the field prime, so it is no coordinate at all.
    assert_eq!(
        backend.agree(&a, &[0xff; 32]).err(),
        Some(CryptoError::InvalidPublicKey)
    );
}

fn arr(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().expect("32 bytes")
}

#[test]
fn rust_crypto_gives_the_known_answers() {
    known_answers(&RustCrypto);
}
