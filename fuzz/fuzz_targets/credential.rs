//! Fuzz target `credential`: `Credential::decode` on untrusted bytes.
//!
//! A credential that decodes must keep its bytes exactly, decode the same way twice, respect
//! the documented size limits, and go through signature checks and chain validation against
//! the fixed fleet without panicking. Whatever the chain accepts is then re-checked from the
//! claims: a site CA the root accepted must verify under the root key and name the root as
//! issuer, a leaf the site CA accepted must verify under the site CA key, hold the policy's
//! site, role and scope and a key of the type its role requires, and both must be inside their
//! validity period. Last, the claims are signed again: Ward must read back what it writes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::chain::DEFAULT_LEEWAY_SECS;
use ward_crypto::credential::{MAX_CREDENTIAL_LEN, MAX_NAME_LEN, MAX_SCOPES, MAX_SERIAL_LEN};
use ward_crypto::{Algorithm, Claims, Credential, DecodeError, FleetRoot, NoRevocations, Role};
use ward_fuzz::fleet::{CAMERA_SCOPE, NOW, ROOT_NAME, SITE, fleet, leaf_policy};

fuzz_target!(|data: &[u8]| {
    let Ok(credential) = Credential::decode(data) else {
        return;
    };
    check_decoding(data, &credential);
    check_as_root(&credential);
    check_as_site_ca(&credential);
    check_as_leaf(&credential);
    check_signing_again(&credential);
});

/// The decoded value keeps the input, within the limits, and decodes again to the same.
fn check_decoding(data: &[u8], credential: &Credential) {
    assert_eq!(credential.as_bytes(), data);
    assert!(data.len() <= MAX_CREDENTIAL_LEN);

    let again = Credential::decode(credential.as_bytes()).expect("decoded bytes decode again");
    assert_eq!(again.claims(), credential.claims());
    assert_eq!(again.key_id(), credential.key_id());
    assert_eq!(again.algorithm(), credential.algorithm());
    assert_eq!(again.signature(), credential.signature());

    let claims = credential.claims();
    assert_eq!(credential.key_id(), claims.key.key_id());
    assert!((1..=MAX_SERIAL_LEN).contains(&claims.serial.as_bytes().len()));
    assert!(claims.scopes.len() <= MAX_SCOPES);
    let names = [&claims.issuer, &claims.subject]
        .into_iter()
        .chain(&claims.site);
    assert!(
        names
            .chain(&claims.scopes)
            .all(|name| name.len() <= MAX_NAME_LEN)
    );
    // Debug must print, and must not depend on anything a decoder could leave half-built.
    let _ = format!("{credential:?}");
}

/// As a trust anchor: accepted only if it is a self-signed Ed25519 fleet root.
fn check_as_root(credential: &Credential) {
    let claims = credential.claims();
    let self_signed = credential.verify_signature(&claims.key);
    if FleetRoot::new(credential.clone()).is_ok() {
        assert_eq!(claims.role, Role::FleetRoot);
        assert_eq!(credential.algorithm(), Algorithm::EdDsa);
        assert_eq!(claims.issuer, claims.subject);
        assert!(
            self_signed.is_ok(),
            "a fleet root was accepted without its self-signature"
        );
    }
}

/// As a site CA under the fixed root.
fn check_as_site_ca(credential: &Credential) {
    let fleet = fleet();
    let signed_by_root = credential.verify_signature(fleet.root.key());
    let Ok(site_ca) = fleet.root.validate_site_ca(credential, NOW, &NoRevocations) else {
        return;
    };
    let claims = credential.claims();
    assert!(
        signed_by_root.is_ok(),
        "a site CA was accepted without the root's signature"
    );
    assert_eq!(claims.issuer, ROOT_NAME);
    assert_eq!(claims.role, Role::SiteCa);
    assert_eq!(claims.key.algorithm(), Algorithm::Es256);
    assert_valid_at_now(claims);
    assert_eq!(site_ca.name(), claims.subject);
    assert_eq!(site_ca.key(), &claims.key);
}

/// As an end entity under the fixed site CA, asked for its own role.
fn check_as_leaf(credential: &Credential) {
    let fleet = fleet();
    let claims = credential.claims();
    let signed_by_site_ca = credential.verify_signature(fleet.site_ca.key());
    let policy = leaf_policy(claims.role);
    if fleet
        .site_ca
        .validate_leaf(credential, &policy, NOW, &NoRevocations)
        .is_err()
    {
        return;
    }
    assert!(
        signed_by_site_ca.is_ok(),
        "a leaf was accepted without the site CA's signature"
    );
    assert_eq!(claims.issuer, fleet.site_ca.name());
    assert!(
        !claims.role.is_authority(),
        "a site CA accepted a {} under it",
        claims.role
    );
    let required = claims.role.required_key_algorithm();
    assert!(
        required.is_none_or(|algorithm| claims.key.algorithm() == algorithm),
        "{claims:?}"
    );
    assert_eq!(claims.site.as_deref(), Some(SITE));
    assert!(claims.has_scope(CAMERA_SCOPE));
    assert_valid_at_now(claims);
}

fn assert_valid_at_now(claims: &Claims) {
    assert!(
        claims.not_before <= NOW.saturating_add(DEFAULT_LEEWAY_SECS),
        "{claims:?}"
    );
    assert!(
        NOW < claims.expires.saturating_add(DEFAULT_LEEWAY_SECS),
        "{claims:?}"
    );
}

/// The claims, signed again, decode to the same claims, and signing is deterministic.
fn check_signing_again(credential: &Credential) {
    let key = &fleet().root_key;
    let resigned = Credential::sign(credential.claims().clone(), key);
    assert!(resigned.verify_signature(&key.public_key()).is_ok());
    match Credential::decode(resigned.as_bytes()) {
        Ok(decoded) => {
            assert_eq!(decoded.claims(), credential.claims());
            let twice = Credential::sign(decoded.claims().clone(), key);
            assert_eq!(
                twice.as_bytes(),
                resigned.as_bytes(),
                "signing is not deterministic"
            );
        }
        // A claim set that filled the budget can come back a little larger: the re-encoding
        // spells out a compressed P-256 point and adds the content type to the header.
        Err(DecodeError::TooLarge { .. } | DecodeError::TooManyItems) => {}
        Err(err) => panic!("claims decoded from {credential:?} do not survive signing: {err}"),
    }
}
