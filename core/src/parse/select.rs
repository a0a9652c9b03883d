//! What a page offers before its items: its headings and its front matter, and heading
//! patterns (`sections = ["Responsibilities"]`, a discovery's `require_heading`) matched
//! against them. Pure.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use pulldown_cmark::{Event, MetadataBlockKind, Parser, Tag, TagEnd};

use super::inline::InlineText;

/// Heading patterns: shell-style globs (`*`, `?`, `[…]`, `{a,b}`) matched against a
/// heading's whole text, ignoring case and surrounding whitespace. A pattern without
/// glob characters is the heading's exact text, as `include_sections` always matched.
#[derive(Debug, Clone)]
pub struct HeadingPatterns {
    set: GlobSet,
}

/// A heading pattern that is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("heading pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the glob parser said.
    pub reason: String,
}

impl HeadingPatterns {
    /// Compiles `patterns`; an empty list matches nothing.
    pub fn new(patterns: &[String]) -> Result<Self, PatternError> {
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            let glob = GlobBuilder::new(pattern.trim())
                .case_insensitive(true)
                // A heading is not a path: `*` may span a `/` in "CI/CD".
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| PatternError {
                    pattern: pattern.clone(),
                    reason: e.kind().to_string(),
                })?;
            set.add(glob);
        }
        let set = set.build().map_err(|e| PatternError {
            pattern: patterns.join(", "),
            reason: e.to_string(),
        })?;
        Ok(HeadingPatterns { set })
    }

    /// Patterns that match exactly these texts (for patterns already known to be bad:
    /// the parser is total, so a bad pattern is compared as plain text).
    fn literal(patterns: &[String]) -> Self {
        let escaped: Vec<String> = patterns.iter().map(|p| globset::escape(p.trim())).collect();
        Self::new(&escaped).unwrap_or(HeadingPatterns {
            set: GlobSet::empty(),
        })
    }

    /// `patterns` compiled, or compared as plain text when one of them is not a glob.
    pub fn lenient(patterns: &[String]) -> Self {
        Self::new(patterns).unwrap_or_else(|_| Self::literal(patterns))
    }

    /// True when `heading` (its plain text) matches one of the patterns.
    pub fn matches(&self, heading: &str) -> bool {
        self.set.is_match(heading.trim())
    }

    /// True when there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// The plain text of every heading of `text`, in page order (kramdown ids such as
/// `{#duties}` are not part of it). Headings inside block quotes and lists count too:
/// they are headings a reader sees.
pub fn headings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside: Option<Vec<(Event<'_>, std::ops::Range<usize>)>> = None;
    for (event, range) in Parser::new_ext(text, super::parser_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { .. }) => inside = Some(Vec::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(events) = inside.take() {
                    out.push(InlineText::from_events(&events).plain());
                }
            }
            event => {
                if let Some(events) = &mut inside {
                    events.push((event, range));
                }
            }
        }
    }
    out
}

/// The top-level scalar fields of the page's front matter (YAML `---` or TOML `+++`), as
/// text: strings as written, numbers and booleans in their usual spelling. Lists and
/// tables are left out. `Ok` of an empty map when the page has none; `Err` says why the
/// front matter cannot be read.
pub fn front_matter(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut events = Parser::new_ext(text, super::parser_options());
    let Some(Event::Start(Tag::MetadataBlock(kind))) = events.next() else {
        return Ok(BTreeMap::new());
    };
    let mut content = String::new();
    for event in events {
        match event {
            Event::Text(t) => content.push_str(&t),
            Event::End(TagEnd::MetadataBlock(_)) => break,
            _ => {}
        }
    }
    let mut fields = BTreeMap::new();
    match kind {
        MetadataBlockKind::YamlStyle => {
            let docs = yaml_rust2::YamlLoader::load_from_str(&content)
                .map_err(|e| format!("YAML: {e}"))?;
            if let Some(yaml_rust2::Yaml::Hash(hash)) = docs.first() {
                for (key, value) in hash {
                    use yaml_rust2::Yaml;
                    let value = match value {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    if let Some(key) = key.as_str() {
                        fields.insert(key.to_owned(), value);
                    }
                }
            }
        }
        MetadataBlockKind::PlusesStyle => {
            let table: toml::Table =
                toml::from_str(&content).map_err(|e| format!("TOML: {}", e.message()))?;
            for (key, value) in table {
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                fields.insert(key, value);
            }
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(p: &[&str]) -> HeadingPatterns {
        HeadingPatterns::new(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn patterns_match_whole_headings_ignoring_case() {
        let p = patterns(&["Responsibilities", "*tasks"]);
        assert!(p.matches("responsibilities"));
        assert!(p.matches("  RESPONSIBILITIES "));
        assert!(!p.matches("Responsibilities of the team"), "whole text");
        assert!(p.matches("Weekly tasks"));
        assert!(p.matches("CI/CD tasks"), "`*` spans a slash");
        assert!(!patterns(&[]).matches("anything"));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it_and_lenient_compares_it_as_text() {
        let bad = vec!["Duties [draft".to_owned()];
        let e = HeadingPatterns::new(&bad).unwrap_err();
        assert!(e.to_string().contains("Duties [draft"), "{e}");
        let lenient = HeadingPatterns::lenient(&bad);
        assert!(lenient.matches("duties [DRAFT"));
        assert!(!lenient.matches("Duties d"));
    }

    #[test]
    fn headings_are_plain_text_without_kramdown_ids() {
        let text = "---\ntitle: T\n---\n# Role\n\n## *Responsibilities* {#resp}\n\n- a\n\n```\n## not a heading\n```\n\n> ### Quoted\n";
        assert_eq!(headings(text), ["Role", "Responsibilities", "Quoted"]);
    }

    #[test]
    fn front_matter_gives_its_scalar_fields() {
        let yaml = "---\nowner: \"@drew\"\nlevel: 7\nremote: true\ntags: [a, b]\n---\n# x\n";
        let fields = front_matter(yaml).unwrap();
        assert_eq!(fields["owner"], "@drew");
        assert_eq!(fields["level"], "7");
        assert_eq!(fields["remote"], "true");
        assert!(!fields.contains_key("tags"));
        let toml = "+++\nowner = \"drew\"\n+++\n- a\n";
        assert_eq!(front_matter(toml).unwrap()["owner"], "drew");
        assert!(front_matter("# No front matter\n").unwrap().is_empty());
        assert!(front_matter("---\nowner: [unclosed\n---\n").is_err());
    }
}
