//! Typed access to the options Ward reads and writes.
//!
//! Each getter checks the value against the option's definition and returns
//! [`CoapError::InvalidOptionValue`] when it does not fit; RFC 7252 §5.4.3 says such a value
//! is treated like an unrecognised option, which the caller decides on (reject the message
//! if the option is critical, ignore it if elective). Non-repeatable options are read from
//! their first instance; later ones are supernumerary (§5.4.5).

use alloc::vec::Vec;

use super::error::CoapError;
use super::message::Message;
use super::option::{Block, OptionNumber, decode_uint, encode_uint};

/// Longest Echo value (RFC 9175 §2.2.1).
pub const MAX_ECHO_LEN: usize = 40;
/// Longest Request-Tag value (RFC 9175 §3.2.1).
pub const MAX_REQUEST_TAG_LEN: usize = 8;

impl Message {
    fn uint_option(&self, number: OptionNumber, max_len: usize) -> Result<Option<u32>, CoapError> {
        match self.option(number) {
            None => Ok(None),
            Some(value) => decode_uint(value, max_len)
                .map(Some)
                .ok_or(CoapError::InvalidOptionValue(number)),
        }
    }

    fn block_option(&self, number: OptionNumber) -> Result<Option<Block>, CoapError> {
        match self.option(number) {
            None => Ok(None),
            Some(value) => Block::from_value(value)
                .map(Some)
                .ok_or(CoapError::InvalidOptionValue(number)),
        }
    }

    /// The Uri-Path segments, in order (§5.10.1).
    pub fn uri_path(&self) -> impl Iterator<Item = &[u8]> {
        self.option_values(OptionNumber::URI_PATH)
    }

    /// Whether the Uri-Path segments are exactly `segments`.
    pub fn uri_path_is(&self, segments: &[&str]) -> bool {
        let mut have = self.uri_path();
        segments.iter().all(|s| have.next() == Some(s.as_bytes())) && have.next().is_none()
    }

    /// Replaces the Uri-Path with the segments of `path` ("/a/b" and "a/b" give "a", "b").
    pub fn set_uri_path(&mut self, path: &str) {
        self.remove_option(OptionNumber::URI_PATH);
        let path = path.strip_prefix('/').unwrap_or(path);
        if path.is_empty() {
            return;
        }
        for segment in path.split('/') {
            self.add_option(OptionNumber::URI_PATH, segment.as_bytes().to_vec());
        }
    }

    /// The Uri-Host (§5.10.1), 1 to 255 bytes.
    pub fn uri_host(&self) -> Result<Option<&[u8]>, CoapError> {
        match self.option(OptionNumber::URI_HOST) {
            Some(host) if host.is_empty() || host.len() > 255 => {
                Err(CoapError::InvalidOptionValue(OptionNumber::URI_HOST))
            }
            other => Ok(other),
        }
    }

    /// Sets the Uri-Host.
    pub fn set_uri_host(&mut self, host: &str) {
        self.set_option(OptionNumber::URI_HOST, host.as_bytes().to_vec());
    }

    /// The Content-Format (§5.10.3), a uint of up to 2 bytes.
    pub fn content_format(&self) -> Result<Option<u16>, CoapError> {
        Ok(self
            .uint_option(OptionNumber::CONTENT_FORMAT, 2)?
            .map(|v| v as u16))
    }

    /// Sets the Content-Format.
    pub fn set_content_format(&mut self, format: u16) {
        self.set_option(OptionNumber::CONTENT_FORMAT, encode_uint(u32::from(format)));
    }

    /// The Accept option (§5.10.4), a uint of up to 2 bytes.
    pub fn accept(&self) -> Result<Option<u16>, CoapError> {
        Ok(self.uint_option(OptionNumber::ACCEPT, 2)?.map(|v| v as u16))
    }

    /// Sets the Accept option.
    pub fn set_accept(&mut self, format: u16) {
        self.set_option(OptionNumber::ACCEPT, encode_uint(u32::from(format)));
    }

    /// Max-Age in seconds (§5.10.5), a uint of up to 4 bytes; absent means 60.
    pub fn max_age(&self) -> Result<Option<u32>, CoapError> {
        self.uint_option(OptionNumber::MAX_AGE, 4)
    }

    /// Sets Max-Age.
    pub fn set_max_age(&mut self, seconds: u32) {
        self.set_option(OptionNumber::MAX_AGE, encode_uint(seconds));
    }

    /// The Observe value (RFC 7641 §2), a uint of up to 3 bytes.
    pub fn observe(&self) -> Result<Option<u32>, CoapError> {
        self.uint_option(OptionNumber::OBSERVE, 3)
    }

    /// Sets Observe, keeping its low 24 bits (RFC 7641 §2).
    pub fn set_observe(&mut self, value: u32) {
        self.set_option(OptionNumber::OBSERVE, encode_uint(value & 0x00ff_ffff));
    }

    /// The Block1 option (RFC 7959 §2.2).
    pub fn block1(&self) -> Result<Option<Block>, CoapError> {
        self.block_option(OptionNumber::BLOCK1)
    }

    /// Sets Block1.
    pub fn set_block1(&mut self, block: Block) {
        self.set_option(OptionNumber::BLOCK1, block.to_value());
    }

    /// The Block2 option (RFC 7959 §2.2).
    pub fn block2(&self) -> Result<Option<Block>, CoapError> {
        self.block_option(OptionNumber::BLOCK2)
    }

    /// Sets Block2.
    pub fn set_block2(&mut self, block: Block) {
        self.set_option(OptionNumber::BLOCK2, block.to_value());
    }

