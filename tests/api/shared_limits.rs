//! Rate limits shared through Redis (`TALLY_REDIS_URL`): two instances on one test
//! `redis-server` (started here on a spare port) give an account each quota once, not
//! twice; while that Redis is stopped each instance limits on its own (no errors,
//! `/readyz` up); once it runs again the quota is shared again. Skipped, saying so, only
//! where `redis-server` is not installed.
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;
use serde_json::json;
use tally::{
    config::{Rate, RateLimits},
    ratelimit::RateLimiter,
    startup::{Application, Settings},
};
use uuid::Uuid;

use crate::helpers::{fresh_db, secrets, spare_port, vid, video_uuid, TestApp};

const HOUR: Duration = Duration::from_secs(3600);
const BURST: u32 = 5;

/// A `redis-server` of the test's own on `port`, without persistence; stopped when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    async fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            // `DEBUG SLEEP` makes it slow on purpose.
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = RedisServer { child, port };
        let client = redis::Client::open(server.url()).expect("redis URL");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The remaining lifetime of `key`, in milliseconds (`-2`: no such key).
    async fn pttl(&self, key: &str) -> i64 {
        let client = redis::Client::open(self.url()).expect("redis URL");
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis-server");
        redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut c)
            .await
            .expect("PTTL")
    }

    /// Stops it (SIGKILL) and waits until it is gone.
    fn stop(mut self) -> u16 {
        self.child.kill().ok();
        self.child.wait().ok();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An instance on `db` whose likes bucket (`BURST` at once, then one an hour) lives in the
/// Redis at `redis`, with its rate limiter.
async fn instance(db: DatabaseConnection, redis: &str) -> (TestApp, Arc<RateLimiter>) {
    let mut settings = Settings::new(db.clone(), secrets());
    settings.rate_limits = RateLimits {
        rate_likes: Rate::per(1, HOUR),
        rate_likes_burst: BURST,
        ..RateLimits::off()
    };
    settings.redis_url = Some(redis.to_owned());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = Application::start(settings, listener).expect("build");
    let limiter = app.rate_limiter().clone();
    (TestApp::start(app, db), limiter)
}

/// Likes the video if the account does not like it yet, else unlikes it (both spend the
/// likes bucket); `Ok` when allowed, else the `retryAfter` of the `RATE_LIMITED` refusal.
/// Any other answer fails the test.
async fn toggle(app: &TestApp, token: &str, video: Uuid, liked: &mut bool) -> Result<(), u64> {
    let field = if *liked { "unlikeVideo" } else { "likeVideo" };
    let query = format!("mutation($v: ID!) {{ {field}(videoId: $v) {{ likeCount }} }}");
    let (status, body) = app
        .gql(Some(token), &query, json!({ "v": vid(video) }))
        .await;
    assert_eq!(status, 200, "{body}");
    match body.get("errors") {
        None => {
            *liked = !*liked;
            Ok(())
        }
        Some(errors) => {
            assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED", "{body}");
            let retry = errors[0]["extensions"]["retryAfter"].as_u64();
            Err(retry.unwrap_or_else(|| panic!("RATE_LIMITED without retryAfter: {body}")))
        }
    }
}

async fn ready(app: &TestApp) -> u16 {
    app.http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("/readyz")
        .status()
        .as_u16()
}

/// Waits until `limiter` reaches its Redis again (its connection manager reconnects in the
/// background).
async fn until_shared_again(limiter: &RateLimiter) {
    let shared = limiter.shared().expect("limits kept in Redis");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !shared.ping().await {
        assert!(
            Instant::now() < deadline,
            "no answer from the restarted Redis within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn refused_for_about_an_hour(answer: Result<(), u64>) {
    match answer {
        Err(retry) => assert!((3590..=3600).contains(&retry), "retryAfter {retry}"),
        Ok(()) => panic!("allowed past the shared burst of {BURST}"),
    }
}

#[tokio::test]
async fn two_instances_share_each_quota_through_redis_and_fall_back_while_it_is_stopped() {
    if !redis_installed() {
        eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let redis = RedisServer::start(spare_port()).await;
    let db = fresh_db().await;
    let (a, limiter_a) = instance(db.clone(), &redis.url()).await;
    let (b, limiter_b) = instance(db, &redis.url()).await;
    let (_, author) = a.sign_up("author", "").await;
    let (fan, token) = a.sign_up("fan", "").await;
    let (status, body) = a
        .gql(
            Some(&author),
            "mutation { createVideo(input: { mediaUrl: \"https://media.example.com/v.mp4\", caption: \"shared\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let video = video_uuid(
        body["data"]["createVideo"]["id"]
            .as_str()
            .expect("video id"),
    );
    let mut liked = false;

    // Shared: BURST calls across both instances, then each refuses for about an hour.
    for i in 0..BURST {
        let via = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            toggle(via, &token, video, &mut liked).await,
            Ok(()),
            "call {i}"
        );
    }
    refused_for_about_an_hour(toggle(&b, &token, video, &mut liked).await);
    refused_for_about_an_hour(toggle(&a, &token, video, &mut liked).await);
    // The bucket's key expires exactly when it is full again: BURST hours from now.
    let ttl = redis.pttl(&format!("tally:rl:likes:account:{fan}")).await;
    let full_again = i64::from(BURST) * 3_600_000;
    assert!(
        (full_again - 60_000..=full_again).contains(&ttl),
        "PTTL {ttl} ms, expected about {full_again} ms"
    );

    // Redis slow (busy for a second): the check does not wait for it past 50 ms but takes
    // instance b's own bucket, which is full.
    let client = redis::Client::open(redis.url()).expect("redis URL");
    let mut busy = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis-server");
    let sleeping = tokio::spawn(async move {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(1)
            .query_async::<()>(&mut busy)
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(
        toggle(&b, &token, video, &mut liked).await,
        Ok(()),
        "Redis slow"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(600),
        "a check waited {took:?} for a busy Redis"
    );
    // The busy connection's own client gives up on the answer after its response timeout;
    // what matters is that the server slept.
    sleeping.await.expect("join").ok();

    // Redis stopped: each instance limits on its own (a full burst each, less the one b
    // took while Redis was slow), no other error, and both stay ready.
    let port = redis.stop();
    for (name, via, own) in [("a", &a, BURST), ("b", &b, BURST - 1)] {
        for i in 0..own {
            let answer = toggle(via, &token, video, &mut liked).await;
            assert_eq!(answer, Ok(()), "instance {name}, call {i}, Redis stopped");
        }
        refused_for_about_an_hour(toggle(via, &token, video, &mut liked).await);
        assert_eq!(
            ready(via).await,
            200,
            "/readyz of {name} with Redis stopped"
        );
    }

    // Redis back (empty: no persistence): shared again. Instance a's own bucket is empty,
    // so an allowed call through it was counted in Redis.
    let redis = RedisServer::start(port).await;
    until_shared_again(&limiter_a).await;
    until_shared_again(&limiter_b).await;
    for i in 0..BURST {
        let via = if i % 2 == 0 { &a } else { &b };
        let answer = toggle(via, &token, video, &mut liked).await;
        assert_eq!(answer, Ok(()), "call {i} after Redis came back");
    }
    refused_for_about_an_hour(toggle(&a, &token, video, &mut liked).await);
    refused_for_about_an_hour(toggle(&b, &token, video, &mut liked).await);
    assert!(redis.pttl(&format!("tally:rl:likes:account:{fan}")).await > 0);
}

#[tokio::test]
async fn a_redis_url_that_is_not_one_stops_start_up_and_the_flag_reads_its_variable() {
    use clap::{CommandFactory, Parser};
    use tally::config::Cli;
    let mut settings = Settings::new(fresh_db().await, secrets());
    settings.redis_url = Some("http://127.0.0.1:6379".to_owned());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let Err(e) = Application::start(settings, listener) else {
        panic!("an HTTP URL was taken for Redis");
    };
    assert!(e.to_string().contains("TALLY_REDIS_URL"), "{e}");

    let cli =
        Cli::try_parse_from(["tally", "--redis-url", "redis://10.0.0.5:6379"]).expect("parse");
    assert_eq!(
        cli.config.redis_url.as_deref(),
        Some("redis://10.0.0.5:6379")
    );
    let command = Cli::command();
    let arg = command
        .get_arguments()
        .find(|a| a.get_id() == "redis_url")
        .expect("the flag");
    assert_eq!(
        arg.get_env().and_then(|e| e.to_str()),
        Some("TALLY_REDIS_URL")
    );
}
