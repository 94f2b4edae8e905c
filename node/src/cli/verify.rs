//! `ward cert inspect` and `ward cert verify`: reading what a file says, and deciding whether
//! a credential is valid.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use ward_crypto::{Ccs, Credential, FleetRoot, Policy, Revocation, RevocationSet, Role, SecretKey};

use super::pki::{ROOT_CREDENTIAL, SITE_CREDENTIAL, read_credential, target_json};
use super::{EXIT_INVALID, EXIT_OK, Env, OutputArgs};
use crate::duration::rfc3339;
use crate::files;

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// A credential (.cwt), CCS, revocation or key file.
    file: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The credential to verify.
    file: PathBuf,
    /// Site bundle directory holding fleet-root.cwt and site-ca.cwt.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["root", "site_ca"])]
    bundle: Option<PathBuf>,
    /// The fleet root credential (the trust anchor).
    #[arg(long, value_name = "FILE", requires = "site_ca")]
    root: Option<PathBuf>,
    /// The credential of the site CA that issued FILE.
    #[arg(long, value_name = "FILE", requires = "root")]
    site_ca: Option<PathBuf>,
    /// The role FILE must hold (default: the role it claims, as long as it is an end entity).
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// A scope FILE must hold; repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// The site FILE must belong to.
    #[arg(long)]
    site: Option<String>,
    /// A signed revocation to enforce; repeat for several.
    #[arg(long = "revocation", value_name = "FILE")]
    revocations: Vec<PathBuf>,
    /// Verify as of this time, in seconds since the UNIX epoch (default: now).
    #[arg(long, value_name = "SECONDS")]
    at: Option<u64>,
    #[command(flatten)]
    output: OutputArgs,
}

pub(crate) fn inspect(cx: &mut Env<'_>, args: InspectArgs) -> Result<u8> {
    // Read as if secret: the file may be a private key. Key files are tried first, by a
    // decoder that borrows from this buffer instead of copying the private scalar.
    let bytes = files::read_secret(&args.file)?;
    let value = if let Ok(key) = SecretKey::from_cose_key_bytes(&bytes) {
        // Only what identifies the key: its algorithm and public thumbprint.
        json!({
            "kind": "private-key",
            "algorithm": key.algorithm().to_string(),
            "key_id": key.public_key().key_id().to_string(),
        })
    } else if let Ok(credential) = Credential::decode(&bytes) {
        credential_json(&credential)
    } else if let Ok(revocation) = Revocation::decode(&bytes) {
        let statement = revocation.statement();
        json!({
            "kind": "revocation",
            "issuer": statement.issuer,
            "target": target_json(&statement.target),
            "reason": statement.reason.name(),
            "revoked_at": statement.revoked_at,
            "bytes": bytes.len(),
        })
    } else if let Ok(ccs) = Ccs::decode(&bytes) {
        json!({
            "kind": "ccs",
            "subject": ccs.subject(),
            "algorithm": ccs.key().algorithm().to_string(),
            "key_id": ccs.key().key_id().to_string(),
            "bytes": bytes.len(),
        })
    } else {
        bail!(
            "{} is not a Ward credential, CCS, revocation or key file",
            args.file.display()
        );
    };
    if args.output.json {
        writeln!(cx.out, "{value:#}")?;
    } else {
        print_fields(cx, &value)?;
    }
    Ok(EXIT_OK)
}

