//! Rate limits on mutations, per principal, with `governor`'s keyed GCRA limiters.
//!
//! Six buckets, each an independent keyed limiter (see the README's "Rate limits"):
//!
//! - **likes**: `likeVideo`, `unlikeVideo`, keyed by the signed-in account (anonymous callers,
//!   who are refused anyway, by client address);
//! - **follows**: `followUser`, `unfollowUser`, `blockUser`, `unblockUser`, keyed likewise;
//! - **views**: `recordView`, keyed by the signed-in account, or by client address for an
//!   anonymous viewer (who may record views);
//! - **auth**: `signUp`, `logIn`, `provisionAccount`, `deleteAccount` (the mutations that hash
//!   or check a password, or create an account), always keyed by client address: a token must
//!   not buy a fresh bucket for guessing passwords;
//! - **log-in per handle**: `logIn` once more, keyed by the handle as the domain normalises it
//!   (lower-cased), against guessing one account's password from many addresses.
//! - **oauth**: `POST /oauth/token`, keyed by the client ID it authenticates (a well-formed
//!   one: a forged ID is refused before any work), so that no one can make the service check
//!   one client's secret (Argon2id) at more than this rate, from any number of addresses.
//!
//! A mutation calls [`check`] first, before any database access or password hashing; a
//! refused call writes nothing and answers `RATE_LIMITED` with `retryAfter` in whole seconds.
//! Each mutation field counts, so a batch or an operation with several aliased mutations
//! spends one cell per mutation.
//!
//! The HTTP handler attaches a [`Caller`] (the limiter and the client address) to every
//! request. A schema executed without one (in-process, as the tests' harness does) is not
//! limited.
//!
//! The limiters live in the process unless `TALLY_REDIS_URL` names a Redis: then every
//! instance spends from the same buckets there ([`SharedBuckets`]), and falls back to its
//! own limiters only while Redis does not answer. [`RateLimiter::sweep`] forgets keys whose
//! bucket is full again, so memory follows the number of recently active callers;
//! [`Application::run`](crate::startup::Application::run) sweeps every [`SWEEP_INTERVAL`].
mod shared;

use std::{
    fmt,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use actix_web::HttpRequest;
use async_graphql::Context;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    config::{Rate, RateLimits},
    domain::input::normalize_handle,
    error::{AppError, AppResult},
};

/// How often the keys of full buckets are dropped.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

pub use shared::SharedBuckets;

/// The governor quota of `rate` with a burst of `burst` (at least 1), or `None` when off.
fn quota(rate: Rate, burst: u32) -> Option<Quota> {
    if rate.is_off() {
        return None;
    }
    let interval = (rate.per / rate.count).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(interval).map(|q| q.allow_burst(burst))
}

/// One bucket: its name (in logs and Redis keys), its quota and its in-process limiter.
struct Bucket<K: Hash + Eq + Clone> {
    name: &'static str,
    quota: Quota,
    local: Keyed<K>,
}

impl<K: Hash + Eq + Clone> Bucket<K> {
    /// The bucket `name` with `rate` and `burst`, or `None` when the rate is off.
    fn new(name: &'static str, rate: Rate, burst: u32) -> Option<Self> {
        quota(rate, burst).map(|quota| Bucket {
            name,
            quota,
            local: DefaultKeyedRateLimiter::keyed(quota),
        })
    }
}

/// What a mutation is about to spend.
#[derive(Debug, Clone, Copy)]
pub enum Limit<'a> {
    /// `likeVideo`, `unlikeVideo`.
    Likes,
    /// `followUser`, `unfollowUser`, `blockUser`, `unblockUser`.
    Follows,
    /// `signUp`, `provisionAccount`, `deleteAccount`.
    Auth,
    /// `recordView`.
    Views,
    /// `logIn` of `handle` (as typed): the auth bucket, then the handle's bucket.
    LogIn { handle: &'a str },
}

/// Who a bucket is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Account(Uuid),
    /// A client address; IPv6 cut to its /64 (one subscriber's prefix).
    Client(IpAddr),
}

