//! A CoAP message over UDP (RFC 7252 §3) and its codec.
//!
//! ```text
//!  0                   1                   2                   3
//! |Ver| T |  TKL  |      Code     |          Message ID           |
//! | Token (0 to 8 bytes) ...
//! | Options (delta/length encoded, in number order) ...
//! |1 1 1 1 1 1 1 1|    Payload (if any) ...
//! ```

use alloc::vec::Vec;

use super::Limits;
use super::code::{Code, MessageType};
use super::error::CoapError;
use super::option::{CoapOption, OptionNumber, decode_options, encode_options};

/// The only version RFC 7252 §3 defines.
const VERSION: u8 = 1;
/// Longest token (RFC 7252 §3: lengths 9 to 15 are reserved).
pub const MAX_TOKEN_LEN: usize = 8;

/// A token of 0 to 8 bytes, kept inline.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Token {
    bytes: [u8; MAX_TOKEN_LEN],
    len: u8,
}

impl Token {
    /// The empty token.
    pub const EMPTY: Token = Token {
        bytes: [0; MAX_TOKEN_LEN],
        len: 0,
    };

    /// A token holding `bytes`, or an error if there are more than 8.
    pub fn new(bytes: &[u8]) -> Result<Self, CoapError> {
        if bytes.len() > MAX_TOKEN_LEN {
            return Err(CoapError::TokenTooLong);
        }
        let mut token = Token::EMPTY;
        token.bytes[..bytes.len()].copy_from_slice(bytes);
        token.len = bytes.len() as u8;
        Ok(token)
    }

    /// The token bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Token({:02x?})", self.as_slice())
    }
}

/// A CoAP message: header, token, options in number order, payload.
///
/// Options are kept sorted by number, with repeated options in the order they were added,
/// which is the order §3.1 requires on the wire and §5.4.5 gives meaning to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// CON, NON, ACK or RST.
    pub message_type: MessageType,
    /// Method, response code or 0.00 for an Empty message.
    pub code: Code,
    /// Message ID, for deduplication and acknowledgement (§4).
    pub message_id: u16,
    /// Token, matching responses to requests (§5.3.1).
    pub token: Token,
    options: Vec<CoapOption>,
    /// Payload; empty means none (§3: no marker is sent for an empty payload).
    pub payload: Vec<u8>,
}

