//! Credentials: CBOR Web Tokens (RFC 8392) signed as COSE_Sign1 (RFC 9052), and unsigned CWT
//! Claims Sets (CCS) for raw public keys.
//!
//! A credential binds a subject to a public key through the `cnf` claim (RFC 8747) and
//! states what the subject may do through three private claims:
//!
//! ```text
//! COSE_Sign1 (tag 18) = [
//!   protected:   { 1 (alg): -7 ES256 | -8 EdDSA, 3 (content type): 61 application/cwt },
//!   unprotected: {},
//!   payload:     { 1 iss, 2 sub, 4 exp, 5 nbf, 6 iat, 7 cti (serial), 8 cnf: { 1: COSE_Key },
//!                  -65537 role, -65538 site, -65539 scopes },
//!   signature:   64 bytes
//! ]
//! ```
//!
//! Encoding is deterministic (RFC 8949 §4.2.1): shortest integer forms, definite lengths and
//! map keys in bytewise order of their encodings, so the bytes of a credential that Ward
//! issued never change on a round trip. Decoding keeps the bytes exactly as received, because
//! the signature covers the payload bytes, not a re-encoding of them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ciborium::Value;
use coset::cwt::{ClaimName, ClaimsSet, Timestamp};
use coset::{
    AsCborValue, CborSerializable, CoseKey, CoseSign1, CoseSign1Builder, HeaderBuilder, iana,
};
use rand_core::CryptoRng;

use crate::cbor::{self, Limits};
use crate::error::{DecodeError, SignatureError};
use crate::keys::{Algorithm, KeyId, PublicKey, SIGNATURE_LEN, SecretKey};

/// Largest credential Ward reads. Ward's own are 250 to 350 bytes.
pub const MAX_CREDENTIAL_LEN: usize = 1024;
/// Longest serial (`cti`) accepted. Ward issues 16-byte serials.
pub const MAX_SERIAL_LEN: usize = 32;
/// Longest issuer, subject, site or scope string accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Most scopes one credential may carry.
pub const MAX_SCOPES: usize = 32;

const LIMITS: Limits = Limits {
    max_len: MAX_CREDENTIAL_LEN,
    max_depth: 6,
    max_items: 128,
};

/// Private-use claim keys (RFC 8392 §9.1: integers below -65536 are private use).
const CLAIM_ROLE: i64 = -65537;
const CLAIM_SITE: i64 = -65538;
const CLAIM_SCOPES: i64 = -65539;
/// The `COSE_Key` member of the `cnf` claim (RFC 8747 §3.1).
const CNF_COSE_KEY: i64 = 1;
/// CWT tag (RFC 8392 §6) and COSE_Sign1 tag (RFC 9052 §2).
const TAG_CWT: u64 = 61;
const TAG_COSE_SIGN1: u64 = 18;

/// What a credential's holder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The fleet's self-signed trust anchor.
    FleetRoot,
    /// A site's certificate authority, issued by the fleet root.
    SiteCa,
    /// A Ward node of a site.
    Node,
    /// A camera.
    Camera,
    /// An operator allowed to use the admin API.
    Admin,
}

impl Role {
    const ALL: [Role; 5] = [
        Role::FleetRoot,
        Role::SiteCa,
        Role::Node,
        Role::Camera,
        Role::Admin,
    ];

    fn code(self) -> u8 {
        match self {
            Role::FleetRoot => 0,
            Role::SiteCa => 1,
            Role::Node => 2,
            Role::Camera => 3,
            Role::Admin => 4,
        }
    }

