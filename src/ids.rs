//! Opaque IDs and cursors, encrypted under the ID key (`TALLY_ID_KEY`), a key of their own.
//!
//! A row's UUIDv7 tells when it was made, and a list position tells when a follow request
//! or a block happened: neither may be readable by a client (PRIVACY.md, "Not revealing").
//! So nothing is merely encoded or signed; both are encrypted:
//!
//! - **ID** = `base64url(AES-256_{Ek}(uuid) ‖ HMAC-SHA256_{Mk}(that block)[..8])`, 32
//!   characters, where `Ek`/`Mk` are keys derived for the kind `k` (user, video). AES is a
//!   keyed permutation of the 16-byte UUID: deterministic (one row, one ID, the same after
//!   a restart with the same key) and, without the key, unrelated to the UUID. The kind is
//!   folded into the keys rather than carried in clear or guessed from the decrypted bytes:
//!   a UUIDv7 has only 6 fixed bits, so "decrypts to a plausible UUID" would take a foreign
//!   or forged value for a real one about once in 64 tries, and `node(id)` could not tell a
//!   user from a video for sure. The 64-bit tag, under the kind's own MAC key, makes every
//!   value the service did not issue for that kind fail (`BAD_USER_INPUT`), a Video ID
//!   included when a User ID is wanted. (An AEAD would do the same in 43 characters.)
//! - **Cursor** = `base64url(AES-256-GCM-SIV(time ‖ uuid, aad = list kind))`. The nonce is
//!   fixed on purpose: GCM-SIV is built to survive nonce reuse, which then reveals only
//!   whether two cursors name the same position of the same kind of list; the same
//!   position always gets the same cursor, and nothing in it orders or dates anything.
use std::{fmt, sync::Arc};

use aes::{
    cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit},
    Aes256,
};
use aes_gcm_siv::{
    aead::{Aead, Payload},
    Aes256GcmSiv, Nonce,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The key IDs and cursors are encrypted under: 32 random bytes, written as 64
/// hexadecimal characters (`TALLY_ID_KEY`). `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdKey([u8; 32]);

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdKey(…)")
    }
}

impl IdKey {
    /// The key written as 64 hexadecimal characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        let mut key = [0u8; 32];
        if text.len() != 64 || hex::decode_to_slice(text, &mut key).is_err() {
            anyhow::bail!(
                "an ID key is 32 random bytes written as 64 hexadecimal characters (e.g. `openssl rand -hex 32`); got {} characters",
                text.chars().count()
            );
        }
        Ok(IdKey(key))
    }

    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        IdKey(key)
    }

    /// The 64 hexadecimal characters of the key (what [`IdKey::from_hex`] reads).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// 32 bytes derived from the key for one `purpose` (HKDF-SHA256, RFC 5869), so that no
    /// two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        // Expanding 32 bytes from a 32-byte PRK cannot fail (the limit is 255 × 32).
        if Hkdf::<Sha256>::new(Some(b"tally-ids"), &self.0)
            .expand(purpose.as_bytes(), &mut out)
            .is_err()
        {
            unreachable!("HKDF expands 32 bytes");
        }
        out
    }
}

/// What a global ID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Video,
    /// A third-party analytics app's client (its `id`, and the `client_id` of
    /// `POST /oauth/token`).
    ApiClient,
    /// A signed-in session of an account (`User.sessions`, the `sid` of access tokens).
    Session,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::User, Kind::Video, Kind::ApiClient, Kind::Session];

    fn label(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Video => "video",
            Kind::ApiClient => "api-client",
            Kind::Session => "session",
        }
    }
}

type HmacSha256 = Hmac<Sha256>;
const ID_TAG_LEN: usize = 8;
const ID_LEN: usize = 16 + ID_TAG_LEN;

/// The keys of one kind of ID.
struct KindKeys {
    cipher: Aes256,
    mac: HmacSha256,
}

impl KindKeys {
    fn new(key: &IdKey, kind: Kind) -> Self {
        let cipher = Aes256::new(&key.derive(&format!("id/{}/aes-256", kind.label())).into());
        let mac_key = key.derive(&format!("id/{}/hmac-sha256", kind.label()));
        let mac = match HmacSha256::new_from_slice(&mac_key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes a key of any length"),
        };
        KindKeys { cipher, mac }
    }

