//! mioftpd: parse flags, build a [`Config`], run the server. Nothing else.

use clap::Parser;
use mioftp::server::Server;
use mioftp::settings::{Settings, file};
use std::path::PathBuf;
use std::process::ExitCode;

/// mioftpd: a single-threaded, event-driven file-transfer server.
///
/// Run with no subcommand to serve. Settings come from, in rising order of
/// precedence: the defaults, the --config file, MIOFTPD_* environment
/// variables, then flags. `mioftpd audit` queries the audit logs,
/// `mioftpd accounts` administers accounts, `mioftpd check-config FILE`
/// validates a config file.
#[derive(Debug, Parser)]
#[command(name = "mioftpd", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Read the settings from this TOML file first; MIOFTPD_* variables and
    /// flags override it (docs/mioftpd.example.toml lists every key).
    #[arg(long, env = "MIOFTPD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Settings,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Query the audit logs: logins, commands, uploads, downloads.
    Audit(mioftp::review::AuditArgs),
    /// Administer accounts (list, set-quota, disable, enable, delete, reset,
    /// invite) while the server is stopped.
    Accounts(mioftp::admin::cli::AccountsArgs),
    /// Validate a config file and print the effective settings: the file,
    /// then MIOFTPD_* variables, then any serve flags given after FILE.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
        #[command(flatten)]
        overrides: Settings,
    },
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
    /// The man page: mioftpd(1), or with a subcommand's name, its page
    /// (`audit`: mioftpd-audit(1), `accounts`, `check-config`).
    Man { page: Option<String> },
    /// A completion script for SHELL.
    Completions { shell: clap_complete::Shell },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Audit(args)) => mioftp::review::run(&args),
        Some(Command::Accounts(args)) => mioftp::admin::cli::run(&args),
        Some(Command::CheckConfig { file, overrides }) => check_config(&file, &overrides),
        Some(Command::Generate { what }) => generate(what),
        None => serve(cli.config.as_deref(), &cli.serve),
    }
}

/// `mioftpd generate ...`: writes the man page or completion script to stdout.
fn generate(what: Generated) -> ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let result = match what {
        Generated::Man { page: None } => clap_mangen::Man::new(cmd).render(&mut out),
        Generated::Man { page: Some(name) } => {
            // (clap names a page by a static string.)
            const PAGES: [(&str, &str); 3] = [
                ("audit", "mioftpd-audit"),
                ("accounts", "mioftpd-accounts"),
                ("check-config", "mioftpd-check-config"),
            ];
            match PAGES
                .iter()
                .find(|(sub, _)| *sub == name)
                .and_then(|(sub, page)| Some((cmd.find_subcommand(sub)?, page)))
            {
                Some((sub, page)) => clap_mangen::Man::new(sub.clone().name(*page)).render(&mut out),
                None => {
                    let names: Vec<&str> = PAGES.iter().map(|(sub, _)| *sub).collect();
                    eprintln!("mioftpd generate man: no page \"{name}\" (there are: {})", names.join(", "));
                    return ExitCode::from(2);
                }
            }
        }
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

/// `mioftpd check-config FILE [FLAGS]`: exit 0 and the effective settings
/// as a config file on stdout, or exit 1 and what is wrong on stderr.
fn check_config(path: &std::path::Path, overrides: &Settings) -> ExitCode {
    match file::effective(Some(path), overrides) {
        Ok(config) => {
            print!(
                "# {}: valid. The effective settings (defaults < this file < MIOFTPD_* variables < flags):\n{}",
                path.display(),
                file::render(&config)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mioftpd check-config: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config_file: Option<&std::path::Path>, settings: &Settings) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match file::effective(config_file, settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mioftpd: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // What users store gets 0666/0777 minus this umask; the server's own
    // secrets and logs are opened with explicit modes it can only narrow.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(config.umask));
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

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_and_the_config_file_parse_beside_each_other() {
        let cli = Cli::try_parse_from(["mioftpd", "--config", "/etc/m.toml", "--max-per-ip", "3"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config, Some(PathBuf::from("/etc/m.toml")));
        assert_eq!(cli.serve.max_per_ip, Some(3));
        let cli = Cli::try_parse_from(["mioftpd", "check-config", "f.toml", "--umask", "007"]).unwrap();
        let Some(Command::CheckConfig { file, overrides }) = cli.command else { panic!("check-config") };
        assert_eq!((file, overrides.umask), (PathBuf::from("f.toml"), Some(mioftp::settings::Umask(0o7))));
    }
}
