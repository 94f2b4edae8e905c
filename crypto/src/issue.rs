//! Issuing credentials: the fleet root's self-signed credential, site CAs and end entities.
//!
//! The rules mirror what [`crate::chain`] accepts, so that Ward never issues a credential it
//! would refuse: the root signs only site CAs, a site CA signs only nodes, cameras and
//! admins of its own site, and nothing outlives the credential of the authority that signed
//! it.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::credential::{Claims, Credential, MAX_NAME_LEN, MAX_SCOPES, Role, Serial};
use crate::keys::{Algorithm, PublicKey, SecretKey};

/// Why a credential could not be issued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The signing key is not the key the authority's credential binds.
    #[error("signing key does not match the authority's credential")]
    KeyMismatch,
    /// The authority may not issue credentials of this role.
    #[error("a {issuer} may not issue a {requested} credential")]
    RoleNotIssuable {
        /// The authority's role.
        issuer: Role,
        /// The role requested.
        requested: Role,
    },
    /// The key is of a type the role does not allow.
    #[error("a {role} credential must bind a {expected} key")]
    WrongKeyType {
        /// The role requested.
        role: Role,
        /// The algorithm its key must use.
        expected: Algorithm,
    },
    /// A subject, site or scope is empty, too long, or holds control characters.
    #[error("invalid name {0:?}")]
    InvalidName(String),
    /// More scopes than a credential may carry.
    #[error("at most {MAX_SCOPES} scopes")]
    TooManyScopes,
    /// The lifetime is zero, or the authority's own credential has already expired.
    #[error("empty validity period")]
    EmptyValidity,
}

/// What to put in a new credential.
#[derive(Clone, Debug)]
pub struct CredentialRequest {
    /// Who it is for.
    pub subject: String,
    /// What the subject is.
    pub role: Role,
    /// The subject's public key.
    pub key: PublicKey,
    /// What the subject may do.
    pub scopes: Vec<String>,
    /// How long it is valid from `now`, in seconds.
    pub lifetime_secs: u64,
}

/// Creates the fleet root: a credential for `key`, signed by itself.
pub fn fleet_root<R: CryptoRng + ?Sized>(
    name: &str,
    key: &SecretKey,
    now: u64,
    lifetime_secs: u64,
    rng: &mut R,
) -> Result<Credential, IssueError> {
    if key.algorithm() != Algorithm::EdDsa {
        return Err(IssueError::WrongKeyType {
            role: Role::FleetRoot,
            expected: Algorithm::EdDsa,
        });
    }
    check_name(name)?;
    if lifetime_secs == 0 {
        return Err(IssueError::EmptyValidity);
    }
    let claims = Claims {
        issuer: name.into(),
        subject: name.into(),
        issued_at: now,
        not_before: now,
        expires: now.saturating_add(lifetime_secs),
        serial: Serial::random(rng),
        key: key.public_key(),
        role: Role::FleetRoot,
        site: None,
        scopes: Vec::new(),
    };
    Ok(Credential::sign(claims, key))
}

/// An authority that signs credentials: its key and the credential that binds it.
#[derive(Debug)]
pub struct Issuer<'a> {
    key: &'a SecretKey,
    credential: &'a Credential,
}

impl<'a> Issuer<'a> {
    /// Pairs a signing key with the authority credential that binds it.
    pub fn new(key: &'a SecretKey, credential: &'a Credential) -> Result<Self, IssueError> {
        if key.public_key() != credential.claims().key {
            return Err(IssueError::KeyMismatch);
        }
        Ok(Issuer { key, credential })
    }

    /// Issues a credential for `request`, valid from `now`.
    ///
    /// A site CA's leaves inherit its site. Validity is cut at the authority's own expiry,
    /// since a chain is never valid longer than its shortest link.
    pub fn issue<R: CryptoRng + ?Sized>(
        &self,
        request: &CredentialRequest,
        now: u64,
        rng: &mut R,
    ) -> Result<Credential, IssueError> {
        let authority = self.credential.claims();
        let allowed = match authority.role {
            Role::FleetRoot => request.role == Role::SiteCa,
            Role::SiteCa => !request.role.is_authority(),
            _ => false,
        };
        if !allowed {
            let (issuer, requested) = (authority.role, request.role);
            return Err(IssueError::RoleNotIssuable { issuer, requested });
        }
        if let Some(expected) = request.role.required_key_algorithm()
            && request.key.algorithm() != expected
        {
            return Err(IssueError::WrongKeyType {
                role: request.role,
                expected,
            });
        }
        check_name(&request.subject)?;
        if request.scopes.len() > MAX_SCOPES {
            return Err(IssueError::TooManyScopes);
        }
        for scope in &request.scopes {
            check_name(scope)?;
        }
        let expires = now
            .saturating_add(request.lifetime_secs)
            .min(authority.expires);
        if expires <= now {
            return Err(IssueError::EmptyValidity);
        }
        let site = match authority.role {
            // A site CA's subject names its site.
            Role::FleetRoot => Some(request.subject.clone()),
            _ => authority.site.clone(),
        };
        let claims = Claims {
            issuer: authority.subject.clone(),
            subject: request.subject.clone(),
            issued_at: now,
            not_before: now,
            expires,
            serial: Serial::random(rng),
            key: request.key.clone(),
            role: request.role,
            site,
            scopes: request.scopes.clone(),
        };
        Ok(Credential::sign(claims, self.key))
    }
}

fn check_name(name: &str) -> Result<(), IssueError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(IssueError::InvalidName(name.into()));
    }
    Ok(())
}
