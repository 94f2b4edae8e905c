use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::fixtures::{Fleet, NOW};
use crate::keys::SecretKey;
use crate::revocation::Revocation;
use crate::test_rng::TestRng;

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9:_.-]{1,40}"
}

prop_compose! {
    fn claims()(
        issuer in name(),
        subject in name(),
        issued_at in 0u64..=i64::MAX as u64,
        not_before in 0u64..=i64::MAX as u64,
        expires in 0u64..=i64::MAX as u64,
        serial in prop::collection::vec(any::<u8>(), 1..=MAX_SERIAL_LEN),
        role in role(),
        site in prop::option::of(name()),
        scopes in prop::collection::vec(name(), 0..6),
        seed in any::<u64>(),
        ed25519 in any::<bool>(),
    ) -> Claims {
        let mut rng = TestRng::new(seed);
        let key = if ed25519 {
            SecretKey::generate_ed25519(&mut rng)
        } else {
            SecretKey::generate_p256(&mut rng)
        };
        Claims {
            issuer, subject, issued_at, not_before, expires,
            serial: Serial::from_slice(&serial).expect("length in range"),
            key: key.public_key(),
            role, site, scopes,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn credentials_round_trip_byte_for_byte(claims in claims(), seed in any::<u64>()) {
        let signer = SecretKey::generate_p256(&mut TestRng::new(seed));
        let credential = Credential::sign(claims.clone(), &signer);
        let decoded = Credential::decode(credential.as_bytes()).expect("own encoding decodes");
        prop_assert_eq!(decoded.claims(), &claims);
        prop_assert_eq!(decoded.as_bytes(), credential.as_bytes());
        // Re-signing the decoded claims gives the same bytes: the encoding is deterministic
        // (ECDSA signatures use RFC 6979 nonces, so they are deterministic too).
        let again = Credential::sign(decoded.claims().clone(), &signer);
        prop_assert_eq!(again.as_bytes(), credential.as_bytes());
        prop_assert!(decoded.verify_signature(&signer.public_key()).is_ok());
    }

    #[test]
    fn ccs_round_trips(subject in prop::option::of(name()), seed in any::<u64>(),
                       kid in prop::option::of(prop::collection::vec(any::<u8>(), 0..8))) {
        let key = SecretKey::generate_p256(&mut TestRng::new(seed)).public_key();
        let ccs = Ccs::new(subject.clone(), key.clone(), kid.as_deref());
        let decoded = Ccs::decode(ccs.as_bytes()).expect("own encoding decodes");
        prop_assert_eq!(decoded.subject(), subject.as_deref());
        prop_assert_eq!(decoded.key(), &key);
        prop_assert_eq!(decoded.as_bytes(), ccs.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Credential::decode(&bytes);
        let _ = Ccs::decode(&bytes);
        let _ = Revocation::decode(&bytes);
        let _ = SecretKey::from_cose_key_bytes(&bytes);
    }

    #[test]
    fn mutated_credentials_never_verify(index in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let mut fleet = Fleet::new(99);
        let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &[]);
        let mut bytes = camera.as_bytes().to_vec();
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        if let Ok(mutant) = Credential::decode(&bytes) {
            prop_assert!(mutant.verify_signature(&fleet.site_key.public_key()).is_err()
                || mutant.claims() == camera.claims());
        }
    }
}

#[test]
fn rfc_9529_ccs_decodes_to_its_key() {
    // CRED_R of RFC 9529 §3 (method 3, cipher suite 2): a CCS with kid 0x0a.
    let cred_r = hex(
        "a2026b6578616d706c652e65647508a101a501020241322001215820bbc34960526ea4d32e940cad2a2341\
         48ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f386ca7afda64fcde0\
         108c224c51eabf6072",
    );
    let ccs = Ccs::decode(&cred_r).expect("RFC 9529 CRED_R is a CCS");
    assert_eq!(ccs.subject(), Some("example.edu"));
    assert_eq!(ccs.key().algorithm(), Algorithm::Es256);
    assert_eq!(ccs.as_bytes(), &cred_r[..]);
}

#[test]
fn truncated_credentials_are_refused_at_every_length() {
    let mut fleet = Fleet::new(1);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &["stream:publish"]);
    let bytes = camera.as_bytes();
    for len in 0..bytes.len() {
        assert!(
            Credential::decode(&bytes[..len]).is_err(),
            "accepted a {len}-byte prefix"
        );
    }
}

#[test]
fn oversized_and_padded_credentials_are_refused() {
    let mut fleet = Fleet::new(2);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-1", &[]);
    let mut padded = camera.as_bytes().to_vec();
    padded.push(0);
    assert_eq!(
        Credential::decode(&padded).err(),
        Some(DecodeError::TrailingBytes)
    );
    let huge = alloc::vec![0x40; MAX_CREDENTIAL_LEN + 1];
    assert!(matches!(
        Credential::decode(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
    // A byte string claiming 4 GiB inside a small input.
    let liar = [0xd2, 0x84, 0x5a, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        Credential::decode(&liar).err(),
        Some(DecodeError::Truncated)
    );
}

#[test]
fn a_revocation_is_never_read_as_a_credential() {
    let fleet = Fleet::new(3);
    let statement = crate::revocation::RevocationStatement {
        issuer: "site-a".into(),
        target: crate::revocation::RevocationTarget::Serial(fleet.site_ca.claims().serial),
        reason: crate::revocation::RevocationReason::Superseded,
        revoked_at: NOW,
    };
    let revocation = Revocation::sign(statement, &fleet.site_key);
    assert_eq!(
        Credential::decode(revocation.as_bytes()).err(),
        Some(DecodeError::Malformed("wrong content type"))
    );
    assert_eq!(
        Revocation::decode(fleet.site_ca.as_bytes()).err(),
        Some(DecodeError::Malformed("wrong content type"))
    );
}

#[test]
fn ward_camera_credentials_stay_small() {
    let mut fleet = Fleet::new(4);
    let (_, camera) = fleet.leaf(Role::Camera, "cam-0042", &["stream:publish", "api:events"]);
    // DESIGN §2: a camera certificate is a few hundred bytes.
    assert!(
        camera.as_bytes().len() < 300,
        "{} bytes",
        camera.as_bytes().len()
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
