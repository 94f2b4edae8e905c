//! Connection identifiers (RFC 9528 §3.3) and credential identifiers, ID_CRED_x (§3.5.3).
//!
//! Both use the same compact representation of byte strings (§3.3.2): a one-byte string
//! whose byte is itself the encoding of a CBOR integer between -24 and 23 is sent as that
//! integer, every other byte string as a CBOR byte string. The trace of RFC 9529 §3 sends
//! C_I = h'37' as the single byte 0x37 (the integer -24) and a kid h'32' as 0x32.

use alloc::vec::Vec;
use core::fmt;

use super::error::{Misuse, PeerError, Unsupported};
use super::{Error, MAX_CONNECTION_ID_LEN, MAX_KID_LEN, MAX_NESTING};
use crate::cbor::{Reader, Writer};
use crate::credential::MAX_CREDENTIAL_LEN;

/// COSE header parameter labels used in ID_CRED_x (RFC 9052 §3.1, RFC 9528 §10.6).
const LABEL_KID: i64 = 4;
const LABEL_KCWT: i64 = 13;
const LABEL_KCCS: i64 = 14;
/// Most entries read from an ID_CRED_x map that Ward does not interpret.
const MAX_ID_CRED_ENTRIES: usize = 8;

/// Whether `byte` is by itself the encoding of an integer in -24..=23 (RFC 9528 §3.3.2).
fn is_one_byte_int(byte: u8) -> bool {
    byte <= 0x17 || (0x20..=0x37).contains(&byte)
}

/// Writes a byte string in the compact representation of RFC 9528 §3.3.2.
fn write_compact(w: &mut Writer<'_>, bytes: &[u8]) {
    match bytes {
        [byte] if is_one_byte_int(*byte) => w.raw(&[*byte]),
        _ => w.bytes(bytes),
    }
}

/// Reads a byte string in the compact representation of RFC 9528 §3.3.2, refusing the
/// encodings a conforming sender never produces.
fn read_compact<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], PeerError> {
    match r.peek_major() {
        Some(0 | 1) => {
            let first = r.rest().get(..1).ok_or(PeerError::Malformed("truncated"))?;
            // Only the one-byte integers -24..=23 stand for byte strings; `0x18 0x05` is the
            // integer 5 in a longer form and never a compact identifier.
            if !first.iter().all(|b| is_one_byte_int(*b)) {
                return Err(PeerError::Malformed("identifier is a multi-byte integer"));
            }
            r.int()?;
            Ok(first)
        }
        Some(2) => {
            let bytes = r.bytes()?;
            // RFC 9528 §3.3.2: such a byte string MUST be sent as the integer instead.
            if let [byte] = bytes
                && is_one_byte_int(*byte)
            {
                return Err(PeerError::Malformed("identifier not in compact form"));
            }
            Ok(bytes)
        }
        Some(_) => Err(PeerError::Malformed("identifier is neither bstr nor int")),
        None => Err(PeerError::Malformed("truncated")),
    }
}

/// A connection identifier, C_I or C_R: 0 to [`MAX_CONNECTION_ID_LEN`] bytes.
///
/// After the handshake C_R becomes the Initiator's OSCORE Sender ID and C_I the Responder's
/// (RFC 9528 Appendix A.1), which is why the identifiers of one session must differ.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CONNECTION_ID_LEN],
}

impl ConnectionId {
    /// The identifier `bytes`, if it is at most [`MAX_CONNECTION_ID_LEN`] bytes long.
    pub fn new(bytes: &[u8]) -> Option<ConnectionId> {
        if bytes.len() > MAX_CONNECTION_ID_LEN {
            return None;
        }
        let mut id = ConnectionId {
            len: bytes.len() as u8,
            bytes: [0; MAX_CONNECTION_ID_LEN],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(id)
    }

    /// The one-byte identifier that is sent as the integer `value` (-24..=23): the most
    /// compact choice, as in RFC 9529 (`ConnectionId::from_int(-24)` is h'37').
    pub fn from_int(value: i8) -> Option<ConnectionId> {
        let byte = match value {
            0..=23 => value as u8,
            -24..=-1 => 0x20 | (-1 - value) as u8,
            _ => return None,
        };
        ConnectionId::new(&[byte])
    }

    /// The identifier's bytes: what OSCORE uses as Sender or Recipient ID.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        write_compact(w, self.as_bytes());
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<ConnectionId, Error> {
        let bytes = read_compact(r)?;
        ConnectionId::new(bytes).ok_or(Error::Unsupported(Unsupported::ConnectionIdLength))
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionId(h'")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str("')")
    }
}

/// ID_CRED_x: how a party identifies, or carries, its authentication credential (RFC 9528
/// §3.5.3).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdCred {
    /// `{4: kid}`: a reference by key identifier, sent in compact form (§3.5.3).
    Kid(Vec<u8>),
    /// `{14: CCS}`: a CWT Claims Set carried by value; CRED_x is the CCS itself.
    Kccs(Vec<u8>),
    /// `{13: CWT}`: a CWT carried by value; CRED_x is the untagged CWT.
    Kcwt(Vec<u8>),
    /// Any other COSE header map, such as `{34: COSE_CertHash}` (x5t), kept as its
    /// encoding for the caller to resolve.
    Other(Vec<u8>),
}

