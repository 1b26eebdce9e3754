//! Issue 17's behaviour in a real terminal (see the crate header).

use super::common::wait_until;
use super::relay::slow_relay;
use super::{PASSWORD, require_tmux, setup};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn a_password_typed_after_the_handshake_deadline_still_logs_in() {
    require_tmux();
    let s = setup(|c| c.handshake_timeout = Duration::from_secs(1));
    let pane = s.pane("late", &s.f.addr());
    pane.wait_for("[r]egister, [l]ogin or [q]uit?");
    pane.type_text("l\n");
    pane.wait_for("Username:");
    pane.type_text("alice\n");
    pane.wait_for("Password:");
    // Twice the server's deadline: a client that had connected already
    // would now hold a dead socket.
    std::thread::sleep(Duration::from_secs(2));
    pane.type_text(&format!("{PASSWORD}\n"));
    pane.wait_for("Logged in as alice.");
    pane.type_text("pwd\n");
    pane.wait(" pwd then /", |s| s.lines().any(|l| l == "/"));
    assert!(s.f.accounts_log().iter().all(|r| r["event"] != "timeout"), "{:?}", s.f.accounts_log());
}

#[test]
fn history_survives_a_restart_tab_completes_remote_names_and_ctrl_c_clears_the_line() {
    require_tmux();
    let s = setup(|_| {});
    let local = s.work.path().join("report-2026.pdf");
    std::fs::write(&local, b"quarterly numbers").unwrap();
    s.alice().put(&local, "report-2026.pdf", &Default::default(), &mut mioftp_client::NoProgress).unwrap();

    let first = s.pane("history1", &s.f.addr());
    first.login();
    first.type_text("lpwd\n");
    first.wait_for(&s.work.path().display().to_string());
    // Tab completion of a remote name, from a listing of the folder.
    first.type_text("get rep");
    first.keys(&["Tab"]);
    first.wait("the completed name", |_| first.last_line().trim_end() == "mioftp alice:/> get report-2026.pdf");
    // Ctrl-C at the prompt drops the line instead of ending the client.
    first.keys(&["C-c"]);
    first.wait("a fresh prompt", |_| first.last_line().trim_end() == "mioftp alice:/>");
    first.type_text("exit\n");
    first.wait("mioftp to exit", |_| first.dead());
    drop(first);

    let history = std::fs::read_to_string(s.home.path().join(".local/state/mioftp/history")).unwrap();
    assert!(history.contains("lpwd") && !history.contains(PASSWORD), "{history}");
    assert!(!history.contains("get rep"), "a cleared line is not history: {history}");

    let second = s.pane("history2", &s.f.addr());
    second.login();
    second.keys(&["Up"]);
    second.wait("exit recalled", |_| second.last_line().trim_end() == "mioftp alice:/> exit");
    second.keys(&["Up"]);
    second.wait("lpwd recalled", |_| second.last_line().trim_end() == "mioftp alice:/> lpwd");
    // Ctrl-C drops the recalled line; Ctrl-D leaves.
    second.keys(&["C-c"]);
    second.wait("a fresh prompt", |_| second.last_line().trim_end() == "mioftp alice:/>");
    second.keys(&["C-d"]);
    second.wait("mioftp to exit", |_| second.dead());
}

#[test]
fn ctrl_c_in_the_middle_of_a_get_returns_to_the_prompt_and_the_next_get_resumes() {
    require_tmux();
    let s = setup(|_| {});
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let upload = tempfile::tempdir().unwrap();
    std::fs::write(upload.path().join("big.bin"), &data).unwrap();
    s.alice()
        .put(&upload.path().join("big.bin"), "big.bin", &Default::default(), &mut mioftp_client::NoProgress)
        .unwrap();

    let slow = Arc::new(AtomicBool::new(true));
    let relay = slow_relay(s.f.addr(), slow.clone());
    let pane = s.pane("cancel", &relay);
    pane.login();
    pane.type_text("get big.bin\n");
    // The bar appears once bytes move; interrupt then.
    pane.wait("the progress bar", |screen| screen.contains("get big.bin [") && screen.contains("/8.00 MiB"));
    pane.keys(&["C-c"]);
    pane.wait_for("cancelled");
    pane.wait("the prompt again", |_| pane.last_line().trim_end() == "mioftp alice:/>");
    let part = s.work.path().join("big.bin.mioftp-part");
    let kept = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert!(kept > 0 && kept < data.len() as u64, "kept {kept} bytes");
    assert!(!s.work.path().join("big.bin").exists());

    slow.store(false, Ordering::SeqCst);
    pane.type_text("get big.bin\n");
    let screen = pane.wait_for("sha256 verified");
    assert!(screen.contains("resumed at"), "{screen}");
    assert_eq!(std::fs::read(s.work.path().join("big.bin")).unwrap(), data);
}

#[test]
fn after_the_server_drops_an_idle_session_the_next_command_reconnects_in_the_same_folder() {
    require_tmux();
    let s = setup(|c| c.idle_timeout = Duration::from_millis(1500));
    let pane = s.pane("idle", &s.f.addr());
    pane.login();
    pane.type_text("mkdir -p docs/2026\n");
    pane.wait_for("created /docs/2026");
    pane.type_text("cd docs/2026\n");
    pane.wait_for("mioftp alice:/docs/2026>");
    wait_until("the server to drop the idle session", || {
        s.f.accounts_log().iter().any(|r| r["event"] == "logout" && r["message"] == "timeout")
    });
    pane.type_text("pwd\n");
    let screen = pane.wait("pwd's answer", |screen| screen.lines().any(|l| l == "/docs/2026"));
    assert!(screen.contains("reconnected as alice in /docs/2026"), "{screen}");
    let logins = s.f.accounts_log().iter().filter(|r| r["event"] == "login" && r["outcome"] == "ok").count();
    assert_eq!(logins, 2, "the pane's login and the re-login");
}
