//! The data directory: everything a node keeps between restarts.
//!
//! ```text
//! ward-data/                 mode 0700
//!   node-identity.key        libp2p Ed25519 keypair (protobuf encoding), mode 0600: the
//!                            PeerId. Created on first start, reused ever after.
//!   node.key                 the node's P-256 private key (COSE_Key), mode 0600
//!   node.cwt                 the node's credential: role node, subject = PeerId (base58).
//!                            Both come from `ward cert issue --role node --subject <PeerId>
//!                            --ca <site bundle> --out ward-data/node`.
//!   fleet-root.cwt           trust anchor: the fleet root credential
//!   site-ca.cwt              the credential of the site CA that issued node.cwt
//!   ward.redb                the mesh store: revocations and credentials learned
//!   dev-pki/                 development nodes only, mode 0700: a fleet and a site made by
//!     fleet-root.key           `ward run` on first start. It is laid out as a fleet
//!     fleet-root.cwt           directory and a site bundle at once, so
//!     site-ca.key              `ward cert issue --ca ward-data/dev-pki` issues more
//!     site-ca.cwt              credentials of the same development fleet.
//! ```
//!
//! The trust anchors keep the names they have in a site bundle (`ward site init`), so an
//! operator copies a bundle's public files in as they are; the bundle's `site-ca.key` stays
//! out of a node's data directory.
//!
//! A directory with none of the identity, the node credential and the fleet root is
//! *fresh*: `ward run` turns it into a development node. Any of them present means an
//! operator set the directory up, and `ward run` never creates trust material in it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use libp2p::identity::Keypair;
use zeroize::Zeroizing;

use crate::files;

/// The node's libp2p identity, which its PeerId names.
pub const NODE_IDENTITY: &str = "node-identity.key";
/// The node's P-256 private key, bound by its credential.
pub const NODE_KEY: &str = "node.key";
/// The node's credential.
pub const NODE_CREDENTIAL: &str = "node.cwt";
/// The fleet root credential, trust anchor of the mesh.
pub const FLEET_ROOT_CREDENTIAL: &str = "fleet-root.cwt";
/// The credential of the site CA that issued the node's.
pub const SITE_CA_CREDENTIAL: &str = "site-ca.cwt";
/// The node's redb database: the mesh store's tables, and its replica of the site registry
/// (the Raft log and the registry's tables).
pub const DATABASE: &str = "ward.redb";
/// The development fleet and site, with their private keys.
pub const DEV_PKI: &str = "dev-pki";

/// A node's data directory, created if absent.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens the data directory at `root`, creating it (mode 0700) if it does not exist.
    pub fn open(root: &Path) -> Result<DataDir> {
        match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => bail!("data directory {} is not a directory", root.display()),
            Err(_) => files::create_private_dir(root)?,
        }
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A file of the layout, by name.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The development PKI directory.
    pub fn dev_pki(&self) -> PathBuf {
        self.root.join(DEV_PKI)
    }

    /// Whether nothing here says an operator set the directory up: no identity, no node
    /// credential, no trust anchor.
    pub fn is_fresh(&self) -> bool {
        [NODE_IDENTITY, NODE_CREDENTIAL, FLEET_ROOT_CREDENTIAL]
            .iter()
            .all(|name| self.file(name).symlink_metadata().is_err())
    }

    /// Loads the node's libp2p identity, generating and saving a new Ed25519 one if there
    /// is none yet. The boolean says whether it was created now.
    pub fn load_or_create_identity(&self) -> Result<(Keypair, bool)> {
        let path = self.file(NODE_IDENTITY);
        if path.symlink_metadata().is_ok() {
            let bytes = files::read_secret(&path)?;
            let identity = Keypair::from_protobuf_encoding(&bytes)
                .with_context(|| format!("{} is not a libp2p keypair", path.display()))?;
            return Ok((identity, false));
        }
        let identity = Keypair::generate_ed25519();
        let bytes = Zeroizing::new(
            identity
                .to_protobuf_encoding()
                .context("cannot encode the node identity")?,
        );
        files::write_secret(&path, &bytes)?;
        Ok((identity, true))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn identity_is_created_once_private_and_reused() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = DataDir::open(&temp.path().join("data")).expect("created");
        assert!(dir.is_fresh());

        let (first, created) = dir.load_or_create_identity().expect("created");
        assert!(created);
        assert!(!dir.is_fresh(), "an identity means the directory is in use");
        let mode = fs::metadata(dir.file(NODE_IDENTITY))
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let (again, created) = dir.load_or_create_identity().expect("loaded");
        assert!(!created);
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
    }

    #[test]
    fn a_file_is_not_a_data_directory() {
        let temp = tempfile::tempdir().expect("temp dir");
        let file = temp.path().join("plain");
        fs::write(&file, b"x").expect("written");
        assert!(DataDir::open(&file).is_err());
    }
}