pub(crate) fn verify(cx: &mut Env<'_>, args: VerifyArgs) -> Result<u8> {
    let (root_path, site_path) = match (&args.bundle, &args.root, &args.site_ca) {
        (Some(dir), _, _) => (dir.join(ROOT_CREDENTIAL), dir.join(SITE_CREDENTIAL)),
        (None, Some(root), Some(site)) => (root.clone(), site.clone()),
        _ => bail!("give --bundle DIR, or both --root and --site-ca"),
    };
    let root = FleetRoot::new(read_credential(&root_path)?)
        .with_context(|| format!("{} is not a usable trust anchor", root_path.display()))?;
    let site_ca = read_credential(&site_path)?;
    let now = args.at.unwrap_or(cx.now);

    // Every revocation file must be genuine: a forged one is an operator's error (exit 2),
    // not a verdict on the credential. The root's revocations are checked first, since they
    // may revoke the site CA itself; the site CA's own can be checked only once the site CA
    // is known to be valid.
    let mut revocations = RevocationSet::new();
    let mut by_site_ca = Vec::new();
    for path in &args.revocations {
        let revocation = Revocation::decode(&files::read_bounded(path)?)
            .with_context(|| format!("{} is not a revocation", path.display()))?;
        if revocation.statement().issuer == root.name() {
            let verified = revocation.verify(&root, None).with_context(|| {
                format!(
                    "{} does not carry the fleet root's signature",
                    path.display()
                )
            })?;
            revocations.insert(verified);
        } else {
            by_site_ca.push((path, revocation));
        }
    }
    let leeway = cx.config.credentials.leeway_secs;
    let site_ca = match root.validate_site_ca_with_leeway(&site_ca, now, leeway, &revocations) {
        Ok(site_ca) => site_ca,
        Err(e) => return report_verdict(cx, &args, Err(e.to_string())),
    };
    for (path, revocation) in by_site_ca {
        let verified = revocation
            .verify(&root, Some(&site_ca))
            .with_context(|| format!("{} is not signed by a known authority", path.display()))?;
        revocations.insert(verified);
    }

    let bytes = files::read_bounded(&args.file)?;
    let outcome = match Credential::decode(&bytes) {
        Err(e) => Err(format!("not a valid credential: {e}")),
        Ok(credential) => {
            let role = match &args.role {
                Some(name) => {
                    Role::from_name(name).with_context(|| format!("unknown role {name:?}"))?
                }
                None => credential.claims().role,
            };
            let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
            let policy = Policy {
                role,
                scopes: &scopes,
                site: args.site.as_deref(),
                leeway_secs: leeway,
            };
            site_ca
                .validate_leaf(&credential, &policy, now, &revocations)
                .map(|()| credential)
                .map_err(|e| e.to_string())
        }
    };
    report_verdict(cx, &args, outcome)
}

fn report_verdict(
    cx: &mut Env<'_>,
    args: &VerifyArgs,
    outcome: Result<Credential, String>,
) -> Result<u8> {
    let path = args.file.display();
    match (&outcome, args.output.json) {
        (Ok(credential), true) => {
            let value = json!({ "valid": true, "credential": credential_json(credential) });
            writeln!(cx.out, "{value:#}")?;
        }
        (Err(reason), true) => {
            writeln!(cx.out, "{:#}", json!({ "valid": false, "reason": reason }))?
        }
        (Ok(credential), false) => {
            let claims = credential.claims();
            writeln!(
                cx.out,
                "{path}: valid {} {:?}, until {}",
                claims.role,
                claims.subject,
                rfc3339(claims.expires)
            )?;
        }
        (Err(reason), false) => writeln!(cx.out, "{path}: invalid: {reason}")?,
    }
    Ok(if outcome.is_ok() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

fn credential_json(credential: &Credential) -> serde_json::Value {
    let claims = credential.claims();
    json!({
        "kind": "credential",
        "role": claims.role.name(),
        "issuer": claims.issuer,
        "subject": claims.subject,
        "site": claims.site,
        "scopes": claims.scopes,
        "serial": claims.serial.to_string(),
        "issued_at": claims.issued_at,
        "not_before": claims.not_before,
        "expires": claims.expires,
        "algorithm": credential.algorithm().to_string(),
        "key_algorithm": claims.key.algorithm().to_string(),
        "key_id": credential.key_id().to_string(),
        "bytes": credential.as_bytes().len(),
    })
}

/// Prints a flat JSON object as aligned `name value` lines, times as dates.
fn print_fields(cx: &mut Env<'_>, value: &serde_json::Value) -> Result<()> {
    let Some(fields) = value.as_object() else {
        return Ok(());
    };
    for (name, field) in fields {
        let text = match field {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n)
                if matches!(
                    name.as_str(),
                    "issued_at" | "not_before" | "expires" | "revoked_at"
                ) =>
            {
                n.as_u64().map(rfc3339).unwrap_or_else(|| n.to_string())
            }
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            serde_json::Value::Object(inner) => inner
                .iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        writeln!(cx.out, "{name:<14} {text}")?;
    }
    Ok(())
}
