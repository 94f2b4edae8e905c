//! Revocations: signed statements that a credential serial or a key is no longer trusted.
//!
//! A revocation names its target by serial (`cti`) or by key id (the RFC 9679 thumbprint of
//! the bound key), never by a hash of a credential's encoding: a credential re-encoded, or
//! one whose ECDSA signature was flipped to its high-S twin, has different bytes but the same
//! serial and key, so it stays revoked.
//!
//! ```text
//! COSE_Sign1 (tag 18) = [
//!   protected: { 1 (alg): -8 EdDSA | -7 ES256, 3 (content type): "application/ward-revocation+cbor" },
//!   unprotected: {},
//!   payload: { 1: issuer, 2: serial | 3: key id, 4: reason, 5: revoked at (seconds) },
//!   signature
//! ]
//! ```
//!
//! Who may revoke what: the fleet root may revoke anything; a site CA may revoke only what it
//! issued, so its revocations apply only to credentials whose `iss` is that site CA.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ciborium::Value;
use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder};

use crate::backend::{Backend, RustCrypto};
use crate::cbor::{self, Limits};
use crate::chain::{FleetRoot, TrustedSiteCa};
use crate::credential::{self, ContentCheck, Credential, MAX_NAME_LEN, Serial};
use crate::error::DecodeError;
use crate::keys::{KeyId, SecretKey};

/// Content type in a revocation's protected header, which no credential carries.
pub const REVOCATION_CONTENT_TYPE: &str = "application/ward-revocation+cbor";
/// Largest revocation Ward reads. Its own are about 200 bytes.
pub const MAX_REVOCATION_LEN: usize = 512;

const LIMITS: Limits = Limits {
    max_len: MAX_REVOCATION_LEN,
    max_depth: 4,
    max_items: 32,
};

const KEY_ISSUER: i64 = 1;
const KEY_SERIAL: i64 = 2;
const KEY_KEY_ID: i64 = 3;
const KEY_REASON: i64 = 4;
const KEY_REVOKED_AT: i64 = 5;

/// What a revocation takes trust away from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationTarget {
    /// One credential, by its serial.
    Serial(Serial),
    /// Every credential that binds this key.
    Key(KeyId),
}

impl fmt::Display for RevocationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationTarget::Serial(serial) => write!(f, "serial {serial}"),
            RevocationTarget::Key(key_id) => write!(f, "key {key_id}"),
        }
    }
}

/// Why a credential was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// No reason given.
    Unspecified,
    /// The private key is, or may be, known to someone else.
    KeyCompromise,
    /// A newer credential replaces it.
    Superseded,
    /// The device was decommissioned.
    CessationOfOperation,
    /// Anomaly detection quarantined the device.
    Quarantine,
}

