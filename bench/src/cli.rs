//! Flags, and the settings they resolve to (`--quick` changes the defaults;
//! a flag given explicitly always wins).

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;

/// mioftp-bench: measures mioftpd like pyftpdlib's ftpbench, plus memory and
/// latency, with same-run baselines.
///
/// By default it starts its own release `mioftpd` (built by cargo when run
/// through `cargo run`) on a fresh temporary data root for each scenario.
/// Scenarios: put, get (one large transfer, tmpfs and disk roots), logins
/// (N sequential logins), idle (PUT and GET beside N idle clients),
/// concurrent (N simultaneous GETs, then PUTs), memory (server RSS with idle
/// connections), latency (dir latency under transfer load), fairness (dir
/// latency beside a client pipelining requests without reading). Only when
/// named with --only: binary (PUT and GET through the real `mioftp` binary,
/// warm and cold), churn (dir latency and the server's longest loop turn
/// while another user removes 1 GiB files and commits uploads).
#[derive(Debug, Parser)]
#[command(name = "mioftp-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    #[command(flatten)]
    pub args: Args,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// (internal) hold idle connections for the parent benchmark.
    #[command(hide = true)]
    Hold,
    /// (internal) the copy+SHA-256+write+fsync baseline as its own process.
    #[command(hide = true)]
    Pipe { src: PathBuf, dst: PathBuf, sha256: String },
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Small sizes and counts: finishes in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Scenarios to run, comma-separated: put,get,logins,idle,concurrent,memory,latency,fairness,binary,churn
    /// [default: all but binary and churn].
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Data roots for put/get, comma-separated: tmpfs, disk.
    #[arg(long, value_delimiter = ',', default_value = "tmpfs,disk")]
    pub fs: Vec<String>,
    /// Folder on tmpfs for scratch data roots.
    #[arg(long, default_value = "/dev/shm")]
    pub tmpfs_dir: PathBuf,
    /// Folder on disk for scratch data roots [default: the cargo target folder].
    #[arg(long)]
    pub disk_dir: Option<PathBuf>,
    /// File size for put/get and idle [default: 1GiB; quick: 64MiB].
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// Repetitions of each single transfer and baseline; medians are reported [default: 3; quick: 1].
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Sequential logins [default: 300].
    #[arg(long)]
    pub logins: Option<usize>,
    /// Idle authenticated clients beside the single transfers [default: 300; quick: 100].
    #[arg(long)]
    pub idle_clients: Option<usize>,
    /// Concurrency levels for the concurrent scenario [default: 1,10,100,300; quick: 1,10,50].
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Directions for the concurrent scenario, in order: get, put.
    #[arg(long, value_delimiter = ',', default_value = "get,put")]
    pub concurrent_dirs: Vec<String>,
    /// File size for the concurrent scenario [default: 10MiB].
    #[arg(long, value_parser = parse_size)]
    pub concurrent_size: Option<u64>,
    /// Idle connection counts for the memory scenario [default: 0,1000,10000; quick: 0,1000].
    #[arg(long, value_delimiter = ',')]
    pub memory_levels: Vec<usize>,
    /// Concurrent transfers under which dir latency is measured [default: 0,10,50; quick: 0,10].
    #[arg(long, value_delimiter = ',')]
    pub load: Vec<usize>,
    /// File size of each load transfer [default: 100MiB; quick: 16MiB].
    #[arg(long, value_parser = parse_size)]
    pub load_size: Option<u64>,
    /// Requests the greedy client pipelines in the fairness scenario.
    #[arg(long, default_value_t = 10_000)]
    pub greedy_requests: usize,
    /// Pause between two dir probes, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub probe_interval_ms: u64,
    /// Benchmark a running server at this address instead of starting one.
    #[arg(long, requires = "key_file")]
    pub addr: Option<String>,
    /// The running server's key file (with --addr).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The running server's pid, for RSS and CPU figures (with --addr).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The mioftpd binary to start [default: target/release/mioftpd].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Run the started server under this command, split on spaces
    /// (e.g. "strace -f -c -o /tmp/put.strace" or "valgrind --tool=callgrind").
    #[arg(long)]
    pub server_wrapper: Option<String>,
    /// Extra flag for the started server (repeatable), e.g. --server-arg=--min-iterations=4096.
    #[arg(long)]
    pub server_arg: Vec<String>,
    /// binary: a client binary to race, LABEL=PATH or PATH (repeatable)
    /// [default: target/release/mioftp, labelled "new"].
    #[arg(long)]
    pub client_bin: Vec<String>,
    /// binary: data roots, comma-separated: disk (ext4 or whatever --disk-dir is on), tmpfs.
    #[arg(long, value_delimiter = ',', default_value = "disk")]
    pub binary_fs: Vec<String>,
    /// binary: file size [default: 1GiB; quick: 64MiB].
    #[arg(long, value_parser = parse_size)]
    pub binary_size: Option<u64>,
    /// binary: memory conditions, in order: warm (touch 2x the size of fresh
    /// memory right before each run), cold (pause before each run).
    #[arg(long, value_delimiter = ',', default_value = "warm,cold")]
    pub memory: Vec<String>,
    /// binary: seconds to pause before each cold run [default: 6; quick: 3].
    #[arg(long)]
    pub cold_pause_s: Option<u64>,
    /// churn: concurrent load transfers (half GETs, half PUTs).
    #[arg(long, default_value_t = 50)]
    pub churn_transfers: usize,
    /// churn: size of each load transfer [default: 100MiB; quick: 16MiB].
    #[arg(long, value_parser = parse_size)]
    pub churn_size: Option<u64>,
    /// churn: large files the second user removes [default: 6; quick: 2].
    #[arg(long)]
    pub churn_files: Option<usize>,
    /// churn: size of each removed file [default: 1GiB; quick: 64MiB].
    #[arg(long, value_parser = parse_size)]
    pub churn_file_size: Option<u64>,
    /// churn: size of each upload the second user commits.
    #[arg(long, value_parser = parse_size, default_value = "4MiB")]
    pub churn_upload_size: u64,
    /// churn: pause between two turns of the second user's loop, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub churn_pause_ms: u64,
    /// Account the benchmark registers and logs in as.
    #[arg(long, default_value = "bench")]
    pub user: String,
    /// Its password (with --addr, an existing account's).
    #[arg(long, env = "MIOFTP_BENCH_PASSWORD", default_value = "mioftp-bench password", hide_env_values = true)]
    pub password: String,
    /// Write every figure as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw throughput and latency against concurrency to FILE.png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

