//! The example configuration's placeholders. `config/handbook-sync.example.toml` names
//! nobody real: its owner, people and project are placeholders that no run may use, so a
//! copy in which someone changed only `gitlab.url` fails at once, naming each key to
//! fill in, instead of assigning (and e-mailing) whoever owns such a name on gitlab.com.

use std::collections::BTreeMap;

use super::PageSettings;

/// Usernames the example uses where the reader's own belong.
pub const USERNAMES: [&str; 2] = ["your-username", "their-username"];

/// The group of the example's project: `example-group/roadmap`.
pub const GROUP: &str = "example-group/";

/// The first placeholder still in use, as a message naming the key.
pub(super) fn check(
    people: &BTreeMap<String, String>,
    pages: &[PageSettings],
) -> Result<(), String> {
    let placeholder = |username: &str| USERNAMES.contains(&username.trim().trim_start_matches('@'));
    let left = |key: String, value: &str, what: &str| {
        Err(format!(
            "{key} = \"{value}\" is the example configuration's placeholder: set {what}"
        ))
    };
    for (name, username) in people {
        if placeholder(username) {
            return left(
                format!("people.\"{name}\""),
                username,
                &format!("the GitLab username of {name}, or remove the line"),
            );
        }
    }
    for (i, page) in pages.iter().enumerate() {
        if placeholder(&page.owner) {
            return left(
                format!("pages[{i}].owner"),
                &page.owner,
                "the GitLab username that items naming nobody are assigned to",
            );
        }
        if page.project.trim().starts_with(GROUP) {
            return left(
                format!("pages[{i}].project"),
                &page.project,
                "the path of your project that is to hold the issues (GROUP/PROJECT)",
            );
        }
    }
    Ok(())
}
