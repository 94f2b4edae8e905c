//! Fuzz target `mesh_sync`: the anti-entropy messages, decoded as libp2p-request-response's
//! CBOR codec decodes them, and the two splitters of `ward_node::mesh::sync`.
//!
//! The whole input is read as a `SyncRequest` and as a `SyncResponse`: a decoded message
//! must encode back to an equal one, and what it carries goes through the readers the node
//! applies to it (`split_ids` with the node's bounds, `Credential::decode`,
//! `Revocation::decode`) without panicking. `split_ids`, with a bound taken from the first
//! input byte, must refuse exactly the lengths that are not a multiple of 32 and otherwise
//! return the first ids of the input, no more than the bound. `decode_gossip_revocation` must
//! split off the first 8 bytes as a big-endian stamp exactly when there are 8.

#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use ward_crypto::{Credential, Revocation};
use ward_node::mesh::sync::{
    MAX_FETCH, MAX_INVENTORY, MAX_SITE_CAS, SyncRequest, SyncResponse, decode_gossip_revocation,
    split_ids,
};

fuzz_target!(|data: &[u8]| {
    if let Some(request) = decode_and_reencode::<SyncRequest>(data) {
        if let SyncRequest::Fetch { ids } = &request {
            check_split(ids, MAX_FETCH);
        }
    }
    if let Some(response) = decode_and_reencode::<SyncResponse>(data) {
        match &response {
            SyncResponse::InSync => {}
            SyncResponse::Inventory { ids, site_cas, .. } => {
                check_split(ids, MAX_INVENTORY);
                for site_ca in site_cas.iter().take(MAX_SITE_CAS) {
                    let _ = Credential::decode(site_ca);
                }
            }
            SyncResponse::Revocations(revocations) => {
                for revocation in revocations.iter().take(MAX_FETCH) {
                    let _ = Revocation::decode(revocation);
                }
            }
        }
    }

    let max = data.first().map_or(0, |&byte| usize::from(byte % 8));
    check_split(data, max);
    check_split(data, usize::MAX);
    check_gossip_revocation(data);
});

/// Decodes `data` as the codec does; a decoded value must encode to bytes that decode to an
/// equal value, and encoding that value again must give the same bytes.
fn decode_and_reencode<T>(data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value: T = cbor4ii::serde::from_slice(data).ok()?;
    let bytes = cbor4ii::serde::to_vec(Vec::new(), &value).expect("encoding into a Vec");
    let again: T = cbor4ii::serde::from_slice(&bytes)
        .unwrap_or_else(|err| panic!("{value:?} encodes to bytes that do not decode: {err:?}"));
    assert_eq!(again, value);
    let twice = cbor4ii::serde::to_vec(Vec::new(), &again).expect("encoding into a Vec");
    assert_eq!(twice, bytes, "encoding is not deterministic");
    Some(value)
}

fn check_split(bytes: &[u8], max: usize) {
    match split_ids(bytes, max) {
        None => assert_ne!(bytes.len() % 32, 0, "{} bytes refused", bytes.len()),
        Some(ids) => {
            assert_eq!(bytes.len() % 32, 0, "{} bytes split", bytes.len());
            assert_eq!(ids.len(), (bytes.len() / 32).min(max));
            assert_eq!(ids.concat(), bytes[..32 * ids.len()]);
        }
    }
}

fn check_gossip_revocation(data: &[u8]) {
    match decode_gossip_revocation(data) {
        None => assert!(data.len() < 8, "{} bytes refused", data.len()),
        Some((stamp, rest)) => {
            let (head, tail) = data.split_at(8);
            let head: [u8; 8] = head.try_into().expect("8 bytes");
            assert_eq!(stamp, u64::from_be_bytes(head));
            assert_eq!(rest, tail);
        }
    }
}
