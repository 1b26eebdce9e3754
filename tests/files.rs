//! The file-system commands through the client library against the real
//! server: `pwd`, `cd`, `mkdir` (with and without parents), `rm` (refusing a
//! non-empty directory), `quota`, and `dir` with its summary, including a
//! listing large enough to span several reply frames.

mod common;
use common::*;
use mioftp::protocol::ErrorCode;
use mioftp::protocol::messages::EntryKind;
use mioftp_client::{NoProgress, PutOptions};

#[test]
fn pwd_starts_at_the_home_and_cd_follows_relative_and_absolute_paths() {
    let server = TestServer::start();
    let mut c = server.user("alice");
    assert_eq!(c.pwd().unwrap(), "/");
    c.mkdir("docs/letters", true).unwrap();
    assert_eq!(c.cd("docs").unwrap(), "/docs");
    assert_eq!(c.cd("letters/").unwrap(), "/docs/letters");
    assert_eq!(c.cd("..//.").unwrap(), "/docs");
    assert_eq!(c.pwd().unwrap(), "/docs");
    assert_eq!(c.cd("/docs/letters").unwrap(), "/docs/letters");
    assert_eq!(c.cd("/").unwrap(), "/");
    assert_eq!(c.cwd(), "/");
}

#[test]
fn cd_refusals_carry_their_codes_and_leave_the_directory_alone() {
    let server = TestServer::start();
    let mut c = server.user("bob");
    c.mkdir("d", false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    random_file(&local, 5, 1);
    c.put(&local, "d/file", &PutOptions::default(), &mut NoProgress).unwrap();
    c.cd("d").unwrap();
    for (path, code) in [
        ("../..", ErrorCode::PathEscape),
        ("nowhere", ErrorCode::NotFound),
        ("file", ErrorCode::NotADirectory),
        ("", ErrorCode::PathInvalid),
        (".mioftp-x", ErrorCode::PathInvalid),
    ] {
        let err = c.cd(path).unwrap_err();
        assert_eq!(err.code(), Some(code), "cd {path:?}: {err}");
        assert!(!err.to_string().contains('{'), "human message: {err}");
    }
    assert_eq!(c.pwd().unwrap(), "/d");
}

#[test]
fn mkdir_needs_parents_unless_asked_and_p_accepts_existing_directories() {
    let server = TestServer::start();
    let mut c = server.user("carol");
    let err = c.mkdir("a/b/c", false).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound), "{err}");
    let made = c.mkdir("a/b/c", true).unwrap();
    assert_eq!((made.path.as_str(), made.created), ("/a/b/c", true));
    let again = c.mkdir("a/b/c", true).unwrap();
    assert!(!again.created);
    let err = c.mkdir("a/b", false).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Exists), "{err}");
    c.cd("a").unwrap();
    assert_eq!(c.mkdir("x", false).unwrap().path, "/a/x");
    assert!(server.path("home/carol/a/b/c").is_dir());
}

#[test]
fn rm_removes_files_and_empty_directories_and_refuses_non_empty_ones() {
    let server = TestServer::start();
    let mut c = server.user("dave");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    random_file(&local, 1234, 2);
    c.mkdir("full/empty", true).unwrap();
    c.put(&local, "full/f.bin", &PutOptions::default(), &mut NoProgress).unwrap();

    let err = c.rm("full").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotEmpty), "{err}");
    let removed = c.rm("full/f.bin").unwrap();
    assert_eq!((removed.path.as_str(), removed.kind, removed.freed), ("/full/f.bin", EntryKind::File, 1234));
    assert_eq!(c.rm("full/empty").unwrap().kind, EntryKind::Dir);
    assert_eq!(c.rm("/full").unwrap().kind, EntryKind::Dir);
    assert_eq!(c.rm("full").unwrap_err().code(), Some(ErrorCode::NotFound));
    assert_eq!(c.rm("/").unwrap_err().code(), Some(ErrorCode::BadRequest));
    assert!(c.dir(None).unwrap().entries.is_empty());
}

#[test]
fn quota_counts_stored_bytes_and_rm_gives_them_back() {
    let server = TestServer::start();
    let mut c = server.user("erin");
    let before = c.quota().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    random_file(&local, 100_000, 3);
    c.put(&local, "f.bin", &PutOptions::default(), &mut NoProgress).unwrap();
    let after = c.quota().unwrap();
    assert_eq!(after.used, before.used + 100_000);
    assert_eq!(after.limit, before.limit);
    assert_eq!(c.rm("f.bin").unwrap().freed, 100_000);
    assert_eq!(c.quota().unwrap().used, before.used);
}

#[test]
fn dir_lists_kinds_and_sizes_with_a_summary_that_matches_quota() {
    let server = TestServer::start();
    let mut c = server.user("fred");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f");
    random_file(&local, 4321, 4);
    c.mkdir("music", false).unwrap();
    c.put(&local, "b.txt", &PutOptions::default(), &mut NoProgress).unwrap();
    c.put(&local, "music/a.mp3", &PutOptions::default(), &mut NoProgress).unwrap();

    let listing = c.dir(None).unwrap().sorted();
    assert_eq!(listing.path, "/");
    let names: Vec<_> = listing.entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(names, [("music", EntryKind::Dir), ("b.txt", EntryKind::File)]);
    assert_eq!(listing.get("b.txt").unwrap().size, 4321);
    assert!(listing.get("b.txt").unwrap().mtime > 1_600_000_000);
    assert_eq!(listing.summary.count, 2);
    let quota = c.quota().unwrap();
    assert_eq!((listing.summary.used, listing.summary.limit), (quota.used, quota.limit));
    assert_eq!(quota.used, 2 * 4321);

    let music = c.dir(Some("music")).unwrap();
    assert_eq!(music.path, "/music");
    assert_eq!(music.entries.len(), 1);
    let one = c.dir(Some("music/a.mp3")).unwrap();
    assert_eq!((one.entries.len(), one.entries[0].name.as_str()), (1, "a.mp3"));
    assert_eq!(c.dir(Some("nothing")).unwrap_err().code(), Some(ErrorCode::NotFound));
    c.noop().expect("a refused dir leaves the session usable");
}

#[test]
fn a_large_listing_spans_several_frames_and_counts_every_entry() {
    const N: usize = 600;
    let server = TestServer::start();
    let mut c = server.user("gina");
    // 600 names of ~200 bytes: well over the 64 KiB a single frame can hold.
    let names: Vec<String> = (0..N).map(|i| format!("{i:04}-{}", "n".repeat(195))).collect();
    for name in &names {
        c.mkdir(name, false).unwrap();
    }
    let listing = c.dir(None).unwrap().sorted();
    assert_eq!(listing.summary.count, N as u64);
    let got: Vec<_> = listing.entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(got, names);
    c.noop().expect("every dir frame was consumed");
}
