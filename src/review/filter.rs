//! Which records to show: the `--user`, `--peer`, `--since`, `--until`,
//! `--outcome` and `--path` flags as one predicate over a [`Record`].
//!
//! Every condition given must hold (they combine with AND); the values of one
//! repeated `--outcome` combine with OR. `--since` is inclusive and `--until`
//! exclusive, so `--since D --until D+1` is exactly one day.

use super::args::OutcomeArg;
use super::record::{Outcome, Record};
use glob::{MatchOptions, Pattern};
use jiff::Timestamp;
use std::net::IpAddr;

/// A `--path` glob over virtual paths.
///
/// `*`, `?` and `[...]` never cross a `/`; `**` as a whole component crosses
/// any number of folders. A glob that does not start with `/` may match at any
/// depth (`*.bin` is `/**/*.bin`), the way a person means "any .bin file".
#[derive(Debug, Clone)]
pub struct PathGlob {
    pattern: Pattern,
}

impl PathGlob {
    /// Parses a glob; the error is a sentence for clap to show.
    pub fn parse(text: &str) -> Result<PathGlob, String> {
        let anchored = if text.starts_with('/') { text.to_owned() } else { format!("/**/{text}") };
        Pattern::new(&anchored).map(|pattern| PathGlob { pattern }).map_err(|e| format!("bad glob `{text}`: {e}"))
    }

    pub fn matches(&self, path: &str) -> bool {
        const OPTIONS: MatchOptions =
            MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: false };
        self.pattern.matches_with(path, OPTIONS)
    }
}

/// The conjunction of the selection flags.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user: Option<String>,
    /// Compared in canonical form, so `::ffff:10.0.0.5` is `10.0.0.5`.
    pub peer: Option<IpAddr>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub outcomes: Vec<OutcomeArg>,
    pub path: Option<PathGlob>,
}

impl Filter {
    pub fn matches(&self, record: &Record) -> bool {
        if self.since.is_some_and(|since| record.ts < since) || self.until.is_some_and(|until| record.ts >= until) {
            return false;
        }
        if let Some(user) = &self.user {
            if record.user.as_deref() != Some(user.as_str()) {
                return false;
            }
        }
        if let Some(ip) = self.peer {
            if record.peer_ip().map(|p| p.to_canonical()) != Some(ip) {
                return false;
            }
        }
        if !self.outcomes.is_empty() && !self.outcomes.iter().any(|o| outcome_matches(*o, &record.outcome)) {
            return false;
        }
        if let Some(glob) = &self.path {
            match &record.path {
                Some(path) if glob.matches(path) => {}
                _ => return false,
            }
        }
        true
    }
}

fn outcome_matches(wanted: OutcomeArg, got: &Outcome) -> bool {
    match wanted {
        // An account or command succeeds with `ok`, a transfer with `complete`.
        OutcomeArg::Ok => matches!(got, Outcome::Ok | Outcome::Complete),
        OutcomeArg::Fail => *got == Outcome::Fail,
        OutcomeArg::Incomplete => *got == Outcome::Incomplete,
        OutcomeArg::Rejected => *got == Outcome::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        Record::parse(json.as_bytes()).unwrap()
    }

    fn upload() -> Record {
        record(
            r#"{"ts":"2026-11-23T08:00:02.000Z","peer":"10.0.0.5:40000","session":9,"user":"alice","event":"upload","outcome":"complete","path":"/docs/a.bin","bytes":3}"#,
        )
    }

    fn ts(text: &str) -> Option<Timestamp> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_empty_filter_matches_everything() {
        assert!(Filter::default().matches(&upload()));
    }

    #[test]
    fn since_is_inclusive_and_until_exclusive() {
        let at = Filter { since: ts("2026-11-23T08:00:02Z"), ..Default::default() };
        let after = Filter { since: ts("2026-11-23T08:00:02.001Z"), ..Default::default() };
        let until_at = Filter { until: ts("2026-11-23T08:00:02Z"), ..Default::default() };
        let until_after = Filter { until: ts("2026-11-23T08:00:02.001Z"), ..Default::default() };
        assert!(at.matches(&upload()));
        assert!(!after.matches(&upload()));
        assert!(!until_at.matches(&upload()));
        assert!(until_after.matches(&upload()));
    }

    #[test]
    fn user_must_match_exactly_and_records_without_user_never_match() {
        let alice = Filter { user: Some("alice".into()), ..Default::default() };
        assert!(alice.matches(&upload()));
        assert!(!Filter { user: Some("ali".into()), ..Default::default() }.matches(&upload()));
        let handshake = record(
            r#"{"ts":"2026-11-23T07:00:00Z","peer":"1.2.3.4:1","session":1,"event":"handshake","outcome":"ok"}"#,
        );
        assert!(!alice.matches(&handshake));
    }

    #[test]
    fn peer_compares_the_ip_only_including_v6_and_mapped_v4() {
        let f = |ip: &str| Filter { peer: Some(ip.parse::<IpAddr>().unwrap().to_canonical()), ..Default::default() };
        assert!(f("10.0.0.5").matches(&upload()));
        assert!(f("::ffff:10.0.0.5").matches(&upload()));
        assert!(!f("10.0.0.50").matches(&upload()));
        let v6 = record(r#"{"ts":"2026-11-23T07:00:00Z","peer":"[::1]:5000","event":"login","outcome":"ok"}"#);
        assert!(f("::1").matches(&v6));
        assert!(!f("127.0.0.1").matches(&v6));
    }

    #[test]
    fn outcome_ok_covers_complete_and_the_list_is_an_or() {
        let f = |o: &[OutcomeArg]| Filter { outcomes: o.to_vec(), ..Default::default() };
        assert!(f(&[OutcomeArg::Ok]).matches(&upload()));
        assert!(!f(&[OutcomeArg::Incomplete]).matches(&upload()));
        assert!(f(&[OutcomeArg::Incomplete, OutcomeArg::Ok]).matches(&upload()));
        let fail = record(r#"{"ts":"2026-11-23T07:00:00Z","event":"login","outcome":"fail"}"#);
        assert!(f(&[OutcomeArg::Fail]).matches(&fail));
        assert!(!f(&[OutcomeArg::Rejected]).matches(&fail));
    }

    #[test]
    fn path_globs_stay_in_one_folder_unless_double_star() {
        let g = |p: &str| PathGlob::parse(p).unwrap();
        assert!(g("/docs/*").matches("/docs/a.bin"));
        assert!(!g("/docs/*").matches("/docs/x/a.bin"));
        assert!(g("/docs/**").matches("/docs/x/a.bin"));
        assert!(g("*.bin").matches("/a.bin"));
        assert!(g("*.bin").matches("/docs/x/a.bin"));
        assert!(!g("*.bin").matches("/a.bin.txt"));
        assert!(g("docs/*.bin").matches("/docs/a.bin"));
        assert!(!g("/a.bin").matches("/docs/a.bin"));
        assert!(PathGlob::parse("[").is_err());
    }

    #[test]
    fn a_path_filter_excludes_records_without_a_path() {
        let f = Filter { path: Some(PathGlob::parse("/**").unwrap()), ..Default::default() };
        assert!(f.matches(&upload()));
        let pwd = record(r#"{"ts":"2026-11-23T07:00:00Z","event":"pwd","outcome":"ok"}"#);
        assert!(!f.matches(&pwd));
    }

    #[test]
    fn conditions_combine_with_and() {
        let f = Filter { user: Some("alice".into()), outcomes: vec![OutcomeArg::Fail], ..Default::default() };
        assert!(!f.matches(&upload()), "alice matches but the outcome does not");
    }
}
