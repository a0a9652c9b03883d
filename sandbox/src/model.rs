//! The sandbox's data: users, projects and what projects hold. Serialisable so that
//! `--state FILE` survives restarts.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<u64>,
    pub notes: Vec<Note>,
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

/// A file in a branch's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoFile {
    pub content: Vec<u8>,
    pub blob_id: String,
    /// The last commit on this branch that changed the file (`git log -1 -- path`).
    pub last_commit_id: String,
}

/// A commit on any branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub id: String,
    pub message: String,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
    pub paths: Vec<String>,
    /// First parent first, as git keeps them; two for a merge commit.
    #[serde(default)]
    pub parent_ids: Vec<String>,
    /// What the commit changed relative to its first parent (what `raw_deltas` gives).
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// How a commit changed one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Removed,
}

/// One path a commit changed, with the file as the commit left it (`None`: removed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub file: Option<RepoFile>,
}

/// A branch other than the default one: its head and its tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Branch {
    pub head: String,
    pub files: BTreeMap<String, RepoFile>,
}

/// A merge request between two branches of one project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: Option<String>,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed` or `merged`.
    pub state: String,
    pub author_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<u64>,
    pub merge_commit_sha: Option<String>,
    /// The source branch's head when merged (GitLab keeps it as the MR's `sha`).
    pub merged_sha: Option<String>,
    pub notes: Vec<MrNote>,
}

/// A comment on a merge request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MrNote {
    pub id: u64,
    pub body: String,
    pub author_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

/// A project and everything in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    pub visibility: String,
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
}

impl Project {
    /// The last path component.
    pub fn path(&self) -> &str {
        self.path_with_namespace
            .rsplit('/')
            .next()
            .unwrap_or(&self.path_with_namespace)
    }

    /// The head commit of `branch`; `None` for an unknown branch or an empty `main`.
    pub fn head(&self, branch: &str) -> Option<&str> {
        if branch == DEFAULT_BRANCH {
            // Only a state saved before branches existed lacks `main_head` while having
            // commits; there every commit is main's. (An empty main with commits on
            // other branches has no head.)
            self.main_head.as_deref().or_else(|| {
                self.branches
                    .is_empty()
                    .then(|| self.commits.last().map(|c| c.id.as_str()))
                    .flatten()
            })
        } else {
            self.branches.get(branch).map(|b| b.head.as_str())
        }
    }

    /// The tree of `branch`; `main` always has one, even while empty.
    pub fn tree(&self, branch: &str) -> Option<&BTreeMap<String, RepoFile>> {
        if branch == DEFAULT_BRANCH {
            Some(&self.files)
        } else {
            self.branches.get(branch).map(|b| &b.files)
        }
    }

    /// The tree of `branch`, to change in place.
    pub fn tree_mut(&mut self, branch: &str) -> Option<&mut BTreeMap<String, RepoFile>> {
        if branch == DEFAULT_BRANCH {
            Some(&mut self.files)
        } else {
            self.branches.get_mut(branch).map(|b| &mut b.files)
        }
    }