    fn tag(&self, block: &[u8]) -> [u8; ID_TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(block);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; ID_TAG_LEN];
        tag.copy_from_slice(&full[..ID_TAG_LEN]);
        tag
    }

    fn encode(&self, id: Uuid) -> String {
        let mut block = aes::Block::from(*id.as_bytes());
        self.cipher.encrypt_block(&mut block);
        let mut bytes = [0u8; ID_LEN];
        bytes[..16].copy_from_slice(&block);
        bytes[16..].copy_from_slice(&self.tag(&block));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The UUID of `bytes` if they are an ID of this kind.
    fn decode(&self, bytes: &[u8; ID_LEN]) -> Option<Uuid> {
        let (block, tag) = bytes.split_at(16);
        let mut mac = self.mac.clone();
        mac.update(block);
        mac.verify_truncated_left(tag).ok()?;
        let mut block = aes::Block::try_from(block).ok()?;
        self.cipher.decrypt_block(&mut block);
        Some(Uuid::from_bytes(block.into()))
    }
}

/// Encrypts and decrypts IDs; cheap to clone (one per service, in the GraphQL context and
/// in [`crate::auth::token::Tokens`], whose `sub` is the user's ID).
#[derive(Clone)]
pub struct IdCodec {
    keys: Arc<[KindKeys; 4]>,
}

impl fmt::Debug for IdCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdCodec(…)")
    }
}

impl IdCodec {
    /// The codec of IDs under `key` (every instance sharing the key agrees).
    pub fn new(key: &IdKey) -> Self {
        IdCodec {
            keys: Arc::new(Kind::ALL.map(|kind| KindKeys::new(key, kind))),
        }
    }

    fn of(&self, kind: Kind) -> &KindKeys {
        &self.keys[kind as usize]
    }

    /// The API ID of a row.
    pub fn encode_id(&self, kind: Kind, id: Uuid) -> String {
        self.of(kind).encode(id)
    }

    /// Decodes any ID this service issued; `None` when it is not one.
    pub fn decode_any_id(&self, text: &str) -> Option<(Kind, Uuid)> {
        let bytes = id_bytes(text)?;
        Kind::ALL
            .into_iter()
            .find_map(|kind| Some((kind, self.of(kind).decode(&bytes)?)))
    }

    /// Decodes an ID that must name a `kind`; anything else is `BAD_USER_INPUT` on `field`.
    pub fn decode_id(&self, field: &str, kind: Kind, text: &str) -> AppResult<Uuid> {
        id_bytes(text)
            .and_then(|bytes| self.of(kind).decode(&bytes))
            .ok_or_else(|| {
                AppError::bad_input(field, format!("`{field}` is not a valid {kind:?} ID"))
            })
    }
}

fn id_bytes(text: &str) -> Option<[u8; ID_LEN]> {
    // 24 bytes are exactly 32 characters: anything longer is not an ID, and is not decoded.
    if text.len() != 32 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// A position in a newest-first list: the sort time and the tie-breaking ID of the last
/// item seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keyset {
    pub time: i64,
    pub id: Uuid,
}

/// Which list a cursor belongs to, so one list's cursor is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    Likers = 1,
    Videos = 2,
    LikedVideos = 3,
    Users = 4,
    TrendingVideos = 5,
}

const CURSOR_PLAIN_LEN: usize = 24;
const CURSOR_LEN: usize = CURSOR_PLAIN_LEN + 16;

/// Encrypts and checks cursors (AES-256-GCM-SIV under a key derived from the ID key).
#[derive(Clone)]
pub struct CursorCodec {
    aead: Arc<Aes256GcmSiv>,
}

impl fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorCodec(…)")
    }
}

impl CursorCodec {
    /// The codec of cursors under `key` (every instance sharing the key agrees).
    pub fn new(key: &IdKey) -> Self {
        let aead = Aes256GcmSiv::new(&key.derive("cursor/aes-256-gcm-siv").into());
        CursorCodec {
            aead: Arc::new(aead),
        }
    }

    /// See the module documentation: deterministic on purpose.
    fn nonce() -> Nonce {
        Nonce::default()
    }

