//! A bounded CBOR (RFC 8949) reader and writer for the few places that need byte-level control.
//!
//! Most of Ward's CBOR goes through `ciborium` and `coset`. Two jobs are done here instead:
//!
//! - **Screening untrusted input.** [`screen`] walks an encoded item without allocating and
//!   refuses it unless it is well formed, within a byte budget, a nesting depth and an item
//!   count. Only screened bytes are handed to `ciborium`, so no allocation downstream can be
//!   sized by a length that an attacker merely claims: every claimed length has been checked
//!   against the bytes actually present.
//! - **Secrets and exact encodings.** [`Reader`] borrows byte strings out of the input instead
//!   of copying them, which keeps private key material out of buffers we cannot zeroize, and
//!   [`Writer`] emits the preferred (shortest) encodings that RFC 8949 §4.2.1 requires for
//!   deterministic output, such as the COSE Key Thumbprint input of RFC 9679.

use alloc::vec::Vec;

use crate::error::DecodeError;

/// How much of an untrusted CBOR item [`screen`] will look at before refusing it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest accepted encoding, in bytes.
    pub max_len: usize,
    /// Deepest accepted nesting of arrays, maps and tags (the top level is depth 0).
    pub max_depth: usize,
    /// Most data items accepted in total, counting every nested item.
    pub max_items: usize,
}

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;

/// Additional information value that marks an indefinite length (RFC 8949 §3.2).
const INDEFINITE: u8 = 31;
const BREAK: u8 = 0xff;

/// Checks that `bytes` hold exactly one well-formed CBOR data item within `limits`.
pub(crate) fn screen(bytes: &[u8], limits: Limits) -> Result<(), DecodeError> {
    if bytes.len() > limits.max_len {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: limits.max_len,
        });
    }
    let mut walk = Screen {
        reader: Reader::new(bytes),
        limits,
        items: 0,
    };
    walk.item(0)?;
    if !walk.reader.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(())
}

struct Screen<'a> {
    reader: Reader<'a>,
    limits: Limits,
    items: usize,
}

impl Screen<'_> {
    fn item(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > self.limits.max_depth {
            return Err(DecodeError::TooDeep);
        }
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(DecodeError::TooManyItems);
        }
        let (major, info) = self.reader.initial_byte()?;
        match major {
            MAJOR_UNSIGNED | MAJOR_NEGATIVE => {
                self.reader.argument(info)?;
            }
            MAJOR_BYTES | MAJOR_TEXT if info == INDEFINITE => {
                // RFC 8949 §3.2.3: the chunks of an indefinite string are definite strings of
                // the same major type, ended by a break.
                loop {
                    if self.reader.peek() == Some(BREAK) {
                        self.reader.skip(1)?;
                        break;
                    }
                    let (chunk_major, chunk_info) = self.reader.initial_byte()?;
                    if chunk_major != major || chunk_info == INDEFINITE {
                        return Err(DecodeError::Malformed("bad indefinite-length string chunk"));
                    }
                    let len = self.reader.length(chunk_info)?;
                    self.reader.skip(len)?;
                }
            }
            MAJOR_BYTES | MAJOR_TEXT => {
                let len = self.reader.length(info)?;
                self.reader.skip(len)?;
            }
            MAJOR_ARRAY | MAJOR_MAP => {
                let per_entry = if major == MAJOR_MAP { 2 } else { 1 };
                if info == INDEFINITE {
                    while self.reader.peek() != Some(BREAK) {
                        for _ in 0..per_entry {
                            self.item(depth + 1)?;
                        }
                    }
                    self.reader.skip(1)?;
                } else {
                    let count = self.reader.length(info)?;
                    // Each entry takes at least one byte, so a count larger than what remains
                    // is a lie we can refuse before looping over it.
                    if count.saturating_mul(per_entry) > self.reader.remaining() {
                        return Err(DecodeError::Truncated);
                    }
                    for _ in 0..count * per_entry {
                        self.item(depth + 1)?;
                    }
                }
            }
            MAJOR_TAG => {
                self.reader.argument(info)?;
                self.item(depth + 1)?;
            }
            // Major type 7: simple values and floats.
            _ => match info {
                0..=23 => {}
                // RFC 8949 §3.3: one-byte simple values below 32 are not well formed.
                24 => {
                    if self.reader.byte()? < 32 {
                        return Err(DecodeError::Malformed("simple value in two-byte form"));
                    }
                }
                25 => self.reader.skip(2)?,
                26 => self.reader.skip(4)?,
                27 => self.reader.skip(8)?,
                _ => return Err(DecodeError::Malformed("unexpected break or reserved value")),
            },
        }
        Ok(())
    }
}