    /// Gives states saved before branches existed (one linear `main`, no parents, no
    /// recorded changes) a history the branch code can walk: linear parents, and the
    /// current files as the last commit's changes, so the head's tree replays whole.
    /// Older commits of such a state replay without their files.
    pub fn settle_history(&mut self) {
        if self.main_head.is_some() || self.commits.is_empty() {
            return;
        }
        for i in 1..self.commits.len() {
            if self.commits[i].parent_ids.is_empty() {
                self.commits[i].parent_ids = vec![self.commits[i - 1].id.clone()];
            }
        }
        let last = self.commits.len() - 1;
        if self.commits[last].changes.is_empty() {
            self.commits[last].changes = self
                .files
                .iter()
                .map(|(path, file)| Change {
                    path: path.clone(),
                    kind: ChangeKind::Added,
                    file: Some(file.clone()),
                })
                .collect();
        }
        self.main_head = Some(self.commits[last].id.clone());
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

/// The project's default branch, the only one before the first branch is created.
pub const DEFAULT_BRANCH: &str = "main";

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

    /// Adds a project unless one with the path exists.
    pub fn ensure_project(&mut self, path: &str, visibility: &str, now: DateTime<Utc>) {
        if self.projects.iter().any(|p| p.path_with_namespace == path) {
            return;
        }
        let id = self.next_id();
        self.projects.push(Project {
            id,
            path_with_namespace: path.to_owned(),
            visibility: visibility.to_owned(),
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
        });
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

/// JSON rendering with the fields and types of GitLab's documented examples.
pub struct Render<'a> {
    pub base: &'a str,
    pub state: &'a State,
}

impl Render<'_> {
    /// The short user object embedded in issues (`author`, `assignees`, …).
    pub fn user_basic(&self, id: u64) -> Value {
        serde_json::to_value(self.user_json(id)).expect("a user serialises")
    }

    /// The short user object, ready to serialise.
    fn user_json(&self, id: u64) -> Option<UserJson<'_>> {
        self.state.user(id).map(|u| UserJson {
            id: u.id,
            username: &u.username,
            name: &u.name,
            state: "active",
            locked: false,
            avatar_url: None,
            web_url: format!("{}/{}", self.base, u.username),
        })
    }

    /// `GET /users/:id`.
    pub fn user_full(&self, u: &User) -> Value {
        let mut v = self.user_basic(u.id);
        let extra = json!({
            "created_at": ts(u.created_at), "bio": "", "bot": false, "location": null,
            "public_email": null, "skype": "", "linkedin": "", "twitter": "", "discord": "",
            "website_url": "", "organization": "", "job_title": "", "pronouns": null,
            "work_information": null, "followers": 0, "following": 0, "local_time": null,
            "is_followed": false,
        });
        merge(&mut v, extra);
        v
    }

    /// `GET /projects/:id`.
    pub fn project(&self, p: &Project) -> Value {
        let web_url = format!("{}/{}", self.base, p.path_with_namespace);
        let namespace = p
            .path_with_namespace
            .rsplit_once('/')
            .map_or("", |(ns, _)| ns);
        let api = format!("{}/api/v4/projects/{}", self.base, p.id);
        json!({
            "id": p.id,
            "description": null,
            "name": p.path(),
            "name_with_namespace": p.path_with_namespace.replace('/', " / "),
            "path": p.path(),
            "path_with_namespace": p.path_with_namespace,
            "created_at": ts(p.created_at),
            "default_branch": "main",
            "visibility": p.visibility,
            "web_url": web_url,
            "http_url_to_repo": format!("{web_url}.git"),
            "issues_enabled": true,
            "archived": false,
            "namespace": {
                "id": p.id, "name": namespace, "path": namespace, "kind": "group",
                "full_path": namespace, "web_url": format!("{}/groups/{namespace}", self.base),
            },
            "_links": {
                "self": api, "issues": format!("{api}/issues"), "labels": format!("{api}/labels"),
                "repo_branches": format!("{api}/repository/branches"),
            },
        })
    }

    /// The project object embedded in boards.
    fn project_short(&self, p: &Project) -> Value {
        let full = self.project(p);
        json!({
            "id": p.id, "name": full["name"], "name_with_namespace": full["name_with_namespace"],
            "path": full["path"], "path_with_namespace": p.path_with_namespace,
            "http_url_to_repo": full["http_url_to_repo"], "web_url": full["web_url"],
        })
    }

    /// An issue, as a value.
    pub fn issue(&self, p: &Project, i: &Issue) -> Value {
        serde_json::to_value(self.issue_json(p, i)).expect("an issue serialises")
    }

