//! Authentication credentials, CRED_x (RFC 9528 §3.5.2), their keys, and how the caller
//! hands them to the handshake.
//!
//! CRED_x enters the transcript byte for byte, so an [`AuthCredential`] keeps the exact
//! encoding next to the key it binds: a CCS as it is, a CWT without its tags, an X.509
//! certificate as a CBOR byte string around its DER. Ward's own `keys` module knows Ed25519
//! and P-256 signature keys; static DH needs X25519 `OKP` keys too (crv 4), so CCS parsing
//! here reads the `cnf` COSE_Key itself.

use crate::keys::{CRV, CRV_ED25519, CRV_P256, D, KID, KTY, KTY_EC2, KTY_OKP, X, Y};
use alloc::vec::Vec;
use core::fmt;

use super::error::{Error, Misuse, Unsupported, local_error};
use super::id::{IdCred, untagged};
use crate::backend::{Backend, Curve};
use crate::cbor::{self, Limits, Reader, Writer};
use crate::credential::{Ccs, Credential, MAX_CREDENTIAL_LEN};
use crate::error::DecodeError;
use crate::keys::{Algorithm, PublicKey, SecretKey};

const LIMITS: Limits = Limits {
    max_len: MAX_CREDENTIAL_LEN,
    max_depth: 8,
    max_items: 128,
};

// CWT claim and confirmation method labels (RFC 8392, RFC 8747), and the one COSE curve
// (RFC 9053 §7.1) that keys.rs does not know; the other COSE_Key labels live in keys.rs.
const CLAIM_CNF: i64 = 8;
const CNF_COSE_KEY: i64 = 1;
const CRV_X25519: i64 = 4;

/// The public authentication key inside a credential.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKey {
    /// An Ed25519 signature key (suite 0, methods where the holder signs).
    Ed25519(PublicKey),
    /// A P-256 key: `x` serves ECDH (suite 2 static DH); with a `y` it also verifies ES256.
    P256 {
        /// The x-coordinate, all ECDH needs (RFC 9528 §3.7).
        x: [u8; 32],
        /// The full point, when the credential carries `y`.
        public: Option<PublicKey>,
    },
    /// An X25519 static DH key (suite 0, methods where the holder uses static DH).
    X25519([u8; 32]),
}

impl CredentialKey {
    /// The key of a Ward [`PublicKey`].
    pub fn from_public_key(key: &PublicKey) -> CredentialKey {
        match key {
            PublicKey::Ed25519(_) => CredentialKey::Ed25519(key.clone()),
            PublicKey::P256(point) => {
                use p256::elliptic_curve::sec1::ToSec1Point as _;
                let sec1 = point.to_sec1_point(true);
                let mut x = [0u8; 32];
                if let Some(px) = sec1.x() {
                    x.copy_from_slice(px);
                }
                CredentialKey::P256 {
                    x,
                    public: Some(key.clone()),
                }
            }
        }
    }

    /// An X25519 public key.
    pub fn x25519(public: [u8; 32]) -> CredentialKey {
        CredentialKey::X25519(public)
    }

    /// The key as a static DH public key on `curve`, if it is one.
    pub(crate) fn dh_public(&self, curve: Curve) -> Option<[u8; 32]> {
        match (self, curve) {
            (CredentialKey::P256 { x, .. }, Curve::P256) => Some(*x),
            (CredentialKey::X25519(x), Curve::X25519) => Some(*x),
            _ => None,
        }
    }

    /// The key as a signature key for `algorithm`, if it is one.
    pub(crate) fn signature_key(&self, algorithm: Algorithm) -> Option<&PublicKey> {
        match self {
            CredentialKey::Ed25519(key)
            | CredentialKey::P256 {
                public: Some(key), ..
            } if key.algorithm() == algorithm => Some(key),
            _ => None,
        }
    }
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialKey::Ed25519(key) => write!(f, "{key:?}"),
            CredentialKey::P256 {
                public: Some(key), ..
            } => write!(f, "{key:?}"),
            CredentialKey::P256 { x, public: None } => write!(f, "P256(x: {:02x?}..)", &x[..4]),
            CredentialKey::X25519(x) => write!(f, "X25519({:02x?}..)", &x[..4]),
        }
    }
}

/// CRED_x: a credential exactly as it enters the transcript, with its authentication key.
///
/// Building one says nothing about trust: check a CWT's chain, or a CCS's key against what
/// was provisioned, before handing it to a handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCredential {
    bytes: Vec<u8>,
    key: CredentialKey,
    kid: Option<Vec<u8>>,
}