pub const SCENARIOS: [&str; 10] =
    ["put", "get", "logins", "idle", "concurrent", "memory", "latency", "fairness", "binary", "churn"];
/// Scenarios run when `--only` is not given: the heavy disk ones need naming.
const DEFAULT_SCENARIOS: usize = 8;

/// The resolved settings, also written to the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub quick: bool,
    pub scenarios: Vec<String>,
    pub fs: Vec<String>,
    pub tmpfs_dir: PathBuf,
    pub disk_dir: PathBuf,
    pub size: u64,
    pub repeat: usize,
    pub logins: usize,
    pub idle_clients: usize,
    pub clients: Vec<usize>,
    pub concurrent_size: u64,
    pub concurrent_dirs: Vec<String>,
    pub memory_levels: Vec<usize>,
    pub load: Vec<usize>,
    pub load_size: u64,
    pub probe_interval_ms: u64,
    pub greedy_requests: usize,
    pub external: Option<String>,
    pub server_wrapper: Option<String>,
    pub server_args: Vec<String>,
    pub binary_fs: Vec<String>,
    pub binary_size: u64,
    pub memory: Vec<String>,
    pub cold_pause_s: u64,
    pub churn: ChurnSettings,
}

/// The churn scenario's settings.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnSettings {
    pub transfers: usize,
    pub size: u64,
    pub files: usize,
    pub file_size: u64,
    pub upload_size: u64,
    pub pause_ms: u64,
    pub probe_interval_ms: u64,
}

