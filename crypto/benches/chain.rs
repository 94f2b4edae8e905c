//! What it costs a node to verify a camera's credential chain, and how many bytes the chain
//! takes on the wire, in Ward's CWT format and in the two formats it stands in for.
//!
//! A node admitting a camera receives the site CA's credential and the camera's credential as
//! bytes. It decodes both, checks both signatures, and checks every rule of the chain against
//! the fleet root it already trusts. The same chain (the same keys, names, serials, validity
//! periods, role, site and scopes) is built four ways and verified from its bytes each time:
//!
//! ```text
//! chain_verify/cwt              2 CWTs (COSE_Sign1): ward-crypto, p256 and ed25519-dalek
//! chain_verify/jwt              2 JWTs (compact JWS): jsonwebtoken 12, rust_crypto provider,
//!                               which is the same p256 and ed25519-dalek
//! chain_verify/x509_webpki      2 X.509 DER certificates: rustls-webpki 0.103, ring signatures
//! chain_verify/x509_rustcrypto  2 X.509 DER certificates: x509-cert parsing, then Ward's own
//!                               p256 / ed25519-dalek signature code and the same rules as Ward
//! signature_verify/*            the signature checks alone, to tell crypto cost from format cost
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
        let mut rng = SeededRng::new(0x5741_5244);
        let root_key = SecretKey::generate_ed25519(&mut rng);
        let site_key = SecretKey::generate_p256(&mut rng);
        let camera_key = SecretKey::generate_p256(&mut rng);
        let root = issue::fleet_root(FLEET, &root_key, ISSUED, 3650 * DAY, &mut rng)
            .expect("an Ed25519 key with a valid name makes a fleet root");
        let site_request = CredentialRequest {
            subject: SITE.into(),
            role: Role::SiteCa,
            key: site_key.public_key(),
            scopes: vec![],
            lifetime_secs: 365 * DAY,
        };
        let site_ca = Issuer::new(&root_key, &root)
            .and_then(|root| root.issue(&site_request, ISSUED, &mut rng))
            .expect("the fleet root issues a P-256 site CA");
        let camera_request = CredentialRequest {
            subject: CAMERA.into(),
            role: Role::Camera,
            key: camera_key.public_key(),
            scopes: CAMERA_SCOPES.iter().map(|scope| (*scope).into()).collect(),
            lifetime_secs: 30 * DAY,
        };
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

/// The encoded chain as a node receives it, and the anchor it verifies it against.
struct Encoded<A, T> {
    anchor: A,
    anchor_len: usize,
    site_ca: T,
    camera: T,
}

impl<A, T: AsRef<[u8]>> Encoded<A, T> {
    fn chain_len(&self) -> usize {
        self.site_ca.as_ref().len() + self.camera.as_ref().len()
    }
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

mod cwt {
    use super::*;

    pub(crate) fn encode(fleet: &Fleet) -> Encoded<FleetRoot, Vec<u8>> {
        Encoded {
            anchor: FleetRoot::new(fleet.root.clone()).expect("the fleet root is self-signed"),
            anchor_len: fleet.root.as_bytes().len(),
            site_ca: fleet.site_ca.as_bytes().to_vec(),
            camera: fleet.camera.as_bytes().to_vec(),
        }
    }

    pub(crate) fn verify(root: &FleetRoot, site_ca: &[u8], camera: &[u8]) -> Verdict {
        let site_ca = Credential::decode(site_ca)?;
        let camera = Credential::decode(camera)?;
        root.validate(&site_ca, &camera, &camera_policy(), NOW, &NoRevocations)?;
        Ok(())
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
        Claims {
            iss: claims.issuer.clone(),
            sub: claims.subject.clone(),
            iat: claims.issued_at,
            nbf: claims.not_before,
            exp: claims.expires,
            jti: URL_SAFE_NO_PAD.encode(claims.serial.as_bytes()),
            cnf: Confirmation {
                jwk: p256_jwk(&claims.key),
            },
            role: claims.role.name().into(),
            site: claims
                .site
                .clone()
                .expect("site CAs and cameras belong to a site"),
            scopes: claims.scopes.clone(),
        }
    }

