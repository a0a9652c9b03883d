//! Applying an adoption: the issue is read again right before the write, and taken over
//! only if it still is what the plan saw (open, same title, no handbook-sync block).

use crate::gitlab::{GitlabError, IssueEdit, Onto};
use crate::sync::Action;
use crate::sync::plan::Adoption;

use super::Prepared;

impl Prepared {
    /// Writes the managed block below the person's description, adds the managed labels
    /// and puts the handbook's assignee in handbook-sync's place.
    pub(super) async fn adopt_issue(
        &self,
        project: u64,
        action: &Action,
        adoption: &Adoption,
    ) -> Result<(), GitlabError> {
        let iid = adoption.iid;
        let edit = IssueEdit {
            add_labels: &action.changes.add_labels,
            ..IssueEdit::default()
        };
        // The description replaces what a person may be typing: it is worked out on the
        // issue as read right before the write, with no wait in between.
        self.gitlab
            .edit_after_read(project, iid, &edit, |current| {
                let description = action
                    .adoption_onto(
                        &current.issue.title,
                        current.issue.state,
                        &current.description,
                    )
                    .map_err(|message| GitlabError::Other {
                        what: format!("adopting issue #{iid}"),
                        message,
                    })?;
                Ok(Onto {
                    note: None,
                    description: Some(description),
                    assignees: self.swapped_assignees(Some(&adoption.assignee), current),
                })
            })
            .await
    }
}
