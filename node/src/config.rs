//! The node's configuration: one TOML file in which every key is optional.
//!
//! Defaults are the safe choice, so an empty file, or none, gives a working node.
//! `ward config example` prints [`EXAMPLE`], the full file with every default written out
//! and explained; a test keeps the two in step.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::duration::Lifetime;
use crate::files;

/// The commented default configuration, as printed by `ward config example`.
pub const EXAMPLE: &str = r#"# Ward node configuration. Every key is optional: the values below are the defaults.

# Where the node keeps its keys, credentials and database.
data_dir = "ward-data"

[credentials]
# Tolerance for clocks that disagree about a credential's validity period, in seconds.
leeway_secs = 60
# Default lifetimes of credentials issued with `ward cert issue`, per role. A credential
# never outlives the site CA that issues it.
node_lifetime = "90d"
camera_lifetime = "30d"
admin_lifetime = "7d"

[frame_tokens]
# How long a frame token stays valid after the camera stamped it: 1000 to 5000 ms.
lifetime_ms = 2000
# How far ahead of the node's clock a camera's timestamp may be, at most 1000 ms.
max_skew_ms = 250
"#;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the node keeps its state.
    pub data_dir: PathBuf,
    /// Credential issuance and validation.
    pub credentials: CredentialConfig,
    /// Per-frame token checks at the stream gate.
    pub frame_tokens: FrameTokenConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("ward-data"),
            credentials: CredentialConfig::default(),
            frame_tokens: FrameTokenConfig::default(),
        }
    }
}

/// Credential issuance and validation settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialConfig {
    /// Clock tolerance for validity periods, in seconds.
    pub leeway_secs: u64,
    /// Default lifetime of node credentials.
    pub node_lifetime: Lifetime,
    /// Default lifetime of camera credentials.
    pub camera_lifetime: Lifetime,
    /// Default lifetime of admin credentials.
    pub admin_lifetime: Lifetime,
}

impl Default for CredentialConfig {
    fn default() -> Self {
        CredentialConfig {
            leeway_secs: ward_crypto::chain::DEFAULT_LEEWAY_SECS,
            node_lifetime: Lifetime(90 * 86_400),
            camera_lifetime: Lifetime(30 * 86_400),
            admin_lifetime: Lifetime(7 * 86_400),
        }
    }
}

/// Frame token settings, checked against the limits of `ward_crypto::token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameTokenConfig {
    /// Token lifetime in milliseconds.
    pub lifetime_ms: u64,
    /// Largest accepted clock skew in milliseconds.
    pub max_skew_ms: u64,
}

impl Default for FrameTokenConfig {
    fn default() -> Self {
        FrameTokenConfig {
            lifetime_ms: 2_000,
            max_skew_ms: 250,
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = files::read_bounded(path)?;
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        Self::parse(text).with_context(|| format!("invalid configuration in {}", path.display()))
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        ward_crypto::token::TokenPolicy::new(
            self.frame_tokens.lifetime_ms,
            self.frame_tokens.max_skew_ms,
        )
        .context("frame_tokens")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_example_is_exactly_the_defaults() {
        assert_eq!(
            Config::parse(EXAMPLE).expect("example parses"),
            Config::default()
        );
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(Config::parse("").expect("empty parses"), Config::default());
    }

    #[test]
    fn unknown_keys_and_unsafe_values_are_refused() {
        assert!(
            Config::parse("data_dri = \"x\"").is_err(),
            "a typo must not be ignored"
        );
        assert!(Config::parse("[frame_tokens]\nlifetime_ms = 60000").is_err());
        assert!(Config::parse("[credentials]\ncamera_lifetime = \"0d\"").is_err());
    }
}
