//! Issue 12's throughput check: PUT and GET of one large file through the
//! real `mioftp` binary, to a real file, against the copy+SHA-256+write+fsync
//! pipeline (one SHA-256, at the receiver) run as a process too
//! (`mioftp-bench pipe`, see `baseline.rs`).
//!
//! Every contender (the baseline, and PUT and GET for each client binary
//! given with `--client-bin`, e.g. the one built from `main` and the one
//! from this tree) is one process, timed from spawn to exit on the same
//! clock, its CPU time read from `/proc/self/stat`'s children fields. Each
//! repetition runs them all, in an order rotated by one per repetition, and
//! a contender's ratio is to the baseline of the same repetition, so drift
//! in the machine's load affects both alike.
//!
//! This VM backs guest memory lazily and takes freed pages back (free page
//! reporting), so a run that writes 1 GiB of page cache onto pages the host
//! has not backed pays for that first touch. Two conditions, each applied
//! the same way before every contender:
//! - **warm**: touch twice the file size of fresh memory, free it, start;
//! - **cold**: pause `--cold-pause-s` seconds first, so freed pages have
//!   been handed back.
//!
//! The server gets `--min-iterations 1024`, so the binary's login (a PBKDF2
//! at the account's count) costs about a millisecond; the run of a bare
//! `mioftp login` is timed too and reported as the fixed cost per process.

use crate::creds::Creds;
use crate::sys::{self, CpuMeter};
use crate::target::{Launch, Target};
use anyhow::{Context, Result, bail, ensure};
use mioftp_client::{NoProgress, PutOptions};
use serde::Serialize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GET_NAME: &str = "get.bin";
const PUT_NAME: &str = "put.bin";

/// A client binary to race.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub label: String,
    pub path: PathBuf,
}

impl Client {
    /// `LABEL=PATH`, or a bare path labelled `new` (the first) or `cN`.
    pub fn parse(spec: &str, index: usize) -> Client {
        match spec.split_once('=') {
            Some((label, path)) => Client { label: label.to_owned(), path: PathBuf::from(path) },
            None => Client { label: if index == 0 { "new".into() } else { format!("c{index}") }, path: spec.into() },
        }
    }
}

/// One timed process.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub memory: String,
    pub rep: usize,
    /// "baseline", or "<label> put" / "<label> get".
    pub what: String,
    pub wall_s: f64,
    pub mib_s: f64,
    /// The process's own CPU seconds (all threads; 10 ms resolution).
    pub cpu_s: Option<f64>,
    pub server_cpu_s: Option<f64>,
    /// `mib_s` divided by the same repetition's baseline.
    pub ratio: f64,
}

/// The repetitions of one contender under one condition, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub memory: String,
    pub what: String,
    pub median_mib_s: f64,
    pub min_mib_s: f64,
    pub max_mib_s: f64,
    /// Median, least and greatest of the per-repetition ratios to the baseline.
    pub ratio_median: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// Median per-repetition ratio to the first client's same direction.
    pub vs_first_median: Option<f64>,
    pub cpu_median_s: Option<f64>,
    pub server_cpu_median_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub dir: String,
    pub fs_type: String,
    pub size_bytes: u64,
    pub repeat: usize,
    pub cold_pause_s: u64,
    pub warm_bytes: u64,
    pub clients: Vec<Client>,
    /// Wall seconds of a bare `mioftp login` per client label, per repetition.
    pub login_s: Vec<(String, Vec<f64>)>,
    pub runs: Vec<Run>,
    pub rows: Vec<Row>,
}

/// What one contender does.
#[derive(Debug, Clone, Copy)]
enum Job<'a> {
    Baseline,
    Put(&'a Client),
    Get(&'a Client),
}

/// The scenario's settings.
pub struct Spec<'a> {
    pub clients: &'a [Client],
    pub size: u64,
    pub repeat: usize,
    pub memory: &'a [String],
    pub cold_pause: Duration,
}

