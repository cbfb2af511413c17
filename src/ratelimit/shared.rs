//! The rate-limit buckets in Redis, shared by every instance (`TALLY_REDIS_URL`).
//!
//! Each check is one `EVALSHA` of [`GCRA`]: the same generic cell rate algorithm as the
//! in-process limiters, on Redis's clock (`TIME`), atomic on the server. A bucket is one key,
//! `tally:rl:{bucket}:{principal}`, holding its *theoretical arrival time* in microseconds
//! and expiring exactly when the bucket is full again, so Redis needs no sweeping.
//!
//! When Redis does not answer within [`TIMEOUT`] (down, unreachable, slow), the check falls
//! back to the in-process limiter (see [`super::RateLimiter`]) and Redis is left alone for
//! [`PAUSE`] before it is asked again, so an outage costs each request nothing; the fallback
//! is logged once when it starts, then at most every [`LOG_EVERY`] with the number of checks
//! that fell back, and once more when Redis answers again.
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, Script};

use crate::backoff::{LogEvery, Pause};

/// The longest a check waits for Redis before it falls back to the in-process limiter.
pub const TIMEOUT: Duration = Duration::from_millis(50);
/// How long Redis is not asked again after it failed a check.
pub const PAUSE: Duration = Duration::from_secs(1);
/// How often, at most, a continuing fallback is logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// GCRA on one bucket. `KEYS[1]`: the bucket; `ARGV[1]`: the emission interval (µs);
/// `ARGV[2]`: the burst. Answers `{1, 0}` when a cell was spent, else `{0, wait}` with the
/// wait in microseconds until one would be.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new = tat + interval
local allowed_at = new - burst * interval
if allowed_at > now then
  return {0, allowed_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000))
return {1, 0}
";

/// What Redis said of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A cell was spent.
    Allowed,
    /// The bucket is empty: a cell is free again after this long.
    Refused(Duration),
}

/// The shared buckets: a connection manager (one multiplexed connection, re-established in
/// the background after a failure) and the state of the fallback.
pub struct SharedBuckets {
    redis: ConnectionManager,
    script: Script,
    /// While on, Redis is not asked.
    pause: Pause,
    falling_back: AtomicBool,
    fallbacks: AtomicU64,
    log: LogEvery,
}

impl SharedBuckets {
    /// The buckets in the Redis at `url` (`redis://HOST:PORT[/DB]`, `rediss://…`,
    /// `redis+unix://…`). The connection is made on the first check, so the service starts
    /// while Redis is away (then limiting in-process); a URL that is not one is an error.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("TALLY_REDIS_URL is not a Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let redis = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("Redis connection manager: {e}"))?;
        Ok(SharedBuckets {
            redis,
            script: Script::new(GCRA),
            pause: Pause::default(),
            falling_back: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
            log: LogEvery::new(LOG_EVERY),
        })
    }

    /// Spends one cell of `bucket` for `principal` (`interval` between cells, `burst` at
    /// once); `None` when Redis did not answer in time (the caller limits in-process).
    pub async fn take(
        &self,
        bucket: &str,
        principal: &str,
        interval: Duration,
        burst: u32,
    ) -> Option<Verdict> {
        if self.pause.is_on() {
            self.fell_back("Redis failed a check less than a second ago");
            return None;
        }
        let interval_us = u64::try_from(interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut redis = self.redis.clone();
        let mut invocation = self.script.key(format!("tally:rl:{bucket}:{principal}"));
        invocation.arg(interval_us).arg(burst);
        let answer = invocation.invoke_async::<(i64, i64)>(&mut redis);
        match tokio::time::timeout(TIMEOUT, answer).await {
            Ok(Ok((allowed, wait_us))) => {
                self.answered();
                Some(if allowed == 1 {
                    Verdict::Allowed
                } else {
                    Verdict::Refused(Duration::from_micros(wait_us.max(0).unsigned_abs()))
                })
            }
            Ok(Err(e)) => {
                self.failed(&format!("Redis refused a rate-limit check: {e}"));
                None
            }
            Err(_) => {
                self.failed("Redis did not answer a rate-limit check within 50 ms");
                None
            }
        }
    }

    /// Whether Redis answers a `PING` within [`TIMEOUT`]; an answer ends a pause at once.
    pub async fn ping(&self) -> bool {
        let mut redis = self.redis.clone();
        let ping = redis::cmd("PING");
        let answer = tokio::time::timeout(TIMEOUT, ping.query_async::<String>(&mut redis)).await;
        let up = matches!(answer, Ok(Ok(_)));
        if up {
            self.answered();
        }
        up
    }

    fn answered(&self) {
        self.pause.end();
        if self.falling_back.swap(false, Ordering::Relaxed) {
            let fell_back = self.fallbacks.swap(0, Ordering::Relaxed);
            tracing::info!(
                fell_back,
                "Redis answers again: rate limits are shared by every instance again"
            );
        }
    }

    fn failed(&self, why: &str) {
        self.pause.start(PAUSE);
        self.fell_back(why);
    }

    /// Counts a check that falls back; logs the first of an outage at once, then at most
    /// every [`LOG_EVERY`].
    fn fell_back(&self, why: &str) {
        metrics::counter!(crate::observability::metrics::RATE_LIMIT_FALLBACKS).increment(1);
        let count = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
        let first = !self.falling_back.swap(true, Ordering::Relaxed);
        // `due` first: the first line of an outage also restarts the interval.
        if self.log.due() || first {
            tracing::warn!(
                reason = why,
                fell_back = count,
                "rate limits fall back to this instance's own buckets (each instance allows \
                 the whole quota) until Redis answers"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_that_is_not_redis_is_refused_with_its_reason() {
        let e = SharedBuckets::connect("http://example.com")
            .err()
            .expect("refused");
        assert!(e.to_string().contains("TALLY_REDIS_URL"), "{e}");
        assert!(SharedBuckets::connect("redis://127.0.0.1:1").is_ok());
    }
}
