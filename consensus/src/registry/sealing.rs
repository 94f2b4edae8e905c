//! Sealing the registry's secret fields under the site storage key.
//!
//! A session's OSCORE master secret and salt, and the frame-token keys, are replicated to
//! every node of the site and snapshotted to disk; none of that should reveal them. The node
//! that proposes a command seals the secret first, and the registry stores and copies only
//! the sealed form:
//!
//! ```text
//! sealed = nonce (24 bytes, random) | XChaCha20-Poly1305(key, nonce, aad, plaintext)
//! aad    = "ward registry sealed v1" | 0x00 | field tag (1 byte) | record key
//! ```
//!
//! The associated data names the record and the field a secret belongs to, so that sealed
//! bytes copied into another session, or another epoch, fail to open instead of lending that
//! record a secret that is not its own. XChaCha20-Poly1305 takes 192-bit nonces, which may be
//! drawn at random for as many secrets as a site will ever seal; the randomness comes from
//! the caller, as everywhere in Ward. Opening gives the plaintext in a buffer that is wiped
//! when dropped.

use std::fmt;

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The length of a site storage key.
pub const KEY_LEN: usize = 32;

/// The length of a sealed secret's nonce.
pub const NONCE_LEN: usize = 24;

/// The length of the authentication tag a sealed secret carries after its plaintext.
pub const TAG_LEN: usize = 16;

/// The longest plaintext sealed: a session's secret parts or a frame-token key are a few
/// dozen bytes; the limit leaves room for what a later release adds.
pub const MAX_SECRET_LEN: usize = 512;

/// The longest ciphertext accepted in a command.
pub const MAX_SEALED_LEN: usize = MAX_SECRET_LEN + TAG_LEN;

const DOMAIN: &[u8] = b"ward registry sealed v1";

/// The key the site's nodes seal registry secrets under. Wiped when dropped; its `Debug`
/// shows nothing of it.
pub struct SiteStorageKey([u8; KEY_LEN]);

impl Drop for SiteStorageKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SiteStorageKey {}

impl SiteStorageKey {
    /// The key made of `bytes`, as read from the site's key file.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SiteStorageKey {
        SiteStorageKey(bytes)
    }

    /// A new random key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> SiteStorageKey {
        let mut bytes = [0u8; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        SiteStorageKey(bytes)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

impl fmt::Debug for SiteStorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SiteStorageKey(redacted)")
    }
}

/// A secret sealed under the site storage key for one field of one record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// The nonce it was sealed with.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// The sealed secret and its tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// Whether the lengths are ones [`open`] may accept: the registry checks this much of a
    /// secret it cannot open.
    pub fn well_formed(&self) -> bool {
        self.nonce.len() == NONCE_LEN && (TAG_LEN..=MAX_SEALED_LEN).contains(&self.ciphertext.len())
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sealed bytes are not the secret, but nothing is gained from printing them.
        f.debug_struct("SealedSecret")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// The record and field a sealed secret belongs to, bound into its associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedField<'a> {
    /// The secret parts of the session with this id: OSCORE master secret, salt and what
    /// else resuming it takes.
    SessionSecret {
        /// The session's id.
        session: &'a [u8],
    },
    /// The frame-token key of this epoch.
    FrameKey {
        /// The epoch.
        epoch: u64,
    },
}

impl SealedField<'_> {
    fn associated_data(&self) -> Vec<u8> {
        let mut aad = DOMAIN.to_vec();
        aad.push(0);
        // One tag per field, so that no key of one field reads as a key of another.
        match self {
            SealedField::SessionSecret { session } => {
                aad.push(1);
                aad.extend_from_slice(session);
            }
            SealedField::FrameKey { epoch } => {
                aad.push(2);
                aad.extend_from_slice(&epoch.to_be_bytes());
            }
        }
        aad
    }
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The plaintext is longer than [`MAX_SECRET_LEN`].
    #[error("secret of {0} bytes is longer than the registry keeps")]
    TooLong(usize),
    /// The sealed form has the wrong lengths.
    #[error("sealed secret has the wrong length")]
    Malformed,
    /// The secret does not open: another key, another record or field, or altered bytes. The
    /// three are indistinguishable by design.
    #[error("sealed secret does not open under this key for this field")]
    DoesNotOpen,
}

