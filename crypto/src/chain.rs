//! Chain validation: fleet root → site CA → end entity, and nothing deeper.
//!
//! ```text
//! fleet root   Ed25519, self-signed, role fleet-root      (the trust anchor, kept offline)
//!   └ site CA  P-256, signed EdDSA by the root, role site-ca
//!       └ leaf P-256 or Ed25519, signed ES256 by the site CA, role node | camera | admin
//! ```
//!
//! Every link is checked for signature, issuer name, validity period and role, and every link
//! below the anchor for revocation (the root is the anchor: it is replaced, not revoked);
//! the leaf also for site and scopes. Each way a chain can fail has its own [`Rejection`], so
//! an operator reading `ward cert verify` learns exactly which rule refused it. Times are
//! seconds since the UNIX epoch, passed in by the caller.

use alloc::string::String;
use core::fmt;

use crate::credential::{Credential, Role};
use crate::keys::{Algorithm, PublicKey};
use crate::revocation::{RevocationStatus, RevokedBy};

/// Default tolerance for clocks that disagree about validity periods, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// What a leaf credential must satisfy besides chaining to the root.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// The role the leaf must hold.
    pub role: Role,
    /// Scopes the leaf must all hold.
    pub scopes: &'a [&'a str],
    /// The site the leaf must belong to, if the caller serves one site.
    pub site: Option<&'a str>,
    /// Clock tolerance applied to `nbf` and `exp`.
    pub leeway_secs: u64,
}

impl Policy<'_> {
    /// A policy that asks only for `role`, with the default leeway.
    pub fn role(role: Role) -> Policy<'static> {
        Policy {
            role,
            scopes: &[],
            site: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Which credential of the chain a rejection concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The fleet root.
    FleetRoot,
    /// The site CA.
    SiteCa,
    /// The end-entity credential.
    Leaf,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::FleetRoot => "fleet root",
            Link::SiteCa => "site CA",
            Link::Leaf => "credential",
        })
    }
}

/// The rule a credential broke.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The signature does not verify under the issuer's key.
    BadSignature,
    /// `iss` does not name the issuer it was checked against.
    WrongIssuer {
        /// The issuer's subject name.
        expected: String,
        /// The credential's `iss`.
        found: String,
    },
    /// The validity period ended.
    Expired {
        /// `exp`.
        expires: u64,
    },
    /// The validity period has not begun.
    NotYetValid {
        /// `nbf`.
        not_before: u64,
    },
    /// The role is not the one this position in the chain requires.
    WrongRole {
        /// The role required.
        expected: Role,
        /// The role held.
        found: Role,
    },
    /// The bound key is of a type this position does not allow.
    WrongKeyType {
        /// The algorithm required.
        expected: Algorithm,
    },
    /// The fleet root is not signed by its own key.
    NotSelfSigned,
    /// A scope the policy requires is missing.
    MissingScope(String),
    /// The credential belongs to another site than the one required.
    WrongSite {
        /// The site required.
        expected: String,
        /// The site claimed, if any.
        found: Option<String>,
    },
    /// A revocation applies.
    Revoked(RevokedBy),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::BadSignature => f.write_str("signature does not verify"),
            Rejection::WrongIssuer { expected, found } => {
                write!(f, "issued by {found:?}, expected {expected:?}")
            }
            Rejection::Expired { expires } => write!(f, "expired at {expires}"),
            Rejection::NotYetValid { not_before } => write!(f, "not valid before {not_before}"),
            Rejection::WrongRole { expected, found } => {
                write!(f, "has role {found}, expected {expected}")
            }
            Rejection::WrongKeyType { expected } => {
                write!(f, "binds a key not usable for {expected}")
            }
            Rejection::NotSelfSigned => f.write_str("is not signed by its own key"),
            Rejection::MissingScope(scope) => write!(f, "lacks scope {scope:?}"),
            Rejection::WrongSite {
                expected,
                found: Some(found),
            } => {
                write!(f, "belongs to site {found:?}, expected {expected:?}")
            }
            Rejection::WrongSite {
                expected,
                found: None,
            } => {
                write!(f, "names no site, expected {expected:?}")
            }
            Rejection::Revoked(by) => write!(f, "is revoked: {by}"),
        }
    }
}