    fn from_code(code: u64) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|role| u64::from(role.code()) == code)
    }

    /// The role's name as operators write it: `fleet-root`, `site-ca`, `node`, `camera`,
    /// `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Role::FleetRoot => "fleet-root",
            Role::SiteCa => "site-ca",
            Role::Node => "node",
            Role::Camera => "camera",
            Role::Admin => "admin",
        }
    }

    /// The role with the given name.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// The signature algorithm a key bound to this role must use, if the role restricts it.
    ///
    /// DESIGN §2: site CAs, cameras and nodes' static keys are P-256, the one curve camera
    /// secure elements implement; the fleet root is Ed25519; admins may hold either.
    pub fn required_key_algorithm(self) -> Option<Algorithm> {
        match self {
            Role::FleetRoot => Some(Algorithm::EdDsa),
            Role::SiteCa | Role::Node | Role::Camera => Some(Algorithm::Es256),
            Role::Admin => None,
        }
    }

    /// Whether this role marks a certificate authority rather than an end entity.
    pub fn is_authority(self) -> bool {
        matches!(self, Role::FleetRoot | Role::SiteCa)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A credential's serial number, the CWT `cti` claim: what a revocation by serial names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial {
    len: u8,
    bytes: [u8; MAX_SERIAL_LEN],
}

impl Serial {
    /// Length of the serials Ward issues: 128 random bits never collide in practice.
    pub const ISSUED_LEN: usize = 16;

    /// A fresh random serial.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Serial {
        let mut bytes = [0u8; MAX_SERIAL_LEN];
        rng.fill_bytes(&mut bytes[..Self::ISSUED_LEN]);
        Serial {
            len: Self::ISSUED_LEN as u8,
            bytes,
        }
    }

    /// A serial from its bytes, if it is 1 to [`MAX_SERIAL_LEN`] bytes long.
    pub fn from_slice(slice: &[u8]) -> Option<Serial> {
        if slice.is_empty() || slice.len() > MAX_SERIAL_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_SERIAL_LEN];
        bytes[..slice.len()].copy_from_slice(slice);
        Some(Serial {
            len: slice.len() as u8,
            bytes,
        })
    }

    /// The serial's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

/// The claims of a Ward credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `iss`: the subject name of the issuing authority.
    pub issuer: String,
    /// `sub`: who the credential is for (a camera id, a node's PeerId, a site, a person).
    pub subject: String,
    /// `iat`: when it was issued, in seconds since the UNIX epoch.
    pub issued_at: u64,
    /// `nbf`: first second of validity.
    pub not_before: u64,
    /// `exp`: first second at which it is no longer valid.
    pub expires: u64,
    /// `cti`: the serial number.
    pub serial: Serial,
    /// `cnf`: the key the subject proves possession of.
    pub key: PublicKey,
    /// What the subject is.
    pub role: Role,
    /// The site the credential belongs to, for everything below the fleet root.
    pub site: Option<String>,
    /// What the subject may do, least privilege: `stream:publish`, `api:events`, ...
    pub scopes: Vec<String>,
}