/// The principal's part of a shared bucket's Redis key.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Account(id) => write!(f, "account:{id}"),
            Key::Client(ip) => write!(f, "ip:{ip}"),
        }
    }
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// The limiters of one instance, and the shared buckets when there is a Redis.
pub struct RateLimiter {
    likes: Option<Bucket<Key>>,
    follows: Option<Bucket<Key>>,
    views: Option<Bucket<Key>>,
    auth: Option<Bucket<Key>>,
    login_handle: Option<Bucket<String>>,
    oauth: Option<Bucket<Uuid>>,
    trusted_proxies: usize,
    shared: Option<SharedBuckets>,
}

impl RateLimiter {
    /// The limiters `limits` ask for (a bucket whose rate is `0` is not built).
    pub fn new(limits: &RateLimits) -> Self {
        RateLimiter {
            likes: Bucket::new("likes", limits.rate_likes, limits.rate_likes_burst),
            follows: Bucket::new("follows", limits.rate_follows, limits.rate_follows_burst),
            views: Bucket::new("views", limits.rate_views, limits.rate_views_burst),
            auth: Bucket::new("auth", limits.rate_auth, limits.rate_auth_burst),
            login_handle: Bucket::new(
                "login-handle",
                limits.rate_login_handle,
                limits.rate_login_handle_burst,
            ),
            oauth: Bucket::new("oauth", limits.rate_oauth, limits.rate_oauth_burst),
            trusted_proxies: limits.trusted_proxies,
            shared: None,
        }
    }

    /// These limits with their buckets in Redis, shared with every instance using it; the
    /// in-process limiters answer only while Redis does not.
    pub fn with_shared(self, shared: SharedBuckets) -> Self {
        RateLimiter {
            shared: Some(shared),
            ..self
        }
    }

    /// The shared buckets, if the limits are kept in Redis.
    pub fn shared(&self) -> Option<&SharedBuckets> {
        self.shared.as_ref()
    }

    /// The caller of an HTTP request: this limiter and the request's client address.
    pub fn caller(self: &Arc<Self>, req: &HttpRequest) -> Caller {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        Caller {
            limiter: Arc::clone(self),
            ip: client_ip(
                req.peer_addr().map(|a| a.ip()),
                &forwarded,
                self.trusted_proxies,
            ),
        }
    }

    /// Forgets the keys whose bucket is full again (indistinguishable from a new key) and
    /// gives the memory back.
    pub fn sweep(&self) {
        fn one<K: Hash + Eq + Clone>(l: &Option<Bucket<K>>) {
            if let Some(l) = l {
                l.local.retain_recent();
                l.local.shrink_to_fit();
            }
        }
        one(&self.likes);
        one(&self.follows);
        one(&self.views);
        one(&self.auth);
        one(&self.login_handle);
        one(&self.oauth);
    }

    /// Keys currently held over all buckets.
    pub fn tracked_keys(&self) -> usize {
        fn len<K: Hash + Eq + Clone>(l: &Option<Bucket<K>>) -> usize {
            l.as_ref().map_or(0, |l| l.local.len())
        }
        len(&self.likes)
            + len(&self.follows)
            + len(&self.views)
            + len(&self.auth)
            + len(&self.login_handle)
            + len(&self.oauth)
    }

    /// Spends one cell of the oauth bucket of `client` (a token request authenticating it);
    /// `RATE_LIMITED` with the wait when it is empty. Called before the secret is checked.
    pub async fn check_oauth(&self, client: Uuid) -> AppResult<()> {
        self.take(&self.oauth, &client).await
    }

