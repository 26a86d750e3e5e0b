//! Command-line arguments (clap derive). Parsing only: no I/O here.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// TameFlare: an egress gateway between AI agents and the APIs they call.
#[derive(Debug, Parser)]
#[command(name = "tf", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// The data dir (CA, master key, admin token, database, connectors).
    #[arg(long, env = "TF_DATA_DIR", global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the data dir: CA, master key, admin token, database. Idempotent.
    Init,
    /// Run the gateway: proxy listener and admin API, until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Run a command as an agent behind the gateway.
    Run(RunArgs),
    /// Manage connector instances (which API, which domains, which credential).
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Manage permission rules (gateway × connector × action → allow/deny).
    #[command(subcommand)]
    Permissions(PermissionsCommand),
    /// Show the audit log.
    Logs(LogsArgs),
    /// Verify, export and checkpoint the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Show whether a gateway runs, its addresses, and what is configured.
    Status,
}

/// Flags shared by `serve` and `run` (when `run` starts its own gateway).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ProxyFlags {
    /// Send connections for HOST:PORT to CONNECT_HOST:CONNECT_PORT instead (repeatable).
    #[arg(long = "connect-to", value_name = "H:P:CH:CP")]
    pub(crate) connect_to: Vec<String>,
    /// Trust this PEM bundle for upstream TLS, beside the system roots.
    #[arg(long, value_name = "FILE")]
    pub(crate) upstream_ca: Option<PathBuf>,
    /// Allow upstreams that resolve to loopback or private addresses.
    #[arg(long)]
    pub(crate) allow_private_upstreams: bool,
    /// Agent connections served at once; past it new ones get 503.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Proxy listener address.
    #[arg(long, default_value = "127.0.0.1:9480")]
    pub(crate) listen: SocketAddr,
    /// Admin API listener address.
    #[arg(long, default_value = "127.0.0.1:9481")]
    pub(crate) admin_listen: SocketAddr,
    #[command(flatten)]
    pub(crate) proxy: ProxyFlags,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The gateway (agent identity) to run as; created on first use.
    #[arg(long)]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) proxy: ProxyFlags,
    /// Pass this variable to the agent unchanged although it is one of the
    /// gateway's own (TF_DATA_DIR, TF_MASTER_KEY…) or holds a vault secret
    /// (repeatable; a warning names it).
    #[arg(long = "keep-env", value_name = "VAR")]
    pub(crate) keep_env: Vec<String>,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
    pub(crate) command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConnectorCommand {
    /// Add (or replace) a connector instance.
    Add(ConnectorAddArgs),
    /// List connector instances and the available kinds.
    List,
    /// Remove a connector instance and its credential.
    Remove {
        /// The instance name.
        name: String,
    },
    /// Scaffold a new connector crate (Rust, on the TameFlare SDK).
    New(ConnectorNewArgs),
    /// Build the connector crate in the current directory into a component,
    /// with its fixtures embedded.
    Build(ConnectorBuildArgs),
    /// Run fixtures against a built component in the real connector host.
    Test(ConnectorTestArgs),
    /// Install a component: checked, copied into <data>/connectors/, and
    /// served by the running gateway at once.
    Install(ConnectorInstallArgs),
    /// Remove an installed component; its domains are denied again.
    Uninstall {
        /// The connector name (its file is <data>/connectors/NAME.wasm).
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ConnectorNewArgs {
    /// Connector name: lowercase letters, digits, `-` and `_`, starting with a letter.
    pub(crate) name: String,
    /// The API's host names, comma separated (with --from-openapi: default
    /// the hosts of the document's servers).
    #[arg(long, value_delimiter = ',', required_unless_present = "from_openapi")]
    pub(crate) domains: Vec<String>,
    /// Generate the whole catalogue from an OpenAPI 3 document (JSON), one
    /// action per operation, instead of the hand-written example table.
    #[arg(long, value_name = "SPEC.json")]
    pub(crate) from_openapi: Option<PathBuf>,
    /// Where to create the crate (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// The tameflare-sdk crate to depend on (default: the SDK this tf was built with).
    #[arg(long, env = "TF_SDK_PATH", value_name = "DIR")]
    pub(crate) sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectorBuildArgs {
    /// The connector crate (default: the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) path: PathBuf,
    /// Embed an already built component instead of running cargo.
    #[arg(long, value_name = "FILE")]
    pub(crate) component: Option<PathBuf>,
    /// Fixture directory to embed (default: DIR/fixtures; every *.jsonl).
    #[arg(long, value_name = "DIR")]
    pub(crate) fixtures: Option<PathBuf>,
    /// Write the component here instead of in place.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectorTestArgs {
    /// The component (.wasm).
    pub(crate) file: PathBuf,
    /// Fixture directory (every *.jsonl) or file; default: the embedded fixtures.
    #[arg(long, value_name = "PATH")]
    pub(crate) fixtures: Option<PathBuf>,
    /// Host for fixtures that name none (default: the connector's first domain).
    #[arg(long, value_name = "HOST")]
    pub(crate) host: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectorInstallArgs {
    /// The component (.wasm).
    pub(crate) file: PathBuf,
    /// Allow it to take over domains another connector serves, or to replace
    /// a built-in connector of the same name.
    #[arg(long)]
    pub(crate) take_over: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConnectorAddArgs {
    /// The connector kind (e.g. github, generic, or a component in <data>/connectors/).
    pub(crate) kind: String,
    /// Instance name (defaults to the kind).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Domains this instance serves, comma separated (defaults to the connector's).
    #[arg(long, value_delimiter = ',')]
    pub(crate) domains: Vec<String>,
    /// The credential, given on the command line.
    #[arg(long, group = "secret")]
    pub(crate) token: Option<String>,
    /// Read the credential from this environment variable.
    #[arg(long, group = "secret", value_name = "VAR")]
    pub(crate) token_env: Option<String>,
    /// Read the credential from standard input (first line).
    #[arg(long, group = "secret")]
    pub(crate) token_stdin: bool,
    /// Put the credential in this header (with --template).
    #[arg(long, requires = "template", conflicts_with = "basic")]
    pub(crate) header: Option<String>,
    /// Header value template; `{secret}` is replaced by the credential.
    #[arg(long, requires = "header")]
    pub(crate) template: Option<String>,
    /// Send the credential (`user:password`) as HTTP Basic authentication.
    #[arg(long)]
    pub(crate) basic: bool,
    /// Keep the stored credential although the kind or the domains change
    /// (or to confirm a suspended one): it is rebound to the new ones, audited.
    #[arg(long, conflicts_with = "secret")]
    pub(crate) keep_credential: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PermissionsCommand {
    /// Add or replace a rule.
    Set {
        #[command(flatten)]
        key: RuleKeyArgs,
        #[arg(long, value_enum)]
        decision: DecisionArg,
    },
    /// List the rules.
    List,
    /// Remove a rule.
    Remove {
        #[command(flatten)]
        key: RuleKeyArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RuleKeyArgs {
    /// Gateway name, or `*`.
    #[arg(long)]
    pub(crate) gateway: String,
    /// Connector instance name, or `*`.
    #[arg(long)]
    pub(crate) connector: String,
    /// Action pattern: an exact action, `prefix.*`, or `*`.
    #[arg(long)]
    pub(crate) action: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DecisionArg {
    Allow,
    Deny,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// One audit record as JSON per line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Keep printing new records as they arrive.
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
    /// Show the last N records.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub(crate) lines: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify every record's link and hash and every signed checkpoint;
    /// names the first bad record and exits non-zero.
    Verify(AuditVerifyArgs),
    /// Export every record with its hashes (jsonl also carries the signed checkpoints).
    Export(AuditExportArgs),
    /// Sign the chain head now and print the checkpoint as JSON; keep it
    /// outside the data dir and pass it to `tf audit verify --checkpoint`.
    Checkpoint,
    /// Print the public key that verifies checkpoints; keep a copy elsewhere.
    PublicKey,
}

#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// A checkpoint saved earlier (`tf audit checkpoint > FILE`): the chain
    /// must still have its hash at its record (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Vec<PathBuf>,
    /// The public key to check signatures with (default: <data>/audit-signing.pub).
    #[arg(long, value_name = "FILE")]
    pub(crate) public_key: Option<PathBuf>,
    /// Verify a `tf audit export --format jsonl` file instead of a data dir.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// One JSON object per line, `"type":"record"` or `"type":"checkpoint"`.
    Jsonl,
    /// A header row, then one row per record (no checkpoints: use jsonl to verify).
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct AuditExportArgs {
    #[arg(long, value_enum, default_value = "jsonl")]
    pub(crate) format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[cfg(test)]
mod tests;
