//! The parts of a write that are worked out when it is applied rather than held in the
//! plan. An edit goes onto the issue as it is right before the write, not onto the
//! snapshot the plan was made from: the description (the managed block and marker go in;
//! what a person wrote around the block, or into it when the handbook did not change it,
//! stays) and the assignees (handbook-sync's own is swapped; the ones people added stay).
//! A create holds what its description is rendered from ([`NewIssue`]), so that the plan
//! of a large page does not hold every description.

use super::actions::block_text;
use crate::sync::desired::IssueState;
use crate::sync::marker::{self, Marker, MarkerStatus};

/// The managed block an edit writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockText {
    /// The block the issue holds stays (a person's change that is reported as drift, not
    /// restored).
    Kept,
    /// The handbook's block.
    Handbook(String),
    /// The item left the handbook: the block the issue holds right before the write, its
    /// body and Source line kept and any earlier reason line replaced by "Removed from the
    /// handbook on `today`." Built from the text read then, because the plan holds no
    /// descriptions.
    Removed {
        /// `YYYY-MM-DD`.
        today: String,
    },
    /// As [`BlockText::Removed`], for an item whose whole page left the handbook: the
    /// reason line names the page.
    PageRemoved {
        /// `YYYY-MM-DD`.
        today: String,
        /// The page id.
        page: String,
        /// The project the page went to, when it moved rather than left.
        moved_to: Option<String>,
    },
}

/// The managed block and marker an edit writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockWrite {
    /// The block to write.
    pub block: BlockText,
    /// The marker to write. For [`BlockText::Removed`] its `block` hash is that of the
    /// block built when the write is applied.
    pub marker: Marker,
    /// The block hash the last sync recorded: a block that no longer hashes to it was
    /// changed by a person since.
    pub last_block: String,
}

/// A description to write, and what it replaces that a person wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The whole new description.
    pub description: String,
    /// The person's version of the managed block that this write replaces, to be kept
    /// in a note first; `None` when no person changed the block since the last sync.
    pub displaced: Option<String>,
}

/// The block of an issue whose item left the handbook: `current`'s body and Source line,
/// and the removal's reason line in place of any earlier one.
pub fn removed_block(current: &str, today: &str) -> String {
    with_reason(current, &format!("Removed from the handbook on {today}."))
}

/// The block of an issue whose whole page left the handbook: as [`removed_block`], with
/// the page named in the reason line.
pub fn page_removed_block(
    current: &str,
    today: &str,
    page: &str,
    moved_to: Option<&str>,
) -> String {
    let reason = match moved_to {
        Some(to) => format!(
            "Removed from the handbook on {today}: its page `{page}` moved to project {to}, where its items are synced now."
        ),
        None => format!(
            "Removed from the handbook on {today}: its page `{page}` is no longer in the handbook."
        ),
    };
    with_reason(current, &reason)
}

/// `current`'s body and Source line, then `reason` in place of any earlier reason line.
/// The Source line is the block's last one: a bullet's body may hold a `---` and a
/// `Source:` line of its own.
fn with_reason(current: &str, reason: &str) -> String {
    let kept = match current.rfind("---\nSource:") {
        Some(at) => {
            let source_end = current[at + 4..]
                .find('\n')
                .map_or(current.len(), |i| at + 4 + i);
            &current[..source_end]
        }
        None => current,
    };
    format!("{kept}\n\n{reason}")
}

impl BlockWrite {
    /// The description to write onto `current` (the issue's description read right
    /// before the write). `None` when `current` has no managed block or marker any more
    /// (a person took the issue over), or more than one marker (a person pasted another
    /// issue's description into it): it is not written.
    pub fn apply_to(&self, current: &str) -> Option<Rewrite> {
        let parsed = marker::parse(current)?;
        if parsed.marker.is_none() || marker::markers(current).len() > 1 {
            return None;
        }
        let removed;
        let mut new_marker = None;
        let block = match &self.block {
            BlockText::Kept => &parsed.block,
            BlockText::Handbook(block) => block,
            // Another run (a daemon beside a CI apply) closed it as removed since the
            // plan: its block already is the removal's, and writing it again would add a
            // second reason line and keep handbook-sync's own block as a person's.
            BlockText::Removed { .. } | BlockText::PageRemoved { .. }
                if parsed.marker.as_ref().is_some_and(|m| {
                    m.status == MarkerStatus::Removed && m.block == marker::hash(&parsed.block)
                }) =>
            {
                new_marker = parsed.marker.clone();
                &parsed.block
            }
            BlockText::Removed { today } | BlockText::PageRemoved { today, .. } => {
                removed = match &self.block {
                    BlockText::PageRemoved { page, moved_to, .. } => {
                        page_removed_block(&parsed.block, today, page, moved_to.as_deref())
                    }
                    _ => removed_block(&parsed.block, today),
                };
                new_marker = Some(Marker {
                    block: marker::hash(&removed),
                    ..self.marker.clone()
                });
                &removed
            }
        };
        let displaced = (*block != parsed.block && marker::hash(&parsed.block) != self.last_block)
            .then(|| parsed.block.clone());
        Some(Rewrite {
            description: marker::render(
                parsed.before,
                block,
                new_marker.as_ref().unwrap_or(&self.marker),
                parsed.after,
            ),
            displaced,
        })
    }
}

