//! CoAP options: their numbers and properties (RFC 7252 §5.4, §5.10), the delta and length
//! encoding of an option block (§3.1), and the value formats Ward reads (§3.2).
//!
//! The option block codec is shared by whole messages and by the OSCORE plaintext, which is
//! a code followed by an option block and a payload (RFC 8613 §5.3).

use alloc::vec::Vec;
use core::fmt;

use super::error::CoapError;

/// A CoAP option number. Its low bits carry the option's properties (RFC 7252 §5.4.6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionNumber(pub u16);

impl OptionNumber {
    /// If-Match (RFC 7252).
    pub const IF_MATCH: Self = Self(1);
    /// Uri-Host (RFC 7252).
    pub const URI_HOST: Self = Self(3);
    /// ETag (RFC 7252).
    pub const ETAG: Self = Self(4);
    /// If-None-Match (RFC 7252).
    pub const IF_NONE_MATCH: Self = Self(5);
    /// Observe (RFC 7641).
    pub const OBSERVE: Self = Self(6);
    /// Uri-Port (RFC 7252).
    pub const URI_PORT: Self = Self(7);
    /// Location-Path (RFC 7252).
    pub const LOCATION_PATH: Self = Self(8);
    /// OSCORE (RFC 8613).
    pub const OSCORE: Self = Self(9);
    /// Uri-Path (RFC 7252).
    pub const URI_PATH: Self = Self(11);
    /// Content-Format (RFC 7252).
    pub const CONTENT_FORMAT: Self = Self(12);
    /// Max-Age (RFC 7252).
    pub const MAX_AGE: Self = Self(14);
    /// Uri-Query (RFC 7252).
    pub const URI_QUERY: Self = Self(15);
    /// Accept (RFC 7252).
    pub const ACCEPT: Self = Self(17);
    /// Location-Query (RFC 7252).
    pub const LOCATION_QUERY: Self = Self(20);
    /// EDHOC (RFC 9668 §3.1): the payload starts with EDHOC message_3.
    pub const EDHOC: Self = Self(21);
    /// Block2 (RFC 7959).
    pub const BLOCK2: Self = Self(23);
    /// Block1 (RFC 7959).
    pub const BLOCK1: Self = Self(27);
    /// Size2 (RFC 7959).
    pub const SIZE2: Self = Self(28);
    /// Proxy-Uri (RFC 7252).
    pub const PROXY_URI: Self = Self(35);
    /// Proxy-Scheme (RFC 7252).
    pub const PROXY_SCHEME: Self = Self(39);
    /// Size1 (RFC 7252, RFC 7959).
    pub const SIZE1: Self = Self(60);
    /// Echo (RFC 9175).
    pub const ECHO: Self = Self(252);
    /// No-Response (RFC 7967).
    pub const NO_RESPONSE: Self = Self(258);
    /// Request-Tag (RFC 9175).
    pub const REQUEST_TAG: Self = Self(292);

    /// Critical: a recipient that does not understand it must reject the message (§5.4.1).
    pub const fn is_critical(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Unsafe to forward by a proxy that does not understand it (§5.4.2).
    pub const fn is_unsafe(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Not part of the cache key (§5.4.6).
    pub const fn is_no_cache_key(self) -> bool {
        self.0 & 0x1e == 0x1c
    }
}

impl fmt::Debug for OptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Option({})", self.0)
    }
}

/// Content-Format identifiers Ward uses (the CoAP Content-Formats registry).
pub mod content_format {
    /// text/plain; charset=utf-8.
    pub const TEXT_PLAIN: u16 = 0;
    /// application/link-format (RFC 6690).
    pub const LINK_FORMAT: u16 = 40;
    /// application/octet-stream.
    pub const OCTET_STREAM: u16 = 42;
    /// application/json.
    pub const JSON: u16 = 50;
    /// application/cbor.
    pub const CBOR: u16 = 60;
    /// application/cwt (RFC 8392).
    pub const CWT: u16 = 61;
    /// application/edhoc+cbor-seq: an EDHOC message (RFC 9528 §10.9).
    pub const EDHOC_CBOR_SEQ: u16 = 64;
    /// application/cid-edhoc+cbor-seq: an EDHOC message after a connection identifier
    /// (RFC 9528 §10.9).
    pub const CID_EDHOC_CBOR_SEQ: u16 = 65;
}

/// One option instance: a number and an opaque value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoapOption {
    /// The option number.
    pub number: OptionNumber,
    /// The value as it is on the wire.
    pub value: Vec<u8>,
}

/// Largest value the extended length of §3.1 can express.
const MAX_EXTENDED: usize = 269 + 0xffff;

