//! Gateway benchmark: the same keep-alive HTTPS requests to a local upstream,
//! measured in one run four ways:
//!
//! 1. `direct`: client → upstream.
//! 2. `tunnel`: client → a plain CONNECT relay in its own process (blind
//!    bytes, no inspection) → upstream.
//! 3. `gateway`: client → `tf serve` (TLS interception, Wasm classification,
//!    permission decision, credential injection, audit) → upstream, for a
//!    read-only action (`GET …/pulls/7`, `github.pr.get`: recorded once, on
//!    completion).
//! 4. `mutation`: the same through the gateway for an action that is not
//!    read-only (`PATCH …/pulls/7`, `github.pr.update`): its write-ahead
//!    record is durably committed (group commit) before it is forwarded.
//!    The ratio mutation/gateway is the cost of write-ahead.
//!
//! Latency is sampled on one keep-alive connection per path, in interleaved
//! rounds so machine noise hits all three alike; throughput uses several
//! concurrent connections per path. Run with `cargo xtask bench`
//! (or `cargo bench -p tf-e2e --bench gateway` after a release build of `tf`).
//! Options: `--requests N` (latency samples per path, default 6000),
//! `--connections C` (default 16), `--seconds S` (throughput window, default 3).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tf_e2e::{Gateway, MockUpstream, TestCa, UpstreamOptions, tls_client_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOST: &str = "api.github.com";
const PATH: &str = "/repos/octo/hello/pulls/7";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Direct,
    Tunnel,
    Gateway,
    /// Through the gateway, a mutation (write-ahead audited).
    Mutation,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Tunnel => "tunnel",
            Path::Gateway => "gateway",
            Path::Mutation => "mutation",
        }
    }

    /// The request's method: `PATCH` (`github.pr.update`) for the mutation,
    /// `GET` (`github.pr.get`) otherwise.
    fn method(self) -> hyper::Method {
        match self {
            Path::Mutation => hyper::Method::PATCH,
            Path::Direct | Path::Tunnel | Path::Gateway => hyper::Method::GET,
        }
    }
}

#[derive(Clone)]
struct Setup {
    upstream: SocketAddr,
    tunnel: SocketAddr,
    gateway: SocketAddr,
    proxy_auth: String,
    upstream_tls: Arc<ClientConfig>,
    gateway_tls: Arc<ClientConfig>,
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Opens a keep-alive HTTP/1.1-over-TLS connection for `path`.
async fn connect(s: &Setup, path: Path) -> SendRequest<Empty<Bytes>> {
    let (addr, tls, connect_auth) = match path {
        Path::Direct => (s.upstream, s.upstream_tls.clone(), None),
        Path::Tunnel => (s.tunnel, s.upstream_tls.clone(), Some(None)),
        Path::Gateway | Path::Mutation => (
            s.gateway,
            s.gateway_tls.clone(),
            Some(Some(s.proxy_auth.as_str())),
        ),
    };
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    if let Some(auth) = connect_auth {
        let mut req = format!("CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n");
        if let Some(a) = auth {
            req.push_str(&format!("Proxy-Authorization: Basic {a}\r\n"));
        }
        req.push_str("\r\n");
        tcp.write_all(req.as_bytes()).await.expect("send CONNECT");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await.expect("CONNECT reply");
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf);
        assert!(head.starts_with("HTTP/1.1 200"), "CONNECT refused: {head}");
    }
    let tls = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from(HOST).expect("name"), tcp)
        .await
        .expect("TLS handshake");
    let (send, conn) = http1::handshake(TokioIo::new(tls))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn);
    send
}

async fn one(send: &mut SendRequest<Empty<Bytes>>, path: Path) -> Duration {
    let req = hyper::Request::builder()
        .method(path.method())
        .uri(PATH)
        .header("host", HOST)
        .body(Empty::new())
        .expect("request");
    let start = Instant::now();
    send.ready().await.expect("ready");
    let resp = send.send_request(req).await.expect("response");
    assert_eq!(resp.status(), 200, "unexpected status");
    resp.into_body().collect().await.expect("body");
    start.elapsed()
}