/// A chain failed validation: which link, and which rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{link} {reason}")]
pub struct ChainError {
    /// The credential that failed.
    pub link: Link,
    /// The rule it broke.
    pub reason: Rejection,
}

/// A fleet root credential whose self-signature and form have been checked: the trust anchor.
#[derive(Clone, Debug)]
pub struct FleetRoot {
    credential: Credential,
}

impl FleetRoot {
    /// Accepts `credential` as a trust anchor if it is a self-signed Ed25519 fleet root.
    /// Its validity period is checked on every use, not here.
    pub fn new(credential: Credential) -> Result<FleetRoot, ChainError> {
        let reject = |reason| ChainError {
            link: Link::FleetRoot,
            reason,
        };
        let claims = credential.claims();
        if claims.role != Role::FleetRoot {
            return Err(reject(Rejection::WrongRole {
                expected: Role::FleetRoot,
                found: claims.role,
            }));
        }
        if claims.key.algorithm() != Algorithm::EdDsa {
            return Err(reject(Rejection::WrongKeyType {
                expected: Algorithm::EdDsa,
            }));
        }
        if claims.issuer != claims.subject || credential.verify_signature(&claims.key).is_err() {
            return Err(reject(Rejection::NotSelfSigned));
        }
        Ok(FleetRoot { credential })
    }

    /// The fleet's name: the root's subject, which site CAs name as their issuer.
    pub fn name(&self) -> &str {
        &self.credential.claims().subject
    }

    /// The root's public key.
    pub fn key(&self) -> &PublicKey {
        &self.credential.claims().key
    }

    /// The root credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Validates a site CA credential against this root at time `now`, with the default
    /// leeway of [`DEFAULT_LEEWAY_SECS`].
    pub fn validate_site_ca(
        &self,
        site_ca: &Credential,
        now: u64,
        revocations: &impl RevocationStatus,
    ) -> Result<TrustedSiteCa, ChainError> {
        self.validate_site_ca_with_leeway(site_ca, now, DEFAULT_LEEWAY_SECS, revocations)
    }

    /// Like [`FleetRoot::validate_site_ca`], with `leeway_secs` of clock tolerance on the
    /// root's and the site CA's validity periods.
    pub fn validate_site_ca_with_leeway(
        &self,
        site_ca: &Credential,
        now: u64,
        leeway_secs: u64,
        revocations: &impl RevocationStatus,
    ) -> Result<TrustedSiteCa, ChainError> {
        check_period(&self.credential, Link::FleetRoot, now, leeway_secs)?;
        let reject = |reason| ChainError {
            link: Link::SiteCa,
            reason,
        };
        check_issued_by(site_ca, Link::SiteCa, self.name(), self.key())?;
        let claims = site_ca.claims();
        if claims.role != Role::SiteCa {
            return Err(reject(Rejection::WrongRole {
                expected: Role::SiteCa,
                found: claims.role,
            }));
        }
        // DESIGN §2: site CAs sign with ES256, which camera secure elements verify in hardware.
        if claims.key.algorithm() != Algorithm::Es256 {
            return Err(reject(Rejection::WrongKeyType {
                expected: Algorithm::Es256,
            }));
        }
        check_period(site_ca, Link::SiteCa, now, leeway_secs)?;
        revocations
            .check(site_ca)
            .map_err(|by| reject(Rejection::Revoked(by)))?;
        Ok(TrustedSiteCa {
            credential: site_ca.clone(),
        })
    }

