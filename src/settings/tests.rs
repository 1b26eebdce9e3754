//! Tests of the settings overlay: flags, the config file, the precedence
//! rule and the naming rule that ties a flag to its key and variable.

use super::file::{self, SettingsError};
use super::*;
use clap::{Args, CommandFactory, FromArgMatches, Parser};
use std::path::Path;

/// The serve flags on a command of their own, as `mioftpd` has them.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

fn flags(args: &[&str]) -> Settings {
    Cli::try_parse_from(std::iter::once("mioftpd").chain(args.iter().copied())).expect("flags parse").settings
}

fn config(args: &[&str]) -> Config {
    file::effective(None, &flags(args)).expect("valid")
}

fn debug(c: &Config) -> String {
    format!("{c:?}")
}

#[test]
fn without_flags_the_server_runs_on_the_config_defaults() {
    assert_eq!(debug(&config(&[])), debug(&Config::new(".")));
    assert_eq!(config(&["--root", "/srv/x"]).root, PathBuf::from("/srv/x"));
}

#[test]
fn every_flag_overrides_its_setting() {
    let c = config(&[
        "--listen=0.0.0.0:21",
        "--key-file=/k",
        "--min-iterations=7",
        "--min-password-len=3",
        "--handshake-timeout=1",
        "--idle-timeout=2",
        "--transfer-timeout=3",
        "--max-connections=4",
        "--default-quota=unlimited",
        "--partial-max-age-hours=5",
        "--max-per-ip=6",
        "--login-max-failures=8",
        "--login-max-failures-per-ip=11",
        "--login-max-failures-per-user=12",
        "--login-max-backoff=13",
        "--login-window=9",
        "--name-check-max=14",
        "--name-check-window=15",
        "--shutdown-grace=10",
        "--registration=token",
        "--umask=007",
        "--strict-perms",
    ]);
    assert_eq!(c.listen, "0.0.0.0:21".parse().unwrap());
    assert_eq!(c.key_file, Some(PathBuf::from("/k")));
    assert_eq!((c.min_iterations, c.min_password_len), (7, 3));
    let secs = Duration::from_secs;
    assert_eq!((c.handshake_timeout, c.idle_timeout, c.transfer_timeout), (secs(1), secs(2), secs(3)));
    assert_eq!((c.max_connections, c.max_per_ip, c.default_quota), (4, 6, None));
    assert_eq!(c.partial_max_age, secs(5 * 3600));
    assert_eq!((c.login_policy.max_failures, c.login_policy.window), (8, secs(9)));
    let p = c.login_policy;
    assert_eq!((p.max_failures_per_ip, p.max_failures_per_user, p.max_backoff), (11, 12, secs(13)));
    assert_eq!((c.name_check_policy.max, c.name_check_policy.window), (14, secs(15)));
    assert_eq!(c.shutdown_grace, secs(10));
    assert_eq!((c.registration, c.umask, c.strict_perms), (Registration::Token, 0o007, true));
    assert!(!config(&["--strict-perms=false"]).strict_perms);
}

/// Each `[default: X]` that `--help` shows, given back as the flag's value,
/// changes nothing: the help tells the defaults the server uses.
#[test]
fn the_defaults_in_the_help_are_the_ones_the_server_uses() {
    let cmd = Cli::command();
    let mut checked = 0;
    for arg in cmd.get_arguments() {
        let (Some(long), Some(help)) = (arg.get_long(), arg.get_help()) else { continue };
        let help = help.to_string();
        let Some((_, shown)) = help.split_once("[default: ") else { continue };
        let shown = shown.trim_end_matches(']');
        if long == "key-file" {
            continue; // "<root>/server.key": a description, not a value
        }
        let flag = format!("--{long}={shown}");
        assert_eq!(debug(&config(&[&flag])), debug(&config(&[])), "{flag}");
        checked += 1;
    }
    assert_eq!(checked, cmd.get_arguments().count() - 1, "every flag but --key-file shows its default");
}

