//! What the sandbox's tier changes, as GitLab's editions do: one assignee on Free, several
//! on Premium (only people who can read the project), exclusive scoped labels on Premium,
//! and `sandbox --tier`. Every behaviour cites the GitLab source it follows.

use crate::as_user::As;
use crate::common::TOKEN;
use crate::sandbox_roles::{ROADMAP, SECRET, assignee_ids, sandbox, titles};

// `issuable_base_service.rb` `filter_assignees_using_checks`: without
// `allows_multiple_assignees?` (CE `issuable.rb`: false; EE `ee/app/models/ee/issue.rb`:
// the Premium feature `multiple_issue_assignees`) only `first(1)` is kept.
#[tokio::test]
async fn free_keeps_the_first_assignee_and_premium_keeps_both() {
    for (tier, want_both) in [
        (gitlab_sandbox::Tier::Free, false),
        (gitlab_sandbox::Tier::Premium, true),
    ] {
        let sb = sandbox(tier).await;
        let root = As::root(&sb.url);
        let (drew, ashley) = (root.user_id("drew").await, root.user_id("ashley").await);
        let form = [
            ("title", "T"),
            ("assignee_ids[]", &*ashley.to_string()),
            ("assignee_ids[]", &*drew.to_string()),
        ];
        let issue = root.post(&format!("{ROADMAP}/issues"), &form).await;
        let want = if want_both {
            vec![ashley, drew]
        } else {
            vec![ashley]
        };
        assert_eq!(assignee_ids(&issue), want, "{tier:?}");
    }
}

// `filter_assignees_using_checks` keeps only users who can read the project
// (`user_can_read?`), and deletes the parameter when none is left (assignees unchanged).
#[tokio::test]
async fn assignees_who_cannot_read_the_project_are_dropped() {
    let sb = sandbox(gitlab_sandbox::Tier::Premium).await;
    let root = As::root(&sb.url);
    let drew = root.user_id("drew").await;
    let ashley = root.user_id("ashley").await;
    root.add_member(SECRET, ashley, 30).await;
    let form = [
        ("title", "T"),
        ("assignee_ids[]", &*drew.to_string()),
        ("assignee_ids[]", &*ashley.to_string()),
    ];
    let issue = root.post(&format!("{SECRET}/issues"), &form).await;
    assert_eq!(assignee_ids(&issue), [ashley]);
    let path = format!("{SECRET}/issues/{}", issue["iid"]);
    let edited = root
        .put(&path, &[("assignee_ids[]", &drew.to_string())])
        .await;
    assert_eq!(
        assignee_ids(&edited),
        [ashley],
        "no readable assignee: unchanged"
    );
}

// `ee/app/services/ee/issuable/callbacks/labels.rb` `filter_mutually_exclusive_labels`:
// on Premium (`scoped_labels`) a scope that gets a new label keeps only the one chosen
// last; on Free both stay.
#[tokio::test]
async fn premium_scoped_labels_are_exclusive_per_scope() {
    for (tier, want) in [
        (gitlab_sandbox::Tier::Premium, vec!["a::y"]),
        (gitlab_sandbox::Tier::Free, vec!["a::x", "a::y"]),
    ] {
        let sb = sandbox(tier).await;
        let root = As::root(&sb.url);
        let issue = root
            .post(
                &format!("{ROADMAP}/issues"),
                &[("title", "T"), ("labels", "a::x,a::y")],
            )
            .await;
        assert_eq!(titles(&issue["labels"]), want, "{tier:?}");
    }
    let sb = sandbox(gitlab_sandbox::Tier::Premium).await;
    let root = As::root(&sb.url);
    let issue = root
        .post(
            &format!("{ROADMAP}/issues"),
            &[("title", "T"), ("labels", "a::x,b")],
        )
        .await;
    let path = format!("{ROADMAP}/issues/{}", issue["iid"]);
    let edited = root.put(&path, &[("add_labels", "a::z")]).await;
    assert_eq!(titles(&edited["labels"]), ["a::z", "b"]);
}

// `handbook-sync sandbox --tier premium` is the same switch as `Config::tier`: the
// process keeps both assignees (`filter_assignees_using_checks` on Premium), and its
// `--user` users exist and can be assigned.
#[tokio::test]
async fn the_sandbox_command_takes_the_tier() {
    let (child, url) = crate::common::sandbox_process(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--project",
        "acme/roadmap",
        "--user",
        "drew:Drew",
        "--user",
        "ashley:Ashley",
        "--tier",
        "premium",
    ]);
    let root = As::root(&url);
    let (drew, ashley) = (root.user_id("drew").await, root.user_id("ashley").await);
    let form = [
        ("title", "T"),
        ("assignee_ids[]", &*drew.to_string()),
        ("assignee_ids[]", &*ashley.to_string()),
    ];
    let issue = root.post(&format!("{ROADMAP}/issues"), &form).await;
    assert_eq!(assignee_ids(&issue), [drew, ashley]);
    crate::common::terminate(child);
}