    fn p256_jwk(key: &PublicKey) -> Jwk {
        let PublicKey::P256(key) = key else {
            panic!("site CAs and cameras hold P-256 keys")
        };
        let point = key.to_sec1_point(false);
        let coordinate = |c: Option<&[u8]>| {
            URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point has both coordinates"))
        };
        Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: coordinate(point.x().map(|x| x.as_slice())),
                y: coordinate(point.y().map(|y| y.as_slice())),
            }),
        }
    }

    pub(crate) fn encode(fleet: &Fleet) -> Encoded<Anchor, String> {
        let SecretKey::Ed25519(root_key) = &fleet.root_key else {
            panic!("the root is Ed25519")
        };
        let SecretKey::P256(site_key) = &fleet.site_key else {
            panic!("the site CA is P-256")
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
        Encoded {
            anchor: Anchor {
                key: DecodingKey::from_ed_der(&root_public),
                eddsa: signature_only(Algorithm::EdDSA),
                es256: signature_only(Algorithm::ES256),
            },
            anchor_len: root_public.len(),
            site_ca,
            camera,
        }
    }

    pub(crate) fn verify(anchor: &Anchor, site_ca: &str, camera: &str) -> Verdict {
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
        // curve, as the CWT and X.509 verifiers do.
        let cam_key = DecodingKey::from_jwk(&cam.cnf.jwk)?;
        p256::PublicKey::from_sec1_bytes(cam_key.try_get_as_bytes()?)?;
        Ok(())
    }
}

/// The chain as X.509 certificates in the shape RFC 5280 asks of a CA: basic constraints, key
/// usage, subject and authority key identifiers; the camera's role and site in a SPIFFE-style
/// URI SAN, its scopes in a private extension, clientAuth as its extended key usage.
mod x509 {
    use std::time::Duration;

    use rcgen::{
        CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber, SignatureAlgorithm,
    };
    use sha2::{Digest as _, Sha256};
    use x509_cert::Certificate;
    use x509_cert::der::asn1::{ObjectIdentifier, Utf8StringRef};
    use x509_cert::der::{Decode as _, Encode as _, Reader as _, SliceReader};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
    use x509_cert::name::Name;

    use super::*;

