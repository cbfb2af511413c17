//! The server process: a real `tally serve` on a fresh database, trusting the test identity
//! provider's JWKS, with what it prints kept (the recent lines, every panic).
use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::fixture::{IDP_AUDIENCE, IDP_ISSUER};
use crate::helpers::{outputs, ID_KEY, SECRET};

/// What the server printed: the recent lines, and every panic.
#[derive(Default)]
pub(crate) struct Log {
    recent: VecDeque<String>,
    panics: Vec<String>,
}

/// A running `tally serve`, restarted if it dies (so that shrinking can go on).
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    database_url: String,
    log: Arc<Mutex<Log>>,
}

impl Server {
    pub(crate) fn start(database_url: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/idp/jwks.json");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("TALLY_BIND", format!("127.0.0.1:{port}"))
            .env(
                "TALLY_JWT_SECRET",
                std::str::from_utf8(SECRET).expect("secret"),
            )
            .env("TALLY_ID_KEY", ID_KEY)
            .env("TALLY_JWKS_FILE", jwks)
            .env("TALLY_JWT_ISSUER", IDP_ISSUER)
            .env("TALLY_JWT_AUDIENCE", IDP_AUDIENCE)
            .env("TALLY_DB_POOL", "8")
            .env("RUST_LOG", "warn")
            .env_remove("TALLY_DEMO")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tally");
        let log = Arc::new(Mutex::new(Log::default()));
        for out in outputs(&mut child) {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut log = log.lock().expect("log");
                    if line.contains("panicked at") || line.contains("stack overflow") {
                        log.panics.push(line.clone());
                    }
                    log.recent.push_back(line);
                    if log.recent.len() > 60 {
                        log.recent.pop_front();
                    }
                }
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tally exited at start-up ({status}): {}", tail(&log));
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
                use std::io::Write;
                let mut answer = String::new();
                s.set_read_timeout(Some(Duration::from_secs(5))).is_ok()
                    && s.write_all(
                        b"GET /readyz HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n",
                    )
                    .is_ok()
                    && s.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
            });
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tally did not become ready: {}",
                tail(&log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            child,
            base,
            database_url: database_url.to_owned(),
            log,
        }
    }

    /// `None` while running, else how it ended.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(e) => Some(e.to_string()),
        }
    }

    /// The last lines the server printed.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub(crate) fn take_panics(&self) -> Vec<String> {
        std::mem::take(&mut self.log.lock().expect("log").panics)
    }

    pub(crate) fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Server::start(&self.database_url.clone());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(log: &Mutex<Log>) -> String {
    let log = log.lock().expect("log");
    let lines: Vec<&str> = log.recent.iter().map(String::as_str).collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}
