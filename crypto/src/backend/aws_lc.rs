//! The aws-lc-rs backend, for nodes: AWS-LC's assembly P-256 and X25519 behind the same
//! [`Backend`] seam as the pure-Rust one.
//!
//! A node answers handshakes from a whole site, so its time goes into P-256: ECDH with an
//! ephemeral key, static ECDH for EDHOC method 3, and ES256 verification of credentials.
//! AWS-LC does each four to five times faster than `p256` (see `benches/backend.rs`), and its
//! [`agreement::PrivateKey`] may be used for any number of agreements, which static-static
//! Diffie-Hellman needs.
//!
//! Each operation goes to AWS-LC only where that pays. Best of 40 runs on an AMD EPYC
//! (x86-64 with AES-NI, SHA-NI and AVX2), release profile:
//!
//! | operation | done by | aws-lc-rs | pure Rust |
//! | --- | --- | --- | --- |
//! | P-256 ephemeral key and ECDH | aws-lc-rs | 90 µs | 418 µs |
//! | ES256 verify | aws-lc-rs | 62 µs | 349 µs |
//! | ES256 sign | aws-lc-rs | 41 µs | 93 µs |
//! | X25519 ephemeral key and DH | aws-lc-rs | 39 µs | 85 µs |
//! | Ed25519 verify | ed25519-dalek | 44 µs | 47 µs |
//! | Ed25519 sign | ed25519-dalek | 19 µs | 22 µs |
//! | HMAC-SHA256, one HKDF block | RustCrypto `hmac` | 484 ns | 243 ns |
//! | SHA-256 of 64 bytes | RustCrypto `sha2` | 110 ns | 119 ns |
//! | AES-CCM-16-64-128 | RustCrypto `ccm` | none | |
//!
//! Ed25519 stays on ed25519-dalek: AWS-LC is barely faster, and keeping dalek means both
//! backends run the same `verify_strict`, which refuses the small-order keys and R values
//! that AWS-LC accepts, so no signer can make a signature that nodes accept and cameras
//! refuse. For short inputs AWS-LC's HMAC costs more in setting up and copying its context
//! than in hashing, and SHA-256 is within a few nanoseconds either way, so hashing stays with
//! the HMAC that HKDF uses.
//!
//! aws-lc-rs offers no AES-CCM: its AEADs are AES-GCM, AES-GCM-SIV and ChaCha20-Poly1305.
//! AWS-LC itself has this very mode (`EVP_aead_aes_128_ccm_bluetooth_8`: 8-byte tag, 13-byte
//! nonce), but reaching it through `aws-lc-sys` would take unsafe code, which the workspace
//! forbids. The `aes` crate detects AES-NI at run time.
//!
//! # Secrets
//!
//! AWS-LC keeps private keys in its own heap objects and frees them with `OPENSSL_free`,
//! which overwrites every allocation with zeros before releasing it; the aws-lc-rs wrappers
//! free them on drop. A P-256 scalar copied out of a [`SecretKey`] to sign lives in a
//! [`Zeroizing`] buffer. No type here shows key material under `Debug`.

use alloc::vec::Vec;
use core::fmt;

use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::{agreement, rand, signature};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use zeroize::Zeroizing;

use super::{Backend, CryptoError, Curve, HASH_LEN, RustCrypto, Secret};
use crate::keys::{PublicKey, SecretKey};

/// The aws-lc-rs backend. Cheap to clone; AWS-LC keeps its state in library globals.
#[derive(Clone, Debug)]
pub struct AwsLc {
    rng: rand::SystemRandom,
}

/// Why the aws-lc-rs backend could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AwsLcUnavailable {
    /// The operating system's random number generator, which AWS-LC draws ECDSA nonces
    /// from, did not answer.
    #[error("the system random number generator failed")]
    Rng,
}

impl AwsLc {
    /// Initialises AWS-LC and checks that the random number generator behind ES256 signing
    /// works, so a node learns at start-up rather than at its first signature.
    pub fn new() -> Result<Self, AwsLcUnavailable> {
        aws_lc_rs::init();
        let rng = rand::SystemRandom::new();
        let mut probe = [0u8; 16];
        rng.fill(&mut probe).map_err(|_| AwsLcUnavailable::Rng)?;
        Ok(AwsLc { rng })
    }
}

/// A Diffie-Hellman private key of the aws-lc-rs backend, freed and wiped by AWS-LC on drop.
pub struct AwsLcAgreementKey {
    curve: Curve,
    key: agreement::PrivateKey,
}

impl fmt::Debug for AwsLcAgreementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.curve {
            Curve::P256 => "AgreementKey(P-256, ..)",
            Curve::X25519 => "AgreementKey(X25519, ..)",
        })
    }
}

fn algorithm(curve: Curve) -> &'static agreement::Algorithm {
    match curve {
        Curve::P256 => &agreement::ECDH_P256,
        Curve::X25519 => &agreement::X25519,
    }
}

impl Backend for AwsLc {
    type AgreementKey = AwsLcAgreementKey;

    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        // As fast or faster in pure Rust (see the module documentation).
        RustCrypto.sha256(parts)
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret {
        RustCrypto.hmac_sha256(key, parts)
    }

