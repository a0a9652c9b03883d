//! `[[discover]]`: pages found by pattern in a directory or repository tree.

use std::path::Path;

use serde::Deserialize;

use super::pages::default_true;
use super::{Config, placeholders};

/// One `[[discover]]` block: pages found by pattern in a directory or repository tree
/// at the start of every run (see `crate::discover`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSettings {
    /// The block's stable name (its label, messages).
    pub name: String,
    /// A directory (relative to the configuration file) or
    /// `gitlab://GROUP/PROJECT/-/DIR?ref=main`.
    pub source: String,
    /// Path patterns below the source, `**/*.md` by default.
    #[serde(default = "default_discover_include")]
    pub include: Vec<String>,
    /// Path patterns left out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Only files whose front matter has this key.
    #[serde(default)]
    pub require_front_matter: Option<String>,
    /// Only files with a heading matching this pattern.
    #[serde(default)]
    pub require_heading: Option<String>,
    /// The page id template.
    #[serde(default = "default_discover_id")]
    pub id: String,
    /// The project template.
    pub project: String,
    /// The owner template.
    pub owner: String,
    /// The URL template.
    #[serde(default)]
    pub url: Option<String>,
    /// The page label template (default: `sync.page_label_prefix` + id).
    #[serde(default)]
    pub page_label: Option<String>,
    /// The label every issue of the block's pages carries (default
    /// `handbook-discover::NAME`): how pages that vanished are found in the tracker.
    #[serde(default)]
    pub label: Option<String>,
    /// As `pages[].sections`.
    #[serde(default, alias = "include_sections")]
    pub sections: Vec<String>,
    /// As `pages[].exclude_sections`.
    #[serde(default)]
    pub exclude_sections: Vec<String>,
    /// As `pages[].board`.
    #[serde(default = "default_true")]
    pub board: bool,
}

fn default_discover_include() -> Vec<String> {
    vec!["**/*.md".to_owned()]
}

fn default_discover_id() -> String {
    "{slug}".to_owned()
}

impl DiscoverSettings {
    /// The label of the block's issues, as GitLab stores it.
    pub fn label(&self) -> String {
        handbook_sync_core::sync::desired::label_name(
            self.label
                .as_deref()
                .unwrap_or(&format!("handbook-discover::{}", self.name)),
        )
    }

    /// The block's rules, compiled; the error names the key.
    pub fn rules(&self) -> Result<handbook_sync_core::discover::Rules, String> {
        use handbook_sync_core::discover::{
            PathPatterns, Qualification, Rules, Template, Templates,
        };
        let template = |key: &str, text: &str| {
            Template::parse(text).map_err(|e| format!("discover `{}`.{key}: {e}", self.name))
        };
        let optional = |key: &str, text: &Option<String>| {
            text.as_deref().map(|t| template(key, t)).transpose()
        };
        Ok(Rules {
            paths: PathPatterns::new(&self.include, &self.exclude)
                .map_err(|e| format!("discover `{}`.include/exclude: {e}", self.name))?,
            qualification: Qualification {
                front_matter_key: self.require_front_matter.clone(),
                heading: self
                    .require_heading
                    .as_ref()
                    .map(|h| crate::parse::HeadingPatterns::new(std::slice::from_ref(h)))
                    .transpose()
                    .map_err(|e| format!("discover `{}`.require_heading: {e}", self.name))?,
            },
            templates: Templates {
                id: template("id", &self.id)?,
                project: template("project", &self.project)?,
                owner: template("owner", &self.owner)?,
                url: optional("url", &self.url)?,
                page_label: optional("page_label", &self.page_label)?,
            },
        })
    }
}

impl Config {
    /// Checks a `[[discover]]` block; `names` collects the names seen so far.
    pub(super) fn validate_discover(
        block: &DiscoverSettings,
        base_dir: &Path,
        names: &mut std::collections::HashSet<String>,
    ) -> Result<(), String> {
        let at = format!("discover `{}`", block.name);
        handbook_sync_core::discover::check_page_id(&block.name)
            .map_err(|e| format!("discover.name: the name {e}"))?;
        if !names.insert(block.name.clone()) {
            return Err(format!(
                "{at}: the name is used by another [[discover]] block"
            ));
        }
        match crate::source::SourceSpec::parse(&block.source, base_dir) {
            Ok(crate::source::SourceSpec::Http(_)) => {
                return Err(format!(
                    "{at}.source: discovery lists a directory or a GitLab repository (gitlab://GROUP/PROJECT/-/DIR?ref=BRANCH), not an http(s) URL"
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{at}.source: {e}")),
        }
        if block.include.is_empty() {
            return Err(format!(
                "{at}.include: give at least one pattern, e.g. \"**/*.md\""
            ));
        }
        if block.label().is_empty() {
            return Err(format!("{at}.label must not be empty"));
        }
        // As for `[[pages]]`: a copy of the example must not assign to whoever owns the
        // placeholder's name.
        for (key, template) in [("owner", &block.owner), ("project", &block.project)] {
            if placeholders::USERNAMES.iter().any(|u| template.contains(u))
                || template.contains(placeholders::GROUP)
            {
                return Err(format!(
                    "{at}.{key} = \"{template}\" holds the example configuration's placeholder: set your own"
                ));
            }
        }
        for (key, patterns) in [
            ("sections", &block.sections),
            ("exclude_sections", &block.exclude_sections),
        ] {
            crate::parse::HeadingPatterns::new(patterns).map_err(|e| format!("{at}.{key}: {e}"))?;
        }
        block.rules().map(|_| ())
    }
}
