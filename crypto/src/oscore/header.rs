//! The compressed COSE header carried in the OSCORE option (RFC 8613 §6.1).
//!
//! ```text
//!  0 1 2 3 4 5 6 7 <----- n bytes ----->
//! |0 0 0|h|k|  n  | Partial IV (if any) |
//! | s (if h) | kid context (s bytes) | kid (rest, if k) |
//! ```

use alloc::vec::Vec;
use core::fmt;

use super::error::OscoreError;

/// Largest Partial IV, and so largest Sender Sequence Number: 2^40 - 1 (§7.2.1, §12.6).
pub const MAX_PARTIAL_IV: u64 = (1 << 40) - 1;
/// Longest Partial IV encoding (§5.2: 5 bytes).
pub const PARTIAL_IV_LEN: usize = 5;
/// Longest OSCORE option value (§2).
pub const MAX_OPTION_LEN: usize = 255;

const FLAG_KID_CONTEXT: u8 = 0x10;
const FLAG_KID: u8 = 0x08;
const MASK_PIV_LEN: u8 = 0x07;
const MASK_RESERVED: u8 = 0xe0;

/// A Partial IV: a Sender Sequence Number in its shortest big-endian form (§5).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PartialIv {
    bytes: [u8; PARTIAL_IV_LEN],
    len: u8,
}

impl PartialIv {
    /// The Partial IV of sequence number `value`: leading zero bytes removed, 0 as `0x00`
    /// (§5), or `None` beyond 2^40 - 1.
    pub fn new(value: u64) -> Option<Self> {
        if value > MAX_PARTIAL_IV {
            return None;
        }
        let be = value.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count().min(7);
        let significant = &be[skip..];
        let mut bytes = [0u8; PARTIAL_IV_LEN];
        bytes[..significant.len()].copy_from_slice(significant);
        Some(PartialIv {
            bytes,
            len: significant.len() as u8,
        })
    }

    /// Reads a received Partial IV, refusing the empty, over-long and non-minimal encodings
    /// that no conforming sender produces (§5).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OscoreError> {
        match bytes {
            [] => Err(OscoreError::Malformed("empty Partial IV")),
            [0, _, ..] => Err(OscoreError::Malformed("Partial IV with a leading zero")),
            _ if bytes.len() > PARTIAL_IV_LEN => Err(OscoreError::Malformed("Partial IV too long")),
            _ => {
                let mut piv = PartialIv {
                    bytes: [0; PARTIAL_IV_LEN],
                    len: bytes.len() as u8,
                };
                piv.bytes[..bytes.len()].copy_from_slice(bytes);
                Ok(piv)
            }
        }
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The sequence number.
    pub fn value(&self) -> u64 {
        self.as_bytes()
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }
}

impl fmt::Debug for PartialIv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartialIv({})", self.value())
    }
}

/// The fields of an OSCORE option value (§6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OscoreOption<'a> {
    /// The Partial IV, present in requests and in some responses.
    pub partial_iv: Option<PartialIv>,
    /// The 'kid context': the ID Context, when the sender includes it (§5.1).
    pub kid_context: Option<&'a [u8]>,
    /// The 'kid': the sender's Sender ID, present in requests.
    pub kid: Option<&'a [u8]>,
}

impl<'a> OscoreOption<'a> {
    /// Decompresses an option value (§6.1). Every failure is the decompression failure of
    /// §8.2 step 2, answered with 4.02 (Bad Option).
    pub fn decode(value: &'a [u8]) -> Result<Self, OscoreError> {
        if value.len() > MAX_OPTION_LEN {
            return Err(OscoreError::Malformed(
                "OSCORE option longer than 255 bytes",
            ));
        }
        let Some((&flags, mut rest)) = value.split_first() else {
            return Ok(OscoreOption::default());
        };
        // §2: all-zero flag bits are sent as an empty value, never as 0x00.
        if flags == 0 && rest.is_empty() {
            return Err(OscoreError::Malformed("zero flags in a non-empty value"));
        }
        // §6.1: set reserved bits make the message malformed.
        if flags & MASK_RESERVED != 0 {
            return Err(OscoreError::Malformed("reserved flag bits set"));
        }
        let piv_len = usize::from(flags & MASK_PIV_LEN);
        if piv_len > PARTIAL_IV_LEN {
            return Err(OscoreError::Malformed("reserved Partial IV length"));
        }
        let mut option = OscoreOption::default();
        if piv_len > 0 {
            let (piv, tail) = rest
                .split_at_checked(piv_len)
                .ok_or(OscoreError::Malformed("truncated Partial IV"))?;
            option.partial_iv = Some(PartialIv::from_bytes(piv)?);
            rest = tail;
        }
        if flags & FLAG_KID_CONTEXT != 0 {
            let (&len, tail) = rest
                .split_first()
                .ok_or(OscoreError::Malformed("missing kid context length"))?;
            let (context, tail) = tail
                .split_at_checked(usize::from(len))
                .ok_or(OscoreError::Malformed("truncated kid context"))?;
            option.kid_context = Some(context);
            rest = tail;
        }
        if flags & FLAG_KID != 0 {
            // §6.1: the kid is the last field and takes the remaining bytes.
            option.kid = Some(rest);
        } else if !rest.is_empty() {
            return Err(OscoreError::Malformed("bytes after the last field"));
        }
        Ok(option)
    }