    /// Size1 (RFC 7959 §4), a uint of up to 4 bytes.
    pub fn size1(&self) -> Result<Option<u32>, CoapError> {
        self.uint_option(OptionNumber::SIZE1, 4)
    }

    /// Sets Size1.
    pub fn set_size1(&mut self, size: u32) {
        self.set_option(OptionNumber::SIZE1, encode_uint(size));
    }

    /// Size2 (RFC 7959 §4), a uint of up to 4 bytes.
    pub fn size2(&self) -> Result<Option<u32>, CoapError> {
        self.uint_option(OptionNumber::SIZE2, 4)
    }

    /// Sets Size2.
    pub fn set_size2(&mut self, size: u32) {
        self.set_option(OptionNumber::SIZE2, encode_uint(size));
    }

    /// The Echo value (RFC 9175 §2.2.1), 1 to 40 opaque bytes.
    pub fn echo(&self) -> Result<Option<&[u8]>, CoapError> {
        match self.option(OptionNumber::ECHO) {
            Some(v) if v.is_empty() || v.len() > MAX_ECHO_LEN => {
                Err(CoapError::InvalidOptionValue(OptionNumber::ECHO))
            }
            other => Ok(other),
        }
    }

    /// Sets the Echo value, refusing one outside 1 to 40 bytes.
    pub fn set_echo(&mut self, value: &[u8]) -> Result<(), CoapError> {
        if value.is_empty() || value.len() > MAX_ECHO_LEN {
            return Err(CoapError::InvalidOptionValue(OptionNumber::ECHO));
        }
        self.set_option(OptionNumber::ECHO, value.to_vec());
        Ok(())
    }

    /// The Request-Tag values (RFC 9175 §3.2.1: repeatable, 0 to 8 bytes each).
    pub fn request_tags(&self) -> Result<Vec<&[u8]>, CoapError> {
        let tags: Vec<&[u8]> = self.option_values(OptionNumber::REQUEST_TAG).collect();
        if tags.iter().any(|t| t.len() > MAX_REQUEST_TAG_LEN) {
            return Err(CoapError::InvalidOptionValue(OptionNumber::REQUEST_TAG));
        }
        Ok(tags)
    }

    /// Adds a Request-Tag.
    pub fn add_request_tag(&mut self, tag: &[u8]) -> Result<(), CoapError> {
        if tag.len() > MAX_REQUEST_TAG_LEN {
            return Err(CoapError::InvalidOptionValue(OptionNumber::REQUEST_TAG));
        }
        self.add_option(OptionNumber::REQUEST_TAG, tag.to_vec());
        Ok(())
    }

    /// The raw OSCORE option value (RFC 8613 §2); see `oscore::OscoreOption` to read it.
    pub fn oscore(&self) -> Option<&[u8]> {
        self.option(OptionNumber::OSCORE)
    }

    /// Whether the EDHOC option (RFC 9668 §3.1) is present.
    pub fn has_edhoc_option(&self) -> bool {
        self.option(OptionNumber::EDHOC).is_some()
    }

    /// Adds the EDHOC option, which is always empty (RFC 9668 §3.1).
    pub fn set_edhoc_option(&mut self) {
        self.set_option(OptionNumber::EDHOC, Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::coap::{Code, MessageType, Token};

    fn message() -> Message {
        Message::new(MessageType::Confirmable, Code::GET, 1, Token::EMPTY)
    }

    #[test]
    fn uri_path_is_split_and_compared_by_segment() {
        let mut m = message();
        m.set_uri_path("/.well-known/edhoc");
        assert!(m.uri_path_is(&[".well-known", "edhoc"]));
        assert!(!m.uri_path_is(&[".well-known"]));
        assert!(!m.uri_path_is(&[".well-known", "edhoc", "x"]));
        m.set_uri_path("/");
        assert_eq!(m.uri_path().count(), 0);
        assert!(m.uri_path_is(&[]));
    }

    #[test]
    fn uint_options_accept_their_lengths_only() {
        let mut m = message();
        m.set_content_format(65);
        m.set_max_age(0);
        m.set_observe(0x0100_0001);
        m.set_size1(1152);
        assert_eq!(m.content_format(), Ok(Some(65)));
        assert_eq!(m.option(OptionNumber::MAX_AGE), Some(&[][..]));
        assert_eq!(m.max_age(), Ok(Some(0)));
        assert_eq!(m.observe(), Ok(Some(1)));
        assert_eq!(m.size1(), Ok(Some(1152)));
        assert_eq!(m.accept(), Ok(None));
        m.set_option(OptionNumber::CONTENT_FORMAT, vec![0, 0, 1]);
        assert_eq!(
            m.content_format(),
            Err(CoapError::InvalidOptionValue(OptionNumber::CONTENT_FORMAT))
        );
    }

    #[test]
    fn block_echo_and_request_tag_are_bounded() {
        let mut m = message();
        let block = Block::new(3, true, 2).expect("valid block");
        m.set_block2(block);
        assert_eq!(m.block2(), Ok(Some(block)));
        assert_eq!(m.block1(), Ok(None));
        assert!(m.set_echo(&[0; 41]).is_err());
        assert!(m.set_echo(&[]).is_err());
        m.set_echo(&[7; 8]).expect("8 bytes");
        assert_eq!(m.echo(), Ok(Some(&[7u8; 8][..])));
        assert!(m.add_request_tag(&[0; 9]).is_err());
        m.add_request_tag(&[]).expect("empty tag");
        m.add_request_tag(&[1]).expect("short tag");
        assert_eq!(m.request_tags().map(|t| t.len()), Ok(2));
        m.set_edhoc_option();
        assert!(m.has_edhoc_option());
        m.set_uri_host("localhost");
        assert_eq!(m.uri_host(), Ok(Some(&b"localhost"[..])));
    }
}
