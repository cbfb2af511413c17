//! A request ID per HTTP request: the client's `X-Request-Id` when it is well-formed, else
//! a fresh UUID. It is a field of the request's `request` span, so every log line written
//! while the request is handled carries it, and it is echoed in the response's
//! `X-Request-Id` (errors and probes included).
use std::time::Instant;

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    error::InternalError,
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    Error,
};
use tracing::Instrument;
use uuid::Uuid;

/// The header a request ID is read from and echoed in.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-given request ID kept.
pub const MAX_LEN: usize = 64;

/// The request ID of a request whose `X-Request-Id` is `given`: the same when it is 1 to
/// [`MAX_LEN`] characters of `[A-Za-z0-9._-]`, else a fresh UUID (a malformed one might
/// forge log lines or smuggle data into them).
pub fn accept_or_new(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_well_formed(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

fn is_well_formed(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The middleware (outermost on every listener): the `request` span (method, path, request
/// ID), the echoed header, and a log line for each request at `debug` (`warn` for a 5xx).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = accept_or_new(req.headers().get(HEADER));
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        request_id = %id,
    );
    let started = Instant::now();
    // No clone of the request is held meanwhile: routing needs it unshared.
    let answer = span
        .in_scope(|| next.call(req))
        .instrument(span.clone())
        .await;
    let header = HeaderValue::from_str(&id).ok();
    let mut response = match answer {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            // Answered by actix from the error: the ID goes on the answer it makes.
            let mut answer = e.error_response();
            if let Some(value) = header {
                answer.headers_mut().insert(HEADER, value);
            }
            log_answer(&span, answer.status().as_u16(), started);
            return Err(InternalError::from_response(e, answer).into());
        }
    };
    if let Some(value) = header {
        response.headers_mut().insert(HEADER, value);
    }
    log_answer(&span, response.status().as_u16(), started);
    Ok(response)
}

/// The request's last line: `debug`, or `warn` for a 5xx.
fn log_answer(span: &tracing::Span, status: u16, started: Instant) {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request answered");
        } else {
            tracing::debug!(status, elapsed_ms, "request answered");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_replaced() {
        for kept in ["a", "req-1.2_3", &"x".repeat(64), "0123456789ABCDEFabcdef"] {
            let given = HeaderValue::from_str(kept).expect("header");
            assert_eq!(accept_or_new(Some(&given)), kept);
        }
        for bad in [
            "",
            "has space",
            "semi;colon",
            "line\tbreak",
            &"x".repeat(65),
            "ünï",
        ] {
            let Ok(given) = HeaderValue::from_str(bad) else {
                continue;
            };
            let id = accept_or_new(Some(&given));
            assert_ne!(id, bad);
            assert!(Uuid::parse_str(&id).is_ok(), "{id}");
        }
        assert!(Uuid::parse_str(&accept_or_new(None)).is_ok());
    }
}
