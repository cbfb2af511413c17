//! GraphQL over HTTP as the GraphQL Foundation's specification says: the media type of an
//! answer (`Accept` negotiation), what a POST body or a GET query string must hold, and the
//! status of an answer. `startup` puts these together into the `/graphql` routes.
use actix_web::{
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    web, HttpResponse,
};
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError, Variables};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media types a GraphQL answer may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: a request error (nothing executed) is a 400.
    GraphQLResponse,
    /// `application/json`: every well-formed request is answered 200, request errors too.
    Json,
}

impl MediaType {
    /// The `Content-Type` of an answer in this media type.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// What the client prefers, among what the server can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A GraphQL answer in this media type.
    GraphQL(MediaType),
    /// An HTML page: the GraphiQL playground.
    Playground,
}

/// The client's choice by its `Accept` header, HTTP's way: each candidate takes the
/// quality of the most specific range that matches it; the highest quality wins. On a tie
/// `application/json` wins unless `application/graphql-response+json` is named explicitly
/// (so `*/*`, `application/*` and a missing header get `application/json`, as the
/// specification asks while clients migrate), and HTML wins only when preferred outright (a
/// browser's `text/html,…,*/*;q=0.8`). `playground`: whether HTML is on offer at all.
/// `None`: nothing the server can answer in (406).
pub fn negotiate(accept: Option<&HeaderValue>, playground: bool) -> Option<Wanted> {
    let text = accept
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if text.is_empty() {
        return Some(Wanted::GraphQL(MediaType::Json));
    }
    let ranges: Vec<(&str, &str, u16)> = text.split(',').filter_map(media_range).collect();
    // (candidate, type, subtype, bonus for being named explicitly), in tie-break order.
    let mut candidates = vec![
        (Wanted::GraphQL(MediaType::Json), "application", "json", 0),
        (
            Wanted::GraphQL(MediaType::GraphQLResponse),
            "application",
            "graphql-response+json",
            1,
        ),
    ];
    if playground {
        candidates.push((Wanted::Playground, "text", "html", 0));
    }
    let mut best: Option<(Wanted, (u16, u8))> = None;
    for (wanted, ty, sub, bonus) in candidates {
        let matched = ranges
            .iter()
            .filter_map(|&(rt, rs, q)| {
                let specificity = match (rt, rs) {
                    ("*", "*") => 0,
                    (t, "*") if t.eq_ignore_ascii_case(ty) => 1,
                    (t, s) if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub) => {
                        2 + bonus
                    }
                    _ => return None,
                };
                Some((specificity, q))
            })
            .max_by_key(|&(specificity, _)| specificity);
        let Some((specificity, q)) = matched else {
            continue;
        };
        if q == 0 {
            continue;
        }
        if best.is_none_or(|(_, key)| (q, specificity) > key) {
            best = Some((wanted, (q, specificity)));
        }
    }
    best.map(|(wanted, _)| wanted)
}

/// One media range of `Accept`: type, subtype and quality in thousandths; `None` for a
/// range that is not `type/subtype` or has an unreadable `q`.
fn media_range(range: &str) -> Option<(&str, &str, u16)> {
    let mut parts = range.split(';');
    let (ty, sub) = parts.next()?.trim().split_once('/')?;
    let mut q = 1000;
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            if name.trim().eq_ignore_ascii_case("q") {
                let value: f32 = value.trim().parse().ok()?;
                if !(0.0..=1.0).contains(&value) {
                    return None;
                }
                // In range 0..=1000, so the cast is exact.
                q = (value * 1000.0).round() as u16;
            }
        }
    }
    Some((ty.trim(), sub.trim(), q))
}

/// A request refused before anything ran: the HTTP status and the message for the client.
pub type Refusal = (StatusCode, String);

/// A POST body must be `application/json` (UTF-8, the default, or said so by `charset`):
/// anything else is 415, so that a browser cannot send a request without a CORS preflight.
pub fn check_content_type(value: Option<&HeaderValue>) -> Result<(), Refusal> {
    let refuse = |what: &str| {
        let message =
            format!("a POST to /graphql must have `Content-Type: application/json`{what}");
        Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message))
    };
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return refuse("");
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return refuse(&format!(", not `{}`", text.trim()));
    }
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
                return refuse(&format!(" in UTF-8, not `{value}`"));
            }
        }
    }
    Ok(())
}

