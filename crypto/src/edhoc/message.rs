//! The EDHOC messages and plaintexts on the wire (RFC 9528 §5), read from untrusted bytes
//! with a borrowing reader and written in preferred CBOR.
//!
//! ```text
//! message_1   = ( METHOD : int, SUITES_I : suites, G_X : bstr, C_I : bstr / -24..23, ? EAD_1 )
//! message_2   = ( G_Y_CIPHERTEXT_2 : bstr )
//! PLAINTEXT_2 = ( C_R, ID_CRED_R / bstr / -24..23, Signature_or_MAC_2 : bstr, ? EAD_2 )
//! message_3   = ( CIPHERTEXT_3 : bstr )
//! PLAINTEXT_3 = ( ID_CRED_I / bstr / -24..23, Signature_or_MAC_3 : bstr, ? EAD_3 )
//! message_4   = ( CIPHERTEXT_4 : bstr )
//! PLAINTEXT_4 = ( ? EAD_4 )
//! error       = ( ERR_CODE : int, ERR_INFO : any )
//! ```
//!
//! message_2 to message_4 start with a byte string and an error message with an integer,
//! which is how a receiver tells them apart (RFC 9528 §6).

use alloc::vec::Vec;

use super::MAX_MESSAGE_LEN;
use super::ead::{self, EadItem};
use super::error::{Error, ErrorMessage, Misuse, PeerError};
use super::id::{ConnectionId, IdCred};
use super::suite::{Method, SuiteList};
use crate::cbor::{Reader, Writer};

/// Length of G_X and G_Y for both of Ward's curves (RFC 9528 §3.7: x-coordinates only).
pub(crate) const ECDH_PUBLIC_LEN: usize = 32;

/// message_1 as read, before the Responder checks method, suite and EAD_1.
pub(crate) struct Message1<'a> {
    pub(crate) method: i64,
    pub(crate) suites_i: SuiteList,
    pub(crate) g_x: &'a [u8],
    pub(crate) c_i: ConnectionId,
    pub(crate) ead_1: &'a [u8],
}

fn check_len(bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(PeerError::TooLarge(bytes.len()).into());
    }
    Ok(())
}

fn finish(out: Vec<u8>) -> Result<Vec<u8>, Error> {
    if out.len() > MAX_MESSAGE_LEN {
        return Err(Misuse::MessageTooLarge.into());
    }
    Ok(out)
}

/// Writes message_1 (RFC 9528 §5.2.1).
pub(crate) fn encode_message_1(
    method: Method,
    suites_i: &SuiteList,
    g_x: &[u8],
    c_i: &ConnectionId,
    ead_1: &[EadItem],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(48);
    let mut w = Writer::new(&mut out);
    w.int(i64::from(method.value()));
    suites_i.encode(&mut w);
    w.bytes(g_x);
    c_i.encode(&mut w);
    ead::encode(ead_1, &mut w)?;
    finish(out)
}

/// Reads message_1 (RFC 9528 §5.2.1); EAD_1 is left encoded for the Responder to check
/// after the method and suite (§5.2.3).
pub(crate) fn decode_message_1(bytes: &[u8]) -> Result<Message1<'_>, Error> {
    check_len(bytes)?;
    let mut r = Reader::new(bytes);
    let method = r.int().map_err(PeerError::from)?;
    let suites_i = SuiteList::decode(&mut r)?;
    let g_x = r.bytes().map_err(PeerError::from)?;
    let c_i = ConnectionId::decode(&mut r)?;
    Ok(Message1 {
        method,
        suites_i,
        g_x,
        c_i,
        ead_1: r.rest(),
    })
}

/// Reads a message that is a single byte string: message_2, message_3 or message_4. An
/// error message in its place ends the handshake with [`Error::Aborted`].
pub(crate) fn decode_bstr_message(bytes: &[u8]) -> Result<&[u8], Error> {
    check_len(bytes)?;
    let mut r = Reader::new(bytes);
    if matches!(r.peek_major(), Some(0 | 1)) {
        return Err(Error::Aborted(ErrorMessage::decode(bytes)?));
    }
    let content = r.bytes().map_err(PeerError::from)?;
    if !r.is_empty() {
        return Err(PeerError::Malformed("trailing bytes after the message").into());
    }
    Ok(content)
}

/// Wraps a ciphertext (or G_Y and CIPHERTEXT_2) into its message.
pub(crate) fn encode_bstr_message(parts: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 3);
    write_bstr_head(&mut out, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    finish(out)
}

