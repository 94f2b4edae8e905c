//! Signing keys, their public halves, key identifiers and the COSE_Key encodings of both.
//!
//! Ward uses two curves (DESIGN §2): Ed25519 for the fleet root and for node identities,
//! because libp2p names peers by Ed25519 keys, and P-256 for everything a camera touches,
//! because secure elements such as the ATECC608 and SE050 do P-256 in hardware and nothing
//! else.
//!
//! A key is identified by its COSE Key Thumbprint (RFC 9679): SHA-256 over the deterministic
//! encoding of the key's required parameters. The thumbprint depends on the key alone, never
//! on how a credential carrying it was encoded, which is what lets a revocation by key id
//! catch every credential that binds the key.
//!
//! Secret keys zeroize on drop (both backing types implement `ZeroizeOnDrop`), print only
//! their key id under `Debug`, and serialise into [`Zeroizing`] buffers.

use alloc::vec::Vec;
use core::fmt;

use coset::{CoseKey, KeyType, Label, iana};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::Generate as _;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use rand_core::CryptoRng;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cbor::{Reader, Writer};
use crate::error::{DecodeError, SignatureError};

/// Length of every signature Ward produces: Ed25519, and ES256 as `r || s` (RFC 9053 §2.1).
pub const SIGNATURE_LEN: usize = 64;

// COSE labels and values used below (RFC 9052 §7.1, RFC 9053 §7).
pub(crate) const KTY: i64 = 1;
pub(crate) const KID: i64 = 2;
const ALG: i64 = 3;
pub(crate) const CRV: i64 = -1;
pub(crate) const X: i64 = -2;
pub(crate) const Y: i64 = -3;
pub(crate) const D: i64 = -4;
pub(crate) const KTY_OKP: i64 = 1;
pub(crate) const KTY_EC2: i64 = 2;
pub(crate) const CRV_P256: i64 = 1;
pub(crate) const CRV_ED25519: i64 = 6;
const ALG_ES256: i64 = -7;
const ALG_EDDSA: i64 = -8;

/// Largest private key file we read: a P-256 COSE_Key with `d` is about 110 bytes.
pub const MAX_KEY_FILE_LEN: usize = 256;

/// A COSE signature algorithm that Ward accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// EdDSA with Ed25519 (COSE -8).
    EdDsa,
    /// ECDSA with P-256 and SHA-256 (COSE -7).
    Es256,
}

impl Algorithm {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Algorithm::EdDsa => ALG_EDDSA,
            Algorithm::Es256 => ALG_ES256,
        }
    }

    /// The algorithm for a COSE algorithm identifier, if Ward accepts it.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        match id {
            ALG_EDDSA => Some(Algorithm::EdDsa),
            ALG_ES256 => Some(Algorithm::Es256),
            _ => None,
        }
    }

    pub(crate) fn to_coset(self) -> iana::Algorithm {
        match self {
            Algorithm::EdDsa => iana::Algorithm::EdDSA,
            Algorithm::Es256 => iana::Algorithm::ES256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
        })
    }
}

/// A key's COSE Key Thumbprint (RFC 9679), used as its key id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A public key that Ward can verify signatures with.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// An Ed25519 key: the fleet root, or a node's libp2p identity.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A P-256 key: a site CA, a camera, or a node's static key.
    P256(p256::PublicKey),
}

