//! Shell commands on the remote side that move no file data: `pwd`, `cd`,
//! `mkdir`, `rm`, `quota` and `dir`.

use crate::format;
use crate::shell::{Flow, Shell};
use crate::words::Spec;
use mioftp_client::{ClientError, Result};
use mioftp_proto::messages::QuotaInfo;

pub const PWD: Spec = Spec { usage: "pwd", flags: &[], min: 0, max: 0 };
pub const CD: Spec = Spec { usage: "cd PATH", flags: &[], min: 1, max: 1 };
pub const MKDIR: Spec = Spec { usage: "mkdir [-p] PATH", flags: &["-p", "--parents"], min: 1, max: 1 };
pub const RM: Spec = Spec { usage: "rm PATH", flags: &[], min: 1, max: 1 };
pub const QUOTA: Spec = Spec { usage: "quota", flags: &[], min: 0, max: 0 };
pub const DIR: Spec = Spec { usage: "dir [--json] [PATH]", flags: &["--json"], min: 0, max: 1 };

pub fn pwd(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    PWD.parse(words)?;
    println!("{}", format::name(&sh.client.pwd()?));
    Ok(Flow::Continue)
}

pub fn cd(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = CD.parse(words)?;
    sh.client.cd(p.arg(0).unwrap_or_default())?;
    Ok(Flow::Continue)
}

pub fn mkdir(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = MKDIR.parse(words)?;
    let parents = p.has("-p") || p.has("--parents");
    let made = sh.client.mkdir(p.arg(0).unwrap_or_default(), parents)?;
    if made.created {
        println!("created {}", format::name(&made.path));
    } else {
        println!("{} already exists", format::name(&made.path));
    }
    Ok(Flow::Continue)
}

pub fn rm(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = RM.parse(words)?;
    let removed = sh.client.rm(p.arg(0).unwrap_or_default())?;
    let (path, kind, freed) = (format::name(&removed.path), format::kind(removed.kind), format::size(removed.freed));
    println!("removed {path} ({kind}, {freed} freed)");
    Ok(Flow::Continue)
}

pub fn quota(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    QUOTA.parse(words)?;
    let QuotaInfo { used, limit } = sh.client.quota()?;
    match limit {
        Some(l) if l > 0 => {
            let pct = used as f64 * 100.0 / l as f64;
            println!("used {} of {} ({pct:.1}%)", format::size(used), format::size(l));
        }
        _ => println!("used {} of {}", format::size(used), format::limit(limit)),
    }
    Ok(Flow::Continue)
}

pub fn dir(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = DIR.parse(words)?;
    let listing = sh.client.dir(p.arg(0))?.sorted();
    if p.has("--json") {
        let json = serde_json::to_string(&listing.entries).map_err(|e| ClientError::Protocol(e.to_string()))?;
        println!("{json}");
        return Ok(Flow::Continue);
    }
    for line in format::table(&listing.entries) {
        println!("{line}");
    }
    let quota = QuotaInfo { used: listing.summary.used, limit: listing.summary.limit };
    println!("{}", format::summary(listing.summary.count, quota));
    Ok(Flow::Continue)
}
