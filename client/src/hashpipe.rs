//! Moving a transfer's body while a second thread hashes it.
//!
//! A transfer does three things to every byte: read it (from the socket or
//! the local file), SHA-256 it, and pass it on (to the file or the socket).
//! On one thread these add up; here the caller's thread reads and passes on
//! while a scoped hasher thread digests the same chunks, so a transfer takes
//! about as long as the slower of the two instead of their sum. On this
//! project's 2-core test machine that took a 1 GiB GET through the `mioftp`
//! binary from well under to about the copy+SHA-256+write+fsync baseline
//! (docs/BENCHMARKS.md, issue 12).
//!
//! Bounded: at most [`DEPTH`] buffers of [`CHUNK`] bytes exist per transfer,
//! recycled in turn. A buffer is shared (`Arc`) between the two threads
//! while both read it and is filled again only once the hasher handed it
//! back. The digest covers exactly the bytes given to the sink, in order;
//! the caller keeps its resume and verification rules unchanged (it passes
//! in a hasher that has already taken any kept prefix, and gets it back).

use crate::digest::CHUNK;
use sha2::{Digest, Sha256};
use std::io;
use std::sync::Arc;
use std::sync::mpsc;

/// Buffers per transfer: enough that neither thread waits for the other
/// over a short stall, few enough that memory stays small (1 MiB).
pub const DEPTH: usize = 4;

/// Why [`stream`] stopped before `size` bytes.
#[derive(Debug)]
pub enum Stop<E> {
    /// The source ended (`Ok(0)`) after `done` bytes.
    Short { done: u64 },
    /// Reading the source failed (after `Interrupted` was retried).
    Fill(io::Error),
    /// The sink refused a chunk.
    Sink(E),
    /// The hasher thread could not be started (nothing was read).
    Spawn(io::Error),
}

/// Moves exactly `size` bytes from `fill` to `sink` in chunks of at most
/// [`CHUNK`] bytes, and adds them to `hasher` on a second thread. `fill`
/// reads into the slice it is given and returns how many bytes it read;
/// `sink` takes each chunk once, in order. When it returns, `hasher` holds
/// every chunk that was read, in order: on success exactly `size` bytes; on
/// a stop, also a chunk the sink refused (callers discard a failed
/// transfer's digest anyway).
pub fn stream<E>(
    size: u64,
    hasher: &mut Sha256,
    mut fill: impl FnMut(&mut [u8]) -> io::Result<usize>,
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    if size == 0 {
        return Ok(());
    }
    // Chunks go to the hasher with their length; it hands each buffer back
    // when done. Neither channel ever holds more than DEPTH buffers.
    let (to_hasher, chunks) = mpsc::sync_channel::<(Arc<Vec<u8>>, usize)>(DEPTH);
    let (give_back, returned) = mpsc::sync_channel::<Arc<Vec<u8>>>(DEPTH);
    let mut digest = hasher.clone();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().name("mioftp-hash".into()).spawn_scoped(scope, move || {
            for (buf, n) in chunks {
                digest.update(&buf[..n]);
                // The receiver is gone once the mover has stopped: the
                // buffer is simply freed.
                let _ = give_back.send(buf);
            }
            digest
        });
        let worker = match spawned {
            Ok(worker) => worker,
            Err(e) => return Err(Stop::Spawn(e)),
        };
        let moved = move_all(size, &to_hasher, &returned, &mut fill, &mut sink);
        // Closing the channel ends the hasher's loop after the chunks it
        // already has, so the digest covers exactly what reached the sink.
        drop(to_hasher);
        drop(returned);
        match worker.join() {
            Ok(done) => *hasher = done,
            Err(panic) => std::panic::resume_unwind(panic),
        }
        moved
    })
}

