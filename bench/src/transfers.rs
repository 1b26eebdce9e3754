//! Scenarios 1 and 3: one PUT and one GET of a large file on one connection,
//! alone or beside idle authenticated clients, with the baselines measured in
//! the same run, interleaved repetition by repetition so drift in the
//! machine's load affects both alike.

use crate::baseline::{self, Kind};
use crate::creds::Creds;
use crate::idle::IdleClients;
use crate::report::{Baseline, Transfer, ratio};
use crate::sys::{self, CpuMeter};
use crate::target::{Launch, Target};
use anyhow::{Context, Result};
use mioftp_client::{GetOptions, NoProgress, PutOptions};
use std::path::Path;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub size: u64,
    pub repeat: usize,
    pub put: bool,
    pub get: bool,
    /// Idle authenticated clients to open first (0 for scenario 1).
    pub idle: usize,
}

const REMOTE: &str = "bench.bin";

/// Runs the transfers on a server whose root is under `dir`. Baselines are
/// measured too unless `known` already holds this filesystem's.
pub fn run(
    launch: &Launch,
    fs: &str,
    dir: &Path,
    creds: &Creds,
    spec: Spec,
    known: Option<&Baseline>,
) -> Result<(Option<Baseline>, Vec<Transfer>)> {
    let target = Target::start(launch, dir)?;
    creds.register(&target.addr, &target.key)?;
    let fs_type = sys::fs_type(&target.local);
    let src = target.local.join("src.bin");
    sys::make_file(&src, spec.size)?;
    // GET alone: on a server we started, the file is put straight into the
    // home (before any login, so the usage scan counts it), which keeps a
    // profile of the server free of the upload; otherwise it is uploaded.
    let mut must_upload = spec.get && !spec.put;
    if let (true, Some(home)) = (must_upload, target.home(&creds.user)) {
        std::fs::copy(&src, home.join(REMOTE)).context("placing the GET file")?;
        must_upload = false;
    }
    let idle = match spec.idle {
        0 => None,
        n => {
            let held = IdleClients::open(&target, creds, n)?;
            eprintln!("  {} idle clients open ({:.2} s)", held.count, held.open_s);
            Some(held)
        }
    };
    let mut client = creds.login(&target.addr, &target.key)?;
    let measure_baselines = known.is_none();
    let (mut copy, mut full) = (Vec::new(), Vec::new());
    let (mut copy_cpu, mut full_cpu) = (Vec::new(), Vec::new());
    let (mut put, mut get) = (Vec::new(), Vec::new());
    let (mut put_cpu, mut get_cpu) = (Vec::new(), Vec::new());
    let (mut put_own, mut get_own) = (Vec::new(), Vec::new());
    let got = target.local.join("get.out");
    if must_upload {
        client.put(&src, REMOTE, &PutOptions { resume: false }, &mut NoProgress).context("uploading the GET file")?;
    }
    for rep in 0..spec.repeat {
        if measure_baselines {
            let scratch = target.local.join("baseline.out");
            let own = CpuMeter::own();
            copy.push(sys::mib_per_s(spec.size, baseline::run(Kind::Copy, &src, &scratch)?));
            copy_cpu.extend(own.stop());
            let own = CpuMeter::own();
            full.push(sys::mib_per_s(spec.size, baseline::run(Kind::Full, &src, &scratch)?));
            full_cpu.extend(own.stop());
        }
        if spec.put {
            let cpu = CpuMeter::start(target.pid);
            let own = CpuMeter::own();
            let t0 = Instant::now();
            client.put(&src, REMOTE, &PutOptions { resume: false }, &mut NoProgress).context("PUT")?;
            put.push(sys::mib_per_s(spec.size, t0.elapsed().as_secs_f64()));
            put_cpu.extend(cpu.stop());
            put_own.extend(own.stop());
        }
        if spec.get {
            let cpu = CpuMeter::start(target.pid);
            let own = CpuMeter::own();
            let t0 = Instant::now();
            client.get(REMOTE, &got, &GetOptions { resume: false }, &mut NoProgress).context("GET")?;
            get.push(sys::mib_per_s(spec.size, t0.elapsed().as_secs_f64()));
            get_cpu.extend(cpu.stop());
            get_own.extend(own.stop());
            std::fs::remove_file(&got)?;
        }
        eprintln!(
            "  rep {}: copy {} full {} put {} get {} MiB/s",
            rep + 1,
            last(&copy),
            last(&full),
            last(&put),
            last(&get)
        );
    }
    drop(client);
    drop(idle);
    target.stop();

    let base = measure_baselines.then(|| Baseline {
        fs: fs.to_owned(),
        fs_type: fs_type.clone(),
        size_bytes: spec.size,
        copy_median_mib_s: sys::median(&copy),
        full_median_mib_s: sys::median(&full),
        copy_mib_s: copy,
        full_mib_s: full,
        copy_cpu_s: copy_cpu,
        full_cpu_s: full_cpu,
    });
    let judge = base.as_ref().or(known);
    let scenario = if spec.idle > 0 { "idle" } else { "single" };
    let figure = |direction: &str, runs: Vec<f64>, cpu: Vec<f64>, own: Vec<f64>| {
        let median = sys::median(&runs);
        let cpu_median = sys::median(&cpu);
        Transfer {
            scenario: scenario.to_owned(),
            fs: fs.to_owned(),
            fs_type: fs_type.clone(),
            direction: direction.to_owned(),
            size_bytes: spec.size,
            idle_clients: spec.idle,
            median_mb_s: median * 1.048576,
            median_mib_s: median,
            mib_s: runs,
            server_mib_per_cpu_s: (cpu_median > 0.0).then(|| spec.size as f64 / 1048576.0 / cpu_median),
            server_cpu_s: cpu,
            client_cpu_s: own,
            ratio_copy: ratio(median, judge.map(|b| b.copy_median_mib_s)),
            ratio_full: ratio(median, judge.map(|b| b.full_median_mib_s)),
        }
    };
    let mut figures = Vec::new();
    if spec.put {
        figures.push(figure("put", put, put_cpu, put_own));
    }
    if spec.get {
        figures.push(figure("get", get, get_cpu, get_own));
    }
    Ok((base, figures))
}

fn last(v: &[f64]) -> String {
    v.last().map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"))
}