pub fn run(launch: &Launch, dir: &Path, creds: &Creds, spec: &Spec) -> Result<Figures> {
    let target = Target::start_with(launch, dir, &["--min-iterations", "1024"], &[])?;
    creds.register(&target.addr, &target.key)?;
    let fs_type = sys::fs_type(&target.local);
    let src = target.local.join("src.bin");
    sys::make_file(&src, spec.size)?;
    let key_file = target.local.join("client.key");
    write_key(&key_file, &target.key)?;
    let mut admin = creds.login(&target.addr, &target.key)?;
    // Uploaded through the server, so it remembers the digest and serves
    // every GET with sendfile, as it would any uploaded file.
    admin.put(&src, GET_NAME, &PutOptions { resume: false }, &mut NoProgress).context("uploading the GET file")?;
    let sha256 = mioftp_client::digest::file_sha256(&src)?;
    let ctx = Ctx { target: &target, creds, key_file: &key_file, src: &src, sha256: &sha256, size: spec.size };
    let mut jobs = vec![Job::Baseline];
    for c in spec.clients {
        jobs.push(Job::Put(c));
        jobs.push(Job::Get(c));
    }
    let warm_bytes = 2 * spec.size;
    let mut runs = Vec::new();
    let mut login_s: Vec<(String, Vec<f64>)> = spec.clients.iter().map(|c| (c.label.clone(), Vec::new())).collect();
    for rep in 0..spec.repeat {
        for (c, times) in spec.clients.iter().zip(login_s.iter_mut()) {
            times.1.push(ctx.timed(&c.path, &["login"])?.0);
        }
        for memory in spec.memory {
            let mut base = None;
            let mut this_rep = Vec::new();
            for i in 0..jobs.len() {
                let job = jobs[(i + rep) % jobs.len()];
                if memory == "warm" {
                    sys::touch_memory(warm_bytes);
                } else {
                    std::thread::sleep(spec.cold_pause);
                }
                let (wall_s, cpu_s, server_cpu_s) = ctx.one(job)?;
                ctx.clean_up(job, &mut admin)?;
                let what = match job {
                    Job::Baseline => "baseline".to_owned(),
                    Job::Put(c) => format!("{} put", c.label),
                    Job::Get(c) => format!("{} get", c.label),
                };
                let mib_s = sys::mib_per_s(spec.size, wall_s);
                if matches!(job, Job::Baseline) {
                    base = Some(mib_s);
                }
                eprintln!("  rep {} {memory}: {what} {mib_s:.0} MiB/s ({wall_s:.2} s)", rep + 1);
                this_rep.push(Run {
                    memory: memory.clone(),
                    rep,
                    what,
                    wall_s,
                    mib_s,
                    cpu_s,
                    server_cpu_s,
                    ratio: 0.0,
                });
            }
            let base = base.context("no baseline run")?;
            for r in &mut this_rep {
                r.ratio = r.mib_s / base;
            }
            runs.extend(this_rep);
        }
    }
    drop(admin);
    target.stop();
    let rows = summarise(&runs, spec);
    Ok(Figures {
        dir: dir.display().to_string(),
        fs_type,
        size_bytes: spec.size,
        repeat: spec.repeat,
        cold_pause_s: spec.cold_pause.as_secs(),
        warm_bytes,
        clients: spec.clients.to_vec(),
        login_s,
        runs,
        rows,
    })
}

/// What every run needs.
struct Ctx<'a> {
    target: &'a Target,
    creds: &'a Creds,
    key_file: &'a Path,
    src: &'a Path,
    sha256: &'a str,
    size: u64,
}

impl Ctx<'_> {
    /// Runs one contender: wall seconds, its CPU seconds, the server's.
    fn one(&self, job: Job) -> Result<(f64, Option<f64>, Option<f64>)> {
        let server = CpuMeter::start(self.target.pid);
        let (wall, cpu) = match job {
            Job::Baseline => {
                let exe = std::env::current_exe()?;
                let out = self.target.local.join("baseline.out");
                let mut cmd = Command::new(exe);
                cmd.arg("pipe").arg(self.src).arg(out).arg(self.sha256);
                spawn_timed(&mut cmd)?
            }
            Job::Put(c) => {
                let src = self.src.to_str().context("non-UTF-8 source path")?;
                self.timed(&c.path, &["put", "--no-resume", src, PUT_NAME])?
            }
            Job::Get(c) => {
                let out = self.target.local.join("get.out");
                let out = out.to_str().context("non-UTF-8 scratch path")?;
                self.timed(&c.path, &["get", "--no-resume", GET_NAME, out])?
            }
        };
        Ok((wall, cpu, server.stop()))
    }

    /// Runs `bin COMMAND...` logged in as the benchmark's user.
    fn timed(&self, bin: &Path, command: &[&str]) -> Result<(f64, Option<f64>)> {
        let mut cmd = Command::new(bin);
        cmd.arg("--server")
            .arg(&self.target.addr)
            .arg("--key-file")
            .arg(self.key_file)
            .arg("--user")
            .arg(&self.creds.user)
            .args(command)
            .env("MIOFTP_PASSWORD", self.creds.password());
        spawn_timed(&mut cmd)
    }

    /// Removes what a contender made, outside the timing, and checks it.
    fn clean_up(&self, job: Job, admin: &mut mioftp_client::Client) -> Result<()> {
        let made = match job {
            Job::Baseline => self.target.local.join("baseline.out"),
            Job::Get(_) => self.target.local.join("get.out"),
            Job::Put(_) => {
                admin.rm(PUT_NAME).context("removing the uploaded file")?;
                return Ok(());
            }
        };
        let len = std::fs::metadata(&made).with_context(|| format!("{} is missing", made.display()))?.len();
        ensure!(len == self.size, "{} holds {len} bytes, not {}", made.display(), self.size);
        std::fs::remove_file(&made)?;
        Ok(())
    }
}