impl IdCred {
    /// A reference by `kid`, at most [`MAX_KID_LEN`] bytes.
    pub fn kid(kid: &[u8]) -> Result<IdCred, Error> {
        if kid.len() > MAX_KID_LEN {
            return Err(Misuse::IdentifierTooLong.into());
        }
        Ok(IdCred::Kid(kid.to_vec()))
    }

    /// A header map given as its CBOR encoding. A map of the one parameter `kid`, `kccs` or
    /// `kcwt` becomes the matching variant, so that it is sent in its RFC form.
    pub fn from_map(encoded: &[u8]) -> Result<IdCred, Error> {
        let mut r = Reader::new(encoded);
        let id = IdCred::decode_map(&mut r, false)?;
        if !r.is_empty() {
            return Err(Error::Peer(PeerError::Malformed(
                "trailing bytes after ID_CRED",
            )));
        }
        Ok(id)
    }

    /// The credential carried by value, exactly as it enters the transcript as CRED_x:
    /// the CCS, or the CWT without its tags (RFC 9528 §3.5.2).
    pub fn credential_by_value(&self) -> Option<&[u8]> {
        match self {
            IdCred::Kccs(ccs) => Some(ccs),
            IdCred::Kcwt(cwt) => Some(untagged(cwt)),
            IdCred::Kid(_) | IdCred::Other(_) => None,
        }
    }

    /// ID_CRED_x as the COSE header map that enters MAC_x and the signature (§5.3.2).
    pub(crate) fn encode_map(&self, w: &mut Writer<'_>) {
        match self {
            IdCred::Kid(kid) => {
                w.map(1);
                w.int(LABEL_KID);
                w.bytes(kid);
            }
            IdCred::Kccs(ccs) => {
                w.map(1);
                w.int(LABEL_KCCS);
                w.raw(ccs);
            }
            IdCred::Kcwt(cwt) => {
                w.map(1);
                w.int(LABEL_KCWT);
                w.raw(cwt);
            }
            IdCred::Other(map) => w.raw(map),
        }
    }

    pub(crate) fn map_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_map(&mut Writer::new(&mut out));
        out
    }

    /// ID_CRED_x as it goes into PLAINTEXT_2 or PLAINTEXT_3: a lone `kid` as its compact
    /// byte string (RFC 9528 §3.5.3), anything else as the map.
    pub(crate) fn encode_plaintext(&self, w: &mut Writer<'_>) {
        match self {
            IdCred::Kid(kid) => write_compact(w, kid),
            _ => self.encode_map(w),
        }
    }

    /// Reads `ID_CRED_x / bstr / -24..23` from a decrypted plaintext.
    pub(crate) fn decode_plaintext(r: &mut Reader<'_>) -> Result<IdCred, Error> {
        match r.peek_major() {
            Some(0..=2) => {
                let kid = read_compact(r)?;
                if kid.len() > MAX_KID_LEN {
                    return Err(Error::Peer(PeerError::Malformed("kid too long")));
                }
                Ok(IdCred::Kid(kid.to_vec()))
            }
            Some(5) => IdCred::decode_map(r, true),
            _ => Err(Error::Peer(PeerError::Malformed(
                "ID_CRED is not a map, bstr or int",
            ))),
        }
    }

    /// Reads a header map. On the wire (`strict`), a lone `kid` in a map is refused because
    /// RFC 9528 §3.5.3 makes the compact form mandatory.
    fn decode_map(r: &mut Reader<'_>, strict: bool) -> Result<IdCred, Error> {
        let start = r.rest();
        let entries = r.map()?;
        if entries == 0 || entries > MAX_ID_CRED_ENTRIES {
            return Err(Error::Peer(PeerError::Malformed("ID_CRED map size")));
        }
        let mut single = None;
        for _ in 0..entries {
            let label = match r.peek_major() {
                Some(0 | 1) => Some(r.int()?),
                _ => {
                    r.item(MAX_NESTING)?;
                    None
                }
            };
            let value = r.item(MAX_NESTING)?;
            if entries == 1 {
                single = label.map(|label| (label, value));
            }
        }
        let encoded = &start[..start.len() - r.rest().len()];
        if encoded.len() > MAX_CREDENTIAL_LEN + 16 {
            return Err(Error::Peer(PeerError::Malformed("ID_CRED too long")));
        }
        Ok(match single {
            Some((LABEL_KID, value)) => {
                let kid = Reader::new(value).bytes()?;
                if strict || kid.len() > MAX_KID_LEN {
                    return Err(Error::Peer(PeerError::Malformed("kid not in compact form")));
                }
                IdCred::Kid(kid.to_vec())
            }
            Some((LABEL_KCCS, value)) if value.first().is_some_and(|b| b >> 5 == 5) => {
                IdCred::Kccs(value.to_vec())
            }
            Some((LABEL_KCWT, value)) => IdCred::Kcwt(value.to_vec()),
            _ => IdCred::Other(encoded.to_vec()),
        })
    }
}

