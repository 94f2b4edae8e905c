//! What it costs a node to verify a camera's credential chain, and how many bytes the chain
//! takes on the wire, in Ward's CWT format and in the two formats it stands in for.
//!
//! A node admitting a camera receives the site CA's credential and the camera's credential as
//! bytes. It decodes both, checks both signatures, and checks every rule of the chain against
//! the fleet root it already trusts. The same chain (the same keys, names, serials, validity
//! periods, role, site and scopes) is built three ways and verified from its bytes:
//!
//! ```text
//! chain_verify/cwt              2 CWTs (COSE_Sign1): ward-crypto, p256 and ed25519-dalek
//! chain_verify/jwt              2 JWTs (compact JWS): jsonwebtoken 12, rust_crypto provider,
//!                               which is the same p256 and ed25519-dalek
//! chain_verify/x509_webpki      2 X.509 DER certificates: rustls-webpki 0.103, ring signatures
//! chain_verify/x509_rustcrypto  2 X.509 DER certificates: x509-cert parsing, then Ward's own
//!                               p256 / ed25519-dalek signature code and the same rules as Ward
//! chain_decode/*                decoding the two links alone, keys included, no signature check
//! chain_signatures/*            the two signature checks alone, over the bytes each format
//!                               signs: the crypto share of each chain_verify row
//! ```
//!
//! The chain is `fleet root (Ed25519) → site CA (P-256, signed EdDSA) → camera (P-256, signed
//! ES256)`. In every format the root is a trust anchor: parsed once before timing starts, and not
//! counted in the chain's size. Keys come from a seeded generator and every signature is
//! deterministic (Ed25519, and ECDSA with RFC 6979 nonces), so the sizes printed at start are the
//! same on every run.
//!
//! Run with `cargo bench -p ward-crypto --bench chain`; `docs/benchmarks-chain.md` records the
//! figures and how to read them.

use std::error::Error;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use seeded_rng::SeededRng;
use sha2::{Digest as _, Sha256};
use ward_crypto::chain::DEFAULT_LEEWAY_SECS;
use ward_crypto::{
    Credential, CredentialRequest, FleetRoot, Issuer, NoRevocations, Policy, PublicKey, Role,
    SecretKey, issue,
};

/// Every check either passes or says why not; the reason is only read when a setup check fails.
type Verdict = Result<(), Box<dyn Error>>;

/// 2026-01-01T00:00:00Z: when every credential of the chain is issued.
const ISSUED: u64 = 1_767_225_600;
/// When the chain is verified: an hour into every validity period.
const NOW: u64 = ISSUED + 3_600;
const DAY: u64 = 86_400;

const FLEET: &str = "fleet:acme";
const SITE: &str = "site-a";
const CAMERA: &str = "cam-0042";
const CAMERA_SCOPES: [&str; 2] = ["stream:publish", "api:events"];
/// The scope the node requires of the camera.
const REQUIRED_SCOPES: &[&str] = &["stream:publish"];

/// The fleet in Ward's own format, with the keys that signed it.
struct Fleet {
    root_key: SecretKey,
    site_key: SecretKey,
    camera_key: SecretKey,
    root: Credential,
    site_ca: Credential,
    camera: Credential,
}

impl Fleet {
    fn new() -> Fleet {
        let mut rng = SeededRng(0x5741_5244_0000_0000);
        let root_key = SecretKey::generate_ed25519(&mut rng);
        let site_key = SecretKey::generate_p256(&mut rng);
        let camera_key = SecretKey::generate_p256(&mut rng);
        let request =
            |subject: &str, role, key: &SecretKey, scopes: &[&str], days| CredentialRequest {
                subject: subject.into(),
                role,
                key: key.public_key(),
                scopes: scopes.iter().map(|scope| (*scope).into()).collect(),
                lifetime_secs: days * DAY,
            };
        let root = issue::fleet_root(FLEET, &root_key, ISSUED, 3650 * DAY, &mut rng)
            .expect("an Ed25519 key with a valid name makes a fleet root");
        let site_request = request(SITE, Role::SiteCa, &site_key, &[], 365);
        let site_ca = Issuer::new(&root_key, &root)
            .and_then(|root| root.issue(&site_request, ISSUED, &mut rng))
            .expect("the fleet root issues a P-256 site CA");
        let camera_request = request(CAMERA, Role::Camera, &camera_key, &CAMERA_SCOPES, 30);
        let camera = Issuer::new(&site_key, &site_ca)
            .and_then(|ca| ca.issue(&camera_request, ISSUED, &mut rng))
            .expect("the site CA issues a camera credential");
        Fleet {
            root_key,
            site_key,
            camera_key,
            root,
            site_ca,
            camera,
        }
    }
}

