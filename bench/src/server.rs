//! The release `tally serve` under test: started on a dataset, stopped when dropped.
use std::{
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use anyhow::bail;

use crate::{
    cli::Args,
    http,
    keys::{ID_KEY, SECRET},
};

/// A running server (`--server`) on `127.0.0.1:--port`; killed and reaped when dropped, so
/// that a failed run does not leave it behind.
pub struct Server {
    child: Child,
}

impl Server {
    /// Starts the server on the database `url` (default limits and rate limits,
    /// `RUST_LOG=warn`) and waits up to 60 s for `/readyz` to answer 200.
    pub async fn start(args: &Args, url: &str) -> anyhow::Result<Server> {
        Self::start_with(args, url, args.port, &[]).await
    }

    /// [`Server::start`] on `port`, with more environment variables.
    pub async fn start_with(
        args: &Args,
        url: &str,
        port: u16,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        if !args.server.exists() {
            bail!(
                "{} not found: build it with `cargo build --release`",
                args.server.display()
            );
        }
        let child = Command::new(&args.server)
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("TALLY_JWT_SECRET", SECRET)
            .env("TALLY_ID_KEY", ID_KEY)
            .env("TALLY_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()?;
        let server = Server { child };
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        // No liveness check by PID: a child that exited stays in /proc until it is reaped.
        http::wait_ready(
            &probe,
            &format!("http://127.0.0.1:{port}"),
            None,
            Duration::from_secs(60),
        )
        .await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the server has exited.
    pub fn exited(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Kills the server and waits for it to exit.
    pub fn stop(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
