//! The version that every registry command and every stored record carries, so that a node
//! reads what the previous release wrote and refuses, by name, what a later release wrote.
//!
//! ```text
//! versioned(T) = [ version, body ]     a CBOR array of two
//! version      = unsigned integer      per type, starting at 1
//! body         = the serde form of T in the layout of `version`
//! ```
//!
//! The version sits inside the value rather than in the frame around it, because commands
//! travel inside openraft's own messages and log entries, and because a record is decoded
//! by whoever reads it (a query, or the apply of a later command), not by one storage layer.
//!
//! A release writes each type at its current version. Adding a command kind, or changing the
//! layout of a body, takes a new version: the old layout stays as a frozen type beside the
//! new one, its bodies are decoded under the old number and converted. A node given a
//! version it does not know refuses the value with an error naming the type and the version,
//! instead of decoding it with the wrong layout. The hex fixtures in the tests of each module
//! pin the layout of version 1, so that an accidental change of encoding fails a test.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeTuple as _, Serializer};

/// A type stored or replicated in a versioned envelope.
///
/// The body of each version is the derived serde of a private mirror of the type, its layout
/// of that version (`#[serde(remote = "...")]` checks at compile time that the mirror has the
/// type's fields); `versioned_v1!` writes the three impls for a type that has only version 1.
pub(crate) trait Versioned: Sized {
    /// What the value is, as errors name it: "registry command".
    const WHAT: &'static str;
    /// The version this release writes.
    const CURRENT: u16;

    /// Whether this release reads bodies written at `version`.
    fn reads(version: u16) -> bool {
        version == Self::CURRENT
    }

    /// Writes the body in the layout of [`Self::CURRENT`].
    fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Reads a body written at `version`, one for which [`Self::reads`] holds.
    fn deserialize_body<'de, D: Deserializer<'de>>(
        version: u16,
        deserializer: D,
    ) -> Result<Self, D::Error>;
}

/// Writes `value` as `[version, body]`.
pub(crate) fn serialize<T: Versioned, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut envelope = serializer.serialize_tuple(2)?;
    envelope.serialize_element(&T::CURRENT)?;
    envelope.serialize_element(&Body(value))?;
    envelope.end()
}

/// Reads `[version, body]`, refusing a version this release does not read before looking at
/// the body.
pub(crate) fn deserialize<'de, T: Versioned, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_tuple(2, Envelope(PhantomData))
}

/// The error for a value of a version this release does not read.
pub(crate) fn unknown_version<E: de::Error>(what: &str, version: u16) -> E {
    E::custom(format_args!(
        "{what} of version {version} is unknown to this release"
    ))
}

struct Body<'a, T>(&'a T);

impl<T: Versioned> serde::Serialize for Body<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_body(serializer)
    }
}

struct BodySeed<T> {
    version: u16,
    of: PhantomData<T>,
}

impl<'de, T: Versioned> DeserializeSeed<'de> for BodySeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize_body(self.version, deserializer)
    }
}

struct Envelope<T>(PhantomData<T>);

impl<'de, T: Versioned> Visitor<'de> for Envelope<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a versioned {}: [version, body]", T::WHAT)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let version: u16 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        if !T::reads(version) {
            return Err(unknown_version(T::WHAT, version));
        }
        let value = seq
            .next_element_seed(BodySeed {
                version,
                of: PhantomData,
            })?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(value)
    }
}

/// Implements [`Versioned`], `Serialize` and `Deserialize` for a type that has only version 1,
/// whose layout is the mirror `$v1`: `#[derive(Serialize, Deserialize)] #[serde(remote = "..")]`.
macro_rules! versioned_v1 {
    ($ty:ty, $v1:ty, $what:literal) => {
        impl $crate::registry::versioned::Versioned for $ty {
            const WHAT: &'static str = $what;
            const CURRENT: u16 = 1;

            fn serialize_body<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                <$v1>::serialize(self, serializer)
            }

            fn deserialize_body<'de, D: ::serde::Deserializer<'de>>(
                version: u16,
                deserializer: D,
            ) -> Result<Self, D::Error> {
                match version {
                    1 => <$v1>::deserialize(deserializer),
                    other => Err($crate::registry::versioned::unknown_version($what, other)),
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::registry::versioned::serialize(self, serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $crate::registry::versioned::deserialize(deserializer)
            }
        }
    };
}

pub(crate) use versioned_v1;

#[cfg(test)]
pub(crate) mod tests {
    use serde::{Deserialize, Serialize};

    use crate::frame::{self, FrameError};

    /// `bytes` as lowercase hex, for comparing encodings with the fixtures.
    pub(crate) fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The bytes a hex fixture spells out; the fixtures are written by hand.
    pub(crate) fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => panic!("not a hex digit in a fixture: {}", b as char),
            })
            .collect();
        assert!(
            digits.len().is_multiple_of(2),
            "odd number of hex digits in a fixture"
        );
        digits
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair[1])
            .collect()
    }

    /// The CBOR of `value`, without a frame.
    pub(crate) fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).expect("encodes");
        out
    }

    /// Decodes CBOR the way a frame's payload is decoded.
    pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FrameError> {
        frame::open(&frame_payload(bytes))
    }

    /// `payload` framed the way `frame::seal` frames it, so that `frame::open` reads it.
    fn frame_payload(payload: &[u8]) -> Vec<u8> {
        use sha2::{Digest as _, Sha256};
        let checksum = Sha256::new()
            .chain_update([frame::FORMAT_V1])
            .chain_update(payload)
            .finalize();
        let mut out = vec![frame::FORMAT_V1];
        out.extend_from_slice(&checksum[..8]);
        out.extend_from_slice(payload);
        out
    }

    #[derive(Debug, PartialEq)]
    struct Sample {
        camera: String,
        count: u64,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "Sample")]
    struct SampleV1 {
        camera: String,
        count: u64,
    }

    versioned_v1!(Sample, SampleV1, "sample");

    #[test]
    fn a_versioned_value_is_an_array_of_its_version_and_body() {
        let sample = Sample {
            camera: "c".into(),
            count: 2,
        };
        // [1, {"camera": "c", "count": 2}]
        let fixture = "82 01 a2 66 63616d657261 61 63 65 636f756e74 02";
        assert_eq!(hex(&cbor(&sample)), hex(&unhex(fixture)));
        assert_eq!(decode::<Sample>(&unhex(fixture)).expect("decodes"), sample);
    }

    #[test]
    fn a_later_version_is_refused_by_name_not_misread() {
        // [2, {"camera": "c", "count": 2}]: the body would decode, the version forbids it.
        let later = unhex("82 02 a2 66 63616d657261 61 63 65 636f756e74 02");
        let Err(FrameError::Decode(message)) = decode::<Sample>(&later) else {
            panic!("a later version was read");
        };
        assert!(
            message.contains("sample of version 2 is unknown"),
            "{message}"
        );
    }

    #[test]
    fn an_unversioned_or_padded_value_is_refused() {
        // The bare body, as written before versions.
        assert!(decode::<Sample>(&unhex("a2 66 63616d657261 61 63 65 636f756e74 02")).is_err());
        // A third element after the body.
        assert!(
            decode::<Sample>(&unhex("83 01 a2 66 63616d657261 61 63 65 636f756e74 02 00")).is_err()
        );
        // A version and no body.
        assert!(decode::<Sample>(&unhex("81 01")).is_err());
    }
}
