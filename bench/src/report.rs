//! Every figure of a run (what `--json` writes), and the table on stdout.
//!
//! Units: throughput in MiB/s (2^20 bytes per second), as pyftpdlib's
//! ftpbench computes it despite labelling it "MB/sec"; JSON also carries
//! decimal MB/s where a comparison with published figures needs it.

use crate::sys::{self, Machine, Memory};
use serde::Serialize;
use std::fmt::Write as _;

/// One filesystem's baselines (see `baseline.rs`), one entry per repetition.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub fs: String,
    pub fs_type: String,
    pub size_bytes: u64,
    pub copy_mib_s: Vec<f64>,
    pub full_mib_s: Vec<f64>,
    pub copy_median_mib_s: f64,
    pub full_median_mib_s: f64,
    /// CPU seconds (both threads) per repetition.
    pub copy_cpu_s: Vec<f64>,
    pub full_cpu_s: Vec<f64>,
}

/// A single PUT or GET on one connection (scenarios 1 and 3).
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    /// "single" (scenario 1) or "idle" (scenario 3: beside idle clients).
    pub scenario: String,
    pub fs: String,
    pub fs_type: String,
    pub direction: String,
    pub size_bytes: u64,
    pub idle_clients: usize,
    pub mib_s: Vec<f64>,
    pub median_mib_s: f64,
    pub median_mb_s: f64,
    /// Server CPU seconds (user + system) per repetition.
    pub server_cpu_s: Vec<f64>,
    /// This benchmark's own CPU seconds (the client side) per repetition.
    pub client_cpu_s: Vec<f64>,
    /// Bytes the server moves per CPU-second: its own ceiling, whatever the client costs.
    pub server_mib_per_cpu_s: Option<f64>,
    pub ratio_copy: Option<f64>,
    pub ratio_full: Option<f64>,
}

/// N sequential connect + key check + login (scenario 2).
#[derive(Debug, Clone, Serialize)]
pub struct Logins {
    pub count: usize,
    pub total_s: f64,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub server_cpu_ms_per_login: Option<f64>,
    pub client_cpu_ms_per_login: Option<f64>,
}

/// N concurrent transfers of one file each (scenario 4).
#[derive(Debug, Clone, Serialize)]
pub struct Concurrent {
    pub direction: String,
    pub clients: usize,
    pub size_bytes: u64,
    pub total_s: f64,
    pub aggregate_mib_s: f64,
    pub per_transfer_p50_s: f64,
    pub per_transfer_max_s: f64,
    pub failures: usize,
    /// Server CPU seconds over the whole batch (logins, transfers, clean-up).
    pub server_cpu_s: Option<f64>,
    /// This benchmark's own CPU seconds over the whole batch (the client threads).
    pub client_cpu_s: Option<f64>,
    pub ratio_copy: Option<f64>,
    pub ratio_full: Option<f64>,
}

/// Server memory with some idle authenticated connections (scenario 5).
#[derive(Debug, Clone, Serialize)]
pub struct MemoryLevel {
    pub connections: usize,
    /// Seconds it took to open the connections added at this level.
    pub open_s: f64,
    pub memory: Memory,
    /// (RSS here - RSS at 0) / connections, in bytes.
    pub rss_growth_per_conn_bytes: Option<f64>,
    pub anon_growth_per_conn_bytes: Option<f64>,
}

/// `dir` latency from one client while transfers run (scenario 6).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub transfers: usize,
    pub size_bytes: u64,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub load_total_s: f64,
    pub load_aggregate_mib_s: f64,
    pub failures: usize,
    /// Every probe, in milliseconds, in the order taken (shows where the tail falls).
    pub samples_ms: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub tool: String,
    pub unix_time: u64,
    /// The server binary started, and the commit of the tree it was built from (best effort).
    pub server_bin: Option<String>,
    pub git_commit: Option<String>,
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub baselines: Vec<Baseline>,
    pub transfers: Vec<Transfer>,
    pub logins: Option<Logins>,
    pub concurrent: Vec<Concurrent>,
    pub memory: Vec<MemoryLevel>,
    pub latency: Vec<Latency>,
    /// `dir` latency beside a client pipelining requests (scenario 7).
    pub fairness: Vec<crate::greedy::Fairness>,
    /// Issue 12: PUT and GET through the `mioftp` binary.
    pub binary: Vec<crate::binary::Figures>,
    /// Issue 12: the disk churn scenario.
    pub churn: Option<crate::churn::Figures>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn baseline(&self, fs: &str) -> Option<&Baseline> {
        self.baselines.iter().find(|b| b.fs == fs)
    }
}

/// Ratio of a figure to a baseline, when both exist.
pub fn ratio(value: f64, base: Option<f64>) -> Option<f64> {
    base.filter(|b| *b > 0.0).map(|b| value / b)
}

