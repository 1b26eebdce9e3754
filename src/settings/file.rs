//! The config file: reading a TOML file into a [`Settings`] layer, stacking
//! the layers into the [`Config`] the server runs with, and printing a
//! `Config` back as a complete config file (`mioftpd check-config`).
//!
//! A file is read whole, up to [`MAX_FILE_LEN`]. Its keys are the flags'
//! names without the dashes in front (`max-per-ip = 64`); a key this build
//! does not know, or a value of the wrong type, is an error that names the
//! key and its line (toml's span information). Relative paths in the file
//! (`root`, `key-file`) are taken relative to the folder holding the file,
//! so a file and its data root can move together; relative paths given as
//! flags or variables stay relative to the working directory, as usual.

use super::Settings;
use crate::config::Config;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest config file read (a real one is a few KiB).
pub const MAX_FILE_LEN: u64 = 1 << 20;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the config file {} is larger than {MAX_FILE_LEN} bytes", .path.display())]
    TooLarge { path: PathBuf },
    /// toml's message names the line, shows it, and says what is wrong
    /// (for an unknown key: the key, and the keys that exist).
    #[error("config file {}: {source}", .path.display())]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Parses config-file text (paths left as written).
pub fn parse(text: &str) -> Result<Settings, toml::de::Error> {
    toml::from_str(text)
}

/// Reads and parses the file at `path`, resolving its relative paths
/// against the file's folder.
pub fn load(path: &Path) -> Result<Settings, SettingsError> {
    let read_err = |source| SettingsError::Read { path: path.to_owned(), source };
    let mut text = String::new();
    std::fs::File::open(path).map_err(read_err)?.take(MAX_FILE_LEN + 1).read_to_string(&mut text).map_err(read_err)?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(SettingsError::TooLarge { path: path.to_owned() });
    }
    let mut settings = parse(&text).map_err(|source| SettingsError::Parse { path: path.to_owned(), source })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        for slot in [&mut settings.root, &mut settings.key_file] {
            if let Some(p) = slot.as_mut().filter(|p| p.is_relative()) {
                *p = dir.join(&*p);
            }
        }
    }
    Ok(settings)
}

/// The configuration to run with: the defaults, then the file at
/// `config_file` (if any), then `env_and_flags` (clap's overlay of the
/// environment and the flags), validated.
pub fn effective(config_file: Option<&Path>, env_and_flags: &Settings) -> Result<Config, SettingsError> {
    let mut config = Config::new(".");
    if let Some(path) = config_file {
        load(path)?.apply(&mut config);
    }
    env_and_flags.apply(&mut config);
    config.validate().map_err(SettingsError::Invalid)?;
    Ok(config)
}

/// `config` as a complete config file: every key with its value, in the
/// order of `--help`. Parsed and applied to any `Config`, it gives `config`
/// back (relative paths aside, which it shows as they are).
pub fn render(config: &Config) -> String {
    let mut out = toml::to_string(&Settings::of(config)).unwrap_or_else(|e| format!("# cannot print: {e}\n"));
    if config.key_file.is_none() {
        let _ =
            writeln!(out, "# key-file is not set: the key is {} (created at first start)", config.key_path().display());
    }
    out
}
