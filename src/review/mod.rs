//! `mioftpd audit`: query the four audit logs (work in progress).

use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `mioftpd audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Data root whose logs/ folder is read.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// Runs `mioftpd audit`; returns the process exit status.
pub fn run(args: &AuditArgs) -> ExitCode {
    eprintln!("mioftpd audit: not implemented yet (root {})", args.root.display());
    ExitCode::FAILURE
}