/// The parameters of one GraphQL request, with the types the specification gives them.
#[derive(Deserialize)]
struct Params {
    /// Absent only where `extensions.persistedQuery` names a stored document.
    #[serde(default)]
    query: Option<String>,
    #[serde(rename = "operationName", default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default)]
    extensions: Option<Map<String, Value>>,
}

impl Params {
    fn into_request(self) -> Result<Request, String> {
        let persisted = self
            .extensions
            .as_ref()
            .is_some_and(|e| e.contains_key("persistedQuery"));
        let query = match self.query {
            Some(query) => query,
            None if persisted => String::new(),
            None => return Err("missing field `query`".into()),
        };
        let mut request = Request::new(query);
        if let Some(name) = self.operation_name.filter(|n| !n.is_empty()) {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            request = request.variables(Variables::from_json(Value::Object(variables)));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_value(Value::Object(extensions))
                .map_err(|e| format!("`extensions` is not a map: {e}"))?;
        }
        Ok(request)
    }
}

/// The request, or non-empty batch of requests, in a POST body: a JSON object (or a list
/// of them) whose `query` is a string, `operationName` a string or null, `variables` and
/// `extensions` maps or null; else the message to refuse it with (400).
pub fn post_body(bytes: &[u8]) -> Result<BatchRequest, String> {
    let not_a_request = |e: String| format!("the request body is not a GraphQL request: {e}");
    let value: Value = serde_json::from_slice(bytes).map_err(|e| not_a_request(e.to_string()))?;
    let one = |v: Value| -> Result<Request, String> {
        if !v.is_object() {
            return Err("a request must be a JSON object".into());
        }
        Params::deserialize(v)
            .map_err(|e| e.to_string())?
            .into_request()
    };
    match value {
        Value::Array(items) if items.is_empty() => Err(not_a_request("the batch is empty".into())),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| one(v).map_err(|e| not_a_request(format!("operation {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()
            .map(BatchRequest::Batch),
        other => one(other).map(BatchRequest::Single).map_err(not_a_request),
    }
}

/// The request in a GET query string: `query`, and optionally `operationName` and
/// `variables` and `extensions` as JSON text; else the message to refuse it with (400).
pub fn get_params(query_string: &str) -> Result<Request, String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query_string)
        .map_err(|e| format!("the query string could not be read: {e}"))?
        .into_inner();
    let mut map = Map::new();
    for (name, value) in pairs {
        let value = match name.as_str() {
            "query" | "operationName" => Value::String(value),
            "variables" | "extensions" => {
                serde_json::from_str(&value).map_err(|e| format!("`{name}` is not JSON: {e}"))?
            }
            _ => continue,
        };
        if map.insert(name.clone(), value).is_some() {
            return Err(format!("`{name}` is given more than once"));
        }
    }
    let persisted = map
        .get("extensions")
        .is_some_and(|e| e.get("persistedQuery").is_some());
    if !map.contains_key("query") && !persisted {
        return Err("a GET request to /graphql needs a `query` parameter".into());
    }
    Params::deserialize(Value::Object(map))
        .map_err(|e| format!("the query string is not a GraphQL request: {e}"))?
        .into_request()
}

/// An answer with `errors` only (nothing ran), in `media`.
pub fn errors_answer(media: MediaType, status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, media.content_type()))
        .insert_header((header::VARY, "Accept"))
        .body(body.to_string())
}

