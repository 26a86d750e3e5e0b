//! The `tf` binary: the composition root of TameFlare.
//!
//! Owns the command line: argument parsing (`args`), command routing
//! through a running gateway or directly on the data dir (`backend`), the
//! commands and their output, the author's tools (`author`, `scaffold`) and
//! the agent's environment (`agent_env`). The running gateway itself (data
//! dir, service, snapshots, hot-loading) is `tf_runtime`'s. It is never
//! imported by a library; errors are `anyhow` here only, and no secret is
//! ever printed or logged.

/// `println!` for command output that ends the process quietly when stdout
/// is closed early (`tf logs | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }};
}

mod agent_env;
mod args;
mod author;
mod backend;
mod commands;
mod scaffold;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{AuditCommand, Cli, Command, ConnectorCommand};
use tf_runtime::DataDir;
use tf_runtime::datadir;

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_env("TF_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    // The author's commands never touch a data dir.
    let command = match cli.command {
        Command::Connector(ConnectorCommand::New(args)) => {
            return author::new(args).map(|()| 0);
        }
        Command::Connector(ConnectorCommand::Build(args)) => {
            return tokio::task::spawn_blocking(move || author::build(args))
                .await?
                .map(|()| 0);
        }
        Command::Connector(ConnectorCommand::Test(args)) => {
            let passed = tokio::task::spawn_blocking(move || author::test(args)).await??;
            return Ok(if passed { 0 } else { 1 });
        }
        // Verifying an export needs no data dir.
        Command::Audit(AuditCommand::Verify(args)) if args.file.is_some() => {
            return commands::audit::verify_file(&args).map(|()| 0);
        }
        other => other,
    };
    let cli = Cli { command, ..cli };
    let path = datadir::resolve(cli.data_dir)?;
    let dd = DataDir::open(&path)?;
    match cli.command {
        Command::Init => commands::init(&dd)?,
        Command::Serve(args) => commands::serve(&dd, args).await?,
        Command::Run(args) => return commands::run::run(&dd, args).await,
        Command::Connector(cmd) => commands::connector(&dd, cmd).await?,
        Command::Permissions(cmd) => commands::permissions(&dd, cmd).await?,
        Command::Logs(args) => commands::logs(&dd, args).await?,
        Command::Audit(cmd) => commands::audit::audit(&dd, cmd).await?,
        Command::Status => commands::status(&dd).await?,
    }
    Ok(0)
}

fn main() {
    let cli = Cli::parse();
    init_logging(match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        match dispatch(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        }
    });
    // Do not wait for blocking tasks (e.g. a stdin read) that can never finish.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code);
}

/// mimalloc instead of glibc malloc: the request path allocates many small,
/// short-lived buffers on two or more threads, where glibc's arenas spend
/// time consolidating; measured +6–8% gateway throughput (`cargo xtask bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
