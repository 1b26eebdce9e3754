//! mioftpd: parse flags, build a [`Config`], run the server. Nothing else.

use clap::Parser;
use mioftp::config::Config;
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

/// Flags for serving (the default when no subcommand is given). Each one is
/// optional and, when given, overrides the [`Config`] the server starts from
/// (see [`ServeArgs::apply`]); the defaults shown by `--help` are read from
/// `Config::new`, the one place they are set.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Data root holding accounts/, home/ and logs/ (created if missing).
    #[arg(long, default_value = ".", env = "MIOFTPD_ROOT")]
    root: PathBuf,
    #[arg(long, env = "MIOFTPD_LISTEN", help = shown("Address to listen on", defaults().listen))]
    listen: Option<SocketAddr>,
    /// Pre-shared key file [default: <root>/server.key, created at first start].
    #[arg(long, env = "MIOFTPD_KEY_FILE")]
    key_file: Option<PathBuf>,
    #[arg(
        long = "kdf-iterations",
        value_name = "N",
        alias = "min-iterations",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(mioftp::protocol::scram::MAX_ITERATIONS)),
        help = shown(
            "The PBKDF2-HMAC-SHA256 iteration count registration requires, exactly \
             (1 to 10000000; announced in the hello as min_iterations)",
            defaults().min_iterations,
        ),
    )]
    min_iterations: Option<u32>,
    #[arg(
        long,
        value_parser = clap::value_parser!(u32).range(1..),
        help = shown("Least password length, announced to clients (which enforce it)", defaults().min_password_len),
    )]
    min_password_len: Option<u32>,
    #[arg(long, help = shown("Seconds from connect to a completed login", defaults().handshake_timeout.as_secs()))]
    handshake_timeout: Option<u64>,
    #[arg(long, help = shown("Seconds a logged-in session may sit idle", defaults().idle_timeout.as_secs()))]
    idle_timeout: Option<u64>,
    #[arg(long, help = shown("Seconds a transfer may go without progress", defaults().transfer_timeout.as_secs()))]
    transfer_timeout: Option<u64>,
    #[arg(long, help = shown("Most simultaneous connections", defaults().max_connections))]
    max_connections: Option<usize>,
    #[arg(long, value_parser = parse_quota, help = shown(
        "Quota of accounts without their own: a size (1GiB, 500MB, 1048576) or `unlimited`. \
         0 means zero bytes, not unlimited",
        Quota(defaults().default_quota),
    ))]
    default_quota: Option<Quota>,
    #[arg(long, help = shown(
        "Hours after which an untouched partial upload is deleted",
        defaults().partial_max_age.as_secs() / 3600,
    ))]
    partial_max_age_hours: Option<u64>,
    #[arg(long, help = shown(
        "Most simultaneous connections from one IP address (0: no limit)",
        defaults().max_per_ip,
    ))]
    max_per_ip: Option<usize>,
    #[arg(long, help = shown(
        "Failed logins for one user from one address within the window before \
         that user is refused on that address for the rest of it (0: off)",
        defaults().login_policy.max_failures,
    ))]
    login_max_failures: Option<usize>,
    #[arg(long, help = shown(
        "Failed logins from one address, for any users, within the window \
         before the address is refused for everyone for the rest of it (0: off)",
        defaults().login_policy.max_failures_per_ip,
    ))]
    login_max_failures_per_ip: Option<usize>,
    #[arg(long, help = shown(
        "Failed logins for one user from all addresses (one forgiven per \
         window) after which each failure locks the user, except on addresses \
         it recently logged in from, for 1, 2, 4, ... seconds (0: off)",
        defaults().login_policy.max_failures_per_user,
    ))]
    login_max_failures_per_user: Option<usize>,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), help = shown(
        "The longest of those per-user locks, in seconds",
        defaults().login_policy.max_backoff.as_secs(),
    ))]
    login_max_backoff: Option<u64>,
    #[arg(
        long,
        value_parser = clap::value_parser!(u64).range(1..),
        help = shown("The throttling window, in seconds", defaults().login_policy.window.as_secs()),
    )]
    login_window: Option<u64>,
    #[arg(long, help = shown(
        "Seconds in-flight transfers may continue after SIGINT/SIGTERM",
        defaults().shutdown_grace.as_secs(),
    ))]
    shutdown_grace: Option<u64>,
}

impl ServeArgs {
    /// The configuration to serve with: the defaults, overridden by the
    /// flags that were given.
    fn config(self) -> Config {
        let mut config = Config::new(&self.root);
        self.apply(&mut config);
        config
    }

