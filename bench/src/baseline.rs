//! Baselines measured in the same run as the transfers they judge, on the same
//! bytes and the same filesystem, with two plain blocking threads and no
//! protocol at all:
//!
//! - **copy**: the sender reads the file and writes it to a loopback socket;
//!   the receiver reads and discards. The ceiling of any transfer here.
//! - **copy+sha256+write**: the least work the mioftp protocol itself asks
//!   for. The sender reads, hashes and sends (the client hashes what it
//!   uploads; the server hashes what it serves); the receiver receives,
//!   hashes, writes the bytes to a file on the same filesystem and fsyncs it
//!   (nothing is acknowledged before it is durable).
//!
//! - **pipe** (copy + SHA-256 + write + fsync), for issue 12's `binary`
//!   scenario: exactly that pipeline, with one SHA-256. The sender reads
//!   and sends; the receiver receives, hashes, writes and, at the end,
//!   fsyncs, one step after the other on one thread. The digest is checked
//!   against the source's, computed beforehand and outside the timing.
//!   It runs as a process of its own (`mioftp-bench pipe SRC DST SHA256`,
//!   [`pipe_main`]), timed from spawn to exit exactly as the `mioftp`
//!   binary is: the same clock, the same process start-up, the same memory
//!   preparation before each run.
//!
//! All use 256 KiB buffers, like the client and the server.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

const BUF: usize = 256 * 1024;

/// Which baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Copy,
    Full,
    Pipe,
}

/// Sends `src` over loopback and returns the seconds from connect to the
/// receiver's last byte (and, for [`Kind::Full`], its fsync). `dst` is the
/// receiver's output file for [`Kind::Full`]; it is removed afterwards.
pub fn run(kind: Kind, src: &Path, dst: &Path) -> Result<f64> {
    let (secs, _) = run_keep(kind, src, dst)?;
    if kind != Kind::Copy {
        std::fs::remove_file(dst)?;
    }
    Ok(secs)
}

/// `mioftp-bench pipe SRC DST SHA256`: the pipe baseline as its own
/// process. The output file is left for the caller to remove, outside the
/// timing.
pub fn pipe_main(src: &Path, dst: &Path, sha256: &str) -> Result<()> {
    let (secs, got) = run_keep(Kind::Pipe, src, dst)?;
    anyhow::ensure!(hex::encode(got).eq_ignore_ascii_case(sha256), "pipe baseline: the digest does not match");
    println!("{secs:.6}");
    Ok(())
}

/// [`run`], leaving `dst` in place; also returns the receiver's digest.
fn run_keep(kind: Kind, src: &Path, dst: &Path) -> Result<(f64, [u8; 32])> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sender_hashes = kind == Kind::Full;
    let writing = kind != Kind::Copy;
    let src_owned = src.to_owned();
    let started = Instant::now();
    let sender = std::thread::spawn(move || -> Result<[u8; 32]> {
        let mut file = File::open(&src_owned).with_context(|| format!("opening {}", src_owned.display()))?;
        let mut sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; BUF];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if sender_hashes {
                hasher.update(&buf[..n]);
            }
            sock.write_all(&buf[..n])?;
        }
        Ok(hasher.finalize().into())
    });
    let (mut sock, _) = listener.accept()?;
    let mut out =
        if writing { Some(File::create(dst).with_context(|| format!("creating {}", dst.display()))?) } else { None };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(f) = out.as_mut() {
            hasher.update(&buf[..n]);
            f.write_all(&buf[..n])?;
        }
    }
    if let Some(f) = out.take() {
        f.sync_all()?;
    }
    let secs = started.elapsed().as_secs_f64();
    let sent = sender.join().map_err(|_| anyhow::anyhow!("baseline sender panicked"))??;
    let got: [u8; 32] = hasher.finalize().into();
    if sender_hashes {
        anyhow::ensure!(got == sent, "baseline digests differ");
    }
    Ok((secs, got))
}
