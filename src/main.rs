//! mioftpd: parse flags, build a [`Config`], run the server. Nothing else.

use clap::Parser;
use mioftp::config::{Config, DEFAULT_LISTEN, DEFAULT_MIN_ITERATIONS};
use mioftp::server::Server;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// mioftpd: a single-threaded, event-driven file-transfer server.
///
/// Run with no subcommand to serve. `mioftpd audit` queries the audit logs.
#[derive(Debug, Parser)]
#[command(name = "mioftpd", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Query the audit logs: logins, commands, uploads, downloads.
    Audit(mioftp::review::AuditArgs),
    /// Print a man page or a shell completion script, made from these very
    /// flags (for packagers; see README.md).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generated,
    },
}

#[derive(Debug, clap::Subcommand)]
enum Generated {
    /// The man page: mioftpd(1), or with `audit`, mioftpd-audit(1).
    Man { page: Option<String> },
    /// A completion script for SHELL.
    Completions { shell: clap_complete::Shell },
}

/// Flags for serving (the default when no subcommand is given).
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Data root holding accounts/, home/ and logs/ (created if missing).
    #[arg(long, default_value = ".", env = "MIOFTPD_ROOT")]
    root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN, env = "MIOFTPD_LISTEN")]
    listen: SocketAddr,
    /// Pre-shared key file [default: <root>/server.key, created at first start].
    #[arg(long, env = "MIOFTPD_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The PBKDF2-HMAC-SHA256 iteration count registration requires, exactly
    /// (1 to 10000000; announced in the hello as min_iterations).
    #[arg(
        long = "kdf-iterations",
        value_name = "N",
        alias = "min-iterations",
        default_value_t = DEFAULT_MIN_ITERATIONS,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(mioftp::protocol::scram::MAX_ITERATIONS))
    )]
    min_iterations: u32,
    /// Least password length, announced to clients (which enforce it).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    min_password_len: u32,
    /// Seconds from connect to a completed login.
    #[arg(long, default_value_t = 30)]
    handshake_timeout: u64,
    /// Seconds a logged-in session may sit idle.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// Seconds a transfer may go without progress.
    #[arg(long, default_value_t = 60)]
    transfer_timeout: u64,
    /// Most simultaneous connections.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Quota of accounts without their own: a size (1GiB, 500MB, 1048576) or
    /// `unlimited`. 0 means zero bytes, not unlimited.
    #[arg(long, default_value = "10GiB", value_parser = parse_quota)]
    default_quota: Quota,
    /// Hours after which an untouched partial upload is deleted.
    #[arg(long, default_value_t = 168)]
    partial_max_age_hours: u64,
    /// Most simultaneous connections from one IP address (0: no limit).
    #[arg(long, default_value_t = 256)]
    max_per_ip: usize,
    /// Failed logins for one user from one address within the window before
    /// that user is refused on that address for the rest of it (0: off).
    #[arg(long, default_value_t = 5)]
    login_max_failures: usize,
    /// Failed logins from one address, for any users, within the window
    /// before the address is refused for everyone for the rest of it (0: off).
    #[arg(long, default_value_t = 50)]
    login_max_failures_per_ip: usize,
    /// Failed logins for one user from all addresses (one forgiven per
    /// window) after which each failure locks the user, except on addresses
    /// it recently logged in from, for 1, 2, 4, ... seconds (0: off).
    #[arg(long, default_value_t = 100)]
    login_max_failures_per_user: usize,
    /// The longest of those per-user locks, in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    login_max_backoff: u64,
    /// The throttling window, in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    login_window: u64,
    /// Seconds in-flight transfers may continue after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
}

/// A parsed `--default-quota` (`None` is unlimited).
#[derive(Debug, Clone, Copy)]
struct Quota(Option<u64>);

fn parse_quota(text: &str) -> Result<Quota, String> {
    mioftp::config::parse_quota(text).map(Quota)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Audit(args)) => mioftp::review::run(&args),
        Some(Command::Generate { what }) => generate(what),
        None => serve(cli.serve),
    }
}

/// `mioftpd generate ...`: writes the man page or completion script to stdout.
fn generate(what: Generated) -> ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let result = match what {
        Generated::Man { page: None } => clap_mangen::Man::new(cmd).render(&mut out),
        Generated::Man { page: Some(name) } => match cmd.find_subcommand("audit") {
            Some(sub) if name == "audit" => clap_mangen::Man::new(sub.clone().name("mioftpd-audit")).render(&mut out),
            _ => {
                eprintln!("mioftpd generate man: no page \"{name}\" (there is: audit)");
                return ExitCode::from(2);
            }
        },
        Generated::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, "mioftpd", &mut out);
            Ok(())
        }
    };
    match result.and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mioftpd generate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut config = Config::new(args.root);
    config.listen = args.listen;
    config.key_file = args.key_file;
    config.min_iterations = args.min_iterations;
    config.min_password_len = args.min_password_len;
    config.handshake_timeout = Duration::from_secs(args.handshake_timeout);
    config.idle_timeout = Duration::from_secs(args.idle_timeout);
    config.transfer_timeout = Duration::from_secs(args.transfer_timeout);
    config.max_connections = args.max_connections;
    config.default_quota = args.default_quota.0;
    config.partial_max_age = Duration::from_secs(args.partial_max_age_hours.saturating_mul(3600));
    config.max_per_ip = args.max_per_ip;
    config.login_policy = mioftp::throttle::Policy {
        max_failures: args.login_max_failures,
        max_failures_per_ip: args.login_max_failures_per_ip,
        max_failures_per_user: args.login_max_failures_per_user,
        window: Duration::from_secs(args.login_window),
        max_backoff: Duration::from_secs(args.login_max_backoff),
    };
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    let mut server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mioftpd: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = server.handle_signals() {
        eprintln!("mioftpd: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mioftpd: {e}");
            ExitCode::FAILURE
        }
    }
}
