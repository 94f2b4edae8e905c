//! The EDHOC key schedule (RFC 9528 §4): transcript hashes, EDHOC_Extract, EDHOC_KDF and
//! everything derived with them.
//!
//! ```text
//! TH_2 = H( G_Y, H(message_1) )                 PRK_2e   = Extract( TH_2, G_XY )
//! TH_3 = H( TH_2, PLAINTEXT_2, CRED_R )         PRK_3e2m = PRK_2e, or Extract( SALT_3e2m, G_RX )
//! TH_4 = H( TH_3, PLAINTEXT_3, CRED_I )         PRK_4e3m = PRK_3e2m, or Extract( SALT_4e3m, G_IY )
//!
//! EDHOC_KDF( PRK, label, context, length ) = HKDF-Expand( PRK, info, length )
//!   info = ( label : int, context : bstr, length : uint )       (a CBOR sequence)
//!
//! label  PRK        context     output              label  PRK        context  output
//!   0    PRK_2e     TH_2        KEYSTREAM_2           6    PRK_4e3m   ctx_3    MAC_3
//!   1    PRK_2e     TH_2        SALT_3e2m             7    PRK_4e3m   TH_4     PRK_out
//!   2    PRK_3e2m   context_2   MAC_2                 8    PRK_4e3m   TH_4     K_4
//!   3    PRK_3e2m   TH_3        K_3                   9    PRK_4e3m   TH_4     IV_4
//!   4    PRK_3e2m   TH_3        IV_3                 10    PRK_out    h''      PRK_exporter
//!   5    PRK_3e2m   TH_3        SALT_4e3m            11    PRK_out    context  PRK_out (KeyUpdate)
//! ```
//!
//! The transcript hashes are not secret; every PRK, key, IV and keystream is.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::ConnectionId;
use super::error::{Error, local_error};
use crate::backend::{AEAD_KEY_LEN, AEAD_NONCE_LEN, Backend, HASH_LEN, Secret};
use crate::cbor::Writer;

/// A transcript hash, TH_2 to TH_4.
pub(crate) type Th = [u8; HASH_LEN];

pub(crate) const LABEL_KEYSTREAM_2: u16 = 0;
pub(crate) const LABEL_SALT_3E2M: u16 = 1;
pub(crate) const LABEL_MAC_2: u16 = 2;
pub(crate) const LABEL_K_3: u16 = 3;
pub(crate) const LABEL_IV_3: u16 = 4;
pub(crate) const LABEL_SALT_4E3M: u16 = 5;
pub(crate) const LABEL_MAC_3: u16 = 6;
pub(crate) const LABEL_PRK_OUT: u16 = 7;
pub(crate) const LABEL_K_4: u16 = 8;
pub(crate) const LABEL_IV_4: u16 = 9;
pub(crate) const LABEL_PRK_EXPORTER: u16 = 10;
pub(crate) const LABEL_KEY_UPDATE: u16 = 11;

/// EDHOC_KDF (RFC 9528 §4.1.2): HKDF-Expand with `info = (label, context, length)`.
pub(crate) fn kdf<B: Backend>(
    backend: &B,
    prk: &Secret,
    label: u16,
    context: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let mut info = Vec::with_capacity(context.len() + 8);
    let mut w = Writer::new(&mut info);
    w.int(i64::from(label));
    w.bytes(context);
    w.int(out.len() as i64);
    backend.hkdf_expand(prk, &info, out).map_err(local_error)
}

/// EDHOC_KDF with a hash-length output, as a new PRK or salt.
pub(crate) fn kdf_secret<B: Backend>(
    backend: &B,
    prk: &Secret,
    label: u16,
    context: &[u8],
) -> Result<Secret, Error> {
    let mut out = Zeroizing::new([0u8; HASH_LEN]);
    kdf(backend, prk, label, context, out.as_mut())?;
    Ok(Secret::new(*out))
}

/// EDHOC_Extract (RFC 9528 §4.1.1): HKDF-Extract with SHA-256.
pub(crate) fn extract<B: Backend>(backend: &B, salt: &[u8], ikm: &Secret) -> Secret {
    backend.hkdf_extract(salt, ikm.expose())
}

