//! Scenario 2: N sequential connect + key check + login, each connection kept
//! open until the end, as pyftpdlib's ftpbench does for its "300 concurrent
//! clients (connect, login)" line (which, despite its name, logs in one
//! client after another).

use crate::creds::Creds;
use crate::report::Logins;
use crate::sys::{self, CpuMeter};
use crate::target::{Launch, Target};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Instant;

pub fn run(launch: &Launch, dir: &Path, creds: &Creds, count: usize) -> Result<Logins> {
    let target = Target::start(launch, dir)?;
    creds.register(&target.addr, &target.key)?;
    // The first login pays for the client's KDF; every timed one reuses it.
    drop(creds.login(&target.addr, &target.key)?);
    let mut clients = Vec::with_capacity(count);
    let mut each = Vec::with_capacity(count);
    let cpu = CpuMeter::start(target.pid);
    let own = CpuMeter::own();
    let t0 = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        clients.push(creds.login(&target.addr, &target.key).with_context(|| format!("login {}", i + 1))?);
        each.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let total_s = t0.elapsed().as_secs_f64();
    let server_cpu = cpu.stop();
    let client_cpu = own.stop();
    drop(clients);
    target.stop();
    each.sort_by(f64::total_cmp);
    Ok(Logins {
        count,
        total_s,
        per_s: count as f64 / total_s,
        p50_ms: sys::percentile(&each, 50.0),
        p99_ms: sys::percentile(&each, 99.0),
        max_ms: each.last().copied().unwrap_or(0.0),
        server_cpu_ms_per_login: server_cpu.map(|s| s * 1000.0 / count as f64),
        client_cpu_ms_per_login: client_cpu.map(|s| s * 1000.0 / count as f64),
    })
}