/// A cursor over borrowed CBOR bytes that reads one head or string at a time.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn remaining(&self) -> usize {
        self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn initial_byte(&mut self) -> Result<(u8, u8), DecodeError> {
        let b = self.byte()?;
        Ok((b >> 5, b & 0x1f))
    }

    /// Reads the argument that follows an initial byte (RFC 8949 §3).
    fn argument(&mut self, info: u8) -> Result<u64, DecodeError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(DecodeError::Malformed("reserved or indefinite argument")),
        };
        let mut value = 0u64;
        for &b in self.take(width)? {
            value = (value << 8) | u64::from(b);
        }
        Ok(value)
    }

    /// Like [`Reader::argument`], but refuses an argument not written in its shortest form
    /// (RFC 8949 §4.2.1). Typed reads use it so that one value has one encoding: a message
    /// whose heads were re-encoded longer is refused, not accepted as the same message.
    fn preferred_argument(&mut self, info: u8) -> Result<u64, DecodeError> {
        let value = self.argument(info)?;
        let shortest = match info {
            24 => value >= 24,
            25 => value > u64::from(u8::MAX),
            26 => value > u64::from(u16::MAX),
            27 => value > u64::from(u32::MAX),
            _ => true,
        };
        if !shortest {
            return Err(DecodeError::Malformed("argument not in its shortest form"));
        }
        Ok(value)
    }

    fn length(&mut self, info: u8) -> Result<usize, DecodeError> {
        let len = self.argument(info)?;
        usize::try_from(len).map_err(|_| DecodeError::Truncated)
    }

    /// Reads the head of a definite-length item of the given major type, returning its
    /// argument.
    fn head(&mut self, major: u8) -> Result<u64, DecodeError> {
        let (found, info) = self.initial_byte()?;
        if found != major {
            return Err(DecodeError::Malformed("unexpected CBOR type"));
        }
        self.preferred_argument(info)
    }

    /// Reads a definite-length map head and returns its number of entries.
    pub(crate) fn map(&mut self) -> Result<usize, DecodeError> {
        let count = self.head(MAJOR_MAP)?;
        usize::try_from(count).map_err(|_| DecodeError::Truncated)
    }

    /// Reads an integer that fits an `i64`.
    pub(crate) fn int(&mut self) -> Result<i64, DecodeError> {
        let (major, info) = self.initial_byte()?;
        let arg = self.preferred_argument(info)?;
        let arg = i64::try_from(arg).map_err(|_| DecodeError::Malformed("integer out of range"))?;
        match major {
            MAJOR_UNSIGNED => Ok(arg),
            // A negative integer encodes -1 - n.
            MAJOR_NEGATIVE => Ok(-1 - arg),
            _ => Err(DecodeError::Malformed("expected an integer")),
        }
    }

    /// Borrows a definite-length byte string out of the input.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.head(MAJOR_BYTES)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        self.take(len)
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// The major type of the next item, without consuming it.
    pub(crate) fn peek_major(&self) -> Option<u8> {
        self.peek().map(|b| b >> 5)
    }

    /// Borrows a definite-length text string out of the input, checking that it is UTF-8.
    pub(crate) fn text(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.head(MAJOR_TEXT)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        core::str::from_utf8(self.take(len)?)
            .map_err(|_| DecodeError::Malformed("text is not UTF-8"))
    }

    /// Reads a definite-length array head and returns its number of items.
    pub(crate) fn array(&mut self) -> Result<usize, DecodeError> {
        let count = self.head(MAJOR_ARRAY)?;
        usize::try_from(count).map_err(|_| DecodeError::Truncated)
    }

    /// Reads a tag head and returns the tag number.
    pub(crate) fn tag(&mut self) -> Result<u64, DecodeError> {
        self.head(MAJOR_TAG)
    }

    /// Reads the simple value `true` or `false`.
    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.peek() {
            Some(0xf4) => self.skip(1).map(|()| false),
            Some(0xf5) => self.skip(1).map(|()| true),
            Some(_) => Err(DecodeError::Malformed("expected a boolean")),
            None => Err(DecodeError::Truncated),
        }
    }

    /// Consumes the next data item, whatever it is, and returns its encoded bytes. The item
    /// must be well formed and nest no deeper than `max_depth`; every length it claims is
    /// checked against the bytes present, so skipping allocates nothing and ends.
    pub(crate) fn item(&mut self, max_depth: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.bytes;
        let mut walk = Screen {
            reader: self.clone(),
            limits: Limits {
                max_len: usize::MAX,
                max_depth,
                max_items: start.len(),
            },
            items: 0,
        };
        walk.item(0)?;
        let consumed = start.len() - walk.reader.remaining();
        self.bytes = walk.reader.bytes;
        Ok(&start[..consumed])
    }
}

