//! File commands and downloads aimed at the home itself or at directories,
//! and download offsets that cannot be honoured.

use super::*;
use serde_json::json;

#[test]
fn get_of_a_directory_or_the_home_is_is_a_directory() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["sub", "sub/", "/", ".", "sub/.."] {
        let reply = raw.call(json!({"op": "get", "path": path}));
        assert_eq!(code(&reply), "is_a_directory", "{path:?}: {reply}");
    }
    assert_eq!(raw.call(json!({"op": "noop"})), json!({"ok": true}));
    a.finish(&["sub/"]);
}

#[test]
fn rm_of_the_home_in_any_spelling_is_bad_request() {
    let a = arena();
    let mut raw = a.mallory();
    assert_eq!(raw.call(json!({"op": "mkdir", "path": "sub"}))["created"], true);
    for path in ["/", ".", "//", "/.", "sub/..", "/sub/../"] {
        let reply = raw.call(json!({"op": "rm", "path": path}));
        assert_eq!(code(&reply), "bad_request", "{path:?}: {reply}");
    }
    assert!(a.home().is_dir());
    a.finish(&["sub/"]);
}

#[test]
fn a_download_offset_beyond_the_file_or_without_a_matching_etag_starts_at_zero() {
    let a = arena();
    std::fs::write(a.home().join("m.txt"), b"mallory's data").unwrap();
    let mut raw = a.mallory();
    let first = raw.call(json!({"op": "get", "path": "m.txt"}));
    raw.read_body(14);
    raw.recv();
    let etag = first["etag"].as_str().unwrap().to_owned();
    for (offset, if_match) in
        [(u64::MAX, Some(etag.as_str())), (15, Some(etag.as_str())), (5, None), (5, Some("bogus"))]
    {
        let start = raw.call(json!({"op": "get", "path": "m.txt", "offset": offset, "if_match": if_match}));
        assert_eq!((start["offset"].as_u64(), start["size"].as_u64()), (Some(0), Some(14)), "{offset}: {start}");
        assert_eq!(raw.read_body(14), b"mallory's data");
        assert_eq!(raw.recv()["sha256"], sha256_hex(b"mallory's data"));
    }
    a.finish(&["m.txt"]);
}
