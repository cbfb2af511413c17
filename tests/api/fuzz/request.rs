//! A request as sent, and the status the service owes it: computed from the request (body
//! media type and size, whether it is a GraphQL request or batch as GraphQL over HTTP
//! defines one, batch size, and whether the `Authorization` header must be accepted).
use serde_json::Value;
use tally::config::Limits;

/// Whether the `Authorization` header must be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cred {
    Anonymous,
    Valid,
    Invalid,
}

impl Cred {
    /// A token the service must accept (`valid`) or refuse.
    pub(crate) fn token(valid: bool) -> Cred {
        if valid {
            Cred::Valid
        } else {
            Cred::Invalid
        }
    }
}

/// A request as sent.
pub(crate) struct Rendered {
    pub(crate) authorization: Option<Vec<u8>>,
    pub(crate) cred: Cred,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Rendered {
    /// A JSON body with no `Authorization` header (`cred` says whether one is expected).
    pub(crate) fn json(cred: Cred, body: Value) -> Rendered {
        Rendered {
            authorization: None,
            cred,
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
        }
    }

    /// The status the service must answer with, and the batch size if a 200 is an array.
    /// The server runs with the default limits ([`Limits::default`]).
    pub(crate) fn expected(&self) -> (u16, Option<usize>) {
        let limits = Limits::default();
        if !is_json_in_utf8(self.content_type.as_deref()) {
            return (415, None);
        }
        if self.body.len() > limits.max_body_bytes {
            return (413, None);
        }
        let batch = match graphql_request_shape(&self.body) {
            None => return (400, None),
            Some(None) => None,
            Some(Some(n)) if n > limits.max_batch => return (400, None),
            Some(Some(n)) => Some(n),
        };
        match self.cred {
            Cred::Invalid => (401, None),
            Cred::Anonymous | Cred::Valid => (200, batch),
        }
    }

    /// A copy-pasteable description (the body cut to a readable length).
    pub(crate) fn describe(&self) -> String {
        let shown = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            if s.chars().count() > 1500 {
                let head: String = s.chars().take(1500).collect();
                format!("{head}… ({} bytes in all)", b.len())
            } else {
                s.into_owned()
            }
        };
        format!(
            "Authorization: {} ({:?})\nContent-Type: {}\nbody: {}",
            self.authorization
                .as_deref()
                .map_or("<none>".to_owned(), shown),
            self.cred,
            self.content_type.as_deref().unwrap_or("<none>"),
            shown(&self.body)
        )
    }
}

/// Whether a POST's `Content-Type` is `application/json` in UTF-8 (GraphQL over HTTP: any
/// other is 415).
fn is_json_in_utf8(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    parts
        .next()
        .is_some_and(|e| e.eq_ignore_ascii_case("application/json"))
        && parts.all(|p| match p.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

/// `None` if `body` is not a GraphQL request as GraphQL over HTTP defines one (a JSON
/// object with a string `query`, `operationName` a string or null, `variables` and
/// `extensions` objects or null) nor a non-empty list of them; else `Some(None)` for one
/// request and `Some(Some(n))` for a batch of `n`.
fn graphql_request_shape(body: &[u8]) -> Option<Option<usize>> {
    fn one(v: &Value) -> bool {
        let Some(o) = v.as_object() else {
            return false;
        };
        let absent_null_or =
            |k: &str, ok: fn(&Value) -> bool| o.get(k).is_none_or(|v| v.is_null() || ok(v));
        o.get("query").is_some_and(Value::is_string)
            && absent_null_or("operationName", Value::is_string)
            && absent_null_or("variables", Value::is_object)
            && absent_null_or("extensions", Value::is_object)
    }
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Array(items) if !items.is_empty() && items.iter().all(one) => {
            Some(Some(items.len()))
        }
        v if one(&v) => Some(None),
        _ => None,
    }
}
