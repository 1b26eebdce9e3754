//! docs/FTP.md is the contract FTP client writers and operators read. These
//! tests keep it true against `src/ftp/`: the ErrorCode table row by row,
//! every command word in the command table, the FEAT example, and the exact
//! texts of the refusals the document quotes.

use mioftp::ftp::feat::{FeatOptions, feat_reply};
use mioftp::ftp::listing::FactSet;
use mioftp::ftp::reply::error_reply;
use mioftp::ftp::{LineError, Verb, parse};
use mioftp::protocol::ErrorCode;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FTP.md")).expect("docs/FTP.md")
}

/// The rows of the table under "## 6. Error codes": (code, reply, text).
fn error_rows(doc: &str) -> Vec<(String, String, String)> {
    let section = doc.split("## 6. Error codes").nth(1).expect("section 6");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "row {l:?}");
            (cells[0].trim_matches('`').to_owned(), cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn every_error_code_row_matches_the_mapping() {
    let doc = doc();
    let rows = error_rows(&doc);
    // Audit-only reasons are never a reply, so the table has no row for them.
    let wire: Vec<ErrorCode> = ErrorCode::ALL.iter().copied().filter(|c| c.on_wire()).collect();
    for &code in &wire {
        let (n, text) = error_reply(code);
        let row = rows.iter().find(|r| r.0 == code.as_str()).unwrap_or_else(|| panic!("{code} has no row"));
        assert_eq!((row.1.as_str(), row.2.as_str()), (n.to_string().as_str(), text), "row of {code}");
    }
    assert_eq!(rows.len(), wire.len(), "no rows for codes that do not exist");
}

#[test]
fn every_command_word_is_in_the_command_table() {
    let doc = doc();
    let table: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
    for &v in Verb::ALL {
        for word in std::iter::once(v.name()).chain(v.aliases().iter().copied()) {
            let tick = format!("`{word}`");
            assert!(
                table.iter().any(|row| row.split(" | ").next().is_some_and(|first| first.contains(&tick))),
                "{word} has no row in the command table"
            );
        }
    }
}

#[test]
fn the_feat_example_is_what_the_server_sends() {
    let doc = doc();
    let reply = feat_reply(&FeatOptions { tls: false, active: false, facts: FactSet::ALL });
    let text = String::from_utf8(reply.to_bytes()).unwrap().replace("\r\n", "\n");
    assert!(doc.contains(&format!("```\n{text}```")), "FEAT example differs from:\n{text}");
}

#[test]
fn quoted_refusals_are_the_real_texts() {
    let doc = doc();
    for line in ["RETR", "PWD x", "PORT 1,2", "EPRT ||", "REST x", "MODE B", "EPRT |3|1.2.3.4|2000|", "XYZ"] {
        let reply = parse(line).unwrap_err().reply();
        let quoted = String::from_utf8(reply.to_bytes()).unwrap();
        let quoted = quoted.trim_end();
        assert!(doc.contains(&format!("`{quoted}`")), "{line}: docs/FTP.md does not quote {quoted:?}");
    }
    for e in [LineError::TooLong, LineError::NotUtf8] {
        let quoted = String::from_utf8(e.reply().to_bytes()).unwrap();
        assert!(doc.contains(&format!("`{}`", quoted.trim_end())), "{e:?}");
    }
}

#[test]
fn the_unsupported_list_matches_the_verb_table() {
    let doc = doc();
    let section = doc.split("### 2.1 Not supported").nth(1).expect("section 2.1");
    let first = section.lines().find(|l| l.starts_with("- ")).unwrap();
    for v in Verb::ALL.iter().filter(|v| !v.supported()) {
        assert!(first.contains(&format!("`{}`", v.name())), "{v} missing from the not-supported list");
    }
}
