//! The exchange under drill: the real `bulwark serve` started as a child process on free
//! loopback ports over the drill's data directory, so a crash is a real process dying and a
//! restart really reads the journal and the store back. The drill talks to it only as outsiders
//! do: the operator API with the admin token, the public HTTP API, and the outbox directory
//! where the exchange leaves the emails it sends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::child::free_port;
use crate::serve::TEST_CLOCK_ENV;

/// How long a start may take before the drill gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The running child and how to reach it.
pub struct Exchange {
    pub dir: PathBuf,
    pub base: String,
    admin_base: String,
    http_addr: String,
    admin_addr: String,
    child: Option<Child>,
    token: String,
    http: reqwest::Client,
    clock_file: PathBuf,
    offset_ms: i64,
}

impl Exchange {
    /// Prepares the exchange over `dir` (which must be new or empty) without starting it.
    pub fn new(dir: &Path) -> anyhow::Result<Exchange> {
        if dir.exists()
            && std::fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .next()
                .is_some()
        {
            bail!(
                "{} is not empty: a fire drill runs on a fresh data directory, never on a live exchange's",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir.join("drill"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let clock_file = dir.join("drill").join("clock-offset-ms");
        std::fs::write(&clock_file, "0")?;
        let (http_port, admin_port) = (free_port()?, free_port()?);
        Ok(Exchange {
            dir: dir.to_path_buf(),
            base: format!("http://127.0.0.1:{http_port}"),
            admin_base: format!("http://127.0.0.1:{admin_port}"),
            http_addr: format!("127.0.0.1:{http_port}"),
            admin_addr: format!("127.0.0.1:{admin_port}"),
            child: None,
            token: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            clock_file,
            offset_ms: 0,
        })
    }

    /// Starts `bulwark serve` (this same binary); `fault` arms a fault injection point.
    pub async fn start(&mut self, fault: Option<&str>) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("drill").join("server.log"))?;
        let mut command =
            crate::child::serve_command(&self.dir, &self.http_addr, &self.admin_addr)?;
        command
            // Blocks and reconciliation only when the drill asks, deposits swept to hot, reports
            // only on demand, and budgets raised: every drill client shares 127.0.0.1.
            .args(["--sim-block-ms", "0", "--hot-share-bps", "10000"])
            .args(["--report-interval-hours", "0"])
            .args([
                "--rate-limit-per-ip",
                "100000",
                "--api-rate-limit-scale",
                "1000",
            ])
            .env(TEST_CLOCK_ENV, &self.clock_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(fault) = fault {
            command.args(["--fault", fault]);
        }
        self.child = Some(command.spawn().context("starting bulwark serve")?);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.exited()? {
                bail!(
                    "the exchange exited at start ({status}); see {}",
                    self.dir.join("drill/server.log").display()
                );
            }
            let ready = self
                .http
                .get(format!("{}/spot/v1/symbols/details", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if let Ok(answer) = ready
                && answer.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("the exchange did not answer within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.token = std::fs::read_to_string(self.dir.join("admin.token"))
            .context("reading the admin token")?
            .trim()
            .to_owned();
        Ok(())
    }

    /// The child's exit status once it has exited.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }

    /// Waits up to `timeout` for the child to exit (after an injected crash).
    pub async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("the exchange was still running {timeout:?} later");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the child with SIGTERM (its orderly shutdown), waiting for it.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait()?.is_none() {
                let pid = child.id().to_string();
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
                if self.wait_exit(Duration::from_secs(30)).await.is_err()
                    && let Some(child) = self.child.as_mut()
                {
                    child.kill()?;
                    child.wait()?;
                }
            }
            self.child = None;
        }
        Ok(())
    }

    /// Moves the exchange's clock forward (the test clock file every request reads).
    pub fn advance_clock(&mut self, ms: i64) -> anyhow::Result<()> {
        self.offset_ms = self.offset_ms.saturating_add(ms);
        std::fs::write(&self.clock_file, self.offset_ms.to_string())?;
        Ok(())
    }

    /// The exchange's "now" in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        bulwark_api::now_ms().saturating_add(self.offset_ms)
    }

    /// One operator API call; answers (HTTP status, JSON body).
    pub async fn admin_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.admin_base);
        let request = match (method, body) {
            ("GET", _) => self.http.get(&url),
            (_, Some(body)) => self.http.post(&url).json(&body),
            (_, None) => self.http.post(&url).json(&serde_json::json!({})),
        };
        let answer = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let status = answer.status().as_u16();
        let body = answer.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// An operator API call that must succeed.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.admin_call(method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("admin {method} {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// A public GET answering (status, body text).
    pub async fn public_get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let answer = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok((answer.status().as_u16(), answer.text().await?))
    }

    /// The texts of the emails in the outbox whose file name contains `kind`.
    pub fn outbox(&self, kind: &str) -> anyhow::Result<Vec<String>> {
        let dir = self.dir.join("outbox");
        let mut texts = Vec::new();
        if !dir.exists() {
            return Ok(texts);
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(kind))
            })
            .collect();
        paths.sort();
        for path in paths {
            texts.push(String::from_utf8_lossy(&std::fs::read(&path)?).into_owned());
        }
        Ok(texts)
    }

    /// Waits until `check` answers something (the exchange works in the background).
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(value) = check().await? {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