/// Splits a delta or length into its nibble and extended bytes (RFC 7252 §3.1).
fn nibble(value: usize) -> (u8, [u8; 2], usize) {
    if value < 13 {
        (value as u8, [0, 0], 0)
    } else if value < 269 {
        (13, [(value - 13) as u8, 0], 1)
    } else {
        let ext = ((value - 269) as u16).to_be_bytes();
        (14, ext, 2)
    }
}

/// Appends `options` as an option block: each delta is from the previous option's number, so
/// the options must be sorted by number (§3.1).
pub(crate) fn encode_options(options: &[CoapOption], out: &mut Vec<u8>) -> Result<(), CoapError> {
    let mut previous = 0u16;
    for option in options {
        let Some(delta) = option.number.0.checked_sub(previous) else {
            return Err(CoapError::Unexpected("options out of order"));
        };
        if option.value.len() > MAX_EXTENDED {
            return Err(CoapError::InvalidOptionValue(option.number));
        }
        let (delta_nibble, delta_ext, delta_len) = nibble(usize::from(delta));
        let (len_nibble, len_ext, len_len) = nibble(option.value.len());
        out.push((delta_nibble << 4) | len_nibble);
        out.extend_from_slice(&delta_ext[..delta_len]);
        out.extend_from_slice(&len_ext[..len_len]);
        out.extend_from_slice(&option.value);
        previous = option.number.0;
    }
    Ok(())
}

/// Reads the extended form of a delta or length nibble (§3.1).
fn extended(nibble: u8, rest: &mut &[u8]) -> Result<usize, CoapError> {
    match nibble {
        0..=12 => Ok(usize::from(nibble)),
        13 => {
            let (&byte, tail) = rest.split_first().ok_or(CoapError::Truncated)?;
            *rest = tail;
            Ok(13 + usize::from(byte))
        }
        14 => {
            let (ext, tail) = rest.split_at_checked(2).ok_or(CoapError::Truncated)?;
            *rest = tail;
            Ok(269 + usize::from(u16::from_be_bytes([ext[0], ext[1]])))
        }
        // §3.1: 15 is reserved for the payload marker; anywhere else it is a format error.
        _ => Err(CoapError::ReservedOptionNibble),
    }
}

/// Reads an option block up to the payload marker, returning the options and the payload.
///
/// Every value is copied only after its claimed length has been checked against the bytes
/// present, and at most `max_options` options are accepted.
pub(crate) fn decode_options(
    bytes: &[u8],
    max_options: usize,
) -> Result<(Vec<CoapOption>, &[u8]), CoapError> {
    let mut options = Vec::new();
    let mut number = 0u32;
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if first == 0xff {
            // §3: a marker followed by a zero-length payload is a message format error.
            if tail.is_empty() {
                return Err(CoapError::EmptyPayload);
            }
            return Ok((options, tail));
        }
        rest = tail;
        let delta = extended(first >> 4, &mut rest)?;
        let len = extended(first & 0x0f, &mut rest)?;
        number += delta as u32;
        let Ok(option_number) = u16::try_from(number) else {
            return Err(CoapError::OptionNumberOverflow);
        };
        if options.len() == max_options {
            return Err(CoapError::TooManyOptions { max: max_options });
        }
        let (value, tail) = rest.split_at_checked(len).ok_or(CoapError::Truncated)?;
        rest = tail;
        options.push(CoapOption {
            number: OptionNumber(option_number),
            value: value.to_vec(),
        });
    }
    Ok((options, &[]))
}

/// The uint format of §3.2: big-endian in as few bytes as possible, zero as no bytes.
pub fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// Reads a uint of at most `max_len` bytes; leading zero bytes are accepted (§3.2).
pub fn decode_uint(value: &[u8], max_len: usize) -> Option<u32> {
    if value.len() > max_len || value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// A Block1 or Block2 option value (RFC 7959 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The block number, below 2^20.
    pub num: u32,
    /// Whether more blocks follow.
    pub more: bool,
    /// The size exponent: blocks are `2^(szx + 4)` bytes, so 0 to 6.
    pub szx: u8,
}

impl Block {
    /// Largest block number the 3-byte value can carry.
    pub const MAX_NUM: u32 = (1 << 20) - 1;

    /// A block option value, or `None` if `num` or `szx` is out of range (szx 7 is reserved).
    pub fn new(num: u32, more: bool, szx: u8) -> Option<Self> {
        (num <= Self::MAX_NUM && szx <= 6).then_some(Block { num, more, szx })
    }

    /// Block size in bytes.
    pub fn size(&self) -> usize {
        16 << self.szx
    }

