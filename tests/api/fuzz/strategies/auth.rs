//! `Authorization` headers: real tokens (spelled in several ways, or tampered with), random
//! bytes and JWT-shaped garbage, tokens signed with the right key and claims each fine or
//! wrong, with another key, and the identity provider's tokens. Each spec knows whether
//! the service must accept it.
use chrono::Utc;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{json_value, text, Text};
use crate::{fuzz::fixture::Fixture, helpers::ids};

/// How a fixture token is tampered with.
#[derive(Debug, Clone)]
pub(crate) enum Tamper {
    Flip {
        part: u8,
        bit: u16,
    },
    /// `sub` set to another account's (or a video's) ID, signature kept.
    Sub(u8),
    /// A claim set to any JSON, signature kept.
    Claim {
        name: u8,
        value: Value,
    },
    AlgNone {
        keep_sig: bool,
    },
    Alg(u8),
    Kid(u8),
    NoSig(bool),
    ExtraSegment,
    Cut(u16),
    Space(u16),
    SwapCase,
}

/// Claims of a token signed with the right key, each fine (0) or wrong in some way.
#[derive(Debug, Clone)]
pub(crate) struct ClaimsSpec {
    pub(crate) sub: u8,
    pub(crate) user: u8,
    pub(crate) uuid: u128,
    pub(crate) iss: u8,
    pub(crate) aud: u8,
    pub(crate) iat: u8,
    pub(crate) exp: u8,
    pub(crate) nbf: u8,
    pub(crate) kid: Option<u8>,
}

impl ClaimsSpec {
    /// Whether the service must accept it (see `src/auth/token.rs`). A well-formed `sub`
    /// naming no account (case 1, a fresh UUID) is refused like a deleted account's.
    pub(crate) fn valid(&self) -> bool {
        self.sub.is_multiple_of(7)
            && self.iss.is_multiple_of(5)
            && self.aud.is_multiple_of(5)
            && matches!(self.iat % 5, 0 | 4)
            && matches!(self.exp % 9, 0 | 2 | 5)
            && matches!(self.nbf % 5, 0 | 2 | 3)
            && self.kid.is_none()
    }

    pub(crate) fn claims(&self, fx: &Fixture) -> Value {
        let now = Utc::now().timestamp();
        let mut c = Map::new();
        let mut set = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                c.insert(k.to_owned(), v);
            }
        };
        let account = &fx.accounts[usize::from(self.user) % fx.accounts.len()];
        // The account's own session: a token valid in every other way is one it could have.
        set("sid", Some(json!(account.sid)));
        set(
            "sub",
            match self.sub % 7 {
                0 => Some(json!(account.id)),
                1 => Some(json!(
                    ids().encode_id(tally::ids::Kind::User, Uuid::from_u128(self.uuid))
                )),
                2 => Some(json!(fx.videos[0])),
                3 => Some(json!("not an id")),
                4 => None,
                5 => Some(json!(42)),
                _ => Some(json!("")),
            },
        );
        set(
            "iss",
            match self.iss % 5 {
                0 => Some(json!("tally")),
                1 => Some(json!("Tally")),
                2 => None,
                3 => Some(json!("")),
                _ => Some(json!(["tally"])),
            },
        );
        set(
            "aud",
            match self.aud % 5 {
                0 => Some(json!("tally-api")),
                1 => Some(json!("tally")),
                2 => None,
                3 => Some(json!(["tally-api"])),
                _ => Some(json!(["other"])),
            },
        );
        set(
            "iat",
            match self.iat % 5 {
                0 => Some(json!(now)),
                1 => None,
                2 => Some(json!("now")),
                3 => Some(json!(1.5)),
                _ => Some(json!(now + 86_400 * 365)),
            },
        );
        set(
            "exp",
            match self.exp % 9 {
                0 => Some(json!(now + 3600)),
                1 => Some(json!(now - 3600)),
                2 => Some(json!(now - 5)),
                3 => None,
                4 => Some(json!("tomorrow")),
                5 => Some(json!(i64::MAX)),
                6 => Some(json!(-1)),
                7 => Some(json!(now as f64 + 3600.5)),
                _ => Some(json!(now - 120)),
            },
        );
        set(
            "nbf",
            match self.nbf % 5 {
                0 => None,
                1 => Some(json!(now + 3600)),
                2 => Some(json!(now - 3600)),
                3 => Some(json!(now + 5)),
                _ => Some(json!("soon")),
            },
        );
        Value::Object(c)
    }
}

