//! Runs the real `tf` binary: `tf serve` as a child process in a temporary
//! data dir, and one-shot commands (`tf connector add`, `tf run`, `tf logs`)
//! against the same data dir, exactly as a user would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::setup::{Changes, Configure};
use crate::upstream::{MockUpstream, TestCa};

/// Path of the `tf` binary under test: `$TF_BIN`, or `tf` next to the test
/// executable's profile dir (`target/<profile>/tf`).
pub fn tf_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TF_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/tf
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let tf = profile_dir.join("tf");
    assert!(
        tf.exists(),
        "{} does not exist: build it first (`cargo build -p tf-cli`, done by `cargo xtask test`) or set TF_BIN",
        tf.display()
    );
    tf
}

/// The command line for the harness's own log, with `--token` values hidden
/// (the secret-grep test scans that log for what `tf` printed, not for what
/// the test typed).
fn redacted(args: &[&str]) -> String {
    let mut out = Vec::with_capacity(args.len());
    let mut hide = false;
    for a in args {
        out.push(if hide { "***" } else { a });
        hide = *a == "--token";
    }
    out.join(" ")
}

/// What a finished `tf` command printed.
#[derive(Debug)]
pub struct TfOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl TfOutput {
    /// Panics with the output if the command failed.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "tf failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Builds a gateway: upstream routing, extra flags, and its configuration
/// before it starts ([`Configure`]: connectors, credentials, rules).
#[derive(Default)]
pub struct GatewayBuilder {
    connect_to: Vec<String>,
    upstream_ca_pem: Option<String>,
    setup: Vec<Vec<String>>,
    start: bool,
}

impl GatewayBuilder {
    /// Sends `host:443` to the mock upstream (curl `--connect-to` semantics).
    pub fn route(mut self, host: &str, upstream: &MockUpstream) -> Self {
        self.connect_to
            .push(format!("{host}:443:127.0.0.1:{}", upstream.addr.port()));
        self
    }

    /// Sends `host:443` to a local port (a server the harness does not own).
    pub fn route_port(mut self, host: &str, port: u16) -> Self {
        self.connect_to.push(format!("{host}:443:127.0.0.1:{port}"));
        self
    }

    /// Trusts the test CA for upstream connections (`--upstream-ca`).
    pub fn upstream_ca(mut self, ca: &TestCa) -> Self {
        self.upstream_ca_pem = Some(ca.cert_pem.clone());
        self
    }

    /// A `tf` command (without `--data-dir`) run before the gateway starts,
    /// i.e. acting on the data dir directly ([`Configure::tf`]).
    pub fn setup(self, args: &[&str]) -> Self {
        self.tf(args)
    }

    /// Prepares the data dir without starting `tf serve` (for `tf run`'s
    /// in-process gateway).
    pub async fn prepare(mut self) -> Gateway {
        self.start = false;
        self.build().await
    }

    pub async fn start(mut self) -> Gateway {
        self.start = true;
        self.build().await
    }

