//! Which options OSCORE encrypts and which it leaves for proxies (RFC 8613 §4.1).
//!
//! Class E options travel inside the ciphertext, Class U options outside; no Class I option is
//! defined (§4.1.2). Options unknown to OSCORE are Class E (§4.1). A few options have both an
//! Inner and an Outer instance: those of the original message are Inner, and the Outer one is
//! what proxies act on (Max-Age, Block1/2, Size1/2, No-Response); Observe is written to both
//! (§4.1.3.5).

use alloc::vec::Vec;

use super::error::OscoreError;
use crate::coap::{CoapOption, OptionNumber};

/// Whether a message is a request or a response, which changes how Observe is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

/// Options that only exist as Outer (Class U only in Figure 5, plus RFC 9668's EDHOC option):
/// the receiver keeps these from the outer message, and discards every other outer option
/// (§8.2 step 1, §8.4 step 1).
pub(crate) fn is_outer_only(number: OptionNumber) -> bool {
    matches!(
        number,
        OptionNumber::URI_HOST
            | OptionNumber::URI_PORT
            | OptionNumber::PROXY_URI
            | OptionNumber::PROXY_SCHEME
            | OptionNumber::EDHOC
    )
}

/// The options of an original message, sorted into Inner and Outer (§4.1.1, §4.1.2).
#[derive(Debug, Default)]
pub(crate) struct Split {
    pub(crate) inner: Vec<CoapOption>,
    pub(crate) outer: Vec<CoapOption>,
}

/// Sorts the options of an original message into Inner and Outer.
pub(crate) fn split(options: &[CoapOption], direction: Direction) -> Result<Split, OscoreError> {
    let mut split = Split::default();
    let has_proxy_uri = options.iter().any(|o| o.number == OptionNumber::PROXY_URI);
    for option in options {
        match option.number {
            // §4.1.3.7: nested OSCORE is not supported.
            OptionNumber::OSCORE => return Err(OscoreError::Nested),
            // §4.1.3.3: the client decomposes Proxy-Uri, encrypts its path and query, and
            // sends only scheme and authority outside.
            OptionNumber::PROXY_URI => decompose_proxy_uri(&option.value, &mut split)?,
            number if has_proxy_uri && is_uri_component(number) => {
                // RFC 7252 §5.10.2: Proxy-Uri MUST NOT be combined with Uri-* options.
                return Err(OscoreError::Unprotectable("Proxy-Uri with Uri-* options"));
            }
            number if is_outer_only(number) => split.outer.push(option.clone()),
            OptionNumber::OBSERVE => {
                // §4.1.3.5.1: a request carries the same value Inner and Outer; §4.1.3.5.2: a
                // notification's Inner Observe is empty, its Outer one carries the value.
                split.outer.push(option.clone());
                let inner = match direction {
                    Direction::Request => option.value.clone(),
                    Direction::Response => Vec::new(),
                };
                split.inner.push(CoapOption {
                    number: OptionNumber::OBSERVE,
                    value: inner,
                });
            }
            _ => split.inner.push(option.clone()),
        }
    }
    split.inner.sort_by_key(|o| o.number);
    split.outer.sort_by_key(|o| o.number);
    Ok(split)
}

fn is_uri_component(number: OptionNumber) -> bool {
    matches!(
        number,
        OptionNumber::URI_HOST
            | OptionNumber::URI_PORT
            | OptionNumber::URI_PATH
            | OptionNumber::URI_QUERY
            | OptionNumber::PROXY_SCHEME
    )
}

/// Decodes `%XX` escapes (RFC 3986 §2.1), as RFC 7252 §6.4 steps 8 and 9 require.
fn percent_decode(text: &[u8]) -> Result<Vec<u8>, OscoreError> {
    let bad = OscoreError::Unprotectable("bad percent-encoding in Proxy-Uri");
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte != b'%' {
            out.push(byte);
            rest = tail;
            continue;
        }
        let (hex, tail) = tail.split_at_checked(2).ok_or(bad)?;
        let digit = |c: u8| (c as char).to_digit(16).ok_or(bad);
        out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
        rest = tail;
    }
    Ok(out)
}

