//! The request decode, op by op: every op decodes from a valid header, every
//! op gets `bad_request` for each missing or mistyped field and `unknown_op`
//! for each way its name can be wrong. The table is an exhaustive match, so
//! a new op does not compile until it has its cases here.

use super::*;
use serde_json::json;

fn header(v: Value) -> Header {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A valid header of `op`, and headers of `op` that must get `bad_request`
/// (a required field missing, or a field of the wrong JSON type). Ops without
/// fields have none: unknown fields are ignored, so nothing can be wrong.
fn cases(op: Op) -> (Value, Vec<Value>) {
    let key = "c2VjcmV0LWtleS1vZi0zMi1ieXRlcy0xMjM0NTY3OA==";
    match op {
        Op::Auth => {
            (json!({"op": "auth", "hmac": "aGk="}), vec![json!({"op": "auth"}), json!({"op": "auth", "hmac": 5})])
        }
        Op::CheckUser => (
            json!({"op": "check_user", "user": "alice"}),
            vec![json!({"op": "check_user"}), json!({"op": "check_user", "user": ["alice"]})],
        ),
        Op::Register => {
            let ok = json!({"op": "register", "user": "a", "salt": "c2FsdA==", "iterations": 1000, "stored_key": key, "server_key": key});
            let with = |k: &str, v: Value| {
                let mut h = ok.clone();
                h[k] = v;
                h
            };
            let without = |k: &str| {
                let mut h = ok.clone();
                h.as_object_mut().unwrap().remove(k);
                h
            };
            let bad = vec![
                without("user"),
                without("salt"),
                without("iterations"),
                without("stored_key"),
                without("server_key"),
                with("user", json!(7)),
                with("iterations", json!(-1)),
                with("iterations", json!(1u64 << 32)),
                with("iterations", json!("1000")),
                with("stored_key", Value::Null),
                with("token", json!(5)),
            ];
            (ok, bad)
        }
        Op::Login => (
            json!({"op": "login", "user": "alice", "nonce": "n0nce-123"}),
            vec![
                json!({"op": "login"}),
                json!({"op": "login", "user": "alice"}),
                json!({"op": "login", "nonce": "n0nce-123"}),
                json!({"op": "login", "user": 5, "nonce": "abcdefgh"}),
            ],
        ),
        Op::LoginProof => (
            json!({"op": "login_proof", "proof": "cHJvb2Y="}),
            vec![json!({"op": "login_proof"}), json!({"op": "login_proof", "proof": ["x"]})],
        ),
        Op::Logout => (json!({"op": "logout"}), vec![]),
        Op::Exit => (json!({"op": "exit"}), vec![]),
        Op::Noop => (json!({"op": "noop"}), vec![]),
        Op::Pwd => (json!({"op": "pwd"}), vec![]),
        Op::Cd => (json!({"op": "cd", "path": "/a"}), vec![json!({"op": "cd"}), json!({"op": "cd", "path": 1})]),
        Op::Mkdir => (
            json!({"op": "mkdir", "path": "d", "parents": true}),
            vec![json!({"op": "mkdir"}), json!({"op": "mkdir", "path": "d", "parents": "yes"})],
        ),
        Op::Rm => (json!({"op": "rm", "path": "f"}), vec![json!({"op": "rm"}), json!({"op": "rm", "path": []})]),
        Op::Dir => (json!({"op": "dir", "path": "/"}), vec![json!({"op": "dir", "path": 5})]),
        Op::Quota => (json!({"op": "quota"}), vec![]),
        Op::Put => (
            json!({"op": "put", "path": "f", "length": 10, "resume": false}),
            vec![
                json!({"op": "put", "length": 10}),
                json!({"op": "put", "path": "f"}),
                json!({"op": "put", "path": "f", "length": -1}),
                json!({"op": "put", "path": "f", "length": 1.5}),
                json!({"op": "put", "path": "f", "length": "10"}),
                json!({"op": "put", "path": "f", "length": 10, "resume": "no"}),
            ],
        ),
        Op::PutData => (json!({"op": "put_data", "size": 3}), vec![]),
        Op::PutDone => (
            json!({"op": "put_done", "sha256": "00"}),
            vec![json!({"op": "put_done"}), json!({"op": "put_done", "sha256": false})],
        ),
        Op::Get => (
            json!({"op": "get", "path": "f", "offset": 4, "if_match": "e"}),
            vec![
                json!({"op": "get"}),
                json!({"op": "get", "path": "f", "offset": -5}),
                json!({"op": "get", "path": "f", "if_match": 3}),
            ],
        ),
    }
}

#[test]
fn every_op_decodes_from_a_valid_header_and_serialises_back() {
    for &op in Op::ALL {
        let (valid, _) = cases(op);
        let req = Request::from_header(header(valid.clone())).unwrap_or_else(|e| panic!("{op}: {e:?}"));
        assert_eq!(req.op(), op);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["op"], op.as_str(), "the serde tag is the op's name");
        assert_eq!(Request::from_header(header(v)).unwrap(), req, "{op} round trip");
    }
}