impl PublicKey {
    /// The signature algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Ed25519(_) => Algorithm::EdDsa,
            PublicKey::P256(_) => Algorithm::Es256,
        }
    }

    /// The key's RFC 9679 thumbprint.
    pub fn key_id(&self) -> KeyId {
        // RFC 9679 §3: hash the deterministic encoding of the required members only.
        let mut input = Vec::with_capacity(80);
        let mut w = Writer::new(&mut input);
        match self {
            PublicKey::Ed25519(key) => {
                w.map(3);
                w.int(KTY);
                w.int(KTY_OKP);
                w.int(CRV);
                w.int(CRV_ED25519);
                w.int(X);
                w.bytes(key.as_bytes());
            }
            PublicKey::P256(key) => {
                let (x, y) = p256_coordinates(key);
                w.map(4);
                w.int(KTY);
                w.int(KTY_EC2);
                w.int(CRV);
                w.int(CRV_P256);
                w.int(X);
                w.bytes(&x);
                w.int(Y);
                w.bytes(&y);
            }
        }
        KeyId(Sha256::digest(&input).into())
    }

    /// Verifies `signature` over `message`.
    ///
    /// Ed25519 uses strict verification, which refuses small-order keys and non-canonical
    /// signatures. ES256 accepts both high-S and low-S signatures, as FIPS 186 and COSE do:
    /// secure elements do not normalise S, and a revocation never depends on signature bytes.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        match self {
            PublicKey::Ed25519(key) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|_| SignatureError)?;
                key.verify_strict(message, &sig).map_err(|_| SignatureError)
            }
            PublicKey::P256(key) => {
                let sig =
                    p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError)?;
                let key = p256::ecdsa::VerifyingKey::from(*key);
                key.verify(message, &sig).map_err(|_| SignatureError)
            }
        }
    }

    /// The key as a COSE_Key carrying only the public parameters, in deterministic order.
    pub fn to_cose_key(&self) -> CoseKey {
        let (kty, params) = match self {
            PublicKey::Ed25519(key) => (
                KeyType::Assigned(iana::KeyType::OKP),
                alloc::vec![
                    (Label::Int(CRV), CRV_ED25519.into()),
                    (Label::Int(X), key.as_bytes().to_vec().into()),
                ],
            ),
            PublicKey::P256(key) => {
                let (x, y) = p256_coordinates(key);
                (
                    KeyType::Assigned(iana::KeyType::EC2),
                    alloc::vec![
                        (Label::Int(CRV), CRV_P256.into()),
                        (Label::Int(X), x.to_vec().into()),
                        (Label::Int(Y), y.to_vec().into()),
                    ],
                )
            }
        };
        CoseKey {
            kty,
            params,
            ..CoseKey::default()
        }
    }

    /// Reads the public key out of a COSE_Key, ignoring `kid` but checking `alg` if present.
    pub fn from_cose_key(key: &CoseKey) -> Result<Self, DecodeError> {
        let mut crv = None;
        let (mut x, mut y) = (None, None);
        for (label, value) in &key.params {
            match label {
                Label::Int(CRV) => crv = value.as_integer().and_then(|i| i64::try_from(i).ok()),
                Label::Int(X) => x = value.as_bytes().map(Vec::as_slice),
                Label::Int(Y) => y = Some(value),
                Label::Int(D) => return Err(DecodeError::Malformed("private key in a public key")),
                _ => {}
            }
        }
        let public = match (&key.kty, crv) {
            (KeyType::Assigned(iana::KeyType::OKP), Some(CRV_ED25519)) => {
                ed25519_public(x.ok_or(DecodeError::Malformed("COSE_Key without x"))?)?
            }
            (KeyType::Assigned(iana::KeyType::EC2), Some(CRV_P256)) => {
                let x = x.ok_or(DecodeError::Malformed("COSE_Key without x"))?;
                let y = y.ok_or(DecodeError::Malformed("COSE_Key without y"))?;
                match (y.as_bytes(), y.as_bool()) {
                    (Some(y), _) => p256_public(x, y)?,
                    // RFC 9053 §7.1.1: a boolean y carries the sign bit of a compressed point.
                    (None, Some(sign)) => p256_public_compressed(x, sign)?,
                    _ => {
                        return Err(DecodeError::Malformed(
                            "COSE_Key y is neither bytes nor bool",
                        ));
                    }
                }
            }
            _ => return Err(DecodeError::UnsupportedAlgorithm),
        };
        if let Some(alg) = &key.alg {
            let expected = coset::Algorithm::Assigned(public.algorithm().to_coset());
            if *alg != expected {
                return Err(DecodeError::UnsupportedAlgorithm);
            }
        }
        Ok(public)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let curve = match self {
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::P256(_) => "P-256",
        };
        write!(f, "PublicKey({curve}, {})", self.key_id())
    }
}