impl Message {
    /// A message with no options and no payload.
    pub fn new(message_type: MessageType, code: Code, message_id: u16, token: Token) -> Self {
        Message {
            message_type,
            code,
            message_id,
            token,
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// A response to `request` with the same token: piggybacked in an ACK with the request's
    /// message ID when the request is Confirmable (§5.2.1), otherwise Non-confirmable with
    /// the same ID, which the caller may replace (§5.2.3).
    pub fn response_to(request: &Message, code: Code) -> Self {
        let message_type = match request.message_type {
            MessageType::Confirmable => MessageType::Acknowledgement,
            _ => MessageType::NonConfirmable,
        };
        Message::new(message_type, code, request.message_id, request.token)
    }

    /// Reads a message, refusing anything over `limits` or not well formed (RFC 7252 §3).
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, CoapError> {
        if bytes.len() > limits.max_message_size {
            return Err(CoapError::TooLarge {
                len: bytes.len(),
                max: limits.max_message_size,
            });
        }
        let (header, rest) = bytes.split_at_checked(4).ok_or(CoapError::Truncated)?;
        let version = header[0] >> 6;
        if version != VERSION {
            // §3: messages with unknown version numbers MUST be silently ignored.
            return Err(CoapError::UnknownVersion(version));
        }
        let token_len = header[0] & 0x0f;
        if usize::from(token_len) > MAX_TOKEN_LEN {
            // §3: lengths 9-15 are reserved and MUST be processed as a format error.
            return Err(CoapError::InvalidTokenLength(token_len));
        }
        let code = Code::from_byte(header[1]);
        if code.is_empty() && (token_len != 0 || !rest.is_empty()) {
            // §4.1: an Empty message has only the 4-byte header.
            return Err(CoapError::NonEmptyEmptyMessage);
        }
        let (token, rest) = rest
            .split_at_checked(usize::from(token_len))
            .ok_or(CoapError::Truncated)?;
        let (options, payload) = decode_options(rest, limits.max_options)?;
        Ok(Message {
            message_type: MessageType::from_bits(header[0] >> 4),
            code,
            message_id: u16::from_be_bytes([header[2], header[3]]),
            token: Token::new(token)?,
            options,
            payload: payload.to_vec(),
        })
    }

    /// Encodes the message, refusing one that would exceed `limits`.
    pub fn encode(&self, limits: &Limits) -> Result<Vec<u8>, CoapError> {
        if self.options.len() > limits.max_options {
            return Err(CoapError::TooManyOptions {
                max: limits.max_options,
            });
        }
        if self.code.is_empty() && !(self.token.len == 0 && self.is_bare()) {
            return Err(CoapError::NonEmptyEmptyMessage);
        }
        let mut out = Vec::with_capacity(4 + usize::from(self.token.len) + self.payload.len());
        out.push((VERSION << 6) | (self.message_type.bits() << 4) | self.token.len);
        out.push(self.code.to_byte());
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(self.token.as_slice());
        encode_options(&self.options, &mut out)?;
        if !self.payload.is_empty() {
            out.push(0xff);
            out.extend_from_slice(&self.payload);
        }
        if out.len() > limits.max_message_size {
            return Err(CoapError::TooLarge {
                len: out.len(),
                max: limits.max_message_size,
            });
        }
        Ok(out)
    }

    fn is_bare(&self) -> bool {
        self.options.is_empty() && self.payload.is_empty()
    }

    /// Every option, in wire order.
    pub fn options(&self) -> &[CoapOption] {
        &self.options
    }

    /// Adds an option after any others with the same or a lower number.
    pub fn add_option(&mut self, number: OptionNumber, value: impl Into<Vec<u8>>) {
        let at = self.options.partition_point(|o| o.number <= number);
        self.options.insert(
            at,
            CoapOption {
                number,
                value: value.into(),
            },
        );
    }

    /// Replaces every instance of option `number` with one holding `value`.
    pub fn set_option(&mut self, number: OptionNumber, value: impl Into<Vec<u8>>) {
        self.remove_option(number);
        self.add_option(number, value);
    }

    /// Removes every instance of option `number`, returning how many there were.
    pub fn remove_option(&mut self, number: OptionNumber) -> usize {
        let before = self.options.len();
        self.options.retain(|o| o.number != number);
        before - self.options.len()
    }

    /// The value of the first instance of option `number`.
    pub fn option(&self, number: OptionNumber) -> Option<&[u8]> {
        self.option_values(number).next()
    }

    /// The values of every instance of option `number`, in order.
    pub fn option_values(&self, number: OptionNumber) -> impl Iterator<Item = &[u8]> {
        self.options
            .iter()
            .filter(move |o| o.number == number)
            .map(|o| o.value.as_slice())
    }

    /// How many instances of option `number` the message has.
    pub fn option_count(&self, number: OptionNumber) -> usize {
        self.option_values(number).count()
    }

    /// Replaces every option at once; `options` are sorted by number, stably.
    pub(crate) fn set_options(&mut self, mut options: Vec<CoapOption>) {
        options.sort_by_key(|o| o.number);
        self.options = options;
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;
    use crate::coap::test_support::hex;

    /// RFC 8613 Appendix C.4: the unprotected GET coap://localhost/tv1.
    const C4_REQUEST: &str = "44015d1f00003974396c6f63616c686f737483747631";

    #[test]
    fn a_published_request_decodes_field_by_field() {
        let bytes = hex(C4_REQUEST);
        let message = Message::decode(&bytes, &Limits::default()).expect("valid message");
        assert_eq!(message.message_type, MessageType::Confirmable);
        assert_eq!(message.code, Code::GET);
        assert_eq!(message.message_id, 0x5d1f);
        assert_eq!(message.token.as_slice(), &[0x00, 0x00, 0x39, 0x74]);
        assert_eq!(
            message.option(OptionNumber::URI_HOST),
            Some(&b"localhost"[..])
        );
        assert_eq!(message.option(OptionNumber::URI_PATH), Some(&b"tv1"[..]));
        assert!(message.payload.is_empty());
        assert_eq!(message.encode(&Limits::default()), Ok(bytes));
    }

    #[test]
    fn header_rules_of_rfc_7252_section_3_are_enforced() {
        let limits = Limits::default();
        assert_eq!(
            Message::decode(&[0x40, 0x01, 0x00], &limits),
            Err(CoapError::Truncated)
        );
        assert_eq!(
            Message::decode(&[0x80, 0x01, 0x00, 0x00], &limits),
            Err(CoapError::UnknownVersion(2))
        );
        assert!(CoapError::UnknownVersion(2).is_silent());
        assert_eq!(
            Message::decode(&[0x49, 0x01, 0x00, 0x00], &limits),
            Err(CoapError::InvalidTokenLength(9))
        );
        assert_eq!(
            Message::decode(&[0x42, 0x01, 0x00, 0x00, 0x01], &limits),
            Err(CoapError::Truncated)
        );
        // An Empty message with a token, or with anything after the header.
        assert_eq!(
            Message::decode(&[0x41, 0x00, 0x00, 0x00, 0x01], &limits),
            Err(CoapError::NonEmptyEmptyMessage)
        );
        assert_eq!(
            Message::decode(&[0x60, 0x00, 0x00, 0x00, 0xff, 0x01], &limits),
            Err(CoapError::NonEmptyEmptyMessage)
        );
        assert!(Message::decode(&[0x60, 0x00, 0x12, 0x34], &limits).is_ok());
        assert_eq!(
            Message::decode(&[0x40, 0x01, 0x00, 0x00, 0xff], &limits),
            Err(CoapError::EmptyPayload)
        );
    }

    #[test]
    fn limits_bound_size_and_option_count() {
        let limits = Limits {
            max_message_size: 8,
            max_options: 2,
        };
        assert!(matches!(
            Message::decode(&[0x40, 0x01, 0, 0, 0xff, 1, 2, 3, 4], &limits),
            Err(CoapError::TooLarge { len: 9, max: 8 })
        ));
        assert_eq!(
            Message::decode(&[0x40, 0x01, 0, 0, 0x10, 0x00, 0x00], &limits),
            Err(CoapError::TooManyOptions { max: 2 })
        );
        let mut big = Message::new(MessageType::Confirmable, Code::GET, 1, Token::EMPTY);
        big.payload = vec![0; 8];
        assert!(matches!(
            big.encode(&limits),
            Err(CoapError::TooLarge { .. })
        ));
    }

    #[test]
    fn repeated_options_keep_their_order_among_others() {
        let mut message = Message::new(MessageType::Confirmable, Code::GET, 7, Token::EMPTY);
        message.add_option(OptionNumber::URI_PATH, b"b".to_vec());
        message.add_option(OptionNumber::URI_HOST, b"h".to_vec());
        message.add_option(OptionNumber::URI_PATH, b"c".to_vec());
        message.add_option(OptionNumber::CONTENT_FORMAT, vec![]);
        let paths: Vec<&[u8]> = message.option_values(OptionNumber::URI_PATH).collect();
        assert_eq!(paths, [&b"b"[..], &b"c"[..]]);
        assert_eq!(message.options()[0].number, OptionNumber::URI_HOST);
        let bytes = message.encode(&Limits::default()).expect("encodes");
        assert_eq!(
            Message::decode(&bytes, &Limits::default()),
            Ok(message.clone())
        );
        message.set_option(OptionNumber::URI_PATH, b"d".to_vec());
        assert_eq!(message.option_count(OptionNumber::URI_PATH), 1);
        assert_eq!(message.remove_option(OptionNumber::URI_PATH), 1);
    }

    #[test]
    fn responses_are_piggybacked_on_confirmable_requests() {
        let token = Token::new(&[1, 2]).expect("short token");
        let con = Message::new(MessageType::Confirmable, Code::POST, 9, token);
        let ack = Message::response_to(&con, Code::CHANGED);
        assert_eq!(ack.message_type, MessageType::Acknowledgement);
        assert_eq!((ack.message_id, ack.token), (9, token));
        let non = Message::new(MessageType::NonConfirmable, Code::POST, 9, token);
        assert_eq!(
            Message::response_to(&non, Code::CHANGED).message_type,
            MessageType::NonConfirmable
        );
        assert_eq!(Token::new(&[0; 9]), Err(CoapError::TokenTooLong));
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let options = proptest::collection::vec(
            (0u16..=1200, proptest::collection::vec(any::<u8>(), 0..300)),
            0..10,
        );
        (
            0u8..4,
            1u8..=255,
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..=8),
            options,
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, code, id, token, options, payload)| {
                let token = Token::new(&token).expect("at most 8 bytes");
                let mut m =
                    Message::new(MessageType::from_bits(t), Code::from_byte(code), id, token);
                for (number, value) in options {
                    m.add_option(OptionNumber(number), value);
                }
                m.payload = payload;
                m
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn encode_then_decode_is_the_identity(message in arb_message()) {
            let limits = Limits { max_message_size: 8192, max_options: 16 };
            let bytes = message.encode(&limits).expect("within limits");
            prop_assert_eq!(Message::decode(&bytes, &limits), Ok(message));
        }

        #[test]
        fn random_bytes_never_panic_and_decoded_bytes_reencode_exactly(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            // The §3.1 encoding of a delta or length is unique, so every message that decodes
            // re-encodes to the very same bytes.
            let limits = Limits::default();
            if let Ok(message) = Message::decode(&bytes, &limits) {
                prop_assert_eq!(message.encode(&limits), Ok(bytes));
            }
        }

        #[test]
        fn mutated_valid_messages_never_panic(
            message in arb_message(),
            index in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let limits = Limits { max_message_size: 8192, max_options: 16 };
            let mut bytes = message.encode(&limits).expect("within limits");
            let at = index % bytes.len();
            bytes[at] = byte;
            let _ = Message::decode(&bytes, &limits);
            bytes.truncate(at);
            let _ = Message::decode(&bytes, &limits);
        }
    }
}
