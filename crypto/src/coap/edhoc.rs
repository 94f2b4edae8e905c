//! EDHOC carried over CoAP (RFC 9528 Appendix A.2) and the combined EDHOC + OSCORE request
//! (RFC 9668 §3).
//!
//! ```text
//! forward message flow (the camera is client and Initiator)
//!   POST /.well-known/edhoc  CF 65  payload: true (0xf5) | message_1
//!   2.04                     CF 64  payload: message_2
//!   POST /.well-known/edhoc  CF 65  payload: C_R | message_3          (sequential)
//!   POST /app  OSCORE{kid: C_R}  EDHOC  payload: message_3 | ciphertext   (RFC 9668)
//! ```
//!
//! A client prefixes every request with what names the EDHOC session at the server: `true`
//! for a new session, otherwise the connection identifier the server chose, in the CBOR
//! representation of RFC 9528 §3.3.2 (a one-byte integer when the identifier is the
//! encoding of one, a byte string otherwise). Responses carry no prefix.

use alloc::vec::Vec;

use super::code::{Code, MessageType};
use super::error::CoapError;
use super::message::{Message, Token};
use super::option::{OptionNumber, content_format};

/// The Uri-Path of the EDHOC resource (RFC 9528 §10.7).
pub const WELL_KNOWN_EDHOC: &str = "/.well-known/edhoc";

/// CBOR `true`, which prefixes message_1 of a new session (RFC 9528 Appendix A.2).
const CBOR_TRUE: u8 = 0xf5;
const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;

/// What a client request names as its EDHOC session (RFC 9528 Appendix A.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correlation<'a> {
    /// `true`: message_1 starting a new session in the forward flow.
    NewSession,
    /// The connection identifier the server chose (C_R forward, C_I reverse), as the byte
    /// string it stands for (RFC 9528 §3.3.2), which is also an OSCORE ID (§3.3.3).
    ConnectionId(&'a [u8]),
}

/// Whether the one-byte string `id` is the CBOR encoding of an integer in -24..=23, which
/// RFC 9528 §3.3.2 sends as that integer rather than as a byte string.
fn is_integer_form(id: &[u8]) -> bool {
    matches!(id, [b] if (*b >> 5 == MAJOR_UNSIGNED || *b >> 5 == MAJOR_NEGATIVE) && *b & 0x1f < 24)
}

/// Appends the CBOR representation of connection identifier `id` (RFC 9528 §3.3.2).
pub fn encode_connection_id(id: &[u8], out: &mut Vec<u8>) {
    if is_integer_form(id) {
        out.extend_from_slice(id);
    } else {
        crate::cbor::Writer::new(out).bytes(id);
    }
}