    /// An issue, ready to serialise: lists render many, straight to bytes.
    pub fn issue_json<'s>(&'s self, p: &'s Project, i: &'s Issue) -> IssueJson<'s> {
        let user = |id: u64| self.user_json(id);
        let assignees: Vec<UserJson<'s>> =
            i.assignee_ids.iter().filter_map(|id| user(*id)).collect();
        let api = format!("{}/api/v4/projects/{}", self.base, p.id);
        let (count, completed_count) = task_counts(i.description.as_deref().unwrap_or(""));
        let short = format!("#{}", i.iid);
        IssueJson {
            id: i.id,
            iid: i.iid,
            project_id: p.id,
            title: &i.title,
            description: i.description.as_deref(),
            state: i.state.as_str(),
            created_at: ts(i.created_at),
            updated_at: ts(i.updated_at),
            closed_at: i.closed_at.map(ts),
            closed_by: i.closed_by.and_then(user),
            labels: &i.labels,
            milestone: None,
            assignee: assignees.first().cloned(),
            assignees,
            author: user(i.author_id),
            r#type: "ISSUE",
            upvotes: 0,
            downvotes: 0,
            merge_requests_count: 0,
            subscribed: true,
            user_notes_count: i.notes.len(),
            due_date: None,
            imported: false,
            imported_from: "none",
            web_url: format!("{}/{}/-/issues/{}", self.base, p.path_with_namespace, i.iid),
            references: References {
                relative: short.clone(),
                short,
                full: format!("{}#{}", p.path_with_namespace, i.iid),
            },
            time_stats: TimeStats::default(),
            has_tasks: count > 0,
            task_status: format!("{completed_count} of {count} checklist items completed"),
            confidential: i.confidential,
            discussion_locked: false,
            issue_type: "issue",
            severity: "UNKNOWN",
            links: IssueLinks {
                self_: format!("{api}/issues/{}", i.iid),
                notes: format!("{api}/issues/{}/notes", i.iid),
                award_emoji: format!("{api}/issues/{}/award_emoji", i.iid),
                project: api,
                closed_as_duplicate_of: None,
            },
            task_completion_status: TaskCompletion {
                count,
                completed_count,
            },
        }
    }

    /// A label, with counts as `with_counts=true` gives them.
    pub fn label(&self, p: &Project, l: &Label) -> Value {
        let count = |state: IssueState| {
            p.issues
                .iter()
                .filter(|i| i.state == state && i.labels.contains(&l.name))
                .count()
        };
        json!({
            "id": l.id,
            "name": l.name,
            "color": l.color,
            "text_color": text_color(&l.color),
            "description": l.description,
            "description_html": l.description,
            "open_issues_count": count(IssueState::Opened),
            "closed_issues_count": count(IssueState::Closed),
            "open_merge_requests_count": 0,
            "subscribed": false,
            "priority": l.priority,
            "is_project_label": true,
        })
    }

    /// A board list.
    pub fn board_list(&self, p: &Project, list: &BoardList) -> Value {
        let label = p.labels.iter().find(|l| l.id == list.label_id);
        json!({
            "id": list.id,
            "label": label.map_or(Value::Null, |l| json!({
                "id": l.id, "name": l.name, "color": l.color, "description": l.description,
            })),
            "position": list.position,
            "max_issue_count": 0,
            "max_issue_weight": 0,
            "limit_metric": null,
        })
    }

    /// A board.
    pub fn board(&self, p: &Project, b: &Board) -> Value {
        json!({
            "id": b.id,
            "name": b.name,
            "project": self.project_short(p),
            "lists": b.lists.iter().map(|l| self.board_list(p, l)).collect::<Vec<_>>(),
            "group": null,
            "milestone": null,
            "assignee": null,
            "labels": [],
            "weight": null,
        })
    }

    /// A note.
    pub fn note(&self, p: &Project, i: &Issue, n: &Note) -> Value {
        let mut author = self.user_basic(n.author_id);
        merge(
            &mut author,
            json!({"email": null, "created_at": self.state.user(n.author_id).map(|u| ts(u.created_at))}),
        );
        json!({
            "id": n.id,
            "body": n.body,
            "attachment": null,
            "author": author,
            "created_at": ts(n.created_at),
            "updated_at": ts(n.created_at),
            "system": false,
            "noteable_id": i.id,
            "noteable_type": "Issue",
            "project_id": p.id,
            "noteable_iid": i.iid,
            "resolvable": false,
            "confidential": n.internal,
            "internal": n.internal,
            "imported": false,
            "imported_from": "none",
        })
    }
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(t), Value::Object(e)) = (target, extra) {
        t.extend(e);
    }
}