impl AuthCredential {
    /// Reads a CWT Claims Set (RFC 9528 §3.5.2, `kccs`), whose `cnf` claim holds an EC2 P-256,
    /// OKP Ed25519 or OKP X25519 COSE_Key. CRED_x is `bytes` unchanged.
    pub fn parse_ccs(bytes: &[u8]) -> Result<AuthCredential, DecodeError> {
        cbor::screen(bytes, LIMITS)?;
        let mut r = Reader::new(bytes);
        let claims = bounded_count(r.map()?, 32)?;
        let mut found = None;
        for _ in 0..claims {
            let label = if matches!(r.peek_major(), Some(0 | 1)) {
                Some(r.int()?)
            } else {
                r.item(LIMITS.max_depth)?;
                None
            };
            if label == Some(CLAIM_CNF) {
                if found.is_some() {
                    return Err(DecodeError::Malformed("duplicate cnf claim"));
                }
                // RFC 8747 §3.1: cnf = { 1: COSE_Key }.
                if r.map()? != 1 || r.int()? != CNF_COSE_KEY {
                    return Err(DecodeError::Malformed("cnf is not a single COSE_Key"));
                }
                found = Some(cose_key(&mut r)?);
            } else {
                r.item(LIMITS.max_depth)?;
            }
        }
        let (key, kid) = found.ok_or(DecodeError::Malformed("CCS without cnf"))?;
        Ok(AuthCredential {
            bytes: bytes.to_vec(),
            key,
            kid: kid.map(<[u8]>::to_vec),
        })
    }

    /// The CCS of Ward's credential module.
    pub fn from_ccs(ccs: &Ccs) -> Result<AuthCredential, DecodeError> {
        AuthCredential::parse_ccs(ccs.as_bytes())
    }

    /// A Ward CWT credential (`kcwt`): CRED_x is the CWT without its tags (RFC 9528 §3.5.2).
    /// The CWT's signature is not checked here; chain validation does that.
    pub fn from_cwt(credential: &Credential) -> AuthCredential {
        AuthCredential {
            bytes: untagged(credential.as_bytes()).to_vec(),
            key: CredentialKey::from_public_key(&credential.claims().key),
            kid: None,
        }
    }

    /// Reads a CWT from untrusted bytes, tagged or not (see [`Credential::decode`]).
    pub fn parse_cwt(bytes: &[u8]) -> Result<AuthCredential, DecodeError> {
        Credential::decode(bytes).map(|credential| AuthCredential::from_cwt(&credential))
    }

    /// An X.509 certificate: CRED_x is its DER in a CBOR byte string (RFC 9528 §3.5.2). Ward
    /// does not parse X.509; the caller extracts and vouches for the key.
    pub fn x509(der: &[u8], key: CredentialKey) -> AuthCredential {
        let mut bytes = Vec::with_capacity(der.len() + 3);
        Writer::new(&mut bytes).bytes(der);
        AuthCredential::from_parts(bytes, key)
    }

    /// Any other credential: `encoded` is CRED_x exactly as both parties put it in the
    /// transcript, and `key` the authentication key it binds.
    pub fn from_parts(encoded: Vec<u8>, key: CredentialKey) -> AuthCredential {
        AuthCredential {
            bytes: encoded,
            key,
            kid: None,
        }
    }

    /// CRED_x.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The authentication key.
    pub fn key(&self) -> &CredentialKey {
        &self.key
    }

    /// The `kid` of the COSE_Key in a CCS, if it has one: what ID_CRED_x usually refers to.
    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }
}

impl fmt::Debug for AuthCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCredential")
            .field("len", &self.bytes.len())
            .field("key", &self.key)
            .finish()
    }
}

fn bounded_count(count: usize, max: usize) -> Result<usize, DecodeError> {
    if count > max {
        return Err(DecodeError::TooManyItems);
    }
    Ok(count)
}