/// Seals `secret` for `field` under `key`.
pub fn seal<R: CryptoRng + ?Sized>(
    key: &SiteStorageKey,
    field: SealedField<'_>,
    secret: &[u8],
    rng: &mut R,
) -> Result<SealedSecret, SealError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(SealError::TooLong(secret.len()));
    }
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let aad = field.associated_data();
    let ciphertext = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: &aad,
            },
        )
        // Encryption fails only for inputs of gigabytes, which the length check excludes.
        .map_err(|_| SealError::TooLong(secret.len()))?;
    Ok(SealedSecret {
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Opens `sealed`, which must have been sealed for `field` under `key`.
pub fn open(
    key: &SiteStorageKey,
    field: SealedField<'_>,
    sealed: &SealedSecret,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if !sealed.well_formed() {
        return Err(SealError::Malformed);
    }
    let aad = field.associated_data();
    key.cipher()
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::DoesNotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::testing::rng;

    const SECRET: &[u8] = b"oscore master secret and salt";

    fn session(id: &[u8]) -> SealedField<'_> {
        SealedField::SessionSecret { session: id }
    }

    #[test]
    fn a_sealed_secret_opens_under_its_key_for_its_field() {
        let key = SiteStorageKey::generate(&mut rng());
        let sealed = seal(&key, session(b"s1"), SECRET, &mut rng()).expect("seals");
        assert!(sealed.well_formed());
        assert_eq!(
            open(&key, session(b"s1"), &sealed)
                .expect("opens")
                .as_slice(),
            SECRET
        );
    }

    #[test]
    fn a_secret_does_not_open_under_another_key() {
        let key = SiteStorageKey::generate(&mut rng());
        let other = SiteStorageKey::generate(&mut rng());
        let sealed = seal(&key, session(b"s1"), SECRET, &mut rng()).expect("seals");
        assert_eq!(
            open(&other, session(b"s1"), &sealed),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn a_sessions_secret_cannot_be_opened_under_another_session_id() {
        let key = SiteStorageKey::generate(&mut rng());
        let sealed = seal(&key, session(b"s1"), SECRET, &mut rng()).expect("seals");
        assert_eq!(
            open(&key, session(b"s2"), &sealed),
            Err(SealError::DoesNotOpen)
        );
        // Nor as a frame key, even where the bytes of the record keys would coincide.
        assert_eq!(
            open(&key, SealedField::FrameKey { epoch: 1 }, &sealed),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn altered_sealed_bytes_do_not_open() {
        let key = SiteStorageKey::generate(&mut rng());
        let sealed = seal(&key, session(b"s1"), SECRET, &mut rng()).expect("seals");
        for at in 0..sealed.ciphertext.len() {
            let mut bad = sealed.clone();
            bad.ciphertext[at] ^= 1;
            assert_eq!(
                open(&key, session(b"s1"), &bad),
                Err(SealError::DoesNotOpen)
            );
        }
        let mut short = sealed.clone();
        short.nonce.pop();
        assert_eq!(
            open(&key, session(b"s1"), &short),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn the_key_and_sealed_bytes_stay_out_of_debug_output() {
        let key = SiteStorageKey::from_bytes([0xab; KEY_LEN]);
        assert_eq!(format!("{key:?}"), "SiteStorageKey(redacted)");
        let sealed = seal(&key, session(b"s1"), SECRET, &mut rng()).expect("seals");
        assert_eq!(
            format!("{sealed:?}"),
            format!(
                "SealedSecret {{ ciphertext_len: {}, .. }}",
                SECRET.len() + TAG_LEN
            )
        );
    }

    #[test]
    fn an_oversized_secret_is_not_sealed() {
        let key = SiteStorageKey::generate(&mut rng());
        let big = vec![0u8; MAX_SECRET_LEN + 1];
        assert_eq!(
            seal(&key, session(b"s1"), &big, &mut rng()),
            Err(SealError::TooLong(MAX_SECRET_LEN + 1))
        );
    }
}
