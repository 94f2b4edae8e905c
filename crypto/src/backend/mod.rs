//! The seam between Ward's protocols and the code that does the arithmetic.
//!
//! EDHOC and OSCORE need a hash, HKDF, one AEAD, two Diffie-Hellman groups and two signature
//! algorithms. They ask for them through [`Backend`], so the same protocol code runs on:
//!
//! - [`RustCrypto`]: pure Rust, `no_std`, what a camera's firmware links;
//! - an aws-lc-rs backend on nodes (feature `aws-lc`), whose P-256 is several times faster.
//!
//! The interface is bytes in, bytes out, with no randomness inside: a caller that needs an
//! ephemeral key draws 32 random bytes itself and imports them with
//! [`Backend::agreement_key`], so test vectors can inject the keys they were made with.
//!
//! Secrets that cross the seam (shared secrets, pseudorandom keys) travel in [`Secret`],
//! which zeroizes on drop and has no `Debug` that shows its bytes.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod rust_crypto;

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroize;

#[cfg(feature = "aws-lc")]
pub use aws_lc::{AwsLc, AwsLcAgreementKey, AwsLcUnavailable};
pub use rust_crypto::{RustCrypto, RustCryptoAgreementKey};

use crate::keys::{PublicKey, SecretKey};

/// Output length of SHA-256, and so of every hash and PRK in Ward's suites.
pub const HASH_LEN: usize = 32;
/// Key length of AES-CCM-16-64-128.
pub const AEAD_KEY_LEN: usize = 16;
/// Nonce length of AES-CCM-16-64-128.
pub const AEAD_NONCE_LEN: usize = 13;
/// Tag length of AES-CCM-16-64-128.
pub const AEAD_TAG_LEN: usize = 8;
/// Longest output HKDF-SHA256 can expand to (RFC 5869 §2.3: 255 blocks).
pub const MAX_HKDF_OUTPUT: usize = 255 * HASH_LEN;

/// A Diffie-Hellman group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256, public keys as their 32-byte x-coordinate (RFC 9528 §3.7: compact form).
    P256,
    /// X25519 (RFC 7748), public keys as their 32-byte u-coordinate.
    X25519,
}

/// Why a backend operation failed. Carries no secret and no detail an attacker could use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A peer's public key is not a valid point, or the shared secret is degenerate.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A private scalar is out of range (zero, or not below the group order).
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// AEAD decryption failed: wrong key, nonce, associated data or ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// A signature did not verify.
    #[error("signature does not verify")]
    Signature,
    /// HKDF was asked for more than 255 blocks.
    #[error("HKDF output too long")]
    OutputTooLong,
}

/// 32 secret bytes: a shared secret or a pseudorandom key. Zeroized on drop; compared in
/// constant time.
#[derive(Clone)]
pub struct Secret(pub(crate) [u8; HASH_LEN]);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Accumulate every difference before deciding, so the time taken does not depend on
        // where the first differing byte is.
        let diff = self
            .0
            .iter()
            .zip(&other.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        core::hint::black_box(diff) == 0
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps bytes that are secret.
    pub fn new(bytes: [u8; HASH_LEN]) -> Self {
        Secret(bytes)
    }

    /// The secret bytes, for key derivation.
    pub fn expose(&self) -> &[u8; HASH_LEN] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The cryptographic operations Ward's protocols need.
pub trait Backend {
    /// A private key for Diffie-Hellman on one [`Curve`], zeroized on drop.
    type AgreementKey;

    /// SHA-256 over the concatenation of `parts`.
    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN];

    /// HMAC-SHA256 of the concatenation of `parts` under `key`.
    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret;

    /// HKDF-Extract (RFC 5869 §2.2) with SHA-256.
    fn hkdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        self.hmac_sha256(salt, &[ikm])
    }

    /// HKDF-Expand (RFC 5869 §2.3) with SHA-256, filling `out`.
    fn hkdf_expand(&self, prk: &Secret, info: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        if out.len() > MAX_HKDF_OUTPUT {
            return Err(CryptoError::OutputTooLong);
        }
        let mut previous: Option<Secret> = None;
        for (i, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
            // T(i) = HMAC(PRK, T(i-1) | info | i), with i counted from 1.
            let counter = [(i + 1) as u8];
            let t = match &previous {
                None => self.hmac_sha256(prk.expose(), &[info, &counter]),
                Some(prev) => self.hmac_sha256(prk.expose(), &[prev.expose(), info, &counter]),
            };
            chunk.copy_from_slice(&t.expose()[..chunk.len()]);
            previous = Some(t);
        }
        Ok(())
    }

    /// AES-CCM-16-64-128 (COSE algorithm 10): encrypts `buffer` in place and appends the tag.
    fn aead_seal(
        &self,
        key: &[u8; AEAD_KEY_LEN],
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    );

    /// AES-CCM-16-64-128: checks and strips the tag, then decrypts `buffer` in place. On
    /// failure `buffer` holds no plaintext.
    fn aead_open(
        &self,
        key: &[u8; AEAD_KEY_LEN],
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), CryptoError>;

    /// Imports a private scalar for Diffie-Hellman: 32 bytes, big-endian for P-256 (refused
    /// if zero or not below the group order), little-endian and clamped for X25519.
    fn agreement_key(
        &self,
        curve: Curve,
        scalar: &[u8; 32],
    ) -> Result<Self::AgreementKey, CryptoError>;

    /// The public key of `key`, in the 32-byte form of its curve.
    fn agreement_public(&self, key: &Self::AgreementKey) -> [u8; 32];

    /// Diffie-Hellman between `key` and a peer's public key in the 32-byte form of the curve.
    /// For P-256 the result is the x-coordinate of the shared point, which does not depend on
    /// which of the two points with that x the peer meant (RFC 6090 compact representation).
    fn agree(&self, key: &Self::AgreementKey, peer: &[u8; 32]) -> Result<Secret, CryptoError>;

    /// Signs `message` with `key` (ES256 as `r || s`, or Ed25519).
    fn sign(&self, key: &SecretKey, message: &[u8]) -> [u8; 64];

    /// Verifies `signature` over `message` under `key`.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError>;
}

#[cfg(test)]
mod tests;