    async fn build(self) -> Gateway {
        let data_dir = tempfile::Builder::new()
            .prefix("tf-e2e-data")
            .tempdir()
            .expect("data dir");
        let aux_dir = tempfile::Builder::new()
            .prefix("tf-e2e-aux")
            .tempdir()
            .expect("aux dir");
        let upstream_ca = self.upstream_ca_pem.map(|pem| {
            let p = aux_dir.path().join("upstream-ca.pem");
            std::fs::write(&p, pem).expect("write upstream CA");
            p
        });
        let mut g = Gateway {
            data_dir,
            aux_dir,
            child: None,
            proxy: None,
            admin: None,
            connect_to: self.connect_to,
            upstream_ca,
        };
        g.tf(&["init"]).await.ok();
        for args in &self.setup {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            g.tf(&args).await.ok();
        }
        if self.start {
            g.serve().await;
        }
        g
    }
}

impl Configure for GatewayBuilder {
    fn steps(&mut self) -> &mut Vec<Vec<String>> {
        &mut self.setup
    }
}

/// A `tf serve` process and its data dir.
pub struct Gateway {
    data_dir: TempDir,
    aux_dir: TempDir,
    child: Option<Child>,
    proxy: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    connect_to: Vec<String>,
    upstream_ca: Option<PathBuf>,
}

impl Gateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// Changes to this gateway's configuration ([`Configure`]), run as `tf`
    /// commands by [`Changes::apply`]: through the admin API while it serves.
    pub fn setup(&self) -> Changes<'_> {
        Changes::new(self)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The proxy's bound address (panics if not serving).
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy.expect("gateway is serving")
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.expect("gateway is serving")
    }

    /// Flags shared by `tf serve` and `tf run` (which may start its own gateway).
    pub fn upstream_flags(&self) -> Vec<String> {
        let mut v = Vec::new();
        for c in &self.connect_to {
            v.push("--connect-to".to_owned());
            v.push(c.clone());
        }
        if let Some(p) = &self.upstream_ca {
            v.push("--upstream-ca".to_owned());
            v.push(p.display().to_string());
        }
        v
    }

    fn command(&self) -> Command {
        let mut c = Command::new(tf_bin());
        c.env("TF_DATA_DIR", self.data_dir.path())
            .env_remove("TF_MASTER_KEY")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy")
            .env("TF_LOG", "info")
            .kill_on_drop(true);
        // Benchmarks may size the gateway's runtime without touching their own.
        if let Some(n) = std::env::var_os("TF_E2E_GATEWAY_WORKERS") {
            c.env("TOKIO_WORKER_THREADS", n);
        }
        c
    }

    /// Runs `tf <args>` against this data dir and waits for it.
    pub async fn tf(&self, args: &[&str]) -> TfOutput {
        self.tf_env(args, &[]).await
    }

    /// Runs `tf <args>` with extra environment variables (as a user's shell
    /// would export them) and waits for it.
    pub async fn tf_env(&self, args: &[&str], env: &[(&str, &str)]) -> TfOutput {
        let mut c = self.command();
        c.args(args).stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), c.output())
            .await
            .unwrap_or_else(|_| panic!("tf {args:?} did not finish within 120 s"))
            .expect("spawn tf");
        let out = TfOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.append_log(&format!(
            "$ tf {}\n{}{}",
            redacted(args),
            out.stdout,
            out.stderr
        ));
        out
    }

    /// `tf run --name <agent> [upstream flags] -- <cmd…>` and waits for it.
    pub async fn run_agent(&self, agent: &str, cmd: &[&str]) -> TfOutput {
        let flags = self.upstream_flags();
        let mut args: Vec<&str> = vec!["run", "--name", agent];
        if self.child.is_none() {
            args.extend(flags.iter().map(String::as_str));
        }
        args.push("--");
        args.extend_from_slice(cmd);
        self.tf(&args).await
    }

    /// `tf run` with stdout piped, for tests that read the agent's output as it comes.
    pub fn spawn_agent(&self, agent: &str, cmd: &[&str]) -> Child {
        let mut c = self.command();
        c.args(["run", "--name", agent, "--"])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        c.spawn().expect("spawn tf run")
    }

    fn log_path(&self) -> PathBuf {
        self.aux_dir.path().join("commands.log")
    }

    fn append_log(&self, text: &str) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
        {
            let _ = f.write_all(text.as_bytes());
        }
    }

    /// Everything `tf serve` and the commands printed so far.
    pub fn logs(&self) -> String {
        let mut s =
            std::fs::read_to_string(self.aux_dir.path().join("serve.log")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(self.log_path()).unwrap_or_default());
        s
    }

    /// Starts `tf serve` on ephemeral loopback ports and waits for `runtime.json`.
    pub async fn serve(&mut self) {
        let log = std::fs::File::create(self.aux_dir.path().join("serve.log")).expect("serve log");
        let mut c = self.command();
        c.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(self.upstream_flags())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
        self.child = Some(c.spawn().expect("spawn tf serve"));
        let runtime = self.data_dir.path().join("runtime.json");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        let info: serde_json::Value = loop {
            tick.tick().await;
            if let Ok(text) = std::fs::read_to_string(&runtime)
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                && v.get("proxy").is_some()
            {
                break v;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("tf serve exited early ({status}):\n{}", self.logs());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "tf serve did not start:\n{}",
                self.logs()
            );
        };
        let addr = |k: &str| -> SocketAddr {
            info[k]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("runtime.json {k}: {info}"))
        };
        self.proxy = Some(addr("proxy"));
        self.admin = Some(addr("admin"));
    }

    /// Stops `tf serve` with SIGTERM (a clean shutdown) and waits for it.
    pub async fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id().expect("serve pid").to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("tf serve did not stop within 30 s of SIGTERM")
            .expect("wait serve");
        self.proxy = None;
        self.admin = None;
        status.code()
    }

    /// Kills `tf serve` with SIGKILL (a crash: nothing is flushed or
    /// cleaned up), waits for it, and removes the stale `runtime.json` so
    /// that [`Gateway::serve`] waits for the new process's own.
    pub async fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        child.start_kill().expect("SIGKILL tf serve");
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("tf serve did not die within 30 s of SIGKILL")
            .expect("wait serve");
        let _ = std::fs::remove_file(self.data_dir.path().join("runtime.json"));
        self.proxy = None;
        self.admin = None;
    }

    /// The `user:password` an agent named `agent` presents to the proxy
    /// (what `tf run` puts in `HTTPS_PROXY`).
    pub async fn proxy_credentials(&self, agent: &str) -> String {
        let env = self
            .run_agent(agent, &["sh", "-c", "printf %s \"$HTTPS_PROXY\""])
            .await
            .ok();
        let creds = env
            .stdout
            .trim()
            .strip_prefix("http://")
            .and_then(|r| r.rsplit_once('@'))
            .map(|(c, _)| c.to_owned())
            .expect("proxy URL with credentials");
        percent_decode(&creds)
    }

    /// The status the proxy answers `curl` with, for the given proxy user
    /// (no `tf run`): the CONNECT reply for https, the response for http.
    pub async fn proxy_status(&self, proxy_user: Option<&str>, url: &str) -> u16 {
        let proxy = format!("http://{}", self.proxy_addr());
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_connect} %{http_code}",
            "--proxy",
            &proxy,
        ]);
        if let Some(u) = proxy_user {
            c.args(["--proxy-user", u]);
        }
        c.args([
            "--cacert",
            &self.data_dir.path().join("ca.pem").display().to_string(),
            url,
        ]);
        let out = c.output().await.expect("run curl");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (connect, code) = stdout.trim().split_once(' ').unwrap_or(("000", "000"));
        // A refused CONNECT: curl (depending on its version) reports it in
        // `%{http_connect}` or only as "CONNECT tunnel failed, response 407".
        let from_stderr = stderr.split("response ").nth(1).and_then(|r| r.get(..3));
        let pick = [connect, code, from_stderr.unwrap_or("000")]
            .into_iter()
            .find(|c| *c != "000" && *c != "200");
        pick.unwrap_or(code)
            .parse()
            .unwrap_or_else(|_| panic!("curl: {stdout} {stderr}"))
    }

    /// The audit trail as JSON records, via `tf logs --json`.
    pub async fn audit(&self) -> Vec<serde_json::Value> {
        let out = self.tf(&["logs", "--json", "-n", "10000"]).await.ok();
        out.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("tf logs --json line {l:?}: {e}"))
            })
            .collect()
    }

    /// One record per request: [`Gateway::audit`] without the write-ahead
    /// records of mutations (each is followed by its request's completion
    /// record, with the same `request_id`).
    pub async fn request_records(&self) -> Vec<serde_json::Value> {
        let mut records = self.audit().await;
        records.retain(|r| r["phase"] != "write_ahead");
        records
    }
}

/// Decodes the `%XX` escapes `tf run` puts in the proxy URL's user part.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten();
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 credentials")
}
