//! The storm's HTTP client: every request timed (seconds since the start of the run) and its
//! answer sorted into an [`Outcome`].
use std::time::Instant;

use serde_json::{json, Value};
use tally_bench::http;

/// How one HTTP exchange ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A GraphQL answer without `errors`, with the expected data.
    Ok,
    /// A GraphQL answer whose errors all carry `extensions.code`; the first code and message.
    Coded {
        status: u16,
        code: String,
        message: String,
    },
    /// Refused by a rate limiter (`RATE_LIMITED`): nothing ran, so nothing is unknown.
    RateLimited,
    /// An answer that breaks the contract (an error without a code, a body that is not a
    /// GraphQL response, unexpected data).
    Bad(String),
    /// No answer at all (connection refused or reset, client timeout).
    Transport(String),
}

/// One timed request: seconds since the start of the run.
#[derive(Debug, Clone)]
pub struct Timed {
    pub sent: f64,
    pub answered: f64,
    pub outcome: Outcome,
}

impl Timed {
    pub fn latency(&self) -> f64 {
        self.answered - self.sent
    }
    pub fn failed(&self) -> bool {
        !matches!(self.outcome, Outcome::Ok | Outcome::RateLimited)
    }
}

/// Shared by every task.
pub struct Ctx {
    pub http: reqwest::Client,
    /// The server's base URL, without a trailing `/`.
    pub base: String,
    pub t0: Instant,
}

impl Ctx {
    pub fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// POSTs a GraphQL request and returns the HTTP status and the parsed body.
    pub async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        vars: Value,
    ) -> Result<(u16, Value), String> {
        let req = http::graphql_request(
            &self.http,
            &format!("{}/graphql", self.base),
            token,
            &json!({ "query": query, "variables": vars }),
        );
        let (status, text) = http::send_text(req).await.map_err(|e| describe(&e))?;
        match serde_json::from_str(&text) {
            Ok(v) => Ok((status, v)),
            Err(_) => Ok((status, Value::String(text))),
        }
    }

    /// A GraphQL request, timed and classified; `expect` checks the `data` of a success.
    pub async fn timed(
        &self,
        token: Option<&str>,
        query: &str,
        vars: Value,
        expect: impl Fn(&Value) -> bool,
    ) -> Timed {
        let sent = self.now();
        let outcome = match self.post(token, query, vars).await {
            Err(e) => Outcome::Transport(e),
            Ok((status, body)) => classify(status, &body, expect),
        };
        Timed {
            sent,
            answered: self.now(),
            outcome,
        }
    }

    /// `GET path`: the status, or `None` when there was no answer.
    pub async fn get(&self, path: &str) -> (Option<u16>, Timed) {
        let sent = self.now();
        let result = self.http.get(format!("{}{path}", self.base)).send().await;
        let answered = self.now();
        match result {
            Ok(r) => (
                Some(r.status().as_u16()),
                Timed {
                    sent,
                    answered,
                    outcome: Outcome::Ok,
                },
            ),
            Err(e) => (
                None,
                Timed {
                    sent,
                    answered,
                    outcome: Outcome::Transport(describe(&e)),
                },
            ),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "client timeout".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        // reqwest's own message ("error sending request for url …") hides the cause; name the
        // whole chain (e.g. hyper's "connection closed before message completed").
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Sorts an answer into an [`Outcome`].
fn classify(status: u16, body: &Value, expect: impl Fn(&Value) -> bool) -> Outcome {
    if !body.is_object() {
        let text = body.to_string();
        return Outcome::Bad(format!(
            "HTTP {status}, not a GraphQL response: {}",
            &text[..text.len().min(120)]
        ));
    }
    match body.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => {
            let mut first = None;
            let mut all_rate_limited = true;
            for e in errors {
                let Some(code) = e.pointer("/extensions/code").and_then(Value::as_str) else {
                    return Outcome::Bad(format!("HTTP {status}, an error without a code: {e}"));
                };
                all_rate_limited &= code == "RATE_LIMITED";
                first.get_or_insert_with(|| {
                    (
                        code.to_owned(),
                        e["message"].as_str().unwrap_or_default().to_owned(),
                    )
                });
            }
            if all_rate_limited {
                return Outcome::RateLimited;
            }
            let (code, message) = first.unwrap_or_default();
            Outcome::Coded {
                status,
                code,
                message,
            }
        }
        _ if status == 200 && expect(&body["data"]) => Outcome::Ok,
        _ => Outcome::Bad(format!("HTTP {status}, unexpected answer: {body}")),
    }
}
