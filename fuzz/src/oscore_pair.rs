//! A fixed OSCORE security context shared by a camera (client) and a node (server), and the
//! genuine protected requests the camera sends, for the `oscore_verify` target and its seeds.
//!
//! The client protects a few requests with Partial IVs 0, 1, 2, ...; protection is
//! deterministic, so the same bytes come out on every run and the target can tell a genuine
//! request from a forged one. Nothing here protects anything.

use std::sync::OnceLock;

use ward_crypto::backend::RustCrypto;
use ward_crypto::coap::{Code, Limits, Message, MessageType, Token};
use ward_crypto::oscore::{ContextConfig, ContextParams, SecurityContext};

const MASTER_SECRET: [u8; 16] = [0x5a; 16];
const MASTER_SALT: [u8; 8] = [0x11; 8];
const CLIENT_ID: [u8; 1] = [0x2b];
const SERVER_ID: [u8; 1] = [0x07];
/// The Echo value the restored server issues in its challenge.
pub const ECHO: [u8; 8] = [0xe7; 8];
/// The Sender Sequence Number a restored server starts from.
pub const RESTORED_SEQUENCE_NUMBER: u64 = 1 << 20;

fn params<'a>(sender: &'a [u8], recipient: &'a [u8]) -> ContextParams<'a> {
    ContextParams {
        master_secret: &MASTER_SECRET,
        master_salt: &MASTER_SALT,
        id_context: None,
        sender_id: sender,
        recipient_id: recipient,
    }
}

/// The node's context, freshly derived: it trusts its (empty) replay window.
pub fn server() -> SecurityContext {
    SecurityContext::derive(
        &RustCrypto,
        &params(&SERVER_ID, &CLIENT_ID),
        ContextConfig::default(),
    )
    .expect("the fixed parameters derive a context")
}

/// The node's context restored from storage: it must see an Echo before it processes
/// anything.
pub fn restored_server() -> SecurityContext {
    SecurityContext::restore(
        &RustCrypto,
        &params(&SERVER_ID, &CLIENT_ID),
        ContextConfig::default(),
        RESTORED_SEQUENCE_NUMBER,
    )
    .expect("the fixed parameters derive a context")
}

fn client() -> SecurityContext {
    SecurityContext::derive(
        &RustCrypto,
        &params(&CLIENT_ID, &SERVER_ID),
        ContextConfig::default(),
    )
    .expect("the fixed parameters derive a context")
}

/// A genuine request: the plain request and its protected form as sent on the wire.
#[derive(Debug)]
pub struct GenuineRequest {
    /// The request before protection.
    pub plain: Message,
    /// The protected request, encoded with the default [`Limits`].
    pub wire: Vec<u8>,
}

/// The plain requests the camera sends, in order: the `n`-th gets Partial IV `n`.
fn plain_requests() -> Vec<Message> {
    let request = |message_id: u16, code: Code, path: &str, body: &[u8], echo: bool| {
        let token = Token::new(&message_id.to_be_bytes()).expect("a two-byte token");
        let mut request = Message::new(MessageType::Confirmable, code, message_id, token);
        request.set_uri_host("node.site");
        request.set_uri_path(path);
        if !body.is_empty() {
            request.set_content_format(60);
        }
        request.payload = body.to_vec();
        if echo {
            request.set_echo(&ECHO).expect("8 bytes is a valid Echo");
        }
        request
    };
    vec![
        request(1, Code::PUT, "/cameras/7/state", b"on", false),
        request(2, Code::GET, "/cameras/7/config", b"", false),
        request(3, Code::POST, "/streams/7", &[0xa1, 0x01, 0x02], false),
        // The answer to the restored server's challenge.
        request(4, Code::PUT, "/cameras/7/state", b"on", true),
    ]
}

/// The genuine protected requests, Partial IVs 0 to 3.
pub fn genuine_requests() -> &'static [GenuineRequest] {
    static REQUESTS: OnceLock<Vec<GenuineRequest>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        let mut client = client();
        plain_requests()
            .into_iter()
            .map(|plain| {
                let (protected, _) = client
                    .protect_request(&RustCrypto, &plain)
                    .expect("the fixed requests can be protected");
                let wire = protected
                    .encode(&Limits::default())
                    .expect("the fixed requests fit the default limits");
                GenuineRequest { plain, wire }
            })
            .collect()
    })
}
