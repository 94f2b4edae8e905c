//! Property tests: mutated messages never authenticate, and no input makes a decoder panic.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::parties::{Directory, Party, Reference, parties, run};
use crate::backend::RustCrypto;
use crate::edhoc::{
    CipherSuite, ConnectionId, ErrorMessage, IdCred, Initiator, InitiatorConfig, InitiatorWaitM2,
    Method, Responder, ResponderConfig, ResponderWaitM3,
};

/// A mutation of a message: flip bits, overwrite, insert, delete or truncate.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(message: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = message.to_vec();
    for m in mutations {
        let len = out.len().max(1);
        match *m {
            Mutation::Flip(at, bits) if !out.is_empty() => out[at % len] ^= bits,
            Mutation::Set(at, byte) if !out.is_empty() => out[at % len] = byte,
            Mutation::Insert(at, byte) => out.insert(at % (out.len() + 1), byte),
            Mutation::Delete(at) if !out.is_empty() => {
                out.remove(at % len);
            }
            Mutation::Truncate(at) => out.truncate(at % len),
            _ => {}
        }
    }
    out
}

struct Fixture {
    method: Method,
    i: Party,
    r: Party,
    messages: [Vec<u8>; 4],
}

fn fixture(method: Method, suite: CipherSuite) -> Fixture {
    let (i, r) = parties(99, method, suite, Reference::Kid);
    let messages = run(method, suite, &i, &r, [&[]; 4]).expect("run").messages;
    Fixture {
        method,
        i,
        r,
        messages,
    }
}

fn configs(f: &Fixture) -> (InitiatorConfig, ResponderConfig) {
    let suite = CipherSuite::Suite2;
    let config = InitiatorConfig::new(f.method, &[suite])
        .expect("config")
        .with_ead_labels(&[1, 2, 3, 4]);
    let r_config = ResponderConfig::new(&[f.method], &[suite])
        .expect("config")
        .with_ead_labels(&[1, 2, 3, 4]);
    (config, r_config)
}

fn id(byte: u8) -> ConnectionId {
    ConnectionId::new(&[byte]).expect("short")
}

/// The states of the fixture's handshake that wait for message_2 and message_3.
fn waiting(f: &Fixture) -> (InitiatorWaitM2<RustCrypto>, ResponderWaitM3<RustCrypto>) {
    let (config, r_config) = configs(f);
    let (wait_m2, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], id(1), &[]).expect("m1");
    let (wait_m3, _) = Responder::process_message_1(RustCrypto, &r_config, &m1)
        .and_then(|s| s.prepare_message_2(&f.r.local, &[0x22; 32], id(2), &[]))
        .expect("m2");
    (wait_m2, wait_m3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_messages_never_authenticate(
        method_3 in any::<bool>(),
        which in 0..4usize,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let method = if method_3 { Method::StaticStatic } else { Method::SignatureSignature };
        let f = fixture(method, CipherSuite::Suite2);
        let mutated = apply(&f.messages[which], &mutations);
        prop_assume!(mutated != f.messages[which]);
        let (wait_m2, wait_m3) = waiting(&f);
        let authenticated = match which {
            // message_1 is not protected, but TH_2 binds it: a Responder that accepts a
            // mutated one produces a message_2 the genuine Initiator refuses.
            0 => {
                let (_, r_config) = configs(&f);
                Responder::process_message_1(RustCrypto, &r_config, &mutated)
                    .and_then(|s| s.prepare_message_2(&f.r.local, &[0x22; 32], id(2), &[]))
                    .and_then(|(_, m2)| wait_m2.process_message_2(&m2))
                    .and_then(|s| s.resolve(&mut Directory::with(&f.r)))
                    .is_ok()
            }
            1 => wait_m2
                .process_message_2(&mutated)
                .and_then(|s| s.resolve(&mut Directory::with(&f.r)))
                .is_ok(),
            2 => wait_m3
                .process_message_3(&mutated)
                .and_then(|s| s.resolve(&mut Directory::with(&f.i)))
                .is_ok(),
            _ => {
                let (wait_m4, _) = wait_m2
                    .process_message_2(&f.messages[1])
                    .and_then(|s| s.resolve(&mut Directory::with(&f.r)))
                    .and_then(|s| s.prepare_message_3(&f.i.local, &[]))
                    .expect("genuine message_3");
                wait_m4.process_message_4(&mutated).is_ok()
            }
        };
        prop_assert!(!authenticated, "a mutated message_{} authenticated", which + 1);
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let f = fixture(Method::StaticStatic, CipherSuite::Suite2);
        let (_, r_config) = configs(&f);
        let _ = Responder::process_message_1(RustCrypto, &r_config, &bytes);
        let (wait_m2, wait_m3) = waiting(&f);
        let _ = wait_m2.process_message_2(&bytes);
        let _ = wait_m3.process_message_3(&bytes);
        let _ = ErrorMessage::decode(&bytes);
        let _ = IdCred::from_map(&bytes);
        let _ = crate::edhoc::AuthCredential::parse_ccs(&bytes);
    }
}
