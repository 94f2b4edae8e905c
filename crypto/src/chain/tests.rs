use alloc::vec::Vec;

use p256::elliptic_curve::PrimeField as _;

use super::*;
use crate::credential::Credential;
use crate::fixtures::{DAY, Fleet, NOW};
use crate::issue::{CredentialRequest, IssueError, Issuer};
use crate::keys::SecretKey;
use crate::revocation::{
    Authority, NoRevocations, Revocation, RevocationReason, RevocationSet, RevocationStatement,
    RevocationTarget,
};

fn root(fleet: &Fleet) -> FleetRoot {
    FleetRoot::new(fleet.root.clone()).expect("fixture root is a valid anchor")
}

fn camera_policy() -> Policy<'static> {
    Policy {
        role: Role::Camera,
        scopes: &["stream:publish"],
        site: Some("site-a"),
        leeway_secs: 60,
    }
}

fn reason_of(result: Result<(), ChainError>, link: Link) -> Rejection {
    let err = result.expect_err("the chain must be refused");
    assert_eq!(err.link, link, "{err}");
    err.reason
}

fn revoke(fleet: &Fleet, target: RevocationTarget, by_root: bool) -> RevocationSet {
    let (issuer, key) = if by_root {
        ("fleet:acme", &fleet.root_key)
    } else {
        ("site-a", &fleet.site_key)
    };
    let statement = RevocationStatement {
        issuer: issuer.into(),
        target,
        reason: RevocationReason::KeyCompromise,
        revoked_at: NOW,
    };
    let anchor = root(fleet);
    let site_ca = anchor
        .validate_site_ca(&fleet.site_ca, NOW, &NoRevocations)
        .expect("site CA");
    let verified = Revocation::sign(statement, key)
        .verify(&anchor, Some(&site_ca))
        .expect("genuine");
    let mut set = RevocationSet::new();
    assert!(set.insert(verified));
    set
}

/// The twin of an ES256-signed credential with `s` replaced by `n - s`: still a valid
/// signature over the same payload, with different bytes.
fn malleated(credential: &Credential) -> Credential {
    let bytes = credential.as_bytes();
    let split = bytes.len() - 32;
    let s = p256::FieldBytes::try_from(&bytes[split..]).expect("32 bytes");
    let s = Option::<p256::Scalar>::from(p256::Scalar::from_repr(s)).expect("s is a scalar");
    let mut twin = bytes[..split].to_vec();
    twin.extend_from_slice(&(-s).to_repr());
    let twin = Credential::decode(&twin).expect("the twin is well formed");
    assert_ne!(twin.as_bytes(), credential.as_bytes());
    twin
}

#[test]
fn camera_chaining_to_the_root_is_accepted() {
    let mut fleet = Fleet::new(1);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    root(&fleet)
        .validate(
            &fleet.site_ca,
            &camera,
            &camera_policy(),
            NOW,
            &NoRevocations,
        )
        .expect("valid chain");
}

#[test]
fn altered_signature_is_refused() {
    let mut fleet = Fleet::new(2);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let mut bytes = camera.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = Credential::decode(&bytes).expect("still well formed");
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &forged,
        &camera_policy(),
        NOW,
        &NoRevocations,
    );
    assert_eq!(reason_of(result, Link::Leaf), Rejection::BadSignature);
}

#[test]
fn credential_signed_by_an_impostor_with_the_right_name_is_refused() {
    let fleet = Fleet::new(3);
    // Another fleet whose site CA is also called "site-a".
    let mut impostor = Fleet::new(4);
    let (_, camera) = impostor.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &camera,
        &camera_policy(),
        NOW,
        &NoRevocations,
    );
    assert_eq!(reason_of(result, Link::Leaf), Rejection::BadSignature);
    // And the impostor's site CA does not chain to the genuine root.
    let result = root(&fleet).validate_site_ca(&impostor.site_ca, NOW, &NoRevocations);
    assert_eq!(
        result.map(|_| ()).expect_err("refused").reason,
        Rejection::BadSignature
    );
}

