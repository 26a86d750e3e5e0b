use clap::{CommandFactory, Parser};

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("tf").chain(args.iter().copied()))
}

#[test]
fn the_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn serve_defaults_and_flags() {
    let cli = parse(&["serve"]).unwrap();
    let Command::Serve(s) = cli.command else {
        panic!("not serve")
    };
    assert_eq!(s.listen.to_string(), "127.0.0.1:9480");
    assert_eq!(s.admin_listen.to_string(), "127.0.0.1:9481");
    assert!(!s.proxy.allow_private_upstreams);

    let cli = parse(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--connect-to",
        "api.github.com:443:127.0.0.1:8443",
        "--connect-to",
        "x.test:443:127.0.0.1:9443",
        "--upstream-ca",
        "/tmp/ca.pem",
        "--allow-private-upstreams",
        "--data-dir",
        "/tmp/d",
    ])
    .unwrap();
    assert_eq!(
        cli.data_dir.as_deref(),
        Some(std::path::Path::new("/tmp/d"))
    );
    let Command::Serve(s) = cli.command else {
        panic!("not serve")
    };
    assert_eq!(s.listen.port(), 0);
    assert_eq!(s.proxy.connect_to.len(), 2);
    assert!(s.proxy.allow_private_upstreams);
}

#[test]
fn run_takes_the_command_after_dashes() {
    let cli = parse(&["run", "--name", "Bot", "--", "curl", "-s", "--name", "x"]).unwrap();
    let Command::Run(r) = cli.command else {
        panic!("not run")
    };
    assert_eq!(r.name, "Bot");
    assert_eq!(r.command, ["curl", "-s", "--name", "x"]);
    assert!(parse(&["run", "--name", "Bot"]).is_err());
    assert!(parse(&["run", "--", "true"]).is_err());
}

#[test]
fn connector_add_flags() {
    let cli = parse(&[
        "connector",
        "add",
        "generic",
        "--name",
        "api",
        "--domains",
        "a.example,b.example",
        "--token-env",
        "API_KEY",
        "--header",
        "x-api-key",
        "--template",
        "{secret}",
    ])
    .unwrap();
    let Command::Connector(ConnectorCommand::Add(a)) = cli.command else {
        panic!("not connector add")
    };
    assert_eq!(a.kind, "generic");
    assert_eq!(a.domains, ["a.example", "b.example"]);
    assert_eq!(a.token_env.as_deref(), Some("API_KEY"));
    assert_eq!(a.header.as_deref(), Some("x-api-key"));

    // One credential source at most; header needs a template; basic excludes header.
    assert!(
        parse(&[
            "connector",
            "add",
            "github",
            "--token",
            "a",
            "--token-stdin"
        ])
        .is_err()
    );
    assert!(parse(&["connector", "add", "github", "--header", "x"]).is_err());
    assert!(
        parse(&[
            "connector",
            "add",
            "github",
            "--basic",
            "--header",
            "x",
            "--template",
            "{secret}"
        ])
        .is_err()
    );
}

#[test]
fn permissions_and_logs() {
    let cli = parse(&[
        "permissions",
        "set",
        "--gateway",
        "Bot",
        "--connector",
        "github",
        "--action",
        "github.pr.*",
        "--decision",
        "allow",
    ])
    .unwrap();
    let Command::Permissions(PermissionsCommand::Set { key, decision }) = cli.command else {
        panic!("not permissions set")
    };
    assert_eq!(key.action, "github.pr.*");
    assert_eq!(decision, DecisionArg::Allow);
    assert!(
        parse(&[
            "permissions",
            "set",
            "--gateway",
            "B",
            "--connector",
            "c",
            "--action",
            "*",
            "--decision",
            "maybe"
        ])
        .is_err()
    );

    let cli = parse(&["logs", "--json", "-f", "-n", "5"]).unwrap();
    let Command::Logs(l) = cli.command else {
        panic!("not logs")
    };
    assert!(l.json && l.follow);
    assert_eq!(l.lines, 5);
}