impl Claims {
    /// Whether the claims grant `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    fn to_claims_set(&self) -> ClaimsSet {
        let mut cnf = CoseKey::to_cbor_value(self.key.to_cose_key())
            .expect("a COSE_Key built from a valid public key always converts to a CBOR value");
        cnf = Value::Map(alloc::vec![(CNF_COSE_KEY.into(), cnf)]);
        // `rest` is encoded in the order given; keep it in deterministic order: 8, then the
        // private claims, whose encodings 0x3a00010000.. sort in descending numeric order.
        let mut rest = alloc::vec![
            (ClaimName::Assigned(iana::CwtClaimName::Cnf), cnf),
            (
                ClaimName::PrivateUse(CLAIM_ROLE),
                Value::from(self.role.code())
            ),
        ];
        if let Some(site) = &self.site {
            rest.push((ClaimName::PrivateUse(CLAIM_SITE), Value::Text(site.clone())));
        }
        if !self.scopes.is_empty() {
            let scopes = self.scopes.iter().cloned().map(Value::Text).collect();
            rest.push((ClaimName::PrivateUse(CLAIM_SCOPES), Value::Array(scopes)));
        }
        ClaimsSet {
            issuer: Some(self.issuer.clone()),
            subject: Some(self.subject.clone()),
            audience: None,
            expiration_time: Some(timestamp(self.expires)),
            not_before: Some(timestamp(self.not_before)),
            issued_at: Some(timestamp(self.issued_at)),
            cwt_id: Some(self.serial.as_bytes().to_vec()),
            rest,
        }
    }

    fn from_claims_set(set: ClaimsSet) -> Result<Claims, DecodeError> {
        let issuer = name(set.issuer, "credential without iss")?;
        let subject = name(set.subject, "credential without sub")?;
        let expires = seconds(set.expiration_time, "credential without exp")?;
        let not_before = seconds(set.not_before, "credential without nbf")?;
        let issued_at = seconds(set.issued_at, "credential without iat")?;
        let serial = set
            .cwt_id
            .and_then(|cti| Serial::from_slice(&cti))
            .ok_or(DecodeError::Malformed("credential without a valid cti"))?;
        let (mut key, mut role, mut site, mut scopes) = (None, None, None, Vec::new());
        for (claim, value) in set.rest {
            match claim {
                ClaimName::Assigned(iana::CwtClaimName::Cnf) => key = Some(confirmation(value)?),
                ClaimName::PrivateUse(CLAIM_ROLE) => {
                    let code = value.as_integer().and_then(|i| u64::try_from(i).ok());
                    role = Some(
                        code.and_then(Role::from_code)
                            .ok_or(DecodeError::Malformed("unknown role"))?,
                    );
                }
                ClaimName::PrivateUse(CLAIM_SITE) => {
                    site = Some(name(value.into_text().ok(), "site is not text")?);
                }
                ClaimName::PrivateUse(CLAIM_SCOPES) => scopes = scope_list(value)?,
                // Other claims carry nothing Ward acts on.
                _ => {}
            }
        }
        Ok(Claims {
            issuer,
            subject,
            issued_at,
            not_before,
            expires,
            serial,
            key: key.ok_or(DecodeError::Malformed("credential without cnf"))?,
            role: role.ok_or(DecodeError::Malformed("credential without role"))?,
            site,
            scopes,
        })
    }
}

/// A signed CWT credential, kept with the exact bytes it was issued or received as.
#[derive(Clone)]
pub struct Credential {
    bytes: Vec<u8>,
    claims: Claims,
    key_id: KeyId,
    algorithm: Algorithm,
    sign1: CoseSign1,
}

impl Credential {
    /// Signs `claims` with `signer`.
    pub fn sign(claims: Claims, signer: &SecretKey) -> Credential {
        let protected = HeaderBuilder::new()
            .algorithm(signer.algorithm().to_coset())
            .content_format(iana::CoapContentFormat::Cwt)
            .build();
        let payload = claims
            .to_claims_set()
            .to_vec()
            .expect("claims built from typed fields always encode");
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(b"", |tbs| signer.sign(tbs).to_vec())
            .build();
        let bytes = tagged(sign1.clone());
        let key_id = claims.key.key_id();
        Credential {
            bytes,
            claims,
            key_id,
            algorithm: signer.algorithm(),
            sign1,
        }
    }

    /// Reads a credential from untrusted bytes. The signature is not checked here: that is
    /// the job of chain validation, which knows the issuer's key.
    pub fn decode(bytes: &[u8]) -> Result<Credential, DecodeError> {
        let (sign1, algorithm) = decode_sign1(bytes, LIMITS, ContentCheck::CwtOrAbsent)?;
        let payload = sign1
            .payload
            .as_deref()
            .ok_or(DecodeError::Malformed("no payload"))?;
        cbor::screen(payload, LIMITS)?;
        let claims = Claims::from_claims_set(ClaimsSet::from_slice(payload)?)?;
        let key_id = claims.key.key_id();
        Ok(Credential {
            bytes: bytes.to_vec(),
            claims,
            key_id,
            algorithm,
            sign1,
        })
    }

