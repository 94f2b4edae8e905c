use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::chain::FleetRoot;
use crate::fixtures::{Fleet, NOW};
use crate::keys::SecretKey;
use crate::revocation::NoRevocations;
use crate::test_rng::TestRng;

fn anchors(fleet: &Fleet) -> (FleetRoot, TrustedSiteCa) {
    let root = FleetRoot::new(fleet.root.clone()).expect("fixture root");
    let site = root
        .validate_site_ca(&fleet.site_ca, NOW, &NoRevocations)
        .expect("fixture CA");
    (root, site)
}

fn statement(issuer: &str, serial: u8) -> RevocationStatement {
    RevocationStatement {
        issuer: issuer.into(),
        target: RevocationTarget::Serial(Serial::from_slice(&[serial; 16]).expect("16 bytes")),
        reason: RevocationReason::Superseded,
        revoked_at: NOW,
    }
}

fn target() -> impl Strategy<Value = RevocationTarget> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..=32)
            .prop_map(|b| RevocationTarget::Serial(Serial::from_slice(&b).expect("in range"))),
        any::<[u8; 32]>().prop_map(|b| RevocationTarget::Key(KeyId(b))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn revocations_round_trip_byte_for_byte(
        issuer in "[a-z0-9:-]{1,40}",
        target in target(),
        reason in prop::sample::select(RevocationReason::ALL.to_vec()),
        revoked_at in any::<u64>(),
        seed in any::<u64>(),
        ed25519 in any::<bool>(),
    ) {
        let mut rng = TestRng::new(seed);
        let key = if ed25519 {
            SecretKey::generate_ed25519(&mut rng)
        } else {
            SecretKey::generate_p256(&mut rng)
        };
        let statement = RevocationStatement { issuer, target, reason, revoked_at };
        let revocation = Revocation::sign(statement.clone(), &key);
        let decoded = Revocation::decode(revocation.as_bytes()).expect("own encoding decodes");
        prop_assert_eq!(decoded.statement(), &statement);
        prop_assert_eq!(decoded.as_bytes(), revocation.as_bytes());
        let again = Revocation::sign(statement, &key);
        prop_assert_eq!(again.as_bytes(), revocation.as_bytes());
    }

}

proptest! {
    // Each case signs a dozen revocations; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn digest_does_not_depend_on_arrival_order(order in Just((0u8..12).collect::<Vec<_>>()).prop_shuffle()) {
        let fleet = Fleet::new(40);
        let (root, site) = anchors(&fleet);
        let verified = |serial: u8| {
            let (issuer, key) = if serial.is_multiple_of(2) {
                ("fleet:acme", &fleet.root_key)
            } else {
                ("site-a", &fleet.site_key)
            };
            Revocation::sign(statement(issuer, serial), key)
                .verify(&root, Some(&site))
                .expect("genuine")
        };
        let mut in_order = RevocationSet::new();
        let mut shuffled = RevocationSet::new();
        for serial in 0u8..12 {
            in_order.insert(verified(serial));
        }
        for &serial in &order {
            shuffled.insert(verified(serial));
        }
        prop_assert_eq!(in_order.digest(), shuffled.digest());
        prop_assert_eq!(in_order.len(), 12);
    }
}

#[test]
fn digest_tracks_content_and_ignores_duplicates() {
    let fleet = Fleet::new(41);
    let (root, site) = anchors(&fleet);
    let sign = |serial, issuer, key| {
        Revocation::sign(statement(issuer, serial), key)
            .verify(&root, Some(&site))
            .expect("ok")
    };
    let mut set = RevocationSet::new();
    let empty = set.digest();
    assert!(set.insert(sign(1, "site-a", &fleet.site_key)));
    let one = set.digest();
    assert_ne!(one, empty);
    // The same target from the same authority again, even with another reason, is a duplicate.
    let mut again = statement("site-a", 1);
    again.reason = RevocationReason::KeyCompromise;
    let again = Revocation::sign(again, &fleet.site_key)
        .verify(&root, Some(&site))
        .expect("ok");
    assert!(!set.insert(again));
    assert_eq!(set.digest(), one);
    assert_eq!(set.len(), 1);
    // The same target from another authority is a distinct entry: its reach differs.
    assert!(set.insert(sign(1, "fleet:acme", &fleet.root_key)));
    assert_ne!(set.digest(), one);
    assert_eq!(set.len(), 2);
}

#[test]
fn a_revocation_signed_by_the_wrong_key_is_refused() {
    let mut fleet = Fleet::new(42);
    let (root, site) = anchors(&fleet);
    // Names the site CA but is signed by a key that is not the site CA's.
    let stranger = SecretKey::generate_p256(&mut fleet.rng);
    let forged = Revocation::sign(statement("site-a", 1), &stranger);
    assert_eq!(
        forged.verify(&root, Some(&site)).err(),
        Some(RevocationError::BadSignature)
    );
    // Names the root but is signed by the site CA.
    let forged = Revocation::sign(statement("fleet:acme", 1), &fleet.site_key);
    assert_eq!(
        forged.verify(&root, Some(&site)).err(),
        Some(RevocationError::BadSignature)
    );
    // Names an authority nobody vouched for.
    let unknown = Revocation::sign(statement("site-z", 1), &stranger);
    assert_eq!(
        unknown.verify(&root, Some(&site)).err(),
        Some(RevocationError::UnknownIssuer)
    );
    // A site CA's revocation without the site CA at hand cannot be checked.
    let genuine = Revocation::sign(statement("site-a", 1), &fleet.site_key);
    assert_eq!(
        genuine.verify(&root, None).err(),
        Some(RevocationError::UnknownIssuer)
    );
}

#[test]
fn a_tampered_revocation_no_longer_verifies() {
    let fleet = Fleet::new(43);
    let (root, site) = anchors(&fleet);
    let genuine = Revocation::sign(statement("site-a", 7), &fleet.site_key);
    let bytes = genuine.as_bytes();
    let mut verified_mutants = 0;
    for i in 0..bytes.len() {
        let mut mutant = bytes.to_vec();
        mutant[i] ^= 0x01;
        if let Ok(revocation) = Revocation::decode(&mutant)
            && revocation.statement() != genuine.statement()
            && revocation.verify(&root, Some(&site)).is_ok()
        {
            verified_mutants += 1;
        }
    }
    assert_eq!(verified_mutants, 0);
}

#[test]
fn truncated_and_oversized_revocations_are_refused() {
    let fleet = Fleet::new(44);
    let genuine = Revocation::sign(statement("site-a", 7), &fleet.site_key);
    let bytes = genuine.as_bytes();
    for len in 0..bytes.len() {
        assert!(
            Revocation::decode(&bytes[..len]).is_err(),
            "accepted a {len}-byte prefix"
        );
    }
    let huge = alloc::vec![0u8; MAX_REVOCATION_LEN + 1];
    assert!(matches!(
        Revocation::decode(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
}
