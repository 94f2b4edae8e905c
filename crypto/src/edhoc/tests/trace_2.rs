//! RFC 9529 §3: method 3 (static DH both ways), suite 2 (P-256), CCS credentials referenced
//! by `kid`, with a first message_1 refused by cipher suite negotiation.

use super::{hex, hex32};
use crate::backend::{Backend as _, Curve, RustCrypto, Secret};
use crate::edhoc::key_schedule as ks;
use crate::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, Error, ErrorMessage, IdCred, Initiator,
    InitiatorConfig, LocalCredential, Method, Responder, ResponderConfig, SuiteList,
};

// The first message_1, offering only suite 6 (§3.1).
const X_FIRST: &str = "5c4172aca8b82b5a62e66f722216f5a10f72aa69f42c1d1cd3ccd7bfd29ca4e9";
const MESSAGE_1_FIRST: &str =
    "0306 5820 741a13d7ba048fbb615e94386aa3b61bea5b3d8f65f32620b749bee8d278efa9 0e";
const ERROR: &str = "0202";

// message_1, second time (§3.3).
const X: &str = "368ec1f69aeb659ba37d5a8d45b21bdc0299dceaa8ef235f3ca42ce3530f9525";
const G_X: &str = "8af6f430ebe18d34184017a9a11bf511c8dff8f834730b96c1b7c8dbca2fc3b6";
const MESSAGE_1: &str =
    "03 820602 5820 8af6f430ebe18d34184017a9a11bf511c8dff8f834730b96c1b7c8dbca2fc3b6 37";

// message_2 (§3.4).
const Y: &str = "e2f4126777205e853b437d6eaca1e1f753cdcc3e2c69fa884b0a1a640977e418";
const G_Y: &str = "419701d7f00a26c2dc587a36dd752549f33763c893422c8ea0f955a13a4ff5d5";
const H_MESSAGE_1: &str = "ca02cabda5a8902749b42f711050bb4dbd52153e87527594b39f50cdf019888c";
const TH_2: &str = "356efd53771425e008f3fe3a86c83ff4c6b16e57028ff39d5236c182b202084b";
const G_XY: &str = "2f0cb7e860ba538fbf5c8bded009f6259b4b628fe1eb7dbe9378e5ecf7a824ba";
const PRK_2E: &str = "5aa0d69f3e3d1e0c479f0b8a486690c9802630c3466b1dc92371c982563170b5";
const SK_R: &str = "72cc4761dbd4c78f758931aa589d348d1ef874a7e303ede2f140dcf3e6aa4aac";
const SALT_3E2M: &str = "af4e103a47cb3cf32570d5c25ad27732bd8d8178e9a69d061c31a27f8e3ca926";
const G_RX: &str = "f2b6eea02220b95eee5a0bc701f074e00a843ea02422f60825fb269b3e161423";
const PRK_3E2M: &str = "0ca3d3398296b3c03900987620c11f6fce70781c1d1219720f9ec08c122d8434";
const ID_CRED_R: &str = "a1044132";
const CRED_R: &str = "a2026b6578616d706c652e65647508a101a501020241322001215820bbc34960526ea4d3\
                      2e940cad2a234148ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0c\
                      e2023f0931f1f386ca7afda64fcde0108c224c51eabf6072";
const MAC_2: &str = "0943305c899f5c54";
const PLAINTEXT_2: &str = "27 32 48 0943305c899f5c54";
const KEYSTREAM_2: &str = "bf50e9e7bad0bb68173399";
const MESSAGE_2: &str = "582b 419701d7f00a26c2dc587a36dd752549f33763c893422c8ea0f955a13a4ff5d5 \
                         9862a1eef9e0e7e1886fcd";

