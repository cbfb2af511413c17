//! The soak's verdict and report: errors, counters, and whether the server's RSS stays flat.
use std::fmt::Write as _;

use crate::{cli::Args, machine, stats, wrk::WrkResult};

/// Allowed change of the median RSS from the middle third of the run to the last third.
/// Medians, not means: each sign-up hashes a password with Argon2id (19 MiB), so a sample
/// taken just after one is up to ~20 MB higher than its neighbours; a leak moves the
/// median, a transient spike does not.
pub const SOAK_RSS_TOLERANCE: f64 = 0.10;

/// One RSS sample: seconds since the load started, MB.
pub type Sample = (f64, f64);

/// What a soak run measured.
pub struct SoakReport {
    pub tag: String,
    pub secs: u64,
    pub connections: u64,
    pub wrk: WrkResult,
    /// Requests sent, by kind (the script's `MIX` line).
    pub mix: Vec<(String, u64)>,
    pub samples: Vec<Sample>,
    pub hot_like_count: i64,
    pub hot_rows: i64,
    pub load_before: String,
    pub load_after: String,
    pub accounts: usize,
}

/// The median RSS of `xs`.
fn median(xs: &[Sample]) -> f64 {
    stats::median(xs.iter().map(|s| s.1).collect()).unwrap_or(f64::NAN)
}

impl SoakReport {
    /// Median RSS of the middle and the last third of the samples, and the relative change.
    fn thirds(&self) -> (f64, f64, f64) {
        let n = self.samples.len();
        let middle = median(&self.samples[n / 3..2 * n / 3]);
        let last = median(&self.samples[2 * n / 3..]);
        (middle, last, last / middle - 1.0)
    }

    fn errors(&self) -> u64 {
        self.wrk.bad
    }

    /// Whether the run passes: answers, no error, counters agree, RSS not growing.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.wrk.requests == 0 {
            out.push("no request was answered".to_owned());
        }
        if self.errors() > 0 {
            out.push(format!(
                "{} of {} answers were errors",
                self.errors(),
                self.wrk.requests
            ));
        }
        if self.samples.len() < 6 {
            out.push(format!(
                "only {} RSS samples: run longer",
                self.samples.len()
            ));
        } else {
            let (_, _, change) = self.thirds();
            if change > SOAK_RSS_TOLERANCE {
                out.push(format!(
                    "median RSS grew {:.1} % from the middle third to the last third (over {:.0} %)",
                    change * 100.0,
                    SOAK_RSS_TOLERANCE * 100.0
                ));
            }
        }
        if self.hot_like_count != self.hot_rows {
            out.push(format!(
                "hot video: likeCount {} but {} like rows",
                self.hot_like_count, self.hot_rows
            ));
        }
        out
    }

    /// The report of `bench/out/soak-<backend>.md`.
    pub fn markdown(&self, args: &Args) -> anyhow::Result<String> {
        let mut s = String::new();
        let cpus = machine::cpus();
        writeln!(
            s,
            "## {}: {} s of mixed load at a fixed {} req/s target ({} connections)\n",
            self.tag, self.secs, args.rate, self.connections
        )?;
        writeln!(
            s,
            "Machine: {cpus} vCPU; load average before `{}`, after `{}` (other processes, e.g. \
             builds, may have shared the CPUs). Dataset: seed {}, sizes {:?}, {} accounts; {} of \
             them write and read with their own tokens.\n",
            self.load_before,
            self.load_after,
            args.seed,
            args.sizes,
            self.accounts,
            args.soak_accounts
        )?;
        writeln!(
            s,
            "| requests | errors | socket errors | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|"
        )?;
        writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.2} | {:.2} |\n",
            self.wrk.requests,
            self.errors(),
            self.wrk.socket_errors,
            self.wrk.rps,
            self.wrk.p50_ms,
            self.wrk.p99_ms
        )?;
        let mix: Vec<String> = self.mix.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(s, "Requests sent by kind: {}.\n", mix.join(", "))?;
        if let Some(bad) = &self.wrk.first_bad {
            writeln!(s, "First failing answer: `{bad}`\n")?;
        }
        writeln!(
            s,
            "Hot video after the run: likeCount {} vs {} like rows.\n",
            self.hot_like_count, self.hot_rows
        )?;
        if let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) {
            let mid = self.samples[self.samples.len() / 2];
            let (m, l, change) = self.thirds();
            let peak = self.samples.iter().map(|s| s.1).fold(0.0, f64::max);
            let verdict = if change.abs() <= SOAK_RSS_TOLERANCE {
                "flat"
            } else if change > 0.0 {
                "GROWING"
            } else {
                "shrinking"
            };
            writeln!(
                s,
                "Server RSS: start {:.1} MB (t = {:.0} s), middle {:.1} MB (t = {:.0} s), end {:.1} MB \
                 (t = {:.0} s), peak {peak:.1} MB; median of the middle third {m:.1} MB, of the last third \
                 {l:.1} MB: \
                 {:+.1} % → **{verdict}** (limit ±{:.0} %).\n",
                first.1,
                first.0,
                mid.1,
                mid.0,
                last.1,
                last.0,
                change * 100.0,
                SOAK_RSS_TOLERANCE * 100.0
            )?;
            let every = (self.samples.len() / 20).max(1);
            let shown: Vec<String> = self
                .samples
                .iter()
                .step_by(every)
                .map(|(t, mb)| format!("{t:.0} s: {mb:.1}"))
                .collect();
            writeln!(s, "RSS samples (MB): {}.\n", shown.join(", "))?;
        }
        let failures = self.failures();
        if failures.is_empty() {
            writeln!(s, "Verdict: **pass** (no error, RSS flat, counters agree).")?;
        } else {
            writeln!(s, "Verdict: **FAIL**: {}.", failures.join("; "))?;
        }
        Ok(s)
    }
}
