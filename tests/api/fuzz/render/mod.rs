//! Rendering a case into the request it stands for, against the schema model and the
//! fixture: values and IDs ([`values`]), documents and operations ([`document`]), the
//! `Authorization` header ([`auth`]), and here the body and the request.
mod auth;
mod document;
mod values;

use serde_json::{Map, Value};
use tally::config::Limits;

use super::{
    fixture::Fixture,
    request::Rendered,
    schema_model::Model,
    strategies::{Body, Case, CONTENT_TYPES},
};

/// Renders cases against the model and the fixture, collecting the variables.
pub(crate) struct Render<'a> {
    m: &'a Model,
    fx: &'a Fixture,
    /// Variable definitions of the operation (`$v0: Int`) and their JSON values.
    defs: Vec<String>,
    vars: Map<String, Value>,
    /// The type condition of each fragment of the document.
    frag_types: Vec<String>,
    /// Rendering a clean document (see [`Doc::chaos`]).
    clean: bool,
    /// Aliases given so far (clean documents alias every field that takes arguments).
    aliases: usize,
}

impl<'a> Render<'a> {
    pub(crate) fn new(m: &'a Model, fx: &'a Fixture) -> Self {
        Render {
            m,
            fx,
            defs: Vec::new(),
            vars: Map::new(),
            frag_types: Vec::new(),
            clean: false,
            aliases: 0,
        }
    }

    fn body(&mut self, b: &Body) -> Vec<u8> {
        match b {
            Body::One(op) => self.op(op).to_string().into_bytes(),
            Body::Batch(ops) => Value::Array(ops.iter().map(|o| self.op(o)).collect())
                .to_string()
                .into_bytes(),
            Body::Bytes(bytes) => bytes.clone(),
            Body::Text(t) => t.render().into_bytes(),
            Body::Json(v) => v.to_string().into_bytes(),
            Body::JsonNest { n, array } => {
                let n = *n as usize;
                if *array {
                    format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()
                } else {
                    format!("{}{{}}{}", "{\"query\": ".repeat(n), "}".repeat(n)).into_bytes()
                }
            }
            Body::Sized { extra, json } => {
                let max_body = Limits::default().max_body_bytes;
                let size = (max_body as i64 + i64::from(*extra)).max(64) as usize;
                if *json {
                    let head = "{\"query\": \"{ __typename }\", \"extensions\": {\"pad\": \"";
                    let tail = "\"}}";
                    let pad = size - head.len() - tail.len();
                    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
                } else {
                    vec![b'#'; size]
                }
            }
            Body::Cut(op, at) => {
                let text = self.op(op).to_string().into_bytes();
                let at = usize::from(*at) % text.len().max(1);
                text[..at].to_vec()
            }
        }
    }

    pub(crate) fn case(&mut self, c: &Case) -> Rendered {
        let (authorization, cred) = self.auth(&c.auth);
        // Bytes no HTTP header may carry (a client cannot send them) become `?`.
        let authorization = authorization.map(|a| {
            a.into_iter()
                .map(|b| {
                    if (b < 0x20 && b != b'\t') || b == 0x7f {
                        b'?'
                    } else {
                        b
                    }
                })
                .collect()
        });
        Rendered {
            authorization,
            cred,
            content_type: c
                .content_type
                .map(|i| CONTENT_TYPES[usize::from(i) % CONTENT_TYPES.len()].to_owned()),
            body: self.body(&c.body),
        }
    }
}
