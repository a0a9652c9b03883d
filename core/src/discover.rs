//! Discovery's rules, pure: which files of a directory (or repository tree) a
//! `[[discover]]` block matches, which of them qualify as pages, and the page each one
//! becomes (id, project, page label, owner, URL) from its path and front matter.
//!
//! The shell lists the files and reads their text; everything that decides is here, so
//! every rule is a plain function to test.
//!
//! Templates are text with placeholders in braces:
//!
//! - `{path}` — the file's path below the discovery's root (`engineering/backend.md`);
//! - `{dir}` — its directory (`engineering`; empty at the root);
//! - `{stem}` — its file name up to the first dot (`backend`; `index` for `index.html.md`);
//! - `{name}` — the page's name: the stem, or for an `index`, `README` or `_index` file
//!   the name of its directory;
//! - `{slug}` — the page's path as one word: directory and name, lower case, every run of
//!   other characters than letters and digits one `-` (`engineering-backend`);
//! - `{front_matter.KEY}` — the value of `KEY` in the page's front matter; with
//!   `{front_matter.KEY|fallback}` the fallback text when the page has no such key.
//!
//! `{{` and `}}` stand for literal braces.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::parse::{HeadingPatterns, front_matter, headings};

/// A template that cannot be used, found when the configuration is loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{template}`: {reason}")]
pub struct TemplateError {
    /// The template as written.
    pub template: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A placeholder of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    Path,
    Dir,
    Stem,
    Name,
    Slug,
    /// A front matter key, and the text used when the page lacks it.
    FrontMatter(String, Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A parsed template ([module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; unknown placeholders and unbalanced braces are errors.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let error = |reason: String| TemplateError {
            template: text.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") || rest.starts_with("}}") {
                literal.push(c);
                rest = &rest[2..];
                continue;
            }
            if c == '}' {
                return Err(error(
                    "a `}` without its `{` (write `}}` for a brace)".into(),
                ));
            }
            if c != '{' {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let Some(end) = rest.find('}') else {
                return Err(error(
                    "a `{` without its `}` (write `{{` for a brace)".into(),
                ));
            };
            let inner = &rest[1..end];
            rest = &rest[end + 1..];
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(Self::var(inner).map_err(error)?));
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    fn var(inner: &str) -> Result<Var, String> {
        let (name, fallback) = match inner.split_once('|') {
            Some((name, fallback)) => (name.trim(), Some(fallback.to_owned())),
            None => (inner.trim(), None),
        };
        let plain = |var: Var| match fallback {
            Some(_) => Err(format!(
                "`{{{inner}}}`: only front matter placeholders take a fallback"
            )),
            None => Ok(var),
        };
        match name {
            "path" => plain(Var::Path),
            "dir" => plain(Var::Dir),
            "stem" => plain(Var::Stem),
            "name" => plain(Var::Name),
            "slug" => plain(Var::Slug),
            _ => match name.strip_prefix("front_matter.") {
                Some(key) if !key.trim().is_empty() => {
                    Ok(Var::FrontMatter(key.trim().to_owned(), fallback))
                }
                _ => Err(format!(
                    "unknown placeholder `{{{inner}}}`; use {{path}}, {{dir}}, {{stem}}, {{name}}, {{slug}} or {{front_matter.KEY}}"
                )),
            },
        }
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the template has no placeholder: every page gets the same text.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// True when some page could get `text` from this template: its literal parts as
    /// written (ASCII case ignored, as GitLab ignores it in project paths), each
    /// placeholder standing for any text, none included (`{dir}` of a file at the root
    /// is empty, a front matter value may be). What vanished-page
    /// detection asks of a project found elsewhere: a project the block cannot name is
    /// never one of its pages'.
    pub fn could_give(&self, text: &str) -> bool {
        fn from(parts: &[Part], text: &str) -> bool {
            match parts.split_first() {
                None => text.is_empty(),
                Some((Part::Text(literal), rest)) => {
                    text.get(..literal.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(literal))
                        && from(rest, &text[literal.len()..])
                }
                Some((Part::Var(_), rest)) => text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(text.len()))
                    .any(|end| from(rest, &text[end..])),
            }
        }
        from(&self.parts, text)
    }

    /// True when expanding it for `file` takes a value from the file's front matter (a
    /// key it has; a fallback is the configuration's text).
    pub fn reads_page(&self, file: &FileFacts) -> bool {
        self.parts.iter().any(|p| {
            matches!(p, Part::Var(Var::FrontMatter(key, _)) if file.front_matter.contains_key(key))
        })
    }

    /// True when the template takes text from the file's path (`{path}`, `{dir}`,
    /// `{stem}`, `{name}`, `{slug}`).
    pub fn uses_path(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(var) if !matches!(var, Var::FrontMatter(..))))
    }

    /// True when the template reads the page's front matter.
    pub fn uses_front_matter(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(Var::FrontMatter(..))))
    }

    /// The text for a file; an error names a front matter key the page lacks.
    pub fn expand(&self, file: &FileFacts) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(var) => match var {
                    Var::Path => out.push_str(&file.path),
                    Var::Dir => out.push_str(file.dir()),
                    Var::Stem => out.push_str(file.stem()),
                    Var::Name => out.push_str(file.name()),
                    Var::Slug => out.push_str(&file.slug()),
                    Var::FrontMatter(key, fallback) => {
                        match (file.front_matter.get(key), fallback) {
                            (Some(value), _) => out.push_str(value.trim()),
                            (None, Some(fallback)) => out.push_str(fallback),
                            (None, None) => {
                                return Err(format!(
                                    "`{}`: the page's front matter has no `{key}`",
                                    self.source
                                ));
                            }
                        }
                    }
                },
            }
        }
        Ok(out)
    }
}

