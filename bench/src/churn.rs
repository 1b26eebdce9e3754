//! Issue 12's "disk churn" scenario: while N concurrent transfers run (half
//! GETs, half PUTs, as in the latency scenario), a second user removes large
//! files and commits uploads in a loop, and a third connection probes `dir`
//! throughout. Reported: `dir` p50/p99/max, and the server's longest single
//! loop turn over the same span, which the server measures itself and logs
//! at debug level (`src/server/turns.rs`, read back by `turnlog.rs`).
//!
//! The data root is on disk (`--disk-dir`), where fsync and unlink cost what
//! they cost. The large files are written into the second user's home
//! before it logs in (so its usage counts them), then the filesystem is
//! synced, so their writeback is not part of the measured span; they are
//! still in the page cache, like a file just uploaded. Each turn of the
//! second user's loop uploads a small file (a commit: fsync and rename),
//! removes the previous one, removes one large file while any are left,
//! and pauses `--churn-pause-ms`.
//!
//! The turn figures cover the span from the server's last window line
//! before the transfers start to its first one after they end (the probe
//! forces each by a `dir` after a quiet second), so up to a second of quiet
//! at each end is included; the clean-up after the transfers is not.

use crate::cli::ChurnSettings;
use crate::concurrent::{CLEANUP, Dir, ENDED, Load, RUNNING, batch};
use crate::creds::Creds;
use crate::latency::time_dir;
use crate::sys;
use crate::target::{Launch, Target};
use crate::turnlog::{self, Line, Tail, Totals};
use anyhow::{Context, Result};
use mioftp_client::{NoProgress, PutOptions};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const LOAD: &str = "load.bin";
const CHURN_USER: &str = "churn";

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub dir: String,
    pub fs_type: String,
    pub settings: ChurnSettings,
    pub dir_samples: usize,
    pub dir_p50_ms: f64,
    pub dir_p99_ms: f64,
    pub dir_max_ms: f64,
    pub load_total_s: f64,
    pub load_aggregate_mib_s: f64,
    pub load_failures: usize,
    /// Large files removed during the span, and each `rm`'s round trip.
    pub removed: usize,
    pub rm_ms: Vec<f64>,
    /// Uploads committed during the span, and each `put`'s duration.
    pub commits: usize,
    pub put_ms: Vec<f64>,
    pub churn_error: Option<String>,
    /// `None` when the server's log could not be read (an external server).
    pub turns: Option<TurnFigures>,
    /// Every probe, in milliseconds, in the order taken.
    pub dir_samples_ms: Vec<f64>,
}

/// The server's loop turns over the span.
#[derive(Debug, Clone, Serialize)]
pub struct TurnFigures {
    pub longest_ms: f64,
    pub turns: u64,
    /// Upper edges of the log2 buckets holding these percentiles.
    pub p50_le_ms: f64,
    pub p99_le_ms: f64,
    pub p999_le_ms: f64,
    /// Every single turn of 50 ms or more, in order.
    pub long_turns_ms: Vec<f64>,
    /// (bucket upper edge in µs, turns) over the span.
    pub hist: Vec<(u64, u64)>,
}

