//! What the driver moves an endpoint's bytes through: a [`Transport`] is a
//! non-blocking byte stream (`Read + Write`) that can also send a file range.
//!
//! A plain TCP socket is one, with sendfile(2). A TLS layer is one too: it
//! wraps the socket, and the endpoint's `read_from`/`write_to` see plaintext
//! while the layer moves records to and from the socket (rustls'
//! `read_tls`/`process_new_packets`/`reader`/`writer`/`write_tls`). A layer
//! cannot splice a file into its records, so it takes the default
//! [`Transport::send_file`], which reads the range and writes it through the
//! layer. Bytes a layer still buffers for the socket are reported by
//! [`Transport::wants_flush`], so the driver keeps WRITABLE interest for them
//! even when the endpoint has nothing to say. The handshake itself runs
//! inside the layer's `read` and `write`, which the endpoint calls from its
//! first moment (the native session queues its hello at once and reads
//! until `auth`). Neither the endpoint nor the pump changes for TLS.

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;

/// Bytes copied per call by the read-and-write emulation of sendfile.
const SEND_FILE_CHUNK: usize = 64 * 1024;

pub trait Transport: Read + Write {
    /// Writes up to `len` bytes of `file` from `offset` (short writes are
    /// normal); `Ok(0)` means the file ended before `offset`. The default
    /// reads the bytes and writes them, for transports that cannot splice.
    fn send_file(&mut self, file: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<usize> {
        let mut buf = vec![0u8; len.min(SEND_FILE_CHUNK)];
        let got = rustix::io::pread(file, &mut buf, offset)?;
        if got == 0 {
            return Ok(0);
        }
        match self.write(&buf[..got])? {
            0 => Err(io::ErrorKind::WriteZero.into()),
            n => Ok(n),
        }
    }

    /// Whether the transport holds bytes for the socket (TLS records).
    fn wants_flush(&self) -> bool {
        false
    }

    /// Moves held bytes to the socket; `WouldBlock` when it is full.
    fn flush_transport(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for mio::net::TcpStream {
    /// sendfile(2): the bytes go from the page cache to the socket, never
    /// through user space.
    fn send_file(&mut self, file: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<usize> {
        let mut at = offset;
        rustix::fs::sendfile(&*self, file, Some(&mut at), len).map_err(io::Error::from)
    }
}
