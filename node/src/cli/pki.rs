//! `ward fleet init`, `ward site init`, `ward cert issue` and `ward revoke`: the commands that
//! create keys and sign things.
//!
//! On disk an authority is a directory:
//!
//! ```text
//! fleet/                 ward fleet init
//!   fleet-root.key       private key, mode 0600, keep offline
//!   fleet-root.cwt       self-signed root credential, the trust anchor
//! fleet/site-a/          ward site init (the site bundle a node starts from)
//!   site-ca.key          private key, mode 0600
//!   site-ca.cwt          site CA credential, signed by the root
//!   fleet-root.cwt       copy of the anchor, so the bundle is self-contained
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{ArgGroup, Args, ValueEnum};
use serde_json::json;
use ward_crypto::issue::{self, CredentialRequest, Issuer};
use ward_crypto::{
    Ccs, Credential, RevocationReason, RevocationStatement, RevocationTarget, Role, SecretKey,
    Serial,
};

use super::status::{AdminArgs, block_on};
use super::{EXIT_OK, Env, OutputArgs, lifetime_or, os_rng};
use crate::duration::{Lifetime, rfc3339};
use crate::files;

/// File names inside authority directories.
pub(crate) const ROOT_KEY: &str = "fleet-root.key";
pub(crate) const ROOT_CREDENTIAL: &str = "fleet-root.cwt";
pub(crate) const SITE_KEY: &str = "site-ca.key";
pub(crate) const SITE_CREDENTIAL: &str = "site-ca.cwt";

/// Default lifetime of the fleet root: long, since replacing it means re-issuing everything.
const ROOT_LIFETIME: Lifetime = Lifetime(10 * 365 * 86_400);
/// Default lifetime of a site CA.
const SITE_LIFETIME: Lifetime = Lifetime(2 * 365 * 86_400);

#[derive(Debug, Args)]
pub(crate) struct FleetInitArgs {
    /// The fleet's name, which every site CA names as its issuer.
    #[arg(long)]
    name: String,
    /// Directory to create the root key and credential in.
    #[arg(long, default_value = "fleet")]
    dir: PathBuf,
    /// How long the root is valid (e.g. 10y).
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<Lifetime>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SiteInitArgs {
    /// The site's name, the subject of its CA and the site of everything it issues.
    #[arg(long)]
    name: String,
    /// Directory holding the fleet root key and credential.
    #[arg(long, default_value = "fleet", value_name = "DIR")]
    fleet: PathBuf,
    /// Directory to create the site bundle in (default: NAME, beside the fleet directory, so
    /// the bundle can be copied to the site without the root key).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// How long the site CA is valid (e.g. 2y).
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<Lifetime>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Roles a site CA can issue.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LeafRole {
    Node,
    Camera,
    Admin,
}

impl From<LeafRole> for Role {
    fn from(role: LeafRole) -> Role {
        match role {
            LeafRole::Node => Role::Node,
            LeafRole::Camera => Role::Camera,
            LeafRole::Admin => Role::Admin,
        }
    }
}

/// Curves a generated subject key can use.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum KeyType {
    P256,
    Ed25519,
}

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// What the subject is.
    #[arg(long)]
    role: LeafRole,
    /// Who the credential is for: a camera id, a node's PeerId, an operator's name.
    #[arg(long)]
    subject: String,
    /// Site bundle directory holding the issuing site CA's key and credential.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// A scope to grant; repeat for several (e.g. --scope stream:publish).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// The subject's public key as a CCS file, e.g. one exported from a secure element.
    /// Without it a new key is generated and written beside the credential.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Curve of a generated key.
    #[arg(long, value_enum, default_value = "p256")]
    key_type: KeyType,
    /// Path prefix of the output: PREFIX.cwt, and PREFIX.key for a generated key.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// How long the credential is valid (default from the configuration, per role).
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<Lifetime>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Reasons an operator can give.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Reason {
    Unspecified,
    KeyCompromise,
    Superseded,
    CessationOfOperation,
    Quarantine,
}

impl From<Reason> for RevocationReason {
    fn from(reason: Reason) -> RevocationReason {
        match reason {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::Quarantine => RevocationReason::Quarantine,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["cert", "serial", "key_id"])))]
