//! Load with `wrk`: the Lua scripts (each checking every response body), the command line,
//! and the `RESULT` line the scripts print.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

/// wrk's result line: p50 µs, p99 µs, requests, duration µs, bad bodies, socket/status errors.
pub struct WrkResult {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rps: f64,
    pub requests: u64,
    /// Bad bodies plus socket/status errors: every answer that failed.
    pub bad: u64,
    /// Socket and status errors alone.
    pub socket_errors: u64,
    /// The start of the first failing body, if any (`FIRST_BAD`).
    pub first_bad: Option<String>,
}

/// Counts the bad answers (non-200 or a body with `errors`) across threads and prints the
/// `RESULT` line (and `FIRST_BAD`); appended to every script.
pub const LUA_CHECK: &str = r#"
local threads = {}
function setup(thread)
  thread:set("k", #threads)
  table.insert(threads, thread)
end
function init(args) bad = 0; first_bad = nil; n = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    if first_bad == nil then first_bad = string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local b = 0
  local fb = nil
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if t:get("first_bad") ~= nil then fb = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", latency:percentile(50), latency:percentile(99),
    summary.requests, summary.duration, b, e.connect + e.read + e.write + e.timeout + e.status))
  if fb ~= nil then io.write("FIRST_BAD " .. fb .. "\n") end
end
"#;

/// A Lua long-bracket string literal of `s`.
pub fn lua_string(s: &str) -> String {
    format!("[==[{s}]==]")
}

/// A wrk script sending one GraphQL request (`delay_ms` paces each connection).
pub fn script(
    out: &Path,
    name: &str,
    token: &str,
    body: &serde_json::Value,
    delay_ms: Option<u64>,
) -> anyhow::Result<PathBuf> {
    let mut s = String::new();
    writeln!(s, "wrk.method = \"POST\"")?;
    writeln!(s, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    writeln!(s, "wrk.headers[\"Authorization\"] = \"Bearer {token}\"")?;
    writeln!(s, "wrk.body = {}", lua_string(&body.to_string()))?;
    if let Some(d) = delay_ms {
        writeln!(s, "function delay() return {d} end")?;
    }
    s.push_str(LUA_CHECK);
    let path = out.join(format!("{name}.lua"));
    std::fs::write(&path, s)?;
    Ok(path)
}

/// A wrk script where request `i` of thread `k` likes the hot video as token `k + i * threads`.
pub fn storm_script(
    out: &Path,
    tokens: &[String],
    video: &str,
    threads: u64,
) -> anyhow::Result<PathBuf> {
    let mut s = String::from("local tokens = {\n");
    for t in tokens {
        writeln!(s, "  \"{t}\",")?;
    }
    s.push_str("}\n");
    let body = serde_json::json!({
        "query": "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
        "variables": { "v": video }
    });
    writeln!(s, "local body = {}", lua_string(&body.to_string()))?;
    writeln!(
        s,
        r#"function request()
  local idx = (k + n * {threads}) % #tokens + 1
  n = n + 1
  return wrk.format("POST", "/graphql", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[idx]}}, body)
end"#
    )?;
    s.push_str(LUA_CHECK);
    let path = out.join("storm.lua");
    std::fs::write(&path, s)?;
    Ok(path)
}

/// The pause after each answer (`delay()` in a script, ms) that paces `connections` closed-loop
/// connections to about `rate` requests a second in all.
pub fn pacing_delay_ms(connections: u64, rate: u64) -> u64 {
    (connections * 1000 / rate.max(1)).max(1)
}

/// The `wrk` command line for `secs` seconds of `script` over `connections`.
pub fn wrk_command(port: u16, script: &Path, connections: u64, threads: u64, secs: u64) -> Command {
    let mut command = Command::new("wrk");
    command
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{secs}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/graphql"));
    command
}

/// Runs `wrk` to the end and reads its result.
pub fn wrk(
    port: u16,
    script: &Path,
    connections: u64,
    threads: u64,
    secs: u64,
) -> anyhow::Result<WrkResult> {
    let out = wrk_command(port, script, connections, threads, secs)
        .output()
        .context("running wrk (install it: apt-get install -y wrk)")?;
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// Reads the `RESULT` line that [`LUA_CHECK`] prints (and reports `FIRST_BAD`).
pub fn parse_wrk(text: &str) -> anyhow::Result<WrkResult> {
    let first_bad = text.lines().find(|l| l.starts_with("FIRST_BAD"));
    if let Some(bad) = first_bad {
        eprintln!("  first failing response: {bad}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .with_context(|| format!("wrk printed no result: {text}"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() != 6 {
        bail!("unexpected wrk result line: {line}");
    }
    Ok(WrkResult {
        p50_ms: f[0] as f64 / 1000.0,
        p99_ms: f[1] as f64 / 1000.0,
        rps: f[2] as f64 / (f[3] as f64 / 1e6),
        requests: f[2],
        bad: f[4] + f[5],
        socket_errors: f[5],
        first_bad: first_bad
            .and_then(|l| l.strip_prefix("FIRST_BAD "))
            .map(str::to_owned),
    })
}
