//! Splitting a shell command's words into its `-x`/`--flag` options and its
//! positional arguments, with one-line usage errors. `--` ends the options,
//! so a file called `-x` can still be named.

use mioftp_client::{ClientError, Result};

/// A command's options and arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    flags: Vec<&'static str>,
    pub args: Vec<String>,
}

impl Parsed {
    /// Whether `flag` (as spelled in the allowed list) was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The `i`th positional argument, if given.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// The rules of one command: accepted flags and how many arguments.
pub struct Spec {
    pub usage: &'static str,
    pub flags: &'static [&'static str],
    pub min: usize,
    pub max: usize,
}

impl Spec {
    pub fn parse(&self, words: &[String]) -> Result<Parsed> {
        let mut parsed = Parsed::default();
        let mut options_done = false;
        for w in words {
            if !options_done && w == "--" {
                options_done = true;
            } else if !options_done && w.starts_with('-') && w.len() > 1 {
                let flag = self
                    .flags
                    .iter()
                    .find(|f| **f == w.as_str())
                    .ok_or_else(|| self.wrong(&format!("unknown option {w}")))?;
                parsed.flags.push(flag);
            } else {
                parsed.args.push(w.clone());
            }
        }
        match parsed.args.len() {
            n if n < self.min => Err(self.wrong("missing argument")),
            n if n > self.max => Err(self.wrong("too many arguments")),
            _ => Ok(parsed),
        }
    }

    fn wrong(&self, what: &str) -> ClientError {
        ClientError::Usage(format!("{what}; usage: {}", self.usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: Spec = Spec { usage: "put [--no-resume] LOCAL [REMOTE]", flags: &["--no-resume"], min: 1, max: 2 };

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn flags_and_arguments_separate() {
        let p = PUT.parse(&words(&["a.bin", "--no-resume", "b.bin"])).unwrap();
        assert!(p.has("--no-resume"));
        assert_eq!(p.args, ["a.bin", "b.bin"]);
        let p = PUT.parse(&words(&["--", "-weird"])).unwrap();
        assert!(!p.has("--no-resume"));
        assert_eq!(p.arg(0), Some("-weird"));
        assert_eq!(PUT.parse(&words(&["-"])).unwrap().arg(0), Some("-"));
    }

    #[test]
    fn mistakes_name_the_usage() {
        for bad in [&[][..], &["a", "b", "c"], &["--force", "a"]] {
            let err = PUT.parse(&words(bad)).unwrap_err().to_string();
            assert!(err.contains("usage: put [--no-resume] LOCAL [REMOTE]"), "{err}");
        }
    }
}
