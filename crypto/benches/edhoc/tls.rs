//! The TLS 1.3 handshake EDHOC is measured against: rustls with its default aws-lc-rs
//! provider, ECDSA P-256 certificates on both sides, a client certificate required, TLS 1.3
//! only.
//!
//! A private CA issues the server's and the client's certificates; each side sends its own
//! certificate alone, the CA being provisioned in advance, as a site CA would be. The server
//! issues one stateful session ticket per handshake (the server keeps the session, the ticket
//! names it: TLS's cheapest resumption in bytes), so a full handshake ends with the ticket,
//! and a resumed handshake (PSK with (EC)DHE) spends it and is given the next.
//! Two key-exchange configurations are measured: rustls's default, which offers and picks
//! X25519MLKEM768, and P-256 alone, the group EDHOC suite 2 uses.
//!
//! Bytes are counted as TLS records, without TCP and IP headers, as EDHOC's are counted
//! without CoAP and UDP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, RootCertStore, ServerConfig,
    ServerConnection,
};

/// One side's certificate and private key.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// A CA's certificate and the server and client identities it issued.
struct Pki {
    ca: CertificateDer<'static>,
    server: Identity,
    client: Identity,
}

const SERVER_NAME: &str = "node-1.site-a.ward.test";

fn pki() -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("no names");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let params = CertificateParams::new(vec![name.to_owned()]).expect("a DNS name");
        let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    };
    Pki {
        server: leaf(SERVER_NAME),
        client: leaf("camera-0042.site-a.ward.test"),
        ca: ca.der().clone(),
    }
}

/// Configurations that trust each other's certificates: a client that never resumes and its
/// server, and a client that resumes whenever it holds a ticket and its server. The two
/// servers differ only in their session caches, so full handshakes do not fill the cache the
/// resumed ones use.
struct Configs {
    server_full: Arc<ServerConfig>,
    client_full: Arc<ClientConfig>,
    server_resuming: Arc<ServerConfig>,
    client_resuming: Arc<ClientConfig>,
}

/// The configurations for `provider`'s key-exchange groups.
fn configs(pki: &Pki, provider: CryptoProvider) -> Configs {
    let provider = Arc::new(provider);
    let mut roots = RootCertStore::empty();
    roots
        .add(pki.ca.clone())
        .expect("the CA certificate parses");
    let roots = Arc::new(roots);

    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .expect("client verifier");
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server.chain.clone(), pki.server.key())
        .expect("server certificate and key");
    // With rustls's default of two tickets, each resumed handshake (which spends one) would
    // grow the 256-entry cache until it evicted tickets the client still holds.
    server.send_tls13_tickets = 1;
    let mut server_resuming = server.clone();
    server_resuming.session_storage = ServerSessionMemoryCache::new(256);
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_client_auth_cert(pki.client.chain.clone(), pki.client.key())
        .expect("client certificate and key");
    let mut client_full = client.clone();
    client_full.resumption = Resumption::disabled();
    Configs {
        server_full: Arc::new(server),
        client_full: Arc::new(client_full),
        server_resuming: Arc::new(server_resuming),
        client_resuming: Arc::new(client),
    }
}

/// What one handshake cost: bytes each way and the time spent in the server's calls.
#[derive(Default)]
struct Handshake {
    client_to_server: usize,
    server_to_client: usize,
    server_time: Duration,
}

/// Hands `bytes` to `conn` and processes them.
fn receive<D>(conn: &mut ConnectionCommon<D>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        conn.read_tls(&mut bytes).expect("reading from memory");
    }
    conn.process_new_packets()
        .expect("the peer's flight is valid");
}

/// Everything `conn` has to send.
fn flight<D>(conn: &mut ConnectionCommon<D>, out: &mut Vec<u8>) {
    out.clear();
    while conn.wants_write() {
        conn.write_tls(out).expect("writing to memory");
    }
}

/// One handshake between fresh connections, run until neither side has anything left to
/// send (the server's session tickets included): full, or resumed with a ticket the
/// resuming client holds from an earlier handshake. Checks that it was of `kind` and that
/// the server authenticated the client.
fn handshake(configs: &Configs, kind: HandshakeKind) -> Handshake {
    let name = ServerName::try_from(SERVER_NAME).expect("a DNS name");
    let (server_config, client_config) = match kind {
        HandshakeKind::Resumed => (&configs.server_resuming, &configs.client_resuming),
        _ => (&configs.server_full, &configs.client_full),
    };
    let mut client = ClientConnection::new(client_config.clone(), name).expect("client");
    let mut cost = Handshake::default();
    let start = Instant::now();
    let mut server = ServerConnection::new(server_config.clone()).expect("server");
    cost.server_time += start.elapsed();

    let mut bytes = Vec::new();
    loop {
        flight(&mut client, &mut bytes);
        let client_sent = !bytes.is_empty();
        cost.client_to_server += bytes.len();
        let start = Instant::now();
        if client_sent {
            receive(&mut server, &bytes);
        }
        flight(&mut server, &mut bytes);
        cost.server_time += start.elapsed();
        cost.server_to_client += bytes.len();
        if !bytes.is_empty() {
            receive(&mut client, &bytes);
        } else if !client_sent {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    assert_eq!(server.handshake_kind(), Some(kind));
    assert!(
        server.peer_certificates().is_some(),
        "the server authenticated the client"
    );
    cost
}

/// Gives the resuming client its first tickets, with a full handshake.
fn prime_resumption(configs: &Configs) {
    let resuming = Configs {
        server_full: configs.server_resuming.clone(),
        client_full: configs.client_resuming.clone(),
        server_resuming: configs.server_resuming.clone(),
        client_resuming: configs.client_resuming.clone(),
    };
    handshake(&resuming, HandshakeKind::Full);
}

/// The key-exchange configurations measured, by name.
fn providers() -> [(&'static str, CryptoProvider); 2] {
    let default = aws_lc_rs::default_provider();
    let p256 = CryptoProvider {
        kx_groups: vec![aws_lc_rs::kx_group::SECP256R1],
        ..aws_lc_rs::default_provider()
    };
    [("x25519mlkem768", default), ("p256", p256)]
}

pub fn print_sizes() {
    let pki = pki();
    println!("TLS 1.3 mTLS handshake bytes (records, ECDSA P-256 certificates, leaf only):");
    println!("| key exchange | handshake | client to server | server to client | total |");
    for (name, provider) in providers() {
        let configs = configs(&pki, provider);
        prime_resumption(&configs);
        for (kind_name, kind) in [
            ("full", HandshakeKind::Full),
            ("resumed", HandshakeKind::Resumed),
        ] {
            let cost = handshake(&configs, kind);
            println!(
                "| {name} | {kind_name} | {} | {} | {} |",
                cost.client_to_server,
                cost.server_to_client,
                cost.client_to_server + cost.server_to_client
            );
        }
    }
}

pub fn handshakes(c: &mut Criterion) {
    let pki = pki();
    let mut group = c.benchmark_group("tls13_mtls_server");
    for (name, provider) in providers() {
        let configs = configs(&pki, provider);
        prime_resumption(&configs);
        group.bench_function(format!("full/{name}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| handshake(&configs, HandshakeKind::Full).server_time)
                    .sum()
            })
        });
        group.bench_function(format!("resumed/{name}"), |b| {
            b.iter_custom(|iters| {
                // Every resumed handshake leaves the client fresh tickets for the next one.
                (0..iters)
                    .map(|_| handshake(&configs, HandshakeKind::Resumed).server_time)
                    .sum()
            })
        });
    }
    group.finish();
}
