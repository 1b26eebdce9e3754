//! Unit tests of the metrics families (text output, counters moving, bounded
//! label values) and of the HTTP responder (split inputs, routes, limits).

use super::http::{MAX_REQUEST, MetricsHttp, Route, parse_request};
use super::*;
use std::collections::HashSet;

/// The value of the sample line `name{labels}` (labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_text_format_has_every_family_with_help_and_type() {
    let text = Metrics::new().render(Format::Prometheus);
    for (family, kind) in [
        ("mioftpd_connections", "gauge"),
        ("mioftpd_connections_refused_total", "counter"),
        ("mioftpd_logins_total", "counter"),
        ("mioftpd_login_failures_total", "counter"),
        ("mioftpd_transfers_total", "counter"),
        ("mioftpd_transfer_bytes_total", "counter"),
        ("mioftpd_quota_refusals_total", "counter"),
        ("mioftpd_loop_turn_seconds", "histogram"),
        ("mioftpd_worker_queue_depth", "gauge"),
    ] {
        assert!(text.contains(&format!("# TYPE {family} {kind}\n")), "{family} missing:\n{text}");
        assert!(text.contains(&format!("# HELP {family} ")), "{family} has no help");
    }
    // Small label sets start at zero, so rate() has a baseline.
    assert_eq!(sample(&text, "mioftpd_transfers_total{direction=\"upload\",outcome=\"complete\"}"), Some(0.0));
    assert_eq!(sample(&text, "mioftpd_connections{protocol=\"ftp\",state=\"handshake\"}"), Some(0.0));
}

#[test]
fn counters_and_gauges_move_as_events_are_recorded() {
    let m = Metrics::new();
    m.conn_open(Protocol::Native, ConnState::Handshake);
    m.conn_open(Protocol::Native, ConnState::Handshake);
    m.conn_move(Protocol::Native, ConnState::Handshake, ConnState::Authenticated);
    m.conn_open(Protocol::Ftp, ConnState::Proxy);
    m.conn_close(Protocol::Ftp, ConnState::Proxy);
    m.refused(RefuseReason::from(crate::proxy::ProxyError::Untrusted));
    m.login_ok(Protocol::Native);
    m.login_failed(Protocol::Native, ErrorCode::AuthFailed);
    m.login_failed(Protocol::Native, ErrorCode::AuthFailed);
    m.login_failed(Protocol::Ftp, ErrorCode::TooManyAttempts);
    m.bytes(Direction::Upload, 1000);
    m.bytes(Direction::Upload, 24);
    m.transfer(Direction::Upload, TransferOutcome::Complete);
    m.transfer(Direction::Download, TransferOutcome::Incomplete);
    m.quota_refused(Protocol::Native);
    m.loop_turn(Duration::from_micros(30));
    m.loop_turn(Duration::from_millis(5));
    m.worker_queue_depth(3);
    let text = m.render(Format::Prometheus);
    let expect = [
        ("mioftpd_connections{protocol=\"native\",state=\"handshake\"}", 1.0),
        ("mioftpd_connections{protocol=\"native\",state=\"authenticated\"}", 1.0),
        ("mioftpd_connections{protocol=\"ftp\",state=\"proxy\"}", 0.0),
        ("mioftpd_connections_refused_total{reason=\"proxy_untrusted\"}", 1.0),
        ("mioftpd_logins_total{protocol=\"native\"}", 1.0),
        ("mioftpd_login_failures_total{protocol=\"native\",reason=\"auth_failed\"}", 2.0),
        ("mioftpd_login_failures_total{protocol=\"ftp\",reason=\"too_many_attempts\"}", 1.0),
        ("mioftpd_transfer_bytes_total{direction=\"upload\"}", 1024.0),
        ("mioftpd_transfer_bytes_total{direction=\"download\"}", 0.0),
        ("mioftpd_transfers_total{direction=\"upload\",outcome=\"complete\"}", 1.0),
        ("mioftpd_transfers_total{direction=\"download\",outcome=\"incomplete\"}", 1.0),
        ("mioftpd_quota_refusals_total{protocol=\"native\"}", 1.0),
        ("mioftpd_loop_turn_seconds_count", 2.0),
        ("mioftpd_loop_turn_seconds_bucket{le=\"4e-05\"}", 1.0),
        ("mioftpd_loop_turn_seconds_bucket{le=\"+Inf\"}", 2.0),
        ("mioftpd_worker_queue_depth", 3.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
}

#[test]
fn openmetrics_output_ends_with_eof_and_counts_the_same() {
    let m = Metrics::new();
    m.login_ok(Protocol::Ftp);
    let text = m.render(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(sample(&text, "mioftpd_logins_total{protocol=\"ftp\"}"), Some(1.0));
}

#[test]
fn every_label_value_comes_from_a_closed_set() {
    let m = Metrics::new();
    for &code in ErrorCode::ALL {
        m.login_failed(Protocol::Native, code);
    }
    let mut allowed: HashSet<&str> = HashSet::new();
    allowed.extend(Protocol::ALL.iter().map(|v| v.as_str()));
    allowed.extend(ConnState::ALL.iter().map(|v| v.as_str()));
    allowed.extend(Direction::ALL.iter().map(|v| v.as_str()));
    allowed.extend(TransferOutcome::ALL.iter().map(|v| v.as_str()));
    allowed.extend(RefuseReason::ALL.iter().map(|v| v.as_str()));
    allowed.extend(ErrorCode::ALL.iter().map(|v| v.as_str()));
    let text = m.render(Format::Prometheus);
    let mut seen = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, labels)) = line.split_once('{') else { continue };
        let labels = labels.split('}').next().unwrap();
        for pair in labels.split(',') {
            let (key, value) = pair.split_once('=').unwrap();
            let value = value.trim_matches('"');
            if key == "le" {
                continue; // histogram bucket bounds
            }
            assert!(["protocol", "state", "reason", "direction", "outcome"].contains(&key), "label {key}");
            assert!(allowed.contains(value), "label value {value:?} is not from a closed set");
            seen += 1;
        }
    }
    assert!(seen > ErrorCode::ALL.len(), "the check looked at the labels");
}