/// TH_2 = H( G_Y, H(message_1) ), both as byte strings (RFC 9528 §5.3.2).
pub(crate) fn th_2<B: Backend>(backend: &B, g_y: &[u8], h_message_1: &Th) -> Th {
    let mut input = Vec::with_capacity(2 * (HASH_LEN + 2));
    let mut w = Writer::new(&mut input);
    w.bytes(g_y);
    w.bytes(h_message_1);
    backend.sha256(&[&input])
}

/// TH_3 = H( TH_2, PLAINTEXT_2, CRED_R ) and TH_4 = H( TH_3, PLAINTEXT_3, CRED_I )
/// (RFC 9528 §5.3.2, §5.4.2).
pub(crate) fn th_next<B: Backend>(backend: &B, th: &Th, plaintext: &[u8], cred: &[u8]) -> Th {
    let mut head = Vec::with_capacity(HASH_LEN + 2);
    Writer::new(&mut head).bytes(th);
    backend.sha256(&[&head, plaintext, cred])
}

/// PRK_2e = EDHOC_Extract( TH_2, G_XY ) (RFC 9528 §4.1.1.1).
pub(crate) fn prk_2e<B: Backend>(backend: &B, th_2: &Th, g_xy: &Secret) -> Secret {
    extract(backend, th_2, g_xy)
}

/// PRK_3e2m = EDHOC_Extract( SALT_3e2m, G_RX ), SALT_3e2m = EDHOC_KDF( PRK_2e, 1, TH_2,
/// hash_length ) (RFC 9528 §4.1.1.2), when the Responder authenticates with static DH.
pub(crate) fn prk_3e2m<B: Backend>(
    backend: &B,
    prk_2e: &Secret,
    th_2: &Th,
    g_rx: &Secret,
) -> Result<Secret, Error> {
    let salt = kdf_secret(backend, prk_2e, LABEL_SALT_3E2M, th_2)?;
    Ok(extract(backend, salt.expose(), g_rx))
}

/// PRK_4e3m = EDHOC_Extract( SALT_4e3m, G_IY ), SALT_4e3m = EDHOC_KDF( PRK_3e2m, 5, TH_3,
/// hash_length ) (RFC 9528 §4.1.1.3), when the Initiator authenticates with static DH.
pub(crate) fn prk_4e3m<B: Backend>(
    backend: &B,
    prk_3e2m: &Secret,
    th_3: &Th,
    g_iy: &Secret,
) -> Result<Secret, Error> {
    let salt = kdf_secret(backend, prk_3e2m, LABEL_SALT_4E3M, th_3)?;
    Ok(extract(backend, salt.expose(), g_iy))
}

/// KEYSTREAM_2 = EDHOC_KDF( PRK_2e, 0, TH_2, plaintext_length ) (RFC 9528 §5.3.2).
pub(crate) fn keystream_2<B: Backend>(
    backend: &B,
    prk_2e: &Secret,
    th_2: &Th,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut out = Zeroizing::new(alloc::vec![0u8; len]);
    kdf(backend, prk_2e, LABEL_KEYSTREAM_2, th_2, &mut out)?;
    Ok(out)
}

/// context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >> (RFC 9528 §5.3.2), or
/// context_3 = << ID_CRED_I, TH_3, CRED_I, ? EAD_3 >> (§5.4.2) when `c_r` is `None`.
pub(crate) fn mac_context(
    c_r: Option<&ConnectionId>,
    id_cred_map: &[u8],
    th: &Th,
    cred: &[u8],
    ead: &[u8],
) -> Vec<u8> {
    let mut context = Vec::with_capacity(id_cred_map.len() + cred.len() + ead.len() + 48);
    let mut w = Writer::new(&mut context);
    if let Some(c_r) = c_r {
        c_r.encode(&mut w);
    }
    w.raw(id_cred_map);
    w.bytes(th);
    w.raw(cred);
    w.raw(ead);
    context
}

