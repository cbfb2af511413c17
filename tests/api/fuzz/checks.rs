//! The checks on an answer (status, batch shape, error codes, no internal text) and on the
//! server after it (no panic, still running, still serving), and sending a case.
use std::{cell::RefCell, collections::BTreeMap};

use serde_json::{json, Value};
use tally::error::ErrorCode;

use super::{fixture::Fixture, request::Rendered, server::Server};

/// Text that must never reach a client (internal detail).
const LEAKS: [&str; 7] = [
    "panicked at",
    "src/",
    "DbErr",
    "sqlx",
    "error returned from database",
    "RUST_BACKTRACE",
    "stack backtrace",
];

/// What the answers looked like over the run.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) statuses: BTreeMap<u16, u32>,
    pub(crate) codes: BTreeMap<String, u32>,
    /// Operations answered with data and no error.
    pub(crate) clean: u32,
    /// Operations whose `data` held something besides `__typename`/null.
    pub(crate) resolved: u32,
}

/// Checks one error entry.
fn check_error(e: &Value, want: Option<&str>, stats: &mut Stats) -> Result<(), String> {
    let message = e["message"]
        .as_str()
        .ok_or_else(|| format!("an error without a message: {e}"))?;
    let code = e["extensions"]["code"]
        .as_str()
        .ok_or_else(|| format!("an error without extensions.code: {e}"))?;
    *stats.codes.entry(code.to_owned()).or_default() += 1;
    // The documented codes are the service's own list (README, "Errors").
    if !ErrorCode::ALL.iter().any(|c| c.as_str() == code) {
        return Err(format!("undocumented code {code}: {e}"));
    }
    if code == ErrorCode::Internal.as_str() {
        return Err(format!("INTERNAL for client input: {e}"));
    }
    if let Some(want) = want {
        if code != want {
            return Err(format!("code {code}, expected {want}: {e}"));
        }
    }
    if let Some(leak) = LEAKS.iter().find(|l| message.contains(*l)) {
        return Err(format!("the message carries `{leak}`: {e}"));
    }
    Ok(())
}

fn check_response(r: &Value, stats: &mut Stats) -> Result<(), String> {
    let obj = r
        .as_object()
        .ok_or_else(|| format!("a response that is not an object: {r}"))?;
    if !obj.contains_key("data") && !obj.contains_key("errors") {
        return Err(format!("a response without data or errors: {r}"));
    }
    match obj.get("errors") {
        None => stats.clean += 1,
        Some(Value::Array(errors)) if !errors.is_empty() => {
            for e in errors {
                check_error(e, None, stats)?;
            }
        }
        Some(other) => return Err(format!("`errors` is not a non-empty list: {other}")),
    }
    if let Some(Value::Object(data)) = obj.get("data") {
        if data
            .iter()
            .any(|(k, v)| !k.starts_with('t') && !k.starts_with("__") && !v.is_null())
        {
            stats.resolved += 1;
        }
    }
    Ok(())
}

/// The status, batch shape and error codes of one answer.
fn check_answer(req: &Rendered, status: u16, body: &[u8], stats: &mut Stats) -> Result<(), String> {
    *stats.statuses.entry(status).or_default() += 1;
    if status >= 500 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(body)));
    }
    let (want, batch) = req.expected();
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "HTTP {status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    if status != want {
        return Err(format!("HTTP {status}, expected {want}: {json}"));
    }
    match (status, batch) {
        (200, Some(n)) => {
            let items = json
                .as_array()
                .filter(|a| a.len() == n)
                .ok_or_else(|| format!("a batch of {n} answered with {json}"))?;
            for r in items {
                check_response(r, stats)?;
            }
        }
        (200, None) => check_response(&json, stats)?,
        _ => {
            let want_code = if status == 401 {
                ErrorCode::Unauthenticated
            } else {
                ErrorCode::BadUserInput
            };
            let errors = json["errors"]
                .as_array()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| format!("HTTP {status} without errors: {json}"))?;
            for e in errors {
                check_error(e, Some(want_code.as_str()), stats)?;
            }
        }
    }
    Ok(())
}

/// POSTs a rendered request to `/graphql`: the status and the body, or why none came.
pub(crate) async fn send(
    http: &reqwest::Client,
    base: &str,
    req: &Rendered,
) -> Result<(u16, Vec<u8>), String> {
    let mut r = http.post(format!("{base}/graphql")).body(req.body.clone());
    if let Some(ct) = &req.content_type {
        r = r.header("Content-Type", ct.as_str());
    }
    if let Some(a) = &req.authorization {
        let value = reqwest::header::HeaderValue::from_bytes(a)
            .map_err(|e| format!("unsendable header: {e}"))?;
        r = r.header("Authorization", value);
    }
    let resp = r.send().await.map_err(|e| format!("no answer: {e:?}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("answer cut off: {e:?}"))?;
    Ok((status, body.to_vec()))
}

/// After every case: a signed-in read through the database must still be answered.
async fn still_serving(http: &reqwest::Client, base: &str, fx: &Fixture) -> Result<(), String> {
    let alice = &fx.accounts[0];
    let resp = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&alice.token)
        .json(&json!({ "query": "{ viewer { handle } feed(first: 2) { edges { cursor } } }" }))
        .send()
        .await
        .map_err(|e| format!("the next good request got no answer: {e:?}"))?;
    let status = resp.status().as_u16();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("the next good request: {e:?}"))?;
    if status != 200 || body["data"]["viewer"]["handle"] != json!(alice.handle) {
        return Err(format!("the next good request: HTTP {status} {body}"));
    }
    Ok(())
}

/// Sends one case and checks every property; `Err` says what failed.
pub(crate) async fn run_case(
    http: &reqwest::Client,
    server: &RefCell<Server>,
    fx: &Fixture,
    req: &Rendered,
    stats: &mut Stats,
) -> Result<(), String> {
    let base = server.borrow().base.clone();
    let answer = send(http, &base, req).await;
    let mut problems = Vec::new();
    if std::env::var_os("TALLY_FUZZ_SHOW").is_some() {
        if let Ok((status, body)) = &answer {
            let text: String = String::from_utf8_lossy(body).chars().take(400).collect();
            eprintln!("=> {status} {text}");
        }
    }
    match &answer {
        Ok((status, body)) => {
            if let Err(e) = check_answer(req, *status, body, stats) {
                problems.push(e);
            }
        }
        Err(e) => problems.push(e.clone()),
    }
    let panics = server.borrow().take_panics();
    if !panics.is_empty() {
        problems.push(format!("the server panicked: {}", panics.join("\n")));
    }
    let exited = server.borrow_mut().exited();
    if let Some(how) = exited {
        problems.push(format!("the server died ({how})"));
    } else if let Err(e) = still_serving(http, &base, fx).await {
        problems.push(e);
    }
    if problems.is_empty() {
        return Ok(());
    }
    let log = server.borrow().log_tail();
    if server.borrow_mut().exited().is_some() {
        server.borrow_mut().restart();
    }
    Err(format!(
        "{}\n--- request\n{}\n--- server log (tail)\n{log}",
        problems.join("\n"),
        req.describe()
    ))
}
