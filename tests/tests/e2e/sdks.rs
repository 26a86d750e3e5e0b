//! The official Python SDKs (stripe, slack_sdk, openai, anthropic, mcp),
//! unmodified, under `tf run`: each allowed call reaches the mock upstream
//! with the real credential in the connector's placement, each denied call
//! never arrives, and the audit names the action with its params.

use std::time::Duration;

use tf_e2e::{Configure, Gateway, GatewayBuilder, MockUpstream, TestCa, UpstreamOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The gateway the SDK tests talk through: `host` routed to the mock
/// upstream, configured by `configure` (a connector and rules for [`AGENT`]).
async fn gateway_for(
    ca: &TestCa,
    up: &MockUpstream,
    host: &str,
    configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder,
) -> Gateway {
    configure(Gateway::builder().route(host, up).upstream_ca(ca))
        .start()
        .await
}

/// The gateway (agent identity) every SDK test runs as.
const AGENT: &str = "Agent";

async fn upstream() -> (TestCa, MockUpstream) {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, UpstreamOptions::default()).await;
    (ca, up)
}

fn param<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    record["params"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["value"])
}

fn find<'a>(audit: &'a [serde_json::Value], action: &str) -> &'a serde_json::Value {
    audit
        .iter()
        .find(|r| r["action"] == action)
        .unwrap_or_else(|| panic!("no audit record for {action}: {audit:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_sdk() {
    const SECRET: &str = "sk_test_e2eStripeSecret9f1";
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "api.stripe.com", |b| {
        b.connector("stripe")
            .token(SECRET)
            .allow(AGENT, "stripe", "stripe.charge.create")
            .deny(AGENT, "stripe", "stripe.refund.create")
    })
    .await;
    let script = r#"
import os, stripe
key = os.environ["STRIPE_API_KEY"]
assert key.startswith("tf-placeholder-"), key
stripe.api_key = key
stripe.max_network_retries = 0
charge = stripe.Charge.create(amount=2000, currency="usd", customer="cus_123")
print("charge", charge["id"])
try:
    stripe.Refund.create(charge="ch_1", amount=500)
    print("refund allowed")
except Exception as e:
    print("refund denied", type(e).__name__, e.http_status)
"#;
    let out = g.run_agent("Agent", &["python3", "-c", script]).await.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["charge obj_1", "refund denied PermissionError 403"],
        "{out:?}"
    );
    let charges = up.requests_to("/v1/charges");
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert!(String::from_utf8_lossy(&charges[0].body).contains("amount=2000"));
    assert!(
        up.requests_to("/v1/refunds").is_empty(),
        "a denied refund never leaves"
    );
    let audit = g.request_records().await;
    let charge = find(&audit, "stripe.charge.create");
    assert_eq!(charge["decision"], "allowed");
    assert_eq!(param(charge, "amount"), Some(&serde_json::json!(2000)));
    assert_eq!(param(charge, "currency"), Some(&serde_json::json!("usd")));
    assert_eq!(
        param(charge, "customer"),
        Some(&serde_json::json!("cus_123"))
    );
    assert_eq!(
        find(&audit, "stripe.refund.create")["reason"],
        "permission_denied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sdk() {
    const SECRET: &str = "xoxb-e2e-slack-secret-41";
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "slack.com", |b| {
        b.connector("slack")
            .token(SECRET)
            .allow(AGENT, "slack", "slack.message.send")
            .deny(AGENT, "slack", "slack.channel.archive")
    })
    .await;
    let script = r#"
import os
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
client = WebClient(token=os.environ["SLACK_BOT_TOKEN"])
print("post", client.chat_postMessage(channel="C123", text="hello from an agent")["ok"])
try:
    client.conversations_archive(channel="C123")
    print("archive allowed")
except SlackApiError as e:
    print("archive denied", e.response.status_code)
"#;
    let out = g.run_agent("Agent", &["python3", "-c", script]).await.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["post True", "archive denied 403"],
        "{out:?}"
    );
    let posts = up.requests_to("/api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert!(up.requests_to("/api/conversations.archive").is_empty());
    let audit = g.request_records().await;
    let post = find(&audit, "slack.message.send");
    assert_eq!(param(post, "channel"), Some(&serde_json::json!("C123")));
    assert_eq!(param(post, "text_len"), Some(&serde_json::json!(19)));
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains("hello from an agent"),
        "message text is not audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_sdk_with_a_streamed_chat_completion() {
    const SECRET: &str = "sk-proj-e2eOpenAiSecret77";
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "api.openai.com", |b| {
        b.connector("openai")
            .token(SECRET)
            .allow(AGENT, "openai", "openai.chat.create")
            .deny(AGENT, "openai", "openai.file.upload")
    })
    .await;
    let script = r#"