fn render(format: Format) -> String {
    match format {
        Format::Prometheus => "metric 1\n".into(),
        Format::OpenMetrics => "metric 1\n# EOF\n".into(),
    }
}

/// Feeds `request` split at `cut`, then returns the full response.
fn exchange(request: &[u8], cut: usize) -> String {
    let mut conn = MetricsHttp::new();
    conn.feed(&request[..cut], render);
    if cut < request.len() {
        conn.feed(&request[cut..], render);
    }
    let mut out = Vec::new();
    // Write out in 7-byte pieces, as a slow socket would take them.
    while conn.wants_write() {
        let n = conn.pending().len().min(7);
        out.extend_from_slice(&conn.pending()[..n]);
        conn.advance(n);
    }
    assert!(conn.finished());
    String::from_utf8(out).unwrap()
}

#[test]
fn a_get_of_metrics_is_answered_at_every_split() {
    let req = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n";
    for cut in 0..=req.len() {
        let mut conn = MetricsHttp::new();
        conn.feed(&req[..cut], render);
        if cut < req.len() {
            assert!(conn.wants_read() && !conn.wants_write(), "no answer before the blank line (cut {cut})");
        } else {
            assert!(conn.wants_write() && conn.wants_read(), "input is drained while the answer goes out");
            conn.feed(b"trailing body bytes", |_| panic!("one request per connection"));
            conn.advance(usize::MAX);
            assert!(conn.finished() && !conn.wants_read());
        }
        let resp = exchange(req, cut);
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert!(resp.contains("Content-Length: 9\r\n"));
        assert!(resp.contains("Connection: close\r\n"));
        assert!(resp.ends_with("\r\n\r\nmetric 1\n"));
    }
}

#[test]
fn accept_openmetrics_selects_that_format_and_head_has_no_body() {
    let req =
        b"GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n";
    let resp = exchange(req, req.len());
    assert!(resp.contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(resp.ends_with("# EOF\n"));
    let head = exchange(b"HEAD /metrics HTTP/1.0\n\n", 5);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 9\r\n"));
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
}

#[test]
fn other_paths_methods_and_garbage_get_4xx() {
    assert!(exchange(b"GET / HTTP/1.1\r\n\r\n", 3).starts_with("HTTP/1.1 404 "));
    assert!(exchange(b"GET /metricsx HTTP/1.1\r\n\r\n", 3).starts_with("HTTP/1.1 404 "));
    let post = exchange(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 10);
    assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD\r\n"), "{post}");
    for bad in
        [&b"GET /metrics\r\n\r\n"[..], b"GET metrics HTTP/1.1\r\n\r\n", b"\xff\xfe /m HTTP/1.1\r\n\r\n", b"\r\n\r\n"]
    {
        assert!(exchange(bad, 1).starts_with("HTTP/1.1 400 "), "{bad:?}");
    }
}

#[test]
fn an_oversize_request_is_refused_without_waiting_for_its_end() {
    let mut conn = MetricsHttp::new();
    let mut req = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    req.resize(MAX_REQUEST + 100, b'a');
    for chunk in req.chunks(1000) {
        conn.feed(chunk, |_| panic!("no metrics for an oversize request"));
    }
    assert_eq!(conn.route(), Some(Route::TooLarge));
    assert!(String::from_utf8_lossy(conn.pending()).starts_with("HTTP/1.1 431 "));
    // A head just under the limit is fine.
    let mut ok = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    ok.resize(MAX_REQUEST - 4, b'a');
    ok.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(parse_request(&ok), Some(Route::Metrics { .. })));
}

#[test]
fn a_peer_leaving_before_a_complete_request_finishes_without_an_answer() {
    let mut conn = MetricsHttp::new();
    conn.feed(b"GET /met", render);
    conn.peer_closed();
    assert!(conn.finished() && !conn.wants_read() && !conn.wants_write());
}
