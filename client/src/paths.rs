//! Remote (virtual) path arithmetic on the client side, as PROTOCOL.md §5.1
//! defines it: `/` is the home, relative paths start at the current
//! directory, `.` and `..` resolve by name, repeated `/` are ignored.
//!
//! The server is the authority on paths; the client only needs this to name
//! a download's partial file consistently before the server has answered,
//! and to pick default names.

/// Resolves `path` against `cwd` (itself absolute and normalised). `None` if
/// `..` would climb above `/` (the server refuses that with `path_escape`)
/// or the path is empty.
pub fn resolve(cwd: &str, path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { cwd };
    for name in start.split('/').chain(path.split('/')) {
        match name {
            "" | "." => {}
            ".." => {
                names.pop()?;
            }
            other => names.push(other),
        }
    }
    Some(format!("/{}", names.join("/")))
}

/// The last name of a path (remote or local, `/`-separated), ignoring
/// trailing slashes; `None` for a path without a usable last name (`/`,
/// `.`, `..`, empty).
pub fn base_name(path: &str) -> Option<&str> {
    match path.trim_end_matches('/').rsplit('/').next() {
        None | Some("" | "." | "..") => None,
        Some(name) => Some(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_paths_resolve_by_name() {
        assert_eq!(resolve("/", "a.bin").as_deref(), Some("/a.bin"));
        assert_eq!(resolve("/docs", "a//b/./c/").as_deref(), Some("/docs/a/b/c"));
        assert_eq!(resolve("/docs", "../music").as_deref(), Some("/music"));
        assert_eq!(resolve("/docs", "/x/../y").as_deref(), Some("/y"));
        assert_eq!(resolve("/docs", ".").as_deref(), Some("/docs"));
        assert_eq!(resolve("/docs", "..").as_deref(), Some("/"));
    }

    #[test]
    fn climbing_above_the_home_and_empty_paths_do_not_resolve() {
        assert_eq!(resolve("/", ".."), None);
        assert_eq!(resolve("/a", "../.."), None);
        assert_eq!(resolve("/a", ""), None);
    }

    #[test]
    fn base_names_ignore_trailing_slashes() {
        assert_eq!(base_name("/docs/a.bin"), Some("a.bin"));
        assert_eq!(base_name("a.bin"), Some("a.bin"));
        assert_eq!(base_name("dir/sub/"), Some("sub"));
        for none in ["/", "", ".", "..", "a/.."] {
            assert_eq!(base_name(none), None, "{none:?}");
        }
    }
}
