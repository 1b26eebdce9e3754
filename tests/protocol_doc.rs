//! docs/PROTOCOL.md is the contract independent clients are written from.
//! These tests keep it true: every error code and op is documented, and the
//! example exchange's lengths, HMAC and SCRAM values are recomputed here.

use mioftp::protocol::scram::{self, ClientKeys, Exchange};
use mioftp::protocol::{ErrorCode, Request};
use serde_json::Value;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).expect("docs/PROTOCOL.md")
}

/// The example exchange: (direction, declared length, header JSON).
fn example() -> Vec<(char, usize, Value)> {
    doc()
        .lines()
        .filter_map(|l| {
            let (dir, rest) = l.split_once(": ")?;
            let dir = match dir {
                "C" => 'C',
                "S" => 'S',
                _ => return None,
            };
            let (hex, json) = rest.split_once(' ')?;
            let len = usize::from_str_radix(hex, 16).ok()?;
            assert_eq!(json.len(), len, "declared length of {json}");
            Some((dir, len, serde_json::from_str(json).expect("example header is JSON")))
        })
        .collect()
}

#[test]
fn every_error_code_is_documented() {
    let doc = doc();
    for code in ErrorCode::ALL {
        assert!(doc.contains(&format!("| `{}` |", code.as_str())), "{code} missing from the error table");
    }
}

#[test]
fn every_op_is_documented() {
    let doc = doc();
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
    for op in Request::OPS {
        let tick = format!("`{op}`");
        assert!(headings.iter().any(|h| h.contains(&tick)), "op {op} has no section heading");
    }
}

#[test]
fn the_example_exchange_is_consistent_and_its_crypto_recomputes() {
    let frames = example();
    assert!(frames.len() >= 12, "example exchange not found");
    let find = |pred: &dyn Fn(&Value) -> bool| frames.iter().map(|f| &f.2).find(|v| pred(v)).unwrap().clone();
    let hello = find(&|v| v["notice"] == "hello");
    let auth = find(&|v| v["op"] == "auth");
    let key: Vec<u8> = (0u8..32).collect();
    let challenge = scram::unb64(hello["challenge"].as_str().unwrap()).unwrap();
    assert_eq!(challenge, (32u8..64).collect::<Vec<_>>());
    assert_eq!(auth["hmac"], scram::b64(&scram::hmac(&key, &challenge)));

    let reg = find(&|v| v["op"] == "register");
    let login = find(&|v| v["op"] == "login");
    let first = find(&|v| v.get("nonce").is_some() && v["ok"] == true);
    let proof = find(&|v| v["op"] == "login_proof");
    let fin = find(&|v| v.get("server_signature").is_some());

    let salt = scram::unb64(reg["salt"].as_str().unwrap()).unwrap();
    let iterations = reg["iterations"].as_u64().unwrap() as u32;
    let keys = ClientKeys::from_salted(&scram::salted_password(b"pencil", &salt, iterations));
    assert_eq!(reg["stored_key"], scram::b64(&keys.stored_key));
    assert_eq!(reg["server_key"], scram::b64(&keys.server_key));

    let ex = Exchange {
        user: login["user"].as_str().unwrap(),
        client_nonce: login["nonce"].as_str().unwrap(),
        nonce: first["nonce"].as_str().unwrap(),
        salt: &salt,
        iterations,
    };
    let auth_message = ex.auth_message();
    assert!(doc().contains(&auth_message), "the AuthMessage shown in the doc differs from the code's");
    assert_eq!(proof["proof"], scram::b64(&keys.proof(&auth_message)));
    assert_eq!(fin["server_signature"], scram::b64(&scram::server_signature(&keys.server_key, &auth_message)));
}

#[test]
fn every_example_reply_parses_as_the_client_would() {
    for (dir, _, v) in example() {
        if dir == 'S' {
            let Value::Object(map) = v else { panic!("not an object") };
            mioftp::protocol::messages::classify(map).expect("a valid server frame");
        } else {
            let Value::Object(map) = v else { panic!("not an object") };
            Request::from_header(map).expect("a valid request");
        }
    }
}
