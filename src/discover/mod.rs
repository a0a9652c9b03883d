//! `[[discover]]`: the pages a run covers beyond the configured ones, found at its start
//! by listing a directory ([`local`]) or a GitLab repository tree ([`repository`]).
//!
//! What a file is (matched, qualifying, the page it becomes) is decided by the core's
//! [`handbook_sync_core::discover::Rules`]; this module lists and reads. A file of a
//! repository is read only when its blob is not remembered (the daemon's memory, or the
//! cache in `sync.cache_dir`): the same blob is the same text. The texts read here are
//! handed to the page stage through the [`SourceCache`], so no file is read twice.
//!
//! Nothing here fails a run: a block that cannot be listed, and a file that cannot be
//! read or whose templates give something unusable, become [`Problem`]s, reported as
//! skipped pages; the other pages sync. A block that could not be listed completely is
//! marked so ([`BlockListing::complete`]): pages that seem to have vanished from it are
//! not looked for.

mod local;
mod repository;

use std::collections::{BTreeMap, BTreeSet};

use handbook_sync_core::discover::{DiscoveredPage, FileFacts, Rules, Template, Verdict};

use crate::config::{Config, DiscoverSettings, Discovered, PageSettings};
use crate::gitlab::Gitlab;
use crate::source::{SourceCache, SourceSpec};

/// A file or a block discovery could not make a page of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The `[[discover]]` block.
    pub block: String,
    /// The file below the block's root, or empty when the block itself failed.
    pub path: String,
    /// The block's source, for messages.
    pub source: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// How the problem is shown in the plan: as a page named after the file.
    pub fn page_name(&self) -> String {
        if self.path.is_empty() {
            format!("discover:{}", self.block)
        } else {
            format!("discover:{}:{}", self.block, shown(&self.path))
        }
    }
}

/// `text` (a file's name, or a message that quotes one) with its control characters
/// escaped as Rust writes them (`\n`, `\u{1b}`): a name is anyone's text, and a line
/// break in it would print a forged line into the plan and the merge request note.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(
                f,
                "[[discover]] `{}` ({}): {}",
                self.block,
                self.source,
                shown(&self.message)
            )
        } else {
            write!(
                f,
                "[[discover]] `{}`: `{}`: {}; the page is not synced",
                self.block,
                shown(&self.path),
                shown(&self.message)
            )
        }
    }
}

/// How one block's listing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockListing {
    /// The block's name.
    pub name: String,
    /// Its label, which every issue of its pages carries.
    pub label: String,
    /// Every file was listed and judged: the block's pages are all its pages, so a
    /// page of it in the tracker that is not among them has vanished.
    pub complete: bool,
    /// Every page of the block goes to one project (its template has no placeholder).
    pub one_project: Option<String>,
    /// The block's project template: a project it could not give holds none of its
    /// pages, whatever labels its issues carry.
    pub project_template: Template,
    /// The ids of the block's pages this run, problems aside.
    pub pages: BTreeSet<String>,
    /// Matched files that are no page (no such front matter key, no such heading), by
    /// the id their path would give: (path, why). What a vanished page's refusal names.
    pub not_pages: BTreeMap<String, (String, String)>,
}

/// The configuration with its discovered pages.
#[derive(Debug, Clone)]
pub struct Expansion {
    /// The configuration, discovered pages after the configured ones.
    pub config: Config,
    /// What could not become a page.
    pub problems: Vec<Problem>,
    /// Per block, how listing it went.
    pub blocks: Vec<BlockListing>,
}

/// A `[[discover]]` block in a GitLab repository, as the daemon's push hook sees it.
#[derive(Debug, Clone)]
pub struct PushWatch {
    /// The block's name.
    pub block: String,
    /// The project, lower case (GitLab's paths ignore case).
    project: String,
    /// The block's directory, with a trailing `/` (empty: the whole repository).
    dir: String,
    /// The branch.
    git_ref: String,
    rules: Rules,
}

impl PushWatch {
    /// The blocks of `config` that list a GitLab repository.
    pub fn of(config: &Config) -> Vec<PushWatch> {
        config
            .discover
            .iter()
            .filter_map(|block| match config.source_of(block) {
                SourceSpec::Gitlab {
                    project,
                    path,
                    git_ref,
                } => Some(PushWatch {
                    block: block.name.clone(),
                    project: project.to_lowercase(),
                    dir: match path.trim_matches('/') {
                        "" => String::new(),
                        dir => format!("{dir}/"),
                    },
                    git_ref,
                    rules: block
                        .rules()
                        .expect("validated when the configuration loads"),
                }),
                _ => None,
            })
            .collect()
    }

