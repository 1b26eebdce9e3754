//! Shell commands that move file data: `put` and `get`, with a progress bar
//! while they run and one summary line when they are done.

use crate::bar::Bar;
use crate::format;
use crate::shell::{Flow, Shell};
use crate::words::Spec;
use mioftp_client::{ClientError, GetOptions, PutOptions, Result, local_target};
use std::path::Path;
use std::time::Duration;

pub const PUT: Spec =
    Spec { usage: "put [-p] [--no-resume] LOCAL [REMOTE]", flags: &["-p", "--parents", "--no-resume"], min: 1, max: 2 };
pub const GET: Spec = Spec { usage: "get [--no-resume] REMOTE [LOCAL]", flags: &["--no-resume"], min: 1, max: 2 };

pub fn put(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = PUT.parse(words)?;
    let local = Path::new(p.arg(0).unwrap_or_default());
    let base = || {
        local.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            ClientError::Usage(format!("{} has no UTF-8 file name; give a remote name", local.display()))
        })
    };
    // No REMOTE: the local base name in the remote current directory. A
    // REMOTE ending in '/' names a directory to put it in.
    let remote = match p.arg(1) {
        None => base()?.to_owned(),
        Some(dir) if dir.ends_with('/') => format!("{dir}{}", base()?),
        Some(remote) => remote.to_owned(),
    };
    if p.has("-p") || p.has("--parents") {
        // The folder part of REMOTE (all of it when it ends in '/').
        if let Some((folder, _)) = remote.rsplit_once('/').filter(|(f, _)| !f.is_empty()) {
            sh.client.mkdir(folder, true)?;
        }
    }
    let opts = PutOptions { resume: !p.has("--no-resume") };
    let mut bar = Bar::new(&format!("put {}", format::name(&remote)));
    let report = sh.client.put(local, &remote, &opts, &mut bar)?;
    let how = how(report.offset, report.restarted, "local file changed");
    println!(
        "put {} -> {}: {}{how}, sha256 verified",
        local.display(),
        format::name(&report.path),
        summary(report.size, report.sent, report.duration)
    );
    Ok(Flow::Continue)
}

pub fn get(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = GET.parse(words)?;
    let remote = p.arg(0).unwrap_or_default();
    let target = local_target(remote, p.arg(1).map(Path::new))?;
    let opts = GetOptions { resume: !p.has("--no-resume") };
    let mut bar = Bar::new(&format!("get {}", format::name(remote)));
    let report = sh.client.get(remote, &target, &opts, &mut bar)?;
    let how = how(report.offset, report.restarted, "partial was stale");
    println!(
        "get {} -> {}: {}{how}, sha256 verified",
        format::name(&report.remote),
        report.local.display(),
        summary(report.size, report.received, report.duration)
    );
    Ok(Flow::Continue)
}

/// "1.0 MiB in 0.50 s (2.0 MiB/s)", or with the bytes actually moved when a
/// resume skipped some.
fn summary(size: u64, moved: u64, took: Duration) -> String {
    if moved == size {
        format::throughput(size, took)
    } else {
        format!("{} ({})", format::size(size), format::throughput(moved, took))
    }
}

fn how(offset: u64, restarted: bool, why: &str) -> String {
    match (offset, restarted) {
        (_, true) => format!(", restarted from 0 ({why})"),
        (0, false) => String::new(),
        (at, false) => format!(", resumed at {}", format::size(at)),
    }
}