// message_3 (§3.5).
const SK_I: &str = "fb13adeb6518cee5f88417660841142e830a81fe334380a953406a1305e8706b";
const TH_3: &str = "adaf67a78a4bcc91e018f8882762a722000b2507039df0bc1bbf0c161bb3155c";
const G_I: &str = "ac75e9ece3e50bfc8ed60399889522405c47bf16df96660a41298cb4307f7eb6";
const SALT_4E3M: &str = "cfddf9515a7e46e7b4dbff31cbd56cd04ba332250de9ea5de1caf9f6d13914a7";
const G_IY: &str = "080f425085bc6249089eac8f108ea62326857e12ab07d72028ca1b5f36e004b3";
const PRK_4E3M: &str = "81cc8a298e357044e3c466bb5c0a1e507e01d49238aeba138df94635407c0ff7";
const ID_CRED_I: &str = "a104412b";
const CRED_I: &str = "a2027734322d35302d33312d46462d45462d33372d33322d333908a101a501020241\
                      2b2001215820ac75e9ece3e50bfc8ed60399889522405c47bf16df96660a41298cb4\
                      307f7eb62258206e5de611388a4b8a8211334ac7d37ecb52a387d257e6db3c2a93df\
                      21ff3affc8";
const MAC_3: &str = "623c91df41e34c2f";
const PLAINTEXT_3: &str = "2b 48 623c91df41e34c2f";
const K_3: &str = "8e7a30042000f7900e8174131f75f3ed";
const IV_3: &str = "6d8300c1e23b56153ae70ee457";
const MESSAGE_3: &str = "52 e562097bc417dd5919485ac7891ffd90a9fc";
const TH_4: &str = "c902b1e3a4326c93c5551f5f3aa6c5ecc0246806765612e52b5d99e6059d6b6e";

// message_4, PRK_out, exporter, OSCORE and key update (§3.6 to §3.9).
const K_4: &str = "d3c77872b6eeb508911bdbd308b2e6a0";
const IV_4: &str = "04ff0f44456e96e217853c3601";
const MESSAGE_4: &str = "48 28c966b7ca304f83";
const PRK_OUT: &str = "2c71afc1a9338a940bb3529ca734b886f30d1aba0b4dc51beeaeabdfea9ecbf8";
const PRK_EXPORTER: &str = "e14d06699cee248c5a04bf9227bbcd4ce394de7dcb56db43555474171e6446db";
const OSCORE_SECRET: &str = "f9868f6a3aca78a05d1485b35030b162";
const OSCORE_SALT: &str = "ada24c7dbfc85eeb";
const KEY_UPDATE_CONTEXT: &str = "a01158fdb820890cd6be169602b8bcea";
const PRK_OUT_UPDATED: &str = "f979537743fe0bd6b9b141ddbd79656c52e6dc7c50ad807754d74d07e87d0d16";
const PRK_EXPORTER_UPDATED: &str =
    "00fcf7db9b2ead73824e7e830363c805c296f902830fac23d86c359c752f0f17";
const OSCORE_SECRET_UPDATED: &str = "49f72fac02b4658bda21e2dac66fc374";
const OSCORE_SALT_UPDATED: &str = "dd8b24f2aa9b011a";

fn c_i() -> ConnectionId {
    ConnectionId::from_int(-24).expect("in range")
}

fn c_r() -> ConnectionId {
    ConnectionId::from_int(-8).expect("in range")
}

fn responder_credential() -> LocalCredential<RustCrypto> {
    let cred = AuthCredential::parse_ccs(&hex(CRED_R)).expect("CRED_R");
    let id_cred = IdCred::kid(cred.kid().expect("kid in CRED_R")).expect("short kid");
    LocalCredential::static_dh(&RustCrypto, cred, id_cred, Curve::P256, &hex32(SK_R))
        .expect("SK_R matches CRED_R")
}

fn initiator_credential() -> LocalCredential<RustCrypto> {
    let cred = AuthCredential::parse_ccs(&hex(CRED_I)).expect("CRED_I");
    let id_cred = IdCred::kid(&[0x2b]).expect("short kid");
    LocalCredential::static_dh(&RustCrypto, cred, id_cred, Curve::P256, &hex32(SK_I))
        .expect("SK_I matches CRED_I")
}

