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

use std::collections::BTreeSet;

use handbook_sync_core::discover::{DiscoveredPage, Rules, Verdict};

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
            format!("discover:{}:{}", self.block, self.path)
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(
                f,
                "[[discover]] `{}` ({}): {}",
                self.block, self.source, self.message
            )
        } else {
            write!(
                f,
                "[[discover]] `{}`: `{}`: {}; the page is not synced",
                self.block, self.path, self.message
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
    /// The ids of the block's pages this run, problems aside.
    pub pages: BTreeSet<String>,
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
    let mut expansion = Expansion {
        config: config.clone(),
        problems: Vec::new(),
        blocks: Vec::new(),
    };
    let mut ids: BTreeSet<String> = config.pages.iter().map(|p| p.id.clone()).collect();
    for block in &config.discover {
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
            pages: BTreeSet::new(),
        };
        let problem = |path: &str, message: String| Problem {
            block: block.name.clone(),
            path: path.to_owned(),
            source: block.source.clone(),
            message,
        };
        let files = match listed {
            Ok(files) => files,
            Err(message) => {
                expansion.problems.push(problem("", message));
                expansion.blocks.push(listing);
                continue;
            }
        };
        for file in files {
            let page = match file.verdict {
                Ok(Verdict::Page(page)) => page,
                Ok(Verdict::NotMatched | Verdict::NotQualified(_)) => continue,
                Ok(Verdict::Invalid(message)) | Err(message) => {
                    // Its page, if it had one, is unknown: the block is not complete.
                    listing.complete = false;
                    expansion.problems.push(problem(&file.path, message));
                    continue;
                }
            };
            if !ids.insert(page.id.clone()) {
                listing.complete = false;
                expansion.problems.push(problem(
                    &file.path,
                    format!(
                        "its id `{}` is already another page's (a configured page, or a file listed before it); change the id template or the page",
                        page.id
                    ),
                ));
                continue;
            }
            listing.pages.insert(page.id.clone());
            expansion.config.pages.push(page_settings(
                block,
                &file.path,
                file.source,
                file.blob,
                page,
            ));
        }
        tracing::debug!(block = %block.name, pages = listing.pages.len(), "discovered");
        expansion.blocks.push(listing);
    }
    expansion
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
            blob,
        }),
    }
}
