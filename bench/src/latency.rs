//! Scenario 6: how long a `dir` takes, from one logged-in client, while N
//! large transfers run (half GETs, half PUTs; a single one is a GET). The
//! probe sends a `dir` of its home, waits for the whole reply, sleeps the
//! probe interval, and repeats for as long as the transfers run.
//!
//! On a 2-core machine the transfer clients (which hash every byte) compete
//! with the server for the CPU, so a sample includes any time the probe
//! thread waited to be scheduled; the load-free level shows that floor.

use crate::concurrent::{CLEANUP, Dir, ENDED, Load, RUNNING, batch};
use crate::creds::Creds;
use crate::report::Latency;
use crate::sys;
use crate::target::{Launch, Target};
use anyhow::{Context, Result};
use mioftp_client::{NoProgress, PutOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const LOAD: &str = "load.bin";

/// Probe samples taken without load.
const IDLE_SAMPLES: usize = 200;

pub fn run(
    launch: &Launch,
    dir: &Path,
    creds: &Creds,
    loads: &[usize],
    size: u64,
    interval: Duration,
) -> Result<Vec<Latency>> {
    let target = Target::start(launch, dir)?;
    creds.register(&target.addr, &target.key)?;
    let src = target.local.join("src.bin");
    sys::make_file(&src, size)?;
    let mut probe = creds.login(&target.addr, &target.key)?;
    probe.put(&src, LOAD, &PutOptions { resume: false }, &mut NoProgress).context("uploading the load file")?;
    let mut out = Vec::new();
    for &n in loads {
        let mut samples = Vec::new();
        let (mut total_s, mut failures) = (0.0, 0);
        if n == 0 {
            for _ in 0..IDLE_SAMPLES {
                samples.push(time_dir(&mut probe)?);
                std::thread::sleep(interval);
            }
        } else {
            let dirs: Vec<Dir> = (0..n).map(|i| if i % 2 == 0 { Dir::Get } else { Dir::Put }).collect();
            let phase = AtomicU8::new(0);
            let transfers = Load { dirs: &dirs, src: &src, remote: LOAD, tag: "lat" };
            let b = std::thread::scope(|s| -> Result<_> {
                let load = s.spawn(|| batch(&target, creds, &transfers, Some(&phase)));
                while phase.load(Ordering::SeqCst) < RUNNING && !load.is_finished() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // Probe while transfers run, not during the clean-up after
                // them (deleting the files is not the load being measured).
                while phase.load(Ordering::SeqCst) < ENDED && !load.is_finished() {
                    match time_dir(&mut probe) {
                        Ok(ms) => samples.push(ms),
                        Err(e) => {
                            phase.store(CLEANUP, Ordering::SeqCst);
                            return Err(e);
                        }
                    }
                    std::thread::sleep(interval);
                }
                phase.store(CLEANUP, Ordering::SeqCst);
                load.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))
            })?;
            total_s = b.total_s();
            failures = b.failures();
        }
        let in_order = samples.clone();
        samples.sort_by(f64::total_cmp);
        let fig = Latency {
            transfers: n,
            size_bytes: size,
            samples: samples.len(),
            p50_ms: sys::percentile(&samples, 50.0),
            p99_ms: sys::percentile(&samples, 99.0),
            max_ms: samples.last().copied().unwrap_or(0.0),
            load_total_s: total_s,
            load_aggregate_mib_s: sys::mib_per_s((n - failures) as u64 * size, total_s),
            failures,
            samples_ms: in_order,
        };
        eprintln!(
            "  {n} transfers: dir p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            fig.p50_ms, fig.p99_ms, fig.max_ms, fig.samples
        );
        out.push(fig);
    }
    drop(probe);
    target.stop();
    Ok(out)
}

/// One `dir` round trip, in milliseconds.
pub fn time_dir(probe: &mut mioftp_client::Client) -> Result<f64> {
    let t = Instant::now();
    probe.dir(None).context("dir")?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}
