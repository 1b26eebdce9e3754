//! A tiny sans-IO HTTP/1.1 responder for the metrics endpoint: the driver
//! feeds request bytes as they arrive and writes out the response bytes;
//! this never touches a socket or a clock.
//!
//! It answers exactly one request per connection and then closes
//! (`Connection: close`), so there is no keep-alive, pipelining, chunking or
//! request body to handle: `GET /metrics` (or `HEAD`) gets the metrics,
//! any other path 404, any other method 405, a malformed request line 400,
//! and a request head over [`MAX_REQUEST`] bytes 431 without waiting for its
//! end. The driver bounds the wait for the request with a deadline of its own
//! and closes the socket once [`MetricsHttp::finished`] is true.

use super::Format;

/// Largest request head accepted (request line plus headers).
pub const MAX_REQUEST: usize = 8 * 1024;

/// What the request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` or `HEAD /metrics`, in the format the `Accept` header prefers.
    Metrics {
        format: Format,
        head: bool,
    },
    NotFound,
    MethodNotAllowed,
    BadRequest,
    TooLarge,
}

/// Looks at the bytes received so far: `None` until the head is complete
/// (or known to be too large or malformed).
pub fn parse_request(buf: &[u8]) -> Option<Route> {
    let Some(end) = head_end(buf) else {
        return if buf.len() > MAX_REQUEST { Some(Route::TooLarge) } else { None };
    };
    if end > MAX_REQUEST {
        return Some(Route::TooLarge);
    }
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Some(Route::BadRequest);
    };
    let mut lines = head.lines();
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some(Route::BadRequest);
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Some(Route::BadRequest);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Some(Route::MethodNotAllowed),
    };
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if path != "/metrics" {
        return Some(Route::NotFound);
    }
    let wants_openmetrics = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("accept") && value.contains("application/openmetrics-text")
        })
    });
    let format = if wants_openmetrics { Format::OpenMetrics } else { Format::Prometheus };
    Some(Route::Metrics { format, head: head_only })
}

/// Index just past the blank line ending the head (`\r\n\r\n`, or a bare
/// `\n\n` from a lax client), if it has arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    let scan = &buf[..buf.len().min(MAX_REQUEST + 4)];
    let crlf = scan.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = scan.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The response bytes for `route`; `render` is called only for a metrics GET/HEAD.
pub fn respond(route: Route, render: impl FnOnce(Format) -> String) -> Vec<u8> {
    let (status, content_type, body, extra, head) = match route {
        Route::Metrics { format, head } => ("200 OK", format.content_type(), render(format), "", head),
        Route::NotFound => ("404 Not Found", TEXT, "not found; metrics are at /metrics\n".into(), "", false),
        Route::MethodNotAllowed => {
            ("405 Method Not Allowed", TEXT, "only GET and HEAD\n".into(), "Allow: GET, HEAD\r\n", false)
        }
        Route::BadRequest => ("400 Bad Request", TEXT, "bad request\n".into(), "", false),
        Route::TooLarge => ("431 Request Header Fields Too Large", TEXT, "request too large\n".into(), "", false),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

const TEXT: &str = "text/plain; charset=utf-8";

/// One metrics connection: request bytes in, response bytes out, then close.
#[derive(Debug, Default)]
pub struct MetricsHttp {
    request: Vec<u8>,
    response: Vec<u8>,
    written: usize,
    route: Option<Route>,
    peer_closed: bool,
}

impl MetricsHttp {
    pub fn new() -> MetricsHttp {
        MetricsHttp::default()
    }

    /// Request bytes arrived. Once the request is complete the response is
    /// built (calling `render` for the metrics); bytes after that are ignored.
    pub fn feed(&mut self, bytes: &[u8], render: impl FnOnce(Format) -> String) {
        if self.route.is_some() {
            return;
        }
        // Keep at most MAX_REQUEST + 4 bytes: enough to find the end of a
        // head of the largest allowed size, and to know a larger one is too large.
        let room = (MAX_REQUEST + 4).saturating_sub(self.request.len());
        self.request.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if let Some(route) = parse_request(&self.request) {
            self.route = Some(route);
            self.response = respond(route, render);
            self.request = Vec::new();
        }
    }

    /// The peer closed its side. Without a complete request there is
    /// nothing to answer.
    pub fn peer_closed(&mut self) {
        self.peer_closed = true;
    }

    /// What was asked, once known.
    pub fn route(&self) -> Option<Route> {
        self.route
    }

    /// Whether the socket should be read: until a request is complete, and
    /// then (discarding, see [`MetricsHttp::feed`]) while the response goes
    /// out. Closing a socket with unread input makes the kernel send RST,
    /// which can destroy the response in flight (a request body after a 405,
    /// say); draining until `WouldBlock` before closing avoids that.
    pub fn wants_read(&self) -> bool {
        !self.peer_closed && (self.route.is_none() || self.wants_write())
    }

    /// Response bytes not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.response[self.written..]
    }

    /// `n` bytes of [`MetricsHttp::pending`] were written.
    pub fn advance(&mut self, n: usize) {
        self.written = (self.written + n).min(self.response.len());
    }

    pub fn wants_write(&self) -> bool {
        !self.pending().is_empty()
    }

    /// Nothing more to do: the response is out, or the peer left first.
    pub fn finished(&self) -> bool {
        (self.route.is_some() && !self.wants_write()) || (self.route.is_none() && self.peer_closed)
    }
}
