//! The sandbox runs quick actions as GitLab does: in an edited or a new description, who
//! may run which, and the lines removed. Every behaviour cites the GitLab source it follows
//! (paths in gitlab-org/gitlab); everything is set up through GitLab's own API.

use crate::as_user::As;
use crate::sandbox_roles::{ROADMAP, assignee_ids, sandbox, titles};

// `app/services/issuable_base_service.rb` `update` runs `handle_quick_actions` on the new
// description; `lib/gitlab/quick_actions/issuable_actions.rb` `/close` is available on a
// persisted open issue the caller may update, and `extractor.rb` removes the line.
#[tokio::test]
async fn a_close_line_in_an_edited_description_closes_the_issue_and_disappears() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "T"), ("description", "Body")],
        )
        .await;
    let path = format!("{ROADMAP}/issues/{}", issue["iid"]);
    let edited = root.put(&path, &[("description", "Body\n/close\n")]).await;
    assert_eq!(edited["state"], "closed");
    assert_eq!(edited["description"], "Body");
    // `/reopen` (and a case-insensitive name, `extractor.rb` `/i`) reopens it.
    let edited = root.put(&path, &[("description", "Body\n/REOPEN")]).await;
    assert_eq!(
        (edited["state"].as_str(), edited["description"].as_str()),
        (Some("opened"), Some("Body"))
    );
}

// `issuable_actions.rb`: `/label` adds existing labels (`find_labels`, never created)
// when the caller may set metadata, also on create; `/close` needs `persisted?`, so on
// create it does nothing — but `extractor.rb` strips every known command name, so its
// line is removed anyway. Lines in code blocks are no commands
// (`lib/banzai/filter/quick_action_filter.rb`: top-level paragraphs only).
#[tokio::test]
async fn quick_actions_on_a_new_issue_label_it_but_do_not_close_it() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "qa"), ("color", "#ff0000")],
    )
    .await;
    root.post(
        &format!("{ROADMAP}/labels"),
        &[("name", "multi word"), ("color", "#ff0000")],
    )
    .await;

    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[
                ("title", "T"),
                ("description", "Text\n/label ~qa ~\"multi word\" ~absent"),
            ],
        )
        .await;
    assert_eq!(titles(&issue["labels"]), ["multi word", "qa"]);
    assert_eq!(issue["description"], "Text");
    let labels = root.get(&format!("{ROADMAP}/labels")).await;
    assert_eq!(
        titles(&labels),
        ["multi word", "qa"],
        "`/label` creates no label"
    );

    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[
                ("title", "T"),
                ("description", "Text\n/close\n\n```\n/close\n```"),
            ],
        )
        .await;
    assert_eq!(issue["state"], "opened");
    assert_eq!(issue["description"], "Text\n```\n/close\n```");

    // `extractor.rb` `perform_regex` deletes `\r` and returns `content.rstrip` whether or
    // not it found a command, and the service stores that text.
    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "T"), ("description", "Line\r\nNext\n\n")],
        )
        .await;
    assert_eq!(issue["description"], "Line\nNext");
}

// `issue_and_merge_request_actions.rb`: `/assign @user` sets assignees, `/unassign`
// removes them, `/title` renames (persisted only).
#[tokio::test]
async fn assign_unassign_and_title_commands() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    let drew = root.user_id("drew").await;
    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[
                ("title", "T"),
                ("description", "/assign @drew\n/title ignored"),
            ],
        )
        .await;
    assert_eq!(assignee_ids(&issue), [drew]);
    assert_eq!(issue["title"], "T");
    assert!(issue["description"].as_str().unwrap_or("").is_empty());
    let path = format!("{ROADMAP}/issues/{}", issue["iid"]);
    let edited = root
        .put(&path, &[("description", "/unassign\n/title New title")])
        .await;
    assert!(assignee_ids(&edited).is_empty());
    assert_eq!(edited["title"], "New title");
}

// `issuable_actions.rb`: `/unlabel ~x` removes the named labels (`remove_label_ids`),
// `/unlabel` alone all of them (`label_ids`), available when the issue has labels and
// the caller may `set_issue_metadata` (on a persisted issue `admin_issue`, Planner and
// up: `issue_policy.rb`). A Guest author may retitle their own issue (`update_issue`,
// `issuable_policy.rb` `assignee_or_author`), but their `/label` and `/unlabel` do
// nothing; the command lines are gone from the description either way (`extractor.rb`).
#[tokio::test]
async fn unlabel_commands_and_the_commands_a_guest_may_run() {
    let sb = sandbox(gitlab_sandbox::Tier::Free).await;
    let root = As::root(&sb.url);
    for name in ["qa", "ux"] {
        root.post(
            &format!("{ROADMAP}/labels"),
            &[("name", name), ("color", "#ff0000")],
        )
        .await;
    }
    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "T"), ("labels", "qa,ux")],
        )
        .await;
    let path = format!("{ROADMAP}/issues/{}", issue["iid"]);
    let edited = root
        .put(&path, &[("description", "Body\n/unlabel ~qa")])
        .await;
    assert_eq!(
        (titles(&edited["labels"]), edited["description"].as_str()),
        (vec!["ux"], Some("Body"))
    );
    let edited = root.put(&path, &[("description", "Body\n/unlabel")]).await;
    assert!(titles(&edited["labels"]).is_empty(), "{edited}");

    let (guest_id, guest) = root.new_user("guest").await;
    root.add_member(ROADMAP, guest_id, 10).await;
    let own = guest
        .post(&format!("{ROADMAP}/issues"), &[("title", "Mine")])
        .await;
    let own_path = format!("{ROADMAP}/issues/{}", own["iid"]);
    root.put(&own_path, &[("labels", "qa")]).await;
    let edited = guest
        .put(
            &own_path,
            &[(
                "description",
                "Text\n/unlabel ~qa\n/label ~ux\n/title Renamed",
            )],
        )
        .await;
    assert_eq!(
        (
            titles(&edited["labels"]),
            edited["title"].as_str(),
            edited["description"].as_str()
        ),
        (vec!["qa"], Some("Renamed"), Some("Text"))
    );
}
