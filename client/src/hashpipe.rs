//! Moving a transfer's body through three threads: one reads, one hashes,
//! one writes. `get` uses it (socket, SHA-256, partial file); `put` does not,
//! since an upload is bound by the server, not the client (see `upload.rs`).
//!
//! A transfer does three things to every byte: read it (from the socket or
//! the local file), SHA-256 it, and pass it on (to the file or the socket).
//! On one thread these add up. Here they form a pipeline: the caller's
//! thread fills a buffer and hands it to a hasher thread, which hands it to
//! a sink thread, which hands it back to the caller to fill again. Each
//! stage works on a different buffer at the same time, so a transfer takes
//! about as long as its slowest stage instead of the sum of all three (on
//! this project's 2-core test machine, writing a downloaded file into the
//! page cache costs more than hashing it; docs/BENCHMARKS.md, issue 12).
//!
//! Bounded: at most [`DEPTH`] buffers of [`CHUNK`] bytes exist per transfer,
//! recycled in turn, and each buffer belongs to exactly one stage at a time
//! (it moves; nothing is shared). Order is kept: every stage takes buffers
//! first in, first out. The digest covers exactly the bytes read, in order;
//! the caller keeps its resume and verification rules unchanged (it passes
//! in a hasher that has already taken any kept prefix, and gets it back).

use crate::digest::CHUNK;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};

/// Buffers per transfer: one per stage and one spare, so no stage waits
/// for another over a short stall, and memory stays at 1 MiB.
pub const DEPTH: usize = 4;

/// A filled buffer and how many of its bytes count.
type Chunk = (Vec<u8>, usize);

/// Why [`stream`] stopped before `size` bytes.
#[derive(Debug)]
pub enum Stop<E> {
    /// The source ended (`Ok(0)`) after `done` bytes.
    Short { done: u64 },
    /// Reading the source failed (after `Interrupted` was retried).
    Fill(io::Error),
    /// The sink refused a chunk.
    Sink(E),
    /// A pipeline thread could not be started (nothing was read).
    Spawn(io::Error),
}

/// Moves exactly `size` bytes from `fill` to `sink` in chunks of at most
/// [`CHUNK`] bytes, adding them to `hasher` on the way.
///
/// `fill` runs on the caller's thread and reads into the slice it is given,
/// returning how many bytes it read. `sink` runs on its own thread and takes
/// each chunk once, in order; `done` runs on the caller's thread with the
/// size of each chunk the sink has taken (for progress). On any stop, every
/// chunk read before it has been offered to the sink (so a download's
/// partial holds all that arrived) unless the sink itself failed.
pub fn stream<E: Send>(
    size: u64,
    hasher: &mut Sha256,
    mut fill: impl FnMut(&mut [u8]) -> io::Result<usize>,
    mut sink: impl FnMut(&[u8]) -> Result<(), E> + Send,
    mut done: impl FnMut(u64),
) -> Result<(), Stop<E>> {
    if size == 0 {
        return Ok(());
    }
    let (to_hasher, hasher_in) = mpsc::sync_channel::<Chunk>(DEPTH);
    let (to_sink, sink_in) = mpsc::sync_channel::<Chunk>(DEPTH);
    let (to_mover, returned) = mpsc::sync_channel::<Chunk>(DEPTH);
    let mut digest = hasher.clone();
    std::thread::scope(|scope| {
        let hash_stage = move || {
            for (buf, n) in hasher_in {
                digest.update(&buf[..n]);
                // The sink has stopped (it failed): stop hashing too.
                if to_sink.send((buf, n)).is_err() {
                    break;
                }
            }
            digest
        };
        let sink_stage = move || -> Result<(), E> {
            for (buf, n) in sink_in {
                sink(&buf[..n])?;
                // The mover has stopped taking buffers back: free it.
                let _ = to_mover.send((buf, n));
            }
            Ok(())
        };
        let named = |name: &str| std::thread::Builder::new().name(name.into());
        let hashing = named("mioftp-hash").spawn_scoped(scope, hash_stage).map_err(Stop::Spawn)?;
        let sinking = named("mioftp-sink").spawn_scoped(scope, sink_stage).map_err(Stop::Spawn)?;
        let moved = fill_all(size, &to_hasher, &returned, &mut fill, &mut done);
        // Closing the first channel lets each stage finish the chunks it
        // has and end; what the sink finishes is still counted as done.
        drop(to_hasher);
        for (_, n) in returned.iter() {
            done(n as u64);
        }
        let hashed = hashing.join();
        let sunk = sinking.join();
        *hasher = hashed.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        sunk.unwrap_or_else(|panic| std::panic::resume_unwind(panic)).map_err(Stop::Sink)?;
        moved
    })
}