/// The preferred-form head of a byte string of `len` bytes (RFC 8949 §4.2.1).
fn write_bstr_head(out: &mut Vec<u8>, len: usize) {
    const MAJOR_BYTES: u8 = 2 << 5;
    if len < 24 {
        out.push(MAJOR_BYTES | len as u8);
    } else if len <= usize::from(u8::MAX) {
        out.extend_from_slice(&[MAJOR_BYTES | 24, len as u8]);
    } else {
        // Messages stay below MAX_MESSAGE_LEN, well within two length bytes.
        out.push(MAJOR_BYTES | 25);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
}

/// PLAINTEXT_2 (RFC 9528 §5.3.2) as read; Signature_or_MAC_2 and EAD_2 borrowed.
pub(crate) struct Plaintext2<'a> {
    pub(crate) c_r: ConnectionId,
    pub(crate) id_cred_r: IdCred,
    pub(crate) signature_or_mac: &'a [u8],
    pub(crate) ead: &'a [u8],
    pub(crate) ead_items: Vec<EadItem>,
}

pub(crate) fn encode_plaintext_2(
    c_r: &ConnectionId,
    id_cred_r: &IdCred,
    signature_or_mac: &[u8],
    ead_2: &[EadItem],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(signature_or_mac.len() + 16);
    let mut w = Writer::new(&mut out);
    c_r.encode(&mut w);
    id_cred_r.encode_plaintext(&mut w);
    w.bytes(signature_or_mac);
    ead::encode(ead_2, &mut w)?;
    finish(out)
}

pub(crate) fn decode_plaintext_2<'a>(
    plaintext: &'a [u8],
    recognized: &[u16],
) -> Result<Plaintext2<'a>, Error> {
    let mut r = Reader::new(plaintext);
    let c_r = ConnectionId::decode(&mut r)?;
    let id_cred_r = IdCred::decode_plaintext(&mut r)?;
    let signature_or_mac = r.bytes().map_err(PeerError::from)?;
    let ead = r.rest();
    let ead_items = ead::decode(&mut r, recognized)?;
    Ok(Plaintext2 {
        c_r,
        id_cred_r,
        signature_or_mac,
        ead,
        ead_items,
    })
}

/// PLAINTEXT_3 (RFC 9528 §5.4.2) as read.
pub(crate) struct Plaintext3<'a> {
    pub(crate) id_cred_i: IdCred,
    pub(crate) signature_or_mac: &'a [u8],
    pub(crate) ead: &'a [u8],
    pub(crate) ead_items: Vec<EadItem>,
}

pub(crate) fn encode_plaintext_3(
    id_cred_i: &IdCred,
    signature_or_mac: &[u8],
    ead_3: &[EadItem],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(signature_or_mac.len() + 16);
    let mut w = Writer::new(&mut out);
    id_cred_i.encode_plaintext(&mut w);
    w.bytes(signature_or_mac);
    ead::encode(ead_3, &mut w)?;
    finish(out)
}

pub(crate) fn decode_plaintext_3<'a>(
    plaintext: &'a [u8],
    recognized: &[u16],
) -> Result<Plaintext3<'a>, Error> {
    let mut r = Reader::new(plaintext);
    let id_cred_i = IdCred::decode_plaintext(&mut r)?;
    let signature_or_mac = r.bytes().map_err(PeerError::from)?;
    let ead = r.rest();
    let ead_items = ead::decode(&mut r, recognized)?;
    Ok(Plaintext3 {
        id_cred_i,
        signature_or_mac,
        ead,
        ead_items,
    })
}

/// PLAINTEXT_4 = ( ? EAD_4 ) (RFC 9528 §5.5.2).
pub(crate) fn encode_plaintext_4(ead_4: &[EadItem]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    ead::encode(ead_4, &mut Writer::new(&mut out))?;
    finish(out)
}

pub(crate) fn decode_plaintext_4(
    plaintext: &[u8],
    recognized: &[u16],
) -> Result<Vec<EadItem>, Error> {
    ead::decode(&mut Reader::new(plaintext), recognized)
}

/// The length of G_Y and the ciphertext inside G_Y_CIPHERTEXT_2, checked.
pub(crate) fn split_message_2(content: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    // PLAINTEXT_2 holds at least C_R, ID_CRED_R and an 8-byte MAC.
    if content.len() <= ECDH_PUBLIC_LEN + 2 {
        return Err(PeerError::Malformed("message_2 too short").into());
    }
    Ok(content.split_at(ECDH_PUBLIC_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_string_heads_are_preferred() {
        for (len, head) in [
            (0, &[0x40][..]),
            (23, &[0x57]),
            (24, &[0x58, 24]),
            (300, &[0x59, 1, 44]),
        ] {
            let body = alloc::vec![0u8; len];
            let message = encode_bstr_message(&[&body]).expect("small message");
            assert_eq!(&message[..head.len()], head);
            assert_eq!(
                decode_bstr_message(&message).expect("round trip"),
                &body[..]
            );
        }
    }

    #[test]
    fn an_error_message_in_place_of_a_message_aborts() {
        assert_eq!(
            decode_bstr_message(&[0x02, 0x02]),
            Err(Error::Aborted(ErrorMessage::WrongSelectedSuite(
                SuiteList::new(&[super::super::CipherSuite::Suite2]).expect("one suite")
            )))
        );
        assert!(decode_bstr_message(&[0x41, 0x00, 0x00]).is_err());
        assert!(decode_bstr_message(&[0x5a, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