/// Counts Markdown task list items (`- [ ]`, `- [x]`) in a description, as GitLab does
/// for `task_completion_status`.
fn task_counts(description: &str) -> (usize, usize) {
    let mut count = 0;
    let mut done = 0;
    for line in description.lines() {
        let t = line.trim_start();
        let rest = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* "))
            .or_else(|| t.strip_prefix("+ "));
        if let Some(rest) = rest {
            if rest.starts_with("[ ]") {
                count += 1;
            } else if rest.starts_with("[x]") || rest.starts_with("[X]") {
                count += 1;
                done += 1;
            }
        }
    }
    (count, done)
}

/// GitLab picks white text on dark labels and dark text on light ones.
fn text_color(color: &str) -> &'static str {
    let hex = color.trim_start_matches('#');
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0) as f64
    };
    if hex.len() != 6 {
        return "#FFFFFF";
    }
    let luminance = 0.299 * channel(0) + 0.587 * channel(2) + 0.114 * channel(4);
    if luminance > 186.0 {
        "#333333"
    } else {
        "#FFFFFF"
    }
}

/// A user as embedded in issues.
#[derive(Debug, Clone, Serialize)]
pub struct UserJson<'a> {
    id: u64,
    username: &'a str,
    name: &'a str,
    state: &'static str,
    locked: bool,
    avatar_url: Option<&'static str>,
    web_url: String,
}

/// An issue as the API returns it (`tests/data/gitlab-api/issue_*.json` at the workspace root).
#[derive(Debug, Serialize)]
pub struct IssueJson<'a> {
    id: u64,
    iid: u64,
    project_id: u64,
    title: &'a str,
    description: Option<&'a str>,
    state: &'a str,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    closed_by: Option<UserJson<'a>>,
    labels: &'a [String],
    milestone: Option<()>,
    assignees: Vec<UserJson<'a>>,
    assignee: Option<UserJson<'a>>,
    author: Option<UserJson<'a>>,
    r#type: &'static str,
    upvotes: u64,
    downvotes: u64,
    merge_requests_count: u64,
    subscribed: bool,
    user_notes_count: usize,
    due_date: Option<&'static str>,
    imported: bool,
    imported_from: &'static str,
    web_url: String,
    references: References,
    time_stats: TimeStats,
    has_tasks: bool,
    task_status: String,
    confidential: bool,
    discussion_locked: bool,
    issue_type: &'static str,
    severity: &'static str,
    #[serde(rename = "_links")]
    links: IssueLinks,
    task_completion_status: TaskCompletion,
}

#[derive(Debug, Serialize)]
struct References {
    short: String,
    relative: String,
    full: String,
}

#[derive(Debug, Default, Serialize)]
struct TimeStats {
    time_estimate: u64,
    total_time_spent: u64,
    human_time_estimate: Option<String>,
    human_total_time_spent: Option<String>,
}

#[derive(Debug, Serialize)]
struct IssueLinks {
    #[serde(rename = "self")]
    self_: String,
    notes: String,
    award_emoji: String,
    project: String,
    closed_as_duplicate_of: Option<String>,
}

#[derive(Debug, Serialize)]
struct TaskCompletion {
    count: usize,
    completed_count: usize,
}
