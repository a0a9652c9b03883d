//! What serde cannot check, and every error said with the key as the example
//! configuration spells it (and, for a missing key, what it is for).

use std::path::{Path, PathBuf};

use super::{Config, RawConfig, parse_gitlab_url, placeholders};

impl Config {
    /// Checks what serde cannot. The error is a message naming the key; [`Config::load`]
    /// wraps it, with the file, into
    /// [`ConfigError::Invalid`](super::ConfigError::Invalid), so no caller sees a String.
    pub(super) fn validate(path: PathBuf, raw: RawConfig) -> Result<Config, String> {
        let gitlab_url =
            parse_gitlab_url("gitlab.url", &raw.gitlab.url, raw.gitlab.allow_insecure)?;
        // Up to a day: longer is surely a typo, and `Duration` must hold it.
        let seconds = 0.001..=86_400.0;
        if !seconds.contains(&raw.gitlab.timeout_seconds) {
            return Err("gitlab.timeout_seconds must be between 0.001 and 86400".into());
        }
        if !(0.0..=86_400.0).contains(&raw.gitlab.default_retry_after_seconds) {
            return Err("gitlab.default_retry_after_seconds must be between 0 and 86400".into());
        }
        if raw.gitlab.requests_per_minute == 0
            || raw.gitlab.issue_creations_per_minute == 0
            || raw.gitlab.concurrency == 0
        {
            return Err("gitlab.requests_per_minute, gitlab.issue_creations_per_minute and gitlab.concurrency must be at least 1".into());
        }
        if raw.server.max_connections == 0 {
            return Err("server.max_connections must be at least 1".into());
        }
        if raw.sync.cache_clock_margin_seconds > 86_400 {
            return Err(format!(
                "sync.cache_clock_margin_seconds must be at most 86400 (a day), not {}",
                raw.sync.cache_clock_margin_seconds
            ));
        }
        if let Some(dir) = &raw.sync.cache_dir {
            if dir.as_os_str().is_empty() {
                return Err(
                    "sync.cache_dir must not be empty (leave it out to run without a cache)".into(),
                );
            }
            let dir = path.parent().unwrap_or(Path::new(".")).join(dir);
            if dir.exists() && !dir.is_dir() {
                return Err(format!(
                    "sync.cache_dir `{}` exists and is not a directory",
                    dir.display()
                ));
            }
        }
        if raw.sync.max_page_bytes == 0 {
            return Err("sync.max_page_bytes must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&raw.sync.max_close_fraction) {
            return Err(format!(
                "sync.max_close_fraction must be between 0 and 1, not {}",
                raw.sync.max_close_fraction
            ));
        }
        if raw.sync.managed_label.trim().is_empty() || raw.sync.managed_label.contains(',') {
            return Err("sync.managed_label must be a non-empty label name without commas".into());
        }
        if let Some(clash) = raw.sync.labels().clash() {
            return Err(format!(
                "sync.{} and sync.{} collide: {}; every run would rewrite the labels GitLab dropped (or lose the managed one): choose settings that make labels of different scopes",
                clash.first, clash.second, clash.why
            ));
        }
        Self::validate_lease_label(&raw.sync)?;
        let schedule = crate::schedule::Schedule::parse(&raw.sync.schedule, &raw.sync.timezone)
            .map_err(|e| match e {
                crate::schedule::ScheduleError::TimeZone { .. } => format!("sync.timezone: {e}"),
                _ => format!("sync.schedule: {e}"),
            })?;
        let mut ids = std::collections::HashSet::new();
        let base_dir = path.parent().unwrap_or(Path::new("."));
        for (i, page) in raw.pages.iter().enumerate() {
            Self::validate_page(i, page, base_dir, &mut ids)?;
        }
        let mut names = std::collections::HashSet::new();
        for block in &raw.discover {
            Self::validate_discover(block, base_dir, &mut names)?;
            if block.label() == raw.sync.lease_label {
                return Err(format!(
                    "discover `{}`.label is sync.lease_label: the block's label must be its own",
                    block.name
                ));
            }
        }
        placeholders::check(&raw.people, &raw.pages)?;
        Ok(Config {
            path,
            gitlab_url,
            gitlab: raw.gitlab,
            sync: raw.sync,
            server: raw.server,
            webhook: raw.webhook,
            roadmap: raw.roadmap,
            schedule,
            people: raw.people,
            pages: raw.pages,
            discover: raw.discover,
        })
    }
}

/// The message of a `config` crate error with the key spelled as the example configuration
/// spells it (`pages[0].owner`, where the crate writes `pages[0]owner`) and, for a missing
/// key, what the key is for.
pub(super) fn describe(error: &config::ConfigError) -> String {
    match error {
        config::ConfigError::NotFound(key) => {
            let key = key_path(key);
            match key_purpose(&key) {
                Some(purpose) => format!("missing key `{key}`: {purpose}"),
                None => format!("missing key `{key}`"),
            }
        }
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => match key {
            Some(key) => format!(
                "key `{}`: invalid value {unexpected}, expected {expected}",
                key_path(key)
            ),
            None => format!("invalid value {unexpected}, expected {expected}"),
        },
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => {
            let key = key_path(key);
            // serde names an unknown key without its table: put the table in front of it.
            match unknown_key(&error.to_string()) {
                Some((field, expected)) => format!("unknown key `{key}.{field}`{expected}"),
                None => format!("key `{key}`: {}", describe(error)),
            }
        }
        config::ConfigError::At {
            error, key: None, ..
        } => describe(error),
        other => {
            let message = other.to_string();
            match unknown_key(&message) {
                Some((field, expected)) => format!("unknown key `{field}`{expected}"),
                None => message,
            }
        }
    }
}

/// `pages[0]owner` → `pages[0].owner`: the `config` crate drops the dot after an index.
fn key_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ']'
            && chars
                .peek()
                .is_some_and(|next| *next != '[' && *next != '.')
        {
            out.push('.');
        }
    }
    out
}

