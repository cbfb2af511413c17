//! `POST /oauth/token`: the OAuth 2.0 token endpoint of third-party analytics apps, for the
//! client credentials grant only (RFC 6749 §4.4).
//!
//! - The body is `application/x-www-form-urlencoded` (§3.2), `grant_type=client_credentials`
//!   and an optional `scope` (`analytics:read`, the only one). A parameter given twice is
//!   `invalid_request`; one given empty counts as absent (§3.1).
//! - The client authenticates by HTTP Basic (`client_id:client_secret`, each form-encoded,
//!   §2.3.1) or by the `client_id` and `client_secret` parameters — not both (§2.3:
//!   `invalid_request`).
//! - The answer (§5.1) is `{access_token, token_type: "Bearer", expires_in, scope}` with
//!   `Cache-Control: no-store` and `Pragma: no-cache`; an error (§5.2) is
//!   `{error, error_description}`: `invalid_request`, `unsupported_grant_type`,
//!   `invalid_scope` (400), `unauthorized_client` (400: the creator is no longer a
//!   `CREATOR`), `invalid_client` (401 with `WWW-Authenticate: Basic`).
//! - A token request spends a cell of the client's oauth bucket (`TALLY_RATE_OAUTH`) before
//!   its secret is checked (Argon2id); a refused one is 429 `temporarily_unavailable` with
//!   `Retry-After`. A client ID the service did not issue is refused before any work.
use std::sync::Arc;

use actix_web::{
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    web::{self, Data},
    HttpRequest, HttpResponse,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::{
    auth::app_token::{AppGrant, AppTokens, SCOPE},
    domain::apps::{self, Refusal},
    error::AppError,
    ids::{IdCodec, Kind},
    ratelimit::RateLimiter,
};

/// What the token endpoint needs (actix app data).
pub struct TokenEndpoint {
    pub db: DatabaseConnection,
    pub tokens: AppTokens,
    pub ids: IdCodec,
    pub rate_limiter: Arc<RateLimiter>,
}

/// An error answer of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        no_store(&mut r);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tally\", charset=\"UTF-8\""),
            ));
        }
        if let Some(secs) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        r.json(json!({ "error": self.error, "error_description": self.description }))
    }
}

fn no_store(r: &mut actix_web::HttpResponseBuilder) {
    r.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}

/// `POST /oauth/token`.
pub async fn token(
    endpoint: Data<TokenEndpoint>,
    http: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    match grant(&endpoint, &http, body).await {
        Ok(token) => {
            let mut r = HttpResponse::Ok();
            no_store(&mut r);
            r.json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": endpoint.tokens.ttl_secs(),
                "scope": SCOPE,
            }))
        }
        Err(e) => e.response(),
    }
}

/// The request's parameters, each once, empty ones dropped (RFC 6749 §3.1).
fn parameters(http: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let form = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the body is not a form"))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        if out.iter().any(|(n, _)| *n == name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is given more than once"
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A client's credentials as presented: `(client_id, client_secret)`.
type Presented = (String, String);

/// The credentials of HTTP Basic, if the request has an `Authorization` header.
fn basic_credentials(http: &HttpRequest) -> Result<Option<Presented>, OAuthError> {
    let Some(value) = http.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("the Authorization header is not HTTP Basic");
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// One form-encoded component (RFC 6749 §2.3.1: `+` is a space, `%XX` a byte).
fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Checks the request and authenticates its client: the token to answer with.
async fn grant(
    endpoint: &TokenEndpoint,
    http: &HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<String, OAuthError> {
    let body = body.map_err(|e| {
        OAuthError::invalid_request(format!("the request body could not be read: {e}"))
    })?;
    let params = parameters(http, &body)?;
    let basic = basic_credentials(http)?;
    let form = match (param(&params, "client_id"), param(&params, "client_secret")) {
        (None, None) => None,
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        (Some(_), None) | (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client_id and client_secret go together",
            ))
        }
    };
    let (id, secret) = match (basic, form) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "authenticate the client one way: HTTP Basic or client_id and client_secret",
            ))
        }
        (Some(c), None) | (None, Some(c)) => c,
        (None, None) => {
            // Without credentials, a malformed request says so first.
            check_grant_type(&params)?;
            return Err(OAuthError::invalid_client(
                "client authentication is required (HTTP Basic or client_id and client_secret)",
            ));
        }
    };
    check_grant_type(&params)?;
    let Ok(client) = endpoint.ids.decode_id("client_id", Kind::ApiClient, &id) else {
        return Err(OAuthError::invalid_client("unknown client or wrong secret"));
    };
    if let Err(AppError::RateLimited { retry_after_secs }) =
        endpoint.rate_limiter.check_oauth(client).await
    {
        return Err(OAuthError {
            retry_after: Some(retry_after_secs),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!("rate limited, retry after {retry_after_secs} s"),
            )
        });
    }
    let creator = match apps::authenticate(&endpoint.db, client, secret).await {
        Ok(Ok(creator)) => creator,
        Ok(Err(Refusal::InvalidClient)) => {
            return Err(OAuthError::invalid_client("unknown client or wrong secret"))
        }
        Ok(Err(Refusal::Unauthorized)) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "the client's account is no longer a CREATOR account",
            ))
        }
        Err(e) => return Err(server_error(e)),
    };
    if let Some(scope) = param(&params, "scope") {
        if scope.split(' ').any(|s| s != SCOPE) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("the only scope is `{SCOPE}`"),
            ));
        }
    }
    endpoint
        .tokens
        .issue(AppGrant { client, creator }, chrono::Utc::now())
        .map_err(server_error)
}

fn check_grant_type(params: &[(String, String)]) -> Result<(), OAuthError> {
    match param(params, "grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => Ok(()),
        Some(other) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type `{other}` is not supported: use client_credentials"),
        )),
    }
}

/// An internal failure (the database is away): 500 `server_error`, details in the log only.
fn server_error(e: AppError) -> OAuthError {
    if let AppError::Internal(source) = &e {
        tracing::error!(error = %format_args!("{source:#}"), "token endpoint failed");
    }
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal error",
    )
}
