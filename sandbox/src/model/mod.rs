//! The sandbox's data: users, projects and what projects hold. Serialisable so that
//! `--state FILE` survives restarts.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

mod groups;
mod render;
mod repository;

pub use groups::Group;
pub use render::Render;
pub use repository::{
    Branch, Change, ChangeKind, Commit, DEFAULT_BRANCH, MergeRequest, MrNote, RepoFile,
};

/// A GitLab user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The address given at creation (`POST /users`); users from the start-up
    /// configuration have none.
    #[serde(default)]
    pub email: Option<String>,
    /// An administrator may do everything, as `root` (GitLab: `project_policy.rb`
    /// `rule { admin }`).
    #[serde(default)]
    pub is_admin: bool,
}

/// A personal access token of a user (`POST /users/:id/personal_access_tokens`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub scopes: Vec<String>,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// A direct project member and its role (GitLab: `Gitlab::Access`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: u64,
    /// 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner.
    pub access_level: u8,
    pub created_at: DateTime<Utc>,
    pub created_by: u64,
}

/// A project label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub priority: Option<i64>,
    /// When it was created or last changed; not shown by the API, but a delete with
    /// `If-Unmodified-Since` compares it (`lib/api/helpers.rb`,
    /// `check_unmodified_since!`). `None` in state files written before it was kept.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// An issue's state, as the API and the state file spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    /// `opened`.
    Opened,
    /// `closed`.
    Closed,
}

impl IssueState {
    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Opened => "opened",
            IssueState::Closed => "closed",
        }
    }
}

/// An issue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    pub state: IssueState,
    pub labels: Vec<String>,
    pub assignee_ids: Vec<u64>,
    pub author_id: u64,
    pub confidential: bool,
    /// `issue`, `incident`, `test_case` or `task` (`doc/api/issues.md`: the
    /// `issue_type` of `POST /projects/:id/issues`, `issue` by default); a work item's
    /// task is listed among the project's issues like any other.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<u64>,
    pub notes: Vec<Note>,
}

fn default_issue_type() -> String {
    "issue".into()
}

/// A comment on an issue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub id: u64,
    pub body: String,
    pub author_id: u64,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
}

/// An issue board.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Board {
    pub id: u64,
    pub name: String,
    pub lists: Vec<BoardList>,
}

/// A label list on a board.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoardList {
    pub id: u64,
    pub label_id: u64,
    pub position: u64,
}

/// A project milestone (`app/models/milestone.rb`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Milestone {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    /// `active` or `closed`.
    pub state: String,
    pub start_date: Option<chrono::NaiveDate>,
    pub due_date: Option<chrono::NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A project webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hook {
    pub id: u64,
    pub url: String,
    pub push_events: bool,
    pub token: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A new project's `issues_access_level`, and that of states saved before it existed.
fn issues_enabled() -> String {
    "enabled".to_owned()
}

/// A project and everything in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    pub visibility: String,
    /// Who sees the project's issues: `enabled` (whoever sees the project), `private`
    /// (members only) or `disabled` (`app/models/concerns/featurable.rb`).
    #[serde(default = "issues_enabled")]
    pub issues_access_level: String,
    pub created_at: DateTime<Utc>,
    pub issues: Vec<Issue>,
    pub labels: Vec<Label>,
    pub boards: Vec<Board>,
    pub files: BTreeMap<String, RepoFile>,
    pub commits: Vec<Commit>,
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// The head of `main`; `None` in states saved before branches existed, where the
    /// last commit is main's (see [`Project::settle_history`]).
    #[serde(default)]
    pub main_head: Option<String>,
    /// Branches other than `main`, whose tree is `files`.
    #[serde(default)]
    pub branches: BTreeMap<String, Branch>,
    #[serde(default)]
    pub merge_requests: Vec<MergeRequest>,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    /// The group the project is in; `None` in a user's namespace (and in states saved
    /// before groups existed).
    #[serde(default)]
    pub namespace_id: Option<u64>,
}

impl Project {
    /// The last path component.
    pub fn path(&self) -> &str {
        self.path_with_namespace
            .rsplit('/')
            .next()
            .unwrap_or(&self.path_with_namespace)
    }

    /// The label with this name (GitLab compares label titles exactly).
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// The direct membership of `user_id`, if any.
    pub fn member(&self, user_id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }
}