#[test]
fn credential_from_another_site_ca_names_the_wrong_issuer() {
    let fleet = Fleet::new(5);
    let mut other = Fleet::with_site(5, "site-b");
    let (_, camera) = other.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &camera,
        &camera_policy(),
        NOW,
        &NoRevocations,
    );
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::WrongIssuer {
            expected: "site-a".into(),
            found: "site-b".into()
        }
    );
}

#[test]
fn validity_period_is_enforced_with_leeway() {
    let mut fleet = Fleet::new(6);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let anchor = root(&fleet);
    let policy = camera_policy();
    let exp = camera.claims().expires;
    let at = |now| anchor.validate(&fleet.site_ca, &camera, &policy, now, &NoRevocations);
    assert_eq!(at(exp + 59), Ok(()));
    assert_eq!(
        reason_of(at(exp + 60), Link::Leaf),
        Rejection::Expired { expires: exp }
    );
    assert_eq!(at(NOW - 60), Ok(()));
    // Everything was issued at NOW; the root is the first link checked.
    assert_eq!(
        reason_of(at(NOW - 61), Link::FleetRoot),
        Rejection::NotYetValid { not_before: NOW }
    );
}

#[test]
fn leaf_not_yet_valid_is_refused() {
    let mut fleet = Fleet::new(7);
    let key = SecretKey::generate_p256(&mut fleet.rng);
    let request = CredentialRequest {
        subject: "cam-later".into(),
        role: Role::Camera,
        key: key.public_key(),
        scopes: Vec::new(),
        lifetime_secs: DAY,
    };
    let later = NOW + 10 * DAY;
    let camera = Issuer::new(&fleet.site_key, &fleet.site_ca)
        .and_then(|ca| ca.issue(&request, later, &mut fleet.rng))
        .expect("issued");
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &camera,
        &Policy::role(Role::Camera),
        NOW,
        &NoRevocations,
    );
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::NotYetValid { not_before: later }
    );
}

#[test]
fn wrong_role_and_missing_scope_are_refused() {
    let mut fleet = Fleet::new(8);
    let (_, node) = fleet.leaf(Role::Node, "node-1", &["stream:publish"]);
    let result =
        root(&fleet).validate(&fleet.site_ca, &node, &camera_policy(), NOW, &NoRevocations);
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::WrongRole {
            expected: Role::Camera,
            found: Role::Node
        }
    );
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["api:events"]);
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &camera,
        &camera_policy(),
        NOW,
        &NoRevocations,
    );
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::MissingScope("stream:publish".into())
    );
}

#[test]
fn wrong_site_is_refused() {
    let mut fleet = Fleet::new(9);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let policy = Policy {
        site: Some("site-b"),
        ..camera_policy()
    };
    let result = root(&fleet).validate(&fleet.site_ca, &camera, &policy, NOW, &NoRevocations);
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::WrongSite {
            expected: "site-b".into(),
            found: Some("site-a".into())
        }
    );
}

#[test]
fn chains_deeper_than_two_levels_are_refused() {
    let mut fleet = Fleet::new(10);
    // Issuance refuses a CA below a site CA ...
    let key = SecretKey::generate_p256(&mut fleet.rng);
    let request = CredentialRequest {
        subject: "sub-ca".into(),
        role: Role::SiteCa,
        key: key.public_key(),
        scopes: Vec::new(),
        lifetime_secs: DAY,
    };
    let issuer = Issuer::new(&fleet.site_key, &fleet.site_ca).expect("issuer");
    assert_eq!(
        issuer.issue(&request, NOW, &mut fleet.rng).err(),
        Some(IssueError::RoleNotIssuable {
            issuer: Role::SiteCa,
            requested: Role::SiteCa
        })
    );
    // ... and validation refuses one made by hand.
    let mut claims = fleet.site_ca.claims().clone();
    claims.issuer = "site-a".into();
    claims.subject = "sub-ca".into();
    let sub_ca = Credential::sign(claims, &fleet.site_key);
    let policy = Policy::role(Role::SiteCa);
    let result = root(&fleet).validate(&fleet.site_ca, &sub_ca, &policy, NOW, &NoRevocations);
    assert!(matches!(
        reason_of(result, Link::Leaf),
        Rejection::WrongRole { .. }
    ));
}