    /// The credential's bytes, exactly as issued or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The credential's claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The RFC 9679 thumbprint of the key the credential binds.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The algorithm named in the protected header.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.sign1.signature
    }

    /// Checks the signature under `issuer_key`, whose algorithm must be the one the
    /// protected header names.
    pub fn verify_signature(&self, issuer_key: &PublicKey) -> Result<(), SignatureError> {
        if issuer_key.algorithm() != self.algorithm {
            return Err(SignatureError);
        }
        self.sign1
            .verify_signature(b"", |sig, tbs| issuer_key.verify(tbs, sig))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("algorithm", &self.algorithm)
            .field("claims", &self.claims)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Credential {}

/// An unsigned CWT Claims Set carrying a raw public key: the `kccs` credential of RFC 9528
/// §3.5.2, which factory-provisioned cameras and third-party EDHOC stacks present.
#[derive(Clone, PartialEq, Eq)]
pub struct Ccs {
    bytes: Vec<u8>,
    subject: Option<String>,
    key: PublicKey,
}

impl Ccs {
    /// A CCS `{2: subject, 8: {1: COSE_Key}}` for `key`, with `kid` in the COSE_Key when given.
    pub fn new(subject: Option<String>, key: PublicKey, kid: Option<&[u8]>) -> Ccs {
        let mut cose_key = key.to_cose_key();
        if let Some(kid) = kid {
            cose_key.key_id = kid.to_vec();
        }
        let cnf = CoseKey::to_cbor_value(cose_key)
            .expect("a COSE_Key built from a valid public key always converts to a CBOR value");
        let set = ClaimsSet {
            subject: subject.clone(),
            rest: alloc::vec![(
                ClaimName::Assigned(iana::CwtClaimName::Cnf),
                Value::Map(alloc::vec![(CNF_COSE_KEY.into(), cnf)]),
            )],
            ..ClaimsSet::default()
        };
        let bytes = set
            .to_vec()
            .expect("a claims set of a text and a key always encodes");
        Ccs {
            bytes,
            subject,
            key,
        }
    }

    /// Reads a CCS from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Ccs, DecodeError> {
        cbor::screen(bytes, LIMITS)?;
        let set = ClaimsSet::from_slice(bytes)?;
        let subject = set.subject.map(|s| name(Some(s), "")).transpose()?;
        let cnf = set
            .rest
            .into_iter()
            .find(|(claim, _)| *claim == ClaimName::Assigned(iana::CwtClaimName::Cnf))
            .ok_or(DecodeError::Malformed("CCS without cnf"))?;
        let key = confirmation(cnf.1)?;
        Ok(Ccs {
            bytes: bytes.to_vec(),
            subject,
            key,
        })
    }

    /// The CCS bytes, exactly as built or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `sub` claim, if any.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The key it carries.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

impl fmt::Debug for Ccs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ccs")
            .field("subject", &self.subject)
            .field("key", &self.key)
            .finish()
    }
}

/// Which COSE content types a decoder accepts. Credentials and revocations are both signed
/// by CA keys; the content type, inside the signed protected header, keeps one from ever
/// being accepted as the other.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ContentCheck {
    CwtOrAbsent,
    Exactly(&'static str),
}

