//! Opaque IDs and cursors.
//!
//! An ID is `base64url(kind byte ‖ UUIDv7)`: typed, not enumerable, carrying nothing but
//! the row's identity. A cursor is `base64url(kind ‖ time ‖ UUID ‖ HMAC tag)`: the tag,
//! keyed by a server secret, is how the service knows it issued the cursor.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What a global ID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Video,
}

impl Kind {
    fn tag(self) -> u8 {
        match self {
            Kind::User => b'U',
            Kind::Video => b'V',
        }
    }

    fn from_tag(tag: u8) -> Option<Kind> {
        match tag {
            b'U' => Some(Kind::User),
            b'V' => Some(Kind::Video),
            _ => None,
        }
    }
}

/// The API ID of a row.
pub fn encode_id(kind: Kind, id: Uuid) -> String {
    let mut bytes = Vec::with_capacity(17);
    bytes.push(kind.tag());
    bytes.extend_from_slice(id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes any well-formed ID; `None` when it is not one.
pub fn decode_any_id(text: &str) -> Option<(Kind, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (&tag, rest) = bytes.split_first()?;
    let kind = Kind::from_tag(tag)?;
    Some((kind, Uuid::from_slice(rest).ok()?))
}

/// Decodes an ID that must name a `kind`; anything else is `BAD_USER_INPUT` on `field`.
pub fn decode_id(field: &str, kind: Kind, text: &str) -> AppResult<Uuid> {
    match decode_any_id(text) {
        Some((k, id)) if k == kind => Ok(id),
        _ => Err(AppError::bad_input(
            field,
            format!("`{field}` is not a valid {kind:?} ID"),
        )),
    }
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
}

type HmacSha256 = Hmac<Sha256>;
const TAG_LEN: usize = 12;

/// Signs and checks cursors.
#[derive(Clone)]
pub struct CursorCodec {
    key: [u8; 32],
}

impl CursorCodec {
    /// A codec keyed from the server secret (so every instance sharing it agrees).
    pub fn new(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"tally-cursor-v1");
        h.update(secret);
        CursorCodec {
            key: h.finalize().into(),
        }
    }

    fn tag(&self, payload: &[u8]) -> AppResult<[u8; TAG_LEN]> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(AppError::internal)?;
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        Ok(tag)
    }

    /// The cursor of `keyset` in a list of `kind`.
    pub fn encode(&self, kind: CursorKind, keyset: Keyset) -> AppResult<String> {
        let mut bytes = Vec::with_capacity(25 + TAG_LEN);
        bytes.push(kind as u8);
        bytes.extend_from_slice(&keyset.time.to_be_bytes());
        bytes.extend_from_slice(keyset.id.as_bytes());
        let tag = self.tag(&bytes)?;
        bytes.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Decodes an `after` argument; a cursor this service did not issue for a list of
    /// `kind` is `BAD_USER_INPUT` on `after`.
    pub fn decode(&self, kind: CursorKind, text: &str) -> AppResult<Keyset> {
        let bad = || AppError::bad_input("after", "`after` is not a cursor issued by this service");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        if bytes.len() != 25 + TAG_LEN || bytes[0] != kind as u8 {
            return Err(bad());
        }
        let (payload, tag) = bytes.split_at(25);
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(AppError::internal)?;
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| bad())?;
        let mut time = [0u8; 8];
        time.copy_from_slice(&payload[1..9]);
        let id = Uuid::from_slice(&payload[9..25]).map_err(|_| bad())?;
        Ok(Keyset {
            time: i64::from_be_bytes(time),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let id = Uuid::now_v7();
        let text = encode_id(Kind::Video, id);
        assert_eq!(decode_id("id", Kind::Video, &text).ok(), Some(id));
        assert!(decode_id("id", Kind::User, &text).is_err());
        assert!(decode_id("id", Kind::User, "not-an-id").is_err());
    }

    #[test]
    fn forged_or_foreign_cursors_are_refused() {
        let codec = CursorCodec::new(b"secret");
        let ks = Keyset {
            time: 42,
            id: Uuid::now_v7(),
        };
        let c = codec.encode(CursorKind::Likers, ks).expect("encode");
        assert_eq!(codec.decode(CursorKind::Likers, &c).ok(), Some(ks));
        assert!(codec.decode(CursorKind::Videos, &c).is_err());
        assert!(CursorCodec::new(b"other")
            .decode(CursorKind::Likers, &c)
            .is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).expect("b64");
        bytes[3] ^= 1;
        assert!(codec
            .decode(CursorKind::Likers, &URL_SAFE_NO_PAD.encode(bytes))
            .is_err());
    }
}