pub fn run(launch: &Launch, dir: &Path, creds: &Creds, s: &ChurnSettings) -> Result<Figures> {
    let env = [("RUST_LOG", "info,mioftp::server::turns=debug")];
    let target = Target::start_with(launch, dir, &[], &env)?;
    let churn_creds = Creds::new(CHURN_USER, creds.password());
    creds.register(&target.addr, &target.key)?;
    churn_creds.register(&target.addr, &target.key)?;
    let fs_type = sys::fs_type(&target.local);
    let src = target.local.join("src.bin");
    sys::make_file(&src, s.size)?;
    let upload = target.local.join("upload.bin");
    sys::make_file(&upload, s.upload_size)?;
    place_large_files(&target, &churn_creds, s)?;
    let mut probe = creds.login(&target.addr, &target.key)?;
    probe.put(&src, LOAD, &PutOptions { resume: false }, &mut NoProgress).context("uploading the load file")?;
    let mut churner = churn_creds.login(&target.addr, &target.key)?;
    eprintln!("  syncing {} ...", dir.display());
    let root = std::fs::File::open(dir)?;
    rustix::fs::syncfs(&root).context("syncfs")?;

    let mut tail = target.log_path().map(|p| Tail::at_end(&p));
    let before = settle(tail.as_mut(), &mut probe)?;
    let dirs: Vec<Dir> = (0..s.transfers).map(|i| if i % 2 == 0 { Dir::Get } else { Dir::Put }).collect();
    let phase = AtomicU8::new(0);
    let interval = Duration::from_millis(s.probe_interval_ms);
    let mut samples = Vec::new();
    let mut churned = Churned::default();
    let transfers = Load { dirs: &dirs, src: &src, remote: LOAD, tag: "churn" };
    let (b, after) = std::thread::scope(|sc| -> Result<_> {
        let load = sc.spawn(|| batch(&target, creds, &transfers, Some(&phase)));
        let churn = sc.spawn(|| churn_loop(&mut churner, &upload, s, &phase));
        while phase.load(Ordering::SeqCst) < RUNNING && !load.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let probed = (|| -> Result<()> {
            while phase.load(Ordering::SeqCst) < ENDED && !load.is_finished() {
                samples.push(time_dir(&mut probe)?);
                std::thread::sleep(interval);
            }
            Ok(())
        })();
        // The loop stops at ENDED; an early probe failure stops it too.
        if probed.is_err() {
            phase.store(ENDED, Ordering::SeqCst);
        }
        churned = churn.join().map_err(|_| anyhow::anyhow!("the churn thread panicked"))?;
        let after = probed.and_then(|()| settle(tail.as_mut(), &mut probe));
        phase.store(CLEANUP, Ordering::SeqCst);
        let b = load.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))?;
        Ok((b, after?))
    })?;
    drop(probe);
    drop(churner);
    target.stop();

    let turns = match (before, after) {
        (Some(before), Some((lines, last))) => Some(turn_figures(&before, &lines, &last)),
        _ => None,
    };
    let in_order = samples.clone();
    samples.sort_by(f64::total_cmp);
    let total_s = b.total_s();
    Ok(Figures {
        dir: dir.display().to_string(),
        fs_type,
        settings: s.clone(),
        dir_samples: samples.len(),
        dir_p50_ms: sys::percentile(&samples, 50.0),
        dir_p99_ms: sys::percentile(&samples, 99.0),
        dir_max_ms: samples.last().copied().unwrap_or(0.0),
        load_total_s: total_s,
        load_aggregate_mib_s: sys::mib_per_s((s.transfers - b.failures()) as u64 * s.size, total_s),
        load_failures: b.failures(),
        removed: churned.rm_ms.len(),
        rm_ms: churned.rm_ms,
        commits: churned.put_ms.len(),
        put_ms: churned.put_ms,
        churn_error: churned.error,
        turns,
        dir_samples_ms: in_order,
    })
}

/// Writes the large files into the second user's home (before its first
/// login, so its usage counts them), or uploads them to an external server.
fn place_large_files(target: &Target, churn: &Creds, s: &ChurnSettings) -> Result<()> {
    let big = target.local.join("big.bin");
    sys::make_file(&big, s.file_size)?;
    eprintln!("  writing {} files of {} ...", s.files, crate::report::size(s.file_size));
    match target.home(&churn.user) {
        Some(home) => {
            std::fs::create_dir_all(&home)?;
            for i in 0..s.files {
                std::fs::copy(&big, home.join(format!("big-{i}.bin"))).context("placing a large file")?;
            }
        }
        None => {
            let mut c = churn.login(&target.addr, &target.key)?;
            for i in 0..s.files {
                c.put(&big, &format!("big-{i}.bin"), &PutOptions { resume: false }, &mut NoProgress)?;
            }
        }
    }
    std::fs::remove_file(&big)?;
    Ok(())
}

#[derive(Debug, Default)]
struct Churned {
    rm_ms: Vec<f64>,
    put_ms: Vec<f64>,
    error: Option<String>,
}