/// A token of the identity provider.
#[derive(Debug, Clone)]
pub(crate) struct IdpSpec {
    pub(crate) key: u8,
    /// 0 the key's own `kid`, 1 another key's, 2 unknown.
    pub(crate) kid: u8,
    /// 0 a plain subject, 1 any text, 2 empty, 3 256 characters, 4 255 characters, 5 with NUL.
    pub(crate) sub: u8,
    pub(crate) text: Text,
    pub(crate) iss: bool,
    /// 0 the audience, 1 another, 2 a list containing it, 3 missing.
    pub(crate) aud: u8,
    pub(crate) expired: bool,
}

impl IdpSpec {
    pub(crate) fn subject(&self) -> String {
        match self.sub % 6 {
            0 => format!("fuzz|{}", self.key),
            1 => self.text.render(),
            2 => String::new(),
            3 => "s".repeat(256),
            4 => "é".repeat(255),
            _ => "fuzz\0subject".to_owned(),
        }
    }

    pub(crate) fn valid(&self) -> bool {
        let sub = self.subject();
        self.kid.is_multiple_of(3)
            && !sub.is_empty()
            && sub.chars().count() <= 255
            && !sub.contains('\0')
            && self.iss
            && matches!(self.aud % 4, 0 | 2)
            && !self.expired
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    /// A real token, with `scheme` choosing how the header spells it.
    Fixture {
        user: u8,
        scheme: u8,
    },
    Bytes(Vec<u8>),
    Bearer(Text),
    /// Dot-separated base64url segments of random bytes.
    Shaped(Vec<Vec<u8>>),
    /// base64url(header JSON) . base64url(claims JSON) . base64url(signature bytes).
    Json {
        header: Value,
        claims: Value,
        sig: Vec<u8>,
    },
    Tampered {
        user: u8,
        how: Tamper,
    },
    Signed(ClaimsSpec),
    /// A well-formed token signed with another secret.
    OtherKey(u8),
    Idp(IdpSpec),
}

pub(super) fn auth() -> impl Strategy<Value = Auth> {
    let tamper = prop_oneof![
        3 => (any::<u8>(), any::<u16>()).prop_map(|(part, bit)| Tamper::Flip { part, bit }),
        1 => any::<u8>().prop_map(Tamper::Sub),
        1 => (any::<u8>(), json_value()).prop_map(|(name, value)| Tamper::Claim { name, value }),
        1 => any::<bool>().prop_map(|keep_sig| Tamper::AlgNone { keep_sig }),
        1 => any::<u8>().prop_map(Tamper::Alg),
        1 => any::<u8>().prop_map(Tamper::Kid),
        1 => any::<bool>().prop_map(Tamper::NoSig),
        1 => Just(Tamper::ExtraSegment),
        1 => any::<u16>().prop_map(Tamper::Cut),
        1 => any::<u16>().prop_map(Tamper::Space),
        1 => Just(Tamper::SwapCase),
    ];
    let claims = (
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        any::<u8>(),
        any::<u128>(),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::option::weighted(0.1, any::<u8>()),
    )
        .prop_map(
            |(sub, user, uuid, iss, aud, iat, exp, nbf, kid)| ClaimsSpec {
                sub,
                user,
                uuid,
                iss,
                aud,
                iat,
                exp,
                nbf,
                kid,
            },
        );
    let idp = (
        prop_oneof![6 => 0u8..2, 1 => Just(2u8)],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        text(),
        prop::bool::weighted(0.85),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        prop::bool::weighted(0.15),
    )
        .prop_map(|(key, kid, sub, text, iss, aud, expired)| IdpSpec {
            key,
            kid,
            sub,
            text,
            iss,
            aud,
            expired,
        });
    let header_bytes = prop::collection::vec(
        prop_oneof![
            3 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => Just(b'\t'),
        ],
        0..200,
    );
    prop_oneof![
        6 => Just(Auth::None),
        18 => (any::<u8>(), prop_oneof![6 => Just(0u8), 2 => 1u8..5, 1 => 5u8..11])
            .prop_map(|(user, scheme)| Auth::Fixture { user, scheme }),
        1 => header_bytes.prop_map(Auth::Bytes),
        1 => text().prop_map(Auth::Bearer),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6).prop_map(Auth::Shaped),
        1 => (json_value(), json_value(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(header, claims, sig)| Auth::Json { header, claims, sig }),
        2 => (any::<u8>(), tamper).prop_map(|(user, how)| Auth::Tampered { user, how }),
        2 => claims.prop_map(Auth::Signed),
        1 => any::<u8>().prop_map(Auth::OtherKey),
        2 => idp.prop_map(Auth::Idp),
    ]
}