    /// Where the camera's scopes live: an OID under the documentation enterprise number
    /// (RFC 5612), since no registered extension carries application scopes.
    const SCOPES_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 32473, 1, 1];
    const ID_SCOPES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1.1");
    const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    /// Extensions this verifier understands; RFC 5280 §4.2 refuses any other marked critical.
    const KNOWN: [ObjectIdentifier; 7] = [
        ObjectIdentifier::new_unwrap("2.5.29.14"), // subject key identifier
        ObjectIdentifier::new_unwrap("2.5.29.35"), // authority key identifier
        ObjectIdentifier::new_unwrap("2.5.29.15"), // key usage
        ObjectIdentifier::new_unwrap("2.5.29.19"), // basic constraints
        ObjectIdentifier::new_unwrap("2.5.29.17"), // subject alternative name
        ObjectIdentifier::new_unwrap("2.5.29.37"), // extended key usage
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
            match secret {
                SecretKey::Ed25519(key) => X509Key {
                    secret,
                    public: key.verifying_key().to_bytes().to_vec(),
                    algorithm: &rcgen::PKCS_ED25519,
                },
                SecretKey::P256(key) => X509Key {
                    secret,
                    public: key.verifying_key().to_sec1_bytes().to_vec(),
                    algorithm: &rcgen::PKCS_ECDSA_P256_SHA256,
                },
                _ => panic!("Ward keys are Ed25519 or P-256"),
            }
        }

        /// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey.
        fn key_id(&self) -> KeyIdMethod {
            KeyIdMethod::PreSpecified(Sha256::digest(&self.public)[..20].to_vec())
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
            match self.secret {
                SecretKey::P256(_) => {
                    // RFC 5758 §3.2: X.509 carries ECDSA signatures as a DER SEQUENCE of r and s.
                    let signature = p256::ecdsa::Signature::from_slice(&signature)
                        .map_err(|_| rcgen::Error::RemoteKeyError)?;
                    Ok(signature.to_der().as_bytes().to_vec())
                }
                _ => Ok(signature.to_vec()),
            }
        }
    }

    /// Certificate parameters carrying a CWT's subject, serial and validity period.
    fn params(credential: &Credential, key: &X509Key<'_>) -> CertificateParams {
        let claims = credential.claims();
        let epoch_offset = |secs: u64| Duration::from_secs(secs - ISSUED);
        let mut params = CertificateParams::default();
        let issued = rcgen::date_time_ymd(2026, 1, 1);
        assert_eq!(
            issued.unix_timestamp(),
            ISSUED as i64,
            "ISSUED is 2026-01-01"
        );
        params.not_before = issued + epoch_offset(claims.not_before);
        params.not_after = issued + epoch_offset(claims.expires);
        params.serial_number = Some(SerialNumber::from_slice(claims.serial.as_bytes()));
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, claims.subject.as_str());
        params.key_identifier_method = key.key_id();
        params
    }

    pub(crate) fn encode(fleet: &Fleet) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
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
            .expect("the root signs the site CA");

        let mut camera = params(&fleet.camera, &camera_key);
        camera.is_ca = IsCa::ExplicitNoCa;
        camera.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        camera.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        camera.use_authority_key_identifier_extension = true;
        let uri = format!("{CAMERA_URI_PREFIX}{CAMERA}");
        camera.subject_alt_names = vec![SanType::URI(
            uri.as_str().try_into().expect("a SPIFFE ID is ASCII"),
        )];
        let scopes: Vec<Utf8StringRef<'_>> = CAMERA_SCOPES
            .iter()
            .map(|scope| Utf8StringRef::new(scope).expect("scopes are UTF-8"))
            .collect();
        let scopes = scopes.to_der().expect("a SEQUENCE OF UTF8String encodes");
        camera.custom_extensions = vec![CustomExtension::from_oid_content(SCOPES_OID, scopes)];
        let site_issuer = rcgen::Issuer::from_params(&site, &site_key);
        let camera_der = camera
            .signed_by(&camera_key, &site_issuer)
            .expect("the site CA signs the camera");

        (
            root_der.der().to_vec(),
            site_der.der().to_vec(),
            camera_der.der().to_vec(),
        )
    }

    pub(crate) mod webpki_ring {
        use rustls_pki_types::{
            CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
        };
        use webpki::{EndEntityCert, KeyUsage};

        use super::*;

        static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] =
            &[webpki::ring::ED25519, webpki::ring::ECDSA_P256_SHA256];

        pub(crate) fn anchor(root_der: &[u8]) -> Vec<TrustAnchor<'static>> {
            let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(root_der))
                .expect("the root certificate is a usable trust anchor")
                .to_owned();
            vec![anchor]
        }

        pub(crate) fn verify(
            anchors: &[TrustAnchor<'_>],
            site_ca: &[u8],
            camera: &[u8],
        ) -> Verdict {
            let camera = CertificateDer::from(camera);
            let camera = EndEntityCert::try_from(&camera)?;
            let intermediates = [CertificateDer::from(site_ca)];
            camera.verify_for_usage(
                ALGORITHMS,
                anchors,
                &intermediates,
                UnixTime::since_unix_epoch(Duration::from_secs(NOW)),
                KeyUsage::client_auth(),
                None,
                None,
            )?;
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

        /// The DER of the `tbsCertificate` exactly as received, which is what the signature
        /// covers: re-encoding the parsed form would cost time and could differ from the input.
        fn signed_bytes(der: &[u8]) -> Result<&[u8], x509_cert::der::Error> {
            SliceReader::new(der)?.sequence(|certificate| {
                let tbs = certificate.tlv_bytes()?;
                certificate.tlv_bytes()?; // signatureAlgorithm
                certificate.tlv_bytes()?; // signatureValue
                Ok(tbs)
            })
        }

        /// Checks that `certificate` names `issuer` and verifies under `key`, with Ward's own
        /// signature code.
        fn check_issued_by(
            certificate: &Certificate,
            der: &[u8],
            issuer: &Name,
            key: &PublicKey,
        ) -> Verdict {
            let tbs = certificate.tbs_certificate();
            if tbs.issuer() != issuer {
                return Err("issuer name does not match".into());
            }
            // RFC 5280 §4.1.2.3: the inner and outer signature algorithms must agree.
            let algorithm = certificate.signature_algorithm();
            if tbs.signature() != algorithm {
                return Err("signature algorithms disagree".into());
            }
            let signature = certificate
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

        fn check_validity(certificate: &Certificate) -> Verdict {
            let validity = certificate.tbs_certificate().validity();
            let not_before = validity.not_before.to_unix_duration().as_secs();
            let not_after = validity.not_after.to_unix_duration().as_secs();
            // RFC 5280 §4.1.2.5: notAfter is the last valid second, so it is inclusive.
            check_period(not_before, not_after + 1)
        }

        fn check_critical_extensions(certificate: &Certificate) -> Verdict {
            let extensions = certificate
                .tbs_certificate()
                .extensions()
                .into_iter()
                .flatten();
            for extension in extensions {
                if extension.critical && !KNOWN.contains(&extension.extn_id) {
                    return Err("unknown critical extension".into());
                }
            }
            Ok(())
        }

        fn p256_key(certificate: &Certificate) -> Result<PublicKey, Box<dyn Error>> {
            let spki = certificate.tbs_certificate().subject_public_key_info();
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .map(|p| p.decode_as::<ObjectIdentifier>());
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
            check_validity(&ca)?;
            check_critical_extensions(&ca)?;
            let tbs = ca.tbs_certificate();
            let constraints = tbs.get_extension::<BasicConstraints>()?.map(|(_, bc)| bc);
            let end_entities_only = BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            };
            if constraints != Some(end_entities_only) {
                return Err("site CA is not a CA for end entities only".into());
            }
            if !tbs
                .get_extension::<KeyUsage>()?
                .is_some_and(|(_, usage)| usage.key_cert_sign())
            {
                return Err("site CA may not sign certificates".into());
            }
            let ca_key = p256_key(&ca)?;

            // The camera: signed ES256 by the site CA, an end entity for client authentication,
            // of role camera at this site, holding the required scopes.
            let cam = Certificate::from_der(camera)?;
            check_issued_by(&cam, camera, tbs.subject(), &ca_key)?;
            check_validity(&cam)?;
            check_critical_extensions(&cam)?;
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
            let in_role = san.0.iter().any(|name| match name {
                GeneralName::UniformResourceIdentifier(uri) => uri
                    .as_str()
                    .strip_prefix(CAMERA_URI_PREFIX)
                    .is_some_and(|id| !id.is_empty()),
                _ => false,
            });
            if !in_role {
                return Err("camera certificate is not a camera of this site".into());
            }
            let scopes = tbs
                .extensions()
                .into_iter()
                .flatten()
                .find(|extension| extension.extn_id == ID_SCOPES)
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
    }
}

/// Flips one bit of the last byte, which in a CWT and in a DER certificate is the signature's.
fn tampered(bytes: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    *bytes.last_mut().expect("a chain link is not empty") ^= 0x01;
    bytes
}

/// Changes one base64url character well inside the JWT's signature, so that the signature
/// still decodes but no longer verifies.
fn tampered_jwt(token: &str) -> String {
    let at = token.len() - 10;
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    let mut token = token.to_string();
    token.replace_range(at..=at, replacement);
    token
}

fn print_sizes<A, T: AsRef<[u8]>>(format: &str, chain: &Encoded<A, T>, anchor: &str) {
    eprintln!(
        "  {format:<4}  site CA {:>4} + camera {:>4} = {:>4} bytes   (anchor: {anchor}, {} bytes)",
        chain.site_ca.as_ref().len(),
        chain.camera.as_ref().len(),
        chain.chain_len(),
        chain.anchor_len,
    );
}

fn chain_verify(c: &mut Criterion) {
    let fleet = Fleet::new();
    let cwt = cwt::encode(&fleet);
    let jwt = jwt::encode(&fleet);
    let (root_der, site_der, camera_der) = x509::encode(&fleet);
    let webpki = Encoded {
        anchor: x509::webpki_ring::anchor(&root_der),
        anchor_len: root_der.len(),
        site_ca: site_der.clone(),
        camera: camera_der.clone(),
    };
    let rustcrypto = Encoded {
        anchor: x509::rustcrypto::anchor(&root_der),
        anchor_len: root_der.len(),
        site_ca: site_der,
        camera: camera_der,
    };

    // Every verifier accepts its chain and refuses it once the camera's signature is broken,
    // so the timings below are of verifications that check what they claim to.
    let (w, r) = (&webpki, &rustcrypto);
    let checks = [
        (
            "cwt",
            cwt::verify(&cwt.anchor, &cwt.site_ca, &cwt.camera),
            cwt::verify(&cwt.anchor, &cwt.site_ca, &tampered(&cwt.camera)),
        ),
        (
            "jwt",
            jwt::verify(&jwt.anchor, &jwt.site_ca, &jwt.camera),
            jwt::verify(&jwt.anchor, &jwt.site_ca, &tampered_jwt(&jwt.camera)),
        ),
        (
            "x509_webpki",
            x509::webpki_ring::verify(&w.anchor, &w.site_ca, &w.camera),
            x509::webpki_ring::verify(&w.anchor, &w.site_ca, &tampered(&w.camera)),
        ),
        (
            "x509_rustcrypto",
            x509::rustcrypto::verify(&r.anchor, &r.site_ca, &r.camera),
            x509::rustcrypto::verify(&r.anchor, &r.site_ca, &tampered(&r.camera)),
        ),
    ];
    for (format, genuine, forged) in checks {
        if let Err(error) = genuine {
            panic!("{format} refused a valid chain: {error}");
        }
        assert!(
            forged.is_err(),
            "{format} accepted a camera with a broken signature"
        );
    }

    eprintln!("chain bytes as transmitted (site CA + camera; the trust anchor is not sent):");
    print_sizes("cwt", &cwt, "root CWT");
    print_sizes("jwt", &jwt, "raw Ed25519 key");
    print_sizes("x509", &webpki, "root certificate");

    let mut group = c.benchmark_group("chain_verify");
    group.bench_function("cwt", |b| {
        b.iter(|| cwt::verify(&cwt.anchor, black_box(&cwt.site_ca), black_box(&cwt.camera)))
    });
    group.bench_function("jwt", |b| {
        b.iter(|| jwt::verify(&jwt.anchor, black_box(&jwt.site_ca), black_box(&jwt.camera)))
    });
    group.bench_function("x509_webpki", |b| {
        b.iter(|| {
            x509::webpki_ring::verify(
                &webpki.anchor,
                black_box(&webpki.site_ca),
                black_box(&webpki.camera),
            )
        })
    });
    group.bench_function("x509_rustcrypto", |b| {
        b.iter(|| {
            x509::rustcrypto::verify(
                &rustcrypto.anchor,
                black_box(&rustcrypto.site_ca),
                black_box(&rustcrypto.camera),
            )
        })
    });
    group.finish();
}

/// The signature checks alone, over a message the size of a camera credential's signed part:
/// two of each chain's cost, and the whole difference between ring and RustCrypto.
fn signature_verify(c: &mut Criterion) {
    let fleet = Fleet::new();
    let message = [0x5a_u8; 256];
    let ed25519 = fleet.root_key.sign(&message);
    let p256_fixed = fleet.site_key.sign(&message);
    let p256_der = p256::ecdsa::Signature::from_slice(&p256_fixed)
        .expect("Ward signs ES256 as r || s")
        .to_der();
    let SecretKey::Ed25519(root) = &fleet.root_key else {
        panic!("the root is Ed25519")
    };
    let SecretKey::P256(site) = &fleet.site_key else {
        panic!("the site CA is P-256")
    };
    let root_raw = root.verifying_key().to_bytes();
    let site_sec1 = site.verifying_key().to_sec1_bytes();
    let (root_key, site_key) = (fleet.root_key.public_key(), fleet.site_key.public_key());

    let mut group = c.benchmark_group("signature_verify");
    group.bench_function("ed25519_dalek", |b| {
        b.iter(|| root_key.verify(black_box(&message), black_box(&ed25519)))
    });
    group.bench_function("p256_rustcrypto", |b| {
        b.iter(|| site_key.verify(black_box(&message), black_box(&p256_fixed)))
    });
    group.bench_function("ed25519_ring", |b| {
        b.iter(|| webpki::ring::ED25519.verify_signature(&root_raw, black_box(&message), &ed25519))
    });
    group.bench_function("p256_ring", |b| {
        b.iter(|| {
            webpki::ring::ECDSA_P256_SHA256.verify_signature(
                &site_sec1,
                black_box(&message),
                p256_der.as_bytes(),
            )
        })
    });
    group.finish();
}

/// SHA-256 in counter mode over a seed, as in ward-crypto's unit tests: the same keys, serials
/// and therefore the same bytes on every run.
struct SeededRng {
    seed: u64,
    counter: u64,
}

impl SeededRng {
    fn new(seed: u64) -> SeededRng {
        SeededRng { seed, counter: 0 }
    }
}

impl rand_core::TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        use sha2::{Digest as _, Sha256};
        for chunk in dst.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(self.seed.to_le_bytes())
                .chain_update(self.counter.to_le_bytes())
                .finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SeededRng {}

criterion_group!(benches, chain_verify, signature_verify);
criterion_main!(benches);
