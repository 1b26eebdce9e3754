//! The small habits at the prompt of a real terminal: `cd -` goes back (and
//! the prompt follows), `lcd ~` and `lcd -`, `rm -r` asks before anything
//! is sent, `!` runs a local command.

use super::{require_tmux, setup};

#[test]
fn cd_dash_goes_back_rm_r_asks_and_bang_runs_locally() {
    require_tmux();
    let s = setup(|_| {});
    let pane = s.pane("habits", &s.f.addr());
    pane.login();
    pane.type_text("mkdir -p docs/2026\n");
    pane.wait_for("created /docs/2026");
    pane.type_text("cd docs/2026\n");
    pane.wait_prompt("mioftp alice:/docs/2026>");
    pane.type_text("cd /\n");
    pane.wait_prompt("mioftp alice:/>");
    pane.type_text("cd -\n");
    let screen = pane.wait_prompt("mioftp alice:/docs/2026>");
    assert!(screen.lines().any(|l| l == "/docs/2026"), "cd - says where it went:\n{screen}");
    pane.type_text("cd -\n");
    pane.wait_prompt("mioftp alice:/>");

    pane.type_text("rm -r docs\n");
    pane.wait_for("remove docs and everything in it? [y/N]");
    pane.type_text("n\n");
    pane.wait_for("nothing removed");
    assert!(s.f.home("docs/2026").is_dir());

    pane.type_text("!echo $((6 * 7)) from the shell\n");
    pane.wait("the local command's output", |screen| screen.lines().any(|l| l == "42 from the shell"));
    let home = s.home.path().display().to_string();
    pane.type_text("lcd ~\n");
    pane.type_text("lpwd\n");
    pane.wait("lpwd at home", |screen| screen.lines().any(|l| l == home));
    pane.type_text("lcd -\n");
    let work = s.work.path().display().to_string();
    pane.wait("lcd - says where it went", |screen| screen.lines().filter(|l| *l == work).count() == 1);
    pane.wait_prompt("mioftp alice:/>");
}