/// The caller's stage: take a free buffer, fill it, pass it on.
fn fill_all<E>(
    size: u64,
    to_hasher: &SyncSender<Chunk>,
    returned: &Receiver<Chunk>,
    fill: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
    done: &mut impl FnMut(u64),
) -> Result<(), Stop<E>> {
    let mut made = 0;
    let mut left = size;
    while left > 0 {
        // A buffer back from the sink, else a new one while fewer than
        // DEPTH exist, else wait for the sink to finish the oldest.
        let back = match returned.try_recv() {
            Ok(chunk) => Some(chunk),
            Err(_) if made < DEPTH => None,
            // The sink stage has ended early (it failed): stop; the caller
            // collects its error.
            Err(_) => match returned.recv() {
                Ok(chunk) => Some(chunk),
                Err(_) => return Ok(()),
            },
        };
        let mut buf = match back {
            Some((buf, n)) => {
                done(n as u64);
                buf
            }
            None => {
                made += 1;
                vec![0u8; CHUNK]
            }
        };
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = loop {
            match fill(&mut buf[..want]) {
                Ok(0) => return Err(Stop::Short { done: size - left }),
                Ok(n) => break n.min(want),
                // EINTR: a signal arrived before anything was read; retry.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Stop::Fill(e)),
            }
        };
        // The hasher is gone only if it panicked; join() reports that.
        if to_hasher.send((buf, n)).is_err() {
            return Ok(());
        }
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn data(len: usize) -> Vec<u8> {
        (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
    }

    /// A source that hands out at most `step` bytes per read, and notes the
    /// buffers it was given.
    fn source<'a>(
        src: &'a [u8],
        step: usize,
        seen: &'a mut HashSet<usize>,
    ) -> impl FnMut(&mut [u8]) -> io::Result<usize> + 'a {
        let mut at = 0;
        move |buf: &mut [u8]| {
            seen.insert(buf.as_ptr() as usize);
            let n = buf.len().min(step).min(src.len() - at);
            buf[..n].copy_from_slice(&src[at..at + n]);
            at += n;
            Ok(n)
        }
    }

    #[test]
    fn the_sink_gets_every_byte_in_order_and_the_digest_covers_them() {
        let src = data(5 * CHUNK + 12_345);
        for step in [1000, 77_777, CHUNK, 7 * CHUNK] {
            let (mut seen, mut out, mut counted) = (HashSet::new(), Vec::new(), 0);
            let mut h = Sha256::new();
            let sink = |c: &[u8]| {
                out.extend_from_slice(c);
                Ok::<(), ()>(())
            };
            stream(src.len() as u64, &mut h, source(&src, step, &mut seen), sink, |n| counted += n).unwrap();
            assert_eq!(out, src, "step {step}");
            assert_eq!(h.finalize()[..], Sha256::digest(&src)[..], "step {step}");
            assert_eq!(counted, src.len() as u64, "step {step}: progress sees every byte");
            assert!(seen.len() <= DEPTH, "{} buffers for step {step}", seen.len());
        }
    }

    #[test]
    fn a_prefix_already_in_the_hasher_is_continued() {
        let src = data(CHUNK + 99);
        let mut h = Sha256::new();
        h.update(&src[..500]);
        let mut seen = HashSet::new();
        let rest = (src.len() - 500) as u64;
        stream(rest, &mut h, source(&src[500..], 4096, &mut seen), |_: &[u8]| Ok::<(), ()>(()), |_| {}).unwrap();
        assert_eq!(h.finalize()[..], Sha256::digest(&src)[..]);
    }

    #[test]
    fn only_size_bytes_are_read_even_if_the_source_has_more() {
        let src = data(5000);
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        let mut h = Sha256::new();
        let sink = |c: &[u8]| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        };
        stream(3000, &mut h, source(&src, 4096, &mut seen), sink, |_| {}).unwrap();
        assert_eq!(out, &src[..3000]);
        assert_eq!(h.finalize()[..], Sha256::digest(&src[..3000])[..]);
    }

    #[test]
    fn a_short_source_is_reported_after_everything_read_reached_the_sink() {
        let src = data(10_000);
        let (mut seen, mut out, mut counted) = (HashSet::new(), Vec::new(), 0);
        let mut h = Sha256::new();
        let sink = |c: &[u8]| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        };
        let stop = stream(20_000, &mut h, source(&src, 3000, &mut seen), sink, |n| counted += n).unwrap_err();
        assert!(matches!(stop, Stop::Short { done: 10_000 }), "{stop:?}");
        assert_eq!(out, src, "a download's partial keeps all that arrived");
        assert_eq!(counted, 10_000);
        assert_eq!(h.finalize()[..], Sha256::digest(&src)[..]);
    }

    #[test]
    fn a_sink_failure_stops_the_transfer_and_is_reported() {
        let src = data(100 * 1000);
        let mut seen = HashSet::new();
        let mut calls = 0;
        let mut h = Sha256::new();
        let sink = |_: &[u8]| {
            calls += 1;
            if calls == 3 { Err("disk full") } else { Ok(()) }
        };
        let stop = stream(src.len() as u64, &mut h, source(&src, 1000, &mut seen), sink, |_| {}).unwrap_err();
        assert!(matches!(stop, Stop::Sink("disk full")), "{stop:?}");
        assert_eq!(calls, 3, "nothing is offered to a sink after it failed");
    }

    #[test]
    fn a_fill_error_is_reported_and_interruptions_are_retried() {
        let (mut n, mut out) = (0, Vec::new());
        let mut h = Sha256::new();
        let fill = |buf: &mut [u8]| {
            n += 1;
            match n {
                1 => Err(io::Error::from(io::ErrorKind::Interrupted)),
                2 => {
                    buf[..10].fill(7);
                    Ok(10)
                }
                _ => Err(io::Error::other("socket reset")),
            }
        };
        let sink = |c: &[u8]| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        };
        let stop = stream(100, &mut h, fill, sink, |_| {}).unwrap_err();
        assert!(matches!(&stop, Stop::Fill(e) if e.to_string() == "socket reset"), "{stop:?}");
        assert_eq!(out, [7u8; 10]);
        assert_eq!(h.finalize()[..], Sha256::digest([7u8; 10])[..]);
    }

    #[test]
    fn nothing_to_move_leaves_the_hasher_alone() {
        let mut h = Sha256::new();
        h.update(b"kept");
        let fill = |_: &mut [u8]| -> io::Result<usize> { panic!("no read expected") };
        stream(0, &mut h, fill, |_: &[u8]| Ok::<(), ()>(()), |_| {}).unwrap();
        assert_eq!(h.finalize()[..], Sha256::digest(b"kept")[..]);
    }
}
