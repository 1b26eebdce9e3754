//! The config file end to end: the shipped example lists every setting and
//! parses to the defaults; `mioftpd check-config` validates a file and prints
//! the effective settings, stacking defaults < file < MIOFTPD_* variables <
//! flags; an unknown key is refused naming it and its line; and a server
//! started with `--config` serves as the file says.

mod common;
use common::*;
use mioftp::config::Config;
use mioftp::settings::{Settings, file};
use std::path::Path;
use std::process::{Command, Output};

fn example_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mioftpd.example.toml")
}

/// `mioftpd ARGS` with no MIOFTPD_* variable but those in `env`.
fn mioftpd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mioftpd"));
    for (name, _) in std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("MIOFTPD_")) {
        cmd.env_remove(name);
    }
    cmd.args(args).envs(env.iter().copied()).output().expect("run mioftpd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_lists_every_setting_and_parses_to_the_defaults_except_its_root() {
    let example = std::fs::read_to_string(example_path()).unwrap();
    // Every key a complete config has, the key file included.
    let mut all = Settings::of(&Config::new("."));
    all.key_file = Some("/k".into());
    let keys: toml::Table = toml::from_str(&toml::to_string(&all).unwrap()).unwrap();
    let flags = <Settings as clap::Args>::augment_args(clap::Command::new("t")).get_arguments().count();
    assert_eq!(keys.len(), flags, "one key per serve flag: {keys:?}");
    for key in keys.keys() {
        let listed = example.lines().any(|l| {
            let l = l.trim_start_matches("# ");
            l.starts_with(&format!("{key} = "))
        });
        assert!(listed, "docs/mioftpd.example.toml does not list `{key}`");
    }
    let parsed = file::parse(&example).expect("the example parses");
    assert_eq!(parsed.root.as_deref(), Some(Path::new("/var/lib/mioftpd")), "the one documented change");
    let mut config = Config::new("/var/lib/mioftpd");
    parsed.apply(&mut config);
    assert_eq!(format!("{config:?}"), format!("{:?}", Config::new("/var/lib/mioftpd")));
    // And check-config agrees with the library.
    let out = mioftpd(&["check-config", example_path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("root = \"/var/lib/mioftpd\""), "{}", text(&out.stdout));
}

#[test]
fn check_config_prints_a_file_that_parses_back_and_stacks_file_then_variables_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, "max-per-ip = 5\nidle-timeout = 77\ntransfer-timeout = 11\nroot = \"data\"\n").unwrap();
    let path_s = path.to_str().unwrap();
    let env = [("MIOFTPD_MAX_PER_IP", "6"), ("MIOFTPD_IDLE_TIMEOUT", "88")];
    let out = mioftpd(&["check-config", path_s, "--max-per-ip", "7"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let settings = file::parse(&printed).expect("the output is a config file");
    // flag over variable over file over default.
    assert_eq!(settings.max_per_ip, Some(7));
    assert_eq!(settings.idle_timeout, Some(88));
    assert_eq!(settings.transfer_timeout, Some(11));
    assert_eq!(settings.handshake_timeout, Some(Config::new(".").handshake_timeout.as_secs()));
    assert_eq!(settings.root, Some(dir.path().join("data")), "relative to the file's folder");
    assert!(printed.contains("# key-file is not set"), "{printed}");
}

#[test]
fn check_config_refuses_an_unknown_key_naming_it_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "# a comment\nlisten = \"127.0.0.1:2121\"\nmax_per_ip = 3\n").unwrap();
    let out = mioftpd(&["check-config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3") && err.contains("max_per_ip") && err.contains("max-per-ip"), "{err}");
    assert!(out.stdout.is_empty());
    // A value out of range is refused too, naming the setting.
    std::fs::write(&path, "kdf-iterations = 0\n").unwrap();
    let out = mioftpd(&["check-config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("kdf-iterations must be 1 to"), "{}", text(&out.stderr));
}

#[test]
fn a_server_started_with_a_config_file_serves_as_it_says_and_a_bad_file_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let path = dir.path().join("mioftpd.toml");
    std::fs::write(
        &path,
        format!("root = \"data\"\nlisten = \"127.0.0.1:{port}\"\nkdf-iterations = {TEST_ITERATIONS}\nmin-password-len = 12\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mioftpd"))
        .args(["--config", path.to_str().unwrap()])
        .env_remove("MIOFTPD_ROOT")
        .env_remove("MIOFTPD_LISTEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let up = poll_until(IO_TIMEOUT, || std::net::TcpStream::connect(&addr).is_ok());
    // The key sits in the file's data root, relative to the file's folder.
    let hello = up.then(|| {
        let key = std::fs::read(dir.path().join("data/server.key")).expect("data/server.key");
        mioftp_client::Client::connect(&addr, &key).map(|c| c.hello().clone())
    });
    let _ = child.kill();
    let _ = child.wait();
    let hello = hello.expect("the server listens where the file says").expect("hello and key check");
    assert_eq!((hello.min_iterations, hello.min_password_len), (TEST_ITERATIONS, 12));

    std::fs::write(&path, "listen = \"127.0.0.1:1\"\nmax-connectionz = 3\n").unwrap();
    let out = mioftpd(&["--config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot start") && err.contains("max-connectionz") && err.contains("line 2"), "{err}");
}
