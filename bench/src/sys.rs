//! What the benchmark reads off the machine and the server process: RSS and
//! CPU time from `/proc`, the CPU model, the load average, a filesystem's
//! type; and the few things it does to itself (raise RLIMIT_NOFILE) and to
//! the disk (write pseudo-random test files).

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Memory of a process as `/proc/<pid>/status` reports it, in KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    pub vm_rss_kib: u64,
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub vm_data_kib: u64,
}

/// Reads VmRSS, RssAnon, RssFile and VmData of `pid`.
pub fn memory(pid: u32) -> Result<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        vm_rss_kib: field("VmRSS:"),
        rss_anon_kib: field("RssAnon:"),
        rss_file_kib: field("RssFile:"),
        vm_data_kib: field("VmData:"),
    })
}

/// CPU seconds the live threads of `pid` have used so far: nanosecond run
/// time from `/proc/<pid>/task/*/schedstat` (falling back to
/// [`whole_cpu_seconds`] where schedstat is missing). Threads that have
/// exited are not counted: use it for the single-threaded server.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let from_schedstat = || -> Option<f64> {
        let mut ns: u64 = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        (ns > 0).then_some(ns as f64 / 1e9)
    };
    from_schedstat().or_else(|| whole_cpu_seconds(pid))
}

/// User plus system CPU seconds of `pid`, including threads that have
/// exited, from `/proc/<pid>/stat` (clock ticks: 10 ms resolution). Used for
/// this benchmark's own process, whose transfer threads end before the
/// reading.
pub fn whole_cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after its
    // closing parenthesis are plain. utime and stime are fields 14 and 15.
    let after = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// User plus system CPU seconds of this process's children that have been
/// waited for (`cutime` + `cstime` of `/proc/self/stat`; 10 ms resolution).
/// The difference around one spawned-and-waited process is that process's
/// CPU time, all its threads included.
pub fn children_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let cutime: u64 = fields.get(13)?.parse().ok()?;
    let cstime: u64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// Touches `bytes` of fresh anonymous memory, one write per page, and frees
/// it. On a VM that backs guest memory lazily (and takes freed pages back,
/// as free page reporting does), the pages a run allocates next (page cache
/// for the file it writes) are then ones the host has already backed: the
/// "warm" condition of the binary scenario.
pub fn touch_memory(bytes: u64) {
    const PAGE: usize = 4096;
    let len = usize::try_from(bytes).unwrap_or(usize::MAX);
    // Zeroed allocations this large are fresh mappings, not yet touched.
    let mut block = vec![0u8; len];
    for at in (0..len).step_by(PAGE) {
        block[at] = 1;
    }
    // The writes must happen: the block escapes to the optimiser.
    std::hint::black_box(&block);
    drop(block);
}

/// CPU time of a process between two readings (`None` without a pid).
pub struct CpuMeter {
    pid: Option<u32>,
    read: fn(u32) -> Option<f64>,
    start: Option<f64>,
}

impl CpuMeter {
    /// The server's live threads, to the nanosecond.
    pub fn start(pid: Option<u32>) -> CpuMeter {
        CpuMeter { pid, read: cpu_seconds, start: pid.and_then(cpu_seconds) }
    }

    /// This process, exited threads included.
    pub fn own() -> CpuMeter {
        let pid = std::process::id();
        CpuMeter { pid: Some(pid), read: whole_cpu_seconds, start: whole_cpu_seconds(pid) }
    }

    pub fn stop(&self) -> Option<f64> {
        Some((self.read)(self.pid?)? - self.start?)
    }
}

/// The machine, for the record.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub kernel: String,
    pub mem_total_kib: u64,
    /// The 1-minute load average when the run started and when it ended.
    pub load_start: f64,
    pub load_end: f64,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned()))
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Machine {
            cpu_model,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
            mem_total_kib,
            load_start: load_average(),
            load_end: 0.0,
        }
    }
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0.0)
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the
/// soft limit now in force.
pub fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        if limit.current.is_some_and(|soft| soft < hard) {
            limit.current = Some(hard);
            // Refused only if the hard limit changed meanwhile; the reading below tells.
            let _ = setrlimit(Resource::Nofile, limit);
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The filesystem type holding `path`, by name where known.
pub fn fs_type(path: &Path) -> String {
    let Ok(st) = rustix::fs::statfs(path) else { return "unknown".into() };
    match st.f_type as u64 {
        0x0102_1994 => "tmpfs".into(),
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x6969 => "nfs".into(),
        other => format!("0x{other:x}"),
    }
}

/// Writes `size` pseudo-random bytes to `path` (the tests' xorshift: cheap,
/// and not a pattern any layer could shortcut).
pub fn make_file(path: &Path, size: u64) -> Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut rng = mioftp_testkit::XorShift::new(size);
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        rng.fill(&mut block);
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    Ok(())
}

/// MiB per second.
pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 { bytes as f64 / (1024.0 * 1024.0) / secs } else { 0.0 }
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

/// Nearest-rank percentile (`p` in 0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(memory(pid).unwrap().vm_rss_kib > 0);
        assert!(cpu_seconds(pid).is_some());
    }
}