    pub(crate) fn to_value(self) -> Vec<u8> {
        encode_uint((self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx))
    }

    pub(crate) fn from_value(value: &[u8]) -> Option<Self> {
        let raw = decode_uint(value, 3)?;
        Block::new(raw >> 4, raw & 0x08 != 0, (raw & 0x07) as u8)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn opt(number: u16, value: &[u8]) -> CoapOption {
        CoapOption {
            number: OptionNumber(number),
            value: value.to_vec(),
        }
    }

    #[test]
    fn properties_follow_the_number_bits() {
        assert!(OptionNumber::URI_HOST.is_critical() && OptionNumber::URI_HOST.is_unsafe());
        assert!(OptionNumber::OSCORE.is_critical() && !OptionNumber::OSCORE.is_unsafe());
        assert!(OptionNumber::EDHOC.is_critical() && !OptionNumber::EDHOC.is_unsafe());
        assert!(!OptionNumber::ECHO.is_critical() && OptionNumber::ECHO.is_no_cache_key());
        assert!(OptionNumber::SIZE1.is_no_cache_key() && !OptionNumber::MAX_AGE.is_critical());
    }

    #[test]
    fn deltas_and_lengths_use_the_extended_forms() {
        // Delta 12 inline; 13 and 268 in one extra byte; 269 and above in two (RFC 7252 §3.1).
        let options = [
            opt(12, &[]),
            opt(25, &[0xaa; 13]),
            opt(293, &[0xbb; 268]),
            opt(562, &[0xcc; 269]),
        ];
        let mut out = Vec::new();
        encode_options(&options, &mut out).expect("sorted options");
        assert_eq!(out[0], 0xc0);
        // Delta 13 and length 13: both nibbles 13, both extended bytes 0.
        assert_eq!(&out[1..4], &[0xdd, 0x00, 0x00]);
        // Delta 268 and length 268: one extended byte each (255).
        assert_eq!(&out[17..20], &[0xdd, 0xff, 0xff]);
        let (decoded, payload) = decode_options(&out, 16).expect("valid block");
        assert_eq!(decoded, options);
        assert!(payload.is_empty());
    }

    #[test]
    fn the_largest_option_number_is_reached_without_overflow() {
        let mut out = Vec::new();
        encode_options(&[opt(0xffff, b"x")], &mut out).expect("encodes");
        assert_eq!(out[0], 0xe1);
        let (decoded, _) = decode_options(&out, 4).expect("decodes");
        assert_eq!(decoded[0].number, OptionNumber(0xffff));
        // One more delta past 65535 overflows.
        out.extend_from_slice(&[0x10]);
        assert_eq!(
            decode_options(&out, 4),
            Err(CoapError::OptionNumberOverflow)
        );
    }

    #[test]
    fn malformed_option_blocks_are_refused() {
        let cases: [(&[u8], CoapError); 6] = [
            (&[0xf0], CoapError::ReservedOptionNibble),
            (&[0x0f], CoapError::ReservedOptionNibble),
            (&[0xd0], CoapError::Truncated),
            (&[0x0e, 0x01], CoapError::Truncated),
            (&[0x03, 0x61], CoapError::Truncated),
            (&[0x10, 0xff], CoapError::EmptyPayload),
        ];
        for (bytes, error) in cases {
            assert_eq!(decode_options(bytes, 8), Err(error), "{bytes:02x?}");
        }
        assert_eq!(
            decode_options(&[0x10, 0x00, 0x00], 2),
            Err(CoapError::TooManyOptions { max: 2 })
        );
    }

    #[test]
    fn unsorted_options_are_not_encoded() {
        let mut out = Vec::new();
        assert!(encode_options(&[opt(11, b"a"), opt(3, b"b")], &mut out).is_err());
    }

    #[test]
    fn uints_are_minimal_and_leading_zeros_are_read() {
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(60), vec![60]);
        assert_eq!(encode_uint(0x0102_0304), vec![1, 2, 3, 4]);
        assert_eq!(decode_uint(&[0, 0, 60], 4), Some(60));
        assert_eq!(decode_uint(&[1, 2, 3], 2), None);
    }

    #[test]
    fn block_values_round_trip_and_reserved_szx_is_refused() {
        let block = Block::new(1000, true, 6).expect("in range");
        assert_eq!(block.size(), 1024);
        assert_eq!(Block::from_value(&block.to_value()), Some(block));
        assert_eq!(Block::from_value(&[0x07]), None);
        assert_eq!(Block::new(1 << 20, false, 0), None);
        assert_eq!(Block::from_value(&[]), Block::new(0, false, 0));
    }
}