/// A chain as a node receives it: the site CA's and the camera's encodings. The trust anchor's
/// size is kept for the record; it is not sent.
struct Wire {
    site_ca: Vec<u8>,
    camera: Vec<u8>,
    anchor_len: usize,
}

/// What the node asks of the camera; the other formats check the same rules by hand.
fn camera_policy() -> Policy<'static> {
    Policy {
        role: Role::Camera,
        scopes: REQUIRED_SCOPES,
        site: Some(SITE),
        leeway_secs: DEFAULT_LEEWAY_SECS,
    }
}

/// RFC 8392 §3.1.4/§3.1.5 as Ward applies them: valid from `nbf` until before `exp`, widened by
/// the leeway.
fn check_period(not_before: u64, expires: u64) -> Verdict {
    if NOW + DEFAULT_LEEWAY_SECS < not_before || NOW >= expires + DEFAULT_LEEWAY_SECS {
        return Err("outside its validity period".into());
    }
    Ok(())
}

/// One signature of a chain as a verifier checks it: the issuer's key, the bytes it signed and
/// the signature, in the form that verifier takes (for [`PublicKey::verify`], ECDSA as `r || s`).
struct Signed {
    key: PublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn verify_signatures(chain: &[Signed]) -> Verdict {
    for link in chain {
        link.key.verify(&link.message, &link.signature)?;
    }
    Ok(())
}

#[path = "support/seeded_rng.rs"]
mod seeded_rng;

mod cwt {
    use coset::TaggedCborSerializable as _;

    use super::*;

    pub(crate) fn encode(fleet: &Fleet) -> (FleetRoot, Wire) {
        let root = FleetRoot::new(fleet.root.clone()).expect("the fleet root is self-signed");
        let wire = Wire {
            site_ca: fleet.site_ca.as_bytes().to_vec(),
            camera: fleet.camera.as_bytes().to_vec(),
            anchor_len: fleet.root.as_bytes().len(),
        };
        (root, wire)
    }

    pub(crate) fn verify(root: &FleetRoot, site_ca: &[u8], camera: &[u8]) -> Verdict {
        let site_ca = Credential::decode(site_ca)?;
        let camera = Credential::decode(camera)?;
        root.validate(&site_ca, &camera, &camera_policy(), NOW, &NoRevocations)?;
        Ok(())
    }

    pub(crate) fn decode(site_ca: &[u8], camera: &[u8]) -> Verdict {
        Credential::decode(site_ca)?;
        Credential::decode(camera)?;
        Ok(())
    }

    /// RFC 9052 §4.4: a COSE_Sign1 signs its Sig_structure, which the verifier rebuilds.
    pub(crate) fn signatures(fleet: &Fleet) -> Vec<Signed> {
        let signed = |credential: &Credential, issuer: &SecretKey| {
            let sign1 = coset::CoseSign1::from_tagged_slice(credential.as_bytes())
                .expect("Ward's credentials are tagged COSE_Sign1");
            let message = sign1.tbs_data(b"");
            Signed {
                key: issuer.public_key(),
                message,
                signature: sign1.signature,
            }
        };
        vec![
            signed(&fleet.site_ca, &fleet.root_key),
            signed(&fleet.camera, &fleet.site_key),
        ]
    }
}

/// The chain as JWTs: each carries the claims of the CWT it mirrors, with `cnf` holding a JWK
/// (RFC 7800) and the serial as a base64url `jti`.
mod jwt {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
        EllipticCurveKeyType, Jwk,
    };
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    use p256::pkcs8::EncodePrivateKey as _;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Claims {
        iss: String,
        sub: String,
        iat: u64,
        nbf: u64,
        exp: u64,
        jti: String,
        cnf: Confirmation,
        role: String,
        site: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
    }

    #[derive(Serialize, Deserialize)]
    struct Confirmation {
        jwk: Jwk,
    }

    /// The fleet root's key and the two validations, prepared once as a node would.
    pub(crate) struct Anchor {
        key: DecodingKey,
        eddsa: Validation,
        es256: Validation,
    }

    /// Validation of the signature and the `alg` header only: the claims are checked below,
    /// against the same fixed `NOW` as the CWT, rather than against the wall clock.
    fn signature_only(algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation
    }