#[test]
fn a_forged_root_is_not_an_anchor() {
    let mut fleet = Fleet::new(11);
    // A fleet root whose signature is by another key.
    let mut claims = fleet.root.claims().clone();
    claims.key = SecretKey::generate_ed25519(&mut fleet.rng).public_key();
    let forged = Credential::sign(claims, &fleet.root_key);
    assert_eq!(
        FleetRoot::new(forged).err().map(|e| e.reason),
        Some(Rejection::NotSelfSigned)
    );
    // A site CA is not a root.
    assert!(FleetRoot::new(fleet.site_ca.clone()).is_err());
}

#[test]
fn expired_root_refuses_everything() {
    let mut fleet = Fleet::new(12);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let root_exp = fleet.root.claims().expires;
    let result = root(&fleet).validate(
        &fleet.site_ca,
        &camera,
        &camera_policy(),
        root_exp + 60,
        &NoRevocations,
    );
    assert_eq!(
        reason_of(result, Link::FleetRoot),
        Rejection::Expired { expires: root_exp }
    );
}

#[test]
fn revoked_by_serial_is_refused() {
    let mut fleet = Fleet::new(13);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let (_, other) = fleet.leaf(Role::Camera, "cam-2", &["stream:publish"]);
    let set = revoke(
        &fleet,
        RevocationTarget::Serial(camera.claims().serial),
        false,
    );
    let anchor = root(&fleet);
    let result = anchor.validate(&fleet.site_ca, &camera, &camera_policy(), NOW, &set);
    let Rejection::Revoked(by) = reason_of(result, Link::Leaf) else {
        panic!("not revoked")
    };
    assert_eq!(by.authority, Authority::Site("site-a".into()));
    assert_eq!(
        anchor.validate(&fleet.site_ca, &other, &camera_policy(), NOW, &set),
        Ok(())
    );
}