    /// Compresses the fields into an option value (§6.1); no flags give the empty value.
    pub fn encode(&self) -> Result<Vec<u8>, OscoreError> {
        let mut flags = 0u8;
        let mut out = Vec::new();
        out.push(0);
        if let Some(piv) = &self.partial_iv {
            flags |= piv.len;
            out.extend_from_slice(piv.as_bytes());
        }
        if let Some(context) = self.kid_context {
            let len = u8::try_from(context.len())
                .map_err(|_| OscoreError::InvalidParameter("kid context longer than 255 bytes"))?;
            flags |= FLAG_KID_CONTEXT;
            out.push(len);
            out.extend_from_slice(context);
        }
        if let Some(kid) = self.kid {
            flags |= FLAG_KID;
            out.extend_from_slice(kid);
        }
        if flags == 0 {
            return Ok(Vec::new());
        }
        if out.len() > MAX_OPTION_LEN {
            return Err(OscoreError::InvalidParameter(
                "OSCORE option longer than 255 bytes",
            ));
        }
        out[0] = flags;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    fn piv(value: u64) -> PartialIv {
        PartialIv::new(value).expect("in range")
    }

    #[test]
    fn partial_ivs_are_minimal() {
        assert_eq!(piv(0).as_bytes(), &[0x00]);
        assert_eq!(piv(20).as_bytes(), &[0x14]);
        assert_eq!(piv(0x0102).as_bytes(), &[0x01, 0x02]);
        assert_eq!(piv(MAX_PARTIAL_IV).as_bytes(), &[0xff; 5]);
        assert_eq!(PartialIv::new(MAX_PARTIAL_IV + 1), None);
        assert_eq!(PartialIv::from_bytes(&[0x00]).map(|p| p.value()), Ok(0));
        assert!(PartialIv::from_bytes(&[0x00, 0x05]).is_err());
        assert!(PartialIv::from_bytes(&[]).is_err());
        assert!(PartialIv::from_bytes(&[1; 6]).is_err());
    }

    /// RFC 8613 §6.3: the compression examples, and Appendix C's option values.
    #[test]
    fn published_option_values_round_trip() {
        let cases: [(&[u8], OscoreOption<'_>); 6] = [
            (
                &[0x09, 0x05, 0x25],
                OscoreOption {
                    partial_iv: Some(piv(5)),
                    kid_context: None,
                    kid: Some(&[0x25]),
                },
            ),
            (
                &[0x09, 0x00],
                OscoreOption {
                    partial_iv: Some(piv(0)),
                    kid_context: None,
                    kid: Some(&[]),
                },
            ),
            (
                &[0x19, 0x05, 0x05, 0x44, 0x61, 0x6c, 0x65, 0x6b],
                OscoreOption {
                    partial_iv: Some(piv(5)),
                    kid_context: Some(b"Dalek"),
                    kid: Some(&[]),
                },
            ),
            (&[], OscoreOption::default()),
            (
                &[0x01, 0x07],
                OscoreOption {
                    partial_iv: Some(piv(7)),
                    ..OscoreOption::default()
                },
            ),
            (
                &[0x09, 0x14, 0x00],
                OscoreOption {
                    partial_iv: Some(piv(20)),
                    kid_context: None,
                    kid: Some(&[0x00]),
                },
            ),
        ];
        for (value, option) in cases {
            assert_eq!(OscoreOption::decode(value), Ok(option), "{value:02x?}");
            assert_eq!(option.encode(), Ok(value.to_vec()));
        }
    }

    #[test]
    fn malformed_option_values_are_refused() {
        for value in [
            &[0x00][..],               // zero flags must be sent as an empty value
            &[0x20],                   // reserved bit
            &[0x80],                   // reserved bit
            &[0x06, 1, 2, 3, 4, 5, 6], // reserved Partial IV length 6
            &[0x07, 1, 2, 3, 4, 5, 6, 7],
            &[0x02, 0x01],       // truncated Partial IV
            &[0x01, 0x00, 0x00], // bytes after the last field
            &[0x10],             // missing kid context length
            &[0x10, 0x03, 0x01], // truncated kid context
            &[0x02, 0x00, 0x01], // non-minimal Partial IV
        ] {
            assert!(OscoreOption::decode(value).is_err(), "{value:02x?}");
        }
        assert!(OscoreOption::decode(&vec![0x08; 256]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_random_values_never_panics_and_reencodes(
            value in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            if let Ok(option) = OscoreOption::decode(&value) {
                prop_assert_eq!(option.encode(), Ok(value));
            }
        }
    }
}