/// Screens, untags and parses a COSE_Sign1, checking its protected header.
pub(crate) fn decode_sign1(
    bytes: &[u8],
    limits: Limits,
    content: ContentCheck,
) -> Result<(CoseSign1, Algorithm), DecodeError> {
    cbor::screen(bytes, limits)?;
    let mut value = ciborium::from_reader::<Value, _>(bytes)
        .map_err(|_| DecodeError::Malformed("CBOR decoding failed"))?;
    // RFC 8392 §6 allows the CWT tag in front of the COSE tag; both are optional.
    if let Value::Tag(TAG_CWT, inner) = value {
        value = *inner;
    }
    if let Value::Tag(TAG_COSE_SIGN1, inner) = value {
        value = *inner;
    }
    let sign1 = CoseSign1::from_cbor_value(value)?;
    let header = &sign1.protected.header;
    // RFC 9052 §3.1: a recipient must refuse a message whose critical headers it does not
    // understand; Ward understands none.
    if !header.crit.is_empty() {
        return Err(DecodeError::Malformed("critical header parameters"));
    }
    let algorithm = match &header.alg {
        Some(coset::Algorithm::Assigned(iana::Algorithm::ES256)) => Algorithm::Es256,
        Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA)) => Algorithm::EdDsa,
        _ => return Err(DecodeError::UnsupportedAlgorithm),
    };
    let content_ok = match (content, &header.content_type) {
        (ContentCheck::CwtOrAbsent, None) => true,
        (ContentCheck::CwtOrAbsent, Some(ct)) => {
            *ct == coset::ContentType::Assigned(iana::CoapContentFormat::Cwt)
        }
        (ContentCheck::Exactly(expected), Some(coset::ContentType::Text(ct))) => ct == expected,
        (ContentCheck::Exactly(_), _) => false,
    };
    if !content_ok {
        return Err(DecodeError::Malformed("wrong content type"));
    }
    if sign1.signature.len() != SIGNATURE_LEN {
        return Err(DecodeError::Malformed("signature of the wrong length"));
    }
    Ok((sign1, algorithm))
}

/// Encodes a COSE_Sign1 with its tag.
pub(crate) fn tagged(sign1: CoseSign1) -> Vec<u8> {
    let value = sign1
        .to_cbor_value()
        .expect("a COSE_Sign1 built here always converts");
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Tag(TAG_COSE_SIGN1, value.into()), &mut out)
        .expect("writing CBOR into a Vec cannot fail");
    out
}

fn timestamp(secs: u64) -> Timestamp {
    // Times beyond i64 seconds are 292 billion years away; saturate rather than wrap.
    Timestamp::WholeSeconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn seconds(ts: Option<Timestamp>, missing: &'static str) -> Result<u64, DecodeError> {
    match ts {
        Some(Timestamp::WholeSeconds(s)) => {
            u64::try_from(s).map_err(|_| DecodeError::Malformed("time before the epoch"))
        }
        Some(Timestamp::FractionalSeconds(_)) => {
            Err(DecodeError::Malformed("fractional time is not accepted"))
        }
        None => Err(DecodeError::Malformed(missing)),
    }
}

fn name(text: Option<String>, missing: &'static str) -> Result<String, DecodeError> {
    let text = text.ok_or(DecodeError::Malformed(missing))?;
    if text.len() > MAX_NAME_LEN {
        return Err(DecodeError::Malformed("name too long"));
    }
    Ok(text)
}

fn scope_list(value: Value) -> Result<Vec<String>, DecodeError> {
    let items = value
        .into_array()
        .map_err(|_| DecodeError::Malformed("scopes is not an array"))?;
    if items.len() > MAX_SCOPES {
        return Err(DecodeError::Malformed("too many scopes"));
    }
    items
        .into_iter()
        .map(|item| name(item.into_text().ok(), "scope is not text"))
        .collect()
}

/// Reads the COSE_Key out of a `cnf` claim value `{1: COSE_Key}`.
fn confirmation(value: Value) -> Result<PublicKey, DecodeError> {
    let entries = value
        .into_map()
        .map_err(|_| DecodeError::Malformed("cnf is not a map"))?;
    let [(method, key)] = <[(Value, Value); 1]>::try_from(entries)
        .map_err(|_| DecodeError::Malformed("cnf must hold exactly one method"))?;
    if method != Value::from(CNF_COSE_KEY) {
        return Err(DecodeError::Malformed("cnf method is not COSE_Key"));
    }
    PublicKey::from_cose_key(&CoseKey::from_cbor_value(key)?)
}

#[cfg(test)]
mod tests;