fn responder_config() -> ResponderConfig {
    ResponderConfig::new(&[Method::StaticStatic], &[CipherSuite::Suite2]).expect("config")
}

/// SUITES_I of the trace: suite 6 preferred, suite 2 selected.
fn suites_6_2() -> SuiteList {
    SuiteList::decode(&mut crate::cbor::Reader::new(&[0x82, 0x06, 0x02])).expect("[6, 2]")
}

#[test]
fn rfc_9529_trace_2_first_message_1_is_refused_with_suites_r() {
    // The Initiator offers only suite 6; RustCrypto has no suite 6 curve, so the key is the
    // P-256 one the trace uses.
    let suites_6 = SuiteList::decode(&mut crate::cbor::Reader::new(&[0x06])).expect("[6]");
    let params = (Method::StaticStatic, CipherSuite::Suite2, suites_6);
    let c_i_first = ConnectionId::from_int(14).expect("in range");
    let (wait_m2, message_1) =
        Initiator::start_offering(RustCrypto, params, &[], &hex32(X_FIRST), c_i_first, &[])
            .expect("message_1");
    assert_eq!(message_1, hex(MESSAGE_1_FIRST));

    // RFC 9528 §5.2.3, §6.3: the Responder supports only suite 2 and says so.
    let err = Responder::process_message_1(RustCrypto, &responder_config(), &message_1)
        .expect_err("suite 6 is not supported");
    let error = err.to_error_message().expect("an error to send").encode();
    assert_eq!(error, hex(ERROR));

    // The Initiator reads SUITES_R and selects suite 2 next time.
    let aborted = wait_m2
        .process_message_2(&error)
        .expect_err("an error message");
    let Error::Aborted(ErrorMessage::WrongSelectedSuite(suites_r)) = aborted else {
        panic!("unexpected {aborted:?}");
    };
    let mut config =
        InitiatorConfig::new(Method::StaticStatic, &[CipherSuite::Suite2]).expect("config");
    assert_eq!(
        config.select_after_error(&suites_r),
        Ok(CipherSuite::Suite2)
    );
}