pub(crate) struct RevokeArgs {
    /// Authority directory of the signer: the fleet directory, or a site bundle.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// Revoke this credential (by its serial, or by its key with --by-key).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// With --cert: revoke the credential's key, and so every credential binding it.
    #[arg(long, requires = "cert")]
    by_key: bool,
    /// Revoke the credential with this serial (hex).
    #[arg(long, value_name = "HEX")]
    serial: Option<String>,
    /// Revoke every credential binding the key with this id (hex RFC 9679 thumbprint).
    #[arg(long, value_name = "HEX")]
    key_id: Option<String>,
    /// Why.
    #[arg(long, value_enum, default_value = "unspecified")]
    reason: Reason,
    /// Where to write the signed revocation.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also submit the revocation to a running node, which enforces it and spreads it to the
    /// mesh. Exit code 0 when the node enforces it, 2 when it refuses.
    #[arg(long)]
    submit: bool,
    /// With --submit: the node to submit to.
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    output: OutputArgs,
}

pub(crate) fn fleet_init(cx: &mut Env<'_>, args: FleetInitArgs) -> Result<u8> {
    let mut rng = os_rng();
    let key = SecretKey::generate_ed25519(&mut rng);
    let lifetime = lifetime_or(args.lifetime, ROOT_LIFETIME);
    let root = issue::fleet_root(&args.name, &key, cx.now, lifetime, &mut rng)
        .context("cannot create the fleet root")?;
    let (key_path, cred_path) = (args.dir.join(ROOT_KEY), args.dir.join(ROOT_CREDENTIAL));
    files::ensure_absent(&[&key_path, &cred_path])?;
    files::create_private_dir(&args.dir)?;
    files::write_secret(&key_path, &key.to_cose_key_bytes())?;
    files::write_public(&cred_path, root.as_bytes())?;
    report(
        cx,
        args.output.json,
        "fleet root",
        &root,
        &cred_path,
        Some(&key_path),
    )
}

pub(crate) fn site_init(cx: &mut Env<'_>, args: SiteInitArgs) -> Result<u8> {
    let (root_key, root) = load_authority(&args.fleet, ROOT_KEY, ROOT_CREDENTIAL)?;
    let mut rng = os_rng();
    let key = SecretKey::generate_p256(&mut rng);
    let request = CredentialRequest {
        subject: args.name.clone(),
        role: Role::SiteCa,
        key: key.public_key(),
        scopes: Vec::new(),
        lifetime_secs: lifetime_or(args.lifetime, SITE_LIFETIME),
    };
    let site_ca = Issuer::new(&root_key, &root)
        .and_then(|issuer| issuer.issue(&request, cx.now, &mut rng))
        .context("cannot issue the site CA")?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let (key_path, cred_path) = (dir.join(SITE_KEY), dir.join(SITE_CREDENTIAL));
    let anchor_path = dir.join(ROOT_CREDENTIAL);
    files::ensure_absent(&[&key_path, &cred_path, &anchor_path])?;
    files::create_private_dir(&dir)?;
    files::write_secret(&key_path, &key.to_cose_key_bytes())?;
    files::write_public(&cred_path, site_ca.as_bytes())?;
    files::write_public(&anchor_path, root.as_bytes())?;
    report(
        cx,
        args.output.json,
        "site CA",
        &site_ca,
        &cred_path,
        Some(&key_path),
    )
}