/// The second user's loop, from RUNNING to ENDED.
fn churn_loop(c: &mut mioftp_client::Client, upload: &Path, s: &ChurnSettings, phase: &AtomicU8) -> Churned {
    let mut out = Churned::default();
    while phase.load(Ordering::SeqCst) < RUNNING {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut turn = 0;
    let mut step = || -> mioftp_client::Result<()> {
        let t = Instant::now();
        c.put(upload, &format!("up-{turn}.bin"), &PutOptions { resume: false }, &mut NoProgress)?;
        out.put_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if turn > 0 {
            c.rm(&format!("up-{}.bin", turn - 1))?;
        }
        if out.rm_ms.len() < s.files {
            let t = Instant::now();
            c.rm(&format!("big-{}.bin", out.rm_ms.len()))?;
            out.rm_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        turn += 1;
        Ok(())
    };
    while phase.load(Ordering::SeqCst) < ENDED {
        if let Err(e) = step() {
            eprintln!("  churn failed: {e}");
            out.error = Some(e.to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(s.pause_ms));
    }
    out
}

/// After a quiet second, one `dir` makes the server end a turn and log its
/// window line; waits (up to 3 s) for that line. Returns the totals it
/// carries and every turn line read since the last call, or `None` without
/// a readable log.
#[allow(clippy::type_complexity)]
fn settle(tail: Option<&mut Tail>, probe: &mut mioftp_client::Client) -> Result<Option<(Vec<Line>, Totals)>> {
    let Some(tail) = tail else { return Ok(None) };
    std::thread::sleep(Duration::from_millis(1100));
    time_dir(probe)?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        lines.extend(tail.read());
        if let Some(Line::Window { total, .. }) = lines.iter().rev().find(|l| matches!(l, Line::Window { .. })) {
            let total = total.clone();
            return Ok(Some((lines, total)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("  no turn line in the server's log (is it a mioftpd with src/server/turns.rs?)");
    Ok(None)
}

fn turn_figures(before: &(Vec<Line>, Totals), lines: &[Line], last: &Totals) -> TurnFigures {
    let hist = turnlog::hist_between(&before.1.hist, &last.hist);
    let mut longest_us = 0;
    let mut long = Vec::new();
    for l in lines {
        match l {
            Line::Window { max_us, .. } => longest_us = longest_us.max(*max_us),
            Line::Long { us } => long.push(*us as f64 / 1000.0),
            Line::Final(_) => {}
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    TurnFigures {
        longest_ms: ms(longest_us),
        turns: hist.iter().map(|(_, n)| n).sum(),
        p50_le_ms: ms(turnlog::percentile_le(&hist, 50.0)),
        p99_le_ms: ms(turnlog::percentile_le(&hist, 99.0)),
        p999_le_ms: ms(turnlog::percentile_le(&hist, 99.9)),
        long_turns_ms: long,
        hist,
    }
}

/// The scenario's lines of the results table.
pub fn table(f: &Figures) -> String {
    let s = &f.settings;
    let mut out = format!(
        "churn scenario ({}, {}): {} x {} transfers in {:.1} s ({:.0} MiB/s{}); {} of {} {} files removed, {} uploads of {} committed\n",
        f.fs_type,
        f.dir,
        s.transfers,
        crate::report::size(s.size),
        f.load_total_s,
        f.load_aggregate_mib_s,
        if f.load_failures > 0 { format!(", {} FAILED", f.load_failures) } else { String::new() },
        f.removed,
        s.files,
        crate::report::size(s.file_size),
        f.commits,
        crate::report::size(s.upload_size),
    );
    out += &format!(
        "  dir p50 / p99 / max: {:.2} / {:.2} / {:.2} ms ({} samples)   target p99 <= 2 ms: {}\n",
        f.dir_p50_ms,
        f.dir_p99_ms,
        f.dir_max_ms,
        f.dir_samples,
        if f.dir_p99_ms <= 2.0 { "met" } else { "NOT met" }
    );
    let median = |v: &[f64]| sys::median(v);
    out += &format!(
        "  second user: rm of a large file {:.1} ms median (max {:.1}), put {:.1} ms median\n",
        median(&f.rm_ms),
        f.rm_ms.iter().copied().fold(0.0, f64::max),
        median(&f.put_ms)
    );
    match &f.turns {
        Some(t) => {
            out += &format!(
                "  server loop turns: longest {:.1} ms, {} turns, p50 <= {:.3} ms, p99 <= {:.3} ms, p99.9 <= {:.3} ms; {} turns >= 50 ms   target longest <= 5 ms: {}\n",
                t.longest_ms,
                t.turns,
                t.p50_le_ms,
                t.p99_le_ms,
                t.p999_le_ms,
                t.long_turns_ms.len(),
                if t.longest_ms <= 5.0 { "met" } else { "NOT met" }
            );
        }
        None => out += "  server loop turns: unknown (no turn lines in the server's log)\n",
    }
    if let Some(e) = &f.churn_error {
        out += &format!("  the second user's loop failed: {e}\n");
    }
    out
}