#[test]
fn rfc_9529_trace_2_static_dh_with_kid_references_byte_for_byte() {
    let b = RustCrypto;

    // message_1, with X injected.
    let params = (Method::StaticStatic, CipherSuite::Suite2, suites_6_2());
    let (wait_m2, message_1) =
        Initiator::start_offering(b, params, &[], &hex32(X), c_i(), &[]).expect("message_1");
    assert_eq!(message_1, hex(MESSAGE_1));
    let x = b.agreement_key(Curve::P256, &hex32(X)).expect("X");
    assert_eq!(b.agreement_public(&x), hex32(G_X));
    assert_eq!(b.sha256(&[&message_1]), hex32(H_MESSAGE_1));

    // message_2, with Y injected.
    let ready_m2 = Responder::process_message_1(b, &responder_config(), &message_1)
        .expect("suite 2 is selected and 6 is not supported");
    assert_eq!(ready_m2.c_i(), c_i());
    let (wait_m3, message_2) = ready_m2
        .prepare_message_2(&responder_credential(), &hex32(Y), c_r(), &[])
        .expect("message_2");
    assert_eq!(message_2, hex(MESSAGE_2));
    assert_eq!(wait_m3.th_3, hex32(TH_3));
    assert_eq!(wait_m3.prk_3e2m.expose(), &hex32(PRK_3E2M));

    // The intermediate values of message_2, one by one.
    let y = b.agreement_key(Curve::P256, &hex32(Y)).expect("Y");
    assert_eq!(b.agreement_public(&y), hex32(G_Y));
    let th_2 = ks::th_2(&b, &hex32(G_Y), &hex32(H_MESSAGE_1));
    assert_eq!(th_2, hex32(TH_2));
    let g_xy = b.agree(&y, &hex32(G_X)).expect("G_XY");
    assert_eq!(g_xy.expose(), &hex32(G_XY));
    let prk_2e = ks::prk_2e(&b, &th_2, &g_xy);
    assert_eq!(prk_2e.expose(), &hex32(PRK_2E));
    let salt_3e2m = ks::kdf_secret(&b, &prk_2e, ks::LABEL_SALT_3E2M, &th_2).expect("salt");
    assert_eq!(salt_3e2m.expose(), &hex32(SALT_3E2M));
    let r = b.agreement_key(Curve::P256, &hex32(SK_R)).expect("R");
    let g_rx = b.agree(&r, &hex32(G_X)).expect("G_RX");
    assert_eq!(g_rx.expose(), &hex32(G_RX));
    let prk_3e2m = ks::prk_3e2m(&b, &prk_2e, &th_2, &g_rx).expect("PRK_3e2m");
    assert_eq!(prk_3e2m.expose(), &hex32(PRK_3E2M));
    let context_2 = ks::mac_context(Some(&c_r()), &hex(ID_CRED_R), &th_2, &hex(CRED_R), &[]);
    let mac_2 = ks::mac(&b, &prk_3e2m, ks::LABEL_MAC_2, &context_2, 8).expect("MAC_2");
    assert_eq!(*mac_2, hex(MAC_2));
    let keystream_2 = ks::keystream_2(&b, &prk_2e, &th_2, 11).expect("KEYSTREAM_2");
    assert_eq!(*keystream_2, hex(KEYSTREAM_2));

    // The Initiator decrypts message_2 and asks for the credential of kid h'32'.
    let wait_cred_r = wait_m2
        .process_message_2(&message_2)
        .expect("message_2 reads");
    assert_eq!(wait_cred_r.th_2, hex32(TH_2));
    assert_eq!(wait_cred_r.prk_2e.expose(), &hex32(PRK_2E));
    assert_eq!(wait_cred_r.plaintext_2, hex(PLAINTEXT_2));
    assert_eq!(wait_cred_r.id_cred_r(), &IdCred::kid(&[0x32]).expect("kid"));
    assert_eq!(wait_cred_r.c_r(), c_r());
    let cred_r = AuthCredential::parse_ccs(&hex(CRED_R)).expect("CRED_R");
    let ready_m3 = wait_cred_r.verify(&cred_r).expect("MAC_2 verifies");
    assert_eq!(ready_m3.th_3, hex32(TH_3));
    assert_eq!(ready_m3.prk_3e2m.expose(), &hex32(PRK_3E2M));

    // message_3.
    let (wait_m4, message_3) = ready_m3
        .prepare_message_3(&initiator_credential(), &[])
        .expect("message_3");
    assert_eq!(message_3, hex(MESSAGE_3));
    assert_eq!(wait_m4.prk_4e3m.expose(), &hex32(PRK_4E3M));
    assert_eq!(wait_m4.th_4, hex32(TH_4));

    // The intermediate values of message_3, one by one.
    let th_3 = hex32(TH_3);
    let salt_4e3m = ks::kdf_secret(&b, &prk_3e2m, ks::LABEL_SALT_4E3M, &th_3).expect("salt");
    assert_eq!(salt_4e3m.expose(), &hex32(SALT_4E3M));
    let g_iy = b.agree(&y, &hex32(G_I)).expect("G_IY");
    assert_eq!(g_iy.expose(), &hex32(G_IY));
    let prk_4e3m = ks::prk_4e3m(&b, &prk_3e2m, &th_3, &g_iy).expect("PRK_4e3m");
    assert_eq!(prk_4e3m.expose(), &hex32(PRK_4E3M));
    let context_3 = ks::mac_context(None, &hex(ID_CRED_I), &th_3, &hex(CRED_I), &[]);
    let mac_3 = ks::mac(&b, &prk_4e3m, ks::LABEL_MAC_3, &context_3, 8).expect("MAC_3");
    assert_eq!(*mac_3, hex(MAC_3));
    let keys_3 = ks::aead_keys(&b, &prk_3e2m, ks::LABEL_K_3, ks::LABEL_IV_3, &th_3).expect("K_3");
    assert_eq!(keys_3.key.to_vec(), hex(K_3));
    assert_eq!(keys_3.iv.to_vec(), hex(IV_3));

    // The Responder decrypts message_3 and asks for the credential of kid h'2b'.
    let wait_cred_i = wait_m3
        .process_message_3(&message_3)
        .expect("message_3 decrypts");
    assert_eq!(wait_cred_i.plaintext_3, hex(PLAINTEXT_3));
    assert_eq!(wait_cred_i.id_cred_i(), &IdCred::kid(&[0x2b]).expect("kid"));
    let cred_i = AuthCredential::parse_ccs(&hex(CRED_I)).expect("CRED_I");
    let ready_m4 = wait_cred_i.verify(&cred_i).expect("MAC_3 verifies");
    assert_eq!(ready_m4.th_4, hex32(TH_4));
    assert_eq!(ready_m4.prk_4e3m.expose(), &hex32(PRK_4E3M));

    // message_4.
    let keys_4 =
        ks::aead_keys(&b, &prk_4e3m, ks::LABEL_K_4, ks::LABEL_IV_4, &hex32(TH_4)).expect("K_4");
    assert_eq!(keys_4.key.to_vec(), hex(K_4));
    assert_eq!(keys_4.iv.to_vec(), hex(IV_4));
    let (responder, message_4) = ready_m4.prepare_message_4(&[]).expect("message_4");
    assert_eq!(message_4, hex(MESSAGE_4));
    let (initiator, ead_4) = wait_m4
        .process_message_4(&message_4)
        .expect("message_4 opens");
    assert!(ead_4.is_empty());

    // PRK_out, PRK_exporter and the OSCORE parameters, on both sides.
    for session in [&initiator, &responder] {
        assert_eq!(session.prk_out().expose(), &hex32(PRK_OUT));
        assert_eq!(session.prk_exporter().expose(), &hex32(PRK_EXPORTER));
        let oscore = session.oscore_parameters().expect("OSCORE");
        assert_eq!(oscore.master_secret().to_vec(), hex(OSCORE_SECRET));
        assert_eq!(oscore.master_salt().to_vec(), hex(OSCORE_SALT));
        assert_eq!(oscore.aead_algorithm(), 10);
        assert_eq!(oscore.hash_algorithm(), -16);
    }
    // RFC 9529 §3.8: the client's Sender ID is C_R = 0x27, the server's is C_I = 0x37.
    let client = initiator.oscore_parameters().expect("OSCORE");
    let server = responder.oscore_parameters().expect("OSCORE");
    assert_eq!(
        (client.sender_id(), client.recipient_id()),
        (&[0x27][..], &[0x37][..])
    );
    assert_eq!(
        (server.sender_id(), server.recipient_id()),
        (&[0x37][..], &[0x27][..])
    );
}

#[test]
fn rfc_9529_trace_2_key_update() {
    let b = RustCrypto;
    let mut session = crate::edhoc::Session::restore(
        b,
        crate::edhoc::Role::Initiator,
        Method::StaticStatic,
        CipherSuite::Suite2,
        c_i(),
        c_r(),
        Secret::new(hex32(PRK_OUT)),
    )
    .expect("stored session");
    assert_eq!(session.prk_exporter().expose(), &hex32(PRK_EXPORTER));
    session
        .key_update(&hex(KEY_UPDATE_CONTEXT))
        .expect("key update");
    assert_eq!(session.prk_out().expose(), &hex32(PRK_OUT_UPDATED));
    assert_eq!(
        session.prk_exporter().expose(),
        &hex32(PRK_EXPORTER_UPDATED)
    );
    let oscore = session.oscore_parameters().expect("OSCORE");
    assert_eq!(oscore.master_secret().to_vec(), hex(OSCORE_SECRET_UPDATED));
    assert_eq!(oscore.master_salt().to_vec(), hex(OSCORE_SALT_UPDATED));
}