/// What a create holds beside its [`Action`](super::Action): the text its description is
/// rendered from, and the marker's fields the action does not carry (the action holds the
/// page, key, title, labels and assignee). The plan of a first sync of a large page would
/// otherwise hold every item's description, twice for an item created closed, and every
/// marker's copies of the action's fields; [`Action::new_issue`](super::Action::new_issue)
/// renders the description when the create is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssue {
    /// The item's body as written (neutralised when rendered).
    pub body: String,
    /// The Source line.
    pub source: String,
    /// The reason line of a done or handed-over item.
    pub reason: Option<String>,
    /// The item's status, for the marker.
    pub status: MarkerStatus,
    /// The state the item calls for: a closed one is created open, then closed.
    pub state: IssueState,
    /// When the status began, for the marker.
    pub since: Option<String>,
}

/// A create, rendered: what the create request and, for an item created closed, the
/// closing edit send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueToCreate<'a> {
    /// The title.
    pub title: &'a str,
    /// The description the issue is created with. The issue is created open, with a
    /// marker that says so, so that a failed close is retried by the next run rather
    /// than taken for a person's reopening.
    pub description: String,
    /// The labels.
    pub labels: &'a [String],
    /// The username to assign.
    pub assignee: Option<&'a str>,
    /// For an item created closed, the description of the closing edit that follows.
    pub close_description: Option<String>,
}

impl NewIssue {
    /// The managed block.
    pub fn block(&self) -> String {
        block_text(&self.body, &self.source, self.reason.as_deref())
    }

    /// The marker of the issue `action` makes its own (created or adopted), recording
    /// `block`, the action's title, labels and assignee, and the item's state.
    pub(super) fn marker(&self, action: &super::Action, block: &str) -> Marker {
        Marker {
            v: 1,
            page: action.page.clone(),
            key: action.key.clone(),
            title: action.title.clone(),
            status: self.status,
            state: Some(self.state),
            assignee: action.changes.assignee.as_ref().and_then(|c| c.to.clone()),
            labels: action.changes.add_labels.clone(),
            block: marker::hash(block),
            since: self.since.clone(),
        }
    }
}

impl super::Action {
    /// For a create, the issue to send, its description rendered now from the action
    /// and its [`NewIssue`]; `None` for any other action.
    pub fn new_issue(&self) -> Option<IssueToCreate<'_>> {
        let Some(super::Write::Create(new)) = &self.write else {
            return None;
        };
        let assignee = self.changes.assignee.as_ref().and_then(|c| c.to.as_deref());
        let block = new.block();
        let marker = new.marker(self, &block);
        let close_description =
            (new.state == IssueState::Closed).then(|| marker::render("", &block, &marker, ""));
        let open = Marker {
            state: Some(IssueState::Opened),
            ..marker
        };
        Some(IssueToCreate {
            title: &self.title,
            description: marker::render("", &block, &open, ""),
            labels: &self.changes.add_labels,
            assignee,
            close_description,
        })
    }
}

/// The note that keeps a person's version of the managed block before the handbook's
/// replaces it. Every line is quoted: the note shows their Markdown rendered, and no line
/// starts with `/`, so GitLab runs none of it as a quick action.
pub fn conflict_note(displaced: &str) -> String {
    let quoted: Vec<String> = displaced
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">".into()
            } else {
                format!("> {l}")
            }
        })
        .collect();
    format!(
        "handbook-sync replaced the handbook's part of this description with the handbook's new version. It had been edited here since the last sync; that version was:\n\n{}\n",
        quoted.join("\n")
    )
}

/// Handbook-sync's assignee, swapped among the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssigneeSwap {
    /// The username that holds handbook-sync's place now (its last assignee, or the one a
    /// person put in its place), removed.
    pub remove: Option<String>,
    /// The handbook's assignee, added.
    pub add: Option<String>,
}

impl AssigneeSwap {
    /// The assignees after the swap, given the current ones: the handbook's first, then
    /// the others in their order. GitLab Free holds one assignee, which is then the one
    /// removed, so there the swap replaces it as before.
    pub fn apply_to(&self, current: &[String]) -> Vec<String> {
        let mut after: Vec<String> = self.add.iter().cloned().collect();
        after.extend(
            current
                .iter()
                .filter(|u| Some(*u) != self.remove.as_ref() && Some(*u) != self.add.as_ref())
                .cloned(),
        );
        after
    }

