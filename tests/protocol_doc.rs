//! docs/PROTOCOL.md is the contract independent clients are written from.
//! These tests keep it true: every error code and op is documented, and the
//! example exchange's lengths, HMAC and SCRAM values are recomputed here.

use mioftp::protocol::scram::{self, ClientKeys, Exchange};
use mioftp::protocol::{ErrorCode, Op, Request};
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

/// The first cells of a section's table rows: the `code` of each `| `code` | ... |` line
/// from the heading that starts with `from` up to the next heading.
fn table_codes(doc: &str, from: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(from));
    assert!(lines.next().is_some(), "no section {from:?}");
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| `")?.split_once("` |").map(|(code, _)| code.to_owned()))
        .collect()
}

fn names(codes: impl Iterator<Item = ErrorCode>) -> Vec<String> {
    codes.map(|c| c.as_str().to_owned()).collect()
}

#[test]
fn the_error_table_lists_exactly_the_wire_codes_in_enum_order() {
    // Equal sequences: every documented code is in the enum, once, and every
    // wire code of the enum is documented, once.
    let documented = table_codes(&doc(), "## 6. Error codes");
    let wire = names(ErrorCode::ALL.iter().copied().filter(|c| c.on_wire()));
    assert_eq!(documented, wire, "docs/PROTOCOL.md §6 and ErrorCode disagree");
}

#[test]
fn the_audit_only_table_lists_exactly_the_reasons_never_sent() {
    let documented = table_codes(&doc(), "### 6.1 ");
    let audit_only = names(ErrorCode::ALL.iter().copied().filter(|c| !c.on_wire()));
    assert_eq!(documented, audit_only, "docs/PROTOCOL.md §6.1 and ErrorCode disagree");
    let audit_doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/AUDIT.md")).unwrap();
    assert_eq!(table_codes(&audit_doc, "### Reasons only the logs use"), audit_only, "docs/AUDIT.md");
}

#[test]
fn the_table_reader_sees_a_missing_or_extra_row() {
    let doc = "## 6. Error codes\n| code | x |\n|---|---|\n| `a` | m |\n| `b` | m |\n### 6.1 More\n| `c` | m |\n## 7. Next\n| `d` | m |\n";
    assert_eq!(table_codes(doc, "## 6. Error codes"), ["a", "b"]);
    assert_eq!(table_codes(doc, "### 6.1 "), ["c"]);
}

#[test]
fn every_op_is_documented() {
    let doc = doc();
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
    for op in Op::ALL {
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