/// MAC_2 (label 2) or MAC_3 (label 6): EDHOC_KDF( PRK, label, context, mac_length ).
pub(crate) fn mac<B: Backend>(
    backend: &B,
    prk: &Secret,
    label: u16,
    context: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut out = Zeroizing::new(alloc::vec![0u8; len]);
    kdf(backend, prk, label, context, &mut out)?;
    Ok(out)
}

/// The COSE Sig_structure that Signature_or_MAC_x signs (RFC 9528 §5.3.2, RFC 9052 §4.4):
/// `[ "Signature1", << ID_CRED_x >>, << TH_x, CRED_x, ? EAD_x >>, MAC_x ]`.
pub(crate) fn sig_structure(
    id_cred_map: &[u8],
    th: &Th,
    cred: &[u8],
    ead: &[u8],
    mac: &[u8],
) -> Vec<u8> {
    let mut external_aad = Vec::with_capacity(HASH_LEN + 2 + cred.len() + ead.len());
    let mut w = Writer::new(&mut external_aad);
    w.bytes(th);
    w.raw(cred);
    w.raw(ead);
    let mut out = Vec::with_capacity(external_aad.len() + id_cred_map.len() + mac.len() + 24);
    let mut w = Writer::new(&mut out);
    w.array(4);
    w.text("Signature1");
    w.bytes(id_cred_map);
    w.bytes(&external_aad);
    w.bytes(mac);
    out
}

/// A_3 or A_4 = [ "Encrypt0", h'', TH_x ] (RFC 9528 §5.4.2, §5.5.2).
pub(crate) fn enc_structure(th: &Th) -> Vec<u8> {
    let mut out = Vec::with_capacity(HASH_LEN + 16);
    let mut w = Writer::new(&mut out);
    w.array(3);
    w.text("Encrypt0");
    w.bytes(&[]);
    w.bytes(th);
    out
}

/// An AEAD key and nonce for message_3 or message_4, zeroized on drop.
pub(crate) struct AeadKeys {
    pub(crate) key: Zeroizing<[u8; AEAD_KEY_LEN]>,
    pub(crate) iv: Zeroizing<[u8; AEAD_NONCE_LEN]>,
}

/// K_3, IV_3 from PRK_3e2m and TH_3, or K_4, IV_4 from PRK_4e3m and TH_4.
pub(crate) fn aead_keys<B: Backend>(
    backend: &B,
    prk: &Secret,
    key_label: u16,
    iv_label: u16,
    th: &Th,
) -> Result<AeadKeys, Error> {
    let mut keys = AeadKeys {
        key: Zeroizing::new([0; AEAD_KEY_LEN]),
        iv: Zeroizing::new([0; AEAD_NONCE_LEN]),
    };
    kdf(backend, prk, key_label, th, keys.key.as_mut())?;
    kdf(backend, prk, iv_label, th, keys.iv.as_mut())?;
    Ok(keys)
}

/// PRK_out = EDHOC_KDF( PRK_4e3m, 7, TH_4, hash_length ) (RFC 9528 §4.1.3).
pub(crate) fn prk_out<B: Backend>(
    backend: &B,
    prk_4e3m: &Secret,
    th_4: &Th,
) -> Result<Secret, Error> {
    kdf_secret(backend, prk_4e3m, LABEL_PRK_OUT, th_4)
}

/// PRK_exporter = EDHOC_KDF( PRK_out, 10, h'', hash_length ) (RFC 9528 §4.2.1).
pub(crate) fn prk_exporter<B: Backend>(backend: &B, prk_out: &Secret) -> Result<Secret, Error> {
    kdf_secret(backend, prk_out, LABEL_PRK_EXPORTER, &[])
}

/// Compares two byte strings in time that depends only on their lengths, which are public.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn enc_structure_matches_rfc_9529() {
        // RFC 9529 §3: A_3 is 83 68 "Encrypt0" 40 58 20 TH_3.
        let th = [0xab; 32];
        let a = enc_structure(&th);
        assert_eq!(&a[..13], b"\x83\x68Encrypt0\x40\x58\x20");
        assert_eq!(&a[13..], &th);
    }
}