    /// True when the swap changes nothing on `current` (order aside).
    pub fn is_noop(&self, current: &[String]) -> bool {
        let mut before = current.to_vec();
        let mut after = self.apply_to(current);
        before.sort();
        before.dedup();
        after.sort();
        after.dedup();
        before == after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::marker::MarkerStatus;

    fn marker(block: &str) -> Marker {
        Marker {
            v: 1,
            page: "p".into(),
            key: "k".into(),
            title: "t".into(),
            status: MarkerStatus::Active,
            state: None,
            assignee: None,
            labels: vec![],
            block: marker::hash(block),
            since: None,
        }
    }

    #[test]
    fn the_block_goes_onto_the_text_as_it_is_now() {
        let old = marker::render("", "old", &marker("old"), "");
        let now = format!("Written a second ago\n{old}\nand below");
        let write = BlockWrite {
            block: BlockText::Handbook("new".into()),
            marker: marker("new"),
            last_block: marker::hash("old"),
        };
        let rewrite = write.apply_to(&now).unwrap();
        assert_eq!(
            rewrite.description,
            marker::render(
                "Written a second ago\n",
                "new",
                &marker("new"),
                "\nand below"
            )
        );
        assert_eq!(rewrite.displaced, None, "nobody changed the block");
    }

    #[test]
    fn a_persons_block_is_kept_or_displaced_into_a_note() {
        let theirs = marker::render("", "their words", &marker("old"), "");
        let replace = BlockWrite {
            block: BlockText::Handbook("new".into()),
            marker: marker("new"),
            last_block: marker::hash("old"),
        };
        let rewrite = replace.apply_to(&theirs).unwrap();
        assert_eq!(rewrite.displaced.as_deref(), Some("their words"));
        assert!(conflict_note("their words\n\n/close").contains("> their words\n>\n> /close"));
        let keep = BlockWrite {
            block: BlockText::Kept,
            ..replace
        };
        let rewrite = keep.apply_to(&theirs).unwrap();
        assert!(rewrite.description.contains("their words"));
        assert_eq!(rewrite.displaced, None);
        assert_eq!(keep.apply_to("no block here"), None);
    }

    /// Two runs plan the same removal; the second writes after the first: the issue keeps
    /// the first's block, with one reason line, and nothing is taken for a person's
    /// block (no conflict note quoting handbook-sync's own text).
    #[test]
    fn a_removal_another_run_already_wrote_is_left_as_it_is() {
        let active = "Body without a source line";
        let removal = BlockWrite {
            block: BlockText::Removed {
                today: "2026-11-28".into(),
            },
            marker: Marker {
                status: MarkerStatus::Removed,
                ..marker(active)
            },
            last_block: marker::hash(active),
        };
        let first = removal
            .apply_to(&marker::render("", active, &marker(active), ""))
            .unwrap();
        assert_eq!(first.displaced, None);
        let again = BlockWrite {
            block: BlockText::Removed {
                today: "2026-11-29".into(),
            },
            ..removal
        };
        let second = again.apply_to(&first.description).unwrap();
        assert_eq!(second.description, first.description);
        assert_eq!(second.displaced, None);
        assert_eq!(
            first
                .description
                .matches("Removed from the handbook")
                .count(),
            1
        );
    }

    #[test]
    fn a_removal_keeps_body_and_source_of_the_block_as_it_is_then() {
        assert_eq!(
            removed_block(
                "Body\n\n---\nSource: PM › Goals\n\nDone (ticked in the handbook) on 2026-11-01.",
                "2026-11-27"
            ),
            "Body\n\n---\nSource: PM › Goals\n\nRemoved from the handbook on 2026-11-27."
        );
        assert_eq!(
            removed_block(
                "Body\n---\nSource: a line of the body\n\nmore body\n\n---\nSource: PM › Goals",
                "2026-11-27"
            ),
            "Body\n---\nSource: a line of the body\n\nmore body\n\n---\nSource: PM › Goals\n\nRemoved from the handbook on 2026-11-27.",
            "a body's own Source line is the body's"
        );
        assert_eq!(
            removed_block("A person's own words", "2026-11-27"),
            "A person's own words\n\nRemoved from the handbook on 2026-11-27."
        );
        // The marker records the hash of the block written, worked out then.
        let current = marker::render("", "Body\n\n---\nSource: PM", &marker("x"), "");
        let removal = BlockWrite {
            block: BlockText::Removed {
                today: "2026-11-27".into(),
            },
            marker: marker("x"),
            last_block: marker::hash("Body\n\n---\nSource: PM"),
        };
        let rewrite = removal.apply_to(&current).unwrap();
        let written = marker::parse(&rewrite.description).unwrap();
        assert_eq!(
            written.marker.unwrap().block,
            marker::hash(&written.block),
            "the block hash of the removal"
        );
        assert_eq!(rewrite.displaced, None);
    }

    #[test]
    fn a_handoff_keeps_the_assignees_people_added() {
        let swap = AssigneeSwap {
            remove: Some("sytses".into()),
            add: Some("drew".into()),
        };
        let now = ["alice".to_owned(), "sytses".to_owned()];
        assert_eq!(swap.apply_to(&now), ["drew", "alice"]);
        assert_eq!(swap.apply_to(&now[1..]), ["drew"], "GitLab Free: replaced");
        assert!(!swap.is_noop(&now));
        assert!(swap.is_noop(&["alice".to_owned(), "drew".to_owned()]));
    }
}
