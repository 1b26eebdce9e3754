//! Login throttling per user and per address, and the fail2ban filter
//! matching what it records.

use super::*;

const WINDOW: Duration = Duration::from_secs(2);

fn throttled_server() -> TestServer {
    throttled_server_with(50)
}

fn throttled_server_with(max_failures_per_ip: usize) -> TestServer {
    TestServer::start_with(|c| {
        c.login_policy =
            mioftp::throttle::Policy { max_failures: 5, max_failures_per_ip, window: WINDOW, ..Default::default() }
    })
}

/// The fail2ban filter applied to the server's real accounts log: every
/// password guess (auth_failed) and throttled login matches with the peer's
/// address, nothing else does.
fn check_fail2ban(server: &TestServer) {
    let conf =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fail2ban/mioftpd.conf")).unwrap();
    let failregex = conf.lines().find_map(|l| l.strip_prefix("failregex = ")).expect("a one-line failregex");
    let re = regex::Regex::new(&failregex.replace("<HOST>", r"(?P<host>[0-9A-Fa-f.:]+)")).unwrap();
    let text = std::fs::read_to_string(server.path("logs").join(ACCOUNTS)).unwrap();
    let mut matched = 0;
    for line in text.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let bad_login = rec["event"] == "login"
            && ((rec["outcome"] == "fail" && rec["reason"] == "auth_failed")
                || (rec["outcome"] == "rejected" && rec["reason"] == "too_many_attempts"));
        match re.captures(line) {
            Some(c) => {
                assert!(bad_login, "matched a line that is not a failed login: {line}");
                assert_eq!(&c["host"], "127.0.0.1", "{line}");
                matched += 1;
            }
            None => assert!(!bad_login, "missed a failed login: {line}"),
        }
    }
    assert!(matched >= 6, "{matched} lines matched");
}

/// Retries a login with the right password until it succeeds; returns when.
fn login_once_unlocked(server: &TestServer, user: &str) -> Instant {
    let mut c = server.client();
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match c.login(user, PASSWORD) {
            Ok(()) => return Instant::now(),
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::TooManyAttempts), "{e}");
                assert!(Instant::now() < deadline, "the lock never expired");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn five_failed_logins_lock_the_user_even_against_the_right_password_until_the_window_passes() {
    let server = throttled_server();
    let mut healthy = server.user("steady");
    server.user("victim").exit().unwrap();
    let mut c = server.client();
    let first_failure = Instant::now();
    for _ in 0..5 {
        let e = c.login("victim", "not the password").unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::AuthFailed), "{e}");
    }
    let e = c.login("victim", PASSWORD).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TooManyAttempts), "{e}");
    let message = e.to_string();
    let secs: u64 =
        regex::Regex::new(r"retry after (\d+) s").unwrap().captures(&message).expect(&message)[1].parse().unwrap();
    assert!((1..=WINDOW.as_secs()).contains(&secs), "{message}");
    healthy.noop().expect("a logged-in client is unaffected by the lock");

    let unlocked = login_once_unlocked(&server, "victim");
    assert!(unlocked - first_failure >= WINDOW - SLACK, "unlocked after {:?}", unlocked - first_failure);
    let victim: Vec<Value> =
        server.accounts_log().into_iter().filter(|r| r["user"] == "victim" && r["event"] == "login").collect();
    let outcomes: Vec<(String, String, String)> = summary(&victim);
    let fails = outcomes.iter().filter(|(_, o, r)| o == "fail" && r == "auth_failed").count();
    let rejected = outcomes.iter().filter(|(_, o, r)| o == "rejected" && r == "too_many_attempts").count();
    assert_eq!(fails, 5, "{outcomes:?}");
    assert!(rejected >= 1, "{outcomes:?}");
    assert_eq!(outcomes.last().map(|o| o.1.as_str()), Some("ok"), "{outcomes:?}");
    check_fail2ban(&server);
}

#[test]
fn failures_from_one_address_up_to_its_limit_lock_every_user_from_it() {
    let server = throttled_server_with(5);
    let mut healthy = server.user("steady");
    server.user("innocent").exit().unwrap();
    let mut c = server.client();
    let first_failure = Instant::now();
    for i in 0..5 {
        let e = c.login(&format!("guess{i}"), "not the password").unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::AuthFailed), "{e}");
    }
    // Another user, the right password, the same address: refused.
    let e = c.login("innocent", PASSWORD).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TooManyAttempts), "{e}");
    let rec = server.accounts_log().pop().unwrap();
    assert_eq!(
        (rec["user"].as_str(), rec["outcome"].as_str(), rec["reason"].as_str()),
        (Some("innocent"), Some("rejected"), Some("too_many_attempts"))
    );
    healthy.dir(None).expect("served during the lock");
    let unlocked = login_once_unlocked(&server, "innocent");
    assert!(unlocked - first_failure >= WINDOW - SLACK, "unlocked after {:?}", unlocked - first_failure);
    check_fail2ban(&server);
}

#[test]
fn logins_pending_before_the_lock_cannot_outrun_the_throttle() {
    use mioftp::protocol::scram::{self, ClientKeys, Exchange};
    let server = throttled_server();
    server.user("victim").exit().unwrap();
    let nonce = "pendingnonce1234";
    // 21 connections each get a login challenge before any guess is made.
    let mut pending: Vec<(Raw, Value)> = (0..21)
        .map(|_| {
            let mut raw = server.raw_checked();
            let first = raw.call(json!({"op": "login", "user": "victim", "nonce": nonce}));
            assert_eq!(first["ok"], true, "{first}");
            (raw, first)
        })
        .collect();
    let mut outcomes = Vec::new();
    for (raw, _) in pending.iter_mut().take(20) {
        outcomes.push(code(&raw.call(json!({"op": "login_proof", "proof": scram::b64(&[1; 32])}))).to_owned());
    }
    let evaluated = outcomes.iter().filter(|c| *c == "auth_failed").count();
    assert!(evaluated <= 5, "{evaluated} wrong passwords were tried in one window: {outcomes:?}");
    // The right password, on a login opened before the lock.
    let (raw, first) = pending.last_mut().unwrap();
    let salt = scram::unb64(first["salt"].as_str().unwrap()).unwrap();
    let iterations = first["iterations"].as_u64().unwrap() as u32;
    let ex = Exchange {
        user: "victim",
        client_nonce: nonce,
        nonce: first["nonce"].as_str().unwrap(),
        salt: &salt,
        iterations,
    };
    let keys = ClientKeys::from_salted(&scram::salted_password(PASSWORD.as_bytes(), &salt, iterations));
    let reply = raw.call(json!({"op": "login_proof", "proof": scram::b64(&keys.proof(&ex.auth_message()))}));
    assert_eq!(code(&reply), "too_many_attempts", "a correct password during the lock: {reply}");
}