    /// Sweeps every `every`, forever (spawned beside the server).
    pub async fn sweep_every(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sweep();
            tracing::debug!(keys = self.tracked_keys(), "rate-limit keys after sweep");
        }
    }

    async fn check(&self, viewer: Viewer, ip: IpAddr, limit: Limit<'_>) -> AppResult<()> {
        let principal = match viewer.id() {
            Some(id) => Key::Account(id),
            None => Key::Client(ip),
        };
        match limit {
            Limit::Likes => self.take(&self.likes, &principal).await,
            Limit::Follows => self.take(&self.follows, &principal).await,
            Limit::Views => self.take(&self.views, &principal).await,
            Limit::Auth => self.take(&self.auth, &Key::Client(ip)).await,
            Limit::LogIn { handle } => {
                self.take(&self.auth, &Key::Client(ip)).await?;
                // A handle that is not well-formed names no account: nothing to guess.
                match normalize_handle("input.handle", handle) {
                    Ok(handle) => self.take(&self.login_handle, &handle).await,
                    Err(_) => Ok(()),
                }
            }
        }
    }

    /// Spends one cell of `key`'s bucket, or says how long to wait for one: in Redis when
    /// the buckets are shared and Redis answers, else in-process.
    async fn take<K: Hash + Eq + Clone + fmt::Display>(
        &self,
        bucket: &Option<Bucket<K>>,
        key: &K,
    ) -> AppResult<()> {
        let Some(bucket) = bucket else {
            return Ok(());
        };
        let shared = match &self.shared {
            Some(shared) => {
                let interval = bucket.quota.replenish_interval();
                let burst = bucket.quota.burst_size().get();
                shared
                    .take(bucket.name, &key.to_string(), interval, burst)
                    .await
            }
            None => None,
        };
        let wait = match shared {
            Some(shared::Verdict::Allowed) => return Ok(()),
            Some(shared::Verdict::Refused(wait)) => wait,
            None => match bucket.local.check_key(key) {
                Ok(()) => return Ok(()),
                Err(not_until) => not_until.wait_time_from(bucket.local.clock().now()),
            },
        };
        tracing::debug!(bucket = bucket.name, ?wait, "rate limited");
        crate::observability::metrics::rate_limited(bucket.name);
        Err(AppError::RateLimited {
            retry_after_secs: whole_seconds_up(wait),
        })
    }
}

/// `d` in whole seconds, rounded up, at least 1.
fn whole_seconds_up(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000_000).max(1) as u64
}

/// Request data: the limiter and the client address of one HTTP request.
#[derive(Clone)]
pub struct Caller {
    limiter: Arc<RateLimiter>,
    ip: IpAddr,
}

impl Caller {
    /// The client address the limits are keyed by for anonymous callers.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

/// Spends one cell of `limit` for the request's principal; `RATE_LIMITED` with `retryAfter`
/// when its bucket is empty. The one call every limited mutation makes, before anything else.
pub async fn check(ctx: &Context<'_>, limit: Limit<'_>) -> AppResult<()> {
    let Some(caller) = ctx.data_opt::<Caller>() else {
        return Ok(());
    };
    let viewer = ctx
        .data_opt::<Viewer>()
        .copied()
        .unwrap_or(Viewer::ANONYMOUS);
    caller.limiter.check(viewer, caller.ip, limit).await
}

/// The client address: the TCP peer, or with `trusted_proxies` > 0 the `X-Forwarded-For`
/// entry that many places from the right (each trusted proxy appends the address it saw;
/// what the client wrote itself is further left and never used). With fewer entries than
/// proxies, the leftmost entry; with none, or one that is not an address, the peer.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: &[&str], trusted_proxies: usize) -> IpAddr {
    let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let chosen = if trusted_proxies == 0 {
        None
    } else {
        let hops: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let at = hops.len().saturating_sub(trusted_proxies);
        hops.get(at).and_then(|h| parse_hop(h))
    };
    bucket_address(chosen.unwrap_or(peer))
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`[v6]:port` for IPv6).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