    /// True when a push to `git_ref` (`refs/heads/BRANCH`) of `project` (any case) is to
    /// this block's branch; an event that does not say is taken to be.
    pub fn on_branch(&self, project: Option<&str>, git_ref: Option<&str>) -> bool {
        project.is_none_or(|p| p.to_lowercase() == self.project)
            && git_ref
                .is_none_or(|r| r == format!("refs/heads/{}", self.git_ref) || r == self.git_ref)
    }

    /// True when one of `paths` (repository paths) is a file the block matches.
    pub fn touches(&self, paths: &BTreeSet<String>) -> bool {
        paths.iter().any(|p| {
            p.strip_prefix(&self.dir)
                .is_some_and(|below| self.rules.paths.matches(below))
        })
    }
}

/// One listed file.
#[derive(Debug, Clone)]
struct Listed {
    /// Below the block's root.
    path: String,
    /// Where the page is read from.
    source: String,
    /// The blob id, for a repository file.
    blob: Option<String>,
    /// What the file is, or why that is not known.
    verdict: Result<Verdict, String>,
}

/// Expands every `[[discover]]` block of `config` into pages, in block order, each
/// block's pages in path order. Files of a repository are listed through `gitlab` and
/// read only when `sources` does not remember their blob; texts read are left in
/// `sources` for the page stage.
pub async fn expand(config: &Config, gitlab: &Gitlab, sources: &SourceCache) -> Expansion {
    expand_with(config, gitlab, sources, false).await
}

/// [`expand`], where a block whose listing was read without error and holds no file it
/// matches is complete when `empty_is_complete` (`--allow-removed-pages`: retiring a
/// block closes its pages' issues), and incomplete, a problem, otherwise.
pub async fn expand_with(
    config: &Config,
    gitlab: &Gitlab,
    sources: &SourceCache,
    empty_is_complete: bool,
) -> Expansion {
    let mut expansion = Expansion {
        config: config.clone(),
        problems: Vec::new(),
        blocks: Vec::new(),
    };
    // Every block's pages first: which ids two files give is known only once all are.
    let mut found: Vec<Found> = Vec::new();
    for (index, block) in config.discover.iter().enumerate() {
        let rules = block
            .rules()
            .expect("discover blocks are validated when the configuration loads");
        let listed = match config.source_of(block) {
            SourceSpec::Local(dir) => local::list(&dir, &rules, config.sync.max_page_bytes).await,
            SourceSpec::Gitlab {
                project,
                path,
                git_ref,
            } => {
                let at = repository::Root {
                    project: &project,
                    path: &path,
                    git_ref: &git_ref,
                };
                repository::list(gitlab, &at, block, &rules, config, sources).await
            }
            SourceSpec::Http(_) => unreachable!("refused when the configuration loads"),
        };
        let mut listing = BlockListing {
            name: block.name.clone(),
            label: block.label(),
            complete: listed.is_ok(),
            one_project: rules
                .templates
                .project
                .is_constant()
                .then(|| rules.templates.project.as_str().to_owned()),
            project_template: rules.templates.project.clone(),
            pages: BTreeSet::new(),
            not_pages: BTreeMap::new(),
        };
        let files = match listed {
            // No file at all is more often a listing cut short (an empty answer, a
            // checkout that failed) than a handbook emptied: never every page removed,
            // unless the run allows removed pages (how a block is retired).
            Ok(files) if files.is_empty() && !empty_is_complete => Err(
                "the listing holds no file the block matches: taken as incomplete, so no page of the block is looked for as removed (to retire the block, run `apply --allow-removed-pages` with its files gone, which closes its pages' issues, then remove the block)"
                    .to_owned(),
            ),
            listed => listed,
        };
        let files = match files {
            Ok(files) => files,
            Err(message) => {
                listing.complete = false;
                expansion.problems.push(problem(block, "", message));
                expansion.blocks.push(listing);
                continue;
            }
        };
        for file in files {
            match file.verdict {
                Ok(Verdict::Page(page)) => found.push(Found {
                    block: index,
                    path: file.path,
                    source: file.source,
                    blob: file.blob,
                    page,
                }),
                Ok(Verdict::NotQualified(why)) => {
                    let facts = FileFacts {
                        path: file.path.clone(),
                        front_matter: BTreeMap::new(),
                    };
                    if let Ok(id) = rules.templates.id.expand(&facts) {
                        listing.not_pages.insert(id, (file.path, why));
                    }
                }
                Ok(Verdict::NotMatched) => {}
                Ok(Verdict::Invalid(message)) | Err(message) => {
                    // Its page, if it had one, is unknown: the block is not complete.
                    listing.complete = false;
                    expansion.problems.push(problem(block, &file.path, message));
                }
            }
        }
        expansion.blocks.push(listing);
    }
    // An id two files give is neither's: the first in path order would take the other's
    // issues over (closing those its text lacks, or moving the page to its project).
    // One file found twice (two blocks, one id template) is one file: synced once below.
    let base = config.path.parent().unwrap_or(std::path::Path::new("."));
    let keys: Vec<String> = found
        .iter()
        .map(|f| {
            SourceSpec::parse(&f.source, base)
                .map_or_else(|_| f.source.clone(), |spec| source_key(&spec))
        })
        .collect();
    let mut givers: BTreeMap<&str, Vec<(&Found, &str)>> = BTreeMap::new();
    for (f, key) in found.iter().zip(&keys) {
        givers.entry(f.page.id.as_str()).or_default().push((f, key));
    }
    let configured: BTreeSet<&str> = config.pages.iter().map(|p| p.id.as_str()).collect();
    // The file each page reads, resolved: a file a configured page or an earlier block
    // already reads is synced once, as that page (twice would give every item twice).
    let mut read_by: BTreeMap<String, String> = config
        .pages
        .iter()
        .map(|p| (source_key(&config.source(p)), p.id.clone()))
        .collect();
    let mut refused: Vec<(usize, Problem)> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let block = &config.discover[f.block];
        let key = &keys[i];
        let others: Vec<String> = givers[f.page.id.as_str()]
            .iter()
            .filter(|(_, other)| other != key)
            .map(|(o, _)| {
                let other = &config.discover[o.block].name;
                if *other == block.name {
                    format!("`{}`", o.path)
                } else {
                    format!("`{}` of [[discover]] `{other}`", o.path)
                }
            })
            .collect();
        let message = if configured.contains(f.page.id.as_str()) {
            format!(
                "its id `{}` is a configured page's; change the id template or the page",
                f.page.id
            )
        } else if !others.is_empty() {
            format!(
                "its id `{}` is also given by {}: neither is synced, and nothing of page `{}` is written, until one of them gives another id (rename it, or change the id template)",
                f.page.id,
                others.join(", "),
                f.page.id
            )
        } else {
            match read_by.get(key) {
                Some(page) => format!(
                    "this file is already page `{page}` (a configured page, or an earlier block's): it is synced once, as that page; exclude it from one of them"
                ),
                None => {
                    read_by.insert(key.clone(), f.page.id.clone());
                    continue;
                }
            }
        };
        refused.push((i, problem(block, &f.path, message)));
    }
    for (i, _) in refused.iter().rev() {
        // The id's page is unknown: the block is not complete, nothing of it vanishes.
        let f = found.remove(*i);
        expansion.blocks[f.block].complete = false;
    }
    expansion
        .problems
        .extend(refused.into_iter().map(|(_, problem)| problem));
    for f in found {
        let block = &config.discover[f.block];
        expansion.blocks[f.block].pages.insert(f.page.id.clone());
        expansion
            .config
            .pages
            .push(page_settings(block, &f.path, f.source, f.blob, f.page));
    }
    for listing in &expansion.blocks {
        tracing::debug!(block = %listing.name, pages = listing.pages.len(), "discovered");
    }
    expansion
}