/// What the templates know of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// Its path below the discovery's root, with `/` between components.
    pub path: String,
    /// Its front matter's scalar fields ([`front_matter`]).
    pub front_matter: BTreeMap<String, String>,
}

/// File names that stand for their directory.
const INDEX_STEMS: [&str; 3] = ["index", "readme", "_index"];

impl FileFacts {
    /// The directory part of the path (empty at the root).
    pub fn dir(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }

    /// The file name up to its first dot.
    pub fn stem(&self) -> &str {
        let file = self.path.rsplit('/').next().unwrap_or(&self.path);
        file.split('.').next().unwrap_or(file)
    }

    fn is_index(&self) -> bool {
        INDEX_STEMS.contains(&self.stem().to_lowercase().as_str()) && !self.dir().is_empty()
    }

    /// The stem, or for an index file the name of its directory.
    pub fn name(&self) -> &str {
        if self.is_index() {
            self.dir().rsplit('/').next().unwrap_or_default()
        } else {
            self.stem()
        }
    }

    /// Directory and name as one lower-case word of letters, digits and `-`.
    pub fn slug(&self) -> String {
        let page = if self.is_index() {
            self.dir().to_owned()
        } else if self.dir().is_empty() {
            self.stem().to_owned()
        } else {
            format!("{}/{}", self.dir(), self.stem())
        };
        let mut slug = String::with_capacity(page.len());
        for c in page.chars() {
            if c.is_alphanumeric() {
                slug.extend(c.to_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(slug.trim_end_matches('-').len());
        slug
    }
}

/// Which files a block matches: glob patterns on the path below the root (`**/*.md`),
/// minus the exclude patterns. Case matters, as it does in a repository.
#[derive(Debug, Clone)]
pub struct PathPatterns {
    include: GlobSet,
    exclude: GlobSet,
}

/// A path pattern that is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern `{pattern}`: {reason}")]
pub struct PathPatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the glob parser said.
    pub reason: String,
}

impl PathPatterns {
    /// Compiles the patterns (`include` must not be empty to match anything).
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, PathPatternError> {
        Ok(PathPatterns {
            include: glob_set(include)?,
            exclude: glob_set(exclude)?,
        })
    }

    /// True when `path` (below the root, `/`-separated) is matched and not excluded.
    pub fn matches(&self, path: &str) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, PathPatternError> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            // `*` stays within a directory; `**` crosses them.
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| PathPatternError {
                pattern: pattern.clone(),
                reason: e.kind().to_string(),
            })?;
        set.add(glob);
    }
    set.build().map_err(|e| PathPatternError {
        pattern: patterns.join(", "),
        reason: e.to_string(),
    })
}

/// The templates of a block's pages.
#[derive(Debug, Clone)]
pub struct Templates {
    /// The page id.
    pub id: Template,
    /// The project: a path (`roadmaps/{slug}`) or one project for every page.
    pub project: Template,
    /// The owner's GitLab username.
    pub owner: Template,
    /// The page's public URL, if any.
    pub url: Option<Template>,
    /// The page label, when not the usual prefix plus the page id.
    pub page_label: Option<Template>,
}

/// Which matched files become pages.
#[derive(Debug, Clone, Default)]
pub struct Qualification {
    /// A front matter key the page must have (any value).
    pub front_matter_key: Option<String>,
    /// A heading the page must contain.
    pub heading: Option<HeadingPatterns>,
}

impl Qualification {
    /// True when deciding needs the file's text.
    pub fn needs_text(&self) -> bool {
        self.front_matter_key.is_some() || self.heading.is_some()
    }
}

/// A block's rules, compiled.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Which paths.
    pub paths: PathPatterns,
    /// Which of those are pages.
    pub qualification: Qualification,
    /// What each page becomes.
    pub templates: Templates,
}

/// The page a file becomes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiscoveredPage {
    /// Page id.
    pub id: String,
    /// Project path or numeric id.
    pub project: String,
    /// Owner's username (a leading `@` removed).
    pub owner: String,
    /// The owner is the page's own front matter value, not text of the configuration:
    /// page text, so only a member of the project is assigned. True when not known (an
    /// older cache's entry): the safe side.
    #[serde(default = "owner_from_page_unknown")]
    pub owner_from_page: bool,
    /// Public URL.
    pub url: Option<String>,
    /// The page label as written, when templated.
    pub page_label: Option<String>,
}

fn owner_from_page_unknown() -> bool {
    true
}