impl RevocationReason {
    const ALL: [RevocationReason; 5] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::Quarantine,
    ];

    fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::Superseded => 2,
            RevocationReason::CessationOfOperation => 3,
            RevocationReason::Quarantine => 4,
        }
    }

    /// The reason's name as operators write it.
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key-compromise",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation-of-operation",
            RevocationReason::Quarantine => "quarantine",
        }
    }

    /// The reason with the given name.
    pub fn from_name(name: &str) -> Option<RevocationReason> {
        RevocationReason::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The signed content of a revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationStatement {
    /// Subject name of the authority that signs: the fleet root or a site CA.
    pub issuer: String,
    /// What is revoked.
    pub target: RevocationTarget,
    /// Why.
    pub reason: RevocationReason,
    /// When, in seconds since the UNIX epoch.
    pub revoked_at: u64,
}

impl RevocationStatement {
    fn encode(&self) -> Vec<u8> {
        let target = match &self.target {
            RevocationTarget::Serial(serial) => (KEY_SERIAL, serial.as_bytes().to_vec()),
            RevocationTarget::Key(key_id) => (KEY_KEY_ID, key_id.0.to_vec()),
        };
        // Keys 1..5 in ascending order: the deterministic order for small integers.
        let map = Value::Map(alloc::vec![
            (KEY_ISSUER.into(), Value::Text(self.issuer.clone())),
            (target.0.into(), Value::Bytes(target.1)),
            (KEY_REASON.into(), self.reason.code().into()),
            (KEY_REVOKED_AT.into(), self.revoked_at.into()),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).expect("writing CBOR into a Vec cannot fail");
        out
    }

    fn decode(payload: &[u8]) -> Result<RevocationStatement, DecodeError> {
        cbor::screen(payload, LIMITS)?;
        let value: Value = ciborium::from_reader(payload)
            .map_err(|_| DecodeError::Malformed("CBOR decoding failed"))?;
        let entries = value
            .into_map()
            .map_err(|_| DecodeError::Malformed("revocation is not a map"))?;
        let (mut issuer, mut target, mut reason, mut revoked_at) = (None, None, None, None);
        for (key, value) in entries {
            let key = key.as_integer().and_then(|k| i64::try_from(k).ok());
            let fresh = match key {
                Some(KEY_ISSUER) => {
                    let text = value.into_text().ok().filter(|t| t.len() <= MAX_NAME_LEN);
                    issuer
                        .replace(text.ok_or(DecodeError::Malformed("bad issuer"))?)
                        .is_none()
                }
                Some(KEY_SERIAL) => {
                    let serial = value.as_bytes().and_then(|b| Serial::from_slice(b));
                    let serial = serial.ok_or(DecodeError::Malformed("bad serial"))?;
                    target.replace(RevocationTarget::Serial(serial)).is_none()
                }
                Some(KEY_KEY_ID) => {
                    let key_id = value
                        .as_bytes()
                        .and_then(|b| <[u8; 32]>::try_from(&b[..]).ok());
                    let key_id = key_id.ok_or(DecodeError::Malformed("bad key id"))?;
                    target
                        .replace(RevocationTarget::Key(KeyId(key_id)))
                        .is_none()
                }
                Some(KEY_REASON) => {
                    let code = value.as_integer().and_then(|c| u8::try_from(c).ok());
                    let found = code
                        .and_then(|c| RevocationReason::ALL.into_iter().find(|r| r.code() == c));
                    reason
                        .replace(found.ok_or(DecodeError::Malformed("bad reason"))?)
                        .is_none()
                }
                Some(KEY_REVOKED_AT) => {
                    let at = value.as_integer().and_then(|t| u64::try_from(t).ok());
                    revoked_at
                        .replace(at.ok_or(DecodeError::Malformed("bad time"))?)
                        .is_none()
                }
                _ => return Err(DecodeError::Malformed("unknown revocation field")),
            };
            // A second serial or key id would make the statement ambiguous.
            if !fresh {
                return Err(DecodeError::Malformed("repeated revocation field"));
            }
        }
        Ok(RevocationStatement {
            issuer: issuer.ok_or(DecodeError::Malformed("revocation without issuer"))?,
            target: target.ok_or(DecodeError::Malformed("revocation without target"))?,
            reason: reason.unwrap_or(RevocationReason::Unspecified),
            revoked_at: revoked_at.ok_or(DecodeError::Malformed("revocation without time"))?,
        })
    }
}

/// A signed revocation, kept with its exact bytes.
#[derive(Clone)]
pub struct Revocation {
    bytes: Vec<u8>,
    statement: RevocationStatement,
    sign1: CoseSign1,
}

impl Revocation {
    /// Signs `statement` with the key of the authority it names.
    pub fn sign(statement: RevocationStatement, signer: &SecretKey) -> Revocation {
        let protected = HeaderBuilder::new()
            .algorithm(signer.algorithm().to_coset())
            .content_type(REVOCATION_CONTENT_TYPE.into())
            .build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(statement.encode())
            .create_signature(b"", |tbs| signer.sign(tbs).to_vec())
            .build();
        Revocation {
            bytes: credential::tagged(sign1.clone()),
            statement,
            sign1,
        }
    }

    /// Reads a revocation from untrusted bytes, without checking who signed it.
    pub fn decode(bytes: &[u8]) -> Result<Revocation, DecodeError> {
        let content = ContentCheck::Exactly(REVOCATION_CONTENT_TYPE);
        let (sign1, _) = credential::decode_sign1(bytes, LIMITS, content)?;
        let payload = sign1
            .payload
            .as_deref()
            .ok_or(DecodeError::Malformed("no payload"))?;
        let statement = RevocationStatement::decode(payload)?;
        Ok(Revocation {
            bytes: bytes.to_vec(),
            statement,
            sign1,
        })
    }

    /// The revocation's bytes, exactly as signed or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What it says.
    pub fn statement(&self) -> &RevocationStatement {
        &self.statement
    }

    /// Checks that the revocation was signed by the authority it names: the fleet root, or
    /// `site_ca` when the issuer is that site CA.
    pub fn verify(
        self,
        root: &FleetRoot,
        site_ca: Option<&TrustedSiteCa>,
    ) -> Result<VerifiedRevocation, RevocationError> {
        self.verify_with(&RustCrypto, root, site_ca)
    }

    /// [`Revocation::verify`] with the signature checked by `backend`: a node catching up
    /// on thousands of revocations verifies them with AWS-LC, several times faster.
    pub fn verify_with(
        self,
        backend: &impl Backend,
        root: &FleetRoot,
        site_ca: Option<&TrustedSiteCa>,
    ) -> Result<VerifiedRevocation, RevocationError> {
        let issuer = self.statement.issuer.as_str();
        let (key, authority) = if issuer == root.name() {
            (root.key(), Authority::Fleet)
        } else {
            match site_ca {
                Some(ca) if ca.name() == issuer => (ca.key(), Authority::Site(ca.name().into())),
                _ => return Err(RevocationError::UnknownIssuer),
            }
        };
        if key.algorithm().to_coset() != self.algorithm_in_header() {
            return Err(RevocationError::BadSignature);
        }
        self.sign1
            .verify_signature(b"", |sig, tbs| backend.verify(key, tbs, sig))
            .map_err(|_| RevocationError::BadSignature)?;
        Ok(VerifiedRevocation {
            revocation: self,
            authority,
        })
    }

    fn algorithm_in_header(&self) -> coset::iana::Algorithm {
        match &self.sign1.protected.header.alg {
            Some(coset::Algorithm::Assigned(alg)) => *alg,
            // decode_sign1 refused every other form.
            _ => coset::iana::Algorithm::Reserved,
        }
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("statement", &self.statement)
            .finish()
    }
}

/// Who a verified revocation speaks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Authority {
    /// The fleet root: applies to every credential.
    Fleet,
    /// The named site CA: applies to credentials it issued.
    Site(String),
}

impl Authority {
    /// Whether a revocation from this authority applies to a credential issued by `issuer`.
    pub fn covers(&self, issuer: &str) -> bool {
        match self {
            Authority::Fleet => true,
            Authority::Site(site_ca) => site_ca == issuer,
        }
    }
}

/// A revocation whose signature was checked against the authority it names.
#[derive(Clone, Debug)]
pub struct VerifiedRevocation {
    revocation: Revocation,
    authority: Authority,
}

impl VerifiedRevocation {
    /// The revocation.
    pub fn revocation(&self) -> &Revocation {
        &self.revocation
    }

    /// The authority it speaks for.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }
}

/// Why a revocation was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The issuer is neither the fleet root nor the site CA offered.
    #[error("revocation issuer is not a known authority")]
    UnknownIssuer,
    /// The signature does not verify under the named authority's key.
    #[error("revocation signature does not verify")]
    BadSignature,
}