    /// Validates `leaf`, issued by `site_ca`, against this root and `policy` at time `now`.
    pub fn validate(
        &self,
        site_ca: &Credential,
        leaf: &Credential,
        policy: &Policy<'_>,
        now: u64,
        revocations: &impl RevocationStatus,
    ) -> Result<(), ChainError> {
        // One clock tolerance for every link: the policy's.
        self.validate_site_ca_with_leeway(site_ca, now, policy.leeway_secs, revocations)?
            .validate_leaf(leaf, policy, now, revocations)
    }
}

/// A site CA credential that chains to the fleet root, as of the time it was validated.
#[derive(Clone, Debug)]
pub struct TrustedSiteCa {
    credential: Credential,
}

impl TrustedSiteCa {
    /// The site CA's subject name, which its leaves name as their issuer.
    pub fn name(&self) -> &str {
        &self.credential.claims().subject
    }

    /// The site the CA serves.
    pub fn site(&self) -> Option<&str> {
        self.credential.claims().site.as_deref()
    }

    /// The CA's public key.
    pub fn key(&self) -> &PublicKey {
        &self.credential.claims().key
    }

    /// The CA credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Validates an end-entity credential issued by this CA.
    pub fn validate_leaf(
        &self,
        leaf: &Credential,
        policy: &Policy<'_>,
        now: u64,
        revocations: &impl RevocationStatus,
    ) -> Result<(), ChainError> {
        let reject = |reason| ChainError {
            link: Link::Leaf,
            reason,
        };
        check_issued_by(leaf, Link::Leaf, self.name(), self.key())?;
        let claims = leaf.claims();
        // Two levels at most: whatever a site CA signs is an end entity, never another CA.
        if claims.role.is_authority() || claims.role != policy.role {
            return Err(reject(Rejection::WrongRole {
                expected: policy.role,
                found: claims.role,
            }));
        }
        if claims.site.as_deref() != self.site() {
            let expected = self.site().unwrap_or_default().into();
            return Err(reject(Rejection::WrongSite {
                expected,
                found: claims.site.clone(),
            }));
        }
        if let Some(site) = policy.site
            && claims.site.as_deref() != Some(site)
        {
            let found = claims.site.clone();
            return Err(reject(Rejection::WrongSite {
                expected: site.into(),
                found,
            }));
        }
        if let Some(expected) = claims.role.required_key_algorithm()
            && claims.key.algorithm() != expected
        {
            return Err(reject(Rejection::WrongKeyType { expected }));
        }
        check_period(leaf, Link::Leaf, now, policy.leeway_secs)?;
        if let Some(missing) = policy.scopes.iter().find(|scope| !claims.has_scope(scope)) {
            return Err(reject(Rejection::MissingScope((*missing).into())));
        }
        revocations
            .check(leaf)
            .map_err(|by| reject(Rejection::Revoked(by)))
    }
}

fn check_issued_by(
    credential: &Credential,
    link: Link,
    issuer_name: &str,
    issuer_key: &PublicKey,
) -> Result<(), ChainError> {
    let claims = credential.claims();
    if claims.issuer != issuer_name {
        let reason = Rejection::WrongIssuer {
            expected: issuer_name.into(),
            found: claims.issuer.clone(),
        };
        return Err(ChainError { link, reason });
    }
    credential
        .verify_signature(issuer_key)
        .map_err(|_| ChainError {
            link,
            reason: Rejection::BadSignature,
        })
}

fn check_period(
    credential: &Credential,
    link: Link,
    now: u64,
    leeway: u64,
) -> Result<(), ChainError> {
    let claims = credential.claims();
    // RFC 8392 §3.1.4/§3.1.5: valid from nbf inclusive until exp exclusive, widened by leeway.
    if now.saturating_add(leeway) < claims.not_before {
        let reason = Rejection::NotYetValid {
            not_before: claims.not_before,
        };
        return Err(ChainError { link, reason });
    }
    if now >= claims.expires.saturating_add(leeway) {
        return Err(ChainError {
            link,
            reason: Rejection::Expired {
                expires: claims.expires,
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