/// The figures as an aligned table.
pub fn table(r: &Results) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    let num = |v: f64| if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") };
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"));
    for b in &r.baselines {
        rows.push([
            format!("baseline copy ({})", b.fs),
            num(b.copy_median_mib_s),
            "MiB/s".into(),
            "1.00x".into(),
            "-".into(),
            String::new(),
        ]);
        rows.push([
            format!("baseline copy+sha256+write ({})", b.fs),
            num(b.full_median_mib_s),
            "MiB/s".into(),
            opt(ratio(b.full_median_mib_s, Some(b.copy_median_mib_s))),
            "1.00x".into(),
            String::new(),
        ]);
        let gib = b.size_bytes as f64 / (1u64 << 30) as f64;
        rows.push([
            "  CPU per GiB: copy / full (both threads)".into(),
            format!("{:.2} / {:.2}", sys::median(&b.copy_cpu_s) / gib, sys::median(&b.full_cpu_s) / gib),
            "CPU-s/GiB".into(),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
    }
    for t in &r.transfers {
        let what = if t.scenario == "idle" {
            format!("{} {} beside {} idle ({})", t.direction.to_uppercase(), size(t.size_bytes), t.idle_clients, t.fs)
        } else {
            format!("{} {} ({})", t.direction.to_uppercase(), size(t.size_bytes), t.fs)
        };
        let target = if t.scenario == "single" && t.fs == "tmpfs" {
            verdict(t.ratio_full.map(|x| x >= 0.8), ">=0.8x full")
        } else {
            String::new()
        };
        rows.push([what, num(t.median_mib_s), "MiB/s".into(), opt(t.ratio_copy), opt(t.ratio_full), target]);
        let gib = t.size_bytes as f64 / (1u64 << 30) as f64;
        let (server, client) = (sys::median(&t.server_cpu_s), sys::median(&t.client_cpu_s));
        if server > 0.0 || client > 0.0 {
            rows.push([
                "  CPU per GiB: server + client".into(),
                format!("{:.2} + {:.2}", server / gib, client / gib),
                "CPU-s/GiB".into(),
                "-".into(),
                "-".into(),
                String::new(),
            ]);
        }
    }
    if let Some(l) = &r.logins {
        let target = verdict(Some(l.per_s >= 1500.0), "<=0.2 s per 300");
        rows.push([
            format!("{} logins, sequential: total", l.count),
            format!("{:.3}", l.total_s),
            "s".into(),
            "-".into(),
            "-".into(),
            target,
        ]);
        rows.push([
            format!("{} logins: rate", l.count),
            num(l.per_s),
            "logins/s".into(),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
        rows.push([
            "  per login p50 / p99".into(),
            format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms),
            "ms".into(),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
        if let Some(c) = l.server_cpu_ms_per_login {
            rows.push([
                "  server CPU per login".into(),
                format!("{c:.3}"),
                "ms".into(),
                "-".into(),
                "-".into(),
                String::new(),
            ]);
        }
    }
    for c in &r.concurrent {
        rows.push([
            format!("{} x {} {} concurrent", c.clients, c.direction.to_uppercase(), size(c.size_bytes)),
            num(c.aggregate_mib_s),
            "MiB/s".into(),
            opt(c.ratio_copy),
            opt(c.ratio_full),
            format!(
                "{:.2} s; CPU s server {} client {}{}",
                c.total_s,
                c.server_cpu_s.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}")),
                c.client_cpu_s.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}")),
                if c.failures > 0 { format!(", {} FAILED", c.failures) } else { String::new() }
            ),
        ]);
    }
    let top = r.memory.iter().map(|m| m.connections).max();
    for m in &r.memory {
        let target = if Some(m.connections) == top && m.connections >= 10_000 {
            verdict(m.rss_growth_per_conn_bytes.map(|b| b <= 8192.0), "<=8 KiB/conn")
        } else {
            String::new()
        };
        rows.push([
            format!("server RSS, {} idle authed conns", m.connections),
            format!("{}", m.memory.vm_rss_kib),
            "KiB".into(),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
        if let Some(g) = m.rss_growth_per_conn_bytes {
            rows.push([
                "  growth per connection".into(),
                format!("{g:.0}"),
                "bytes".into(),
                "-".into(),
                "-".into(),
                target,
            ]);
        }
    }
    for l in &r.latency {
        let target = if l.transfers == 50 { verdict(Some(l.p99_ms <= 5.0), "p99 <=5 ms") } else { String::new() };
        rows.push([
            format!("dir latency, {} x {} transfers", l.transfers, size(l.size_bytes)),
            format!("{:.2} / {:.2} / {:.2}", l.p50_ms, l.p99_ms, l.max_ms),
            "ms p50/p99/max".into(),
            "-".into(),
            "-".into(),
            target,
        ]);
    }
    for f in &r.fairness {
        let (what, target) = match f.greedy_op.as_str() {
            "none" => ("dir latency, alone".to_owned(), String::new()),
            op => (
                format!("dir latency beside {} pipelined {op}", f.greedy_requests),
                verdict(Some(f.p99_ms <= 2.0), "p99 <=2 ms"),
            ),
        };
        rows.push([
            what,
            format!("{:.2} / {:.2} / {:.2}", f.p50_ms, f.p99_ms, f.max_ms),
            "ms p50/p99/max".into(),
            "-".into(),
            "-".into(),
            target,
        ]);
    }
    let head = ["figure", "value", "unit", "x copy", "x full", "target"];
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 6]| {
        let _ = writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:<w2$}  {:>w3$}  {:>w4$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4]
        );
    };
    line(&mut out, head);
    for row in &rows {
        line(&mut out, [&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    out
}

fn verdict(met: Option<bool>, target: &str) -> String {
    match met {
        Some(true) => format!("{target}: met"),
        Some(false) => format!("{target}: NOT met"),
        None => format!("{target}: n/a"),
    }
}

/// A byte count in binary units (the protocol crate's formatter).
pub use mioftp_proto::human_size as size;
