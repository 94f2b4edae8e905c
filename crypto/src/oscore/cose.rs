//! The COSE_Encrypt0 inputs OSCORE computes rather than sends: the AEAD nonce (RFC 8613 §5.2)
//! and the additional authenticated data (§5.4).

use alloc::vec::Vec;

use super::header::{PARTIAL_IV_LEN, PartialIv};
use super::{ALG_AES_CCM_16_64_128, OSCORE_VERSION};
use crate::backend::AEAD_NONCE_LEN;
use crate::cbor::Writer;

/// The AEAD nonce (§5.2): `S | padded ID_PIV | padded PIV`, XORed with the Common IV.
///
/// `id_piv` is the Sender ID of the endpoint that generated the Partial IV; the context
/// guarantees it is at most `AEAD_NONCE_LEN - 6` bytes.
pub(crate) fn nonce(
    common_iv: &[u8; AEAD_NONCE_LEN],
    id_piv: &[u8],
    piv: &PartialIv,
) -> [u8; AEAD_NONCE_LEN] {
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    let id_field = AEAD_NONCE_LEN - 1 - PARTIAL_IV_LEN;
    nonce[0] = id_piv.len() as u8;
    // Left-pad ID_PIV to nonce length - 6 bytes and the Partial IV to 5 bytes.
    nonce[1 + id_field - id_piv.len()..1 + id_field].copy_from_slice(id_piv);
    let piv = piv.as_bytes();
    nonce[AEAD_NONCE_LEN - piv.len()..].copy_from_slice(piv);
    for (n, iv) in nonce.iter_mut().zip(common_iv) {
        *n ^= iv;
    }
    nonce
}

/// The AAD (§5.4): `Enc_structure = ["Encrypt0", h'', external_aad]`, where `external_aad`
/// is the byte string wrapping `[1, [alg_aead], request_kid, request_piv, options]`.
///
/// `options` holds the Class I options, of which none are defined (§4.1.2), so it is empty.
pub(crate) fn aad(request_kid: &[u8], request_piv: &[u8]) -> Vec<u8> {
    let mut aad_array = Vec::with_capacity(16 + request_kid.len() + request_piv.len());
    let mut w = Writer::new(&mut aad_array);
    w.array(5);
    w.int(OSCORE_VERSION);
    w.array(1);
    w.int(ALG_AES_CCM_16_64_128);
    w.bytes(request_kid);
    w.bytes(request_piv);
    w.bytes(&[]);

    let mut aad = Vec::with_capacity(16 + aad_array.len());
    let mut w = Writer::new(&mut aad);
    w.array(3);
    w.text("Encrypt0");
    w.bytes(&[]);
    w.bytes(&aad_array);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coap::test_support::hex;

    fn iv(s: &str) -> [u8; AEAD_NONCE_LEN] {
        hex(s).try_into().expect("13 bytes")
    }

    #[test]
    fn the_aad_example_of_section_5_4() {
        // AEAD algorithm 10, request_kid 0x00, request_piv 0x25, no Class I options.
        assert_eq!(
            aad(&[0x00], &[0x25]),
            hex("8368456e63727970743040498501810a4100412540")
        );
    }

    #[test]
    fn nonces_of_appendix_c_with_partial_iv_0() {
        let zero = PartialIv::new(0).expect("0 is valid");
        // C.1: empty Sender ID (client), Recipient ID 0x01.
        let c1 = iv("4622d4dd6d944168eefb54987c");
        assert_eq!(nonce(&c1, &[], &zero), iv("4622d4dd6d944168eefb54987c"));
        assert_eq!(nonce(&c1, &[0x01], &zero), iv("4722d4dd6d944169eefb54987c"));
        // C.2: Sender ID 0x00, Recipient ID 0x01.
        let c2 = iv("be35ae297d2dace910c52e99f9");
        assert_eq!(nonce(&c2, &[0x00], &zero), iv("bf35ae297d2dace910c52e99f9"));
        assert_eq!(nonce(&c2, &[0x01], &zero), iv("bf35ae297d2dace810c52e99f9"));
        // C.3: as C.1 with an ID Context.
        let c3 = iv("2ca58fb85ff1b81c0b7181b85e");
        assert_eq!(nonce(&c3, &[], &zero), iv("2ca58fb85ff1b81c0b7181b85e"));
        assert_eq!(nonce(&c3, &[0x01], &zero), iv("2da58fb85ff1b81d0b7181b85e"));
    }

    #[test]
    fn nonces_of_appendix_c_4_to_c_6() {
        let twenty = PartialIv::new(20).expect("valid");
        let c4 = iv("4622d4dd6d944168eefb54987c");
        assert_eq!(nonce(&c4, &[], &twenty), iv("4622d4dd6d944168eefb549868"));
        let c5 = iv("be35ae297d2dace910c52e99f9");
        assert_eq!(
            nonce(&c5, &[0x00], &twenty),
            iv("bf35ae297d2dace910c52e99ed")
        );
        let c6 = iv("2ca58fb85ff1b81c0b7181b85e");
        assert_eq!(nonce(&c6, &[], &twenty), iv("2ca58fb85ff1b81c0b7181b84a"));
    }
}