/// The mover's side of [`stream`]: fill a buffer, share it with the hasher,
/// pass it to the sink, recycle.
fn move_all<E>(
    size: u64,
    to_hasher: &mpsc::SyncSender<(Arc<Vec<u8>>, usize)>,
    returned: &mpsc::Receiver<Arc<Vec<u8>>>,
    fill: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
    sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let mut made = 0;
    let mut left = size;
    while left > 0 {
        // A buffer the hasher has finished with, else a new one while fewer
        // than DEPTH exist, else wait for the hasher to finish the oldest.
        let recycled = match returned.try_recv() {
            Ok(buf) => Some(buf),
            Err(_) if made < DEPTH => None,
            Err(_) => returned.recv().ok(),
        };
        let mut buf = match recycled.map(Arc::try_unwrap) {
            Some(Ok(buf)) => buf,
            // Not unique (cannot happen: the mover drops its handle before
            // it asks for a buffer) or none to recycle: a fresh one.
            Some(Err(_)) | None => {
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
        let shared = Arc::new(buf);
        // Hash before the sink sees the chunk: the two run side by side. A
        // hasher that is gone has panicked; join() reports that.
        if to_hasher.send((shared.clone(), n)).is_err() {
            break;
        }
        sink(&shared[..n]).map_err(Stop::Sink)?;
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
        let src = data(3 * CHUNK + 12_345);
        for step in [1000, CHUNK, 7 * CHUNK] {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            let mut h = Sha256::new();
            stream(src.len() as u64, &mut h, source(&src, step, &mut seen), |c: &[u8]| {
                out.extend_from_slice(c);
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!(out, src, "step {step}");
            assert_eq!(h.finalize()[..], Sha256::digest(&src)[..], "step {step}");
            assert!(seen.len() <= DEPTH, "{} buffers for step {step}", seen.len());
        }
    }

    #[test]
    fn a_prefix_already_in_the_hasher_is_continued() {
        let src = data(CHUNK + 99);
        let mut h = Sha256::new();
        h.update(&src[..500]);
        let mut seen = HashSet::new();
        stream((src.len() - 500) as u64, &mut h, source(&src[500..], 4096, &mut seen), |_: &[u8]| Ok::<(), ()>(()))
            .unwrap();
        assert_eq!(h.finalize()[..], Sha256::digest(&src)[..]);
    }

    #[test]
    fn only_size_bytes_are_read_even_if_the_source_has_more() {
        let src = data(5000);
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        let mut h = Sha256::new();
        stream(3000, &mut h, source(&src, 4096, &mut seen), |c: &[u8]| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(out, &src[..3000]);
        assert_eq!(h.finalize()[..], Sha256::digest(&src[..3000])[..]);
    }

    #[test]
    fn a_short_source_is_reported_with_what_was_moved_and_hashed() {
        let src = data(10_000);
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        let mut h = Sha256::new();
        let stop = stream(20_000, &mut h, source(&src, 3000, &mut seen), |c: &[u8]| {
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        })
        .unwrap_err();
        assert!(matches!(stop, Stop::Short { done: 10_000 }), "{stop:?}");
        assert_eq!(h.finalize()[..], Sha256::digest(&src)[..]);
        assert_eq!(out, src);
    }

    #[test]
    fn a_sink_failure_stops_the_transfer_and_is_reported() {
        let src = data(10 * 1000);
        let mut seen = HashSet::new();
        let mut calls = 0;
        let mut h = Sha256::new();
        let stop = stream(src.len() as u64, &mut h, source(&src, 1000, &mut seen), |_: &[u8]| {
            calls += 1;
            if calls == 3 { Err("disk full") } else { Ok(()) }
        })
        .unwrap_err();
        assert!(matches!(stop, Stop::Sink("disk full")), "{stop:?}");
        // The refused third chunk was already handed to the hasher (hashing
        // runs beside the sink); both callers discard a failed digest.
        assert_eq!(h.finalize()[..], Sha256::digest(&src[..3000])[..], "the hasher saw exactly the chunks read");
    }

    #[test]
    fn a_fill_error_is_reported_and_interruptions_are_retried() {
        let mut n = 0;
        let mut h = Sha256::new();
        let stop = stream(
            100,
            &mut h,
            |buf: &mut [u8]| {
                n += 1;
                match n {
                    1 => Err(io::Error::from(io::ErrorKind::Interrupted)),
                    2 => {
                        buf[..10].fill(7);
                        Ok(10)
                    }
                    _ => Err(io::Error::other("socket reset")),
                }
            },
            |_: &[u8]| Ok::<(), ()>(()),
        )
        .unwrap_err();
        assert!(matches!(&stop, Stop::Fill(e) if e.to_string() == "socket reset"), "{stop:?}");
        assert_eq!(h.finalize()[..], Sha256::digest([7u8; 10])[..]);
    }

    #[test]
    fn nothing_to_move_leaves_the_hasher_alone() {
        let mut h = Sha256::new();
        h.update(b"kept");
        stream(
            0,
            &mut h,
            |_: &mut [u8]| -> io::Result<usize> { panic!("no read expected") },
            |_: &[u8]| Ok::<(), ()>(()),
        )
        .unwrap();
        assert_eq!(h.finalize()[..], Sha256::digest(b"kept")[..]);
    }
}