    fn claims(credential: &Credential) -> Claims {
        let claims = credential.claims();
        let PublicKey::P256(key) = &claims.key else {
            panic!("site CAs and cameras are P-256")
        };
        let point = key.to_sec1_point(false);
        let coordinate = |c: Option<&[u8]>| {
            URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point has both coordinates"))
        };
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: coordinate(point.x().map(|x| x.as_slice())),
                y: coordinate(point.y().map(|y| y.as_slice())),
            }),
        };
        Claims {
            iss: claims.issuer.clone(),
            sub: claims.subject.clone(),
            iat: claims.issued_at,
            nbf: claims.not_before,
            exp: claims.expires,
            jti: URL_SAFE_NO_PAD.encode(claims.serial.as_bytes()),
            cnf: Confirmation { jwk },
            role: claims.role.name().into(),
            site: claims
                .site
                .clone()
                .expect("site CAs and cameras belong to a site"),
            scopes: claims.scopes.clone(),
        }
    }

    pub(crate) fn encode(fleet: &Fleet) -> (Anchor, Wire) {
        let (SecretKey::Ed25519(root_key), SecretKey::P256(site_key)) =
            (&fleet.root_key, &fleet.site_key)
        else {
            panic!("the root is Ed25519 and the site CA P-256");
        };
        let root_pkcs8 = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(root_key)
            .expect("an Ed25519 key encodes as PKCS#8");
        let site_pkcs8 = site_key
            .to_pkcs8_der()
            .expect("a P-256 key encodes as PKCS#8");
        let site_ca = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims(&fleet.site_ca),
            &EncodingKey::from_ed_der(root_pkcs8.as_bytes()),
        )
        .expect("the fleet root signs the site CA JWT");
        let camera = jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &claims(&fleet.camera),
            &EncodingKey::from_ec_der(site_pkcs8.as_bytes()),
        )
        .expect("the site CA signs the camera JWT");
        let root_public = root_key.verifying_key().to_bytes();
        let anchor = Anchor {
            key: DecodingKey::from_ed_der(&root_public),
            eddsa: signature_only(Algorithm::EdDSA),
            es256: signature_only(Algorithm::ES256),
        };
        let wire = Wire {
            site_ca: site_ca.into_bytes(),
            camera: camera.into_bytes(),
            anchor_len: root_public.len(),
        };
        (anchor, wire)
    }

    pub(crate) fn verify(anchor: &Anchor, site_ca: &[u8], camera: &[u8]) -> Verdict {
        // The site CA: EdDSA under the fleet root's key, issued by the root, role site-ca.
        let ca = jsonwebtoken::decode::<Claims>(site_ca, &anchor.key, &anchor.eddsa)?.claims;
        if ca.iss != FLEET || ca.role != Role::SiteCa.name() {
            return Err("site CA JWT: wrong issuer or role".into());
        }
        check_period(ca.nbf, ca.exp)?;

        // The camera: ES256 under the key the site CA's `cnf` binds.
        let ca_key = DecodingKey::from_jwk(&ca.cnf.jwk)?;
        let cam = jsonwebtoken::decode::<Claims>(camera, &ca_key, &anchor.es256)?.claims;
        if cam.iss != ca.sub || cam.role != Role::Camera.name() {
            return Err("camera JWT: wrong issuer or role".into());
        }
        if cam.site != ca.site || cam.site != SITE {
            return Err("camera JWT: wrong site".into());
        }
        check_period(cam.nbf, cam.exp)?;
        if !REQUIRED_SCOPES
            .iter()
            .all(|scope| cam.scopes.iter().any(|s| s == scope))
        {
            return Err("camera JWT: missing scope".into());
        }
        // The camera's key, for the handshake that follows: decoded and checked to lie on the
        // curve, as Credential::decode and the X.509 verifier do.
        p256_key(&cam.cnf.jwk)?;
        Ok(())
    }

    fn p256_key(jwk: &Jwk) -> Result<p256::PublicKey, Box<dyn Error>> {
        let key = DecodingKey::from_jwk(jwk)?;
        Ok(p256::PublicKey::from_sec1_bytes(key.try_get_as_bytes()?)?)
    }

    pub(crate) fn decode(site_ca: &[u8], camera: &[u8]) -> Verdict {
        for token in [site_ca, camera] {
            let claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(token)?.claims;
            p256_key(&claims.cnf.jwk)?;
        }
        Ok(())
    }

    /// RFC 7515 §5.2: a JWS signs the ASCII of `header.payload`, both base64url as sent.
    pub(crate) fn signatures(fleet: &Fleet, wire: &Wire) -> Vec<Signed> {
        let signed = |token: &[u8], issuer: &SecretKey| {
            let dot = token
                .iter()
                .rposition(|b| *b == b'.')
                .expect("a JWS has three parts");
            let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]);
            Signed {
                key: issuer.public_key(),
                message: token[..dot].to_vec(),
                signature: signature.expect("a JWS signature is base64url"),
            }
        };
        vec![
            signed(&wire.site_ca, &fleet.root_key),
            signed(&wire.camera, &fleet.site_key),
        ]
    }
}