/// From serde's "unknown field `x`, expected one of `a`, `b`": `x` and " (expected one of
/// `a`, `b`)".
fn unknown_key(message: &str) -> Option<(&str, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .strip_prefix(", expected")
        .map_or(String::new(), |e| format!(" (expected{e})"));
    Some((field, expected))
}

/// What a required key is for, as the example configuration explains it.
fn key_purpose(key: &str) -> Option<&'static str> {
    let field = key.rsplit('.').next()?;
    if !key.starts_with("pages[") {
        return None;
    }
    Some(match field {
        "id" => {
            "the page's stable id, used in its label `handbook::<id>` and in every issue's marker"
        }
        "source" => {
            "where the page is read from: a path relative to the configuration file, an \
             http(s) URL or gitlab://GROUP/PROJECT/PATH"
        }
        "project" => "the GitLab project (`group/name` or numeric id) the page's issues live in",
        "owner" => {
            "the GitLab username assigned to the page's items that name nobody after an arrow"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn key_paths_get_the_dot_after_an_index() {
        assert_eq!(key_path("pages[0]owner"), "pages[0].owner");
        assert_eq!(
            key_path("pages[12]include_sections[1]"),
            "pages[12].include_sections[1]"
        );
        assert_eq!(key_path("sync.enforce"), "sync.enforce");
        assert_eq!(key_path("pages[0].id"), "pages[0].id");
    }

    #[test]
    fn a_missing_owner_names_the_full_key_and_what_it_is_for() {
        let message = load("[[pages]]\nid = \"x\"\nsource = \"x.md\"\nproject = \"a/b\"\n");
        assert!(
            message.contains("missing key `pages[0].owner`"),
            "{message}"
        );
        assert!(message.contains("GitLab username"), "{message}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table() {
        let message = load("[sync]\nenforse = true\n");
        assert!(message.contains("unknown key `sync.enforse`"), "{message}");
        assert!(message.contains("`enforce`"), "{message}");
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"x.md\"\nproject = \"a/b\"\nowner = \"o\"\nbord = false\n",
        );
        assert!(message.contains("unknown key `pages[0].bord`"), "{message}");
        let message = load("colour = 1\n");
        assert!(message.contains("unknown key `colour`"), "{message}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let message = load("[gitlab]\ntimeout_seconds = \"soon\"\n");
        assert!(message.contains("gitlab.timeout_seconds"), "{message}");
    }
}
