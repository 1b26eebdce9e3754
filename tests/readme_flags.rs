//! README.md's table of server flags against `mioftpd --help`: every flag
//! the binary has is in the table, and every row names a flag it has, so the
//! table cannot fall behind the code (it had: `--max-per-ip` and the throttle
//! flags were missing once).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The long flags `mioftpd --help` lists (the first of each option line),
/// without clap's own `--help` and `--version`.
fn help_flags() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_mioftpd")).arg("--help").output().expect("run mioftpd --help");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix('-').filter(|r| r.chars().nth(1) == Some(',')).map_or(l, |r| r[2..].trim_start());
            let name = l.strip_prefix("--")?;
            Some(name.split(|c: char| !(c.is_ascii_lowercase() || c == '-')).next()?.to_owned())
        })
        .filter(|f| f != "help" && f != "version")
        .collect()
}

/// The flag each row of the README's server table is about: the first
/// `--flag` of its first cell (an alias may follow it).
fn readme_flags() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("## The server: `mioftpd`").nth(1).expect("the server section");
    let table = section.split("| flag | default | meaning |").nth(1).expect("the flag table");
    let rows = table.lines().skip(2).take_while(|l| l.starts_with("| `"));
    rows.map(|row| {
        let first = row.trim_start_matches('|').split('|').next().unwrap();
        let flag = first.split("--").nth(1).unwrap_or_else(|| panic!("row without a flag: {row}"));
        flag.split(|c: char| !(c.is_ascii_lowercase() || c == '-')).next().unwrap().to_owned()
    })
    .collect()
}

#[test]
fn the_readme_flag_table_lists_exactly_the_flags_of_mioftpd_help() {
    let help = help_flags();
    let readme = readme_flags();
    assert!(help.len() > 20 && help.contains("max-per-ip") && help.contains("config"), "{help:?}");
    let missing: Vec<_> = help.difference(&readme).collect();
    let extra: Vec<_> = readme.difference(&help).collect();
    assert!(missing.is_empty(), "flags missing from the README table: {missing:?}");
    assert!(extra.is_empty(), "README rows for flags mioftpd does not have: {extra:?}");
}
