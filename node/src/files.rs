//! Reading and writing the operator's PKI files.
//!
//! Private keys are written with mode 0600 and never over an existing file: losing a fleet
//! root key to a mistyped path is unrecoverable, so the operator must remove a key file
//! deliberately. Reads are bounded so a wrong path to a huge file fails fast.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

/// Largest file the PKI commands read: ten times the largest credential.
pub const MAX_FILE_LEN: u64 = 16 * 1024;

/// Reads a whole file of at most [`MAX_FILE_LEN`] bytes.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Sized up front so the buffer never reallocates and leaves copies of a key behind.
    let mut bytes = Vec::with_capacity(MAX_FILE_LEN as usize + 1);
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        bail!(
            "{} is larger than {MAX_FILE_LEN} bytes; it is not a Ward file",
            path.display()
        );
    }
    Ok(bytes)
}

/// Reads a private key file into a buffer that is wiped when dropped.
pub fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    read_bounded(path).map(Zeroizing::new)
}

/// Writes a private key: mode 0600, refusing to replace an existing file.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write key file {}", path.display()))
}

/// Writes a public file (credential, revocation), refusing to replace an existing one.
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Fails if any of `paths` exists, so a command checks all its outputs before writing one
/// and never leaves half of its work behind.
pub fn ensure_absent(paths: &[&Path]) -> Result<()> {
    for path in paths {
        if path.symlink_metadata().is_ok() {
            bail!(
                "{} already exists; remove it first if you mean to replace it",
                path.display()
            );
        }
    }
    Ok(())
}

/// Creates a directory (and its parents) readable by its owner only.
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create directory {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.key");
        write_secret(&path, b"first").expect("written");
        let mode = fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_secret(&path, b"second").is_err());
        assert_eq!(&*read_secret(&path).expect("readable"), b"first");
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        fs::write(&path, vec![0u8; MAX_FILE_LEN as usize + 1]).expect("written");
        assert!(read_bounded(&path).is_err());
    }
}
