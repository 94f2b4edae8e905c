//! The pure-Rust backend: RustCrypto and dalek crates, `no_std`, for cameras and tests.

use alloc::vec::Vec;

use aes::Aes128;
use ccm::aead::{AeadInOut as _, KeyInit as _};
use ccm::consts::{U8, U13};
use hmac::{Hmac, Mac as _};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use sha2::{Digest as _, Sha256};

use super::{Backend, CryptoError, Curve, HASH_LEN, Secret};
use crate::keys::{PublicKey, SecretKey};

/// AES-CCM with a 64-bit tag and a 13-byte nonce: COSE's AES-CCM-16-64-128.
type AesCcm16_64_128 = ccm::Ccm<Aes128, U8, U13>;

/// The pure-Rust backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

/// A Diffie-Hellman private key of the pure-Rust backend. Both variants zeroize on drop.
// Copies only for fuzz builds, whose targets copy handshake states (see `edhoc`).
#[cfg_attr(fuzzing, derive(Clone))]
pub enum RustCryptoAgreementKey {
    /// A P-256 scalar.
    P256(p256::SecretKey),
    /// An X25519 scalar.
    X25519(x25519_dalek::StaticSecret),
}

impl core::fmt::Debug for RustCryptoAgreementKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RustCryptoAgreementKey::P256(_) => "AgreementKey(P-256, ..)",
            RustCryptoAgreementKey::X25519(_) => "AgreementKey(X25519, ..)",
        })
    }
}

impl Backend for RustCrypto {
    type AgreementKey = RustCryptoAgreementKey;

    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part);
        }
        hash.finalize().into()
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of every length");
        for part in parts {
            mac.update(part);
        }
        Secret(mac.finalize().into_bytes().into())
    }

    fn aead_seal(&self, key: &[u8; 16], nonce: &[u8; 13], aad: &[u8], buffer: &mut Vec<u8>) {
        let cipher = AesCcm16_64_128::new(key.into());
        cipher
            .encrypt_in_place(nonce.into(), aad, buffer)
            .expect("CCM with a 13-byte nonce encrypts up to 64 KiB, beyond any Ward message");
    }

    fn aead_open(
        &self,
        key: &[u8; 16],
        nonce: &[u8; 13],
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let cipher = AesCcm16_64_128::new(key.into());
        cipher
            .decrypt_in_place(nonce.into(), aad, buffer)
            .map_err(|_| {
                buffer.clear();
                CryptoError::Decrypt
            })
    }

    fn agreement_key(
        &self,
        curve: Curve,
        scalar: &[u8; 32],
    ) -> Result<Self::AgreementKey, CryptoError> {
        match curve {
            Curve::P256 => p256::SecretKey::from_bytes(scalar.into())
                .map(RustCryptoAgreementKey::P256)
                .map_err(|_| CryptoError::InvalidPrivateKey),
            Curve::X25519 => Ok(RustCryptoAgreementKey::X25519(
                x25519_dalek::StaticSecret::from(*scalar),
            )),
        }
    }

    fn agreement_public(&self, key: &Self::AgreementKey) -> [u8; 32] {
        match key {
            RustCryptoAgreementKey::P256(secret) => {
                let point = secret.public_key().to_sec1_point(true);
                let mut x = [0u8; 32];
                x.copy_from_slice(point.x().expect("a public key is never the identity"));
                x
            }
            RustCryptoAgreementKey::X25519(secret) => {
                x25519_dalek::PublicKey::from(secret).to_bytes()
            }
        }
    }

    fn agree(&self, key: &Self::AgreementKey, peer: &[u8; 32]) -> Result<Secret, CryptoError> {
        match key {
            RustCryptoAgreementKey::P256(secret) => {
                // Either point with this x gives the same shared x-coordinate; take the even one.
                let mut sec1 = [0u8; 33];
                sec1[0] = 0x02;
                sec1[1..].copy_from_slice(peer);
                let peer = p256::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|_| CryptoError::InvalidPublicKey)?;
                let shared =
                    p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
                let mut out = [0u8; 32];
                out.copy_from_slice(shared.raw_secret_bytes());
                Ok(Secret(out))
            }
            RustCryptoAgreementKey::X25519(secret) => {
                let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
                // RFC 7748 §6.1: a low-order peer key yields all zeros; refuse it.
                if !shared.was_contributory() {
                    return Err(CryptoError::InvalidPublicKey);
                }
                Ok(Secret(shared.to_bytes()))
            }
        }
    }

    fn sign(&self, key: &SecretKey, message: &[u8]) -> [u8; 64] {
        key.sign(message)
    }

    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        key.verify(message, signature)
            .map_err(|_| CryptoError::Signature)
    }
}