/// The whole sandbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub users: Vec<User>,
    pub projects: Vec<Project>,
    /// The last id handed out, shared by every kind of object as GitLab ids are global.
    pub last_id: u64,
    /// Personal access tokens made through the API; root's token is the configured one.
    #[serde(default)]
    pub tokens: Vec<AccessToken>,
    /// The `admin_mode` application setting (off by default, as on a new self-managed
    /// instance): when on, an administrator's token has admin powers only with the
    /// `admin_mode` scope (GitLab: `app/policies/base_policy.rb`, condition `admin`;
    /// `lib/gitlab/auth/current_user_mode.rb`).
    #[serde(default)]
    pub admin_mode: bool,
    /// Feature flags set through the API (`POST /features/:name`), by name; a flag not
    /// here is at GitLab's default (`crate::flags`).
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    /// Groups, nested ones included.
    #[serde(default)]
    pub groups: Vec<Group>,
}

impl State {
    /// A fresh global id.
    pub fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// The user with this id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Adds a user unless one with the username exists; returns its id.
    pub fn ensure_user(&mut self, username: &str, name: &str, now: DateTime<Utc>) -> u64 {
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        {
            return u.id;
        }
        let id = self.next_id();
        self.users.push(User {
            id,
            username: username.to_owned(),
            name: name.to_owned(),
            created_at: now,
            email: None,
            is_admin: false,
        });
        id
    }

    /// Makes `username` a member of the project at `path` with `level`, added by
    /// `added_by`, unless the user or project is missing or the membership exists.
    pub fn ensure_member(
        &mut self,
        path: &str,
        username: &str,
        level: u8,
        added_by: u64,
        now: DateTime<Utc>,
    ) {
        let Some(user_id) = self
            .users
            .iter()
            .find(|u| u.username == username)
            .map(|u| u.id)
        else {
            return;
        };
        let Some(project) = self
            .projects
            .iter_mut()
            .find(|p| p.path_with_namespace == path)
        else {
            return;
        };
        if project.member(user_id).is_none() {
            project.members.push(Member {
                user_id,
                access_level: level,
                created_at: now,
                created_by: added_by,
            });
        }
    }

    /// Adds a project unless one with the path exists; its namespace is a group, made
    /// if missing (the start-up configuration's projects).
    pub fn ensure_project(&mut self, path: &str, visibility: &str, now: DateTime<Utc>) {
        if self.projects.iter().any(|p| p.path_with_namespace == path) {
            return;
        }
        let group = path
            .rsplit_once('/')
            .map(|(namespace, _)| self.ensure_group_path(namespace, now));
        self.add_project(path, visibility, group, now);
    }

    /// Adds a project at `path` (not taken yet) in group `namespace_id`, or in a user's
    /// namespace when `None`; returns its index.
    pub fn add_project(
        &mut self,
        path: &str,
        visibility: &str,
        namespace_id: Option<u64>,
        now: DateTime<Utc>,
    ) -> usize {
        let id = self.next_id();
        self.projects.push(Project {
            id,
            path_with_namespace: path.to_owned(),
            visibility: visibility.to_owned(),
            issues_access_level: issues_enabled(),
            created_at: now,
            issues: Vec::new(),
            labels: Vec::new(),
            boards: Vec::new(),
            files: BTreeMap::new(),
            commits: Vec::new(),
            hooks: Vec::new(),
            main_head: None,
            branches: BTreeMap::new(),
            merge_requests: Vec::new(),
            members: Vec::new(),
            milestones: Vec::new(),
            namespace_id,
        });
        self.projects.len() - 1
    }

    /// The project named by `id`: a numeric id or a (decoded) `group/name` path.
    pub fn project_index(&self, id: &str) -> Option<usize> {
        match id.parse::<u64>() {
            Ok(n) => self.projects.iter().position(|p| p.id == n),
            Err(_) => self
                .projects
                .iter()
                .position(|p| p.path_with_namespace.eq_ignore_ascii_case(id)),
        }
    }
}

/// The current time at the precision the API shows (milliseconds), so that stored and
/// shown timestamps order the same way.
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound as _;
    let t = Utc::now();
    t.duration_trunc(chrono::TimeDelta::milliseconds(1))
        .unwrap_or(t)
}

/// GitLab's timestamp format: RFC 3339 in UTC with milliseconds.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