/// Reads the head of a definite-length CBOR item: major type, argument and head length.
fn cbor_head(bytes: &[u8]) -> Option<(u8, u64, usize)> {
    let (&first, rest) = bytes.split_first()?;
    let (major, info) = (first >> 5, first & 0x1f);
    let width = match info {
        0..=23 => return Some((major, u64::from(info), 1)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    let argument = rest
        .get(..width)?
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Some((major, argument, 1 + width))
}

/// Splits `bytes` after one CBOR byte string, returning (the whole encoded item, its
/// content, what follows). The claimed length is checked against the bytes present.
fn split_byte_string(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (major, len, head) = cbor_head(bytes)?;
    if major != MAJOR_BYTES {
        return None;
    }
    let end = head.checked_add(usize::try_from(len).ok()?)?;
    let item = bytes.get(..end)?;
    Some((item, &item[head..], &bytes[end..]))
}

/// Splits a request payload into its correlation prefix and the EDHOC message after it.
pub fn split_correlation(payload: &[u8]) -> Result<(Correlation<'_>, &[u8]), CoapError> {
    let bad = CoapError::Unexpected("EDHOC request without a valid correlation prefix");
    let (&first, rest) = payload.split_first().ok_or(bad)?;
    let (correlation, message) = if first == CBOR_TRUE {
        (Correlation::NewSession, rest)
    } else if is_integer_form(&payload[..1]) {
        (Correlation::ConnectionId(&payload[..1]), rest)
    } else {
        let (_, id, message) = split_byte_string(payload).ok_or(bad)?;
        // §3.3.2: an identifier that has the integer form is never sent as a byte string.
        if is_integer_form(id) {
            return Err(bad);
        }
        (Correlation::ConnectionId(id), message)
    };
    if message.is_empty() {
        return Err(CoapError::Unexpected("EDHOC request without a message"));
    }
    Ok((correlation, message))
}

/// A Confirmable POST to [`WELL_KNOWN_EDHOC`] carrying `edhoc_message` after the
/// correlation prefix, with Content-Format application/cid-edhoc+cbor-seq (Appendix A.2.1).
pub fn edhoc_request(
    message_id: u16,
    token: Token,
    correlation: Correlation<'_>,
    edhoc_message: &[u8],
) -> Message {
    let mut request = Message::new(MessageType::Confirmable, Code::POST, message_id, token);
    request.set_uri_path(WELL_KNOWN_EDHOC);
    request.set_content_format(content_format::CID_EDHOC_CBOR_SEQ);
    match correlation {
        Correlation::NewSession => request.payload.push(CBOR_TRUE),
        Correlation::ConnectionId(id) => encode_connection_id(id, &mut request.payload),
    }
    request.payload.extend_from_slice(edhoc_message);
    request
}

/// The empty POST with which a client asks the server to start EDHOC as Initiator (the
/// reverse message flow, Appendix A.2.2).
pub fn edhoc_trigger_request(message_id: u16, token: Token) -> Message {
    let mut request = Message::new(MessageType::Confirmable, Code::POST, message_id, token);
    request.set_uri_path(WELL_KNOWN_EDHOC);
    request
}

/// Reads a request to the EDHOC resource: a POST whose payload is a correlation prefix and
/// an EDHOC message. Routing by Uri-Path is the caller's: an application may serve EDHOC at
/// another path (Appendix A.2).
pub fn read_edhoc_request(request: &Message) -> Result<(Correlation<'_>, &[u8]), CoapError> {
    if request.code != Code::POST {
        return Err(CoapError::Unexpected("EDHOC request is not a POST"));
    }
    match request.content_format()? {
        None | Some(content_format::CID_EDHOC_CBOR_SEQ) => split_correlation(&request.payload),
        Some(_) => Err(CoapError::Unexpected(
            "EDHOC request with a wrong Content-Format",
        )),
    }
}

/// The 2.04 (Changed) response carrying `edhoc_message`, Content-Format
/// application/edhoc+cbor-seq (Appendix A.2.1).
pub fn edhoc_response(request: &Message, edhoc_message: &[u8]) -> Message {
    let mut response = Message::response_to(request, Code::CHANGED);
    response.set_content_format(content_format::EDHOC_CBOR_SEQ);
    response.payload = edhoc_message.to_vec();
    response
}

/// Who caused an EDHOC error, which picks the CoAP code of its response (Appendix A.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCause {
    /// A malformed or unacceptable message from the client: 4.00 (Bad Request).
    Client,
    /// A failure at the server, such as key derivation: 5.00 (Internal Server Error).
    Server,
}

/// An error response carrying the EDHOC error message `error_message` (Appendix A.2.3).
pub fn edhoc_error_response(request: &Message, cause: ErrorCause, error_message: &[u8]) -> Message {
    let code = match cause {
        ErrorCause::Client => Code::BAD_REQUEST,
        ErrorCause::Server => Code::INTERNAL_SERVER_ERROR,
    };
    let mut response = Message::response_to(request, code);
    response.set_content_format(content_format::EDHOC_CBOR_SEQ);
    response.payload = error_message.to_vec();
    response
}

/// What a response from the EDHOC resource carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdhocResponse<'a> {
    /// The next EDHOC message, in a 2.04 (Changed).
    Message(&'a [u8]),
    /// An EDHOC error message, in a 4.xx or 5.xx (Appendix A.2.3).
    Error(&'a [u8]),
}

/// Reads a response from the EDHOC resource.
pub fn read_edhoc_response(response: &Message) -> Result<EdhocResponse<'_>, CoapError> {
    let payload = response.payload.as_slice();
    match response.code.class() {
        2 if response.code == Code::CHANGED => Ok(EdhocResponse::Message(payload)),
        4 | 5 if response.content_format()? == Some(content_format::EDHOC_CBOR_SEQ) => {
            Ok(EdhocResponse::Error(payload))
        }
        _ => Err(CoapError::Unexpected("not an EDHOC response")),
    }
}

/// Builds the EDHOC + OSCORE request of RFC 9668 §3.2.1 from an OSCORE-protected request and
/// the encoded EDHOC message_3: the payload becomes `message_3 | OSCORE ciphertext` and the
/// EDHOC option is added. C_R is not sent: it is the 'kid' of the OSCORE option.
pub fn combine_edhoc_oscore(
    oscore_request: &Message,
    message_3: &[u8],
) -> Result<Message, CoapError> {
    if oscore_request.oscore().is_none() || oscore_request.payload.is_empty() {
        return Err(CoapError::Unexpected("not an OSCORE-protected request"));
    }
    // §3.2.1 step 3: message_3 is one CBOR byte string, CIPHERTEXT_3.
    match split_byte_string(message_3) {
        Some((_, _, [])) => {}
        _ => {
            return Err(CoapError::Unexpected(
                "message_3 is not one CBOR byte string",
            ));
        }
    }
    let mut combined = oscore_request.clone();
    combined.payload = [message_3, &oscore_request.payload].concat();
    combined.set_edhoc_option();
    Ok(combined)
}

/// An EDHOC + OSCORE request taken apart (RFC 9668 §3.3.1 steps 1, 2, 6 and 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CombinedRequest {
    /// EDHOC message_3, the CBOR byte string CIPHERTEXT_3 as it was encoded.
    pub message_3: Vec<u8>,
    /// The OSCORE-protected request, with the OSCORE ciphertext as payload and without the
    /// EDHOC option. Its OSCORE 'kid' is C_R (§3.3.1 step 3).
    pub oscore_request: Message,
}