/// One operation's response as sent: without `data` when it never ran (a request error:
/// the document did not parse or validate, a limit refused it, a variable was not of its
/// type), as the GraphQL specification says.
#[derive(Serialize)]
#[serde(untagged)]
enum Sent<'a> {
    Executed(&'a Response),
    Refused {
        errors: &'a [ServerError],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    },
}

impl<'a> Sent<'a> {
    fn new(response: &'a Response, executed: bool) -> Self {
        if executed {
            Sent::Executed(response)
        } else {
            Sent::Refused {
                errors: &response.errors,
                extensions: &response.extensions,
            }
        }
    }
}

/// The HTTP answer to a request or batch that went to the schema; `executed[i]`: whether
/// operation `i` got as far as execution. In `application/graphql-response+json` a single
/// request that never ran is a 400; everything else is a 200 (a batch's operations each
/// carry their own errors).
pub fn answer(media: MediaType, response: &BatchResponse, executed: &[bool]) -> HttpResponse {
    let ran = |i: usize| executed.get(i).copied().unwrap_or(true);
    let (status, body) = match response {
        BatchResponse::Single(r) => {
            let status = if media == MediaType::GraphQLResponse && !ran(0) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, serde_json::to_vec(&Sent::new(r, ran(0))))
        }
        BatchResponse::Batch(rs) => {
            let sent: Vec<Sent<'_>> = rs
                .iter()
                .enumerate()
                .map(|(i, r)| Sent::new(r, ran(i)))
                .collect();
            (StatusCode::OK, serde_json::to_vec(&sent))
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL response could not be serialized");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CONTENT_TYPE, media.content_type()))
        .insert_header((header::VARY, "Accept"));
    if response.is_ok() {
        if let Some(value) = response.cache_control().value() {
            builder.insert_header((header::CACHE_CONTROL, value));
        }
    }
    // async-graphql's headers are of another `http` version than actix-web's.
    for (name, value) in response.http_headers_iter() {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    builder.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> Option<Wanted> {
        negotiate(Some(&HeaderValue::from_str(accept).expect("header")), true)
    }

    const JSON: Option<Wanted> = Some(Wanted::GraphQL(MediaType::Json));
    const GQL: Option<Wanted> = Some(Wanted::GraphQL(MediaType::GraphQLResponse));

    #[test]
    fn accept_negotiation_follows_the_specification() {
        assert_eq!(negotiate(None, true), JSON);
        assert_eq!(pick("*/*"), JSON);
        assert_eq!(pick("application/*"), JSON);
        assert_eq!(pick("application/json"), JSON);
        assert_eq!(pick("application/graphql-response+json"), GQL);
        assert_eq!(
            pick("application/graphql-response+json, application/json"),
            GQL
        );
        assert_eq!(
            pick("application/json, application/graphql-response+json;q=0.9"),
            JSON
        );
        assert_eq!(pick("application/graphql-response+json;q=0.5, */*"), JSON);
        assert_eq!(
            pick("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Some(Wanted::Playground)
        );
        assert_eq!(pick("text/html, application/json"), JSON);
        assert_eq!(pick("text/plain"), None);
        assert_eq!(pick("application/json;q=0"), None);
        let html = HeaderValue::from_static("text/html");
        assert_eq!(negotiate(Some(&html), false), None);
    }

    #[test]
    fn post_bodies_need_the_specified_parameter_types() {
        assert!(post_body(
            br#"{"query":"{ a }","variables":null,"operationName":null,"extensions":null}"#
        )
        .is_ok());
        assert!(post_body(br#"[{"query":"{ a }"},{"query":"{ b }"}]"#).is_ok());
        for bad in [
            r#"{"notquery":"{ a }"}"#,
            r#"{"query":0}"#,
            r#"{"query":"{ a }","operationName":false}"#,
            r#"{"query":"{ a }","variables":"x"}"#,
            r#"{"query":"{ a }","extensions":[1]}"#,
            r#"[]"#,
            r#"[{"query":"{ a }"}, 1]"#,
            r#""{ a }""#,
            r#"{ "not json"#,
        ] {
            assert!(post_body(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_type_must_be_json_in_utf_8() {
        let ct = |v: &str| check_content_type(Some(&HeaderValue::from_str(v).expect("header")));
        assert!(ct("application/json").is_ok());
        assert!(ct("Application/JSON; charset=UTF-8").is_ok());
        assert!(ct("application/json; charset=latin1").is_err());
        assert!(ct("text/plain").is_err());
        assert!(check_content_type(None).is_err());
    }
}