/// A blind CONNECT relay in its own process (this binary re-run with
/// `--relay UPSTREAM`): the baseline cost of one extra process hop with no
/// inspection, as a squid or tinyproxy tunnel would add.
async fn plain_tunnel(upstream: SocketAddr) -> (SocketAddr, tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("bench exe"))
        .args(["--relay", &upstream.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn relay");
    let stdout = child.stdout.take().expect("relay stdout");
    let line = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("relay output")
        .expect("relay address");
    (line.trim().parse().expect("relay address"), child)
}

/// The relay process: prints its address, then relays until killed.
async fn relay_main(upstream: SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tunnel");
    println!("{}", listener.local_addr().expect("tunnel addr"));
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") {
                if client.read_exact(&mut byte).await.is_err() {
                    return;
                }
                buf.push(byte[0]);
            }
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = server.set_nodelay(true);
            if client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--relay") {
        let upstream = args
            .get(i + 1)
            .and_then(|a| a.parse().ok())
            .expect("--relay UPSTREAM_ADDR");
        return relay_main(upstream).await;
    }
    let requests = arg("--requests", 6000);
    let connections = arg("--connections", 16);
    let seconds = arg("--seconds", 3);

    let ca = TestCa::new();
    let up = MockUpstream::start(
        &ca,
        UpstreamOptions {
            h2: false,
            record: false,
            ..UpstreamOptions::default()
        },
    )
    .await;
    let mut g = Gateway::builder()
        .route(HOST, &up)
        .upstream_ca(&ca)
        .setup(&[
            "connector",
            "add",
            "github",
            "--token",
            "ghp_benchmarkTokenNotReal",
        ])
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Bench",
            "--connector",
            "github",
            "--action",
            "github.pr.*",
            "--decision",
            "allow",
        ])
        .start()
        .await;
    // `tf run` hands the agent its proxy URL; read the credentials from there.
    let creds = g.proxy_credentials("Bench").await;
    let gateway_ca = std::fs::read(g.data_dir().join("ca.pem")).expect("gateway CA");
    let (tunnel, _relay) = plain_tunnel(up.addr).await;
    let setup = Setup {
        upstream: up.addr,
        tunnel,
        gateway: g.proxy_addr(),
        proxy_auth: base64::engine::general_purpose::STANDARD.encode(creds.as_bytes()),
        upstream_tls: tls_client_config(ca.cert_pem.as_bytes()),
        gateway_tls: tls_client_config(&gateway_ca),
    };

    // Latency: one keep-alive connection per path, interleaved rounds.
    let paths = [Path::Direct, Path::Tunnel, Path::Gateway, Path::Mutation];
    let mut conns = Vec::new();
    for p in paths {
        conns.push(connect(&setup, p).await);
    }
    for (c, p) in conns.iter_mut().zip(paths) {
        for _ in 0..300 {
            one(c, p).await; // warm-up: pools, caches, leaf minting, branch predictors
        }
    }
    let mut samples: Vec<Vec<Duration>> = (0..paths.len())
        .map(|_| Vec::with_capacity(requests as usize))
        .collect();
    let rounds = 20;
    for _ in 0..rounds {
        for (i, c) in conns.iter_mut().enumerate() {
            for _ in 0..requests / rounds {
                samples[i].push(one(c, paths[i]).await);
            }
        }
    }
    println!(
        "\nlatency, keep-alive HTTPS GET {PATH} (mutation: PATCH), {} samples per path, 1 connection",
        requests
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>14}",
        "path", "p50 µs", "p90 µs", "p99 µs", "p50 added µs"
    );
    let mut medians = [0.0; 4];
    for (i, s) in samples.iter_mut().enumerate() {
        s.sort();
        medians[i] = us(percentile(s, 0.5));
    }
    for (i, p) in paths.iter().enumerate() {
        let s = &samples[i];
        println!(
            "{:<8} {:>10.1} {:>10.1} {:>10.1} {:>14.1}",
            p.name(),
            us(percentile(s, 0.5)),
            us(percentile(s, 0.9)),
            us(percentile(s, 0.99)),
            medians[i] - medians[0]
        );
    }
    println!(
        "ratios (p50): tunnel/direct {:.2}, gateway/direct {:.2}, gateway/tunnel {:.2}",
        medians[1] / medians[0],
        medians[2] / medians[0],
        medians[2] / medians[1]
    );
    println!(
        "write-ahead cost (p50): mutation/read-only {:.2} (+{:.1} µs)",
        medians[3] / medians[2],
        medians[3] - medians[2]
    );

    // Throughput: C concurrent keep-alive connections per path, S seconds each.
    println!("\nthroughput, {connections} connections, {seconds} s per path");
    let mut rps = [0.0; 4];
    for (i, p) in paths.iter().enumerate() {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let setup = Arc::new(setup.clone());
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (done, stop, setup, p) = (done.clone(), stop.clone(), setup.clone(), *p);
            tasks.push(tokio::spawn(async move {
                let mut c = connect(&setup, p).await;
                while !stop.load(Ordering::Relaxed) {
                    one(&mut c, p).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await; // connect + warm up
        let start_count = done.load(Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let n = done.load(Ordering::Relaxed) - start_count;
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        rps[i] = n as f64 / secs;
        println!("{:<8} {:>10.0} req/s", p.name(), rps[i]);
    }
    println!(
        "ratios (req/s): gateway/direct {:.2}, gateway/tunnel {:.2}",
        rps[2] / rps[0],
        rps[2] / rps[1]
    );
    println!(
        "write-ahead cost (req/s): mutation/read-only {:.2}",
        rps[3] / rps[2]
    );

    let audit = g.tf(&["status"]).await;
    println!("\n{}", audit.stdout.trim());
    g.stop().await;
}