/// The chain as X.509 certificates in the shape RFC 5280 asks of a CA: basic constraints, key
/// usage, subject and authority key identifiers; the camera's role and site in a SPIFFE-style
/// URI SAN, its scopes in a private extension, clientAuth as its extended key usage.
mod x509 {
    use std::time::Duration;

    use p256::elliptic_curve::sec1::ToSec1Point as _;
    use rcgen::{
        CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber, SignatureAlgorithm,
    };
    use x509_cert::Certificate;
    use x509_cert::der::asn1::{ObjectIdentifier as Oid, Utf8StringRef};
    use x509_cert::der::{Decode as _, Encode as _, Reader as _, SliceReader};
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};
    use x509_cert::name::Name;

    use super::*;

    /// Where the camera's scopes live: an OID under the documentation enterprise number
    /// (RFC 5612), since no registered extension carries application scopes.
    const SCOPES_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 32473, 1, 1];
    const ID_SCOPES: Oid = Oid::new_unwrap("1.3.6.1.4.1.32473.1.1");
    const ID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
    const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    const ID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    const ID_KP_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
    /// Extensions this verifier understands: subject and authority key identifiers, key usage,
    /// basic constraints, subject alternative name, extended key usage, scopes. RFC 5280 §4.2
    /// refuses a certificate with any other extension marked critical.
    const KNOWN: [Oid; 7] = [
        Oid::new_unwrap("2.5.29.14"),
        Oid::new_unwrap("2.5.29.35"),
        Oid::new_unwrap("2.5.29.15"),
        Oid::new_unwrap("2.5.29.19"),
        Oid::new_unwrap("2.5.29.17"),
        Oid::new_unwrap("2.5.29.37"),
        ID_SCOPES,
    ];
    /// A SPIFFE-style URI naming the camera's fleet, site and role; its id follows.
    const CAMERA_URI_PREFIX: &str = "spiffe://acme/site-a/camera/";

    /// Ward's key as rcgen sees it, so the certificates carry the same keys as the CWTs and are
    /// signed by the same deterministic code.
    struct X509Key<'a> {
        secret: &'a SecretKey,
        public: Vec<u8>,
        algorithm: &'static SignatureAlgorithm,
    }

    impl<'a> X509Key<'a> {
        fn new(secret: &'a SecretKey) -> X509Key<'a> {
            let (public, algorithm) = match secret.public_key() {
                PublicKey::Ed25519(key) => (key.to_bytes().to_vec(), &rcgen::PKCS_ED25519),
                PublicKey::P256(key) => {
                    let point = key.to_sec1_point(false).as_bytes().to_vec();
                    (point, &rcgen::PKCS_ECDSA_P256_SHA256)
                }
                _ => panic!("Ward keys are Ed25519 or P-256"),
            };
            X509Key {
                secret,
                public,
                algorithm,
            }
        }
    }

    impl rcgen::PublicKeyData for X509Key<'_> {
        fn der_bytes(&self) -> &[u8] {
            &self.public
        }

        fn algorithm(&self) -> &'static SignatureAlgorithm {
            self.algorithm
        }
    }

    impl rcgen::SigningKey for X509Key<'_> {
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
            let signature = self.secret.sign(message);
            if self.secret.algorithm() == ward_crypto::Algorithm::EdDsa {
                return Ok(signature.to_vec());
            }
            // RFC 5758 §3.2: X.509 carries an ECDSA signature as a DER SEQUENCE of r and s.
            let signature = p256::ecdsa::Signature::from_slice(&signature)
                .map_err(|_| rcgen::Error::RemoteKeyError)?;
            Ok(signature.to_der().as_bytes().to_vec())
        }
    }

    /// Certificate parameters carrying a CWT's subject, serial and validity period, and the key
    /// identifier of RFC 7093 §2 method 1: the leftmost 160 bits of the key's SHA-256.
    fn params(credential: &Credential, key: &X509Key<'_>) -> CertificateParams {
        let claims = credential.claims();
        let issued = rcgen::date_time_ymd(2026, 1, 1);
        assert_eq!(
            issued.unix_timestamp(),
            ISSUED as i64,
            "ISSUED is 2026-01-01"
        );
        let at = |secs: u64| issued + Duration::from_secs(secs - ISSUED);
        let mut params = CertificateParams::default();
        (params.not_before, params.not_after) = (at(claims.not_before), at(claims.expires));
        params.serial_number = Some(SerialNumber::from_slice(claims.serial.as_bytes()));
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, claims.subject.as_str());
        let key_id = Sha256::digest(&key.public)[..20].to_vec();
        params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        params
    }

    /// The root certificate, and the chain of the site CA's and the camera's certificates.
    pub(crate) fn encode(fleet: &Fleet) -> (Vec<u8>, Wire) {
        let root_key = X509Key::new(&fleet.root_key);
        let site_key = X509Key::new(&fleet.site_key);
        let camera_key = X509Key::new(&fleet.camera_key);

        let mut root = params(&fleet.root, &root_key);
        root.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_der = root
            .self_signed(&root_key)
            .expect("the root certificate self-signs");

        let mut site = params(&fleet.site_ca, &site_key);
        site.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        site.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        site.use_authority_key_identifier_extension = true;
        let root_issuer = rcgen::Issuer::from_params(&root, &root_key);
        let site_der = site
            .signed_by(&site_key, &root_issuer)
            .expect("the root signs the CA");

        let mut camera = params(&fleet.camera, &camera_key);
        camera.is_ca = IsCa::ExplicitNoCa;
        camera.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        camera.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        camera.use_authority_key_identifier_extension = true;
        let uri = format!("{CAMERA_URI_PREFIX}{CAMERA}");
        let uri = uri.as_str().try_into().expect("a SPIFFE ID is ASCII");
        camera.subject_alt_names = vec![SanType::URI(uri)];
        let scopes: Vec<Utf8StringRef<'_>> = CAMERA_SCOPES
            .iter()
            .map(|scope| Utf8StringRef::new(scope).expect("scopes are UTF-8"))
            .collect();
        let scopes = scopes.to_der().expect("a SEQUENCE OF UTF8String encodes");
        camera.custom_extensions = vec![CustomExtension::from_oid_content(SCOPES_ARCS, scopes)];
        let site_issuer = rcgen::Issuer::from_params(&site, &site_key);
        let camera_der = camera
            .signed_by(&camera_key, &site_issuer)
            .expect("the CA signs");

        let wire = Wire {
            site_ca: site_der.der().to_vec(),
            camera: camera_der.der().to_vec(),
            anchor_len: root_der.der().len(),
        };
        (root_der.der().to_vec(), wire)
    }

    /// The DER of the `tbsCertificate` exactly as received, which is what the signature covers
    /// (RFC 5280 §4.1.1.3): re-encoding the parsed form would cost time and could differ.
    fn signed_bytes(der: &[u8]) -> Result<&[u8], x509_cert::der::Error> {
        SliceReader::new(der)?.sequence(|certificate| {
            let tbs = certificate.tlv_bytes()?;
            certificate.tlv_bytes()?; // signatureAlgorithm
            certificate.tlv_bytes()?; // signatureValue
            Ok(tbs)
        })
    }

    /// The chain's signatures in the form the certificates carry them, ECDSA in DER.
    fn carried_signatures(fleet: &Fleet, wire: &Wire) -> Vec<Signed> {
        let signed = |der: &[u8], issuer: &SecretKey| {
            let certificate = Certificate::from_der(der).expect("the certificate parses");
            let signature = certificate
                .signature()
                .as_bytes()
                .expect("a signature is octets");
            Signed {
                key: issuer.public_key(),
                message: signed_bytes(der).expect("the certificate is DER").to_vec(),
                signature: signature.to_vec(),
            }
        };
        vec![
            signed(&wire.site_ca, &fleet.root_key),
            signed(&wire.camera, &fleet.site_key),
        ]
    }

    pub(crate) mod webpki_ring {
        use rustls_pki_types::{
            CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
        };
        use webpki::{EndEntityCert, KeyUsage};

        use super::*;

        static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] =
            &[webpki::ring::ED25519, webpki::ring::ECDSA_P256_SHA256];

        pub(crate) fn anchors(root_der: &[u8]) -> Vec<TrustAnchor<'static>> {
            let root = CertificateDer::from(root_der);
            let anchor = webpki::anchor_from_trusted_cert(&root)
                .expect("the root certificate is a usable trust anchor");
            vec![anchor.to_owned()]
        }

        pub(crate) fn verify(
            anchors: &[TrustAnchor<'_>],
            site_ca: &[u8],
            camera: &[u8],
        ) -> Verdict {
            let camera = CertificateDer::from(camera);
            let camera = EndEntityCert::try_from(&camera)?;
            let intermediates = [CertificateDer::from(site_ca)];
            let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
            let usage = KeyUsage::client_auth();
            camera.verify_for_usage(ALGORITHMS, anchors, &intermediates, now, usage, None, None)?;
            Ok(())
        }

        /// A chain's signatures as ring checks them: with the raw subjectPublicKey, and ECDSA
        /// signatures in DER, as the certificates carry them.
        pub(crate) type RingSigned = (&'static dyn SignatureVerificationAlgorithm, Vec<u8>, Signed);

        pub(crate) fn signatures(fleet: &Fleet, wire: &Wire) -> Vec<RingSigned> {
            let with_algorithm = |link: Signed| match &link.key {
                PublicKey::Ed25519(key) => (webpki::ring::ED25519, key.to_bytes().to_vec(), link),
                PublicKey::P256(key) => {
                    let point = key.to_sec1_point(false).as_bytes().to_vec();
                    (webpki::ring::ECDSA_P256_SHA256, point, link)
                }
                _ => panic!("Ward keys are Ed25519 or P-256"),
            };
            carried_signatures(fleet, wire)
                .into_iter()
                .map(with_algorithm)
                .collect()
        }

        pub(crate) fn verify_signatures(chain: &[RingSigned]) -> Verdict {
            for (algorithm, key, link) in chain {
                algorithm
                    .verify_signature(key, &link.message, &link.signature)
                    .map_err(|_| "bad signature")?;
            }
            Ok(())
        }
    }

    pub(crate) mod rustcrypto {
        use super::*;

        /// The root certificate, parsed once: the name its children name as issuer, its key.
        pub(crate) struct Anchor {
            name: Name,
            key: PublicKey,
        }

        pub(crate) fn anchor(root_der: &[u8]) -> Anchor {
            let root = Certificate::from_der(root_der).expect("the root certificate parses");
            let tbs = root.tbs_certificate();
            let spki = tbs.subject_public_key_info();
            assert_eq!(spki.algorithm.oid, ID_ED25519, "the root key is Ed25519");
            let key: &[u8; 32] = spki
                .subject_public_key
                .as_bytes()
                .and_then(|key| key.try_into().ok())
                .expect("an Ed25519 key is 32 bytes");
            let key = ed25519_dalek::VerifyingKey::from_bytes(key).expect("the root key is valid");
            Anchor {
                name: tbs.subject().clone(),
                key: PublicKey::Ed25519(key),
            }
        }

        /// Checks that `certificate` names `issuer`, lies within its validity period, has no
        /// critical extension this verifier does not know, and verifies under `key` with Ward's
        /// own signature code.
        fn check_issued_by(
            cert: &Certificate,
            der: &[u8],
            issuer: &Name,
            key: &PublicKey,
        ) -> Verdict {
            let tbs = cert.tbs_certificate();
            if tbs.issuer() != issuer {
                return Err("issuer name does not match".into());
            }
            // RFC 5280 §4.1.2.5: notAfter is the last valid second, so it is inclusive.
            let validity = tbs.validity();
            let not_after = validity.not_after.to_unix_duration().as_secs() + 1;
            check_period(validity.not_before.to_unix_duration().as_secs(), not_after)?;
            let extensions = tbs.extensions().into_iter().flatten();
            if extensions
                .filter(|e| e.critical)
                .any(|e| !KNOWN.contains(&e.extn_id))
            {
                return Err("unknown critical extension".into());
            }
            // RFC 5280 §4.1.2.3: the inner and outer signature algorithms must agree.
            let algorithm = cert.signature_algorithm();
            if tbs.signature() != algorithm {
                return Err("signature algorithms disagree".into());
            }
            let signature = cert
                .signature()
                .as_bytes()
                .ok_or("signature is not octets")?;
            let signature = match (algorithm.oid, key) {
                (ID_ED25519, PublicKey::Ed25519(_)) => signature.to_vec(),
                (ECDSA_WITH_SHA256, PublicKey::P256(_)) => {
                    p256::ecdsa::Signature::from_der(signature)?
                        .to_bytes()
                        .to_vec()
                }
                _ => return Err("signature algorithm does not fit the issuer key".into()),
            };
            key.verify(signed_bytes(der)?, &signature)?;
            Ok(())
        }

        fn p256_key(certificate: &Certificate) -> Result<PublicKey, Box<dyn Error>> {
            let spki = certificate.tbs_certificate().subject_public_key_info();
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .map(|p| p.decode_as::<Oid>());
            if spki.algorithm.oid != ID_EC_PUBLIC_KEY || curve.transpose()? != Some(SECP256R1) {
                return Err("not a P-256 key".into());
            }
            let point = spki
                .subject_public_key
                .as_bytes()
                .ok_or("key is not octets")?;
            Ok(PublicKey::P256(p256::PublicKey::from_sec1_bytes(point)?))
        }

        pub(crate) fn verify(anchor: &Anchor, site_ca: &[u8], camera: &[u8]) -> Verdict {
            // The site CA: signed EdDSA by the root, a CA that may sign only end entities.
            let ca = Certificate::from_der(site_ca)?;
            check_issued_by(&ca, site_ca, &anchor.name, &anchor.key)?;
            let tbs = ca.tbs_certificate();
            let constraints = tbs.get_extension::<BasicConstraints>()?.map(|(_, bc)| bc);
            if constraints
                != Some(BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                })
            {
                return Err("site CA is not a CA for end entities only".into());
            }
            let usage = tbs.get_extension::<KeyUsage>()?;
            if !usage.is_some_and(|(_, usage)| usage.key_cert_sign()) {
                return Err("site CA may not sign certificates".into());
            }
            let ca_key = p256_key(&ca)?;

            // The camera: signed ES256 by the site CA, an end entity for client authentication,
            // of role camera at this site, holding the required scopes.
            let cam = Certificate::from_der(camera)?;
            check_issued_by(&cam, camera, tbs.subject(), &ca_key)?;
            let tbs = cam.tbs_certificate();
            if tbs
                .get_extension::<BasicConstraints>()?
                .is_some_and(|(_, bc)| bc.ca)
            {
                return Err("camera certificate is a CA".into());
            }
            let eku = tbs.get_extension::<ExtendedKeyUsage>()?;
            if !eku.is_some_and(|(_, eku)| eku.0.contains(&ID_KP_CLIENT_AUTH)) {
                return Err("camera certificate is not for client authentication".into());
            }
            let san = tbs
                .get_extension::<SubjectAltName>()?
                .ok_or("no subject alt name")?
                .1;
            let is_camera = |name: &GeneralName| match name {
                GeneralName::UniformResourceIdentifier(uri) => uri
                    .as_str()
                    .strip_prefix(CAMERA_URI_PREFIX)
                    .is_some_and(|id| !id.is_empty()),
                _ => false,
            };
            if !san.0.iter().any(is_camera) {
                return Err("camera certificate is not a camera of this site".into());
            }
            let extensions = tbs.extensions().into_iter().flatten();
            let scopes = extensions
                .into_iter()
                .find(|e| e.extn_id == ID_SCOPES)
                .ok_or("no scopes")?;
            let scopes = Vec::<Utf8StringRef<'_>>::from_der(scopes.extn_value.as_bytes())?;
            if !REQUIRED_SCOPES
                .iter()
                .all(|s| scopes.iter().any(|held| held.as_str() == *s))
            {
                return Err("camera certificate lacks a scope".into());
            }
            p256_key(&cam)?;
            Ok(())
        }

        pub(crate) fn decode(site_ca: &[u8], camera: &[u8]) -> Verdict {
            p256_key(&Certificate::from_der(site_ca)?)?;
            p256_key(&Certificate::from_der(camera)?)?;
            Ok(())
        }

        /// The chain's signatures with ECDSA converted to the `r || s` form Ward verifies.
        pub(crate) fn signatures(fleet: &Fleet, wire: &Wire) -> Vec<Signed> {
            let mut chain = carried_signatures(fleet, wire);
            let camera = &mut chain[1].signature;
            let fixed = p256::ecdsa::Signature::from_der(camera).expect("an ECDSA signature");
            *camera = fixed.to_bytes().to_vec();
            chain
        }
    }
}

