//! The operator's PKI walk-through, end to end through the `ward` command: a fleet, a site,
//! a camera credential, verification, revocation, and verification failing afterwards.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use ward_crypto::{Credential, SecretKey};
use ward_tests::ward;

#[test]
fn walkthrough_issue_verify_revoke() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();

    let fleet = ward(d, &["fleet", "init", "--name", "acme", "--dir", "./fleet"]);
    assert_eq!(fleet.code, 0, "{}", fleet.stderr);
    let site = ward(
        d,
        &[
            "site", "init", "--name", "site-a", "--fleet", "./fleet", "--dir", "./site-a",
        ],
    );
    assert_eq!(site.code, 0, "{}", site.stderr);
    let camera = ward(
        d,
        &[
            "cert",
            "issue",
            "--role",
            "camera",
            "--subject",
            "cam-7",
            "--ca",
            "./site-a",
            "--scope",
            "stream:publish",
            "--out",
            "./cam-7",
            "--json",
        ],
    );
    assert_eq!(camera.code, 0, "{}", camera.stderr);
    let issued: serde_json::Value = serde_json::from_str(&camera.stdout).expect("JSON output");
    assert_eq!(issued["subject"], "cam-7");
    assert_eq!(issued["site"], "site-a");

    // The issued credential is real: it decodes and names the generated key.
    let credential = Credential::decode(&fs::read(d.join("cam-7.cwt")).expect("written"))
        .expect("a Ward credential");
    let key = SecretKey::from_cose_key_bytes(&fs::read(d.join("cam-7.key")).expect("written"))
        .expect("a Ward key file");
    assert_eq!(credential.claims().key, key.public_key());
    for secret in ["fleet/fleet-root.key", "site-a/site-ca.key", "cam-7.key"] {
        let mode = fs::metadata(d.join(secret))
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{secret}");
    }

    let verify = [
        "cert",
        "verify",
        "./cam-7.cwt",
        "--bundle",
        "./site-a",
        "--role",
        "camera",
        "--scope",
        "stream:publish",
        "--site",
        "site-a",
    ];
    let valid = ward(d, &verify);
    assert_eq!(
        (valid.code, valid.stderr.as_str()),
        (0, ""),
        "{}",
        valid.stdout
    );
    assert!(valid.stdout.contains("valid camera"), "{}", valid.stdout);

    // A scope the camera was not given is refused with the reason.
    let mut needs_admin_scope = verify.to_vec();
    needs_admin_scope.extend(["--scope", "api:admin"]);
    let refused = ward(d, &needs_admin_scope);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.contains("lacks scope \"api:admin\""),
        "{}",
        refused.stdout
    );

    let revoke = ward(
        d,
        &[
            "revoke",
            "--ca",
            "./site-a",
            "--cert",
            "./cam-7.cwt",
            "--reason",
            "key-compromise",
            "--out",
            "./cam-7.rev",
        ],
    );
    assert_eq!(revoke.code, 0, "{}", revoke.stderr);

    let mut with_revocation = verify.to_vec();
    with_revocation.extend(["--revocation", "./cam-7.rev", "--json"]);
    let revoked = ward(d, &with_revocation);
    assert_eq!(revoked.code, 1, "{}", revoked.stdout);
    let verdict: serde_json::Value = serde_json::from_str(&revoked.stdout).expect("JSON output");
    assert_eq!(verdict["valid"], false);
    let reason = verdict["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("revoked") && reason.contains("key-compromise"),
        "{reason}"
    );

    // The fleet root revoking the camera's key works too, from the fleet directory.
    let by_key = ward(
        d,
        &[
            "revoke",
            "--ca",
            "./fleet",
            "--cert",
            "./cam-7.cwt",
            "--by-key",
            "--out",
            "./key.rev",
        ],
    );
    assert_eq!(by_key.code, 0, "{}", by_key.stderr);
    let mut with_key_revocation = verify.to_vec();
    with_key_revocation.extend(["--revocation", "./key.rev"]);
    assert_eq!(ward(d, &with_key_revocation).code, 1);
}