    /// Overrides the settings whose flags were given; leaves the others (and
    /// `root`, which `Config::new` takes) as they are.
    fn apply(self, c: &mut Config) {
        let secs = Duration::from_secs;
        set(&mut c.listen, self.listen);
        set(&mut c.key_file, self.key_file.map(Some));
        set(&mut c.min_iterations, self.min_iterations);
        set(&mut c.min_password_len, self.min_password_len);
        set(&mut c.handshake_timeout, self.handshake_timeout.map(secs));
        set(&mut c.idle_timeout, self.idle_timeout.map(secs));
        set(&mut c.transfer_timeout, self.transfer_timeout.map(secs));
        set(&mut c.max_connections, self.max_connections);
        set(&mut c.default_quota, self.default_quota.map(|q| q.0));
        set(&mut c.partial_max_age, self.partial_max_age_hours.map(|h| secs(h.saturating_mul(3600))));
        set(&mut c.max_per_ip, self.max_per_ip);
        set(&mut c.login_policy.max_failures, self.login_max_failures);
        set(&mut c.login_policy.max_failures_per_ip, self.login_max_failures_per_ip);
        set(&mut c.login_policy.max_failures_per_user, self.login_max_failures_per_user);
        set(&mut c.login_policy.max_backoff, self.login_max_backoff.map(secs));
        set(&mut c.login_policy.window, self.login_window.map(secs));
        set(&mut c.shutdown_grace, self.shutdown_grace.map(secs));
    }
}

fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *slot = value;
    }
}

/// The settings a server starts from before any flag: the source of the
/// defaults `--help` shows.
fn defaults() -> Config {
    Config::new(".")
}

/// Help text that ends with the default, the way clap shows one.
fn shown(help: &str, default: impl std::fmt::Display) -> String {
    format!("{help} [default: {default}]")
}

/// A parsed `--default-quota` (`None` is unlimited).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quota(Option<u64>);

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(bytes) => f.write_str(&mioftp::protocol::human_size(bytes)),
            None => f.write_str("unlimited"),
        }
    }
}

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
    let config = args.config();
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(std::iter::once("mioftpd").chain(args.iter().copied())).expect("flags parse");
        assert!(cli.command.is_none());
        cli.serve.config()
    }

    #[test]
    fn without_flags_the_server_runs_on_the_config_defaults() {
        assert_eq!(format!("{:?}", config(&[])), format!("{:?}", Config::new(".")));
        assert_eq!(config(&["--root", "/srv/x"]).root, PathBuf::from("/srv/x"));
    }

    #[test]
    fn every_flag_overrides_its_setting() {
        let c = config(&[
            "--listen=0.0.0.0:21",
            "--key-file=/k",
            "--min-iterations=7",
            "--min-password-len=3",
            "--handshake-timeout=1",
            "--idle-timeout=2",
            "--transfer-timeout=3",
            "--max-connections=4",
            "--default-quota=unlimited",
            "--partial-max-age-hours=5",
            "--max-per-ip=6",
            "--login-max-failures=8",
            "--login-max-failures-per-ip=11",
            "--login-max-failures-per-user=12",
            "--login-max-backoff=13",
            "--login-window=9",
            "--shutdown-grace=10",
        ]);
        assert_eq!(c.listen, "0.0.0.0:21".parse().unwrap());
        assert_eq!(c.key_file, Some(PathBuf::from("/k")));
        assert_eq!((c.min_iterations, c.min_password_len), (7, 3));
        let secs = Duration::from_secs;
        assert_eq!((c.handshake_timeout, c.idle_timeout, c.transfer_timeout), (secs(1), secs(2), secs(3)));
        assert_eq!((c.max_connections, c.max_per_ip, c.default_quota), (4, 6, None));
        assert_eq!(c.partial_max_age, secs(5 * 3600));
        assert_eq!((c.login_policy.max_failures, c.login_policy.window), (8, secs(9)));
        let p = c.login_policy;
        assert_eq!((p.max_failures_per_ip, p.max_failures_per_user, p.max_backoff), (11, 12, secs(13)));
        assert_eq!(c.shutdown_grace, secs(10));
    }

    /// Each `[default: X]` that `--help` shows, given back as the flag's
    /// value, changes nothing: the help tells the defaults the server uses.
    #[test]
    fn the_defaults_in_the_help_are_the_ones_the_server_uses() {
        let cmd = Cli::command();
        let mut checked = 0;
        for arg in cmd.get_arguments() {
            let (Some(long), Some(help)) = (arg.get_long(), arg.get_help()) else { continue };
            let help = help.to_string();
            let Some((_, shown)) = help.split_once("[default: ") else { continue };
            let shown = shown.trim_end_matches(']');
            if long == "key-file" {
                continue; // "<root>/server.key": a description, not a value
            }
            let flag = format!("--{long}={shown}");
            assert_eq!(format!("{:?}", config(&[&flag])), format!("{:?}", config(&[])), "{flag}");
            checked += 1;
        }
        assert_eq!(checked, 16, "every serve flag but --root and --key-file shows its default");
        let root = cmd.get_arguments().find(|a| a.get_long() == Some("root")).unwrap();
        assert_eq!(root.get_default_values(), ["."]);
    }
}
