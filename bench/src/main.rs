//! mioftp-bench: runs the benchmark scenarios of issue 5 against `mioftpd`
//! and reports them as a table, JSON and a plot. It is a measuring tool, not
//! a test: nothing in CI runs it.
//!
//! Module map:
//! - [`cli`]: flags and resolved settings;
//! - [`target`]: the server under test (started per scenario, or external);
//! - [`creds`]: the account and the KDF cache;
//! - [`baseline`]: plain loopback copies to judge transfers by;
//! - [`transfers`], [`logins`], [`idle`], [`concurrent`], [`latency`],
//!   [`greedy`]: the scenarios;
//! - [`binary`], [`churn`]: issue 12's scenarios (the `mioftp` binary's
//!   throughput; `dir` latency and loop turns under disk churn), with
//!   [`turnlog`] reading the server's own turn figures from its log;
//! - [`report`], [`plot`]: output; [`sys`]: `/proc` and files.

mod baseline;
mod binary;
mod churn;
mod cli;
mod concurrent;
mod creds;
mod greedy;
mod idle;
mod latency;
mod logins;
mod plot;
mod report;
mod sys;
mod target;
mod transfers;
mod turnlog;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Cmd, Settings};
use creds::Creds;
use report::Results;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use target::Launch;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Hold) => idle::hold_main(),
        Some(Cmd::Pipe { src, dst, sha256 }) => baseline::pipe_main(&src, &dst, &sha256),
        None => run(&cli.args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mioftp-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &cli::Args) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build of the benchmark client; use `cargo run --release -p mioftp-bench`");
    }
    let nofile = sys::raise_nofile();
    let s = Settings::resolve(args, default_disk_dir())?;
    let launch = match &args.addr {
        Some(addr) => {
            let key_file = args.key_file.as_deref().context("--addr needs --key-file")?;
            let key =
                mioftp_proto::keyfile::read_key(key_file).with_context(|| format!("reading {}", key_file.display()))?;
            Launch::External { addr: addr.clone(), key, pid: args.server_pid }
        }
        None => Launch::Spawn {
            bin: target::server_binary(args.server_bin.as_deref())?,
            wrapper: s
                .server_wrapper
                .as_deref()
                .map(|w| w.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            extra: s.server_args.clone(),
        },
    };
    let creds = Creds::new(&args.user, &args.password);
    let mut r = Results {
        tool: format!("mioftp-bench {}", env!("CARGO_PKG_VERSION")),
        unix_time: SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        server_bin: match &launch {
            Launch::Spawn { bin, .. } => Some(bin.display().to_string()),
            Launch::External { .. } => None,
        },
        git_commit: git_commit(),
        machine: sys::Machine::read(),
        settings: serde_json::to_value(&s)?,
        baselines: Vec::new(),
        transfers: Vec::new(),
        logins: None,
        concurrent: Vec::new(),
        memory: Vec::new(),
        latency: Vec::new(),
        fairness: Vec::new(),
        binary: Vec::new(),
        churn: None,
        notes: Vec::new(),
    };
    eprintln!("{} x {}, load {:.2}, RLIMIT_NOFILE {nofile}", r.machine.cpus, r.machine.cpu_model, r.machine.load_start);
    if r.machine.load_start > 0.5 {
        r.notes.push(format!(
            "the 1-minute load average was {:.2} at the start: figures may be noisy",
            r.machine.load_start
        ));
    }
    let external = matches!(launch, Launch::External { .. });
    let tmpfs = s.tmpfs_dir.clone();
    let mut failed = 0;
    let mut attempt = |name: &str, r: &mut Results, f: &mut dyn FnMut(&mut Results) -> Result<()>| {
        eprintln!("== {name}");
        if let Err(e) = f(r) {
            eprintln!("   FAILED: {e:#}");
            r.notes.push(format!("{name} failed: {e:#}"));
            failed += 1;
        }
    };

    if s.wants("put") || s.wants("get") {
        let roots: Vec<(String, PathBuf)> = if external {
            vec![("external".into(), tmpfs.clone())]
        } else {
            s.fs.iter().map(|f| (f.clone(), if f == "tmpfs" { tmpfs.clone() } else { s.disk_dir.clone() })).collect()
        };
        for (fs, dir) in roots {
            let spec =
                transfers::Spec { size: s.size, repeat: s.repeat, put: s.wants("put"), get: s.wants("get"), idle: 0 };
            attempt(&format!("single transfers, {fs} ({})", dir.display()), &mut r, &mut |r| {
                let (base, figs) = transfers::run(&launch, &fs, &dir, &creds, spec, None)?;
                r.baselines.extend(base);
                r.transfers.extend(figs);
                Ok(())
            });
        }
    }
    let tmpfs_label = if external { "external" } else { "tmpfs" };
    if s.wants("logins") {
        attempt(&format!("{} sequential logins", s.logins), &mut r, &mut |r| {
            r.logins = Some(logins::run(&launch, &tmpfs, &creds, s.logins)?);
            Ok(())
        });
    }
    if s.wants("idle") {
        attempt(&format!("PUT and GET beside {} idle clients", s.idle_clients), &mut r, &mut |r| {
            let spec = transfers::Spec { size: s.size, repeat: s.repeat, put: true, get: true, idle: s.idle_clients };
            let known = r.baseline(tmpfs_label).cloned();
            let (base, figs) = transfers::run(&launch, tmpfs_label, &tmpfs, &creds, spec, known.as_ref())?;
            r.baselines.extend(base);
            r.transfers.extend(figs);
            Ok(())
        });
    }
    if s.wants("concurrent") {
        attempt("concurrent transfers", &mut r, &mut |r| {
            let known = r.baseline(tmpfs_label).cloned();
            let dirs: Vec<concurrent::Dir> = s
                .concurrent_dirs
                .iter()
                .map(|d| if d == "put" { concurrent::Dir::Put } else { concurrent::Dir::Get })
                .collect();
            let plan = concurrent::Levels { levels: &s.clients, dirs: &dirs, size: s.concurrent_size };
            r.concurrent = concurrent::run(&launch, &tmpfs, &creds, &plan, known.as_ref())?;
            Ok(())
        });
    }
    if s.wants("memory") {
        attempt("idle memory", &mut r, &mut |r| {
            r.memory = idle::memory(&launch, &tmpfs, &creds, &s.memory_levels)?;
            Ok(())
        });
    }
    if s.wants("latency") {
        attempt("dir latency under load", &mut r, &mut |r| {
            let interval = Duration::from_millis(s.probe_interval_ms);
            r.latency = latency::run(&launch, &tmpfs, &creds, &s.load, s.load_size, interval)?;
            Ok(())
        });
    }
    if s.wants("fairness") {
        attempt("dir latency beside a pipelining client", &mut r, &mut |r| {
            r.fairness = greedy::run(&launch, &tmpfs, &creds, s.greedy_requests)?;
            Ok(())
        });
    }

    for fs in s.binary_fs.iter().filter(|_| s.wants("binary")) {
        let dir = if fs == "tmpfs" { &tmpfs } else { &s.disk_dir };
        attempt(&format!("PUT and GET through the mioftp binary, {fs} ({})", dir.display()), &mut r, &mut |r| {
            let clients = client_bins(&args.client_bin)?;
            let spec = binary::Spec {
                clients: &clients,
                size: s.binary_size,
                repeat: s.repeat,
                memory: &s.memory,
                cold_pause: Duration::from_secs(s.cold_pause_s),
            };
            r.binary.push(binary::run(&launch, dir, &creds, &spec)?);
            Ok(())
        });
    }
    if s.wants("churn") {
        attempt("disk churn", &mut r, &mut |r| {
            r.churn = Some(churn::run(&launch, &s.disk_dir, &creds, &s.churn)?);
            Ok(())
        });
    }

    r.machine.load_end = sys::load_average();
    describe_fs(&mut r, &s, external);
    println!(
        "{} x {} ({} KiB RAM), kernel {}",
        r.machine.cpus, r.machine.cpu_model, r.machine.mem_total_kib, r.machine.kernel
    );
    println!("load average {:.2} at start, {:.2} at end", r.machine.load_start, r.machine.load_end);
    let classic = !(r.baselines.is_empty()
        && r.transfers.is_empty()
        && r.logins.is_none()
        && r.concurrent.is_empty()
        && r.memory.is_empty()
        && r.latency.is_empty());
    if classic {
        print!("{}", report::table(&r));
    }
    for b in &r.binary {
        print!("{}", binary::table(b));
    }
    if let Some(c) = &r.churn {
        print!("{}", churn::table(c));
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&r)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        plot::draw(&r, path)?;
        eprintln!("wrote {}", path.display());
    }
    anyhow::ensure!(failed == 0, "{failed} scenario(s) failed (see the notes)");
    Ok(())
}