/// One row of a benchmark group: its name as criterion reports it, the chain it is given, and
/// what it does with the chain's two links.
type Case<'a> = (
    &'static str,
    &'a Wire,
    Box<dyn Fn(&[u8], &[u8]) -> Verdict + 'a>,
);

/// Checks that every case accepts its genuine chain, then measures each.
fn bench_group(c: &mut Criterion, name: &str, cases: &[Case<'_>]) {
    let mut group = c.benchmark_group(name);
    for (case, wire, run) in cases {
        if let Err(error) = run(&wire.site_ca, &wire.camera) {
            panic!("{name}/{case} failed on a genuine chain: {error}");
        }
        group.bench_function(*case, |b| {
            b.iter(|| run(black_box(&wire.site_ca), black_box(&wire.camera)))
        });
    }
    group.finish();
}

/// Checks that every verifier refuses a camera whose signature was changed, so the timings are
/// of verifications that check what they claim to. Ten bytes from the end lies inside the
/// signature in all three formats, and 'A' and 'B' are both base64url characters.
fn check_refuses_forgery(cases: &[Case<'_>]) {
    for (case, wire, run) in cases {
        let mut camera = wire.camera.clone();
        let at = camera.len() - 10;
        camera[at] = if camera[at] == b'A' { b'B' } else { b'A' };
        assert!(
            run(&wire.site_ca, &camera).is_err(),
            "{case} accepted a forged camera"
        );
    }
}

fn benches(c: &mut Criterion) {
    let fleet = Fleet::new();
    let (cwt_root, cwt) = cwt::encode(&fleet);
    let (jwt_anchor, jwt) = jwt::encode(&fleet);
    let (root_der, x509) = x509::encode(&fleet);
    let webpki_anchors = x509::webpki_ring::anchors(&root_der);
    let rustcrypto_anchor = x509::rustcrypto::anchor(&root_der);

    eprintln!("chain bytes as transmitted (site CA + camera; the trust anchor is not sent):");
    for (format, wire, anchor) in [
        ("cwt", &cwt, "root CWT"),
        ("jwt", &jwt, "raw Ed25519 key"),
        ("x509", &x509, "root cert"),
    ] {
        let (site_ca, camera) = (wire.site_ca.len(), wire.camera.len());
        eprintln!(
            "  {format:<4}  site CA {site_ca:>4} + camera {camera:>4} = {:>4} bytes   \
             (anchor: {anchor}, {} bytes)",
            site_ca + camera,
            wire.anchor_len,
        );
    }

    let verify: [Case<'_>; 4] = [
        (
            "cwt",
            &cwt,
            Box::new(|site, cam| cwt::verify(&cwt_root, site, cam)),
        ),
        (
            "jwt",
            &jwt,
            Box::new(|site, cam| jwt::verify(&jwt_anchor, site, cam)),
        ),
        (
            "x509_webpki",
            &x509,
            Box::new(|site, cam| x509::webpki_ring::verify(&webpki_anchors, site, cam)),
        ),
        (
            "x509_rustcrypto",
            &x509,
            Box::new(|site, cam| x509::rustcrypto::verify(&rustcrypto_anchor, site, cam)),
        ),
    ];
    check_refuses_forgery(&verify);
    bench_group(c, "chain_verify", &verify);

    let decode: [Case<'_>; 3] = [
        ("cwt", &cwt, Box::new(cwt::decode)),
        ("jwt", &jwt, Box::new(jwt::decode)),
        ("x509", &x509, Box::new(x509::rustcrypto::decode)),
    ];
    bench_group(c, "chain_decode", &decode);

    // The signed bytes and signatures are extracted once; these rows time the crypto alone.
    let cwt_signed = cwt::signatures(&fleet);
    let jwt_signed = jwt::signatures(&fleet, &jwt);
    let x509_signed = x509::rustcrypto::signatures(&fleet, &x509);
    let ring_signed = x509::webpki_ring::signatures(&fleet, &x509);
    let signatures: [Case<'_>; 4] = [
        (
            "cwt",
            &cwt,
            Box::new(|_, _| verify_signatures(black_box(&cwt_signed))),
        ),
        (
            "jwt",
            &jwt,
            Box::new(|_, _| verify_signatures(black_box(&jwt_signed))),
        ),
        (
            "x509_rustcrypto",
            &x509,
            Box::new(|_, _| verify_signatures(black_box(&x509_signed))),
        ),
        (
            "x509_ring",
            &x509,
            Box::new(|_, _| x509::webpki_ring::verify_signatures(black_box(&ring_signed))),
        ),
    ];
    bench_group(c, "chain_signatures", &signatures);
}

criterion_group!(chain, benches);
criterion_main!(chain);