/// Splits an EDHOC + OSCORE request. Any error means the server replies 4.00 (Bad Request)
/// (RFC 9668 §3.3.1 step 1).
pub fn split_edhoc_oscore(request: &Message) -> Result<CombinedRequest, CoapError> {
    // §3.1: the option MUST occur at most once; its value, if any, is ignored.
    if request.option_count(OptionNumber::EDHOC) != 1 {
        return Err(CoapError::Unexpected("EDHOC option absent or repeated"));
    }
    if request.oscore().is_none() {
        return Err(CoapError::Unexpected(
            "EDHOC option without the OSCORE option",
        ));
    }
    let Some((message_3, _, ciphertext)) = split_byte_string(&request.payload) else {
        return Err(CoapError::Unexpected(
            "payload does not start with message_3",
        ));
    };
    if ciphertext.is_empty() {
        return Err(CoapError::Unexpected("payload has no OSCORE ciphertext"));
    }
    let mut oscore_request = request.clone();
    oscore_request.remove_option(OptionNumber::EDHOC);
    oscore_request.payload = ciphertext.to_vec();
    Ok(CombinedRequest {
        message_3: message_3.to_vec(),
        oscore_request,
    })
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;
    use crate::coap::Limits;
    use crate::coap::test_support::hex;

    #[test]
    fn connection_ids_use_the_integer_form_when_they_can() {
        let cases: [(&[u8], &[u8]); 5] = [
            (&[0x01], &[0x01]),
            (&[0x37], &[0x37]),
            (&[0x18], &[0x41, 0x18]),
            (&[], &[0x40]),
            (&[0x2b, 0x00], &[0x42, 0x2b, 0x00]),
        ];
        for (id, encoded) in cases {
            let mut out = Vec::new();
            encode_connection_id(id, &mut out);
            assert_eq!(out, encoded, "{id:02x?}");
            let mut payload = out.clone();
            payload.push(0x58);
            assert_eq!(
                split_correlation(&payload),
                Ok((Correlation::ConnectionId(id), &[0x58u8][..]))
            );
        }
        // A byte string holding an integer-form identifier is not its representation.
        assert!(split_correlation(&[0x41, 0x05, 0x00]).is_err());
        assert!(split_correlation(&[0xf5]).is_err());
        assert!(split_correlation(&[0x45, 0x00]).is_err());
    }

    #[test]
    fn forward_flow_requests_carry_true_then_c_r() {
        let token = Token::new(&[0xab]).expect("short token");
        let first = edhoc_request(1, token, Correlation::NewSession, &[0x03, 0x02]);
        assert!(first.uri_path_is(&[".well-known", "edhoc"]));
        assert_eq!(first.content_format(), Ok(Some(65)));
        assert_eq!(first.payload, [0xf5, 0x03, 0x02]);
        assert_eq!(
            read_edhoc_request(&first),
            Ok((Correlation::NewSession, &[0x03u8, 0x02][..]))
        );

        let third = edhoc_request(2, token, Correlation::ConnectionId(&[0x27]), &[0x52, 0xaa]);
        assert_eq!(third.payload, [0x27, 0x52, 0xaa]);
        let bytes = third.encode(&Limits::default()).expect("small");
        let decoded = Message::decode(&bytes, &Limits::default()).expect("valid");
        assert_eq!(
            read_edhoc_request(&decoded),
            Ok((Correlation::ConnectionId(&[0x27]), &[0x52u8, 0xaa][..]))
        );
        assert!(read_edhoc_request(&edhoc_trigger_request(3, token)).is_err());
    }

    #[test]
    fn responses_carry_messages_or_error_messages() {
        let request = edhoc_request(5, Token::EMPTY, Correlation::NewSession, &[0x01]);
        let response = edhoc_response(&request, &[0x58, 0x01]);
        assert_eq!(response.code, Code::CHANGED);
        assert_eq!(response.message_type, MessageType::Acknowledgement);
        assert_eq!(
            read_edhoc_response(&response),
            Ok(EdhocResponse::Message(&[0x58, 0x01]))
        );
        let error = edhoc_error_response(&request, ErrorCause::Client, &[0x01, 0x60]);
        assert_eq!(error.code, Code::BAD_REQUEST);
        assert_eq!(
            read_edhoc_response(&error),
            Ok(EdhocResponse::Error(&[0x01, 0x60]))
        );
        let server = edhoc_error_response(&request, ErrorCause::Server, &[0x01]);
        assert_eq!(server.code, Code::INTERNAL_SERVER_ERROR);
        let plain = Message::response_to(&request, Code::NOT_FOUND);
        assert!(read_edhoc_response(&plain).is_err());
    }

    /// RFC 9668 §3.4, Figure 4: the EDHOC + OSCORE request, byte for byte.
    const RFC9668_COMBINED: &str = "44025d1f00003974930900\
        01c0ff52d5535f3147e85f1cfacd9e78abf9e0a81bbf612f1092f1776f1c1668b3825e";
    const RFC9668_MESSAGE_3: &str = "52d5535f3147e85f1cfacd9e78abf9e0a81bbf";
    const RFC9668_CIPHERTEXT: &str = "612f1092f1776f1c1668b3825e";

    fn oscore_request() -> Message {
        let token = Token::new(&hex("00003974")).expect("4 bytes");
        let mut request = Message::new(MessageType::Confirmable, Code::POST, 0x5d1f, token);
        request.set_option(OptionNumber::OSCORE, hex("090001"));
        request.payload = hex(RFC9668_CIPHERTEXT);
        request
    }

    #[test]
    fn the_rfc_9668_combined_request_is_built_and_split_exactly() {
        let combined =
            combine_edhoc_oscore(&oscore_request(), &hex(RFC9668_MESSAGE_3)).expect("valid");
        let bytes = combined.encode(&Limits::default()).expect("small");
        assert_eq!(bytes, hex(RFC9668_COMBINED));
        assert_eq!(bytes.len(), 46);

        let received = Message::decode(&bytes, &Limits::default()).expect("valid");
        let split = split_edhoc_oscore(&received).expect("well formed");
        assert_eq!(split.message_3, hex(RFC9668_MESSAGE_3));
        assert_eq!(split.oscore_request, oscore_request());
    }

    #[test]
    fn malformed_combined_requests_are_refused() {
        let good = combine_edhoc_oscore(&oscore_request(), &hex(RFC9668_MESSAGE_3)).expect("ok");
        let mut no_edhoc = good.clone();
        no_edhoc.remove_option(OptionNumber::EDHOC);
        assert!(split_edhoc_oscore(&no_edhoc).is_err());
        let mut twice = good.clone();
        twice.add_option(OptionNumber::EDHOC, vec![]);
        assert!(split_edhoc_oscore(&twice).is_err());
        let mut no_oscore = good.clone();
        no_oscore.remove_option(OptionNumber::OSCORE);
        assert!(split_edhoc_oscore(&no_oscore).is_err());
        let mut only_message_3 = good.clone();
        only_message_3.payload = hex(RFC9668_MESSAGE_3);
        assert!(split_edhoc_oscore(&only_message_3).is_err());
        let mut not_bstr = good;
        not_bstr.payload[0] = 0x82;
        assert!(split_edhoc_oscore(&not_bstr).is_err());
        assert!(combine_edhoc_oscore(&oscore_request(), &[0x42, 0x00]).is_err());
        assert!(combine_edhoc_oscore(&oscore_request(), &[0x41, 0x00, 0x00]).is_err());
    }

    proptest! {
        #[test]
        fn splitting_random_payloads_never_panics(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = split_correlation(&payload);
            let mut request = oscore_request();
            request.set_edhoc_option();
            request.payload = payload;
            if let Ok(split) = split_edhoc_oscore(&request) {
                let again = combine_edhoc_oscore(&split.oscore_request, &split.message_3);
                prop_assert_eq!(again, Ok(request));
            }
        }
    }
}