/// Reads a public COSE_Key (RFC 9053 §7): EC2 P-256, OKP X25519 or OKP Ed25519.
fn cose_key<'a>(r: &mut Reader<'a>) -> Result<(CredentialKey, Option<&'a [u8]>), DecodeError> {
    let entries = bounded_count(r.map()?, 16)?;
    let (mut kty, mut crv, mut kid) = (None, None, None);
    let (mut x, mut y, mut y_sign) = (None::<&[u8]>, None::<&[u8]>, None);
    for _ in 0..entries {
        if !matches!(r.peek_major(), Some(0 | 1)) {
            r.item(LIMITS.max_depth)?;
            r.item(LIMITS.max_depth)?;
            continue;
        }
        let duplicate = match r.int()? {
            KTY => kty.replace(r.int()?).is_some(),
            CRV => crv.replace(r.int()?).is_some(),
            KID => kid.replace(r.bytes()?).is_some(),
            X => x.replace(r.bytes()?).is_some(),
            // RFC 9053 §7.1.1: y is the coordinate, or a boolean carrying its sign.
            Y if r.peek_major() == Some(7) => y_sign.replace(r.bool()?).is_some(),
            Y => y.replace(r.bytes()?).is_some(),
            D => return Err(DecodeError::Malformed("private key in a credential")),
            _ => {
                r.item(LIMITS.max_depth)?;
                false
            }
        };
        if duplicate {
            return Err(DecodeError::Malformed("duplicate COSE_Key parameter"));
        }
    }
    let x: [u8; 32] = x
        .ok_or(DecodeError::Malformed("COSE_Key without x"))?
        .try_into()
        .map_err(|_| DecodeError::InvalidKey)?;
    let key = match (kty, crv) {
        (Some(KTY_EC2), Some(CRV_P256)) => {
            let public = match (y, y_sign) {
                (Some(y), None) => Some(p256_point(&x, Some(y), false)?),
                (None, Some(sign)) => Some(p256_point(&x, None, sign)?),
                (None, None) => {
                    // Compact form: only x, which static DH needs; check it is on the curve.
                    p256_point(&x, None, false)?;
                    None
                }
                (Some(_), Some(_)) => return Err(DecodeError::Malformed("duplicate y")),
            };
            CredentialKey::P256 { x, public }
        }
        (Some(KTY_OKP), Some(CRV_X25519)) => CredentialKey::X25519(x),
        (Some(KTY_OKP), Some(CRV_ED25519)) => {
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| DecodeError::InvalidKey)?;
            // A small-order key would let anyone forge signatures under it.
            if key.is_weak() {
                return Err(DecodeError::InvalidKey);
            }
            CredentialKey::Ed25519(PublicKey::Ed25519(key))
        }
        _ => return Err(DecodeError::UnsupportedAlgorithm),
    };
    Ok((key, kid))
}

fn p256_point(x: &[u8; 32], y: Option<&[u8]>, y_odd: bool) -> Result<PublicKey, DecodeError> {
    let mut sec1 = [0u8; 65];
    let encoded: &[u8] = match y {
        Some(y) => {
            let y: &[u8; 32] = y.try_into().map_err(|_| DecodeError::InvalidKey)?;
            sec1[0] = 0x04;
            sec1[1..33].copy_from_slice(x);
            sec1[33..].copy_from_slice(y);
            &sec1
        }
        None => {
            sec1[0] = if y_odd { 0x03 } else { 0x02 };
            sec1[1..33].copy_from_slice(x);
            &sec1[..33]
        }
    };
    // from_sec1_bytes checks that the point lies on the curve.
    p256::PublicKey::from_sec1_bytes(encoded)
        .map(PublicKey::P256)
        .map_err(|_| DecodeError::InvalidKey)
}

/// The private half of a local credential.
enum LocalKey<B: Backend> {
    // Boxed: a signing key is several times larger than an agreement key handle.
    Signing(alloc::boxed::Box<SecretKey>),
    StaticDh { curve: Curve, key: B::AgreementKey },
}

/// A party's own credential: CRED_x, the ID_CRED_x it sends, and its private key.
pub struct LocalCredential<B: Backend> {
    credential: AuthCredential,
    id_cred: IdCred,
    key: LocalKey<B>,
}

impl<B: Backend> LocalCredential<B> {
    /// A credential to authenticate with signatures. `key` must be the credential's key.
    pub fn signing(
        credential: AuthCredential,
        id_cred: IdCred,
        key: SecretKey,
    ) -> Result<LocalCredential<B>, Error> {
        let public = key.public_key();
        if credential.key.signature_key(key.algorithm()) != Some(&public) {
            return Err(Misuse::KeyMismatch.into());
        }
        Ok(LocalCredential {
            credential,
            id_cred,
            key: LocalKey::Signing(alloc::boxed::Box::new(key)),
        })
    }

    /// A credential to authenticate with static DH on `curve`, from the private `scalar`
    /// (big-endian for P-256, RFC 7748 bytes for X25519), which must match the credential.
    pub fn static_dh(
        backend: &B,
        credential: AuthCredential,
        id_cred: IdCred,
        curve: Curve,
        scalar: &[u8; 32],
    ) -> Result<LocalCredential<B>, Error> {
        let key = backend.agreement_key(curve, scalar).map_err(local_error)?;
        if credential.key.dh_public(curve) != Some(backend.agreement_public(&key)) {
            return Err(Misuse::KeyMismatch.into());
        }
        Ok(LocalCredential {
            credential,
            id_cred,
            key: LocalKey::StaticDh { curve, key },
        })
    }

    /// CRED_x.
    pub fn credential(&self) -> &AuthCredential {
        &self.credential
    }

