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

#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_gives_the_known_answers() -> Result<(), AwsLcUnavailable> {
    known_answers(&AwsLc::new()?);
    Ok(())
}

/// AwsLc and RustCrypto agree on random inputs: the same shared secrets, ciphertexts that
/// open on the other side, signatures that verify on the other side, and the same refusals.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_and_rust_crypto_agree_on_random_inputs() -> Result<(), AwsLcUnavailable> {
    use rand_core::Rng as _;

    use crate::keys::SecretKey;
    use crate::test_rng::TestRng;

    let (aws, rc) = (AwsLc::new()?, RustCrypto);
    let mut rng = TestRng::new(0xa3c);
    let random = |rng: &mut TestRng| {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        bytes
    };

    for round in 0..64 {
        // Diffie-Hellman on both curves: same public keys, same shared secret, and a random
        // peer x (half of which are no P-256 point) accepted or refused alike.
        for curve in [Curve::P256, Curve::X25519] {
            let (a, b) = (random(&mut rng), random(&mut rng));
            // A random 32 bytes is a P-256 scalar in range but for odds of 2^-32, and the
            // seeded generator makes the draw the same on every run.
            let a_aws = aws.agreement_key(curve, &a).expect("in range");
            let a_rc = rc.agreement_key(curve, &a).expect("in range");
            let b_rc = rc.agreement_key(curve, &b).expect("in range");
            assert_eq!(aws.agreement_public(&a_aws), rc.agreement_public(&a_rc));
            let b_public = rc.agreement_public(&b_rc);
            assert_eq!(
                aws.agree(&a_aws, &b_public).expect("valid"),
                rc.agree(&b_rc, &rc.agreement_public(&a_rc)).expect("valid"),
                "{curve:?}, round {round}"
            );
            let stranger = random(&mut rng);
            assert_eq!(
                aws.agree(&a_aws, &stranger),
                rc.agree(&a_rc, &stranger),
                "{curve:?}, round {round}"
            );
        }

        // AES-CCM both ways, and hashing.
        let (key, nonce) = (random(&mut rng), random(&mut rng));
        let key: &[u8; 16] = key[..16].try_into().expect("16 bytes");
        let nonce: &[u8; 13] = nonce[..13].try_into().expect("13 bytes");
        let plaintext = random(&mut rng)[..round % 32].to_vec();
        let aad = random(&mut rng);
        for (seal, open) in [(&aws as &dyn Aead, &rc as &dyn Aead), (&rc, &aws)] {
            let mut buffer = plaintext.clone();
            seal.seal(key, nonce, &aad, &mut buffer);
            open.open(key, nonce, &aad, &mut buffer).expect("genuine");
            assert_eq!(buffer, plaintext);
        }
        assert_eq!(
            aws.sha256(&[&aad, &plaintext]),
            rc.sha256(&[&aad, &plaintext])
        );
        assert_eq!(
            aws.hmac_sha256(key, &[&plaintext]),
            rc.hmac_sha256(key, &[&plaintext])
        );

        // Signatures made by one verify under the other; a flipped bit fails under both.
        let message = random(&mut rng);
        for secret in [
            SecretKey::generate_p256(&mut rng),
            SecretKey::generate_ed25519(&mut rng),
        ] {
            let public = secret.public_key();
            for (signer, verifier) in [(&aws as &dyn Signer, &rc as &dyn Signer), (&rc, &aws)] {
                let mut sig = signer.sign_with(&secret, &message);
                assert_eq!(verifier.verify_with(&public, &message, &sig), Ok(()));
                sig[usize::from(message[0]) % 64] ^= 1 << (message[1] % 8);
                assert_eq!(
                    verifier.verify_with(&public, &message, &sig),
                    Err(CryptoError::Signature)
                );
            }
        }
    }
    Ok(())
}

