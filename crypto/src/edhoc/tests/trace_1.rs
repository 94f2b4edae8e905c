//! RFC 9529 §2: method 0 (signatures both ways), suite 0 (X25519, EdDSA), X.509
//! certificates referenced by `x5t`.

use super::{hex, hex32};
use crate::backend::{Backend as _, Curve, RustCrypto, Secret};
use crate::edhoc::key_schedule as ks;
use crate::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, CredentialKey, IdCred, Initiator, InitiatorConfig,
    LocalCredential, Method, Responder, ResponderConfig, Role, Session,
};
use crate::keys::{PublicKey, SecretKey};

// message_1 (§2.1).
const X: &str = "892ec28e5cb6669108470539500b705e60d008d347c5817ee9f3327c8a87bb03";
const G_X: &str = "31f82c7b5b9cbbf0f194d913cc12ef1532d328ef32632a4881a1c0701e237f04";
const MESSAGE_1: &str =
    "00 00 5820 31f82c7b5b9cbbf0f194d913cc12ef1532d328ef32632a4881a1c0701e237f04 2d";

// message_2 (§2.2).
const Y: &str = "e69c23fbf81bc435942446837fe827bf206c8fa10a39db47449e5a813421e1e8";
const G_Y: &str = "dc88d2d51da5ed67fc4616356bc8ca74ef9ebe8b387e623a360ba480b9b29d1c";
const H_MESSAGE_1: &str = "c165d6a99d1bcafaac8dbf2b352a6f7d71a30b439c9d64d349a23848038ed16b";
const TH_2: &str = "c6405c154c567466ab1df20369500e540e9f14bd3a796a0652cae66c9061688d";
const G_XY: &str = "e5cdf3a986cdac5b7bf04691e2b07c08e71f53998d8f842b7c3fb4d839cf7b28";
const PRK_2E: &str = "d584ac2e5dad5a77d14b53ebe72ef1d5daa8860d399373bf2c240afa7ba804da";
const SK_R: &str = "ef140ff900b0ab03f0c08d879cbbd4b31ea71e6e7ee7ffcb7e7955777a332799";
const PK_R: &str = "a1db47b95184854ad12a0c1a354e418aace33aa0f2c662c00b3ac55de92f9359";
const ID_CRED_R: &str = "a11822822e4879f2a41b510c1f9b";
/// The DER of the Responder's certificate (§2.5.1); CRED_R is it in a byte string.
const CERT_R: &str = "3081ee3081a1a003020102020462319ec4300506032b6570301d311b30190603550403\
                      0c124544484f4320526f6f742045643235353139301e170d32323033313630383234\
                      33365a170d3239313233313233303030305a30223120301e06035504030c17454448\
                      4f4320526573706f6e6465722045643235353139302a300506032b6570032100a1db\
                      47b95184854ad12a0c1a354e418aace33aa0f2c662c00b3ac55de92f935930050603\
                      2b6570034100b723bc01eab0928e8b2b6c98de19cc3823d46e7d6987b032478fecfa\
                      f14537a1af14cc8be829c6b73044101837eb4abc949565d86dce51cfae52ab82c152\
                      cb02";
const MAC_2: &str = "862a7e5ef147f9a5f4c512e1b6623cd66cd17a7272072bfe5b602ffe307ee0e9";
const SIGNATURE_2: &str = "c3b5bd44d1e44a085c03d3aede4e1e6c11c572a1968cc3629b505f98c681608d\
                           3d1de793d1c40eb5dd5d89acf1966aea07022b48cdc99870ebc40374e8fa6e09";
const KEYSTREAM_2: &str = "fd3e7c3f2d6bee643d3c9d2f2847035d73e2ecb0f8db5cd1c6854e24896af211\
                           88b2c4344e689ec2984283d9fbc69ce1c5db10dcfff24df9a49a04a94058277b\
                           c7fa9ad6c6b194ab328b445eb080490cd786";
const CIPHERTEXT_2: &str = "bc26dd270fe9c02c44ce3934794b1cc62ba22f05459f8d358c8d12275ac42c5f\
                            96ded5f13cc9084e5b201889a45e5a60a5562dc118619c3daa2fd9f4c9f4d6ed\
                            ad109dd4edf95962aafbaf9ab3f4a1f6b98f";