from openai import OpenAI
client = OpenAI(max_retries=0)
r = client.chat.completions.create(model="gpt-e2e", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=7)
print("chat", r.id, flush=True)
for chunk in client.chat.completions.create(model="gpt-e2e", messages=[{"role": "user", "content": "hi"}], stream=True):
    print("chunk", chunk.choices[0].delta.content, flush=True)
try:
    client.files.create(file=("notes.txt", b"secret notes"), purpose="assistants")
    print("upload allowed")
except Exception as e:
    print("upload denied", getattr(e, "status_code", None))
"#;
    let mut child = g.spawn_agent("Agent", &["python3", "-u", "-c", script]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("agent output in time")
            .expect("read")
            .unwrap_or_default()
    };
    assert_eq!(next().await, "chat obj_1");
    // The upstream holds the second chunk until the agent has shown the first.
    assert_eq!(
        next().await,
        "chunk Hel",
        "the first chunk arrived while the stream was open"
    );
    up.release_sse();
    assert_eq!(next().await, "chunk lo");
    assert_eq!(next().await, "upload denied 403");
    assert_eq!(child.wait().await.expect("wait").code(), Some(0));

    let chats = up.requests_to("/v1/chat/completions");
    assert_eq!(chats.len(), 2);
    for c in &chats {
        assert_eq!(
            c.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
    assert!(up.requests_to("/v1/files").is_empty());
    let audit = g.request_records().await;
    let chats: Vec<_> = audit
        .iter()
        .filter(|r| r["action"] == "openai.chat.create")
        .collect();
    assert_eq!(chats.len(), 2, "{audit:#?}");
    assert_eq!(
        param(chats[0], "model"),
        Some(&serde_json::json!("gpt-e2e"))
    );
    assert_eq!(
        param(chats[0], "max_completion_tokens"),
        Some(&serde_json::json!(7))
    );
    assert_eq!(param(chats[1], "stream"), Some(&serde_json::json!(true)));
    assert_eq!(find(&audit, "openai.file.upload")["decision"], "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_sdk() {
    const SECRET: &str = "sk-ant-e2eAnthropicSecret3";
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "api.anthropic.com", |b| {
        b.connector("anthropic")
            .token(SECRET)
            .allow(AGENT, "anthropic", "anthropic.message.create")
    })
    .await;
    let script = r#"
import anthropic
client = anthropic.Anthropic(max_retries=0)
m = client.messages.create(model="claude-e2e", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
print("message", m.id)
try:
    client.models.list()
    print("models allowed")
except anthropic.PermissionDeniedError as e:
    print("models denied", e.status_code)
"#;
    let out = g.run_agent("Agent", &["python3", "-c", script]).await.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["message obj_1", "models denied 403"],
        "{out:?}"
    );
    let messages = up.requests_to("/v1/messages");
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].header("x-api-key"),
        Some(SECRET),
        "credential placed in x-api-key"
    );
    assert!(
        messages[0].header("anthropic-version").is_some(),
        "the SDK's version header passes through"
    );
    // The SDK also sends `Authorization: Bearer <placeholder>`: it is removed,
    // never forwarded, and no placeholder reaches the API anywhere.
    assert_eq!(messages[0].header("authorization"), None);
    assert!(
        !format!("{:?}", messages[0]).contains("tf-placeholder-"),
        "{:?}",
        messages[0]
    );
    assert!(up.requests_to("/v1/models").is_empty());
    let audit = g.request_records().await;
    let m = find(&audit, "anthropic.message.create");
    assert_eq!(param(m, "model"), Some(&serde_json::json!("claude-e2e")));
    assert_eq!(param(m, "max_tokens"), Some(&serde_json::json!(16)));
    assert_eq!(
        find(&audit, "anthropic.model.list")["reason"],
        "no_permission"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_connector_places_a_custom_header() {
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "hooks.example.com", |b| {
        b.connector("webhook")
            .domains("hooks.example.com")
            .header("X-Hook-Key")
            .template("{secret}")
            .token("hook-secret-e2e-5")
            .allow(AGENT, "webhook", "webhook.post")
    })
    .await;
    let out = g
        .run_agent(
            "Agent",
            &["sh", "-c", "curl -sS -o /dev/null -w '%{http_code} ' -d x=1 https://hooks.example.com/deploy; curl -sS -o /dev/null -w '%{http_code}' -X DELETE https://hooks.example.com/deploy"],
        )
        .await
        .ok();
    assert_eq!(out.stdout, "200 403", "{}", g.logs());
    let hooks = up.requests_to("/deploy");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].header("x-hook-key"), Some("hook-secret-e2e-5"));
}

/// A real MCP server (the `mcp` package, Streamable HTTP over TLS) that
/// appends every `Authorization` header it receives to a file.
const MCP_SERVER: &str = r#"
import sys, uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

port, cert, key, seen = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
server = MCPServer("e2e")

@server.tool()
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b

@server.tool()
def deploy(env: str) -> str:
    """Deploys to an environment."""
    return "deployed " + env