/// The revocation that applies to a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedBy {
    /// What the revocation named.
    pub target: RevocationTarget,
    /// Who revoked it.
    pub authority: Authority,
    /// Why.
    pub reason: RevocationReason,
}

impl fmt::Display for RevokedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match &self.authority {
            Authority::Fleet => "the fleet root",
            Authority::Site(name) => name.as_str(),
        };
        write!(f, "{} revoked by {by} ({})", self.target, self.reason)
    }
}

/// Tells whether a credential has been revoked. Chain validation asks it about every link.
pub trait RevocationStatus {
    /// `Err` with the applicable revocation if `credential` is revoked.
    fn check(&self, credential: &Credential) -> Result<(), RevokedBy>;
}

/// For holders that keep no revocation list, such as a camera checking its node.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl RevocationStatus for NoRevocations {
    fn check(&self, _: &Credential) -> Result<(), RevokedBy> {
        Ok(())
    }
}

#[cfg(feature = "std")]
pub use set::{RevocationDigest, RevocationSet};

#[cfg(feature = "std")]
mod set {
    use std::collections::HashMap;
    use std::collections::hash_map::Entry;

    use sha2::{Digest as _, Sha256};

    use super::*;

    /// Domain label of the set digest, so it never equals another Ward hash.
    const DIGEST_LABEL: &[u8] = b"ward revocation set v1";

    /// An order-independent digest of a revocation set, compared during anti-entropy.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    pub struct RevocationDigest(pub [u8; 32]);

    impl fmt::Display for RevocationDigest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for b in self.0 {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }

