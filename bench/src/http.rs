//! The HTTP client side of both binaries: GraphQL requests and waiting for `/readyz`.
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::machine;

/// A `POST` of a GraphQL request `body` (JSON, serialised here) to `url`, with the bearer
/// `token` if any. Built apart from [`send_text`] so that a timed request can start its clock
/// after the body is serialised.
pub fn graphql_request(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    let req = http.post(url).json(body);
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// Sends a request: the HTTP status and the body as text.
pub async fn send_text(req: reqwest::RequestBuilder) -> reqwest::Result<(u16, String)> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// Waits for `{base}/readyz` to answer 200, polling every 100 ms; fails after `within`, or at
/// once if the server process `pid` goes away.
pub async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    pid: Option<u32>,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let url = format!("{base}/readyz");
    loop {
        let status = http.get(&url).send().await.map(|r| r.status().as_u16());
        if status.is_ok_and(|s| s == 200) {
            return Ok(());
        }
        if pid.is_some_and(|p| !machine::alive(p)) {
            bail!("the server process exited before it was ready");
        }
        if Instant::now() > deadline {
            bail!("the server was not ready within {} s", within.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