#[test]
fn every_op_with_a_missing_or_mistyped_field_is_bad_request() {
    for &op in Op::ALL {
        let (valid, bad) = cases(op);
        let has_fields = valid.as_object().unwrap().keys().any(|k| k != "op" && k != "size");
        assert_eq!(bad.is_empty(), !has_fields, "{op}: every op with fields has bad_request cases");
        for h in bad {
            let refused = Request::from_header(header(h.clone())).expect_err(&h.to_string());
            assert_eq!(refused.op, Some(op), "{h}");
            assert_eq!(refused.error.code, ErrorCode::BadRequest, "{h}: {}", refused.error);
        }
    }
}

#[test]
fn every_op_misspelt_mistyped_or_missing_is_unknown_op() {
    for &op in Op::ALL {
        let (valid, _) = cases(op);
        let name = op.as_str();
        let mut wrong: Vec<Value> = [
            json!(name.to_uppercase()),
            json!(format!("{name} ")),
            json!(format!("{name}\0")),
            json!([name]),
            json!({"name": name}),
            Value::Null,
            json!(1),
        ]
        .into_iter()
        .map(|o| {
            let mut h = valid.clone();
            h["op"] = o;
            h
        })
        .collect();
        let mut missing = valid.clone();
        missing.as_object_mut().unwrap().remove("op");
        wrong.push(missing);
        for h in wrong {
            let refused = Request::from_header(header(h.clone())).expect_err(&h.to_string());
            assert_eq!(refused.op, None, "{h}");
            assert_eq!(refused.error.code, ErrorCode::UnknownOp, "{h}: {}", refused.error);
        }
    }
}

#[test]
fn registers_token_is_optional_and_left_out_when_absent() {
    let key = "c2VjcmV0LWtleS1vZi0zMi1ieXRlcy0xMjM0NTY3OA==";
    let plain = json!({"op": "register", "user": "a", "salt": "c2FsdA==", "iterations": 1000, "stored_key": key, "server_key": key});
    let mut with = plain.clone();
    with["token"] = json!("00112233445566778899aabbccddeeff");
    let Ok(Request::Register { token, .. }) = Request::from_header(header(plain.clone())) else { panic!() };
    assert_eq!(token, None);
    let request = Request::from_header(header(with.clone())).unwrap();
    assert!(matches!(&request, Request::Register { token: Some(t), .. } if t.len() == 32));
    assert_eq!(serde_json::to_value(&request).unwrap(), with);
    let Ok(untokened) = Request::from_header(header(plain.clone())) else { panic!() };
    assert_eq!(serde_json::to_value(untokened).unwrap(), plain, "no \"token\": null on the wire");
}

#[test]
fn op_names_are_unique_snake_case_and_parse_back() {
    for &op in Op::ALL {
        assert_eq!(Op::parse(op.as_str()), Some(op));
        assert!(op.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{op}");
        assert_eq!(Op::ALL.iter().filter(|o| o.as_str() == op.as_str()).count(), 1, "{op}");
    }
    assert_eq!(Op::ALL.len(), 18);
    assert_eq!(Op::parse("format_disk"), None);
}

#[test]
fn an_unknown_op_is_named_in_the_message_shortened() {
    let long = "x".repeat(500);
    let refused = Request::from_header(header(json!({ "op": long }))).unwrap_err();
    assert_eq!(refused.error.message, format!("unknown op \"{}\"", "x".repeat(64)));
}

#[test]
fn extra_fields_are_ignored_and_defaults_filled() {
    assert_eq!(Request::from_header(header(json!({"op": "noop", "tag": 1}))).unwrap(), Request::Noop);
    let put = Request::from_header(header(json!({"op": "put", "path": "f", "length": 1}))).unwrap();
    assert_eq!(put, Request::Put { path: "f".into(), length: 1, resume: true });
    let get = Request::from_header(header(json!({"op": "get", "path": "f"}))).unwrap();
    assert_eq!(get, Request::Get { path: "f".into(), offset: 0, if_match: None });
}