    impl fmt::Debug for RevocationDigest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "RevocationDigest({self})")
        }
    }

    /// Every revocation a node enforces, indexed by target for O(1) lookup.
    ///
    /// One entry is kept per (authority, target): a second revocation of the same target by
    /// the same authority changes nothing that is enforced, so it is a duplicate.
    ///
    /// The digest is a multiset hash: each entry hashes to a 256-bit number, the numbers are
    /// added modulo 2^256 and the sum is hashed with the count. Addition commutes, so two
    /// nodes holding the same entries agree whatever order they learned them in, and an
    /// insert updates the digest in constant time. Only verified revocations can enter, so
    /// nobody can choose entries to steer the sum.
    #[derive(Clone, Debug, Default)]
    pub struct RevocationSet {
        by_target: HashMap<RevocationTarget, Vec<VerifiedRevocation>>,
        count: u64,
        sum: [u8; 32],
    }

    impl RevocationSet {
        /// An empty set.
        pub fn new() -> Self {
            Self::default()
        }

        /// Adds a verified revocation; `false` if the set already held one from the same
        /// authority for the same target.
        pub fn insert(&mut self, revocation: VerifiedRevocation) -> bool {
            let target = revocation.revocation.statement.target;
            let entries = match self.by_target.entry(target) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(Vec::new()),
            };
            if entries
                .iter()
                .any(|held| held.authority == revocation.authority)
            {
                return false;
            }
            add_256(&mut self.sum, &entry_hash(&revocation.authority, &target));
            self.count += 1;
            entries.push(revocation);
            true
        }

        /// How many revocations the set holds.
        pub fn len(&self) -> usize {
            usize::try_from(self.count).unwrap_or(usize::MAX)
        }

        /// Whether the set holds none.
        pub fn is_empty(&self) -> bool {
            self.count == 0
        }

        /// The order-independent digest of the set.
        pub fn digest(&self) -> RevocationDigest {
            let hash = Sha256::new()
                .chain_update(DIGEST_LABEL)
                .chain_update(self.count.to_be_bytes())
                .chain_update(self.sum)
                .finalize();
            RevocationDigest(hash.into())
        }

        /// Every revocation in the set, in no particular order.
        pub fn iter(&self) -> impl Iterator<Item = &VerifiedRevocation> {
            self.by_target.values().flatten()
        }

        fn lookup(&self, target: RevocationTarget, issuer: &str) -> Option<RevokedBy> {
            let held = self.by_target.get(&target)?;
            let found = held.iter().find(|r| r.authority.covers(issuer))?;
            Some(RevokedBy {
                target,
                authority: found.authority.clone(),
                reason: found.revocation.statement.reason,
            })
        }
    }

    impl RevocationStatus for RevocationSet {
        fn check(&self, credential: &Credential) -> Result<(), RevokedBy> {
            let claims = credential.claims();
            let by_serial = self.lookup(RevocationTarget::Serial(claims.serial), &claims.issuer);
            let by_key = || self.lookup(RevocationTarget::Key(credential.key_id()), &claims.issuer);
            match by_serial.or_else(by_key) {
                Some(revoked) => Err(revoked),
                None => Ok(()),
            }
        }
    }

    impl VerifiedRevocation {
        /// What identifies this revocation's entry in a [`RevocationSet`]: a hash of its
        /// authority and target. Two revocations with the same id are duplicates, and a set's
        /// digest is a function of the ids it holds, so nodes that compare digests can name
        /// the entries they lack by id.
        pub fn entry_id(&self) -> [u8; 32] {
            entry_hash(&self.authority, &self.revocation.statement.target)
        }
    }

    fn entry_hash(authority: &Authority, target: &RevocationTarget) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DIGEST_LABEL);
        // Length prefixes keep the concatenation unambiguous.
        match authority {
            Authority::Fleet => h.update([0]),
            Authority::Site(name) => {
                h.update([1]);
                h.update((name.len() as u64).to_be_bytes());
                h.update(name.as_bytes());
            }
        }
        match target {
            RevocationTarget::Serial(serial) => {
                h.update([0, serial.as_bytes().len() as u8]);
                h.update(serial.as_bytes());
            }
            RevocationTarget::Key(key_id) => {
                h.update([1, 32]);
                h.update(key_id.0);
            }
        }
        h.finalize().into()
    }

    /// `sum += addend` modulo 2^256, both big-endian.
    fn add_256(sum: &mut [u8; 32], addend: &[u8; 32]) {
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = u16::from(sum[i]) + u16::from(addend[i]) + carry;
            sum[i] = s as u8;
            carry = s >> 8;
        }
    }
}

#[cfg(test)]
mod tests;
