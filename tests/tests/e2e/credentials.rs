//! Credentials go only where they belong: a credential stays bound to the
//! kind and domains it was entered for, `tf run` gives the agent neither the
//! gateway's variables nor the real tokens still exported in the user's
//! shell, and the CLI sends the admin token only to the data dir's admin
//! socket, never to a TCP address named by a stale `runtime.json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tf_e2e::{Configure, Gateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{GH_SECRET, decisions, setup, split_curl};

const MCP_SECRET: &str = "mcp-e2e-RealToken-8c1f0a";

fn master_key(g: &Gateway) -> String {
    std::fs::read_to_string(g.data_dir().join("master.key"))
        .expect("master.key")
        .trim()
        .to_owned()
}

/// Asserts what an agent printed with `env` hides the gateway and the secret.
fn assert_hidden(env: &str) {
    for line in env.lines() {
        assert!(!line.starts_with("TF_DATA_DIR="), "{env}");
        assert!(!line.starts_with("TF_MASTER_KEY="), "{env}");
        assert!(!line.starts_with("TF_LOG="), "{env}");
    }
    assert!(
        !env.contains(MCP_SECRET),
        "the real token reached the agent: {env}"
    );
    for var in ["MCP_TOKEN", "ALSO_THE_TOKEN"] {
        let line = env
            .lines()
            .find(|l| l.starts_with(&format!("{var}=")))
            .unwrap_or_else(|| panic!("{var} missing: {env}"));
        assert!(
            line.starts_with(&format!("{var}=tf-placeholder-mcp-")),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tf_run_hides_the_gateway_variables_and_real_tokens_from_the_agent() {
    let mut g = Gateway::builder().prepare().await;
    let key = master_key(&g);
    let shell = [
        ("MCP_TOKEN", MCP_SECRET),
        ("ALSO_THE_TOKEN", MCP_SECRET),
        ("TF_MASTER_KEY", key.as_str()),
        ("UNRELATED", "plain-value"),
    ];
    g.tf_env(
        &[
            "connector",
            "add",
            "mcp",
            "--domains",
            "mcp.example.com",
            "--token-env",
            "MCP_TOKEN",
        ],
        &shell,
    )
    .await
    .ok();

    // `tf run`'s own gateway (direct mode).
    let out = g
        .tf_env(&["run", "--name", "Bot", "--", "sh", "-c", "env"], &shell)
        .await
        .ok();
    assert_hidden(&out.stdout);
    assert!(
        out.stdout.contains("UNRELATED=plain-value"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("HTTPS_PROXY=http://Bot:"),
        "{}",
        out.stdout
    );

    // --keep-env keeps one on purpose, with a warning naming it.
    let out = g
        .tf_env(
            &[
                "run",
                "--name",
                "Bot",
                "--keep-env",
                "MCP_TOKEN",
                "--",
                "sh",
                "-c",
                "env",
            ],
            &shell,
        )
        .await
        .ok();
    assert!(
        out.stdout.contains(&format!("MCP_TOKEN={MCP_SECRET}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ALSO_THE_TOKEN=tf-placeholder-mcp-"));
    assert!(
        out.stderr.contains("--keep-env MCP_TOKEN"),
        "{}",
        out.stderr
    );

    // Through a running gateway's admin API (digests over the socket).
    g.serve().await;
    let out = g
        .tf_env(&["run", "--name", "Bot", "--", "sh", "-c", "env"], &shell)
        .await
        .ok();
    assert_hidden(&out.stdout);
    g.stop().await;
}

/// A TCP listener that counts connections and records what arrives.
async fn trap() -> (
    std::net::SocketAddr,
    Arc<AtomicUsize>,
    Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, s) = (Arc::clone(&accepted), Arc::clone(&seen));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 8192];
            if let Ok(n) = stream.read(&mut buf).await {
                s.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
        }
    });
    (addr, accepted, seen)
}

fn write_stale_runtime(g: &Gateway, addr: std::net::SocketAddr) {
    let json = serde_json::json!({
        "pid": std::process::id(),
        "proxy": addr.to_string(),
        "admin": addr.to_string(),
        "version": "0.0.0",
    });
    std::fs::write(g.data_dir().join("runtime.json"), json.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_never_sends_the_admin_token_to_a_stale_runtime_address() {
    let (addr, accepted, seen) = trap().await;
    let mut g = Gateway::builder().prepare().await;
    let token = std::fs::read_to_string(g.data_dir().join("admin.token")).unwrap();

    // No gateway runs; runtime.json names the trap.
    write_stale_runtime(&g, addr);
    let status = g.tf(&["status"]).await.ok();
    assert!(
        !status.stdout.contains(&addr.to_string()),
        "{}",
        status.stdout
    );
    g.tf(&["connector", "list"]).await.ok();

    // A gateway runs, but runtime.json was replaced by one naming the trap:
    // the CLI still talks to the real gateway, over its socket.
    // (The harness waits for a fresh runtime.json.)
    std::fs::remove_file(g.data_dir().join("runtime.json")).unwrap();
    g.serve().await;
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(g.data_dir().join("admin.sock")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    write_stale_runtime(&g, addr);
    let status = g.tf(&["status"]).await.ok();
    assert!(status.stdout.contains("running"), "{}", status.stdout);
    assert!(
        status.stdout.contains(&g.proxy_addr().to_string()),
        "{}",
        status.stdout
    );
    g.tf(&["connector", "list"]).await.ok();

    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the CLI connected to the trap"
    );
    let seen = String::from_utf8_lossy(&seen.lock().unwrap()).to_ascii_lowercase();
    assert!(!seen.contains("authorization"), "{seen}");
    assert!(!seen.contains(token.trim()), "{seen}");
    g.stop().await;
    assert!(
        !g.data_dir().join("admin.sock").exists(),
        "the socket is removed at shutdown"
    );
}

async fn curl(g: &Gateway, url: &str) -> tf_e2e::TfOutput {
    let cmd = format!("curl -sS -w '\\n%{{http_code}}' -H 'Authorization: Bearer x' {url}");
    g.run_agent("Bot", &["sh", "-c", &cmd]).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_does_not_follow_an_instance_to_new_domains_unless_confirmed() {
    let (ca, up) = setup().await;
    let g = Gateway::builder()
        .route("api.github.com", &up)
        .route("hooks.example.com", &up)
        .upstream_ca(&ca)
        .connector("github")
        .token(GH_SECRET)
        .allow("Bot", "github", "*")
        .start()
        .await;
    // The attack of issue 9: same instance, another kind and domain (here
    // one the mock upstream serves, standing for the attacker's), no token.
    let out = g
        .tf(&[
            "connector",
            "add",
            "generic",
            "--name",
            "github",
            "--domains",
            "hooks.example.com",
        ])
        .await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("--keep-credential"), "{}", out.stderr);
    let list = g.tf(&["connector", "list"]).await.ok();
    assert!(
        list.stdout.contains("api.github.com"),
        "nothing changed: {}",
        list.stdout
    );
    let out = curl(&g, "https://hooks.example.com/anything").await;
    let (_, code) = split_curl(&out.stdout);
    assert_eq!(code, 403, "no route to the new domain: {}", out.stdout);
    assert!(up.requests_to("/anything").is_empty());

    // Confirmed: rebound and audited; the token now goes there.
    g.tf(&[
        "connector",
        "add",
        "generic",
        "--name",
        "github",
        "--domains",
        "hooks.example.com",
        "--keep-credential",
    ])
    .await
    .ok();
    let out = curl(&g, "https://hooks.example.com/anything").await;
    let (_, code) = split_curl(&out.stdout);
    assert_eq!(code, 200, "{}", out.stdout);
    assert_eq!(
        up.requests_to("/anything")[0].header("authorization"),
        Some(format!("Bearer {GH_SECRET}").as_str())
    );
    let audit = g.audit().await;
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "connector.credential_rebound" && r["connector"] == "github"),
        "{:?}",
        decisions(&audit)
    );
}
