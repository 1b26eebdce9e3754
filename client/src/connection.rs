//! A blocking, framed connection: send a request header, read server frames.
//! Frame parsing is the server crate's own (`mioftp_proto::frame`).

use crate::error::{ClientError, Result};
use mioftp_proto::frame::{self, Frame, LEN_PREFIX};
use mioftp_proto::messages::{self, Notice, ServerFrame};
use mioftp_proto::{Header, Request};
use serde::{Serialize, de::DeserializeOwned};
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;

/// Socket buffers: large enough that a transfer makes few system calls.
const IO_BUF: usize = 256 * 1024;

pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// Notices (other than hello) that arrived while waiting for replies.
    pub notices: Vec<Notice>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Result<Connection> {
        let read_half = stream.try_clone()?;
        Ok(Connection {
            reader: BufReader::with_capacity(IO_BUF, read_half),
            writer: BufWriter::with_capacity(IO_BUF, stream),
            notices: Vec::new(),
        })
    }

    pub fn stream(&self) -> &TcpStream {
        self.writer.get_ref()
    }

    /// Queues a header frame (not flushed).
    pub fn send(&mut self, header: &impl Serialize) -> Result<()> {
        let bytes = frame::encode_to_vec(header).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.writer.write_all(&bytes)?;
        Ok(())
    }

    /// Queues raw body bytes (not flushed).
    pub fn send_body(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()?;
        Ok(())
    }

    /// Reads one frame header; the body, if any, is left for [`Connection::body_reader`].
    pub fn recv_frame(&mut self) -> Result<Frame> {
        let mut prefix = [0u8; LEN_PREFIX];
        self.reader.read_exact(&mut prefix).map_err(eof_is_closed)?;
        let len = frame::header_len(prefix).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut header = vec![0u8; len];
        self.reader.read_exact(&mut header).map_err(eof_is_closed)?;
        frame::parse_header(&header).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Reads the next server frame, classified.
    pub fn recv(&mut self) -> Result<(ServerFrame, u64)> {
        let frame = self.recv_frame()?;
        let kind = messages::classify(frame.header).map_err(ClientError::Protocol)?;
        Ok((kind, frame.body_len))
    }

    /// Reads until a reply arrives, keeping notices aside. Returns the success
    /// header and its declared body length, or the server's error.
    pub fn recv_reply(&mut self) -> Result<(Header, u64)> {
        loop {
            match self.recv()? {
                (ServerFrame::Notice(Notice::Shutdown(n)), _) => {
                    // The server closes right after this notice: no reply is
                    // coming. Its message says why; adding our own words to
                    // it would say the same thing twice.
                    return Err(ClientError::Io(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, n.message)));
                }
                (ServerFrame::Notice(n), _) => self.notices.push(n),
                (ServerFrame::Reply(Ok(h)), body) => return Ok((h, body)),
                (ServerFrame::Reply(Err(e)), _) => return Err(ClientError::Server(e)),
            }
        }
    }

    /// Sends a request and reads its (body-less) reply as `T`.
    pub fn call<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T> {
        self.send(req)?;
        self.flush()?;
        let (header, body) = self.recv_reply()?;
        if body > 0 {
            return Err(ClientError::Protocol(format!("unexpected {body}-byte body in reply to {}", req.op())));
        }
        messages::reply_body(header).map_err(ClientError::Protocol)
    }

    /// Whether the server has closed its side, or has sent something
    /// unprompted, which between requests can only be its last word (a
    /// `timeout` reply or a `shutdown` notice before it closes). Never blocks.
    pub fn peer_closed(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.writer.get_ref();
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let closed = match stream.peek(&mut probe) {
            // WouldBlock: nothing to read, so the server still waits for us.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => false,
            // EOF, unsolicited bytes, or a reset.
            _ => true,
        };
        closed || stream.set_nonblocking(false).is_err()
    }

    /// A handle that can cut this connection from another thread (Ctrl-C
    /// during a transfer): the blocked read or write then fails at once.
    pub fn cancel_handle(&self) -> Result<CancelHandle> {
        Ok(CancelHandle(self.writer.get_ref().try_clone()?))
    }

    /// The buffered reader, for streaming a reply's body.
    pub fn body_reader(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }
}

/// Cuts a connection from another thread; see [`Connection::cancel_handle`].
#[derive(Debug)]
pub struct CancelHandle(TcpStream);

impl CancelHandle {
    /// Shuts the socket both ways. The protocol has no abort, so this is how
    /// a transfer stops: the server sees the close and keeps the partial.
    pub fn cancel(&self) {
        // Already closed or reset: it is cut either way.
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

fn eof_is_closed(e: std::io::Error) -> ClientError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        ClientError::Io(std::io::Error::new(e.kind(), "the server closed the connection"))
    } else {
        ClientError::Io(e)
    }
}
