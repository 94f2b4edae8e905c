//! Authentication methods (RFC 9528 §3.2) and cipher suites (§3.6), and the SUITES_I /
//! SUITES_R lists that negotiate a suite (§5.2.2, §6.3).

use core::fmt;

use super::MAX_SUITES;
use super::error::PeerError;
use crate::backend::{AEAD_KEY_LEN, Curve, HASH_LEN};
use crate::cbor::{Reader, Writer};
use crate::keys::Algorithm;

/// Who authenticates how (RFC 9528 §3.2, Table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// Method 0: the Initiator signs, the Responder signs.
    SignatureSignature,
    /// Method 1: the Initiator signs, the Responder uses a static DH key.
    SignatureStatic,
    /// Method 2: the Initiator uses a static DH key, the Responder signs.
    StaticSignature,
    /// Method 3: both use static DH keys.
    StaticStatic,
}

impl Method {
    /// Every method, in order of their values.
    pub const ALL: [Method; 4] = [
        Method::SignatureSignature,
        Method::SignatureStatic,
        Method::StaticSignature,
        Method::StaticStatic,
    ];

    /// The METHOD value on the wire.
    pub fn value(self) -> u8 {
        match self {
            Method::SignatureSignature => 0,
            Method::SignatureStatic => 1,
            Method::StaticSignature => 2,
            Method::StaticStatic => 3,
        }
    }

    /// The method with this wire value, if it is one of the four of RFC 9528.
    pub fn from_value(value: i64) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| i64::from(m.value()) == value)
    }

    /// Whether the Initiator authenticates with a signature (else with static DH).
    pub fn initiator_signs(self) -> bool {
        matches!(self, Method::SignatureSignature | Method::SignatureStatic)
    }

    /// Whether the Responder authenticates with a signature (else with static DH).
    pub fn responder_signs(self) -> bool {
        matches!(self, Method::SignatureSignature | Method::StaticSignature)
    }
}

/// A cipher suite Ward implements (RFC 9528 §3.6, §10.2).
///
/// Both use AES-CCM-16-64-128 and SHA-256 for EDHOC and for the application (OSCORE), and
/// an 8-byte MAC with static DH authentication; they differ in the curve and signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherSuite {
    /// Suite 0: X25519 and EdDSA.
    Suite0,
    /// Suite 2: P-256 and ES256, what camera secure elements implement.
    Suite2,
}

impl CipherSuite {
    /// The suite's value in the IANA registry.
    pub fn value(self) -> i32 {
        match self {
            CipherSuite::Suite0 => 0,
            CipherSuite::Suite2 => 2,
        }
    }

    /// The suite with this registry value, if Ward implements it.
    pub fn from_value(value: i64) -> Option<CipherSuite> {
        match value {
            0 => Some(CipherSuite::Suite0),
            2 => Some(CipherSuite::Suite2),
            _ => None,
        }
    }

    /// The EDHOC key exchange algorithm (ECDH curve).
    pub fn curve(self) -> Curve {
        match self {
            CipherSuite::Suite0 => Curve::X25519,
            CipherSuite::Suite2 => Curve::P256,
        }
    }

    /// The EDHOC signature algorithm.
    pub fn signature_algorithm(self) -> Algorithm {
        match self {
            CipherSuite::Suite0 => Algorithm::EdDsa,
            CipherSuite::Suite2 => Algorithm::Es256,
        }
    }

    /// The EDHOC MAC length with static DH authentication, in bytes.
    pub fn mac_length(self) -> usize {
        8
    }

    /// The application AEAD algorithm as a COSE value: 10, AES-CCM-16-64-128.
    pub fn application_aead(self) -> i64 {
        10
    }

    /// The application hash algorithm as a COSE value: -16, SHA-256.
    pub fn application_hash(self) -> i64 {
        -16
    }

    /// Key length of the application AEAD: the default OSCORE Master Secret length.
    pub fn application_key_length(self) -> usize {
        AEAD_KEY_LEN
    }

    /// Length of the EDHOC hash output.
    pub(crate) fn hash_length(self) -> usize {
        HASH_LEN
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "suite {}", self.value())
    }
}

/// A list of cipher suite values as carried in SUITES_I or SUITES_R: any registry value,
/// implemented by Ward or not, at most [`MAX_SUITES`] of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuiteList {
    values: [i32; MAX_SUITES],
    len: u8,
}

