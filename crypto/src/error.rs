//! Errors shared by every decoder in the crate.
//!
//! Decoders read bytes from the network and from files that an attacker may have written, so
//! their errors name what was wrong with the input, never what a secret contained.

/// Why bytes could not be read as a Ward object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the object may ever be.
    #[error("input of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The limit for this kind of object.
        max: usize,
    },
    /// The input ends inside an item, or claims more than it holds.
    #[error("input is truncated")]
    Truncated,
    /// Arrays, maps or tags nest deeper than this kind of object ever does.
    #[error("input nests too deeply")]
    TooDeep,
    /// The input holds more data items than this kind of object ever does.
    #[error("input holds too many items")]
    TooManyItems,
    /// Bytes follow the single item that was expected.
    #[error("trailing bytes after the item")]
    TrailingBytes,
    /// Well-formed CBOR that is not the expected structure.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A signature or key algorithm that Ward does not accept.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A public or private key whose bytes do not form a valid key.
    #[error("invalid key")]
    InvalidKey,
}

impl From<coset::CoseError> for DecodeError {
    fn from(err: coset::CoseError) -> Self {
        match err {
            coset::CoseError::ExtraneousData => DecodeError::TrailingBytes,
            coset::CoseError::DecodeFailed(_) => DecodeError::Malformed("CBOR decoding failed"),
            coset::CoseError::DuplicateMapKey => DecodeError::Malformed("duplicate map key"),
            coset::CoseError::UnexpectedItem(_, _) => DecodeError::Malformed("unexpected item"),
            coset::CoseError::OutOfRangeIntegerValue => {
                DecodeError::Malformed("integer out of range")
            }
            _ => DecodeError::Malformed("invalid COSE structure"),
        }
    }
}

/// A signature did not verify under the key it was checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct SignatureError;
