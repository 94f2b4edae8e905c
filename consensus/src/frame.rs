//! Checksummed frames: the form in which everything the registry keeps on disk is stored,
//! Raft log entries, the vote, the registry's records and snapshots.
//!
//! ```text
//! frame = format (1 byte) | checksum (8 bytes) | payload (CBOR)
//! checksum = SHA-256(format | payload), first 8 bytes
//! ```
//!
//! The checksum catches a torn write, a flipped bit or a file edited by hand, so that a
//! corrupt entry is refused rather than applied. It is not a MAC: whoever can write the file
//! can also fix the checksum, and the registry's secrets are sealed separately. SHA-256 is
//! already a dependency and hashes at over 1 GiB/s here, so the check costs little next to
//! the fsync every write pays.
//!
//! The format byte lets a later release change the payload's layout and still read what this
//! one wrote: a reader refuses a format it does not know instead of guessing.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

/// The payload layout this release writes: CBOR of the serde form of the value.
pub const FORMAT_V1: u8 = 1;

/// The largest frame read back. Snapshots are the largest frames; a site's registry of
/// thousands of cameras stays far below this.
pub const MAX_FRAME_LEN: usize = 256 << 20;

const CHECKSUM_LEN: usize = 8;
const HEADER_LEN: usize = 1 + CHECKSUM_LEN;

/// CBOR nesting deeper than this is refused while decoding.
const RECURSION_LIMIT: usize = 64;

/// Why a frame could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the header.
    #[error("frame of {0} bytes is shorter than its header")]
    Truncated(usize),
    /// More bytes than [`MAX_FRAME_LEN`].
    #[error("frame of {0} bytes is larger than the limit")]
    TooLarge(usize),
    /// A format this release does not read.
    #[error("frame format {0} is unknown to this release")]
    UnknownFormat(u8),
    /// The checksum does not match: the bytes changed after they were written.
    #[error("checksum mismatch: the stored bytes are corrupt")]
    Checksum,
    /// The checksum matches but the payload does not decode as the expected type.
    #[error("payload does not decode: {0}")]
    Decode(String),
    /// The value could not be encoded.
    #[error("payload does not encode: {0}")]
    Encode(String),
}

/// Encodes `value` and frames it.
pub fn seal<T: Serialize>(value: &T) -> Result<Vec<u8>, FrameError> {
    let mut frame = vec![FORMAT_V1; HEADER_LEN];
    ciborium::into_writer(value, &mut frame).map_err(|e| FrameError::Encode(e.to_string()))?;
    let checksum = checksum(FORMAT_V1, &frame[HEADER_LEN..]);
    frame[1..HEADER_LEN].copy_from_slice(&checksum);
    Ok(frame)
}

/// Checks `frame` and decodes its payload.
pub fn open<T: DeserializeOwned>(frame: &[u8]) -> Result<T, FrameError> {
    let payload = verify(frame)?;
    ciborium::de::from_reader_with_recursion_limit(payload, RECURSION_LIMIT)
        .map_err(|e| FrameError::Decode(e.to_string()))
}

/// Checks `frame`'s length, format and checksum, and returns its payload.
pub fn verify(frame: &[u8]) -> Result<&[u8], FrameError> {
    if frame.len() < HEADER_LEN {
        return Err(FrameError::Truncated(frame.len()));
    }
    if frame.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(frame.len()));
    }
    let (header, payload) = frame.split_at(HEADER_LEN);
    if header[0] != FORMAT_V1 {
        return Err(FrameError::UnknownFormat(header[0]));
    }
    if header[1..] != checksum(header[0], payload) {
        return Err(FrameError::Checksum);
    }
    Ok(payload)
}

fn checksum(format: u8, payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update([format])
        .chain_update(payload)
        .finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        name: String,
        count: u64,
    }

    fn sample() -> Sample {
        Sample {
            name: "camera-7".into(),
            count: 42,
        }
    }

    #[test]
    fn a_sealed_value_opens_to_itself() {
        let frame = seal(&sample()).expect("encodes");
        assert_eq!(open::<Sample>(&frame).expect("opens"), sample());
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let frame = seal(&sample()).expect("encodes");
        for byte in 0..frame.len() {
            for bit in 0..8 {
                let mut bad = frame.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    open::<Sample>(&bad).is_err(),
                    "flip of bit {bit} in byte {byte} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn truncated_and_unknown_formats_are_refused() {
        let frame = seal(&sample()).expect("encodes");
        assert!(matches!(verify(&frame[..4]), Err(FrameError::Truncated(4))));
        assert!(matches!(
            verify(&frame[..frame.len() - 1]),
            Err(FrameError::Checksum)
        ));
        let mut future = frame.clone();
        future[0] = 2;
        assert!(matches!(verify(&future), Err(FrameError::UnknownFormat(2))));
    }

    #[test]
    fn a_sound_frame_of_another_type_is_a_decode_error() {
        let frame = seal(&"just a string").expect("encodes");
        assert!(matches!(open::<Sample>(&frame), Err(FrameError::Decode(_))));
    }
}
