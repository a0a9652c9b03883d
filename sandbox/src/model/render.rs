//! JSON rendering with the fields and types of GitLab's documented examples.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Board, BoardList, Issue, IssueState, Label, Note, Project, State, User, ts};

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
        let namespace_path = p
            .path_with_namespace
            .rsplit_once('/')
            .map_or("", |(ns, _)| ns);
        // `Entities::NamespaceBasic`: the group, or the user whose namespace it is.
        let namespace = match p.namespace_id.and_then(|id| self.state.group(id)) {
            Some(g) => json!({
                "id": g.id, "name": g.name, "path": g.path, "kind": "group",
                "full_path": g.full_path, "parent_id": g.parent_id,
                "web_url": format!("{}/groups/{}", self.base, g.full_path),
            }),
            None => {
                let user = self
                    .state
                    .users
                    .iter()
                    .find(|u| u.username == namespace_path);
                json!({
                    "id": user.map_or(0, |u| u.id), "name": user.map_or(namespace_path, |u| u.name.as_str()),
                    "path": namespace_path, "kind": "user", "full_path": namespace_path,
                    "parent_id": null, "web_url": format!("{}/{namespace_path}", self.base),
                })
            }
        };
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
            "issues_enabled": p.issues_access_level != "disabled",
            "issues_access_level": p.issues_access_level,
            "archived": false,
            "namespace": namespace,
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
            labels: {
                // `lib/api/entities/issue_basic.rb`: `issue.labels.map(&:title).sort`.
                let mut labels: Vec<&str> = i.labels.iter().map(String::as_str).collect();
                labels.sort_unstable();
                labels
            },
            milestone: None,
            assignee: assignees.first().cloned(),
            assignees,
            author: user(i.author_id),
            r#type: i.issue_type.to_uppercase(),
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
            issue_type: &i.issue_type,
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
            "text_color": crate::color::contrast(&l.color),
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
    labels: Vec<&'a str>,
    milestone: Option<()>,
    assignees: Vec<UserJson<'a>>,
    assignee: Option<UserJson<'a>>,
    author: Option<UserJson<'a>>,
    r#type: String,
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
    issue_type: &'a str,
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
