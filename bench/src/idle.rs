//! Idle authenticated connections, held by helper processes, and the idle
//! memory scenario (5).
//!
//! The client library gives each connection two descriptors (its reader and
//! writer own a clone of the socket each), so 10,000 connections need 20,000
//! descriptors: more than one process may hold under a 20,000 hard limit.
//! They are therefore spread over helper processes (this binary, run as
//! `mioftp-bench hold`), at most [`PER_HELPER`] each. A helper logs its share
//! in from several threads, prints `ready N`, and holds the connections until
//! its stdin closes. That also keeps the benchmark's own process small and out
//! of the way of the transfers it measures.

use crate::creds::{Creds, Derived};
use crate::report::MemoryLevel;
use crate::sys;
use crate::target::{Launch, Target};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Most connections one helper holds (two descriptors each).
const PER_HELPER: usize = 4000;
/// Login threads per helper.
const THREADS: usize = 8;
/// The environment variable carrying a helper's [`HoldSpec`] as JSON.
const SPEC_ENV: &str = "MIOFTP_BENCH_HOLD";

/// What a helper is told.
#[derive(Debug, Serialize, Deserialize)]
struct HoldSpec {
    addr: String,
    key_hex: String,
    user: String,
    password: String,
    derived: Vec<Derived>,
    count: usize,
}

/// Connections held open by helper processes; closed when dropped.
pub struct IdleClients {
    helpers: Vec<Child>,
    pub count: usize,
    /// Seconds from spawning the helpers to the last one being ready.
    pub open_s: f64,
}

impl IdleClients {
    /// Opens `count` authenticated connections to `target`.
    pub fn open(target: &Target, creds: &Creds, count: usize) -> Result<IdleClients> {
        let started = Instant::now();
        let mut idle = IdleClients { helpers: Vec::new(), count: 0, open_s: 0.0 };
        let exe = std::env::current_exe()?;
        let mut left = count;
        while left > 0 {
            let n = left.min(PER_HELPER);
            let spec = HoldSpec {
                addr: target.addr.clone(),
                key_hex: hex::encode(&target.key),
                user: creds.user.clone(),
                password: creds.password().to_owned(),
                derived: creds.derived(),
                count: n,
            };
            let child = Command::new(&exe)
                .arg("hold")
                .env(SPEC_ENV, serde_json::to_string(&spec)?)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting a helper process")?;
            idle.helpers.push(child);
            left -= n;
        }
        for child in &mut idle.helpers {
            let out = child.stdout.take().context("helper stdout")?;
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line)?;
            match line.trim().strip_prefix("ready ") {
                Some(n) => idle.count += n.parse::<usize>().unwrap_or(0),
                None => bail!("a helper failed to open its connections: {}", line.trim()),
            }
        }
        idle.open_s = started.elapsed().as_secs_f64();
        Ok(idle)
    }
}

impl Drop for IdleClients {
    fn drop(&mut self) {
        for child in &mut self.helpers {
            drop(child.stdin.take()); // EOF: the helper exits, closing its sockets
        }
        for child in &mut self.helpers {
            let _ = child.wait();
        }
    }
}

/// The `hold` helper: logs in its share, says `ready N`, waits for EOF.
pub fn hold_main() -> Result<()> {
    let spec: HoldSpec = serde_json::from_str(&std::env::var(SPEC_ENV).context("no hold spec")?)?;
    sys::raise_nofile();
    let key = hex::decode(&spec.key_hex)?;
    let creds = Creds::new(&spec.user, &spec.password);
    creds.preload(spec.derived.clone());
    let opened = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let share = spec.count / THREADS + usize::from(t < spec.count % THREADS);
                let (creds, key, addr) = (&creds, &key, &spec.addr);
                s.spawn(move || (0..share).map(|_| creds.login(addr, key)).collect::<Result<Vec<_>>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a login thread panicked"))))
            .collect::<Result<Vec<_>>>()
    });
    let mut stdout = std::io::stdout();
    let clients = match opened {
        Ok(c) => c,
        Err(e) => {
            writeln!(stdout, "error {e:#}")?;
            stdout.flush()?;
            std::process::exit(1);
        }
    };
    let n: usize = clients.iter().map(Vec::len).sum();
    writeln!(stdout, "ready {n}")?;
    stdout.flush()?;
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // Exiting closes every socket at once; dropping 4,000 clients one by one
    // would only be slower.
    std::process::exit(0);
}

/// Scenario 5: server RSS at each level of idle authenticated connections.
pub fn memory(launch: &Launch, dir: &Path, creds: &Creds, levels: &[usize]) -> Result<Vec<MemoryLevel>> {
    let target = Target::start(launch, dir)?;
    let Some(pid) = target.pid else { bail!("the memory scenario needs the server's pid (--server-pid)") };
    creds.register(&target.addr, &target.key)?;
    // Warm up: the first login allocates what every later one reuses.
    drop(creds.login(&target.addr, &target.key)?);
    std::thread::sleep(Duration::from_millis(300));
    let base = sys::memory(pid)?;
    let mut out = Vec::new();
    let mut held: Vec<IdleClients> = Vec::new();
    let mut open = 0;
    let mut levels: Vec<usize> = levels.to_vec();
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        let mut open_s = 0.0;
        if level > open {
            let idle = IdleClients::open(&target, creds, level - open)?;
            open_s = idle.open_s;
            open += idle.count;
            held.push(idle);
            // Let the server finish answering the last logins.
            std::thread::sleep(Duration::from_millis(500));
        }
        let memory = if level == 0 { base } else { sys::memory(pid)? };
        let growth = |now: u64, then: u64| (level > 0).then(|| (now as f64 - then as f64) * 1024.0 / level as f64);
        eprintln!("  {level} idle connections: VmRSS {} KiB", memory.vm_rss_kib);
        out.push(MemoryLevel {
            connections: level,
            open_s,
            memory,
            rss_growth_per_conn_bytes: growth(memory.vm_rss_kib, base.vm_rss_kib),
            anon_growth_per_conn_bytes: growth(memory.rss_anon_kib, base.rss_anon_kib),
        });
    }
    drop(held);
    target.stop();
    Ok(out)
}