/// A private signing key. Zeroized on drop; `Debug` shows only its key id.
#[non_exhaustive]
pub enum SecretKey {
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
    /// A P-256 ECDSA key.
    P256(p256::ecdsa::SigningKey),
}

impl SecretKey {
    /// Generates an Ed25519 key from `rng`.
    pub fn generate_ed25519<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        SecretKey::Ed25519(ed25519_dalek::SigningKey::generate(rng))
    }

    /// Generates a P-256 key from `rng`.
    pub fn generate_p256<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        SecretKey::P256(p256::ecdsa::SigningKey::generate_from_rng(rng))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SecretKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
            SecretKey::P256(key) => PublicKey::P256((*key.verifying_key()).into()),
        }
    }

    /// The signature algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SecretKey::Ed25519(_) => Algorithm::EdDsa,
            SecretKey::P256(_) => Algorithm::Es256,
        }
    }

    /// Signs `message`: Ed25519 deterministically, ES256 with RFC 6979 nonces.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        match self {
            SecretKey::Ed25519(key) => key.sign(message).to_bytes(),
            SecretKey::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(message);
                sig.to_bytes().into()
            }
        }
    }

    /// Encodes the key as a COSE_Key with its private parameter `d`, for a key file.
    ///
    /// The buffer is zeroized when dropped; the caller writes it to a file readable by its
    /// owner only.
    pub fn to_cose_key_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(128));
        let mut w = Writer::new(&mut out);
        match self {
            SecretKey::Ed25519(key) => {
                let d = Zeroizing::new(key.to_bytes());
                w.map(4);
                w.int(KTY);
                w.int(KTY_OKP);
                w.int(CRV);
                w.int(CRV_ED25519);
                w.int(X);
                w.bytes(key.verifying_key().as_bytes());
                w.int(D);
                w.bytes(d.as_ref());
            }
            SecretKey::P256(key) => {
                let (x, y) = p256_coordinates(&(*key.verifying_key()).into());
                let d = Zeroizing::new(key.to_bytes());
                w.map(5);
                w.int(KTY);
                w.int(KTY_EC2);
                w.int(CRV);
                w.int(CRV_P256);
                w.int(X);
                w.bytes(&x);
                w.int(Y);
                w.bytes(&y);
                w.int(D);
                w.bytes(d.as_ref());
            }
        }
        out
    }

    /// Reads a key file written by [`SecretKey::to_cose_key_bytes`] or any COSE_Key holding
    /// an OKP Ed25519 or EC2 P-256 private key.
    ///
    /// The public parameters, when present, must match the private key, so a file whose
    /// halves were swapped for another key's is refused rather than silently half-used.
    pub fn from_cose_key_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_KEY_FILE_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_KEY_FILE_LEN,
            });
        }
        let mut r = Reader::new(bytes);
        let entries = r.map()?;
        if entries > 8 {
            return Err(DecodeError::TooManyItems);
        }
        let (mut kty, mut crv, mut alg) = (None, None, None);
        let (mut x, mut y, mut d) = (None::<&[u8]>, None::<&[u8]>, None::<&[u8]>);
        for _ in 0..entries {
            let label = r.int()?;
            let duplicate = match label {
                KTY => kty.replace(r.int()?).is_some(),
                CRV => crv.replace(r.int()?).is_some(),
                ALG => alg.replace(r.int()?).is_some(),
                X => x.replace(r.bytes()?).is_some(),
                Y => y.replace(r.bytes()?).is_some(),
                D => d.replace(r.bytes()?).is_some(),
                KID => {
                    r.bytes()?;
                    false
                }
                _ => return Err(DecodeError::Malformed("unexpected label in key file")),
            };
            if duplicate {
                return Err(DecodeError::Malformed("duplicate map key"));
            }
        }
        if !r.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        let d = d.ok_or(DecodeError::Malformed("key file without private key"))?;
        let key = match (kty, crv) {
            (Some(KTY_OKP), Some(CRV_ED25519)) => {
                let d: &[u8; 32] = d.try_into().map_err(|_| DecodeError::InvalidKey)?;
                SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(d))
            }
            (Some(KTY_EC2), Some(CRV_P256)) => SecretKey::P256(
                p256::ecdsa::SigningKey::from_slice(d).map_err(|_| DecodeError::InvalidKey)?,
            ),
            _ => return Err(DecodeError::UnsupportedAlgorithm),
        };
        if alg.is_some_and(|alg| alg != key.algorithm().cose_id()) {
            return Err(DecodeError::UnsupportedAlgorithm);
        }
        let public = key.public_key();
        let claimed = match (x, y) {
            (None, None) => None,
            (Some(x), None) => Some(ed25519_public(x)?),
            (Some(x), Some(y)) => Some(p256_public(x, y)?),
            (None, Some(_)) => return Err(DecodeError::Malformed("COSE_Key with y but no x")),
        };
        if claimed.is_some_and(|claimed| claimed != public) {
            return Err(DecodeError::InvalidKey);
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey({}, {}, ..)",
            self.algorithm(),
            self.public_key().key_id()
        )
    }
}