/// Splits a Proxy-Uri (§4.1.3.3, after RFC 7252 §6.4): `scheme://authority` stays Outer as
/// the new Proxy-Uri, each path segment becomes an Inner Uri-Path and each query argument an
/// Inner Uri-Query.
fn decompose_proxy_uri(uri: &[u8], split: &mut Split) -> Result<(), OscoreError> {
    let bad = OscoreError::Unprotectable("Proxy-Uri is not an absolute URI");
    // RFC 7252 §6.4 step 2: a fragment component fails the decomposition.
    if uri.contains(&b'#') {
        return Err(bad);
    }
    let scheme_end = uri.windows(3).position(|w| w == b"://").ok_or(bad)?;
    let (scheme, rest) = (&uri[..scheme_end], &uri[scheme_end + 3..]);
    if scheme.is_empty() || !scheme[0].is_ascii_alphabetic() {
        return Err(bad);
    }
    let authority_end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    // Userinfo has no CoAP option to go to (§4.1.3.3).
    if authority.is_empty() || authority.contains(&b'@') {
        return Err(bad);
    }
    let (path, query) = match rest.iter().position(|&b| b == b'?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };

    let mut outer = uri[..scheme_end + 3 + authority_end].to_vec();
    outer.make_ascii_lowercase();
    split.outer.push(CoapOption {
        number: OptionNumber::PROXY_URI,
        value: outer,
    });
    // RFC 7252 §6.4 step 8: no Uri-Path for an empty path or "/".
    if !path.is_empty() && path != b"/" {
        for segment in path[1..].split(|&b| b == b'/') {
            split.inner.push(CoapOption {
                number: OptionNumber::URI_PATH,
                value: percent_decode(segment)?,
            });
        }
    }
    if let Some(query) = query {
        for argument in query.split(|&b| b == b'&') {
            split.inner.push(CoapOption {
                number: OptionNumber::URI_QUERY,
                value: percent_decode(argument)?,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(number: OptionNumber, value: &[u8]) -> CoapOption {
        CoapOption {
            number,
            value: value.to_vec(),
        }
    }

    #[test]
    fn uri_host_is_outer_and_uri_path_inner() {
        let options = [
            opt(OptionNumber::URI_HOST, b"localhost"),
            opt(OptionNumber::URI_PATH, b"tv1"),
            opt(OptionNumber::ECHO, b"\x01"),
            opt(OptionNumber(65000), b"unknown"),
        ];
        let split = split(&options, Direction::Request).expect("splits");
        assert_eq!(split.outer, [options[0].clone()]);
        assert_eq!(split.inner, options[1..].to_vec());
    }

    #[test]
    fn observe_is_both_and_empty_inside_a_notification() {
        let options = [opt(OptionNumber::OBSERVE, &[0x07])];
        let request = split(&options, Direction::Request).expect("splits");
        assert_eq!(
            (request.inner.clone(), request.outer),
            (options.to_vec(), options.to_vec())
        );
        let response = split(&options, Direction::Response).expect("splits");
        assert_eq!(response.inner, [opt(OptionNumber::OBSERVE, &[])]);
        assert_eq!(response.outer, options.to_vec());
    }

    #[test]
    fn nested_oscore_is_refused() {
        let options = [opt(OptionNumber::OSCORE, &[])];
        assert_eq!(
            split(&options, Direction::Request).err(),
            Some(OscoreError::Nested)
        );
    }

    /// RFC 8613 §4.1.3.3: the example decomposition of a Proxy-Uri.
    #[test]
    fn proxy_uri_is_decomposed_as_in_section_4_1_3_3() {
        let options = [opt(
            OptionNumber::PROXY_URI,
            b"coap://example.com/resource?q=1",
        )];
        let split = split(&options, Direction::Request).expect("splits");
        assert_eq!(
            split.outer,
            [opt(OptionNumber::PROXY_URI, b"coap://example.com")]
        );
        assert_eq!(
            split.inner,
            [
                opt(OptionNumber::URI_PATH, b"resource"),
                opt(OptionNumber::URI_QUERY, b"q=1")
            ]
        );
    }

    #[test]
    fn proxy_uri_edge_cases() {
        let one = |uri: &[u8]| split(&[opt(OptionNumber::PROXY_URI, uri)], Direction::Request);
        let root = one(b"coap://[::1]:5683/").expect("root path");
        assert!(root.inner.is_empty());
        let escaped = one(b"coap://h/a%2Fb/?x=%41&y").expect("escapes");
        assert_eq!(
            escaped.inner,
            [
                opt(OptionNumber::URI_PATH, b"a/b"),
                opt(OptionNumber::URI_PATH, b""),
                opt(OptionNumber::URI_QUERY, b"x=A"),
                opt(OptionNumber::URI_QUERY, b"y"),
            ]
        );
        for bad in [
            &b"coap://h/#f"[..],
            b"/relative",
            b"coap://",
            b"coap://u@h/",
            b"coap://h/%4",
        ] {
            assert!(
                one(bad).is_err(),
                "{}",
                core::str::from_utf8(bad).unwrap_or("?")
            );
        }
        let mixed = [
            opt(OptionNumber::URI_PATH, b"x"),
            opt(OptionNumber::PROXY_URI, b"coap://h/"),
        ];
        assert!(split(&mixed, Direction::Request).is_err());
    }
}
