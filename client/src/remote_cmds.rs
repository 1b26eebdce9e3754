//! Shell commands on the remote side that move no file data: `pwd`, `cd`
//! (`cd -` goes back), `mkdir`, `rm` (several paths, patterns, `-r`),
//! `quota` and `dir` (`ls -l` and friends accepted out of habit).

use crate::format;
use crate::shell::{Flow, Shell};
use crate::tally::Tally;
use crate::words::Spec;
use mioftp_client::globs::has_wildcards;
use mioftp_client::{ClientError, Result};
use mioftp_proto::messages::QuotaInfo;

/// What `ls`/`dir` (and `lls`) accept out of habit and ignore: the listing
/// is always long and always shows hidden names.
pub const LS_HABITS: &[&str] = &["-l", "-a", "-la", "-al"];

pub const PWD: Spec = Spec { usage: "pwd", flags: &[], min: 0, max: 0 };
pub const CD: Spec = Spec { usage: "cd [PATH | -]", flags: &[], min: 0, max: 1 };
pub const MKDIR: Spec = Spec { usage: "mkdir [-p] PATH", flags: &["-p", "--parents"], min: 1, max: 1 };
pub const RM: Spec = Spec { usage: "rm [-r] PATH...", flags: &["-r", "--recursive"], min: 1, max: usize::MAX };
pub const QUOTA: Spec = Spec { usage: "quota", flags: &[], min: 0, max: 0 };
pub const DIR: Spec =
    Spec { usage: "dir [-l] [--json] [PATH]", flags: &["--json", "-l", "-a", "-la", "-al"], min: 0, max: 1 };

pub fn pwd(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    PWD.parse(words)?;
    println!("{}", format::name(&sh.client.pwd()?));
    Ok(Flow::Continue)
}

pub fn cd(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = CD.parse(words)?;
    let target = match p.arg(0) {
        Some("-") => {
            sh.previous_remote.clone().ok_or_else(|| ClientError::Usage("no previous remote folder yet".into()))?
        }
        Some(path) => path.to_owned(),
        None => "/".to_owned(),
    };
    let before = sh.client.cwd().to_owned();
    let now = sh.client.cd(&target)?;
    sh.previous_remote = Some(before);
    if p.arg(0) == Some("-") {
        println!("{}", format::name(&now));
    }
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

/// Removes each path (patterns expanded first, all of them, before
/// anything is removed); `-r` with the server's recursive remove, after a
/// question at the prompt.
pub fn rm(sh: &mut Shell, words: &[String]) -> Result<Flow> {
    let p = RM.parse(words)?;
    let recursive = p.has("-r") || p.has("--recursive");
    let mut targets = Vec::new();
    for word in &p.args {
        if has_wildcards(word) {
            targets.extend(sh.client.remote_glob(word)?.into_iter().map(|m| m.path));
        } else {
            targets.push(word.clone());
        }
    }
    if recursive {
        let shown: Vec<String> = targets.iter().map(|t| format::name(t)).collect();
        let question = match shown.as_slice() {
            [one] => format!("remove {one} and everything in it?"),
            many => format!("remove these {} and everything in them: {}?", many.len(), many.join(", ")),
        };
        if !sh.confirm(&question)? {
            println!("nothing removed");
            return Ok(Flow::Continue);
        }
    }
    let mut tally = Tally::new(sh.interactive);
    for target in &targets {
        let result = if recursive { sh.client.rm_recursive(target) } else { sh.client.rm(target) };
        match result {
            Ok(removed) => {
                let (path, kind) = (format::name(&removed.path), format::kind(removed.kind));
                println!("removed {path} ({kind}, {} freed)", format::size(removed.freed));
            }
            // One path: its error as it is.
            Err(e) if targets.len() == 1 => return Err(e),
            Err(e) => tally.fail(e, &format!("rm {target}"))?,
        }
    }
    tally.finish(targets.len(), "removals")?;
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
