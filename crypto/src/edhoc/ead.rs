//! External authorization data (RFC 9528 §3.8): items an application carries inside the
//! handshake, such as Ward's enrollment proof in EAD_3.
//!
//! ```text
//! EAD_x = 1* ead
//! ead = ( ead_label : int, ? ead_value : bstr )
//! ```
//!
//! The sign of the label carries the critical flag: a registered label `l` is sent as `l`
//! when the item is non-critical and as `-l` when it is critical. Label 0 is padding
//! (§3.8.1), never critical, and dropped on receipt.

use alloc::vec::Vec;
use core::fmt;

use super::error::{Misuse, PeerError, Unsupported};
use super::{Error, MAX_EAD_ITEMS, MAX_EAD_VALUE_LEN};
use crate::cbor::{Reader, Writer};

/// The padding label (RFC 9528 §3.8.1).
const PADDING: u16 = 0;

/// One EAD item.
#[derive(Clone, PartialEq, Eq)]
pub struct EadItem {
    label: u16,
    critical: bool,
    value: Option<Vec<u8>>,
}

impl EadItem {
    /// An item with a registered (or private) `label`, critical or not, with an optional
    /// value of at most [`MAX_EAD_VALUE_LEN`] bytes. Label 0 is reserved for padding.
    pub fn new(label: u16, critical: bool, value: Option<&[u8]>) -> Result<EadItem, Error> {
        if label == PADDING || value.is_some_and(|v| v.len() > MAX_EAD_VALUE_LEN) {
            return Err(Misuse::Ead.into());
        }
        Ok(EadItem {
            label,
            critical,
            value: value.map(<[u8]>::to_vec),
        })
    }

    /// A padding item of `len` zero bytes, to hide the length of a message (§3.8.1).
    pub fn padding(len: usize) -> Result<EadItem, Error> {
        if len > MAX_EAD_VALUE_LEN {
            return Err(Misuse::Ead.into());
        }
        Ok(EadItem {
            label: PADDING,
            critical: false,
            value: Some(alloc::vec![0; len]),
        })
    }

    /// The registered label, without the sign that marks criticality.
    pub fn label(&self) -> u16 {
        self.label
    }

    /// Whether the sender marked the item critical.
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// The `ead_value`, if the item has one.
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    fn wire_label(&self) -> i64 {
        let label = i64::from(self.label);
        if self.critical { -label } else { label }
    }
}

impl fmt::Debug for EadItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EadItem")
            .field("label", &self.label)
            .field("critical", &self.critical)
            .field("value_len", &self.value.as_ref().map(Vec::len))
            .finish()
    }
}

/// Appends EAD items to a plaintext or message_1.
pub(crate) fn encode(items: &[EadItem], w: &mut Writer<'_>) -> Result<(), Error> {
    if items.len() > MAX_EAD_ITEMS {
        return Err(Misuse::Ead.into());
    }
    for item in items {
        w.int(item.wire_label());
        if let Some(value) = &item.value {
            w.bytes(value);
        }
    }
    Ok(())
}

/// Reads the EAD items that make up the rest of `r`.
///
/// RFC 9528 §3.8: a critical item whose label is not in `recognized` ends the handshake.
/// Padding is checked and dropped; non-critical items are returned whether recognized or
/// not, for the application to use or ignore.
pub(crate) fn decode(r: &mut Reader<'_>, recognized: &[u16]) -> Result<Vec<EadItem>, Error> {
    let mut items = Vec::new();
    let mut count = 0;
    while !r.is_empty() {
        count += 1;
        if count > MAX_EAD_ITEMS {
            return Err(PeerError::Malformed("too many EAD items").into());
        }
        let wire_label = r.int().map_err(PeerError::from)?;
        let value = if r.peek_major() == Some(2) {
            let value = r.bytes().map_err(PeerError::from)?;
            if value.len() > MAX_EAD_VALUE_LEN {
                return Err(PeerError::Malformed("EAD value too long").into());
            }
            Some(value)
        } else {
            None
        };
        let critical = wire_label < 0;
        let label = u16::try_from(wire_label.unsigned_abs()).ok();
        match label {
            Some(PADDING) => {}
            Some(label) if !critical || recognized.contains(&label) => items.push(EadItem {
                label,
                critical,
                value: value.map(<[u8]>::to_vec),
            }),
            // A label outside the registry's range cannot be one the application handles.
            None if !critical => {}
            _ => return Err(Unsupported::CriticalEad(wire_label).into()),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(items: &[EadItem], recognized: &[u16]) -> Result<Vec<EadItem>, Error> {
        let mut out = Vec::new();
        encode(items, &mut Writer::new(&mut out))?;
        decode(&mut Reader::new(&out), recognized)
    }

    #[test]
    fn critical_items_need_a_recognized_label() {
        let critical = EadItem::new(7, true, Some(b"proof")).expect("valid item");
        let plain = EadItem::new(9, false, None).expect("valid item");
        let both = [critical.clone(), plain.clone()];
        assert_eq!(round_trip(&both, &[7]), Ok(both.to_vec()));
        assert_eq!(
            round_trip(&both, &[]),
            Err(Error::Unsupported(Unsupported::CriticalEad(-7)))
        );
        // An unrecognized non-critical item is handed over for the application to ignore.
        assert_eq!(
            round_trip(core::slice::from_ref(&plain), &[]),
            Ok(alloc::vec![plain])
        );
    }

    #[test]
    fn padding_is_dropped_and_never_critical() {
        let padding = EadItem::padding(5).expect("short padding");
        assert_eq!(round_trip(&[padding], &[]), Ok(Vec::new()));
        assert!(EadItem::new(0, true, None).is_err());
    }

    #[test]
    fn malformed_ead_is_refused() {
        for wire in [
            &[0x40][..],
            &[0x01, 0x61, 0x41],
            &[0x01, 0x5a, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode(&mut Reader::new(wire), &[1]).is_err(), "{wire:02x?}");
        }
        let many = [0x01u8; MAX_EAD_ITEMS + 1];
        assert!(decode(&mut Reader::new(&many), &[1]).is_err());
    }
}
