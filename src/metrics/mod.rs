//! Prometheus metrics for `--metrics-listen`: the families the server keeps,
//! and [`http`], a sans-IO responder for `GET /metrics` that a mio
//! connection on the same loop can drive.
//!
//! The text format comes from the `prometheus-client` crate, never written by
//! hand. Every label is a small closed enum defined here (or the protocol's
//! `ErrorCode` set), so the number of series is bounded by the code and no
//! label can carry a user name, a path or a client address: the metrics
//! leak nothing and cannot be blown up by clients.
//!
//! Counting rules the driver follows when it is wired in:
//! - `connections{protocol,state}` is a gauge: +1 on accept in `proxy` or
//!   `handshake`, moved with [`Metrics::conn_move`], -1 when closed;
//! - `transfer_bytes_total{direction}` grows as bytes move, so `rate()` is
//!   smooth during a long transfer (an outcome is only known at the end, so
//!   bytes carry no outcome label; `transfers_total` does);
//! - `loop_turn_seconds` observes one poll-loop turn: from poll's return to
//!   the next poll call.

pub mod http;

use crate::protocol::ErrorCode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::time::Duration;

/// Declares a label enum with stable snake_case values.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    };
}

label_enum!(
    /// Which front end a connection speaks.
    Protocol { Native = "native", Ftp = "ftp" }
);

label_enum!(
    /// Where a connection is in its life.
    ConnState {
        Proxy = "proxy",
        Handshake = "handshake",
        Authenticated = "authenticated",
        Transfer = "transfer",
        Closing = "closing",
    }
);

label_enum!(
    /// Upload or download.
    Direction { Upload = "upload", Download = "download" }
);

label_enum!(
    /// How a transfer attempt ended (as in the audit logs).
    TransferOutcome { Complete = "complete", Incomplete = "incomplete", Rejected = "rejected", Failed = "failed" }
);

label_enum!(
    /// Why a connection was refused before its session started.
    RefuseReason {
        MaxConnections = "max_connections",
        MaxPerIp = "max_per_ip",
        ProxyMissing = "proxy_missing",
        ProxyUntrusted = "proxy_untrusted",
        ProxyTooLong = "proxy_too_long",
        ProxyMalformed = "proxy_malformed",
        ProxyTimeout = "proxy_timeout",
    }
);

impl From<crate::proxy::ProxyError> for RefuseReason {
    fn from(e: crate::proxy::ProxyError) -> RefuseReason {
        use crate::proxy::ProxyError as P;
        match e {
            P::Missing => RefuseReason::ProxyMissing,
            P::Untrusted => RefuseReason::ProxyUntrusted,
            P::TooLong => RefuseReason::ProxyTooLong,
            P::Malformed(_) => RefuseReason::ProxyMalformed,
        }
    }
}

/// A failure reason: one of the protocol's error codes (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason(pub ErrorCode);

