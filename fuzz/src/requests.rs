//! The requests the `Request` op builds: typed fields with arbitrary
//! values, so the fuzzer reaches every handler with well-formed and
//! malformed requests alike.

use crate::output::hex;
use crate::script::{PATHS, Req, USERS};
use crate::session::{CLIENT_NONCE, SALT};
use mioftp_proto::scram;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The request a [`Req`] stands for, and the length of body to send after it.
pub fn request_header(r: &Req, last_etag: Option<String>) -> (Value, usize) {
    let path = r.text.resolve(PATHS);
    let num = if r.num == u32::MAX { u64::MAX } else { u64::from(r.num) };
    let small = (r.num % 70_000) as usize;
    let op = |name: &str| json!({ "op": name });
    let v = match r.kind % 22 {
        0 => json!({"op": "auth", "hmac": path}),
        1 => json!({
            "op": "register", "user": r.text.resolve(USERS), "salt": scram::b64(SALT), "iterations": num,
            "stored_key": scram::b64(&[1; 32]), "server_key": scram::b64(&[2; 32]),
        }),
        2 => {
            json!({"op": "login", "user": r.text.resolve(USERS), "nonce": if r.flag { CLIENT_NONCE } else { "short" }})
        }
        3 => json!({"op": "login_proof", "proof": path}),
        4 => op("logout"),
        5 => op("exit"),
        6 => op("noop"),
        7 => op("pwd"),
        8 => json!({"op": "cd", "path": path}),
        9 => json!({"op": "mkdir", "path": path, "parents": r.flag}),
        10 => json!({"op": "rm", "path": path}),
        11 if r.flag => json!({"op": "dir", "path": path}),
        11 => op("dir"),
        12 => op("quota"),
        13 => {
            json!({"op": "put", "path": path, "length": if r.flag { num } else { (r.num % 4096) as u64 }, "resume": r.flag})
        }
        14 => return (json!({"op": "put_data", "size": small}), small),
        15 => json!({"op": "put_done", "sha256": if r.flag { hex(&Sha256::digest(b"")) } else { path }}),
        16 => match last_etag.filter(|_| r.flag) {
            Some(etag) => json!({"op": "get", "path": path, "offset": num % 100_000, "if_match": etag}),
            None => json!({"op": "get", "path": path, "offset": num}),
        },
        // A body where none is allowed, unknown ops, no op, wrong types.
        17 => return (json!({"op": "noop", "size": small}), small),
        18 => json!({"op": path}),
        19 => json!({"path": path}),
        20 => json!({"op": "cd", "path": num}),
        _ => json!({"op": "put", "path": path, "length": -1}),
    };
    (v, 0)
}