/// Both backends accept an ES256 signature with either S, as FIPS 186 and COSE do: secure
/// elements do not normalise S.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_accepts_high_and_low_s_like_p256() -> Result<(), AwsLcUnavailable> {
    use crate::keys::SecretKey;
    use crate::test_rng::TestRng;

    let aws = AwsLc::new()?;
    let secret = SecretKey::generate_p256(&mut TestRng::new(0x5e));
    let public = secret.public_key();
    let sig = p256::ecdsa::Signature::from_slice(&secret.sign(b"m")).expect("64 bytes");
    let (r, s) = sig.split_scalars();
    let other_s = p256::ecdsa::Signature::from_scalars(r, p256::Scalar::ZERO - *s)
        .expect("n - s is in range");
    for sig in [sig, other_s] {
        assert_eq!(aws.verify(&public, b"m", &sig.to_bytes()), Ok(()));
        assert_eq!(RustCrypto.verify(&public, b"m", &sig.to_bytes()), Ok(()));
    }
    Ok(())
}

/// The twelve edge cases of "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko, 2020;
/// the ed25519-speccheck vectors): small-order and mixed-order keys and R, non-canonical
/// encodings, S at and beyond the group order. As (message, public key, signature).
#[cfg(feature = "aws-lc")]
const ED25519_EDGE_CASES: [(&str, &str, &str); 12] = [
    (
        "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a\
         0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43\
         a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa\
         8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f\
         87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed512\
         5ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7\
         e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e\
         547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa1942\
         7e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
         03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
         ca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
    ),
    (
        "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dc\
         a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
    (
        "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dc\
         a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
    ),
];

/// AwsLc returns the same verdict as `verify_strict` on every Ed25519 edge case. AWS-LC's own
/// Ed25519 would not: it accepts a small-order R (case 2) and small-order keys (cases 0 and
/// 1), so this fails if AwsLc's Ed25519 verification is ever moved onto it unguarded.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_matches_verify_strict_on_ed25519_edge_cases() -> Result<(), AwsLcUnavailable> {
    use crate::keys::PublicKey;

    let aws = AwsLc::new()?;
    let mut decodable = 0;
    for (case, (message, key, signature)) in ED25519_EDGE_CASES.iter().enumerate() {
        // A key that does not decode cannot become a `PublicKey`, so neither backend sees it.
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&arr(&hex(key))) else {
            continue;
        };
        decodable += 1;
        let key = PublicKey::Ed25519(key);
        let (message, signature) = (hex(message), hex(signature));
        assert_eq!(
            aws.verify(&key, &message, &signature),
            RustCrypto.verify(&key, &message, &signature),
            "case {case}"
        );
    }
    assert!(decodable >= 10, "the vectors were transcribed intact");
    Ok(())
}

/// Object-safe views of the two backends, so the cross-checks can loop over both orders.
#[cfg(feature = "aws-lc")]
trait Aead {
    fn seal(&self, key: &[u8; 16], nonce: &[u8; 13], aad: &[u8], buffer: &mut Vec<u8>);
    fn open(
        &self,
        key: &[u8; 16],
        nonce: &[u8; 13],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), CryptoError>;
}

#[cfg(feature = "aws-lc")]
trait Signer {
    fn sign_with(&self, key: &SecretKey, message: &[u8]) -> [u8; 64];
    fn verify_with(&self, key: &PublicKey, message: &[u8], sig: &[u8]) -> Result<(), CryptoError>;
}

#[cfg(feature = "aws-lc")]
impl<B: Backend> Aead for B {
    fn seal(&self, key: &[u8; 16], nonce: &[u8; 13], aad: &[u8], buffer: &mut Vec<u8>) {
        self.aead_seal(key, nonce, aad, buffer);
    }

    fn open(
        &self,
        key: &[u8; 16],
        nonce: &[u8; 13],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        self.aead_open(key, nonce, aad, buffer)
    }
}

#[cfg(feature = "aws-lc")]
impl<B: Backend> Signer for B {
    fn sign_with(&self, key: &SecretKey, message: &[u8]) -> [u8; 64] {
        self.sign(key, message)
    }

    fn verify_with(&self, key: &PublicKey, message: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify(key, message, sig)
    }
}
