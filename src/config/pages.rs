//! `[[pages]]`: one page each, configured or found by a `[[discover]]` block.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use super::{Config, SyncSettings};

/// One `[[pages]]` entry. Its `Debug` shows `source` and `url` redacted.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// Stable id of the page (labels, markers).
    pub id: String,
    /// Path (relative to the configuration file) of the Markdown page.
    pub source: String,
    /// Public URL of the page: absolute links and the Source line.
    #[serde(default)]
    pub url: Option<String>,
    /// Target project, `group/name` or numeric id.
    pub project: String,
    /// GitLab username responsible for the page's active items.
    pub owner: String,
    /// Only items under headings (at any depth above them) matching these patterns
    /// (`sections`, or its older name `include_sections`).
    #[serde(default, alias = "sections")]
    pub include_sections: Vec<String>,
    /// Never items under headings matching these patterns.
    #[serde(default)]
    pub exclude_sections: Vec<String>,
    /// Keep a board `Handbook: <page title>` with one list per section.
    #[serde(default = "default_true")]
    pub board: bool,
    /// Take over open hand-made issues whose title is an item's instead of creating
    /// (as `--adopt` does for every page).
    #[serde(default)]
    pub adopt: bool,
    /// The page label when not `sync.page_label_prefix` + id (a `[[discover]]` template).
    #[serde(skip)]
    pub page_label: Option<String>,
    /// Set on pages a `[[discover]]` block found; `None` on configured pages.
    #[serde(skip)]
    pub discovered: Option<crate::config::Discovered>,
}

/// Where a discovered page came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The `[[discover]]` block's name.
    pub block: String,
    /// The block's label, which every issue of its pages carries.
    pub label: String,
    /// The file's path below the block's root.
    pub path: String,
    /// The block's project template, for messages about the project.
    pub project_template: String,
    /// The owner comes from the page's front matter: only a member is assigned.
    pub owner_from_page: bool,
    /// The file's blob id, for a page in a GitLab repository: the same blob is the
    /// same text, so a page whose blob is remembered is not read again.
    pub blob: Option<String>,
}

impl PageSettings {
    /// The page's label as GitLab stores it: the discovered page's own, else
    /// `sync.page_label_prefix` + id.
    pub fn page_label(&self, sync: &SyncSettings) -> String {
        handbook_sync_core::sync::desired::label_name(&match &self.page_label {
            Some(label) => label.clone(),
            None => format!("{}{}", sync.page_label_prefix, self.id),
        })
    }
}

pub(super) fn default_true() -> bool {
    true
}

impl std::fmt::Debug for PageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSettings")
            .field("id", &self.id)
            .field("source", &crate::redact::text(&self.source))
            .field("url", &self.url.as_deref().map(crate::redact::text))
            .field("project", &self.project)
            .field("owner", &self.owner)
            .field("include_sections", &self.include_sections)
            .field("exclude_sections", &self.exclude_sections)
            .field("board", &self.board)
            .field("adopt", &self.adopt)
            .finish()
    }
}

impl Config {
    /// Checks `pages[i]`; `ids` collects the ids seen so far, which must be unique.
    pub(super) fn validate_page(
        i: usize,
        page: &PageSettings,
        base_dir: &Path,
        ids: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        let at = format!("pages[{i}]");
        for (key, value) in [
            ("id", &page.id),
            ("source", &page.source),
            ("project", &page.project),
            ("owner", &page.owner),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{at}.{key} must not be empty"));
            }
        }
        if !page
            .id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "{at}.id `{}`: use letters, digits, `-`, `_` and `.` only",
                page.id
            ));
        }
        if !ids.insert(page.id.clone()) {
            return Err(format!("{at}.id `{}` is used by another page", page.id));
        }
        crate::source::SourceSpec::parse(&page.source, base_dir)
            .map_err(|e| format!("{at}.source: {e}"))?;
        for (key, patterns) in [
            ("sections", &page.include_sections),
            ("exclude_sections", &page.exclude_sections),
        ] {
            crate::parse::HeadingPatterns::new(patterns).map_err(|e| format!("{at}.{key}: {e}"))?;
        }
        if let Some(url) = &page.url {
            let shown = crate::redact::text(url);
            let parsed = Url::parse(url).map_err(|e| format!("{at}.url `{shown}`: {e}"))?;
            // The page URL is written into every issue's Source line, in public projects.
            if crate::redact::url(&parsed) != parsed.as_str() {
                return Err(format!(
                    "{at}.url `{shown}`: holds credentials, and this URL is written into every issue: use the page's public address"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    #[test]
    fn a_page_url_with_credentials_is_refused_without_showing_them() {
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"x.md\"\nurl = \"https://u:hunter2@h.example/x?token=t0psecret\"\nproject = \"a/b\"\nowner = \"o\"\n",
        );
        assert!(message.contains("pages[0].url"), "{message}");
        assert!(message.contains("holds credentials"), "{message}");
        assert!(
            !message.contains("hunter2") && !message.contains("t0psecret"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_http_source_is_named_without_its_credentials() {
        let message = load(
            "[[pages]]\nid = \"x\"\nsource = \"https://u:hunter2@[::1/x.md\"\nproject = \"a/b\"\nowner = \"o\"\n",
        );
        assert!(message.contains("pages[0].source"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