fn p256_coordinates(key: &p256::PublicKey) -> ([u8; 32], [u8; 32]) {
    let point = key.to_sec1_point(false);
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    // An uncompressed, non-identity point always has both coordinates.
    if let (Some(px), Some(py)) = (point.x(), point.y()) {
        x.copy_from_slice(px);
        y.copy_from_slice(py);
    }
    (x, y)
}

fn ed25519_public(x: &[u8]) -> Result<PublicKey, DecodeError> {
    let x: &[u8; 32] = x.try_into().map_err(|_| DecodeError::InvalidKey)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(x).map_err(|_| DecodeError::InvalidKey)?;
    // A small-order key lets anyone forge signatures that verify under it.
    if key.is_weak() {
        return Err(DecodeError::InvalidKey);
    }
    Ok(PublicKey::Ed25519(key))
}

fn p256_public(x: &[u8], y: &[u8]) -> Result<PublicKey, DecodeError> {
    if x.len() != 32 || y.len() != 32 {
        return Err(DecodeError::InvalidKey);
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    // from_sec1_bytes checks that the point lies on the curve.
    p256::PublicKey::from_sec1_bytes(&sec1)
        .map(PublicKey::P256)
        .map_err(|_| DecodeError::InvalidKey)
}

fn p256_public_compressed(x: &[u8], y_sign: bool) -> Result<PublicKey, DecodeError> {
    if x.len() != 32 {
        return Err(DecodeError::InvalidKey);
    }
    let mut sec1 = [0u8; 33];
    sec1[0] = if y_sign { 0x03 } else { 0x02 };
    sec1[1..].copy_from_slice(x);
    p256::PublicKey::from_sec1_bytes(&sec1)
        .map(PublicKey::P256)
        .map_err(|_| DecodeError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::TestRng;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn key_files_and_public_cose_keys_round_trip(seed: u64) {
            let mut rng = TestRng::new(seed);
            for key in [
                SecretKey::generate_ed25519(&mut rng),
                SecretKey::generate_p256(&mut rng),
            ] {
                let file = key.to_cose_key_bytes();
                let back = SecretKey::from_cose_key_bytes(&file).expect("own key file reads back");
                proptest::prop_assert_eq!(back.public_key(), key.public_key());
                proptest::prop_assert_eq!(&*back.to_cose_key_bytes(), &*file);
                let public = key.public_key();
                proptest::prop_assert_eq!(PublicKey::from_cose_key(&public.to_cose_key()), Ok(public));
            }
        }
    }

    #[test]
    fn key_files_round_trip_for_both_curves() {
        let mut rng = TestRng::new(1);
        for key in [
            SecretKey::generate_ed25519(&mut rng),
            SecretKey::generate_p256(&mut rng),
        ] {
            let bytes = key.to_cose_key_bytes();
            let back = SecretKey::from_cose_key_bytes(&bytes).expect("own key file reads back");
            assert_eq!(back.public_key(), key.public_key());
            assert_eq!(*back.to_cose_key_bytes(), *bytes);
            let sig = back.sign(b"message");
            key.public_key()
                .verify(b"message", &sig)
                .expect("signature from the copy verifies");
        }
    }

    #[test]
    fn key_file_with_foreign_public_half_is_refused() {
        let mut rng = TestRng::new(2);
        let a = SecretKey::generate_p256(&mut rng).to_cose_key_bytes();
        let b = SecretKey::generate_p256(&mut rng).to_cose_key_bytes();
        // Splice b's private scalar (the last 32 bytes) into a's file.
        let mut spliced = a.to_vec();
        let n = spliced.len();
        spliced[n - 32..].copy_from_slice(&b[b.len() - 32..]);
        assert_eq!(
            SecretKey::from_cose_key_bytes(&spliced).err(),
            Some(DecodeError::InvalidKey)
        );
    }

    #[test]
    fn debug_output_never_shows_the_private_scalar() {
        let mut rng = TestRng::new(3);
        for key in [
            SecretKey::generate_ed25519(&mut rng),
            SecretKey::generate_p256(&mut rng),
        ] {
            let file = key.to_cose_key_bytes();
            let d = &file[file.len() - 32..];
            let shown = alloc::format!("{key:?}");
            let d_hex: alloc::string::String =
                d.iter().map(|b| alloc::format!("{b:02x}")).collect();
            assert!(!shown.contains(&d_hex), "{shown}");
            assert!(!shown.contains(&alloc::format!("{:?}", d)), "{shown}");
            assert!(shown.contains(&alloc::format!("{}", key.public_key().key_id())));
        }
    }

    #[test]
    fn thumbprint_matches_rfc_9679_example() {
        // RFC 9679 §6: the EC2 P-256 example key and its thumbprint.
        let x = hex_literal("65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d");
        let y = hex_literal("1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c");
        let key = p256_public(&x, &y).expect("the RFC's key is on the curve");
        let expected =
            hex_literal("496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec");
        assert_eq!(key.key_id().0.to_vec(), expected);
    }

    #[test]
    fn points_off_the_curve_and_weak_keys_are_refused() {
        assert_eq!(
            p256_public(&[1; 32], &[2; 32]),
            Err(DecodeError::InvalidKey)
        );
        // The Ed25519 identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(ed25519_public(&identity), Err(DecodeError::InvalidKey));
    }

    #[test]
    fn cose_key_round_trip_and_compressed_form() {
        let mut rng = TestRng::new(4);
        let public = SecretKey::generate_p256(&mut rng).public_key();
        let cose = public.to_cose_key();
        assert_eq!(PublicKey::from_cose_key(&cose), Ok(public.clone()));
        let PublicKey::P256(p) = &public else {
            unreachable!()
        };
        let compressed = p.to_sec1_point(true);
        let x = compressed.x().expect("non-identity").to_vec();
        let sign = compressed.as_bytes()[0] == 0x03;
        let mut compact = cose.clone();
        compact.params[2].1 = sign.into();
        assert_eq!(PublicKey::from_cose_key(&compact), Ok(public));
        assert_eq!(x, compact.params[1].1.as_bytes().expect("x").clone());
    }

    fn hex_literal(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
}
