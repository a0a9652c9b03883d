//! The parts of an edit that are applied onto the issue as it is right before the write,
//! not onto the snapshot the plan was made from: the description (the managed block and
//! marker go in; what a person wrote around the block, or into it when the handbook did
//! not change it, stays) and the assignees (handbook-sync's own is swapped; the ones
//! people added stay).

use crate::sync::marker::{self, Marker};

/// The managed block and marker an edit writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockWrite {
    /// The handbook's block; `None` keeps the block the issue holds (a person's change
    /// that is reported as drift, not restored).
    pub block: Option<String>,
    /// The marker to write.
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

impl BlockWrite {
    /// The description to write onto `current` (the description read right
    /// before the write). `None` when `current` has no managed block any more: a person
    /// took the issue over, and it is not written.
    pub fn apply_to(&self, current: &str) -> Option<Rewrite> {
        let parsed = marker::parse(current)?;
        let block = self.block.as_deref().unwrap_or(&parsed.block);
        let displaced = (block != parsed.block && marker::hash(&parsed.block) != self.last_block)
            .then(|| parsed.block.clone());
        Some(Rewrite {
            description: marker::render(parsed.before, block, &self.marker, parsed.after),
            displaced,
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
            block: Some("new".into()),
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
            block: Some("new".into()),
            marker: marker("new"),
            last_block: marker::hash("old"),
        };
        let rewrite = replace.apply_to(&theirs).unwrap();
        assert_eq!(rewrite.displaced.as_deref(), Some("their words"));
        assert!(conflict_note("their words\n\n/close").contains("> their words\n>\n> /close"));
        let keep = BlockWrite {
            block: None,
            ..replace
        };
        let rewrite = keep.apply_to(&theirs).unwrap();
        assert!(rewrite.description.contains("their words"));
        assert_eq!(rewrite.displaced, None);
        assert_eq!(keep.apply_to("no block here"), None);
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
