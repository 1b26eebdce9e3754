//! Scenario 4: N clients, each on its own connection and thread, GET the same
//! file at once, then PUT a file each at once. Every client logs in before a
//! barrier; the clock runs from the barrier to the last transfer's end, and
//! clean-up waits for a second barrier so it never overlaps a transfer.

use crate::creds::Creds;
use crate::report::{Baseline, Concurrent, ratio};
use crate::sys::{self, CpuMeter};
use crate::target::{Launch, Target};
use anyhow::{Context, Result};
use mioftp_client::{GetOptions, NoProgress, PutOptions};
use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

const SHARED: &str = "shared.bin";

/// Phases of a [`batch`], for an observer on another thread.
pub const RUNNING: u8 = 1;
pub const ENDED: u8 = 2;
pub const CLEANUP: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Get,
    Put,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::Get => "get",
            Dir::Put => "put",
        }
    }
}

/// One batch of simultaneous transfers: when each began (right after the
/// barrier, on its own thread) and ended (`None` if it failed).
pub struct Batch {
    pub runs: Vec<(Instant, Option<Instant>)>,
}

impl Batch {
    /// From the first transfer's start to the last one's end, in seconds.
    /// (Taken from the transfer threads themselves: the coordinating thread
    /// may be scheduled late, after fast transfers have already finished.)
    pub fn total_s(&self) -> f64 {
        let first = self.runs.iter().map(|r| r.0).min();
        let last = self.runs.iter().filter_map(|r| r.1).max();
        match (first, last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Each successful transfer's own duration, in seconds, sorted.
    pub fn durations(&self) -> Vec<f64> {
        let mut d: Vec<f64> =
            self.runs.iter().filter_map(|(s, e)| e.map(|e| e.saturating_duration_since(*s).as_secs_f64())).collect();
        d.sort_by(f64::total_cmp);
        d
    }

    pub fn failures(&self) -> usize {
        self.runs.iter().filter(|r| r.1.is_none()).count()
    }
}

/// The transfers of one batch: one per entry of `dirs`, all at once. GETs
/// fetch `remote`; PUTs send `src` to `<tag>-<i>.bin`.
pub struct Load<'a> {
    pub dirs: &'a [Dir],
    pub src: &'a Path,
    pub remote: &'a str,
    pub tag: &'a str,
}

/// Runs a [`Load`] against `target`. For an observer on another thread,
/// `phase` goes to [`RUNNING`] when the barrier opens and to [`ENDED`] when
/// the last transfer has ended; the clean-up (deleting the files, which costs
/// the server real time for large ones) then waits until the observer sets
/// [`CLEANUP`], so it never overlaps what it measures.
pub fn batch(target: &Target, creds: &Creds, load: &Load<'_>, phase: Option<&AtomicU8>) -> Batch {
    let Load { dirs, src, remote, tag } = *load;
    let n = dirs.len();
    let go = Barrier::new(n + 1);
    let done = Barrier::new(n + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let dir = dirs[i];
                let (go, done) = (&go, &done);
                s.spawn(move || {
                    let local = target.local.join(format!("{tag}-{i}.out"));
                    let put_name = format!("{tag}-{i}.bin");
                    let client = creds.login(&target.addr, &target.key);
                    go.wait();
                    let began = Instant::now();
                    let result = client.and_then(|mut c| {
                        match dir {
                            Dir::Get => drop(c.get(remote, &local, &GetOptions { resume: false }, &mut NoProgress)?),
                            Dir::Put => drop(c.put(src, &put_name, &PutOptions { resume: false }, &mut NoProgress)?),
                        }
                        Ok(c)
                    });
                    let end = Instant::now();
                    done.wait();
                    while phase.is_some_and(|p| p.load(Ordering::SeqCst) < CLEANUP) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    // Clean-up, once every transfer of the batch has ended.
                    let _ = std::fs::remove_file(&local);
                    match result {
                        Ok(mut c) => {
                            if dir == Dir::Put {
                                let _ = c.rm(&put_name);
                            }
                            (began, Some(end))
                        }
                        Err(e) => {
                            eprintln!("  transfer failed: {e:#}");
                            (began, None)
                        }
                    }
                })
            })
            .collect();
        go.wait();
        if let Some(p) = phase {
            p.store(RUNNING, Ordering::SeqCst);
        }
        done.wait();
        if let Some(p) = phase {
            p.store(ENDED, Ordering::SeqCst);
        }
        let now = Instant::now();
        let runs = handles.into_iter().map(|h| h.join().unwrap_or((now, None))).collect();
        Batch { runs }
    })
}

/// What scenario 4 runs: at each concurrency level, a batch of each direction.
pub struct Levels<'a> {
    pub levels: &'a [usize],
    pub dirs: &'a [Dir],
    /// Bytes per transfer.
    pub size: u64,
}

/// Scenario 4 at each concurrency level.
pub fn run(
    launch: &Launch,
    dir: &Path,
    creds: &Creds,
    plan: &Levels<'_>,
    base: Option<&Baseline>,
) -> Result<Vec<Concurrent>> {
    let Levels { levels, dirs, size } = *plan;
    let target = Target::start(launch, dir)?;
    creds.register(&target.addr, &target.key)?;
    let src = target.local.join("src.bin");
    sys::make_file(&src, size)?;
    let mut first = creds.login(&target.addr, &target.key)?;
    first.put(&src, SHARED, &PutOptions { resume: false }, &mut NoProgress).context("uploading the shared file")?;
    drop(first);
    let mut out = Vec::new();
    for &n in levels {
        for &dir in dirs {
            let cpu = CpuMeter::start(target.pid);
            let own = CpuMeter::own();
            let load = Load { dirs: &vec![dir; n], src: &src, remote: SHARED, tag: "c" };
            let b = batch(&target, creds, &load, None);
            let server_cpu_s = cpu.stop();
            let client_cpu_s = own.stop();
            let took = b.durations();
            let failures = b.failures();
            let total_s = b.total_s();
            let ok = (n - failures) as u64;
            let aggregate = sys::mib_per_s(ok * size, total_s);
            eprintln!("  {n} x {}: {total_s:.2} s, {aggregate:.0} MiB/s aggregate", dir.name());
            out.push(Concurrent {
                direction: dir.name().to_owned(),
                clients: n,
                size_bytes: size,
                total_s,
                aggregate_mib_s: aggregate,
                per_transfer_p50_s: sys::percentile(&took, 50.0),
                per_transfer_max_s: took.last().copied().unwrap_or(0.0),
                failures,
                server_cpu_s,
                client_cpu_s,
                ratio_copy: ratio(aggregate, base.map(|b| b.copy_median_mib_s)),
                ratio_full: ratio(aggregate, base.map(|b| b.full_median_mib_s)),
            });
        }
    }
    target.stop();
    Ok(out)
}