/// The CWT inside its optional CWT (61) and COSE_Sign1 (18) tags (RFC 8392 §6).
pub(crate) fn untagged(cwt: &[u8]) -> &[u8] {
    let mut rest = cwt;
    for tag in [61u64, 18] {
        let mut r = Reader::new(rest);
        if r.peek_major() == Some(6) && r.tag() == Ok(tag) {
            rest = r.rest();
        }
    }
    rest
}

impl fmt::Debug for IdCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |f: &mut fmt::Formatter<'_>, bytes: &[u8]| -> fmt::Result {
            for b in bytes {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        };
        match self {
            IdCred::Kid(kid) => {
                f.write_str("IdCred::Kid(h'")?;
                hex(f, kid)?;
                f.write_str("')")
            }
            IdCred::Kccs(ccs) => write!(f, "IdCred::Kccs({} bytes)", ccs.len()),
            IdCred::Kcwt(cwt) => write!(f, "IdCred::Kcwt({} bytes)", cwt.len()),
            IdCred::Other(map) => {
                f.write_str("IdCred::Other(")?;
                hex(f, map)?;
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_id(id: &ConnectionId) -> Vec<u8> {
        let mut out = Vec::new();
        id.encode(&mut Writer::new(&mut out));
        out
    }

    #[test]
    fn connection_ids_use_the_compact_form_of_rfc_9529() {
        // RFC 9529 §2: C_I h'2d' is the integer -14, C_R h'18' needs a byte string.
        let c_i = ConnectionId::new(&[0x2d]).expect("one byte");
        let c_r = ConnectionId::new(&[0x18]).expect("one byte");
        assert_eq!(encode_id(&c_i), [0x2d]);
        assert_eq!(encode_id(&c_r), [0x41, 0x18]);
        assert_eq!(ConnectionId::from_int(-24), ConnectionId::new(&[0x37]));
        assert_eq!(ConnectionId::from_int(-8), ConnectionId::new(&[0x27]));
        assert_eq!(ConnectionId::from_int(14), ConnectionId::new(&[0x0e]));
        assert_eq!(ConnectionId::from_int(24), None);
        for id in [
            c_i,
            c_r,
            ConnectionId::new(&[]).expect("empty"),
            ConnectionId::new(&[1, 2]).expect("two bytes"),
        ] {
            let wire = encode_id(&id);
            assert_eq!(ConnectionId::decode(&mut Reader::new(&wire)), Ok(id));
        }
    }

    #[test]
    fn non_compact_and_oversized_identifiers_are_refused() {
        for wire in [
            &[0x41, 0x0e][..],
            &[0x18, 0x05],
            &[0x48, 1, 2, 3, 4, 5, 6, 7, 8],
            &[0xf5],
        ] {
            assert!(
                ConnectionId::decode(&mut Reader::new(wire)).is_err(),
                "{wire:02x?}"
            );
        }
    }

    #[test]
    fn a_lone_kid_is_sent_compact_and_bound_as_a_map() {
        // RFC 9529 §3: ID_CRED_R = {4: h'32'} is sent as 0x32 and MACed as a1 04 41 32.
        let id = IdCred::kid(&[0x32]).expect("short kid");
        let mut plain = Vec::new();
        id.encode_plaintext(&mut Writer::new(&mut plain));
        assert_eq!(plain, [0x32]);
        assert_eq!(id.map_bytes(), [0xa1, 0x04, 0x41, 0x32]);
        assert_eq!(
            IdCred::decode_plaintext(&mut Reader::new(&plain)),
            Ok(id.clone())
        );
        assert!(IdCred::decode_plaintext(&mut Reader::new(&[0xa1, 0x04, 0x41, 0x32])).is_err());
        assert_eq!(IdCred::from_map(&[0xa1, 0x04, 0x41, 0x32]), Ok(id));
    }

    #[test]
    fn other_header_maps_are_kept_verbatim() {
        // RFC 9529 §2: ID_CRED_R = {34: [-15, h'79f2a41b510c1f9b']} (x5t).
        let x5t = [
            0xa1, 0x18, 0x22, 0x82, 0x2e, 0x48, 0x79, 0xf2, 0xa4, 0x1b, 0x51, 0x0c, 0x1f, 0x9b,
        ];
        let id = IdCred::decode_plaintext(&mut Reader::new(&x5t)).expect("x5t map");
        assert_eq!(id, IdCred::Other(x5t.to_vec()));
        assert_eq!(id.map_bytes(), x5t);
    }

    #[test]
    fn cwt_tags_are_stripped_for_cred_x() {
        assert_eq!(untagged(&[0xd8, 0x3d, 0xd2, 0x84, 0x40]), [0x84, 0x40]);
        assert_eq!(untagged(&[0xd2, 0x84]), [0x84]);
        assert_eq!(untagged(&[0x84]), [0x84]);
    }
}