/// What a page reads, as one text whatever way it was written: a local file's real
/// path (`./jobs/a.md`, an absolute path and a block's walk give one), a repository
/// file's project (GitLab ignores its case), ref and path.
fn source_key(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::Local(path) => {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("file:{}", real.display())
        }
        SourceSpec::Http(url) => url.to_string(),
        SourceSpec::Gitlab {
            project,
            path,
            git_ref,
        } => format!(
            "gitlab:{}:{git_ref}:{}",
            project.to_lowercase(),
            path.trim_matches('/')
        ),
    }
}

/// A file that gives a page, before the ids are compared.
struct Found {
    /// The block's index in the configuration.
    block: usize,
    path: String,
    source: String,
    blob: Option<String>,
    page: DiscoveredPage,
}

fn problem(block: &DiscoverSettings, path: &str, message: String) -> Problem {
    Problem {
        block: block.name.clone(),
        path: path.to_owned(),
        source: block.source.clone(),
        message,
    }
}

/// The configured page a discovered one stands for.
fn page_settings(
    block: &DiscoverSettings,
    path: &str,
    source: String,
    blob: Option<String>,
    page: DiscoveredPage,
) -> PageSettings {
    PageSettings {
        id: page.id,
        source,
        url: page.url,
        project: page.project,
        owner: page.owner,
        include_sections: block.sections.clone(),
        exclude_sections: block.exclude_sections.clone(),
        board: block.board,
        adopt: false,
        page_label: page.page_label,
        discovered: Some(Discovered {
            block: block.name.clone(),
            label: block.label(),
            path: path.to_owned(),
            project_template: block.project.clone(),
            // Also from the block's template: a verdict remembered by blob from before a
            // path-given owner counted as page text says otherwise.
            owner_from_page: page.owner_from_page
                || handbook_sync_core::discover::Template::parse(&block.owner)
                    .map_or(true, |t| t.uses_path()),
            blob,
        }),
    }
}
