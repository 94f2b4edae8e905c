//! Fuzz target `revocation`: `Revocation::decode` on untrusted bytes.
//!
//! A revocation that decodes must keep its bytes exactly, decode to the same statement twice,
//! and read back unchanged once signed again. Verified against the fixed fleet, it must be
//! refused as from an unknown issuer exactly when it names neither the root nor the site CA,
//! and when accepted it must speak for the authority it names. An accepted revocation then
//! goes into a `RevocationSet`, which must hold it once, and must revoke exactly those of the
//! fleet's credentials that it names and whose issuer its authority covers, and chain
//! validation must agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_crypto::revocation::MAX_REVOCATION_LEN;
use ward_crypto::{
    Authority, Credential, Revocation, RevocationError, RevocationSet, RevocationStatus,
    RevocationTarget, RevokedBy, Role, VerifiedRevocation,
};
use ward_fuzz::fleet::{NOW, fleet, leaf_policy};

fuzz_target!(|data: &[u8]| {
    let Ok(revocation) = Revocation::decode(data) else {
        return;
    };
    check_decoding(data, &revocation);
    check_signing_again(&revocation);
    if let Some(verified) = check_verification(revocation) {
        check_set(verified);
    }
});

fn check_decoding(data: &[u8], revocation: &Revocation) {
    assert_eq!(revocation.as_bytes(), data);
    assert!(data.len() <= MAX_REVOCATION_LEN);
    let again = Revocation::decode(revocation.as_bytes()).expect("decoded bytes decode again");
    assert_eq!(again.statement(), revocation.statement());
    let _ = format!("{revocation:?}");
}

/// The statement, signed again, decodes to the same statement, and signing is deterministic.
fn check_signing_again(revocation: &Revocation) {
    let key = &fleet().root_key;
    let resigned = Revocation::sign(revocation.statement().clone(), key);
    let decoded = Revocation::decode(resigned.as_bytes())
        .unwrap_or_else(|err| panic!("{revocation:?} does not survive signing: {err}"));
    assert_eq!(decoded.statement(), revocation.statement());
    let twice = Revocation::sign(decoded.statement().clone(), key);
    assert_eq!(
        twice.as_bytes(),
        resigned.as_bytes(),
        "signing is not deterministic"
    );
}

/// Verifies against the fixed root and site CA and checks the verdict against the issuer.
fn check_verification(revocation: Revocation) -> Option<VerifiedRevocation> {
    let fleet = fleet();
    let issuer = revocation.statement().issuer.clone();
    let statement = revocation.statement().clone();
    let known = issuer == fleet.root.name() || issuer == fleet.site_ca.name();
    match revocation.verify(&fleet.root, Some(&fleet.site_ca)) {
        Ok(verified) => {
            let expected = if issuer == fleet.root.name() {
                Authority::Fleet
            } else {
                Authority::Site(fleet.site_ca.name().into())
            };
            assert!(known, "a revocation from {issuer:?} was verified");
            assert_eq!(verified.authority(), &expected);
            assert_eq!(verified.revocation().statement(), &statement);
            Some(verified)
        }
        Err(RevocationError::UnknownIssuer) => {
            assert!(
                !known,
                "a revocation from {issuer:?} was refused as from an unknown issuer"
            );
            None
        }
        Err(RevocationError::BadSignature) => {
            assert!(
                known,
                "a revocation from unknown {issuer:?} got as far as its signature"
            );
            None
        }
        Err(other) => panic!("verification failed in an undocumented way: {other}"),
    }
}

fn check_set(verified: VerifiedRevocation) {
    let fleet = fleet();
    let mut set = RevocationSet::new();
    let empty = set.digest();
    assert!(set.insert(verified.clone()));
    let held = set.digest();
    assert_ne!(held, empty);
    assert!(
        !set.insert(verified.clone()),
        "the set took the same revocation twice"
    );
    assert_eq!((set.len(), set.digest()), (1, held));

    let statement = verified.revocation().statement();
    let revokes = |credential: &Credential| {
        let claims = credential.claims();
        let named = statement.target == RevocationTarget::Serial(claims.serial)
            || statement.target == RevocationTarget::Key(credential.key_id());
        named && verified.authority().covers(&claims.issuer)
    };
    for credential in [
        fleet.root.credential(),
        fleet.site_ca.credential(),
        &fleet.camera,
    ] {
        let expected = RevokedBy {
            target: statement.target,
            authority: verified.authority().clone(),
            reason: statement.reason,
        };
        match set.check(credential) {
            Ok(()) => assert!(!revokes(credential), "{statement:?} missed {credential:?}"),
            Err(by) => {
                assert!(revokes(credential), "{statement:?} revoked {credential:?}");
                assert_eq!(by, expected);
            }
        }
    }

    // Chain validation asks the set about the site CA and the leaf (the root is the anchor).
    let chain = fleet.root.validate(
        fleet.site_ca.credential(),
        &fleet.camera,
        &leaf_policy(Role::Camera),
        NOW,
        &set,
    );
    let revoked = revokes(fleet.site_ca.credential()) || revokes(&fleet.camera);
    assert_eq!(chain.is_err(), revoked, "{statement:?}: {chain:?}");
}