pub(crate) fn issue(cx: &mut Env<'_>, args: IssueArgs) -> Result<u8> {
    let (ca_key, ca) = load_authority(&args.ca, SITE_KEY, SITE_CREDENTIAL)?;
    let mut rng = os_rng();
    let (public, generated) = match &args.public_key {
        Some(path) => {
            let ccs = Ccs::decode(&files::read_bounded(path)?)
                .with_context(|| format!("{} is not a CCS public key", path.display()))?;
            (ccs.key().clone(), None)
        }
        None => {
            let key = match args.key_type {
                KeyType::P256 => SecretKey::generate_p256(&mut rng),
                KeyType::Ed25519 => SecretKey::generate_ed25519(&mut rng),
            };
            (key.public_key(), Some(key))
        }
    };
    let role = Role::from(args.role);
    let defaults = &cx.config.credentials;
    let default_lifetime = match args.role {
        LeafRole::Node => defaults.node_lifetime,
        LeafRole::Camera => defaults.camera_lifetime,
        LeafRole::Admin => defaults.admin_lifetime,
    };
    let request = CredentialRequest {
        subject: args.subject,
        role,
        key: public,
        scopes: args.scopes,
        lifetime_secs: lifetime_or(args.lifetime, default_lifetime),
    };
    let credential = Issuer::new(&ca_key, &ca)
        .and_then(|issuer| issuer.issue(&request, cx.now, &mut rng))
        .context("cannot issue the credential")?;
    let cred_path = with_extension(&args.out, "cwt");
    let key_path = generated.as_ref().map(|_| with_extension(&args.out, "key"));
    let mut outputs = vec![cred_path.as_path()];
    outputs.extend(key_path.as_deref());
    files::ensure_absent(&outputs)?;
    if let (Some(key), Some(path)) = (&generated, &key_path) {
        files::write_secret(path, &key.to_cose_key_bytes())?;
    }
    files::write_public(&cred_path, credential.as_bytes())?;
    report(
        cx,
        args.output.json,
        role.name(),
        &credential,
        &cred_path,
        key_path.as_deref(),
    )
}

pub(crate) fn revoke(cx: &mut Env<'_>, args: RevokeArgs) -> Result<u8> {
    let (key, authority) = load_any_authority(&args.ca)?;
    let target = if let Some(path) = &args.cert {
        let credential = read_credential(path)?;
        let signer = authority.claims();
        // A site CA's revocation reaches only what it issued (see ward_crypto::Authority).
        if signer.role == Role::SiteCa && credential.claims().issuer != signer.subject {
            bail!(
                "{} was issued by {:?}, not {:?}: only its issuer or the fleet root can revoke it",
                path.display(),
                credential.claims().issuer,
                signer.subject
            );
        }
        if args.by_key {
            RevocationTarget::Key(credential.key_id())
        } else {
            RevocationTarget::Serial(credential.claims().serial)
        }
    } else if let Some(serial) = &args.serial {
        let bytes = hex::decode(serial).context("--serial is not hex")?;
        RevocationTarget::Serial(
            Serial::from_slice(&bytes).context("--serial must be 1 to 32 bytes")?,
        )
    } else if let Some(key_id) = &args.key_id {
        let bytes = hex::decode(key_id).context("--key-id is not hex")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .ok()
            .context("--key-id must be a 32-byte thumbprint")?;
        RevocationTarget::Key(ward_crypto::KeyId(bytes))
    } else {
        bail!("name what to revoke with --cert, --serial or --key-id");
    };
    let statement = RevocationStatement {
        issuer: authority.claims().subject.clone(),
        target,
        reason: args.reason.into(),
        revoked_at: cx.now,
    };
    let revocation = ward_crypto::Revocation::sign(statement, &key);
    // The client is built before anything is written, so a bad --admin or token file fails
    // the command while it can still be rerun unchanged.
    let client = args
        .submit
        .then(|| args.admin.client(&cx.config))
        .transpose()?;
    files::ensure_absent(&[&args.out])?;
    files::write_public(&args.out, revocation.as_bytes())?;

    // The file is the durable record; submitting is a convenience on top, so a failure to
    // submit says where the revocation is kept.
    let submitted = match &client {
        Some(client) => {
            let report =
                block_on(client.submit_revocation(revocation.as_bytes())).with_context(|| {
                    format!(
                        "the revocation is signed and saved in {}, but the node at {} did not \
                         take it",
                        args.out.display(),
                        client.addr()
                    )
                })?;
            Some((client.addr(), report.applied))
        }
        None => None,
    };
    if args.output.json {
        let value = json!({
            "revocation": args.out,
            "issuer": authority.claims().subject,
            "target": target_json(&target),
            "reason": revocation.statement().reason.name(),
            "revoked_at": cx.now,
            "submitted": submitted.map(|(admin, applied)| json!({
                "admin": admin,
                "applied": applied,
            })),
        });
        writeln!(cx.out, "{value:#}")?;
    } else {
        writeln!(cx.out, "Signed revocation of {target}")?;
        writeln!(cx.out, "  issuer      {}", authority.claims().subject)?;
        writeln!(cx.out, "  reason      {}", revocation.statement().reason)?;
        writeln!(cx.out, "  revocation  {}", args.out.display())?;
        if let Some((admin, applied)) = submitted {
            let outcome = if applied {
                "enforced from now on"
            } else {
                "already enforced"
            };
            writeln!(cx.out, "  submitted   to {admin}: {outcome}")?;
        }
    }
    Ok(EXIT_OK)
}

