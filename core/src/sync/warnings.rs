//! Warnings said once: a name the handbook repeats on many items (a page owner who is not
//! a member, an unknown person) is one problem, not one per item. Fifty identical lines
//! under fifty items hide the one that matters.

use super::Action;

/// Takes every warning that several of `actions` carry off those actions and returns it
/// once, with how many items it concerns, for the page's own warnings, in order of first
/// appearance. A warning only one action carries stays on that action, where its item
/// gives it context.
pub fn once_per_page(actions: &mut [Action]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for warning in actions.iter().flat_map(|a| &a.warnings) {
        match counts.iter_mut().find(|(w, _)| w == warning) {
            Some((_, n)) => *n += 1,
            None => counts.push((warning.clone(), 1)),
        }
    }
    let repeated: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    for action in actions.iter_mut() {
        action
            .warnings
            .retain(|w| !repeated.iter().any(|(r, _)| r == w));
    }
    repeated
        .into_iter()
        .map(|(warning, n)| format!("{warning} ({n} items)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ActionKind;
    use crate::sync::plan::Changes;

    fn action(title: &str, warnings: &[&str]) -> Action {
        Action {
            action: ActionKind::Create,
            page: "pm".into(),
            key: title.to_lowercase(),
            iid: None,
            title: title.into(),
            changes: Changes::default(),
            reason: "new in the handbook".into(),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
            write: None,
            result: None,
        }
    }

    #[test]
    fn a_warning_on_several_items_is_said_once_with_its_count() {
        let unknown = "unknown person `Somebody`: left unassigned";
        let mut actions = vec![
            action("A", &[unknown]),
            action("B", &["only here"]),
            action("C", &[unknown]),
            action("D", &[unknown]),
        ];
        let page = once_per_page(&mut actions);
        assert_eq!(page, [format!("{unknown} (3 items)")]);
        let left: Vec<&[String]> = actions.iter().map(|a| a.warnings.as_slice()).collect();
        assert_eq!(left[0], &[] as &[String]);
        assert_eq!(left[1], ["only here".to_owned()]);
    }

    #[test]
    fn distinct_warnings_stay_with_their_items() {
        let mut actions = vec![action("A", &["one"]), action("B", &["two"])];
        assert!(once_per_page(&mut actions).is_empty());
        assert_eq!(actions[0].warnings, ["one"]);
        assert_eq!(actions[1].warnings, ["two"]);
    }
}