    /// The ID_CRED_x sent for it.
    pub fn id_cred(&self) -> &IdCred {
        &self.id_cred
    }

    pub(crate) fn signing_key(&self, algorithm: Algorithm) -> Result<&SecretKey, Error> {
        match &self.key {
            LocalKey::Signing(key) if key.algorithm() == algorithm => Ok(key.as_ref()),
            _ => Err(Misuse::LocalCredential.into()),
        }
    }

    pub(crate) fn dh_key(&self, curve: Curve) -> Result<&B::AgreementKey, Error> {
        match &self.key {
            LocalKey::StaticDh { curve: c, key } if *c == curve => Ok(key),
            _ => Err(Misuse::LocalCredential.into()),
        }
    }
}

impl<B: Backend> fmt::Debug for LocalCredential<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.key {
            LocalKey::Signing(_) => "signature",
            LocalKey::StaticDh { .. } => "static DH",
        };
        f.debug_struct("LocalCredential")
            .field("credential", &self.credential)
            .field("id_cred", &self.id_cred)
            .field("key", &kind)
            .finish()
    }
}

/// Why the caller refused a peer's credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// ID_CRED_x refers to a credential the caller has no access to: answered with
    /// ERR_CODE 3, after which the peer may try another identifier, such as its credential
    /// by value (RFC 9528 §6.4). Not for identifier types the caller does not support:
    /// those are [`Rejection::Untrusted`].
    #[error("unknown credential")]
    UnknownCredential,
    /// The credential is known or carried by value, but not trusted (revoked, expired,
    /// wrong issuer, wrong role): answered with the generic ERR_CODE 1.
    #[error("untrusted credential")]
    Untrusted,
}

/// Finds the credential an ID_CRED_x names and decides whether to trust it.
///
/// The handshake states also expose ID_CRED_x and take the credential back directly, for
/// callers that must look it up asynchronously; this trait is the one-call form.
pub trait CredentialResolver {
    /// The trusted credential that `id_cred` names or carries.
    fn resolve(&mut self, id_cred: &IdCred) -> Result<AuthCredential, Rejection>;
}

/// Checks that `credential` can authenticate a peer that signs (or uses static DH).
pub(crate) fn check_peer_key(
    credential: &AuthCredential,
    signs: bool,
    algorithm: Algorithm,
    curve: Curve,
) -> Result<(), Error> {
    let usable = if signs {
        credential.key.signature_key(algorithm).is_some()
    } else {
        credential.key.dh_public(curve).is_some()
    };
    if usable {
        Ok(())
    } else {
        Err(Unsupported::CredentialKey.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9529 §3: CRED_R, a CCS with an EC2 P-256 key and kid h'32'.
    const CRED_R: &str = "a2026b6578616d706c652e65647508a101a501020241322001215820bbc34960526e\
                          a4d32e940cad2a234148ddc21791a12afbcbac93622046dd44f02258204519e25723\
                          6b2a0ce2023f0931f1f386ca7afda64fcde0108c224c51eabf6072";

    fn hex(s: &str) -> Vec<u8> {
        let s: alloc::string::String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn the_ccs_of_rfc_9529_parses_with_its_kid() {
        let cred = AuthCredential::parse_ccs(&hex(CRED_R)).expect("RFC CCS");
        assert_eq!(cred.kid(), Some(&[0x32][..]));
        let x = cred.key().dh_public(Curve::P256).expect("P-256 key");
        assert_eq!(x[..4], [0xbb, 0xc3, 0x49, 0x60]);
        assert!(cred.key().signature_key(Algorithm::Es256).is_some());
        assert!(cred.key().dh_public(Curve::X25519).is_none());
    }

    #[test]
    fn x25519_ccs_keys_are_read() {
        // RFC 9528 §3.5.2's example: a CCS with an X25519 key and an EUI-64 subject.
        let ccs = crate::edhoc::tests::parties::x25519_ccs(&[0x5a; 32], 0);
        let cred = AuthCredential::parse_ccs(&ccs).expect("X25519 CCS");
        assert_eq!(cred.key(), &CredentialKey::X25519([0x5a; 32]));
        assert_eq!(cred.kid(), Some(&[0][..]));
    }

    #[test]
    fn malformed_credentials_are_refused() {
        let mut good = hex(CRED_R);
        // A point off the curve.
        let last = good.len() - 1;
        good[last] ^= 1;
        assert_eq!(
            AuthCredential::parse_ccs(&good),
            Err(DecodeError::InvalidKey)
        );
        for wire in [&[0xa0][..], &[0xa1, 0x08, 0xa0], &[0x80], &[]] {
            assert!(AuthCredential::parse_ccs(wire).is_err(), "{wire:02x?}");
        }
    }
}