pub(crate) fn target_json(target: &RevocationTarget) -> serde_json::Value {
    match target {
        RevocationTarget::Serial(serial) => json!({ "serial": serial.to_string() }),
        RevocationTarget::Key(key_id) => json!({ "key_id": key_id.to_string() }),
    }
}

/// Reads and decodes a credential file.
pub(crate) fn read_credential(path: &Path) -> Result<Credential> {
    Credential::decode(&files::read_bounded(path)?)
        .with_context(|| format!("{} is not a Ward credential", path.display()))
}

/// Loads an authority's key and credential from its directory, checking that they match.
fn load_authority(dir: &Path, key_file: &str, cred_file: &str) -> Result<(SecretKey, Credential)> {
    let key_path = dir.join(key_file);
    let key = SecretKey::from_cose_key_bytes(&files::read_secret(&key_path)?)
        .with_context(|| format!("{} is not a Ward private key", key_path.display()))?;
    let credential = read_credential(&dir.join(cred_file))?;
    if key.public_key() != credential.claims().key {
        bail!(
            "{} does not belong to {}",
            key_path.display(),
            dir.join(cred_file).display()
        );
    }
    Ok((key, credential))
}

/// Loads whichever authority a directory holds: a site CA if present, else the fleet root.
fn load_any_authority(dir: &Path) -> Result<(SecretKey, Credential)> {
    if dir.join(SITE_KEY).exists() {
        load_authority(dir, SITE_KEY, SITE_CREDENTIAL)
    } else if dir.join(ROOT_KEY).exists() {
        load_authority(dir, ROOT_KEY, ROOT_CREDENTIAL)
    } else {
        bail!("{} holds neither {SITE_KEY} nor {ROOT_KEY}", dir.display())
    }
}

fn with_extension(prefix: &Path, extension: &str) -> PathBuf {
    let mut path = prefix.as_os_str().to_owned();
    path.push(".");
    path.push(extension);
    PathBuf::from(path)
}

/// Tells the operator what was created: paths, serial, key id and validity; never the key.
fn report(
    cx: &mut Env<'_>,
    json: bool,
    what: &str,
    credential: &Credential,
    cred_path: &Path,
    key_path: Option<&Path>,
) -> Result<u8> {
    let claims = credential.claims();
    if json {
        let value = json!({
            "role": claims.role.name(),
            "subject": claims.subject,
            "site": claims.site,
            "serial": claims.serial.to_string(),
            "key_id": credential.key_id().to_string(),
            "expires": claims.expires,
            "credential": cred_path,
            "private_key": key_path,
        });
        writeln!(cx.out, "{value:#}")?;
        return Ok(EXIT_OK);
    }
    writeln!(cx.out, "Created {what} {:?}", claims.subject)?;
    writeln!(
        cx.out,
        "  credential   {} ({} bytes)",
        cred_path.display(),
        credential.as_bytes().len()
    )?;
    if let Some(key_path) = key_path {
        writeln!(cx.out, "  private key  {} (mode 0600)", key_path.display())?;
    }
    writeln!(cx.out, "  serial       {}", claims.serial)?;
    writeln!(cx.out, "  key id       {}", credential.key_id())?;
    writeln!(cx.out, "  valid until  {}", rfc3339(claims.expires))?;
    Ok(EXIT_OK)
}