/// Appends preferred-form CBOR heads and strings to a buffer (RFC 8949 §4.2.1).
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    fn head(&mut self, major: u8, arg: u64) {
        let major = major << 5;
        // The shortest form that holds the argument is the only deterministic one.
        if arg < 24 {
            self.out.push(major | arg as u8);
        } else if arg <= u64::from(u8::MAX) {
            self.out.extend_from_slice(&[major | 24, arg as u8]);
        } else if arg <= u64::from(u16::MAX) {
            self.out.push(major | 25);
            self.out.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= u64::from(u32::MAX) {
            self.out.push(major | 26);
            self.out.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.out.push(major | 27);
            self.out.extend_from_slice(&arg.to_be_bytes());
        }
    }

    pub(crate) fn map(&mut self, entries: usize) {
        self.head(MAJOR_MAP, entries as u64);
    }

    pub(crate) fn int(&mut self, value: i64) {
        if value >= 0 {
            self.head(MAJOR_UNSIGNED, value as u64);
        } else {
            // -1 - value is non-negative for every negative i64, without overflow.
            self.head(MAJOR_NEGATIVE, (-1 - value) as u64);
        }
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.head(MAJOR_BYTES, value.len() as u64);
        self.out.extend_from_slice(value);
    }

    pub(crate) fn text(&mut self, value: &str) {
        self.head(MAJOR_TEXT, value.len() as u64);
        self.out.extend_from_slice(value.as_bytes());
    }

    pub(crate) fn array(&mut self, items: usize) {
        self.head(MAJOR_ARRAY, items as u64);
    }

    /// The simple value `null` (RFC 8949 §3.3).
    pub(crate) fn null(&mut self) {
        self.out.push(0xf6);
    }

    /// The simple value `true` or `false` (RFC 8949 §3.3).
    pub(crate) fn bool(&mut self, value: bool) {
        self.out.push(if value { 0xf5 } else { 0xf4 });
    }

    /// Bytes that already hold encoded CBOR, appended as they are.
    pub(crate) fn raw(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_len: 64,
        max_depth: 3,
        max_items: 16,
    };

    #[test]
    fn well_formed_items_pass_the_screen() {
        for item in [
            &[0x00][..],
            &[0x3a, 0x00, 0x01, 0x00, 0x00],
            &[0x43, 1, 2, 3],
            &[0x82, 0x01, 0xa1, 0x01, 0x02],
            &[0x5f, 0x41, 0x00, 0x42, 0x01, 0x02, 0xff],
            &[0x9f, 0x01, 0x02, 0xff],
            &[0xd2, 0x80],
            &[0xf5],
        ] {
            assert_eq!(screen(item, LIMITS), Ok(()), "{item:02x?}");
        }
    }

    #[test]
    fn claimed_lengths_beyond_the_input_are_refused() {
        // A byte string and an array that each claim four billion entries.
        assert_eq!(
            screen(&[0x5a, 0xff, 0xff, 0xff, 0xff], LIMITS),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            screen(&[0x9a, 0xff, 0xff, 0xff, 0xff], LIMITS),
            Err(DecodeError::Truncated)
        );
        assert_eq!(screen(&[0x82, 0x01], LIMITS), Err(DecodeError::Truncated));
    }

    #[test]
    fn nesting_items_and_size_are_bounded() {
        assert_eq!(
            screen(&[0x81, 0x81, 0x81, 0x81, 0x00], LIMITS),
            Err(DecodeError::TooDeep)
        );
        let many = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(screen(&many, LIMITS), Err(DecodeError::TooManyItems));
        assert!(matches!(
            screen(&[0u8; 65], LIMITS),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_items_are_refused() {
        for item in [
            &[][..],
            &[0x01, 0x02],             // trailing bytes
            &[0x1c],                   // reserved additional information
            &[0xff],                   // a break outside an indefinite item
            &[0xf8, 0x10],             // simple value in the two-byte form
            &[0x5f, 0x61, 0x41, 0xff], // text chunk inside a byte string
            &[0x9f, 0x01],             // indefinite array without its break
        ] {
            assert!(screen(item, LIMITS).is_err(), "{item:02x?}");
        }
    }

    #[test]
    fn reader_skips_whole_items_and_reads_text_and_booleans() {
        // [1, {2: h'03'}], "hi", true, then a byte string claiming more than is present.
        let input = [
            0x82, 0x01, 0xa1, 0x02, 0x41, 0x03, 0x62, b'h', b'i', 0xf5, 0x5a, 0xff,
        ];
        let mut r = Reader::new(&input);
        assert_eq!(r.peek_major(), Some(MAJOR_ARRAY));
        assert_eq!(r.item(2), Ok(&input[..6]));
        assert_eq!(r.text(), Ok("hi"));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.rest(), &[0x5a, 0xff]);
        assert_eq!(r.item(2), Err(DecodeError::Truncated));
        // Nesting beyond the limit is refused rather than followed.
        assert_eq!(
            Reader::new(&[0x81, 0x81, 0x81, 0x00]).item(1),
            Err(DecodeError::TooDeep)
        );
    }

    #[test]
    fn typed_reads_refuse_heads_longer_than_needed() {
        // 5 as a one-byte argument, and a 2-byte string with a two-byte length.
        assert!(Reader::new(&[0x18, 0x05]).int().is_err());
        assert!(
            Reader::new(&[0x59, 0x00, 0x02, 0xaa, 0xbb])
                .bytes()
                .is_err()
        );
        assert_eq!(
            Reader::new(&[0x42, 0xaa, 0xbb]).bytes(),
            Ok(&[0xaa, 0xbb][..])
        );
        // Screening stays lenient: a credential re-encoded by a third party is still read.
        let limits = Limits {
            max_len: 8,
            max_depth: 1,
            max_items: 4,
        };
        assert_eq!(screen(&[0x59, 0x00, 0x02, 0xaa, 0xbb], limits), Ok(()));
    }

    #[test]
    fn writer_emits_preferred_forms_the_reader_reads_back() {
        let values = [
            0i64,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            -1,
            -24,
            -25,
            -65_537,
            i64::MIN,
        ];
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        for v in values {
            w.int(v);
        }
        assert_eq!(&out[..3], &[0x00, 0x17, 0x18]);
        let mut r = Reader::new(&out);
        for v in values {
            assert_eq!(r.int(), Ok(v));
        }
        assert!(r.is_empty());
    }
}
