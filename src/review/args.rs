//! The flags of `mioftpd audit`, as clap parses them. No behaviour lives here:
//! every value is checked while parsing (so a typo is a usage error, exit 2)
//! and then handed to the module that acts on it.

use super::filter::PathGlob;
use super::record::Kind;
use super::time::TimeSpec;
use std::net::IpAddr;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  mioftpd audit logins --outcome fail --since 1h      who failed to log in, from where, in the last hour
  mioftpd audit uploads --user alice --since today    what alice uploaded today, and how big it was
  mioftpd audit downloads --outcome incomplete        which downloads stopped part-way
  mioftpd audit --summary --since 7d                  per-user totals and the peers failing logins most
  mioftpd audit all --json | jq -r 'select(.outcome==\"rejected\") | .reason'
  mioftpd audit logins --follow                       watch the log like tail -f

Times are UTC. --since is inclusive, --until exclusive. See docs/AUDIT.md.";

/// Flags of `mioftpd audit`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct AuditArgs {
    /// Which log to read.
    #[arg(value_enum, default_value_t = Which::All, value_name = "LOG")]
    pub log: Which,
    /// Data root whose logs/ folder is read.
    #[arg(long, default_value = ".", env = "MIOFTPD_ROOT")]
    pub root: PathBuf,
    /// Only records of this user (exact name).
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// Only records from this IP address; a port, if given, is ignored.
    #[arg(long, value_name = "IP", value_parser = parse_peer)]
    pub peer: Option<IpAddr>,
    /// Only records at or after T: RFC 3339, a date (2026-11-23), an age (30m, 1h, 7d) or today.
    #[arg(long, value_name = "T", value_parser = TimeSpec::parse)]
    pub since: Option<TimeSpec>,
    /// Only records before T (same forms as --since).
    #[arg(long, value_name = "T", value_parser = TimeSpec::parse)]
    pub until: Option<TimeSpec>,
    /// Only these outcomes (repeat or separate with commas); `ok` also matches `complete`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "OUTCOME")]
    pub outcome: Vec<OutcomeArg>,
    /// Only records whose virtual path matches GLOB (`*` stays in one folder, `**` crosses
    /// folders; a GLOB not starting with `/` may match at any depth).
    #[arg(long, value_name = "GLOB", value_parser = PathGlob::parse)]
    pub path: Option<PathGlob>,
    /// Print matching records as JSON Lines (the original objects plus "log"), for jq.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Keep printing new records as they are appended, across log rotation.
    #[arg(long, conflicts_with = "summary")]
    pub follow: bool,
    /// Print per-user totals and the top peers by failed logins instead of records.
    #[arg(long)]
    pub summary: bool,
    /// When to colour failures in the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Milliseconds between polls in --follow.
    #[arg(long, default_value_t = 250, value_name = "MS", hide = true,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_ms: u64,
}

impl AuditArgs {
    /// The output format, with `--json` as shorthand for `--format json`.
    pub fn output(&self) -> Format {
        if self.json { Format::Json } else { self.format.unwrap_or(Format::Table) }
    }
}

/// The positional log selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// register_login_accounts.log: handshake, register, login, logout.
    #[value(alias = "login", alias = "accounts")]
    Logins,
    /// shell_command.log: dir, cd, pwd, mkdir, rm, quota.
    #[value(alias = "command")]
    Commands,
    /// upload_file.log.
    #[value(alias = "upload")]
    Uploads,
    /// download_file.log.
    #[value(alias = "download")]
    Downloads,
    /// All four, merged in time order.
    All,
}

impl Which {
    /// The kinds to read, in the order ties in time are broken.
    pub fn kinds(self) -> Vec<Kind> {
        match self {
            Which::Logins => vec![Kind::Logins],
            Which::Commands => vec![Kind::Commands],
            Which::Uploads => vec![Kind::Uploads],
            Which::Downloads => vec![Kind::Downloads],
            Which::All => Kind::ALL.to_vec(),
        }
    }
}

/// `--outcome` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutcomeArg {
    /// ok or complete.
    #[value(alias = "complete")]
    Ok,
    /// fail.
    #[value(alias = "failed")]
    Fail,
    /// incomplete (a transfer that stopped part-way).
    Incomplete,
    /// rejected (refused by policy: throttle, quota, path, busy, digest).
    Rejected,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// JSON Lines, one record per line.
    Json,
    /// The classic xferlog layout (uploads and downloads only).
    Xferlog,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset or empty.
    Auto,
    Always,
    Never,
}

/// `--peer`: an IP, or `ip:port` / `[v6]:port` whose port is ignored.
fn parse_peer(text: &str) -> Result<IpAddr, String> {
    super::record::peer_ip(text.trim())
        .map(|ip| ip.to_canonical())
        .ok_or_else(|| format!("`{text}` is not an IP address (e.g. 10.0.0.5, ::1, 10.0.0.5:4000, [::1]:4000)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        audit: AuditArgs,
    }

    fn parse(args: &[&str]) -> Result<AuditArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("audit").chain(args.iter().copied())).map(|c| c.audit)
    }

    #[test]
    fn defaults_read_all_logs_as_a_table() {
        let a = parse(&["--root", "/srv"]).unwrap();
        assert_eq!(a.log, Which::All);
        assert_eq!(a.log.kinds(), Kind::ALL.to_vec());
        assert_eq!(a.output(), Format::Table);
        assert!(a.outcome.is_empty() && !a.follow && !a.summary);
    }

    #[test]
    fn outcomes_accept_complete_as_ok_and_comma_lists() {
        let a = parse(&["logins", "--outcome", "fail,rejected", "--outcome", "complete"]).unwrap();
        assert_eq!(a.outcome, vec![OutcomeArg::Fail, OutcomeArg::Rejected, OutcomeArg::Ok]);
        assert!(parse(&["--outcome", "maybe"]).is_err());
    }

    #[test]
    fn peer_accepts_ip_or_ip_port_and_keeps_only_the_ip() {
        for (given, ip) in
            [("10.0.0.5", "10.0.0.5"), ("10.0.0.5:40000", "10.0.0.5"), ("[::1]:5000", "::1"), ("::1", "::1")]
        {
            assert_eq!(parse(&["--peer", given]).unwrap().peer, Some(ip.parse().unwrap()), "{given}");
        }
        assert!(parse(&["--peer", "example"]).is_err());
    }

    #[test]
    fn conflicting_and_malformed_flags_are_usage_errors() {
        assert!(parse(&["--follow", "--summary"]).is_err());
        assert!(parse(&["--json", "--format", "table"]).is_err());
        assert!(parse(&["--since", "yesteryear"]).is_err());
        assert!(parse(&["--path", "[unclosed"]).is_err());
        assert!(parse(&["everything"]).is_err());
        assert_eq!(parse(&["--json"]).unwrap().output(), Format::Json);
    }
}