impl Settings {
    pub fn resolve(a: &Args, default_disk: PathBuf) -> Result<Settings> {
        let q = a.quick;
        let list = |given: &[usize], full: &[usize], quick: &[usize]| {
            if !given.is_empty() {
                given.to_vec()
            } else if q {
                quick.to_vec()
            } else {
                full.to_vec()
            }
        };
        let scenarios: Vec<String> = if a.only.is_empty() {
            SCENARIOS[..DEFAULT_SCENARIOS].iter().map(|s| s.to_string()).collect()
        } else {
            a.only.clone()
        };
        for s in &scenarios {
            if !SCENARIOS.contains(&s.as_str()) {
                bail!("unknown scenario {s:?} (known: {})", SCENARIOS.join(","));
            }
        }
        for d in &a.concurrent_dirs {
            if d != "get" && d != "put" {
                bail!("unknown --concurrent-dirs {d:?} (get or put)");
            }
        }
        for m in &a.memory {
            if m != "warm" && m != "cold" {
                bail!("unknown --memory {m:?} (warm or cold)");
            }
        }
        for f in a.fs.iter().chain(&a.binary_fs) {
            if f != "tmpfs" && f != "disk" {
                bail!("unknown --fs {f:?} (tmpfs or disk)");
            }
        }
        Ok(Settings {
            quick: q,
            scenarios,
            fs: a.fs.clone(),
            tmpfs_dir: a.tmpfs_dir.clone(),
            disk_dir: a.disk_dir.clone().unwrap_or(default_disk),
            size: a.size.unwrap_or(if q { 64 << 20 } else { 1 << 30 }),
            repeat: a.repeat.unwrap_or(if q { 1 } else { 3 }).max(1),
            logins: a.logins.unwrap_or(300),
            idle_clients: a.idle_clients.unwrap_or(if q { 100 } else { 300 }),
            clients: list(&a.clients, &[1, 10, 100, 300], &[1, 10, 50]),
            concurrent_size: a.concurrent_size.unwrap_or(10 << 20),
            concurrent_dirs: a.concurrent_dirs.clone(),
            memory_levels: list(&a.memory_levels, &[0, 1000, 10_000], &[0, 1000]),
            load: list(&a.load, &[0, 10, 50], &[0, 10]),
            load_size: a.load_size.unwrap_or(if q { 16 << 20 } else { 100 << 20 }),
            probe_interval_ms: a.probe_interval_ms,
            greedy_requests: a.greedy_requests,
            external: a.addr.clone(),
            server_wrapper: a.server_wrapper.clone(),
            server_args: a.server_arg.clone(),
            binary_fs: a.binary_fs.clone(),
            binary_size: a.binary_size.unwrap_or(if q { 64 << 20 } else { 1 << 30 }),
            memory: a.memory.clone(),
            cold_pause_s: a.cold_pause_s.unwrap_or(if q { 3 } else { 6 }),
            churn: ChurnSettings {
                transfers: a.churn_transfers,
                size: a.churn_size.unwrap_or(if q { 16 << 20 } else { 100 << 20 }),
                files: a.churn_files.unwrap_or(if q { 2 } else { 6 }),
                file_size: a.churn_file_size.unwrap_or(if q { 64 << 20 } else { 1 << 30 }),
                upload_size: a.churn_upload_size,
                pause_ms: a.churn_pause_ms,
                probe_interval_ms: a.probe_interval_ms,
            },
        })
    }

    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }
}

/// A size: a number with an optional binary suffix (K, M, G, KiB, MiB, GiB;
/// KB, MB and GB are taken as binary too, like ftpbench's `-s 10M`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{text:?} is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown unit (use K, M, G)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1.5G").is_err());
    }

    #[test]
    fn flags_parse() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
