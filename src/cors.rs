//! CORS: the web origins whose pages may call `/graphql` from a browser
//! (`TALLY_CORS_ORIGINS`). Others get no CORS headers, so their browsers keep the answers
//! from them; the service itself still answers (CORS protects browser users, not the API).
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::header::{self, HeaderName};

/// How long a browser may cache a preflight's answer, in seconds.
pub const MAX_AGE_SECS: usize = 3600;

/// Request headers a web client may send: what GraphQL clients set, and `X-Tally-Device`
/// (the device class a view is recorded with).
pub const ALLOWED_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-tally-device"),
];

/// An allow-list of exact origins (`scheme://host[:port]`, lower-case). Never `*`, and no
/// credentials mode: tokens travel in `Authorization`, which needs neither cookies nor
/// `Access-Control-Allow-Credentials`.
#[derive(Debug, Clone, Default)]
pub struct CorsOrigins(Arc<[String]>);

impl CorsOrigins {
    /// Same-origin only: no page of another origin may read an answer.
    pub fn none() -> Self {
        CorsOrigins::default()
    }

    /// The origins of `list` (empty entries skipped); an entry that is not an exact
    /// `http(s)://host[:port]` origin stops start-up.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> anyhow::Result<Self> {
        let mut origins = Vec::new();
        for entry in list
            .iter()
            .map(|s| s.as_ref().trim())
            .filter(|s| !s.is_empty())
        {
            origins.push(origin(entry).ok_or_else(|| {
                anyhow::anyhow!(
                    "TALLY_CORS_ORIGINS: `{entry}` is not an origin: give exact origins as \
                     `https://host` or `http://host:port` (no `*`, path or trailing slash)"
                )
            })?);
        }
        Ok(CorsOrigins(origins.into()))
    }

    /// The origins allowed.
    pub fn origins(&self) -> &[String] {
        &self.0
    }

    /// The middleware: preflights of listed origins answered (methods GET and POST, the
    /// [`ALLOWED_HEADERS`], [`MAX_AGE_SECS`]), `X-Request-Id` exposed; requests of other origins served without CORS
    /// headers (same-origin pages such as GraphiQL send an `Origin` too).
    pub fn middleware(&self) -> Cors {
        let cors = Cors::default()
            .allowed_methods(["GET", "POST"])
            .allowed_headers(ALLOWED_HEADERS)
            // A page may read the request ID of an answer (to quote it in a report).
            .expose_headers([crate::observability::request_id::HEADER])
            .max_age(MAX_AGE_SECS)
            .block_on_origin_mismatch(false);
        self.0
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin))
    }
}

/// `entry` as a browser serializes an origin, if it is one.
fn origin(entry: &str) -> Option<String> {
    let lower = entry.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let (host_ok, port) = match rest.strip_prefix('[') {
        // An IPv6 literal: `[…]`, then maybe a port.
        Some(v6) => {
            let (address, after) = v6.split_once(']')?;
            let ok = !address.is_empty()
                && address
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            (
                ok,
                (!after.is_empty())
                    .then(|| after.strip_prefix(':'))
                    .map(|p| p.unwrap_or("")),
            )
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            };
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            (ok, port)
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    (host_ok && port_ok).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::CorsOrigins;

    #[test]
    fn origins_must_be_exact() {
        let ok = CorsOrigins::parse(&["https://App.example.com", " http://localhost:5173 ", ""])
            .expect("origins");
        assert_eq!(
            ok.origins(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(CorsOrigins::parse(&["http://[::1]:3000"]).is_ok());
        for bad in [
            "*",
            "https://*.example.com",
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "https://example.com:99999",
            "ftp://example.com",
            "https://user@example.com",
            "null",
        ] {
            assert!(CorsOrigins::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