/// The address a client is keyed by: IPv4 (also IPv4-mapped IPv6) as is, IPv6 cut to its
/// /64, since one subscriber usually holds a whole /64.
fn bucket_address(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn rates_parse_print_and_turn_off() {
        assert_eq!("10/s".parse(), Ok(Rate::per(10, Duration::from_secs(1))));
        assert_eq!("5/min".parse(), Ok(Rate::per(5, Duration::from_secs(60))));
        assert_eq!("10/h".parse(), Ok(Rate::per(10, Duration::from_secs(3600))));
        assert_eq!(
            "1/200ms".parse(),
            Ok(Rate::per(1, Duration::from_millis(200)))
        );
        assert_eq!("3/10s".parse(), Ok(Rate::per(3, Duration::from_secs(10))));
        assert_eq!("0".parse(), Ok(Rate::OFF));
        assert_eq!("off".parse(), Ok(Rate::OFF));
        assert_eq!("0/s".parse(), Ok(Rate::OFF));
        for bad in ["", "10", "10/", "x/s", "10/fortnight", "-1/s", "10/5"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} parsed");
        }
        for text in ["10/s", "5/min", "10/h", "1/200ms", "3/10s", "2/3min", "0"] {
            let rate: Rate = text.parse().expect("rate");
            assert_eq!(rate.to_string(), text);
        }
        assert!(quota(Rate::OFF, 5).is_none());
        let q = quota(Rate::per(5, Duration::from_secs(60)), 10).expect("quota");
        assert_eq!(q.replenish_interval(), Duration::from_secs(12));
        assert_eq!(q.burst_size().get(), 10);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(3600)), 3600);
    }

    #[test]
    fn the_client_address_is_the_peer_unless_proxies_are_trusted() {
        let peer = Some(ip("10.0.0.1"));
        // Not trusted: the header is ignored, whatever it says.
        assert_eq!(client_ip(peer, &["203.0.113.9"], 0), ip("10.0.0.1"));
        // One proxy: the rightmost entry, which that proxy appended.
        assert_eq!(
            client_ip(peer, &["1.1.1.1, 203.0.113.9"], 1),
            ip("203.0.113.9")
        );
        // Two proxies, the header split over two lines: second from the right.
        assert_eq!(
            client_ip(peer, &["6.6.6.6, 203.0.113.9", "192.168.1.2"], 2),
            ip("203.0.113.9")
        );
        // Fewer entries than proxies: the leftmost; none at all: the peer.
        assert_eq!(client_ip(peer, &["203.0.113.9"], 3), ip("203.0.113.9"));
        assert_eq!(client_ip(peer, &[], 1), ip("10.0.0.1"));
        // Ports and brackets; garbage falls back to the peer.
        assert_eq!(client_ip(peer, &["203.0.113.9:4711"], 1), ip("203.0.113.9"));
        assert_eq!(client_ip(peer, &["[2001:db8::1]:443"], 1), ip("2001:db8::"));
        assert_eq!(client_ip(peer, &["unknown"], 1), ip("10.0.0.1"));
        assert_eq!(client_ip(None, &[], 0), ip("0.0.0.0"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let a = bucket_address(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        let b = bucket_address(ip("2001:db8:1:2::7"));
        let c = bucket_address(ip("2001:db8:1:3::7"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(bucket_address(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    fn limiter(likes: Rate, burst: u32) -> RateLimiter {
        RateLimiter::new(&RateLimits {
            rate_likes: likes,
            rate_likes_burst: burst,
            ..RateLimits::off()
        })
    }

    #[tokio::test]
    async fn buckets_are_per_principal_and_anonymous_callers_per_address() {
        let l = limiter(Rate::per(1, Duration::from_secs(3600)), 2);
        let (a, b) = (Viewer(Some(Uuid::now_v7())), Viewer(Some(Uuid::now_v7())));
        let here = ip("192.0.2.1");
        assert!(l.check(a, here, Limit::Likes).await.is_ok());
        assert!(l.check(a, ip("192.0.2.2"), Limit::Likes).await.is_ok());
        match l.check(a, ip("192.0.2.3"), Limit::Likes).await {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!(
                    (3590..=3600).contains(&retry_after_secs),
                    "{retry_after_secs}"
                )
            }
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        assert!(l.check(b, here, Limit::Likes).await.is_ok());
        assert!(l.check(Viewer::ANONYMOUS, here, Limit::Likes).await.is_ok());
        // Other buckets are off here.
        for _ in 0..100 {
            assert!(l.check(a, here, Limit::Follows).await.is_ok());
            assert!(l
                .check(a, here, Limit::LogIn { handle: "ana" })
                .await
                .is_ok());
        }
    }

    #[tokio::test]
    async fn sweeping_forgets_full_buckets_only() {
        let l = limiter(Rate::per(1, Duration::from_millis(20)), 1);
        for i in 0..1000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.check(Viewer::ANONYMOUS, addr, Limit::Likes).await.is_ok());
        }
        assert_eq!(l.tracked_keys(), 1000);
        l.sweep();
        assert_eq!(l.tracked_keys(), 1000, "buckets still refilling are kept");
        std::thread::sleep(Duration::from_millis(100));
        l.sweep();
        assert_eq!(l.tracked_keys(), 0);
    }
}