impl SuiteList {
    /// The list of `suites`, in the given order. `None` if empty or longer than
    /// [`MAX_SUITES`].
    pub fn new(suites: &[CipherSuite]) -> Option<SuiteList> {
        if suites.is_empty() || suites.len() > MAX_SUITES {
            return None;
        }
        let mut values = [0; MAX_SUITES];
        for (slot, suite) in values.iter_mut().zip(suites) {
            *slot = suite.value();
        }
        Some(SuiteList {
            values,
            len: suites.len() as u8,
        })
    }

    /// The suite values, in order.
    pub fn values(&self) -> &[i32] {
        &self.values[..usize::from(self.len)]
    }

    /// Whether the list names `suite`.
    pub fn contains(&self, suite: CipherSuite) -> bool {
        self.values().contains(&suite.value())
    }

    /// The last value: in SUITES_I, the selected suite (RFC 9528 §5.2.2).
    pub fn last(&self) -> i32 {
        // A list is never empty: both constructors refuse that.
        self.values()
            .last()
            .copied()
            .expect("a SuiteList holds at least one suite")
    }

    /// RFC 9528 §5.2.2: one suite is sent as an int, more as an array.
    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        if self.len == 1 {
            w.int(i64::from(self.values[0]));
        } else {
            w.array(usize::from(self.len));
            for value in self.values() {
                w.int(i64::from(*value));
            }
        }
    }

    /// Reads `suites = [ 2* int ] / int` (RFC 9528 §5.2.1, §6.3).
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<SuiteList, PeerError> {
        let mut values = [0; MAX_SUITES];
        let len = match r.peek_major() {
            Some(0 | 1) => {
                values[0] = suite_value(r.int()?)?;
                1
            }
            Some(4) => {
                let count = r.array()?;
                // RFC 9528 §5.2.1: an array of suites holds at least two; one is an int.
                if count < 2 {
                    return Err(PeerError::Malformed(
                        "suite array with fewer than two suites",
                    ));
                }
                if count > MAX_SUITES {
                    return Err(PeerError::Malformed("too many cipher suites"));
                }
                for slot in values.iter_mut().take(count) {
                    *slot = suite_value(r.int()?)?;
                }
                count
            }
            _ => {
                return Err(PeerError::Malformed(
                    "cipher suites are neither int nor array",
                ));
            }
        };
        Ok(SuiteList {
            values,
            len: len as u8,
        })
    }
}

fn suite_value(value: i64) -> Result<i32, PeerError> {
    // The registry spans -65536..65535 (RFC 9528 §10.2); anything else is not a suite.
    if !(-65536..=65535).contains(&value) {
        return Err(PeerError::Malformed("cipher suite value out of range"));
    }
    Ok(value as i32)
}

impl fmt::Debug for SuiteList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

impl fmt::Display for SuiteList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn one_suite_is_an_int_and_more_are_an_array() {
        let one = SuiteList::new(&[CipherSuite::Suite2]).expect("one suite");
        let two = SuiteList::new(&[CipherSuite::Suite0, CipherSuite::Suite2]).expect("two");
        for (list, wire) in [(one, &[0x02][..]), (two, &[0x82, 0x00, 0x02])] {
            let mut out = Vec::new();
            list.encode(&mut Writer::new(&mut out));
            assert_eq!(out, wire);
            assert_eq!(SuiteList::decode(&mut Reader::new(&out)), Ok(list));
        }
        assert_eq!(two.last(), 2);
    }

    #[test]
    fn suite_arrays_of_one_or_too_many_are_refused() {
        for wire in [
            &[0x81, 0x02][..],
            &[0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x80],
        ] {
            assert!(
                SuiteList::decode(&mut Reader::new(wire)).is_err(),
                "{wire:02x?}"
            );
        }
    }

    #[test]
    fn methods_say_who_signs() {
        assert!(Method::SignatureStatic.initiator_signs());
        assert!(!Method::SignatureStatic.responder_signs());
        assert!(!Method::StaticSignature.initiator_signs());
        assert!(Method::StaticSignature.responder_signs());
        assert_eq!(Method::from_value(3), Some(Method::StaticStatic));
        assert_eq!(Method::from_value(4), None);
    }
}