inner = server.streamable_http_app(
    host="mcp.example.com",
    transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
)

async def app(scope, receive, send):
    if scope["type"] == "http":
        for name, value in scope["headers"]:
            if name == b"authorization":
                with open(seen, "a") as f:
                    f.write(value.decode() + "\n")
    await inner(scope, receive, send)

uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning")
"#;

const MCP_CLIENT: &str = r#"
import asyncio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

async def main():
    async with streamable_http_client("https://mcp.example.com/mcp") as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            tools = await session.list_tools()
            print("tools", ",".join(sorted(t.name for t in tools.tools)), flush=True)
            result = await session.call_tool("add", {"a": 2, "b": 3})
            print("add", result.content[0].text, flush=True)
            try:
                result = await session.call_tool("deploy", {"env": "prod"}, read_timeout_seconds=20)
                print("deploy allowed", result.content[0].text, flush=True)
            except Exception as e:
                print("deploy denied", flush=True)

asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sdk_client_against_an_mcp_server() {
    const SECRET: &str = "mcp-e2e-server-token-8";
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = ca.leaf_pem(&["mcp.example.com"]);
    let path = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(path("cert.pem"), cert).expect("cert");
    std::fs::write(path("key.pem"), key).expect("key");
    std::fs::write(path("server.py"), MCP_SERVER).expect("server script");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut server = tokio::process::Command::new("python3")
        .args([
            path("server.py"),
            port.to_string(),
            path("cert.pem"),
            path("key.pem"),
            path("seen.txt"),
        ])
        .kill_on_drop(true)
        .spawn()
        .expect("start the MCP server");
    tf_e2e::eventually("the MCP server listens", Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    })
    .await;

    let g = Gateway::builder()
        .route_port("mcp.example.com", port)
        .upstream_ca(&ca)
        .connector("mcp")
        .domains("mcp.example.com")
        .token(SECRET)
        .allow(AGENT, "mcp", "mcp.*")
        .deny(AGENT, "mcp", "mcp.tools.deploy")
        .start()
        .await;
    let out = g.run_agent("Agent", &["python3", "-c", MCP_CLIENT]).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["tools add,deploy", "add 5", "deploy denied"],
        "{out:?}\n{}",
        g.logs()
    );

    let audit = g.request_records().await;
    let add = find(&audit, "mcp.tools.add");
    assert_eq!(add["decision"], "allowed");
    assert_eq!(param(add, "tool"), Some(&serde_json::json!("add")));
    assert_eq!(param(add, "arg.a"), Some(&serde_json::json!(2)));
    assert_eq!(find(&audit, "mcp.tools.list")["decision"], "allowed");
    let deploy = find(&audit, "mcp.tools.deploy");
    assert_eq!(deploy["reason"], "permission_denied");
    assert_eq!(param(deploy, "arg.env"), Some(&serde_json::json!("prod")));

    let seen = std::fs::read_to_string(path("seen.txt")).unwrap_or_default();
    assert!(!seen.is_empty(), "the server saw the agent's requests");
    assert!(
        seen.lines().all(|l| l == format!("Bearer {SECRET}")),
        "every request carried the real token: {seen}"
    );
    let calls = audit
        .iter()
        .filter(|r| r["action"] == "mcp.tools.deploy")
        .count();
    assert_eq!(
        calls, 1,
        "the denied call was tried once and never forwarded"
    );
    let _ = server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_batches_are_decided_message_by_message() {
    let (ca, up) = upstream().await;
    let g = gateway_for(&ca, &up, "mcp.example.com", |b| {
        b.connector("mcp")
            .domains("mcp.example.com")
            .token("mcp-batch-token")
            .allow(AGENT, "mcp", "mcp.*")
            .deny(AGENT, "mcp", "mcp.tools.deploy")
    })
    .await;
    let script = r#"
post() { curl -sS -o /dev/null -w "%{http_code} " -H 'content-type: application/json' -d "$1" "https://mcp.example.com/$2"; }
post '[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}]' ok
post '[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"deploy","arguments":{"env":"prod"}}}]' mixed
"#;
    let out = g.run_agent("Agent", &["sh", "-c", script]).await.ok();
    assert_eq!(out.stdout.trim(), "200 403", "{out:?}");
    assert_eq!(up.requests_to("/ok").len(), 1);
    assert!(
        up.requests_to("/mixed").is_empty(),
        "one denied message denies the whole batch"
    );
    let audit = g.request_records().await;
    let batches: Vec<_> = audit
        .iter()
        .filter(|r| r["action"] == "mcp.batch")
        .collect();
    assert_eq!(batches.len(), 2, "{audit:#?}");
    assert_eq!(batches[0]["decision"], "allowed");
    assert_eq!(batches[1]["decision"], "denied");
    assert_eq!(batches[1]["reason"], "permission_denied");
}