// message_3 (§2.3).
const SK_I: &str = "4c5b25878f507c6b9dae68fbd4fd3ff997533db0af00b25d324ea28e6c213bc8";
const PK_I: &str = "ed06a8ae61a829ba5fa54525c9d07f48dd44a302f43e0f23d8cc20b73085141e";
const TH_3: &str = "5b7df9b4f58f240ce0418e48191b5fff3a22b5ca57f669b16777996592e928bc";
const ID_CRED_I: &str = "a11822822e48c24ab2fd7643c79f";
/// The DER of the Initiator's certificate (§2.5.2).
const CERT_I: &str = "3081ee3081a1a003020102020462319ea0300506032b6570301d311b30190603550403\
                      0c124544484f4320526f6f742045643235353139301e170d32323033313630383234\
                      30305a170d3239313233313233303030305a30223120301e06035504030c17454448\
                      4f4320496e69746961746f722045643235353139302a300506032b6570032100ed06\
                      a8ae61a829ba5fa54525c9d07f48dd44a302f43e0f23d8cc20b73085141e30050603\
                      2b6570034100521241d8b3a770996bcfc9b9ead4e7e0a1c0db353a3bdf2910b39275\
                      ae48b756015981850d27db6734e37f67212267dd05eeff27b9e7a813fa574b72a00b\
                      430b";
const MAC_3: &str = "39b127c130129afa30618c751329e637cc3734270d4b01258445a8ee02daa3bd";
const SIGNATURE_3: &str = "96e1cd5fceadfac1b5af819443f70924f5719955957fd02655beb4775e1a7318\
                           6a0d1d3ea683f08f8d03dcecb9cf154e1c6f555a1e12ca118ce42bdba6878907";
const K_3: &str = "da195e5f648ac63b0e8fb0c455205139";
const IV_3: &str = "38d8c64c56255affa449f4bed7";
const CIPHERTEXT_3: &str = "25c345884aaaeb22c527f9b1d2b6787207e0163c69b62a0d43928150427203c3\
                            1674e4514ea6e383b566eb29763efeb0afa518776ae1c65f856d84bf32af3a78\
                            36970466dcb71f76745d39d3025e7703e0c032ebad51947c";
const TH_4: &str = "0eb868f263cf3555dccd396dd8dec29d3750d599be42d5a41a5a37c896f294ac";

// message_4, PRK_out, exporter, OSCORE and key update (§2.4).
const K_4: &str = "df8cb5861e1fdfedd3b23015a39d1e2e";
const IV_4: &str = "128ec658d970d7380f74fc6c27";
const MESSAGE_4: &str = "48 4f0edee366e5c883";
const PRK_OUT: &str = "b744cb7d8a87cc0447c3350e165b250dab12ec453325abb922b30307e5c368f0";
const PRK_EXPORTER: &str = "2aaec8fc4ab3bc3295def6b551051a2fa561424db301fa84f642f5578a6df51a";
const OSCORE_SECRET: &str = "1e1c6beac3a8a1cac435de7e2f9ae7ff";
const OSCORE_SALT: &str = "ce7ab844c0106d73";
const KEY_UPDATE_CONTEXT: &str = "d6be169602b8bceaa01158fdb820890c";
const PRK_OUT_UPDATED: &str = "da6eacd9a985f4fba9aec2a9299022976b25b14e89fa159794f28d82faf2daad";
const PRK_EXPORTER_UPDATED: &str =
    "0014d2525ee0d8e213ea5908028e9a1ce9a01c30546f0930c044d38db5362c05";
const OSCORE_SECRET_UPDATED: &str = "ee0ff542c47eb0e09c69307649bdbbe5";
const OSCORE_SALT_UPDATED: &str = "80cede2a1e5aab48";

fn c_i() -> ConnectionId {
    ConnectionId::from_int(-14).expect("in range")
}

fn c_r() -> ConnectionId {
    ConnectionId::new(&[0x18]).expect("one byte")
}

fn ed25519(public: &str) -> CredentialKey {
    let key = ed25519_dalek::VerifyingKey::from_bytes(&hex32(public)).expect("Ed25519 key");
    CredentialKey::from_public_key(&PublicKey::Ed25519(key))
}

fn signing(secret: &str) -> SecretKey {
    SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&hex32(secret)))
}

fn cred_r() -> AuthCredential {
    AuthCredential::x509(&hex(CERT_R), ed25519(PK_R))
}

fn cred_i() -> AuthCredential {
    AuthCredential::x509(&hex(CERT_I), ed25519(PK_I))
}

fn local(cred: AuthCredential, id_cred: &str, secret: &str) -> LocalCredential<RustCrypto> {
    let id_cred = IdCred::from_map(&hex(id_cred)).expect("x5t map");
    LocalCredential::signing(cred, id_cred, signing(secret)).expect("key matches")
}

