//! A small fleet for unit tests: a root, one site CA and a camera, from a seeded RNG.

use alloc::string::String;
use alloc::vec;

use crate::credential::{Credential, Role};
use crate::issue::{self, CredentialRequest, Issuer};
use crate::keys::SecretKey;
use crate::test_rng::TestRng;

/// 2026-01-01T00:00:00Z.
pub(crate) const NOW: u64 = 1_767_225_600;
pub(crate) const DAY: u64 = 86_400;

pub(crate) struct Fleet {
    pub rng: TestRng,
    pub root_key: SecretKey,
    pub root: Credential,
    pub site_key: SecretKey,
    pub site_ca: Credential,
}

impl Fleet {
    pub(crate) fn new(seed: u64) -> Fleet {
        Self::with_site(seed, "site-a")
    }

    pub(crate) fn with_site(seed: u64, site: &str) -> Fleet {
        let mut rng = TestRng::new(seed);
        let root_key = SecretKey::generate_ed25519(&mut rng);
        let root = issue::fleet_root("fleet:acme", &root_key, NOW, 3650 * DAY, &mut rng)
            .expect("root issuance");
        let site_key = SecretKey::generate_p256(&mut rng);
        let request = CredentialRequest {
            subject: String::from(site),
            role: Role::SiteCa,
            key: site_key.public_key(),
            scopes: vec![],
            lifetime_secs: 365 * DAY,
        };
        let site_ca = Issuer::new(&root_key, &root)
            .and_then(|root| root.issue(&request, NOW, &mut rng))
            .expect("site CA issuance");
        Fleet {
            rng,
            root_key,
            root,
            site_key,
            site_ca,
        }
    }

    /// Issues a leaf for a fresh P-256 key; returns the key and the credential.
    pub(crate) fn leaf(
        &mut self,
        role: Role,
        subject: &str,
        scopes: &[&str],
    ) -> (SecretKey, Credential) {
        let key = SecretKey::generate_p256(&mut self.rng);
        let request = CredentialRequest {
            subject: subject.into(),
            role,
            key: key.public_key(),
            scopes: scopes.iter().map(|s| String::from(*s)).collect(),
            lifetime_secs: 30 * DAY,
        };
        let credential = Issuer::new(&self.site_key, &self.site_ca)
            .and_then(|ca| ca.issue(&request, NOW, &mut self.rng))
            .expect("leaf issuance");
        (key, credential)
    }
}
