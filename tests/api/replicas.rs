//! Read replicas (`--read-database-url`), PostgreSQL only: the test starts a primary and a
//! streaming replica of its own (`initdb`, `pg_basebackup -R`) on spare ports. Queries
//! through an instance with the replica run there; mutations run on the primary; and with
//! the replica's replay paused (so it still holds the follow), a viewer's unfollow through
//! another instance — or the liker removing the viewer as a follower — hides the liker's
//! FOLLOWERS likes on the very next read, which the stale replica must not serve. Once
//! replay resumes, reads run on the replica again.
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};
use tally::{
    db::replicas::{connect_all, ReadCounts, Replicas},
    startup::{Application, Settings},
};
use uuid::Uuid;

use crate::helpers::{secrets, spare_port, uid, vid, video_uuid, TestApp};

/// The newest PostgreSQL server binaries (`TALLY_TEST_PGBIN` overrides).
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("TALLY_TEST_PGBIN") {
        return PathBuf::from(dir);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.retain(|d| d.join("initdb").exists());
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .expect("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) under /usr/lib/postgresql/*/bin, or TALLY_TEST_PGBIN")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary (as the `postgres` user when the test runs as root: initdb and
/// the server refuse root); panics with its output when it fails.
fn pg(bin: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.args(args).output().expect("run a PostgreSQL binary");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A primary and one streaming replica in a temp dir; both stopped and removed on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

impl Cluster {
    fn start() -> Self {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("tally-replicas-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let out = Command::new("chown").arg("postgres").arg(&dir).status();
            assert!(
                out.is_ok_and(|s| s.success()),
                "chown postgres {}",
                dir.display()
            );
        }
        let cluster = Cluster {
            bin,
            primary_port: spare_port(),
            replica_port: spare_port(),
            dir,
        };
        let (primary, replica) = (cluster.data("primary"), cluster.data("replica"));
        pg(
            &cluster.bin.join("initdb"),
            &["-D", &primary, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        // No autovacuum: no WAL the test did not write, so "caught up" stays caught up.
        cluster.configure(
            "primary",
            &format!(
                "autovacuum = off\nwal_level = replica\nport = {}\n",
                cluster.primary_port
            ),
        );
        cluster.ctl("primary", "start");
        let primary_port = cluster.primary_port.to_string();
        pg(
            &cluster.bin.join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-D",
                &replica,
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        cluster.configure("replica", &format!("port = {}\n", cluster.replica_port));
        cluster.ctl("replica", "start");
        cluster
    }

    fn data(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn configure(&self, name: &str, lines: &str) {
        use std::io::Write;
        let path = self.dir.join(name).join("postgresql.conf");
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("postgresql.conf");
        let common = format!(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nmax_connections = 40\n",
            self.dir.display()
        );
        conf.write_all(common.as_bytes())
            .and_then(|()| conf.write_all(lines.as_bytes()))
            .expect("write postgresql.conf");
    }

    fn ctl(&self, name: &str, action: &str) {
        let log = self.dir.join(format!("{name}.log")).display().to_string();
        pg(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data(name),
                "-l",
                &log,
                "-w",
                "-m",
                "fast",
                action,
            ],
        );
    }

    fn primary_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.primary_port)
    }

    fn replica_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.replica_port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for name in ["replica", "primary"] {
            let log = self.dir.join(format!("{name}.log")).display().to_string();
            let data = self.data(name);
            let args = [
                "-D",
                data.as_str(),
                "-l",
                log.as_str(),
                "-m",
                "immediate",
                "stop",
            ];
            let mut cmd = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"])
                    .arg(self.bin.join("pg_ctl"));
                c
            } else {
                Command::new(self.bin.join("pg_ctl"))
            };
            cmd.args(args).output().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))?;
    row.try_get_by_index(0).expect(sql)
}

/// Waits until the replica has replayed everything the primary has flushed.
async fn caught_up(primary: &DatabaseConnection, replica: &DatabaseConnection) {
    let target = scalar_i64(
        primary,
        "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint",
    )
    .await
    .expect("primary position");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let replayed = scalar_i64(
            replica,
            "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint",
        )
        .await;
        if replayed.is_some_and(|r| r >= target) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connects to `url`, retrying while the server (a standby replaying the `CREATE DATABASE`)
/// does not accept it yet.
async fn connect_when_there(url: &str) -> DatabaseConnection {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tally::db::connect(url, 8).await {
            Ok(db) => return db,
            Err(e) => assert!(Instant::now() < deadline, "{url}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An instance on `primary`, reading from `replicas`; with its read router.
fn instance(
    primary: &DatabaseConnection,
    replicas: Vec<(String, DatabaseConnection)>,
) -> (TestApp, Replicas) {
    let mut settings = Settings::new(primary.clone(), secrets());
    settings.read_replicas = replicas;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let app = Application::start(settings, listener).expect("build");
    let router = app.replicas().clone();
    (TestApp::start(app, primary.clone()), router)
}

const LIKERS: &str = "query($v: ID!) { video(id: $v) { likeCount visibleLikers { totalCount hiddenCount edges { node { handle } } } } }";

/// The handles in `visibleLikers` of `video` as `token` sees them through `app`, and where
/// that read ran.
async fn likers(
    app: &TestApp,
    router: &Replicas,
    token: &str,
    video: Uuid,
) -> (Vec<String>, &'static str) {
    let before = router.read_counts();
    let (status, body) = app
        .gql(Some(token), LIKERS, json!({ "v": vid(video) }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let after = router.read_counts();
    let on = match (
        after.on_replica - before.on_replica,
        after.on_primary - before.on_primary,
    ) {
        (1, 0) => "replica",
        (0, 1) => "primary",
        other => panic!("one read request counted as {other:?}"),
    };
    let l = &body["data"]["video"]["visibleLikers"];
    let handles = l["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["handle"].as_str().expect("handle").to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        l["totalCount"].as_i64(),
        Some(handles.len() as i64),
        "{body}"
    );
    assert_eq!(body["data"]["video"]["likeCount"], 1, "{body}");
    (handles, on)
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (status, body) = app.gql(Some(token), query, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body
}

const FOLLOW: &str = "mutation($u: ID!) { followUser(userId: $u) { state } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollowUser(userId: $u) }";
const REMOVE_FOLLOWER: &str = "mutation($u: ID!) { removeFollower(userId: $u) }";

#[tokio::test]
async fn queries_run_on_a_fresh_replica_and_a_lagging_one_never_shows_a_removed_followers_likes() {
    if !std::env::var("TALLY_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("skipped: read replicas need PostgreSQL (set TALLY_TEST_DATABASE_URL)");
        return;
    }
    let cluster = Cluster::start();
    let admin = connect_when_there(&cluster.primary_url("postgres")).await;
    admin
        .execute_unprepared("CREATE DATABASE tally")
        .await
        .expect("create database");
    let primary = connect_when_there(&cluster.primary_url("tally")).await;
    Migrator::up(&primary, None).await.expect("migrate");
    let replica_url = cluster.replica_url("tally");
    // The test's own superuser connection to the replica: pauses and resumes its replay.
    let replica = connect_when_there(&replica_url).await;
    caught_up(&primary, &replica).await;

    // A replica URL that is the primary is refused at start-up.
    let Err(not_a_standby) = connect_all(&primary, &[cluster.primary_url("tally")], 2).await else {
        panic!("the primary was taken for a replica");
    };
    assert!(
        not_a_standby.to_string().contains("not a standby"),
        "{not_a_standby}"
    );

    // Instance a: the primary only. Instance b: reads from the replica.
    let (a, _) = instance(&primary, Vec::new());
    let (b, router) = instance(
        &primary,
        connect_all(&primary, std::slice::from_ref(&replica_url), 4)
            .await
            .expect("replica"),
    );

    let (viewer, viewer_token) = a.sign_up("viewer", ", accountType: CREATOR").await;
    let (liker, liker_token) = a.sign_up("liker", ", likesVisibility: FOLLOWERS").await;
    let body = ok(
        &a,
        &viewer_token,
        "mutation { createVideo(input: { mediaUrl: \"https://media.example.com/v.mp4\", caption: \"mine\" }) { id } }",
        json!({}),
    )
    .await;
    let video = video_uuid(
        body["data"]["createVideo"]["id"]
            .as_str()
            .expect("video id"),
    );
    // A mutation through b runs on the primary (the replica refuses writes).
    ok(&b, &viewer_token, FOLLOW, json!({ "u": uid(liker) })).await;
    ok(
        &a,
        &liker_token,
        "mutation($v: ID!) { likeVideo(videoId: $v) { likeCount } }",
        json!({ "v": vid(video) }),
    )
    .await;

    // Routing: with the replica caught up, b's query runs there, and sees the like.
    caught_up(&primary, &replica).await;
    assert_eq!(
        likers(&b, &router, &viewer_token, video).await,
        (vec!["liker".to_owned()], "replica")
    );

    // Replay paused: the replica keeps the follow the viewer ends now, through a.
    replica
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    ok(&a, &viewer_token, UNFOLLOW, json!({ "u": uid(liker) })).await;
    let follows = "SELECT count(*) FROM follows";
    assert_eq!(
        scalar_i64(&replica, follows).await,
        Some(1),
        "the replica is behind"
    );
    assert_eq!(scalar_i64(&primary, follows).await, Some(0));
    // The very next read through b must not show the liker's FOLLOWERS like.
    assert_eq!(
        likers(&b, &router, &viewer_token, video).await,
        (Vec::new(), "primary")
    );

    // Followed again (through b); then the liker removes the viewer as a follower (through
    // a): hidden at once again, though the replica has seen neither.
    ok(&b, &viewer_token, FOLLOW, json!({ "u": uid(liker) })).await;
    assert_eq!(
        likers(&b, &router, &viewer_token, video).await,
        (vec!["liker".to_owned()], "primary")
    );
    ok(
        &a,
        &liker_token,
        REMOVE_FOLLOWER,
        json!({ "u": uid(viewer) }),
    )
    .await;
    assert_eq!(
        likers(&b, &router, &viewer_token, video).await,
        (Vec::new(), "primary")
    );
    assert_eq!(
        scalar_i64(&replica, follows).await,
        Some(1),
        "the replica is still behind"
    );

    // Replay resumed: once caught up, reads run on the replica again, and agree.
    replica
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    caught_up(&primary, &replica).await;
    assert_eq!(scalar_i64(&replica, follows).await, Some(0));
    assert_eq!(
        likers(&b, &router, &viewer_token, video).await,
        (Vec::new(), "replica")
    );
    let counts = router.read_counts();
    assert_eq!(
        counts,
        ReadCounts {
            on_replica: 2,
            on_primary: 3
        }
    );

    // A query whose fields write (creatorAnalytics keeps the window parts it computes)
    // runs on the replica and writes, and reads its own writes, on the primary.
    let before = router.read_counts();
    let body = ok(
        &b,
        &viewer_token,
        "{ creatorAnalytics { totals { views likes } daily { day likes } audience { viewers { available } likers { available } followers { available } } } }",
        json!({}),
    )
    .await;
    assert!(
        body["data"]["creatorAnalytics"]["totals"]["views"].is_i64(),
        "{body}"
    );
    assert_eq!(router.read_counts().on_replica, before.on_replica + 1);
    caught_up(&primary, &replica).await;

    // What the freshness check costs a read request (printed, not asserted: a shared machine).
    let rounds = 200u32;
    let started = Instant::now();
    for _ in 0..rounds {
        router.for_read().await;
    }
    let each = started.elapsed() / rounds;
    eprintln!("freshness check before a read: {each:?} per request (primary position + cached replica position)");
    // Nothing writes meanwhile, so (but for a stray WAL record of the server's own) the
    // replica serves them.
    assert!(router.read_counts().on_replica >= 2 + u64::from(rounds) / 2);
}

#[test]
fn read_replica_urls_repeat_as_flags_and_are_comma_separated_in_the_environment() {
    use clap::{CommandFactory, Parser};
    use tally::config::Cli;
    let none = Cli::try_parse_from(["tally"]).expect("parse").config;
    assert!(none.read_database_urls.is_empty());
    let cli = Cli::try_parse_from([
        "tally",
        "--read-database-url",
        "postgres://r1/tally",
        "--read-database-url",
        "postgres://r2/tally,postgres://r3/tally",
    ])
    .expect("parse");
    assert_eq!(
        cli.config.read_database_urls,
        [
            "postgres://r1/tally",
            "postgres://r2/tally",
            "postgres://r3/tally"
        ]
    );
    let command = Cli::command();
    let arg = command
        .get_arguments()
        .find(|a| a.get_id() == "read_database_urls")
        .expect("the flag");
    assert_eq!(
        arg.get_env().and_then(|e| e.to_str()),
        Some("TALLY_READ_DATABASE_URLS")
    );
    assert_eq!(arg.get_value_delimiter(), Some(','));
}

#[tokio::test]
async fn read_replicas_beside_sqlite_or_of_another_kind_stop_start_up() {
    let sqlite = tally::db::connect("sqlite::memory:", 1)
        .await
        .expect("SQLite");
    let Err(e) = connect_all(&sqlite, &["postgres://replica/tally".to_owned()], 1).await else {
        panic!("a replica beside SQLite was accepted");
    };
    assert!(e.to_string().contains("need PostgreSQL"), "{e}");
    let Err(e) = connect_all(&sqlite, &["mysql://replica/tally".to_owned()], 1).await else {
        panic!("a MySQL replica was accepted");
    };
    assert!(e.to_string().contains("need PostgreSQL"), "{e}");
    // None configured (or only blanks, as an empty TALLY_READ_DATABASE_URLS gives): none.
    let none = connect_all(&sqlite, &[String::new(), " ".to_owned()], 1)
        .await
        .expect("no replicas");
    assert!(none.is_empty());
}