    fn aead_seal(&self, key: &[u8; 16], nonce: &[u8; 13], aad: &[u8], buffer: &mut Vec<u8>) {
        // aws-lc-rs has no AES-CCM (see the module documentation).
        RustCrypto.aead_seal(key, nonce, aad, buffer);
    }

    fn aead_open(
        &self,
        key: &[u8; 16],
        nonce: &[u8; 13],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        RustCrypto.aead_open(key, nonce, aad, buffer)
    }

    fn agreement_key(
        &self,
        curve: Curve,
        scalar: &[u8; 32],
    ) -> Result<Self::AgreementKey, CryptoError> {
        // AWS-LC refuses a P-256 scalar that is zero or not below the group order, and clamps
        // an X25519 scalar when it uses it (RFC 7748 §5).
        let key = agreement::PrivateKey::from_private_key(algorithm(curve), scalar)
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(AwsLcAgreementKey { curve, key })
    }

    fn agreement_public(&self, key: &Self::AgreementKey) -> [u8; 32] {
        let public = key
            .key
            .compute_public_key()
            .expect("AWS-LC computed the public point when it imported the scalar");
        let bytes = public.as_ref();
        let mut out = [0u8; 32];
        match key.curve {
            // SEC 1 uncompressed, 0x04 || x || y: keep x (RFC 9528 §3.7, compact form).
            Curve::P256 => out.copy_from_slice(&bytes[1..33]),
            Curve::X25519 => out.copy_from_slice(bytes),
        }
        out
    }

    fn agree(&self, key: &Self::AgreementKey, peer: &[u8; 32]) -> Result<Secret, CryptoError> {
        let uncompressed;
        let peer: &[u8] = match key.curve {
            Curve::P256 => {
                uncompressed = p256_point_from_x(peer)?;
                uncompressed.as_bytes()
            }
            Curve::X25519 => peer,
        };
        let peer = agreement::UnparsedPublicKey::new(algorithm(key.curve), peer);
        // AWS-LC checks that a P-256 point lies on the curve, and fails X25519 with a
        // low-order peer key, whose shared secret is all zeros (RFC 7748 §6.1).
        agreement::agree(&key.key, peer, CryptoError::InvalidPublicKey, |shared| {
            <[u8; 32]>::try_from(shared)
                .map(Secret)
                .map_err(|_| CryptoError::InvalidPublicKey)
        })
    }

    fn sign(&self, key: &SecretKey, message: &[u8]) -> [u8; 64] {
        let SecretKey::P256(signing) = key else {
            // Ed25519 stays on ed25519-dalek (see the module documentation).
            return RustCrypto.sign(key, message);
        };
        // Importing the key on every call costs two fixed-base multiplications, as AWS-LC
        // recomputes the public point and checks it against the one given; import and
        // signature together still take under half of `p256`'s time (41 µs against 93 µs).
        let scalar = Zeroizing::new(signing.to_bytes());
        let public = p256::PublicKey::from(*signing.verifying_key()).to_sec1_point(false);
        let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar.as_slice(),
            public.as_bytes(),
        )
        .expect("a p256 signing key and its own public key form a valid pair");
        // AWS-LC draws the nonce from its own generator, seeded by the operating system, and
        // ignores `rng`: the signature is randomised, not RFC 6979 like the pure-Rust
        // backend's, and verifies the same way.
        let sig = pair
            .sign(&self.rng, message)
            .expect("ES256 signing fails only if the system RNG does");
        let mut out = [0u8; 64];
        out.copy_from_slice(sig.as_ref());
        out
    }

    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let PublicKey::P256(public) = key else {
            // Ed25519 stays on `verify_strict` (see the module documentation).
            return RustCrypto.verify(key, message, signature);
        };
        // AWS-LC, like `p256`, accepts high-S signatures, as FIPS 186 does.
        let sec1 = public.to_sec1_point(false);
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, sec1.as_bytes())
            .verify(message, signature)
            .map_err(|_| CryptoError::Signature)
    }
}

/// The full point `0x04 || x || y` for a peer's compact P-256 key (RFC 9528 §3.7), refused
/// if no point has this x.
///
/// Either point with this x gives the same shared x-coordinate (RFC 6090 compact
/// representation), so take the even one. AWS-LC would take `0x02 || x` itself, but its
/// bignum square root is slower than `p256`'s: ECDH with a static key took 72 µs given the
/// compressed point, 69 µs decompressing here, and 54 µs given the full point, so the
/// decompression is a quarter of the cost whichever library does it.
fn p256_point_from_x(x: &[u8; 32]) -> Result<p256::Sec1Point, CryptoError> {
    let mut compressed = [0u8; 33];
    compressed[0] = 0x02;
    compressed[1..].copy_from_slice(x);
    p256::PublicKey::from_sec1_bytes(&compressed)
        .map(|point| point.to_sec1_point(false))
        .map_err(|_| CryptoError::InvalidPublicKey)
}