#[test]
fn revoked_by_key_id_catches_every_credential_for_the_key() {
    let mut fleet = Fleet::new(14);
    let (key, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    // A second credential for the same key, issued later.
    let request = CredentialRequest {
        subject: "cam-1".into(),
        role: Role::Camera,
        key: key.public_key(),
        scopes: alloc::vec!["stream:publish".into()],
        lifetime_secs: DAY,
    };
    let reissued = Issuer::new(&fleet.site_key, &fleet.site_ca)
        .and_then(|ca| ca.issue(&request, NOW, &mut fleet.rng))
        .expect("issued");
    let set = revoke(
        &fleet,
        RevocationTarget::Key(key.public_key().key_id()),
        true,
    );
    for credential in [&camera, &reissued] {
        let result = root(&fleet).validate(&fleet.site_ca, credential, &camera_policy(), NOW, &set);
        let Rejection::Revoked(by) = reason_of(result, Link::Leaf) else {
            panic!("not revoked")
        };
        assert_eq!(by.authority, Authority::Fleet);
    }
}

#[test]
fn malleated_twin_of_a_revoked_credential_is_still_revoked() {
    let mut fleet = Fleet::new(15);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let twin = malleated(&camera);
    let anchor = root(&fleet);
    // The twin's signature is genuine: without the revocation it would be accepted.
    assert_eq!(
        anchor.validate(&fleet.site_ca, &twin, &camera_policy(), NOW, &NoRevocations),
        Ok(())
    );
    let set = revoke(
        &fleet,
        RevocationTarget::Serial(camera.claims().serial),
        false,
    );
    let result = anchor.validate(&fleet.site_ca, &twin, &camera_policy(), NOW, &set);
    assert!(matches!(
        reason_of(result, Link::Leaf),
        Rejection::Revoked(_)
    ));
}

#[test]
fn re_encoded_twins_of_a_revoked_credential_are_still_revoked() {
    let mut fleet = Fleet::new(16);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let bytes = camera.as_bytes();
    assert_eq!(
        &bytes[..2],
        &[0xd2, 0x84],
        "tag 18 then a four-element array"
    );
    let untagged = bytes[1..].to_vec();
    let cwt_tagged = [&[0xd8, 61][..], bytes].concat();
    let long_header = [&[0xd2, 0x98, 0x04][..], &bytes[2..]].concat();
    let anchor = root(&fleet);
    let set = revoke(
        &fleet,
        RevocationTarget::Serial(camera.claims().serial),
        false,
    );
    for twin in [untagged, cwt_tagged, long_header] {
        let twin = Credential::decode(&twin).expect("re-encoding is still a credential");
        assert_eq!(
            anchor.validate(&fleet.site_ca, &twin, &camera_policy(), NOW, &NoRevocations),
            Ok(())
        );
        let result = anchor.validate(&fleet.site_ca, &twin, &camera_policy(), NOW, &set);
        assert!(matches!(
            reason_of(result, Link::Leaf),
            Rejection::Revoked(_)
        ));
    }
}

#[test]
fn revoked_site_ca_takes_its_leaves_with_it() {
    let mut fleet = Fleet::new(17);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let set = revoke(
        &fleet,
        RevocationTarget::Serial(fleet.site_ca.claims().serial),
        true,
    );
    let result = root(&fleet).validate(&fleet.site_ca, &camera, &camera_policy(), NOW, &set);
    assert!(matches!(
        reason_of(result, Link::SiteCa),
        Rejection::Revoked(_)
    ));
}

#[test]
fn a_site_ca_revocation_does_not_reach_another_sites_credentials() {
    let mut fleet = Fleet::new(18);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    // site-a revokes the key id of its own CA's sibling... by naming the site CA's own serial,
    // which the root issued: a site CA cannot revoke what it did not issue.
    let set = revoke(
        &fleet,
        RevocationTarget::Serial(fleet.site_ca.claims().serial),
        false,
    );
    assert_eq!(
        root(&fleet).validate(&fleet.site_ca, &camera, &camera_policy(), NOW, &set),
        Ok(())
    );
}

#[test]
fn a_camera_credential_binding_an_ed25519_key_is_refused() {
    let mut fleet = Fleet::new(19);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    // Issuance refuses it, so forge one by hand with the site CA's key.
    let mut claims = camera.claims().clone();
    claims.key = SecretKey::generate_ed25519(&mut fleet.rng).public_key();
    let odd = Credential::sign(claims, &fleet.site_key);
    let result = root(&fleet).validate(&fleet.site_ca, &odd, &camera_policy(), NOW, &NoRevocations);
    assert_eq!(
        reason_of(result, Link::Leaf),
        Rejection::WrongKeyType {
            expected: Algorithm::Es256
        }
    );
}

#[test]
fn the_policy_leeway_applies_to_every_link() {
    let mut fleet = Fleet::new(20);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    // Everything was issued at NOW; ten minutes early is inside a 15-minute leeway only.
    let tolerant = Policy {
        leeway_secs: 900,
        ..camera_policy()
    };
    let early = NOW - 600;
    let anchor = root(&fleet);
    assert_eq!(
        anchor.validate(&fleet.site_ca, &camera, &tolerant, early, &NoRevocations),
        Ok(())
    );
    let strict = Policy {
        leeway_secs: 0,
        ..camera_policy()
    };
    let result = anchor.validate(&fleet.site_ca, &camera, &strict, early, &NoRevocations);
    assert_eq!(
        reason_of(result, Link::FleetRoot),
        Rejection::NotYetValid { not_before: NOW }
    );
}