#[test]
fn no_command_prints_a_private_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut printed = String::new();
    let mut run = |args: &[&str]| {
        let outcome = ward(d, args);
        assert_eq!(outcome.code, 0, "{args:?}: {}", outcome.stderr);
        printed.push_str(&outcome.stdout);
        printed.push_str(&outcome.stderr);
    };
    run(&["fleet", "init", "--name", "acme", "--dir", "./fleet"]);
    run(&[
        "site", "init", "--name", "site-a", "--fleet", "./fleet", "--dir", "./site-a", "--json",
    ]);
    run(&[
        "cert",
        "issue",
        "--role",
        "node",
        "--subject",
        "n1",
        "--ca",
        "./site-a",
        "--out",
        "./n1",
    ]);
    run(&[
        "cert",
        "issue",
        "--role",
        "admin",
        "--subject",
        "ops",
        "--ca",
        "./site-a",
        "--key-type",
        "ed25519",
        "--out",
        "./ops",
        "--json",
    ]);
    for key in [
        "./fleet/fleet-root.key",
        "./site-a/site-ca.key",
        "./n1.key",
        "./ops.key",
    ] {
        run(&["cert", "inspect", key]);
        run(&["cert", "inspect", key, "--json"]);
    }
    run(&[
        "revoke", "--ca", "./fleet", "--cert", "./n1.cwt", "--out", "./n1.rev",
    ]);
    run(&["config", "example"]);

    for key in [
        "fleet/fleet-root.key",
        "site-a/site-ca.key",
        "n1.key",
        "ops.key",
    ] {
        let file = fs::read(d.join(key)).expect("written");
        // The private scalar is the last 32 bytes of every Ward key file.
        let secret = &file[file.len() - 32..];
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!printed.to_lowercase().contains(&hex), "{key} was printed");
        assert!(
            !printed.contains(&format!("{secret:?}")),
            "{key} was printed"
        );
    }
}

#[test]
fn exit_codes_separate_invalid_from_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    assert_eq!(
        ward(d, &["fleet", "init", "--name", "acme", "--dir", "./fleet"]).code,
        0
    );
    assert_eq!(
        ward(
            d,
            &[
                "site", "init", "--name", "s", "--fleet", "./fleet", "--dir", "./s"
            ]
        )
        .code,
        0
    );

    // Usage errors: unknown command, missing arguments, a missing file.
    assert_eq!(ward(d, &["frobnicate"]).code, 2);
    assert_eq!(ward(d, &["cert", "verify"]).code, 2);
    assert_eq!(
        ward(d, &["cert", "verify", "./nope.cwt", "--bundle", "./s"]).code,
        2
    );
    // Invalid: garbage where a credential should be.
    fs::write(d.join("junk.cwt"), b"\xd2\x84garbage").expect("written");
    let junk = ward(d, &["cert", "verify", "./junk.cwt", "--bundle", "./s"]);
    assert_eq!(junk.code, 1, "{}", junk.stderr);
    // Help is not an error.
    assert_eq!(ward(d, &["--help"]).code, 0);
    // Refusing to overwrite an existing key is an error, and the key survives.
    let before = fs::read(d.join("fleet/fleet-root.key")).expect("exists");
    assert_eq!(
        ward(d, &["fleet", "init", "--name", "other", "--dir", "./fleet"]).code,
        2
    );
    assert_eq!(
        fs::read(d.join("fleet/fleet-root.key")).expect("exists"),
        before
    );
}

