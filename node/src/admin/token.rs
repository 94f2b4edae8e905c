//! The admin API's bearer token (RFC 6750): a shared secret in a file, read by the node that
//! checks it and by the `ward` command that presents it.
//!
//! The token is kept in a buffer wiped on drop, never printed (its `Debug` is redacted), and
//! compared in constant time so response timing does not reveal how much of a guess was
//! right.

use std::fmt;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use axum::http::HeaderValue;
use zeroize::Zeroizing;

use crate::files;

/// Shortest token accepted: 32 bytes, e.g. 32 random characters or 64 hex digits of a
/// 256-bit random value, so guessing it over the network is hopeless.
pub const MIN_TOKEN_LEN: usize = 32;

/// The scheme of the `Authorization` header (RFC 6750 §2.1).
const BEARER: &str = "Bearer ";

/// The secret that `Authorization: Bearer <token>` must carry.
pub struct AdminToken {
    secret: Zeroizing<Vec<u8>>,
}

impl AdminToken {
    /// Reads the token from `path`: the whole file, surrounding whitespace (such as the final
    /// newline an editor adds) removed.
    pub fn load(path: &Path) -> Result<AdminToken> {
        let bytes = files::read_secret(path)?;
        AdminToken::from_secret(&bytes)
            .with_context(|| format!("{} does not hold a usable admin token", path.display()))
    }

    /// A token from its bytes, surrounding whitespace removed. It must be at least
    /// [`MIN_TOKEN_LEN`] bytes of visible ASCII, which is what an HTTP header can carry.
    pub fn from_secret(bytes: &[u8]) -> Result<AdminToken> {
        let trimmed = bytes.trim_ascii();
        if !trimmed.iter().all(|b| b.is_ascii_graphic()) {
            // The error names no byte of the token: the file may hold another secret.
            bail!("the token must be visible ASCII characters only");
        }
        if trimmed.len() < MIN_TOKEN_LEN {
            bail!(
                "the token is {} bytes long; at least {MIN_TOKEN_LEN} are required",
                trimmed.len()
            );
        }
        Ok(AdminToken {
            secret: Zeroizing::new(trimmed.to_vec()),
        })
    }

    /// Whether `header`, an `Authorization` header's value, presents this token.
    pub fn admits(&self, header: &HeaderValue) -> bool {
        let value = header.as_bytes();
        // RFC 9110 §11.1: the scheme is case-insensitive.
        let Some((scheme, presented)) = value.split_at_checked(BEARER.len()) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(BEARER.as_bytes()) && constant_time_eq(presented, &self.secret)
    }

    /// The `Authorization` header value presenting this token, marked sensitive so hyper
    /// keeps it out of HPACK tables and debug output.
    pub fn authorization(&self) -> HeaderValue {
        let mut value = Zeroizing::new(Vec::with_capacity(BEARER.len() + self.secret.len()));
        value.extend_from_slice(BEARER.as_bytes());
        value.extend_from_slice(&self.secret);
        let mut header = HeaderValue::from_bytes(&value)
            .expect("from_secret admits visible ASCII only, which a header value can carry");
        header.set_sensitive(true);
        header
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Compares two byte strings in time that depends on their lengths only.
///
/// The length of the token is not secret (any length from [`MIN_TOKEN_LEN`] up is allowed and
/// learning it does not shorten the search), so a length mismatch may return at once.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn surrounding_whitespace_is_not_part_of_the_token() {
        let token = AdminToken::from_secret(format!("  {SECRET}\n").as_bytes()).expect("valid");
        let header = HeaderValue::from_str(&format!("Bearer {SECRET}")).expect("header");
        assert!(token.admits(&header));
        assert_eq!(token.authorization(), header);
    }

    #[test]
    fn short_or_unprintable_tokens_are_refused() {
        assert!(AdminToken::from_secret(&SECRET.as_bytes()[1..]).is_err());
        assert!(AdminToken::from_secret(b"").is_err());
        let with_space = format!("{} {}", &SECRET[..16], &SECRET[16..]);
        assert!(AdminToken::from_secret(with_space.as_bytes()).is_err());
        let mut binary = SECRET.as_bytes().to_vec();
        binary[3] = 0xff;
        let error = AdminToken::from_secret(&binary).expect_err("not ASCII");
        assert!(!format!("{error:#}").contains(&SECRET[4..]));
    }

    #[test]
    fn only_the_exact_token_under_the_bearer_scheme_is_admitted() {
        let token = AdminToken::from_secret(SECRET.as_bytes()).expect("valid");
        let admits = |value: &str| token.admits(&HeaderValue::from_str(value).expect("header"));
        assert!(admits(&format!("Bearer {SECRET}")));
        assert!(admits(&format!("bearer {SECRET}")));
        assert!(!admits(&format!("Basic {SECRET}")));
        assert!(!admits(&format!("Bearer {SECRET}x")));
        assert!(!admits(&format!("Bearer {}", &SECRET[1..])));
        assert!(!admits(&format!("Bearer {}0", &SECRET[..31])));
        assert!(!admits("Bearer"));
        assert!(!admits(""));
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let token = AdminToken::from_secret(SECRET.as_bytes()).expect("valid");
        assert!(!format!("{token:?}").contains(SECRET));
        assert!(token.authorization().is_sensitive());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
