//! What the quick actions found in a description do, and when GitLab makes them
//! available (`lib/gitlab/quick_actions/issuable_actions.rb`,
//! `lib/gitlab/quick_actions/issue_and_merge_request_actions.rb`). An unavailable
//! command does nothing; its line is still gone from the description.

use crate::Tier;
use crate::model::{Issue, IssueState, Project, State as Data};
use crate::policy::Access;
use crate::quick_actions::{Command, label_names, usernames};

/// The issue the commands are for, and who runs them.
pub(super) struct Target<'a> {
    pub state: &'a Data,
    pub project: &'a Project,
    /// `None` while the issue is being created (`persisted?` is false).
    pub issue: Option<&'a Issue>,
    pub access: Access,
    pub tier: Tier,
}

/// A change of an issue's state: the API's `state_event`, or `/close` and `/reopen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StateEvent {
    /// `close`.
    Close,
    /// `reopen`.
    Reopen,
}

impl StateEvent {
    /// The API's value (`lib/api/issues.rb`: `values: %w[close reopen]`).
    pub(super) fn parse(value: &str) -> Option<StateEvent> {
        match value {
            "close" => Some(StateEvent::Close),
            "reopen" => Some(StateEvent::Reopen),
            _ => None,
        }
    }
}

/// What the commands change, merged over the request's own parameters
/// (`merge_quick_actions_into_params!`).
#[derive(Debug, Default)]
pub(super) struct Updates {
    pub state_event: Option<StateEvent>,
    pub title: Option<String>,
    /// `/label`: existing labels to add (`add_label_ids`).
    pub add_labels: Vec<String>,
    /// `/unlabel ~x`: labels to remove (`remove_label_ids`).
    pub remove_labels: Vec<String>,
    /// `/relabel`, or `/unlabel` alone: the whole set (`label_ids`).
    pub replace_labels: Option<Vec<String>>,
    /// `/assign`, `/unassign`: the new assignees (`assignee_ids`).
    pub assignees: Option<Vec<u64>>,
}

impl Target<'_> {
    /// Runs `commands` in order; later ones override earlier ones, as in GitLab's
    /// `@updates` hash.
    pub(super) fn interpret(&self, commands: &[Command]) -> Updates {
        let mut updates = Updates::default();
        for command in commands {
            self.run(command, &mut updates);
        }
        updates
    }

    fn can_update(&self) -> bool {
        self.issue.is_some_and(|i| self.access.update_issue(i))
    }

    fn can_set_metadata(&self) -> bool {
        self.access.set_issue_metadata(self.issue.is_some())
    }

    fn run(&self, command: &Command, updates: &mut Updates) {
        let arg = command.arg.as_str();
        let open = self.issue.map(|i| i.state == IssueState::Opened);
        match command.name.as_str() {
            "close" if open == Some(true) && self.can_update() => {
                updates.state_event = Some(StateEvent::Close);
            }
            "reopen" if open == Some(false) && self.can_update() => {
                updates.state_event = Some(StateEvent::Reopen);
            }
            "title" if self.can_update() && !arg.is_empty() => {
                updates.title = Some(arg.to_owned());
            }
            "label" | "labels" if self.can_set_metadata() && !self.project.labels.is_empty() => {
                for l in self.existing_labels(arg) {
                    if !updates.add_labels.contains(&l) {
                        updates.add_labels.push(l);
                    }
                }
            }
            "unlabel" | "remove_label" if self.has_labels() && self.can_set_metadata() => {
                if arg.is_empty() {
                    updates.replace_labels = Some(Vec::new());
                } else {
                    updates.remove_labels.extend(self.existing_labels(arg));
                }
            }
            "relabel" if self.has_labels() && self.can_set_metadata() => {
                updates.replace_labels = Some(self.existing_labels(arg));
            }
            "assign" if self.can_set_metadata() => self.assign(arg, updates),
            "unassign" if self.has_assignees() && self.can_set_metadata() => {
                self.unassign(arg, updates);
            }
            _ => {}
        }
    }

    fn has_labels(&self) -> bool {
        self.issue.is_some_and(|i| !i.labels.is_empty())
    }

    fn has_assignees(&self) -> bool {
        self.issue.is_some_and(|i| !i.assignee_ids.is_empty())
    }

    /// The project's labels the argument names; `/label` never creates one.
    fn existing_labels(&self, arg: &str) -> Vec<String> {
        label_names(arg)
            .into_iter()
            .filter(|n| self.project.label(n).is_some())
            .collect()
    }

    /// The users the argument names (`me` is the caller); `None` if any is unknown,
    /// which makes the whole command fail (`users_extractor.rb` `MissingError`).
    fn users(&self, arg: &str) -> Option<Vec<u64>> {
        usernames(arg)
            .iter()
            .map(|name| {
                if name == "me" {
                    return Some(self.access.user_id());
                }
                self.state
                    .users
                    .iter()
                    .find(|u| u.username.eq_ignore_ascii_case(name))
                    .map(|u| u.id)
            })
            .collect()
    }

    /// `/assign`: Free keeps one assignee, the first named; Premium adds to the current.
    fn assign(&self, arg: &str, updates: &mut Updates) {
        let Some(users) = self.users(arg).filter(|u| !u.is_empty()) else {
            return;
        };
        if self.tier == Tier::Free {
            updates.assignees = Some(users[..1].to_vec());
            return;
        }
        let mut ids = updates.assignees.clone().unwrap_or_else(|| {
            self.issue
                .map(|i| i.assignee_ids.clone())
                .unwrap_or_default()
        });
        for id in users {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        updates.assignees = Some(ids);
    }

    /// `/unassign`: alone, or on Free, removes everyone; on Premium `/unassign @u` only them.
    fn unassign(&self, arg: &str, updates: &mut Updates) {
        if arg.is_empty() || self.tier == Tier::Free {
            updates.assignees = Some(Vec::new());
            return;
        }
        let Some(users) = self.users(arg) else { return };
        let current = self
            .issue
            .map(|i| i.assignee_ids.clone())
            .unwrap_or_default();
        updates.assignees = Some(
            current
                .into_iter()
                .filter(|id| !users.contains(id))
                .collect(),
        );
    }
}