/// One rule ties the names: `--max-per-ip`, key `max-per-ip`, variable
/// `MIOFTPD_MAX_PER_IP`; and every setting is both a flag and a key.
#[test]
fn every_flag_is_a_config_key_and_a_mioftpd_variable_of_the_same_name() {
    let cmd = Settings::augment_args(clap::Command::new("t"));
    let mut longs: Vec<String> = Vec::new();
    for arg in cmd.get_arguments() {
        let long = arg.get_long().expect("every setting is a long flag").to_owned();
        let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
        assert_eq!(env, format!("MIOFTPD_{}", long.to_uppercase().replace('-', "_")), "--{long}");
        longs.push(long);
    }
    let mut all = Settings::of(&Config::new("."));
    all.key_file = Some("/k".into());
    let table: toml::Table = toml::from_str(&toml::to_string(&all).unwrap()).unwrap();
    let keys: Vec<&String> = table.keys().collect();
    longs.sort();
    let mut keys: Vec<String> = keys.into_iter().cloned().collect();
    keys.sort();
    assert_eq!(keys, longs, "config keys and flags");
}

#[test]
fn a_config_round_trips_through_its_rendered_file() {
    let mut c = config(&["--umask=077", "--default-quota=1500000001", "--key-file=/k", "--registration=closed"]);
    c.login_policy.window = Duration::from_secs(42);
    let text = file::render(&c);
    let mut back = Config::new("/elsewhere");
    file::parse(&text).unwrap().apply(&mut back);
    assert_eq!(debug(&back), debug(&c), "{text}");
    let defaults = file::render(&Config::new("."));
    assert!(defaults.contains("# key-file is not set: the key is ./server.key"), "{defaults}");
}

#[test]
fn an_unknown_key_is_an_error_naming_the_key_and_its_line() {
    let err = file::parse("listen = \"127.0.0.1:21\"\n\nmax-per-ipp = 5\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("max-per-ipp"), "{text}");
    let err = file::parse("[login]\nwindow = 5\n").unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("login"), "{err}");
}

#[test]
fn a_wrong_type_is_an_error_naming_the_line() {
    for (text, line) in [
        ("max-per-ip = \"many\"\n", "line 1"),
        ("\nlisten = \"not an address\"\n", "line 2"),
        ("umask = 27\n", "line 1"),
        ("registration = \"sometimes\"\n", "line 1"),
        ("default-quota = \"lots\"\n", "line 1"),
    ] {
        let err = file::parse(text).unwrap_err().to_string();
        assert!(err.contains(line), "{text}: {err}");
    }
}

#[test]
fn values_out_of_range_in_a_file_are_refused_naming_the_setting() {
    for (text, name) in [
        ("kdf-iterations = 0", "kdf-iterations"),
        ("kdf-iterations = 10000001", "kdf-iterations"),
        ("min-password-len = 0", "min-password-len"),
        ("login-window = 0", "login-window"),
        ("name-check-window = 0", "name-check-window"),
    ] {
        let mut c = Config::new(".");
        file::parse(text).unwrap().apply(&mut c);
        let err = c.validate().unwrap_err();
        assert!(err.starts_with(name), "{text}: {err}");
    }
    assert!(file::parse("max-per-ip = -1").is_err(), "negative counts do not fit");
}

#[test]
fn relative_paths_in_a_file_are_relative_to_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, "root = \"data\"\nkey-file = \"/abs/key\"\n").unwrap();
    let s = file::load(&path).unwrap();
    assert_eq!(s.root, Some(dir.path().join("data")));
    assert_eq!(s.key_file, Some(PathBuf::from("/abs/key")));
}

#[test]
fn the_layers_stack_defaults_then_file_then_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, "max-per-ip = 5\nidle-timeout = 77\n").unwrap();
    let c = file::effective(Some(&path), &flags(&["--max-per-ip", "3"])).unwrap();
    assert_eq!((c.max_per_ip, c.idle_timeout), (3, Duration::from_secs(77)));
    assert_eq!(c.transfer_timeout, Config::new(".").transfer_timeout, "the default stays");
    let missing = file::effective(Some(Path::new("/nonexistent/m.toml")), &Settings::default()).unwrap_err();
    assert!(matches!(missing, SettingsError::Read { .. }), "{missing}");
    assert!(missing.to_string().contains("/nonexistent/m.toml"));
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, "#".repeat(file::MAX_FILE_LEN as usize + 1)).unwrap();
    assert!(matches!(file::load(&path), Err(SettingsError::TooLarge { .. })));
}

#[test]
fn settings_from_matches_reads_the_flags() {
    let cmd = Settings::augment_args(clap::Command::new("t"));
    let m = cmd.try_get_matches_from(["t", "--idle-timeout", "9"]).unwrap();
    assert_eq!(Settings::from_arg_matches(&m).unwrap().idle_timeout, Some(9));
}
