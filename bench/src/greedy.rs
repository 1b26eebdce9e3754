//! Scenario 7, fairness: how long a `dir` takes from one client while
//! another pipelines N requests (`dir` or `noop`) without reading a single
//! reply. The greedy client writes its whole batch on a thread of its own;
//! the probe sends a `dir`, waits for the whole reply, sleeps 1 ms, and
//! repeats from the moment the batch starts until the server is done with
//! it. The same run first measures the probe alone, as the baseline.
//!
//! "Done with it" is read off the greedy socket without reading it: the
//! bytes waiting in its receive queue (FIONREAD) grow while the server
//! answers. The probing ends once they stopped growing for `SETTLE` (the
//! server answered everything, or is held back because the greedy client
//! reads nothing and its socket is full), or after `MAX_PROBE`. Every probe
//! in that window counts; most of them find the server idle, so p99 and
//! max are the figures that show the greedy client's effect (the window
//! has well over 1 % of its probes in the server's busy part). Each batch
//! runs `ROUNDS` times, on a fresh connection each time.

use crate::creds::Creds;
use crate::sys;
use crate::target::{Launch, Target};
use anyhow::{Context, Result};
use mioftp_proto::frame;
use serde::Serialize;
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Files in the home, so each `dir` reply has some entries.
const FILES: usize = 10;
/// Probe samples without the greedy client.
const BASELINE_SAMPLES: usize = 1000;
/// The pause between two probes.
const INTERVAL: Duration = Duration::from_millis(1);
/// The longest the probe runs beside a greedy client.
const MAX_PROBE: Duration = Duration::from_secs(20);
/// The greedy socket's queue has not grown for this long: the server is
/// done with the batch (or blocked by the full socket).
const SETTLE: Duration = Duration::from_millis(300);
/// Greedy batches per request kind.
const ROUNDS: usize = 5;

/// One row: the probe's `dir` latency beside a greedy client (or alone).
#[derive(Debug, Clone, Serialize)]
pub struct Fairness {
    /// `none` for the baseline, else the greedy client's request.
    pub greedy_op: String,
    pub greedy_requests: usize,
    /// Seconds the greedy client took to write its whole batch.
    pub greedy_write_s: f64,
    /// Seconds from the batch's start to the last growth of the greedy
    /// socket's receive queue (TCP delivers tiny segments to a reader that
    /// reads nothing slowly, so this is longer than the server's work).
    pub greedy_queue_s: f64,
    /// Bytes in the greedy socket's receive queue when the probing ended.
    pub greedy_queued_bytes: u64,
    /// Replies the greedy client found waiting when it finally read.
    pub greedy_replies: usize,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples_ms: Vec<f64>,
}

pub fn run(launch: &Launch, dir: &Path, creds: &Creds, requests: usize) -> Result<Vec<Fairness>> {
    let target = Target::start(launch, dir)?;
    creds.register(&target.addr, &target.key)?;
    let mut probe = creds.login(&target.addr, &target.key)?;
    let src = target.local.join("small.bin");
    sys::make_file(&src, 1000)?;
    for i in 0..FILES {
        let opts = mioftp_client::PutOptions { resume: false };
        probe.put(&src, &format!("f{i}"), &opts, &mut mioftp_client::NoProgress).context("uploading a small file")?;
    }
    let mut rows = Vec::new();
    let mut samples = Vec::new();
    for _ in 0..BASELINE_SAMPLES {
        samples.push(time_dir(&mut probe)?);
        std::thread::sleep(INTERVAL);
    }
    rows.push(row("none", 0, Round::default(), samples));
    for op in ["dir", "noop"] {
        let (mut all, mut sum) = (Vec::new(), Round::default());
        for _ in 0..ROUNDS {
            let (r, samples) = greedy_round(&target, creds, &mut probe, op, requests)?;
            sum.write_s += r.write_s / ROUNDS as f64;
            sum.queue_s += r.queue_s / ROUNDS as f64;
            sum.queued += r.queued / ROUNDS as u64;
            sum.replies += r.replies / ROUNDS;
            all.extend(samples);
        }
        rows.push(row(op, requests, sum, all));
    }
    drop(probe);
    target.stop();
    Ok(rows)
}