#[test]
fn rfc_9529_trace_1_signatures_with_x5t_references_byte_for_byte() {
    let b = RustCrypto;
    assert_eq!(hex(CERT_R).len(), 241);
    assert_eq!(hex(CERT_I).len(), 241);

    // message_1, with X injected.
    let config =
        InitiatorConfig::new(Method::SignatureSignature, &[CipherSuite::Suite0]).expect("config");
    let (wait_m2, message_1) =
        Initiator::start(b, &config, &hex32(X), c_i(), &[]).expect("message_1");
    assert_eq!(message_1, hex(MESSAGE_1));
    let x = b.agreement_key(Curve::X25519, &hex32(X)).expect("X");
    assert_eq!(b.agreement_public(&x), hex32(G_X));
    assert_eq!(b.sha256(&[&message_1]), hex32(H_MESSAGE_1));

    // message_2, with Y injected.
    let responder_config =
        ResponderConfig::new(&[Method::SignatureSignature], &[CipherSuite::Suite0])
            .expect("config");
    let ready_m2 =
        Responder::process_message_1(b, &responder_config, &message_1).expect("message_1");
    let responder = local(cred_r(), ID_CRED_R, SK_R);
    let (wait_m3, message_2) = ready_m2
        .prepare_message_2(&responder, &hex32(Y), c_r(), &[])
        .expect("message_2");
    let mut expected_m2 = hex("5872");
    expected_m2.extend(hex(G_Y));
    expected_m2.extend(hex(CIPHERTEXT_2));
    assert_eq!(message_2, expected_m2);
    assert_eq!(wait_m3.th_3, hex32(TH_3));
    assert_eq!(wait_m3.prk_3e2m.expose(), &hex32(PRK_2E));

    // The intermediate values of message_2, one by one.
    let y = b.agreement_key(Curve::X25519, &hex32(Y)).expect("Y");
    assert_eq!(b.agreement_public(&y), hex32(G_Y));
    let th_2 = ks::th_2(&b, &hex32(G_Y), &hex32(H_MESSAGE_1));
    assert_eq!(th_2, hex32(TH_2));
    let g_xy = b.agree(&y, &hex32(G_X)).expect("G_XY");
    assert_eq!(g_xy.expose(), &hex32(G_XY));
    let prk_2e = ks::prk_2e(&b, &th_2, &g_xy);
    assert_eq!(prk_2e.expose(), &hex32(PRK_2E));
    let cred_r_bytes = cred_r().as_bytes().to_vec();
    assert_eq!(&cred_r_bytes[..3], [0x58, 0xf1, 0x30]);
    let context_2 = ks::mac_context(Some(&c_r()), &hex(ID_CRED_R), &th_2, &cred_r_bytes, &[]);
    // RFC 9528 §5.3.2: PRK_3e2m = PRK_2e when the Responder signs; MAC_2 is hash-length.
    let mac_2 = ks::mac(&b, &prk_2e, ks::LABEL_MAC_2, &context_2, 32).expect("MAC_2");
    assert_eq!(*mac_2, hex(MAC_2));
    let to_sign = ks::sig_structure(&hex(ID_CRED_R), &th_2, &cred_r_bytes, &[], &mac_2);
    assert_eq!(b.sign(&signing(SK_R), &to_sign).to_vec(), hex(SIGNATURE_2));
    let keystream_2 = ks::keystream_2(&b, &prk_2e, &th_2, 82).expect("KEYSTREAM_2");
    assert_eq!(*keystream_2, hex(KEYSTREAM_2));

    // The Initiator decrypts message_2 and resolves the x5t reference.
    let wait_cred_r = wait_m2
        .process_message_2(&message_2)
        .expect("message_2 reads");
    let mut plaintext_2 = hex("4118");
    plaintext_2.extend(hex(ID_CRED_R));
    plaintext_2.extend(hex("5840"));
    plaintext_2.extend(hex(SIGNATURE_2));
    assert_eq!(wait_cred_r.plaintext_2, plaintext_2);
    let xor: alloc::vec::Vec<u8> = plaintext_2
        .iter()
        .zip(keystream_2.iter())
        .map(|(p, k)| p ^ k)
        .collect();
    assert_eq!(xor, hex(CIPHERTEXT_2));
    assert_eq!(wait_cred_r.th_2, hex32(TH_2));
    assert_eq!(wait_cred_r.prk_2e.expose(), &hex32(PRK_2E));
    assert_eq!(wait_cred_r.id_cred_r(), &IdCred::Other(hex(ID_CRED_R)));
    let ready_m3 = wait_cred_r.verify(&cred_r()).expect("signature verifies");
    assert_eq!(ready_m3.th_3, hex32(TH_3));

    // message_3.
    let initiator = local(cred_i(), ID_CRED_I, SK_I);
    let (wait_m4, message_3) = ready_m3
        .prepare_message_3(&initiator, &[])
        .expect("message_3");
    let mut expected_m3 = hex("5858");
    expected_m3.extend(hex(CIPHERTEXT_3));
    assert_eq!(message_3, expected_m3);
    assert_eq!(wait_m4.th_4, hex32(TH_4));
    assert_eq!(wait_m4.prk_4e3m.expose(), &hex32(PRK_2E));

    // The intermediate values of message_3, one by one.
    let th_3 = hex32(TH_3);
    let cred_i_bytes = cred_i().as_bytes().to_vec();
    let context_3 = ks::mac_context(None, &hex(ID_CRED_I), &th_3, &cred_i_bytes, &[]);
    let mac_3 = ks::mac(&b, &prk_2e, ks::LABEL_MAC_3, &context_3, 32).expect("MAC_3");
    assert_eq!(*mac_3, hex(MAC_3));
    let to_sign = ks::sig_structure(&hex(ID_CRED_I), &th_3, &cred_i_bytes, &[], &mac_3);
    assert_eq!(b.sign(&signing(SK_I), &to_sign).to_vec(), hex(SIGNATURE_3));
    let keys_3 = ks::aead_keys(&b, &prk_2e, ks::LABEL_K_3, ks::LABEL_IV_3, &th_3).expect("K_3");
    assert_eq!(keys_3.key.to_vec(), hex(K_3));
    assert_eq!(keys_3.iv.to_vec(), hex(IV_3));

    // The Responder decrypts message_3 and verifies the Initiator's signature.
    let wait_cred_i = wait_m3
        .process_message_3(&message_3)
        .expect("message_3 decrypts");
    let mut plaintext_3 = hex(ID_CRED_I);
    plaintext_3.extend(hex("5840"));
    plaintext_3.extend(hex(SIGNATURE_3));
    assert_eq!(wait_cred_i.plaintext_3, plaintext_3);
    let ready_m4 = wait_cred_i.verify(&cred_i()).expect("signature verifies");
    assert_eq!(ready_m4.th_4, hex32(TH_4));

    // message_4.
    let keys_4 =
        ks::aead_keys(&b, &prk_2e, ks::LABEL_K_4, ks::LABEL_IV_4, &hex32(TH_4)).expect("K_4");
    assert_eq!(keys_4.key.to_vec(), hex(K_4));
    assert_eq!(keys_4.iv.to_vec(), hex(IV_4));
    let (responder_session, message_4) = ready_m4.prepare_message_4(&[]).expect("message_4");
    assert_eq!(message_4, hex(MESSAGE_4));
    let (initiator_session, _) = wait_m4.process_message_4(&message_4).expect("message_4");

    // PRK_out, PRK_exporter and OSCORE, on both sides.
    for session in [&initiator_session, &responder_session] {
        assert_eq!(session.prk_out().expose(), &hex32(PRK_OUT));
        assert_eq!(session.prk_exporter().expose(), &hex32(PRK_EXPORTER));
        let oscore = session.oscore_parameters().expect("OSCORE");
        assert_eq!(oscore.master_secret().to_vec(), hex(OSCORE_SECRET));
        assert_eq!(oscore.master_salt().to_vec(), hex(OSCORE_SALT));
    }
    // RFC 9529 §2.4: the client's Sender ID is C_R = 0x18, the server's is C_I = 0x2d.
    let client = initiator_session.oscore_parameters().expect("OSCORE");
    assert_eq!(
        (client.sender_id(), client.recipient_id()),
        (&[0x18][..], &[0x2d][..])
    );
    let server = responder_session.oscore_parameters().expect("OSCORE");
    assert_eq!(
        (server.sender_id(), server.recipient_id()),
        (&[0x2d][..], &[0x18][..])
    );
}

#[test]
fn rfc_9529_trace_1_key_update() {
    let mut session = Session::restore(
        RustCrypto,
        Role::Responder,
        Method::SignatureSignature,
        CipherSuite::Suite0,
        c_i(),
        c_r(),
        Secret::new(hex32(PRK_OUT)),
    )
    .expect("stored session");
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