/// What becomes of one listed file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Its path is not matched: it is not looked at.
    NotMatched,
    /// Matched, but not a page (no such front matter key, no such heading).
    NotQualified(String),
    /// A page.
    Page(DiscoveredPage),
    /// A page whose templates give something unusable: reported, not synced.
    Invalid(String),
}

impl Rules {
    /// True when qualifying or expanding a file needs its text.
    pub fn needs_text(&self) -> bool {
        let t = &self.templates;
        self.qualification.needs_text()
            || [
                Some(&t.id),
                Some(&t.project),
                Some(&t.owner),
                t.url.as_ref(),
            ]
            .into_iter()
            .chain([t.page_label.as_ref()])
            .flatten()
            .any(Template::uses_front_matter)
    }

    /// What `path` (below the root) with `text` (when [`Rules::needs_text`]; else `None`
    /// is enough) becomes.
    pub fn judge(&self, path: &str, text: Option<&str>) -> Verdict {
        if !self.paths.matches(path) {
            return Verdict::NotMatched;
        }
        let text = text.unwrap_or_default();
        // A page with broken front matter still qualifies by its headings; templates
        // that need a key then name it as missing.
        let fields = front_matter(text).unwrap_or_default();
        if let Some(key) = &self.qualification.front_matter_key
            && !fields.contains_key(key)
        {
            return Verdict::NotQualified(format!("no front matter key `{key}`"));
        }
        if let Some(wanted) = &self.qualification.heading
            && !headings(text).iter().any(|h| wanted.matches(h))
        {
            return Verdict::NotQualified("no matching heading".into());
        }
        let facts = FileFacts {
            path: path.to_owned(),
            front_matter: fields,
        };
        match self.page(&facts) {
            Ok(page) => Verdict::Page(page),
            Err(why) => Verdict::Invalid(why),
        }
    }

    fn page(&self, facts: &FileFacts) -> Result<DiscoveredPage, String> {
        let t = &self.templates;
        let id = t.id.expand(facts)?;
        check_page_id(&id).map_err(|e| format!("id template `{}`: {e}", t.id.as_str()))?;
        let project = t.project.expand(facts)?;
        check_project(&project)
            .map_err(|e| format!("project template `{}`: {e}", t.project.as_str()))?;
        // A number names any project of the instance, with nothing of the template left
        // to show it: only the configuration itself may write one.
        if !t.project.is_constant() && project.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "project template `{}` gives the numeric project id `{project}`: a project id is taken only from a template without placeholders; give the project's path",
                t.project.as_str()
            ));
        }
        let owner = t.owner.expand(facts)?;
        let owner = owner.trim().trim_start_matches('@').to_owned();
        check_username(&owner)
            .map_err(|e| format!("owner template `{}`: {e}", t.owner.as_str()))?;
        let url = t.url.as_ref().map(|u| u.expand(facts)).transpose()?;
        if let Some(url) = &url
            && url::Url::parse(url).is_err()
        {
            return Err(format!(
                "url template `{}` gives `{url}`, which is not a URL",
                t.url.as_ref().map(Template::as_str).unwrap_or_default()
            ));
        }
        let page_label = t.page_label.as_ref().map(|l| l.expand(facts)).transpose()?;
        if let Some(label) = &page_label
            && crate::sync::desired::label_name(label).is_empty()
        {
            return Err(format!(
                "page_label template `{}` gives an empty label",
                t.page_label
                    .as_ref()
                    .map(Template::as_str)
                    .unwrap_or_default()
            ));
        }
        Ok(DiscoveredPage {
            id,
            project,
            // A file name is page text as much as its front matter: whoever adds
            // `jobs/alice.md` chooses `{stem}` as surely as `owner: alice`.
            owner_from_page: t.owner.reads_page(facts) || t.owner.uses_path(),
            owner,
            url,
            page_label,
        })
    }
}

/// A page id: letters, digits, `-`, `_` and `.`, not empty (it goes into labels and
/// markers).
pub fn check_page_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("gives an empty id".into());
    }
    if !id
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "gives `{id}`: use letters, digits, `-`, `_` and `.` only"
        ));
    }
    Ok(())
}

/// A project: a numeric id, or a path of at least two segments (`group/project`,
/// `group/sub/project`) made of what GitLab allows in paths (letters, digits, `_`, `-`,
/// `.`), no segment starting with `-` or `.`.
pub fn check_project(project: &str) -> Result<(), String> {
    if !project.is_empty() && project.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    let segments: Vec<&str> = project.split('/').collect();
    let segment_ok = |s: &&str| {
        !s.is_empty()
            && !s.starts_with(['-', '.'])
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if segments.len() < 2 || !segments.iter().all(segment_ok) {
        return Err(format!(
            "gives `{project}`, which is not a project path (GROUP/PROJECT of letters, digits, `_`, `-`, `.`)"
        ));
    }
    Ok(())
}

/// A GitLab username: letters, digits, `_`, `-`, `.`, not empty.
pub fn check_username(username: &str) -> Result<(), String> {
    if username.is_empty()
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "gives `{username}`, which is not a GitLab username"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
