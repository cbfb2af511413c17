//! What a case is made of. Everything is plain data (so proptest can print and shrink it)
//! and is rendered into a request against the schema model and the fixture (`render`).
//!
//! A case is an `Authorization` header ([`auth`]), a `Content-Type` and a body: one operation
//! or a batch of them ([`documents`]), or bytes, text, JSON, nested or sized JSON, a cut
//! operation; the values in them come from [`values`].
mod auth;
mod documents;
mod values;

use proptest::prelude::*;
use serde_json::Value;

pub(crate) use self::{auth::*, documents::*, values::*};

#[derive(Debug, Clone)]
pub(crate) enum Body {
    One(Op),
    Batch(Vec<Op>),
    Bytes(Vec<u8>),
    Text(Text),
    Json(Value),
    /// JSON arrays (or objects) nested `n` deep.
    JsonNest {
        n: u32,
        array: bool,
    },
    /// A body `extra` bytes longer (or shorter) than the limit: valid JSON or garbage.
    Sized {
        extra: i32,
        json: bool,
    },
    /// An operation's JSON cut short.
    Cut(Op, u16),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        24 => op().prop_map(Body::One),
        3 => prop_oneof![
            3 => prop::collection::vec(op(), 1..4),
            1 => prop::collection::vec(op(), 0..14),
        ].prop_map(Body::Batch),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Bytes),
        1 => text().prop_map(Body::Text),
        1 => json_value().prop_map(Body::Json),
        1 => (depth(), any::<bool>()).prop_map(|(n, array)| Body::JsonNest { n, array }),
        1 => (prop_oneof![-3i32..=3, 1i32..200_000], prop::bool::weighted(0.8))
            .prop_map(|(extra, json)| Body::Sized { extra, json }),
        1 => (op(), any::<u16>()).prop_map(|(o, at)| Body::Cut(o, at)),
    ]
}

pub(crate) const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    "application/json; charset=latin1",
    "image/png",
    "*/*",
];

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) auth: Auth,
    pub(crate) content_type: Option<u8>,
    pub(crate) body: Body,
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    (
        auth(),
        prop_oneof![8 => Just(Some(0u8)), 1 => Just(None), 2 => any::<u8>().prop_map(Some)],
        body(),
    )
        .prop_map(|(auth, content_type, body)| Case {
            auth,
            content_type,
            body,
        })
}