/// Spawns, waits, and returns (wall seconds, CPU seconds of the process).
/// The process must succeed; its output is kept for the error message.
fn spawn_timed(cmd: &mut Command) -> Result<(f64, Option<f64>)> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let cpu_before = sys::children_cpu_seconds();
    let t0 = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = sys::children_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((wall, cpu))
}

fn write_key(path: &Path, key: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(key)?;
    Ok(())
}

/// One row per (condition, contender), in the order first run.
fn summarise(runs: &[Run], spec: &Spec) -> Vec<Row> {
    let first = spec.clients.first().map(|c| c.label.as_str());
    let mut rows = Vec::new();
    for memory in spec.memory {
        let mut names = vec!["baseline".to_owned()];
        for c in spec.clients {
            names.extend(["put", "get"].map(|d| format!("{} {d}", c.label)));
        }
        for what in &names {
            let what = what.as_str();
            let mine: Vec<&Run> = runs.iter().filter(|r| &r.memory == memory && r.what == what).collect();
            if mine.is_empty() {
                continue;
            }
            let pick = |f: fn(&Run) -> f64| mine.iter().map(|r| f(r)).collect::<Vec<f64>>();
            let (mib, ratio) = (pick(|r| r.mib_s), pick(|r| r.ratio));
            let opt = |f: fn(&Run) -> Option<f64>| {
                let v: Vec<f64> = mine.iter().filter_map(|r| f(r)).collect();
                (!v.is_empty()).then(|| sys::median(&v))
            };
            // Against the first client's same direction, repetition by repetition.
            let direction = what.rsplit(' ').next().unwrap_or("");
            let vs_first = first.filter(|f| what != "baseline" && !what.starts_with(&format!("{f} "))).map(|f| {
                let peer = format!("{f} {direction}");
                let pairs: Vec<f64> = mine
                    .iter()
                    .filter_map(|r| {
                        runs.iter()
                            .find(|p| p.memory == r.memory && p.rep == r.rep && p.what == peer)
                            .map(|p| r.mib_s / p.mib_s)
                    })
                    .collect();
                sys::median(&pairs)
            });
            rows.push(Row {
                memory: memory.clone(),
                what: what.to_owned(),
                median_mib_s: sys::median(&mib),
                min_mib_s: mib.iter().copied().fold(f64::INFINITY, f64::min),
                max_mib_s: mib.iter().copied().fold(0.0, f64::max),
                ratio_median: sys::median(&ratio),
                ratio_min: ratio.iter().copied().fold(f64::INFINITY, f64::min),
                ratio_max: ratio.iter().copied().fold(0.0, f64::max),
                vs_first_median: vs_first,
                cpu_median_s: opt(|r| r.cpu_s),
                server_cpu_median_s: opt(|r| r.server_cpu_s),
            });
        }
    }
    rows
}

/// The scenario's lines of the results table.
pub fn table(f: &Figures) -> String {
    let mut out = format!(
        "binary scenario: {} on {} ({}), median of {}; ratio = MiB/s / same-rep baseline\n",
        crate::report::size(f.size_bytes),
        f.fs_type,
        f.dir,
        f.repeat
    );
    for (label, times) in &f.login_s {
        out += &format!("  {label}: bare `mioftp login` process {:.1} ms (median)\n", sys::median(times) * 1000.0);
    }
    for r in &f.rows {
        out += &format!(
            "  {:<5} {:<16} {:>6.0} MiB/s ({:.0}-{:.0})  x baseline {:.2} ({:.2}-{:.2}){}  CPU s: own {} server {}\n",
            r.memory,
            r.what,
            r.median_mib_s,
            r.min_mib_s,
            r.max_mib_s,
            r.ratio_median,
            r.ratio_min,
            r.ratio_max,
            r.vs_first_median.map_or_else(String::new, |v| format!("  x first client {v:.2}")),
            r.cpu_median_s.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
            r.server_cpu_median_s.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
        );
    }
    out
}
