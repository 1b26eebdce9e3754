//! Confinement, proven end to end: hostile paths sent over raw frames to a
//! real server, for every file operation. Nothing outside the user's home is
//! read, listed, written or deleted, and every refusal is in the audit log.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

/// Every file and directory under `root` except the user's own home and the
/// logs (which the test is expected to change), with contents.
fn snapshot(root: &Path, skip: &[&Path]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            let key = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(key, std::fs::read_link(&path).unwrap().to_string_lossy().as_bytes().to_vec());
            } else if meta.is_dir() {
                out.insert(key + "/", Vec::new());
                stack.push(path);
            } else {
                out.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Runs one operation on `path`; returns the error code ("" on success).
fn attempt(raw: &mut Raw, op: &str, path: &str) -> String {
    let reply = match op {
        "get" => raw.call(json!({"op": "get", "path": path})),
        "put" => raw.call(json!({"op": "put", "path": path, "length": 4})),
        "dir" => raw.call(json!({"op": "dir", "path": path})),
        "cd" => raw.call(json!({"op": "cd", "path": path})),
        "mkdir" => raw.call(json!({"op": "mkdir", "path": path, "parents": true})),
        "rm" => raw.call(json!({"op": "rm", "path": path})),
        _ => unreachable!(),
    };
    if reply["ok"] == true {
        // Do not leave a half-finished exchange behind.
        match op {
            "get" => panic!("get of hostile path {path:?} succeeded: {reply}"),
            "put" => panic!("put to hostile path {path:?} was accepted: {reply}"),
            "dir" => panic!("dir of hostile path {path:?} succeeded: {reply}"),
            _ => {}
        }
    }
    code(&reply).to_owned()
}

fn log_for(op: &str) -> &'static str {
    match op {
        "get" => "download_file.log",
        "put" => "upload_file.log",
        _ => "shell_command.log",
    }
}

#[test]
fn hostile_paths_are_refused_for_every_operation_and_audited() {
    let server = TestServer::start();
    // Neighbours and secrets the attacker is after.
    let mut bob = server.user("bob");
    bob.mkdir("private", false).unwrap();
    bob.exit().unwrap();
    std::fs::write(server.path("home/bob/private/secret.txt"), b"bob's secret").unwrap();
    std::fs::write(server.path("outside.txt"), b"not yours").unwrap();
    let mut raw = login_raw(&server, "alice");

    // Links someone with shell access left in alice's home.
    let home = server.path("home/alice");
    symlink("../bob", home.join("to_bob")).unwrap();
    symlink("../..", home.join("to_root")).unwrap();
    symlink("/etc", home.join("to_etc")).unwrap();
    symlink(server.path("outside.txt"), home.join("abs_outside")).unwrap();
    std::fs::create_dir(home.join("sub")).unwrap();
    symlink("../../bob/private", home.join("sub/deep_out")).unwrap();

    let before = snapshot(server.root.path(), &[&home, &server.path("logs")]);
    let long_name = "n".repeat(256);
    let deep = vec!["d"; 65].join("/");
    let huge = "x/".repeat(2100);
    let hostile: Vec<(&str, &[&str])> = vec![
        ("..", &["path_escape"]),
        ("../bob/private/secret.txt", &["path_escape"]),
        ("/../bob/private/secret.txt", &["path_escape"]),
        ("../../outside.txt", &["path_escape"]),
        ("a/../../..", &["path_escape"]),
        ("/./../", &["path_escape"]),
        ("to_bob/private/secret.txt", &["path_escape"]),
        ("to_bob/private", &["path_escape"]),
        ("to_root/outside.txt", &["path_escape"]),
        ("to_root/accounts/bob.json", &["path_escape"]),
        ("to_etc/passwd", &["path_escape"]),
        ("abs_outside", &["path_escape"]),
        ("sub/deep_out/secret.txt", &["path_escape"]),
        ("nul\u{0}byte", &["path_invalid"]),
        ("new\nline", &["path_invalid"]),
        ("del\u{7f}", &["path_invalid"]),
        (".mioftp/partial", &["path_invalid"]),
        ("sub/.mioftp-anything", &["path_invalid"]),
        (&long_name, &["path_invalid"]),
        (&deep, &["path_invalid"]),
        (&huge, &["path_invalid"]),
        ("", &["path_invalid"]),
    ];
    let ops = ["get", "put", "dir", "cd", "mkdir", "rm"];
    let mut refusals = 0;
    for (path, expected) in &hostile {
        for op in ops {
            if op == "rm" && *path == "abs_outside" {
                // Removing a link removes the link itself, which is inside
                // the home and allowed; keep it for the other operations.
                continue;
            }
            let got = attempt(&mut raw, op, path);
            assert!(expected.contains(&got.as_str()), "{op} {path:?}: got {got:?}, expected {expected:?}");
            let rec = server.log(log_for(op)).pop().expect("a record for every refusal");
            assert_eq!(rec["outcome"], "rejected", "{op} {path:?}: {rec}");
            assert_eq!(rec["reason"], got.as_str(), "{op} {path:?}: {rec}");
            assert_eq!(rec["user"], "alice");
            refusals += 1;
        }
    }
    assert!(hostile.len() >= 15);
    assert!(refusals >= 15 * ops.len());

    // Nothing outside alice's home changed, and the session still works.
    assert_eq!(snapshot(server.root.path(), &[&home, &server.path("logs")]), before);
    assert_eq!(raw.call(json!({"op": "pwd"}))["cwd"], "/");
    let listing = raw.call(json!({"op": "dir", "path": "/"}));
    let names: Vec<&str> = listing["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"to_bob"), "links are listed, not followed: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with(".mioftp")), "reserved names are hidden");
}

#[test]
fn links_that_stay_inside_the_home_work() {
    let server = TestServer::start();
    let mut raw = login_raw(&server, "carol");
    let home = server.path("home/carol");
    std::fs::create_dir(home.join("real")).unwrap();
    std::fs::write(home.join("real/file.txt"), b"inside").unwrap();
    symlink("real", home.join("alias")).unwrap();
    assert_eq!(raw.call(json!({"op": "cd", "path": "alias"}))["cwd"], "/alias");
    let start: Value = raw.call(json!({"op": "get", "path": "file.txt"}));
    assert_eq!(start["size"], 6, "{start}");
}
