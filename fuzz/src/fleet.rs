//! A fixed fleet: a fleet root, one site CA and one camera, whose keys never change.
//!
//! The keys are written into the code on purpose. The fuzz targets verify what they decode
//! against this fleet, and the seeds that `make_seeds` writes are signed by it, so a seed
//! passes every check and a mutated seed fails exactly one. Nothing here protects anything.

use std::sync::OnceLock;

use ward_crypto::{
    Claims, Credential, FleetRoot, NoRevocations, Policy, Role, SecretKey, Serial, TrustedSiteCa,
};

/// The time the targets validate at: 2026-01-01T00:00:00Z, in seconds since the UNIX epoch.
pub const NOW: u64 = 1_767_225_600;
/// A year in seconds, for validity periods.
pub const YEAR: u64 = 365 * 86_400;

/// The fleet root's name, which site CAs carry as their issuer.
pub const ROOT_NAME: &str = "fleet:fuzz";
/// The site CA's subject, which is also its site.
pub const SITE: &str = "site-fuzz";
/// The camera's subject.
pub const CAMERA_NAME: &str = "camera-0001";
/// The scope the targets' leaf policy asks for, and the camera holds.
pub const CAMERA_SCOPE: &str = "stream:publish";

/// The fleet's keys and credentials, validated once when first asked for.
#[derive(Debug)]
pub struct Fleet {
    /// The fleet root's Ed25519 key.
    pub root_key: SecretKey,
    /// The site CA's P-256 key.
    pub site_key: SecretKey,
    /// The camera's P-256 key.
    pub camera_key: SecretKey,
    /// The trust anchor.
    pub root: FleetRoot,
    /// The site CA, validated against the root at [`NOW`].
    pub site_ca: TrustedSiteCa,
    /// The camera's credential, issued by the site CA.
    pub camera: Credential,
}

/// The fleet, built on first use.
pub fn fleet() -> &'static Fleet {
    static FLEET: OnceLock<Fleet> = OnceLock::new();
    FLEET.get_or_init(Fleet::build)
}

/// The policy the targets hold a leaf of role `role` to: the fleet's site and [`CAMERA_SCOPE`].
pub fn leaf_policy(role: Role) -> Policy<'static> {
    Policy {
        role,
        scopes: &[CAMERA_SCOPE],
        site: Some(SITE),
        ..Policy::role(role)
    }
}

impl Fleet {
    fn build() -> Fleet {
        let root_key = key_file(0x01, 0x06, [0x52; 32]);
        let site_key = key_file(0x02, 0x01, [0x5c; 32]);
        let camera_key = key_file(0x02, 0x01, [0xca; 32]);

        let root = Credential::sign(
            claims(
                ROOT_NAME,
                ROOT_NAME,
                &root_key,
                Role::FleetRoot,
                None,
                &[],
                1,
            ),
            &root_key,
        );
        let site_ca = Credential::sign(
            claims(ROOT_NAME, SITE, &site_key, Role::SiteCa, Some(SITE), &[], 2),
            &root_key,
        );
        let camera = Credential::sign(
            claims(
                SITE,
                CAMERA_NAME,
                &camera_key,
                Role::Camera,
                Some(SITE),
                &[CAMERA_SCOPE],
                3,
            ),
            &site_key,
        );

        // A fleet that fails its own validation would make every target's oracle wrong.
        let root = FleetRoot::new(root).expect("the fixed root is self-signed and well formed");
        let site_ca = root
            .validate_site_ca(&site_ca, NOW, &NoRevocations)
            .expect("the fixed site CA chains to the fixed root");
        site_ca
            .validate_leaf(&camera, &leaf_policy(Role::Camera), NOW, &NoRevocations)
            .expect("the fixed camera chains to the fixed site CA");
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

/// A private key from a COSE_Key `{1: kty, -1: crv, -4: d}`, the one constructor ward-crypto
/// offers that takes fixed bytes.
pub(crate) fn key_file(kty: u8, crv: u8, d: [u8; 32]) -> SecretKey {
    let mut file = vec![0xa3, 0x01, kty, 0x20, crv, 0x23, 0x58, 0x20];
    file.extend_from_slice(&d);
    SecretKey::from_cose_key_bytes(&file).expect("a COSE_Key with 32 bytes of a valid scalar")
}

pub(crate) fn claims(
    issuer: &str,
    subject: &str,
    key: &SecretKey,
    role: Role,
    site: Option<&str>,
    scopes: &[&str],
    serial: u8,
) -> Claims {
    Claims {
        issuer: issuer.into(),
        subject: subject.into(),
        issued_at: NOW - YEAR,
        not_before: NOW - YEAR,
        expires: NOW + 5 * YEAR,
        serial: Serial::from_slice(&[serial; Serial::ISSUED_LEN]).expect("an issued-length serial"),
        key: key.public_key(),
        role,
        site: site.map(String::from),
        scopes: scopes.iter().map(|scope| String::from(*scope)).collect(),
    }
}