/// The client binaries of `--client-bin`, or the release `mioftp` of this tree.
fn client_bins(given: &[String]) -> Result<Vec<binary::Client>> {
    if given.is_empty() {
        return Ok(vec![binary::Client { label: "new".into(), path: target::client_binary(None)? }]);
    }
    let clients: Vec<binary::Client> = given.iter().enumerate().map(|(i, g)| binary::Client::parse(g, i)).collect();
    for c in &clients {
        anyhow::ensure!(c.path.exists(), "client binary {} not found", c.path.display());
    }
    Ok(clients)
}

/// The commit of the source tree this benchmark was built from, if git can tell.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// `target/` beside this binary: on the disk the project is built on.
fn default_disk_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_owned))
        .unwrap_or_else(std::env::temp_dir)
}

/// Notes which filesystem each scratch folder is really on.
fn describe_fs(r: &mut Results, s: &Settings, external: bool) {
    let tmpfs = sys::fs_type(&s.tmpfs_dir);
    if tmpfs != "tmpfs" {
        r.notes.push(format!("{} is on {tmpfs}, not tmpfs", s.tmpfs_dir.display()));
    }
    if !external && (s.wants("put") || s.wants("get")) && s.fs.iter().any(|f| f == "disk") {
        let disk = sys::fs_type(&s.disk_dir);
        r.notes.push(format!("disk root: {} on {disk}", s.disk_dir.display()));
    }
    if external {
        r.notes.push("external server: its data root's filesystem is unknown; client files were on tmpfs".into());
        if s.wants("memory") {
            r.notes.push(
                "external server: memory growth is measured against what it already held (its connection table never shrinks); start a fresh server for this figure".into(),
            );
        }
    }
}