#[test]
fn a_site_ca_cannot_revoke_another_sites_credential() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    assert_eq!(
        ward(d, &["fleet", "init", "--name", "acme", "--dir", "./fleet"]).code,
        0
    );
    for site in ["a", "b"] {
        let out = format!("./{site}");
        let init = ward(
            d,
            &[
                "site", "init", "--name", site, "--fleet", "./fleet", "--dir", &out,
            ],
        );
        assert_eq!(init.code, 0, "{}", init.stderr);
    }
    let issue = ward(
        d,
        &[
            "cert",
            "issue",
            "--role",
            "camera",
            "--subject",
            "c",
            "--ca",
            "./a",
            "--out",
            "./c",
        ],
    );
    assert_eq!(issue.code, 0, "{}", issue.stderr);
    let refused = ward(
        d,
        &[
            "revoke", "--ca", "./b", "--cert", "./c.cwt", "--out", "./c.rev",
        ],
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("only its issuer or the fleet root"),
        "{}",
        refused.stderr
    );
    assert!(
        !d.join("c.rev").exists(),
        "no revocation file is left behind"
    );
}

#[test]
fn cameras_and_nodes_must_hold_p256_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    assert_eq!(
        ward(d, &["fleet", "init", "--name", "acme", "--dir", "./fleet"]).code,
        0
    );
    assert_eq!(
        ward(
            d,
            &[
                "site", "init", "--name", "s", "--fleet", "./fleet", "--dir", "./s"
            ]
        )
        .code,
        0
    );
    for role in ["camera", "node"] {
        let args = [
            "cert",
            "issue",
            "--role",
            role,
            "--subject",
            "x",
            "--ca",
            "./s",
            "--key-type",
            "ed25519",
            "--out",
            "./x",
        ];
        let refused = ward(d, &args);
        assert_eq!(refused.code, 2, "{role}");
        assert!(
            refused.stderr.contains("P-256") || refused.stderr.contains("ES256"),
            "{}",
            refused.stderr
        );
        // Nothing is written when issuance fails.
        assert!(!d.join("x.key").exists() && !d.join("x.cwt").exists());
    }
}

#[test]
fn a_revoked_or_expired_site_ca_makes_its_cameras_invalid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    assert_eq!(
        ward(d, &["fleet", "init", "--name", "acme", "--dir", "./fleet"]).code,
        0
    );
    let site = [
        "site",
        "init",
        "--name",
        "s",
        "--fleet",
        "./fleet",
        "--dir",
        "./s",
        "--lifetime",
        "1d",
    ];
    assert_eq!(ward(d, &site).code, 0);
    let issue = [
        "cert",
        "issue",
        "--role",
        "camera",
        "--subject",
        "c",
        "--ca",
        "./s",
        "--out",
        "./c",
    ];
    assert_eq!(ward(d, &issue).code, 0);
    let camera_rev = [
        "revoke", "--ca", "./s", "--cert", "./c.cwt", "--out", "./c.rev",
    ];
    assert_eq!(ward(d, &camera_rev).code, 0);
    let site_rev = [
        "revoke",
        "--ca",
        "./fleet",
        "--cert",
        "./s/site-ca.cwt",
        "--out",
        "./s.rev",
    ];
    assert_eq!(ward(d, &site_rev).code, 0);

    let verify = ["cert", "verify", "./c.cwt", "--bundle", "./s"];
    assert_eq!(ward(d, &verify).code, 0);
    // The root revoked the site CA: every camera it issued is invalid.
    let revoked = ward(d, &[&verify[..], &["--revocation", "./s.rev"]].concat());
    assert_eq!(revoked.code, 1, "{}", revoked.stderr);
    assert!(
        revoked.stdout.contains("site CA is revoked"),
        "{}",
        revoked.stdout
    );
    // Two days on, the site CA has expired: the verdict is "invalid", even though the
    // site CA's own revocation can no longer be checked.
    let later = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH))
        .expect("after 1970")
        .as_secs()
        + 2 * 86_400;
    let later = later.to_string();
    let expired = ward(
        d,
        &[&verify[..], &["--revocation", "./c.rev", "--at", &later]].concat(),
    );
    assert_eq!(expired.code, 1, "{}", expired.stderr);
    assert!(
        expired.stdout.contains("site CA expired"),
        "{}",
        expired.stdout
    );
}