impl EncodeLabelValue for Reason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConnLabels {
    protocol: Protocol,
    state: ConnState,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    protocol: Protocol,
    reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefuseLabels {
    reason: RefuseReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TransferLabels {
    direction: Direction,
    outcome: TransferOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BytesLabels {
    direction: Direction,
}

/// Which text format to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (what `curl` and most scrapers expect).
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it in `Accept`.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Every metric the server exports. Cheap handles: recording is an atomic
/// add, no allocation after a label set's first use.
pub struct Metrics {
    registry: Registry,
    connections: Family<ConnLabels, Gauge>,
    refused: Family<RefuseLabels, Counter>,
    logins: Family<ProtocolLabels, Counter>,
    login_failures: Family<FailureLabels, Counter>,
    transfers: Family<TransferLabels, Counter>,
    bytes: Family<BytesLabels, Counter>,
    quota_refusals: Family<ProtocolLabels, Counter>,
    loop_turn: Histogram,
    worker_queue: Gauge,
}

/// Loop turn histogram buckets: 10 µs, 40 µs, ... about 2.6 s (×4 each).
fn turn_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_01, 4.0, 10)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mioftpd");
        let m = Metrics {
            connections: Family::default(),
            refused: Family::default(),
            logins: Family::default(),
            login_failures: Family::default(),
            transfers: Family::default(),
            bytes: Family::default(),
            quota_refusals: Family::default(),
            loop_turn: Histogram::new(turn_buckets()),
            worker_queue: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("connections", "Open connections by protocol and state", m.connections.clone());
        registry.register(
            "connections_refused",
            "Connections refused before a session started, by reason",
            m.refused.clone(),
        );
        registry.register("logins", "Successful logins by protocol", m.logins.clone());
        registry.register(
            "login_failures",
            "Failed or refused logins by protocol and error code",
            m.login_failures.clone(),
        );
        registry.register("transfers", "Finished transfer attempts by direction and outcome", m.transfers.clone());
        registry.register("transfer_bytes", "File bytes moved, by direction, counted as they move", m.bytes.clone());
        registry.register("quota_refusals", "Uploads refused for quota", m.quota_refusals.clone());
        registry.register("loop_turn_seconds", "Duration of one event loop turn", m.loop_turn.clone());
        registry.register("worker_queue_depth", "Jobs waiting in the worker pool", m.worker_queue.clone());
        // Series for the small label sets exist from the start, at zero, so a
        // dashboard's rate() has a baseline before the first event.
        for &protocol in Protocol::ALL {
            for &state in ConnState::ALL {
                drop(m.connections.get_or_create(&ConnLabels { protocol, state }));
            }
            drop(m.logins.get_or_create(&ProtocolLabels { protocol }));
            drop(m.quota_refusals.get_or_create(&ProtocolLabels { protocol }));
            for reason in [ErrorCode::AuthFailed, ErrorCode::TooManyAttempts] {
                drop(m.login_failures.get_or_create(&FailureLabels { protocol, reason: Reason(reason) }));
            }
        }
        for &reason in RefuseReason::ALL {
            drop(m.refused.get_or_create(&RefuseLabels { reason }));
        }
        for &direction in Direction::ALL {
            drop(m.bytes.get_or_create(&BytesLabels { direction }));
            for &outcome in TransferOutcome::ALL {
                drop(m.transfers.get_or_create(&TransferLabels { direction, outcome }));
            }
        }
        Metrics { registry, ..m }
    }

    /// A connection was accepted and entered `state`.
    pub fn conn_open(&self, protocol: Protocol, state: ConnState) {
        self.connections.get_or_create(&ConnLabels { protocol, state }).inc();
    }

    /// A connection moved from one state to another.
    pub fn conn_move(&self, protocol: Protocol, from: ConnState, to: ConnState) {
        if from != to {
            self.connections.get_or_create(&ConnLabels { protocol, state: from }).dec();
            self.connections.get_or_create(&ConnLabels { protocol, state: to }).inc();
        }
    }

    /// A connection in `state` was closed.
    pub fn conn_close(&self, protocol: Protocol, state: ConnState) {
        self.connections.get_or_create(&ConnLabels { protocol, state }).dec();
    }

    pub fn refused(&self, reason: RefuseReason) {
        self.refused.get_or_create(&RefuseLabels { reason }).inc();
    }

    pub fn login_ok(&self, protocol: Protocol) {
        self.logins.get_or_create(&ProtocolLabels { protocol }).inc();
    }

    pub fn login_failed(&self, protocol: Protocol, reason: ErrorCode) {
        self.login_failures.get_or_create(&FailureLabels { protocol, reason: Reason(reason) }).inc();
    }

    /// File bytes moved in `direction` (call as they move).
    pub fn bytes(&self, direction: Direction, n: u64) {
        self.bytes.get_or_create(&BytesLabels { direction }).inc_by(n);
    }

    /// A transfer attempt ended.
    pub fn transfer(&self, direction: Direction, outcome: TransferOutcome) {
        self.transfers.get_or_create(&TransferLabels { direction, outcome }).inc();
    }

    pub fn quota_refused(&self, protocol: Protocol) {
        self.quota_refusals.get_or_create(&ProtocolLabels { protocol }).inc();
    }

    /// One poll-loop turn took `d`.
    pub fn loop_turn(&self, d: Duration) {
        self.loop_turn.observe(d.as_secs_f64());
    }

    pub fn worker_queue_depth(&self, depth: usize) {
        self.worker_queue.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The current values in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let result = match format {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry),
        };
        if result.is_err() {
            // Writing to a String cannot fail; say so in the output if it ever does.
            let _ = writeln!(out, "# encoding error");
        }
        out
    }
}

#[cfg(test)]
mod tests;
