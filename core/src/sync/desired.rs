//! Items → the issues they call for: labels, assignee (via [`People`]), state and the
//! Source line. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::parse::{Item, ItemStatus, Page};

/// The label names the sync uses. The shell builds this from its configuration
/// (`[sync]`), so the core never sees the configuration itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// The label every managed issue carries.
    pub managed_label: String,
    /// Page label: this prefix plus the page id.
    pub page_label_prefix: String,
    /// Section label: this prefix plus the section path.
    pub section_label_prefix: String,
    /// The label of handed-over items.
    pub handed_over_label: String,
}

/// A handbook name that is no GitLab user: the item is left unassigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown person `{name}`: not in [people] and no GitLab user by that name; left unassigned"
)]
pub struct UnknownPerson {
    /// The name as written in the handbook.
    pub name: String,
}

/// How names in the handbook become GitLab usernames. Built by the shell, which looks up
/// every name once per run.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Handbook name → username, from `[people]`.
    pub map: BTreeMap<String, String>,
    /// Names (and page owners) that exist as GitLab usernames, as looked up this run.
    pub existing: BTreeSet<String>,
}

impl People {
    /// The username for a handbook name, or why there is none.
    pub fn resolve(&self, name: &str) -> Result<String, UnknownPerson> {
        if let Some(username) = self.map.get(name) {
            return Ok(username.clone());
        }
        let candidate = name.trim().trim_start_matches('@');
        if self
            .existing
            .iter()
            .any(|u| u.eq_ignore_ascii_case(candidate))
        {
            return Ok(candidate.to_owned());
        }
        Err(UnknownPerson {
            name: name.to_owned(),
        })
    }
}

/// The state of an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    /// `opened`.
    Opened,
    /// `closed`.
    Closed,
}

impl IssueState {
    /// GitLab's word.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Opened => "opened",
            IssueState::Closed => "closed",
        }
    }

    /// GitLab's `state_event` that moves an issue into this state.
    pub fn event(self) -> &'static str {
        match self {
            IssueState::Opened => "reopen",
            IssueState::Closed => "close",
        }
    }
}

/// What one page and its configuration say about the page's issues.
#[derive(Debug, Clone)]
pub struct PageSpec {
    /// Page id.
    pub id: String,
    /// Page title.
    pub title: String,
    /// Public URL, if configured.
    pub url: Option<String>,
    /// The page label.
    pub page_label: String,
}

/// The issue an item calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredIssue {
    /// Item key.
    pub key: String,
    /// Issue title.
    pub title: String,
    /// The item's body (Markdown).
    pub body: String,
    /// The Source line.
    pub source: String,
    /// The section path.
    pub section: Vec<String>,
    /// Item status.
    pub status: ItemStatus,
    /// The owner named in the handbook (as written), for reason lines.
    pub owner_name: Option<String>,
    /// Managed labels the issue should carry.
    pub labels: BTreeSet<String>,
    /// Username to assign.
    pub assignee: Option<String>,
    /// Why there is no assignee, when a name could not be resolved.
    pub assignee_problem: Option<String>,
    /// Open or closed.
    pub state: IssueState,
    /// 1-based line in the page.
    pub line: usize,
}

/// A label name GitLab accepts: no commas, at most 255 characters.
pub fn label_name(text: &str) -> String {
    let cleaned: String = text.replace(',', " ");
    let cleaned = crate::parse::collapse(&cleaned);
    cleaned.chars().take(255).collect()
}

/// GitLab's heading anchor: lower case, punctuation dropped, spaces to hyphens.
pub fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The section label of a section path (`section::Responsibilities › Senior`).
pub fn section_label(settings: &Labels, section: &[String]) -> Option<String> {
    (!section.is_empty()).then(|| {
        label_name(&format!(
            "{}{}",
            settings.section_label_prefix,
            section.join(" › ")
        ))
    })
}

/// Every item of a page as a desired issue.
pub fn desired_issues(
    page: &Page,
    spec: &PageSpec,
    owner: &str,
    settings: &Labels,
    people: &People,
) -> Vec<DesiredIssue> {
    page.items
        .iter()
        .map(|item| desired_issue(item, spec, owner, settings, people))
        .collect()
}

fn desired_issue(
    item: &Item,
    spec: &PageSpec,
    owner: &str,
    settings: &Labels,
    people: &People,
) -> DesiredIssue {
    let mut labels = BTreeSet::from([settings.managed_label.clone(), spec.page_label.clone()]);
    if let Some(section) = section_label(settings, &item.section) {
        labels.insert(section);
    }
    if item.status == ItemStatus::HandedOver {
        labels.insert(label_name(&settings.handed_over_label));
    }
    let (assignee, assignee_problem) = match &item.owner {
        Some(name) => match people.resolve(name) {
            Ok(username) => (Some(username), None),
            Err(problem) => (None, Some(problem.to_string())),
        },
        None => match people.resolve(owner) {
            Ok(username) => (Some(username), None),
            Err(_) => (
                None,
                Some(format!(
                    "page owner `{owner}` is not a GitLab user; left unassigned"
                )),
            ),
        },
    };
    let place = if item.section.is_empty() {
        spec.title.clone()
    } else {
        format!("{} › {}", spec.title, item.section.join(" › "))
    };
    // No line number here: it moves whenever a bullet is added above, and every issue
    // below would be rewritten for nothing.
    let source = match &spec.url {
        Some(url) => {
            let anchor = item
                .section
                .last()
                .map(|h| format!("#{}", anchor(h)))
                .unwrap_or_default();
            format!("Source: [{place}]({url}{anchor})")
        }
        None => format!("Source: {place}"),
    };
    DesiredIssue {
        key: item.key.clone(),
        title: item.title.clone(),
        body: item.body.clone(),
        source,
        section: item.section.clone(),
        status: item.status,
        owner_name: item.owner.clone(),
        labels,
        assignee,
        assignee_problem,
        state: if item.status == ItemStatus::Active {
            IssueState::Opened
        } else {
            IssueState::Closed
        },
        line: item.line,
    }
}