/// What one greedy batch did (or the mean of several).
#[derive(Debug, Clone, Default)]
struct Round {
    write_s: f64,
    queue_s: f64,
    queued: u64,
    replies: usize,
}

/// One greedy connection pipelining `requests` of `op` while the probe
/// measures; returns what the batch did, and the probe samples.
fn greedy_round(
    target: &Target,
    creds: &Creds,
    probe: &mut mioftp_client::Client,
    op: &str,
    requests: usize,
) -> Result<(Round, Vec<f64>)> {
    let greedy = creds.login(&target.addr, &target.key)?;
    let mut stream = greedy.conn.stream().try_clone()?;
    stream.set_write_timeout(Some(MAX_PROBE * 2))?;
    let batch: Vec<u8> =
        (0..requests).flat_map(|_| frame::encode_to_vec(&json!({"op": op})).expect("a request encodes")).collect();
    let (mut round, samples) = std::thread::scope(|s| -> Result<_> {
        let writer = s.spawn(|| {
            let t = Instant::now();
            stream.write_all(&batch).map(|()| t.elapsed().as_secs_f64())
        });
        let start = Instant::now();
        let (mut queued, mut grew_at) = (0, start);
        let mut samples = Vec::new();
        while start.elapsed() < MAX_PROBE {
            let now_queued = rustix::io::ioctl_fionread(greedy.conn.stream()).unwrap_or(0);
            if now_queued != queued {
                (queued, grew_at) = (now_queued, Instant::now());
            } else if writer.is_finished() && grew_at.elapsed() >= SETTLE {
                break;
            }
            samples.push(time_dir(probe)?);
            std::thread::sleep(INTERVAL);
        }
        let write_s = writer.join().map_err(|_| anyhow::anyhow!("the greedy writer panicked"))??;
        let queue_s = grew_at.duration_since(start).as_secs_f64();
        Ok((Round { write_s, queue_s, queued, replies: 0 }, samples))
    })?;
    round.replies = count_replies(greedy.conn.stream(), requests)?;
    Ok((round, samples))
}

fn row(op: &str, requests: usize, r: Round, in_order: Vec<f64>) -> Fairness {
    let mut sorted = in_order.clone();
    sorted.sort_by(f64::total_cmp);
    let fig = Fairness {
        greedy_op: op.into(),
        greedy_requests: requests,
        greedy_write_s: r.write_s,
        greedy_queue_s: r.queue_s,
        greedy_queued_bytes: r.queued,
        greedy_replies: r.replies,
        samples: sorted.len(),
        p50_ms: sys::percentile(&sorted, 50.0),
        p99_ms: sys::percentile(&sorted, 99.0),
        max_ms: sorted.last().copied().unwrap_or(0.0),
        samples_ms: in_order,
    };
    eprintln!(
        "  beside {requests} pipelined {op}: dir p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples; batch written in {:.2} s, its socket's queue grew for {:.2} s to {} bytes, {} replies in the end)",
        fig.p50_ms, fig.p99_ms, fig.max_ms, fig.samples, r.write_s, r.queue_s, r.queued, r.replies
    );
    fig
}

/// Reads the greedy client's replies until all `want` came (or 20 s).
fn count_replies(stream: &std::net::TcpStream, want: usize) -> Result<usize> {
    let mut s = stream.try_clone()?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let mut count = 0;
    while count < want {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Ok(Some(used)) = frame::check(&buf[at..]) {
            // A dir reply may come in several frames; the last has "more": false.
            let (f, _) = frame::decode(&buf[at..]).ok().flatten().context("a frame that checks decodes")?;
            if f.header.get("more").and_then(|m| m.as_bool()) != Some(true) {
                count += 1;
            }
            at += used;
        }
        buf.drain(..at);
    }
    Ok(count)
}

fn time_dir(probe: &mut mioftp_client::Client) -> Result<f64> {
    let t = Instant::now();
    probe.dir(None).context("dir")?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}
