//! A page's issue board: one list per section label, in the page's order. Pure.

use serde::Serialize;

/// A board as read from GitLab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedBoard {
    /// Board id.
    pub id: u64,
    /// Board name.
    pub name: String,
    /// Label names of its lists, in position order.
    pub lists: Vec<String>,
}

/// What a page's board needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardPlan {
    /// Page id.
    pub page: String,
    /// Board name.
    pub board: String,
    /// The existing board, if any.
    #[serde(skip)]
    pub board_id: Option<u64>,
    /// The board does not exist yet.
    pub create: bool,
    /// Lists to add, in the order to add them.
    pub add_lists: Vec<ListAdd>,
}

/// A label list to add to a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListAdd {
    /// The section label.
    pub label: String,
    /// The position it takes (0-based), counting the lists before it at that moment.
    pub position: usize,
}

impl BoardPlan {
    /// True when applying would write.
    pub fn has_changes(&self) -> bool {
        self.create || !self.add_lists.is_empty()
    }
}

/// The board name of a page.
pub fn board_name(page_title: &str) -> String {
    format!("Handbook: {page_title}")
}

/// Plans a page's board. Lists people added, and lists of sections that are gone, stay;
/// a missing section list goes right after the list of the section before it.
pub fn plan_board(
    page: &str,
    page_title: &str,
    section_labels: &[String],
    boards: &[ObservedBoard],
) -> BoardPlan {
    let name = board_name(page_title);
    let existing = boards.iter().find(|b| b.name == name);
    let mut lists: Vec<String> = existing.map(|b| b.lists.clone()).unwrap_or_default();
    let mut add_lists = Vec::new();
    for (i, label) in section_labels.iter().enumerate() {
        if lists.contains(label) {
            continue;
        }
        let position = section_labels[..i]
            .iter()
            .rev()
            .find_map(|prev| lists.iter().position(|l| l == prev))
            .map_or(0, |p| p + 1);
        lists.insert(position, label.clone());
        add_lists.push(ListAdd {
            label: label.clone(),
            position,
        });
    }
    BoardPlan {
        page: page.to_owned(),
        board: name,
        board_id: existing.map(|b| b.id),
        create: existing.is_none(),
        add_lists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(label: &str, position: usize) -> ListAdd {
        ListAdd {
            label: label.into(),
            position,
        }
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_new_board_gets_every_section_in_order() {
        let plan = plan_board("pm", "PM", &labels(&["a", "b", "c"]), &[]);
        assert!(plan.create);
        assert_eq!(plan.add_lists, [add("a", 0), add("b", 1), add("c", 2)]);
    }

    #[test]
    fn missing_lists_go_in_place_and_other_lists_stay() {
        let board = ObservedBoard {
            id: 7,
            name: "Handbook: PM".into(),
            lists: labels(&["a", "people's", "c"]),
        };
        let plan = plan_board(
            "pm",
            "PM",
            &labels(&["a", "b", "c", "d"]),
            std::slice::from_ref(&board),
        );
        assert!(!plan.create);
        assert_eq!(plan.board_id, Some(7));
        assert_eq!(plan.add_lists, [add("b", 1), add("d", 4)]);
        let settled = ObservedBoard {
            lists: labels(&["a", "b", "people's", "c", "d"]),
            ..board
        };
        assert!(!plan_board("pm", "PM", &labels(&["a", "b", "c", "d"]), &[settled]).has_changes());
    }
}
