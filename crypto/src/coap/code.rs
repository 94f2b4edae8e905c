//! Message types and codes (RFC 7252 §3, §4, §12.1).

use core::fmt;

/// The T field of the header: how the message layer treats the message (RFC 7252 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// CON: retransmitted until acknowledged (§4.2).
    Confirmable,
    /// NON: sent once (§4.3).
    NonConfirmable,
    /// ACK: acknowledges a Confirmable message, possibly carrying a response (§5.2.1).
    Acknowledgement,
    /// RST: the message could not be processed (§4.2).
    Reset,
}

impl MessageType {
    /// The type encoded in the two bits `bits`; every value is defined.
    pub(crate) fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => MessageType::Confirmable,
            1 => MessageType::NonConfirmable,
            2 => MessageType::Acknowledgement,
            _ => MessageType::Reset,
        }
    }

    /// The two-bit encoding of the type.
    pub(crate) fn bits(self) -> u8 {
        match self {
            MessageType::Confirmable => 0,
            MessageType::NonConfirmable => 1,
            MessageType::Acknowledgement => 2,
            MessageType::Reset => 3,
        }
    }
}

/// A CoAP code: a 3-bit class and a 5-bit detail, written `c.dd` (RFC 7252 §3).
///
/// Class 0 holds the Empty message (0.00) and the request methods, classes 2, 4 and 5 the
/// success, client-error and server-error responses (§12.1); classes 1, 6 and 7 are
/// reserved over UDP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(u8);

impl Code {
    /// 0.00, the code of an Empty message (§4.1).
    pub const EMPTY: Code = Code::new(0, 0);
    /// 0.01 GET.
    pub const GET: Code = Code::new(0, 1);
    /// 0.02 POST.
    pub const POST: Code = Code::new(0, 2);
    /// 0.03 PUT.
    pub const PUT: Code = Code::new(0, 3);
    /// 0.04 DELETE.
    pub const DELETE: Code = Code::new(0, 4);
    /// 0.05 FETCH (RFC 8132).
    pub const FETCH: Code = Code::new(0, 5);
    /// 0.06 PATCH (RFC 8132).
    pub const PATCH: Code = Code::new(0, 6);
    /// 0.07 iPATCH (RFC 8132).
    pub const IPATCH: Code = Code::new(0, 7);
    /// 2.01 Created.
    pub const CREATED: Code = Code::new(2, 1);
    /// 2.02 Deleted.
    pub const DELETED: Code = Code::new(2, 2);
    /// 2.03 Valid.
    pub const VALID: Code = Code::new(2, 3);
    /// 2.04 Changed.
    pub const CHANGED: Code = Code::new(2, 4);
    /// 2.05 Content.
    pub const CONTENT: Code = Code::new(2, 5);
    /// 2.31 Continue (RFC 7959).
    pub const CONTINUE: Code = Code::new(2, 31);
    /// 4.00 Bad Request.
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    /// 4.01 Unauthorized.
    pub const UNAUTHORIZED: Code = Code::new(4, 1);
    /// 4.02 Bad Option.
    pub const BAD_OPTION: Code = Code::new(4, 2);
    /// 4.03 Forbidden.
    pub const FORBIDDEN: Code = Code::new(4, 3);
    /// 4.04 Not Found.
    pub const NOT_FOUND: Code = Code::new(4, 4);
    /// 4.05 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    /// 4.06 Not Acceptable.
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    /// 4.08 Request Entity Incomplete (RFC 7959).
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code::new(4, 8);
    /// 4.12 Precondition Failed.
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    /// 4.13 Request Entity Too Large.
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);
    /// 4.15 Unsupported Content-Format.
    pub const UNSUPPORTED_CONTENT_FORMAT: Code = Code::new(4, 15);
    /// 5.00 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    /// 5.01 Not Implemented.
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    /// 5.02 Bad Gateway.
    pub const BAD_GATEWAY: Code = Code::new(5, 2);
    /// 5.03 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);
    /// 5.04 Gateway Timeout.
    pub const GATEWAY_TIMEOUT: Code = Code::new(5, 4);
    /// 5.05 Proxying Not Supported.
    pub const PROXYING_NOT_SUPPORTED: Code = Code::new(5, 5);

    /// The code `class.detail`; bits beyond 3 (class) and 5 (detail) are dropped.
    pub const fn new(class: u8, detail: u8) -> Self {
        Code(((class & 0x07) << 5) | (detail & 0x1f))
    }

    /// The code as it appears on the wire.
    pub const fn from_byte(byte: u8) -> Self {
        Code(byte)
    }

    /// The wire byte of the code.
    pub const fn to_byte(self) -> u8 {
        self.0
    }

    /// The class, 0 to 7.
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }

    /// The detail, 0 to 31.
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }

    /// 0.00: an Empty message (§4.1).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A request method: class 0 other than 0.00 (§5.8).
    pub const fn is_request(self) -> bool {
        self.class() == 0 && self.detail() != 0
    }

    /// A response: class 2, 4 or 5 (§5.9).
    pub const fn is_response(self) -> bool {
        matches!(self.class(), 2 | 4 | 5)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    #[test]
    fn codes_split_into_class_and_detail() {
        assert_eq!(Code::CONTENT.to_byte(), 0x45);
        assert_eq!(Code::UNAUTHORIZED.to_byte(), 0x81);
        assert_eq!(Code::from_byte(0xa0), Code::INTERNAL_SERVER_ERROR);
        assert_eq!(format!("{}", Code::BAD_OPTION), "4.02");
        assert_eq!(format!("{:?}", Code::CONTINUE), "2.31");
        assert!(Code::FETCH.is_request() && !Code::FETCH.is_response());
        assert!(Code::CHANGED.is_response() && !Code::CHANGED.is_request());
        assert!(Code::EMPTY.is_empty() && !Code::EMPTY.is_request());
        assert!(!Code::new(7, 1).is_request() && !Code::new(7, 1).is_response());
    }

    #[test]
    fn message_types_round_trip_through_their_bits() {
        for bits in 0..4 {
            assert_eq!(MessageType::from_bits(bits).bits(), bits);
        }
    }
}