    /// The cursor of `keyset` in a list of `kind`.
    pub fn encode(&self, kind: CursorKind, keyset: Keyset) -> AppResult<String> {
        let mut plain = [0u8; CURSOR_PLAIN_LEN];
        plain[..8].copy_from_slice(&keyset.time.to_be_bytes());
        plain[8..].copy_from_slice(keyset.id.as_bytes());
        let sealed = self
            .aead
            .encrypt(
                &Self::nonce(),
                Payload {
                    msg: &plain,
                    aad: &[kind as u8],
                },
            )
            .map_err(|_| AppError::internal(anyhow::anyhow!("encrypting a cursor failed")))?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Decodes an `after` argument; a cursor this service did not issue for a list of
    /// `kind` is `BAD_USER_INPUT` on `after`.
    pub fn decode(&self, kind: CursorKind, text: &str) -> AppResult<Keyset> {
        let bad = || AppError::bad_input("after", "`after` is not a cursor issued by this service");
        // 40 bytes are 54 characters; nothing longer is decoded.
        if text.len() != 54 {
            return Err(bad());
        }
        let sealed = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        if sealed.len() != CURSOR_LEN {
            return Err(bad());
        }
        let plain = self
            .aead
            .decrypt(
                &Self::nonce(),
                Payload {
                    msg: &sealed,
                    aad: &[kind as u8],
                },
            )
            .map_err(|_| bad())?;
        let (time, id) = plain.split_at(8);
        let time: [u8; 8] = time.try_into().map_err(|_| bad())?;
        Ok(Keyset {
            time: i64::from_be_bytes(time),
            id: Uuid::from_slice(id).map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> IdKey {
        IdKey([byte; 32])
    }

    fn flip(text: &str, bit: usize) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(text).expect("base64url");
        bytes[bit / 8] ^= 1 << (bit % 8);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let ids = IdCodec::new(&key(1));
        let id = Uuid::now_v7();
        for kind in Kind::ALL {
            let text = ids.encode_id(kind, id);
            assert_eq!(text.len(), 32, "{text}");
            assert_eq!(ids.decode_id("id", kind, &text).ok(), Some(id));
            assert_eq!(ids.decode_any_id(&text), Some((kind, id)));
        }
        // The same UUID as a user and as a video: two unrelated IDs, each refused as the other.
        let (user, video) = (
            ids.encode_id(Kind::User, id),
            ids.encode_id(Kind::Video, id),
        );
        assert_ne!(user, video);
        assert!(ids.decode_id("id", Kind::User, &video).is_err());
        assert!(ids.decode_id("id", Kind::Video, &user).is_err());
        for _ in 0..1000 {
            let text = ids.encode_id(Kind::Video, Uuid::now_v7());
            assert!(ids.decode_id("id", Kind::User, &text).is_err(), "{text}");
        }
    }

    #[test]
    fn ids_are_stable_under_the_same_key_and_differ_under_another() {
        let id = Uuid::now_v7();
        let text = IdCodec::new(&key(7)).encode_id(Kind::User, id);
        let again = IdCodec::new(&IdKey::from_hex(&key(7).to_hex()).expect("hex"));
        assert_eq!(again.encode_id(Kind::User, id), text);
        assert_eq!(again.decode_id("id", Kind::User, &text).ok(), Some(id));
        let other = IdCodec::new(&key(8));
        assert_ne!(other.encode_id(Kind::User, id), text);
        assert!(other.decode_id("id", Kind::User, &text).is_err());
        assert_eq!(other.decode_any_id(&text), None);
    }

    #[test]
    fn an_id_does_not_contain_its_uuid_or_its_time() {
        let ids = IdCodec::new(&key(2));
        let id = Uuid::now_v7();
        let bytes = URL_SAFE_NO_PAD
            .decode(ids.encode_id(Kind::User, id))
            .expect("base64url");
        let uuid = id.as_bytes();
        // Not the UUID, nor its 48-bit millisecond timestamp, anywhere in the ID.
        assert!(!bytes.windows(16).any(|w| w == uuid));
        assert!(!bytes.windows(6).any(|w| w == &uuid[..6]));
        // Consecutive accounts (UUIDv7s one apart) get IDs that share no prefix.
        let next = Uuid::from_u128(id.as_u128() + 1);
        let a = ids.encode_id(Kind::User, id);
        let b = ids.encode_id(Kind::User, next);
        assert_ne!(a[..4], b[..4], "{a} {b}");
    }

    #[test]
    fn forged_tampered_and_foreign_ids_are_refused() {
        let ids = IdCodec::new(&key(3));
        let text = ids.encode_id(Kind::User, Uuid::now_v7());
        for bit in 0..ID_LEN * 8 {
            let tampered = flip(&text, bit);
            assert!(
                ids.decode_id("id", Kind::User, &tampered).is_err(),
                "bit {bit}"
            );
            assert_eq!(ids.decode_any_id(&tampered), None, "bit {bit}");
        }
        let plain_old = URL_SAFE_NO_PAD.encode([&[b'U'][..], Uuid::now_v7().as_bytes()].concat());
        let forged = URL_SAFE_NO_PAD.encode([0u8; ID_LEN]);
        let foreign = IdCodec::new(&key(4)).encode_id(Kind::User, Uuid::now_v7());
        for bad in [
            plain_old.as_str(),
            &forged,
            &foreign,
            &text[..31],
            &format!("{text}A"),
            "",
            "not an id",
        ] {
            let e = ids.decode_id("userId", Kind::User, bad).expect_err(bad);
            assert_eq!(e.code(), "BAD_USER_INPUT", "{bad}");
            assert_eq!(ids.decode_any_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        for text in ["", "00", &"g".repeat(64), &"0".repeat(63), &"0".repeat(66)] {
            assert!(IdKey::from_hex(text).is_err(), "{text:?}");
        }
        let key = IdKey::random();
        assert_eq!(
            IdKey::from_hex(&format!("{}\n", key.to_hex())).ok(),
            Some(key)
        );
        assert_ne!(IdKey::random(), IdKey::random());
    }

    #[test]
    fn cursors_round_trip_and_carry_nothing_readable() {
        let codec = CursorCodec::new(&key(5));
        let ks = Keyset {
            time: 1_700_000_000_123_456,
            id: Uuid::now_v7(),
        };
        let c = codec.encode(CursorKind::Users, ks).expect("encode");
        assert_eq!(c.len(), 54, "{c}");
        assert_eq!(codec.decode(CursorKind::Users, &c).ok(), Some(ks));
        // Stable: the same position, the same cursor, under a codec built again.
        assert_eq!(
            CursorCodec::new(&key(5))
                .encode(CursorKind::Users, ks)
                .expect("encode"),
            c
        );
        let bytes = URL_SAFE_NO_PAD.decode(&c).expect("base64url");
        assert!(!bytes.windows(8).any(|w| w == ks.time.to_be_bytes()));
        assert!(!bytes.windows(6).any(|w| w == &ks.id.as_bytes()[..6]));
        // Positions one microsecond apart share no prefix: nothing orders them.
        let later = codec
            .encode(
                CursorKind::Users,
                Keyset {
                    time: ks.time + 1,
                    ..ks
                },
            )
            .expect("encode");
        assert_ne!(c[..4], later[..4], "{c} {later}");
    }

    #[test]
    fn forged_tampered_foreign_and_other_kind_cursors_are_refused() {
        let codec = CursorCodec::new(&key(6));
        let ks = Keyset {
            time: 42,
            id: Uuid::now_v7(),
        };
        let c = codec.encode(CursorKind::Likers, ks).expect("encode");
        assert!(codec.decode(CursorKind::Videos, &c).is_err());
        assert!(CursorCodec::new(&key(9))
            .decode(CursorKind::Likers, &c)
            .is_err());
        for bit in 0..CURSOR_LEN * 8 {
            assert!(
                codec.decode(CursorKind::Likers, &flip(&c, bit)).is_err(),
                "bit {bit}"
            );
        }
        let ids = IdCodec::new(&key(6));
        for bad in [
            URL_SAFE_NO_PAD.encode([0u8; CURSOR_LEN]),
            ids.encode_id(Kind::Video, ks.id),
            c[..53].to_owned(),
            format!("{c}A"),
            String::new(),
        ] {
            let e = codec.decode(CursorKind::Likers, &bad).expect_err(&bad);
            assert_eq!(e.code(), "BAD_USER_INPUT", "{bad}");
        }
    }
}
