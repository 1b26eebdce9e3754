//! A full disk: `put_done` is answered `no_space`, the partial is kept, and
//! the upload resumes once there is room.

use super::*;

#[test]
fn a_full_disk_answers_put_done_with_no_space_keeps_the_partial_and_resumes_later() {
    let server = TestServer::start_with(|c| c.fault_disk_full_after = Some(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    let digest = random_file(&local, 3_000_000, 4);
    let data = std::fs::read(&local).unwrap();
    let mut healthy = server.user("steady");
    let mut up = login_raw(&server, "filler");
    assert_eq!(up.call(json!({"op": "put", "path": "big.bin", "length": data.len()}))["offset"], 0);
    up.send(json!({"op": "put_data", "size": data.len()}));
    up.send_bytes(&data);
    // The failure is remembered, not replied to, until put_done.
    assert_eq!(up.recv_within(Duration::from_millis(300)), Seen::Nothing);
    healthy.dir(None).expect("another client is served meanwhile");
    let reply = up.call(json!({"op": "put_done", "sha256": digest}));
    assert_eq!(code(&reply), "no_space", "{reply}");
    let rec = server.wait_for_record(UPLOADS, |r| r["reason"] == "no_space");
    let kept = rec["bytes"].as_u64().unwrap();
    assert_eq!(rec["outcome"], "incomplete");
    assert!(kept > 0 && kept <= 1_000_000, "{rec}");
    assert_eq!(up.call(json!({"op": "quota"}))["used"], kept, "the partial counts toward the quota");
    assert!(!server.path("home/filler/big.bin").exists());
    healthy.noop().expect("served");
    drop((up, healthy));

    // The disk has room again: a new server on the same root, no fault.
    let server = server.restart_with(|_| {});
    let mut c = server.login("filler");
    let report = c.put(&local, "big.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    assert_eq!((report.offset, report.restarted, report.sha256.as_str()), (kept, false, digest.as_str()));
    assert_eq!(sha256_file(&server.path("home/filler/big.bin")), digest);
}
