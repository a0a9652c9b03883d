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

/// How names in the handbook become GitLab usernames in one project. Built by the shell,
/// which lists the project's members once and looks up the configured users once per run.
///
/// A name written in the handbook is assigned only through `[people]` or when a member of
/// the project has exactly that username: on a large instance almost every short name is
/// somebody's username, and assigning (and e-mailing) a stranger is a defect. The
/// configuration's own choices (`[people]` values, the page owner) are assigned as
/// configured, with a warning when they are not members.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Handbook name → username, from `[people]`.
    pub map: BTreeMap<String, String>,
    /// Usernames of the project's members, inherited ones included.
    pub members: BTreeSet<String>,
    /// Configured usernames that exist on the instance (members or not).
    pub known: BTreeSet<String>,
    /// Configured usernames that could not be looked up, with why.
    pub unavailable: BTreeMap<String, String>,
    /// The project, for messages.
    pub project: String,
}

/// Who an item goes to, and what to tell about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The username to assign, if any.
    pub username: Option<String>,
    /// Why nobody is assigned, or that the person assigned is not a member.
    pub warning: Option<String>,
}

impl People {
    /// The assignee for a name written after the arrow.
    pub fn resolve(&self, name: &str) -> Assignment {
        if let Some(username) = self.map.get(name) {
            return self.configured(username, &format!("[people] \"{name}\""));
        }
        let candidate = name.trim().trim_start_matches('@');
        if self.members.contains(candidate) {
            return Assignment {
                username: Some(candidate.to_owned()),
                warning: None,
            };
        }
        Assignment {
            username: None,
            warning: Some(format!(
                "unknown person `{name}`: not in [people] and no member of {} has that username; left unassigned",
                self.project
            )),
        }
    }

    /// The assignee the configuration names under `key` (a `[people]` value or a page
    /// owner): assigned as configured when the user exists, with a warning when they are
    /// not a member (GitLab drops an assignee who cannot see the project).
    pub fn configured(&self, username: &str, key: &str) -> Assignment {
        let username = username.trim().trim_start_matches('@');
        // GitLab usernames are unique ignoring case: the configuration names that member,
        // and the member's own spelling is what GitLab will answer (no false drift).
        if let Some(member) = self.members.get(username).or_else(|| {
            self.members
                .iter()
                .find(|m| m.eq_ignore_ascii_case(username))
        }) {
            return Assignment {
                username: Some(member.clone()),
                warning: None,
            };
        }
        if self.known.contains(username) {
            return Assignment {
                username: Some(username.to_owned()),
                warning: Some(format!(
                    "`{username}` ({key}) is not a member of {}; assigned as configured (GitLab drops an assignee who cannot see the project)",
                    self.project
                )),
            };
        }
        let why = self.unavailable.get(username).map_or_else(
            || "no GitLab user has that username".to_owned(),
            Clone::clone,
        );
        Assignment {
            username: None,
            warning: Some(format!("`{username}` ({key}): {why}; left unassigned")),
        }
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
    /// Managed labels the issue should carry, sorted, each once. A `Vec` rather than a
    /// set: a handful of labels per item, for every item of a page, costs far less so.
    pub labels: Vec<String>,
    /// Username to assign.
    pub assignee: Option<String>,
    /// Why there is no assignee, or that the assignee is not a member of the project.
    pub assignee_problem: Option<String>,
    /// Open or closed.
    pub state: IssueState,
    /// 1-based line in the page.
    pub line: usize,
}

/// A label title as every GitLab version stores it: whitespace collapsed, no commas, at
/// most 255 characters, and a title GitLab's old rule (HTML tags stripped and entities
/// decoded, `app/models/label.rb` before gitlab-org/gitlab!207594) leaves as it is, which
/// GitLab since keeps too ([`super::label_title::stable_title`]). The plan compares and
/// creates this title, so what it asks for is what GitLab keeps and the next run finds it.
pub fn label_name(text: &str) -> String {
    super::label_title::stable_title(&crate::parse::collapse(&text.replace(',', " ")))
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

/// Adds `label` to every issue of `desired` (a `[[discover]]` block's label beside the
/// page label), keeping each issue's labels sorted and each once.
pub fn add_label(desired: &mut [DesiredIssue], label: &str) {
    let label = label_name(label);
    for d in desired {
        if let Err(at) = d.labels.binary_search(&label) {
            d.labels.insert(at, label.clone());
        }
    }
}

fn desired_issue(
    item: &Item,
    spec: &PageSpec,
    owner: &str,
    settings: &Labels,
    people: &People,
) -> DesiredIssue {
    let mut labels = vec![settings.managed_label.clone(), spec.page_label.clone()];
    if let Some(section) = section_label(settings, &item.section) {
        labels.push(section);
    }
    if item.status == ItemStatus::HandedOver {
        labels.push(label_name(&settings.handed_over_label));
    }
    // In the order a set kept them: markers record this order, and a different one would
    // rewrite every issue.
    labels.sort_unstable();
    labels.dedup();
    labels.shrink_to_fit();
    let assignment = match &item.owner {
        Some(name) => people.resolve(name),
        None => people.configured(owner, &format!("owner of page `{}`", spec.id)),
    };
    let (assignee, assignee_problem) = (assignment.username, assignment.warning);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> People {
        People {
            map: BTreeMap::from([("Drew".to_owned(), "drew".to_owned())]),
            members: BTreeSet::from(["ashley".to_owned()]),
            known: BTreeSet::from(["drew".to_owned(), "outsider".to_owned()]),
            unavailable: BTreeMap::from([("down".to_owned(), "could not be looked up".to_owned())]),
            project: "acme/roadmap".into(),
        }
    }

    #[test]
    fn handbook_names_go_to_members_only_and_configured_users_as_configured() {
        let p = people();
        assert_eq!(p.resolve("ashley").username.as_deref(), Some("ashley"));
        assert_eq!(p.resolve("@ashley").warning, None);
        let stranger = p.resolve("outsider");
        assert_eq!(
            stranger.username, None,
            "a user who exists but is no member"
        );
        assert!(
            stranger
                .warning
                .unwrap()
                .contains("no member of acme/roadmap")
        );
        assert_eq!(p.resolve("Ashley").username, None, "exactly the username");
        let mapped = p.resolve("Drew");
        assert_eq!(mapped.username.as_deref(), Some("drew"));
        assert!(mapped.warning.unwrap().contains("[people] \"Drew\""));
        assert_eq!(
            p.configured("Ashley", "owner of page `pm`")
                .username
                .as_deref(),
            Some("ashley"),
            "a configured name is the member's own spelling"
        );
        let owner = p.configured("outsider", "owner of page `pm`");
        assert_eq!(owner.username.as_deref(), Some("outsider"));
        assert!(owner.warning.unwrap().contains("owner of page `pm`"));
        let down = p.configured("down", "owner of page `pm`");
        assert_eq!(down.username, None);
        assert!(down.warning.unwrap().contains("could not be looked up"));
    }

    #[test]
    fn label_titles_are_what_gitlab_stores() {
        assert_eq!(
            label_name("section::Use <b> for emphasis"),
            "section::Use  for emphasis"
        );
        assert_eq!(label_name("a <script>x()</script>b"), "a b");
        assert_eq!(label_name("Q&amp;A, more"), "Q&A more");
        assert_eq!(label_name("  spaced  out "), "spaced out");
        assert_eq!(label_name("x < y"), "x < y", "not a tag");
        assert_eq!(
            label_name("Section::Duties"),
            "Section::Duties",
            "case kept"
        );
    }
}
