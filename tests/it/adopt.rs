//! Adoption as a team that already tracks its work meets it: `--adopt` takes over
//! hand-made issues whose title is an item's (their text kept, the managed labels added)
//! and creates the rest; a page can ask for adoption itself.

use serde_json::Value;

use crate::common::{World, page_toml};
use crate::first_hour::PROJECT;

/// A team that already tracks three of its five responsibilities in hand-made issues:
/// `--adopt` takes those three over (their text kept above the managed block, the
/// managed labels added) and creates the other two; the next run writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_takes_over_three_hand_made_issues_and_creates_two() {
    // Premium: GitLab Free's API creates no board, and its refused request would count
    // as a write of every run.
    let world = World::with_tier(
        &page_toml("pm", "pm.md", PROJECT),
        "",
        gitlab_sandbox::Tier::Premium,
    )
    .await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone\n- Keep the roadmap\n- Plan the year\n- Review the docs\n- Hire people\n",
    );
    // Made by a member of the project (its issues are the team's).
    let member = member_token(&world, "sytses").await;
    let stranger = world.create_user("stranger", false).await;
    let stranger = world.create_token(stranger, &["api"]).await;
    let mut hand_made = Vec::new();
    for (title, description) in [
        (
            "Answer the phone",
            "We do this daily.\n\n- [ ] find a headset",
        ),
        ("Plan the year ", ""),
        ("Hire people", "Budget: two."),
    ] {
        let iid = post_issue(&world, &member, title, description, "team").await;
        hand_made.push((iid, description));
    }
    // Not candidates: a closed one, and one a non-member opened on the public project.
    let closed = post_issue(&world, &member, "Review the docs", "", "").await;
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{closed}"),
            &[("state_event", "close")],
        )
        .await;
    let strangers = post_issue(&world, &stranger, "Keep the roadmap", "Mine now", "").await;

    let (code, out, err) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    for (iid, _) in &hand_made {
        assert!(out.contains(&format!("& adopt  #{iid}")), "{out}");
    }
    assert!(
        out.contains(&format!(
            "issue #{strangers} has this title but was opened by `stranger`, who is not a member of acme/roadmap: not adopted"
        )),
        "{out}"
    );
    assert!(
        out.contains("2 to create") && out.contains("3 to adopt"),
        "{out}"
    );
    let (code, plain, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2);
    assert!(
        plain.contains("5 to create") && !plain.contains("adopt"),
        "{plain}"
    );

    let (code, out, err) = world.run(&["apply", "--adopt"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("2 created") && out.contains("3 adopted"),
        "{out}"
    );
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 7, "two created beside the five there");
    assert_eq!(
        issues.iter().find(|i| i["iid"] == strangers).unwrap()["labels"],
        serde_json::json!([]),
        "a stranger's issue is not adopted"
    );
    for (iid, description) in &hand_made {
        let issue = issues.iter().find(|i| i["iid"] == *iid).unwrap();
        let labels = issue["labels"].as_array().unwrap();
        for label in ["handbook-sync", "handbook::pm", "section::Duties", "team"] {
            assert!(
                labels.iter().any(|l| l == label),
                "#{iid}: {label} in {labels:?}"
            );
        }
        let text = issue["description"].as_str().unwrap();
        assert!(
            text.starts_with(description) && text.contains("<!-- handbook-sync:begin -->"),
            "#{iid}: the person's text stays above the block:\n{text}"
        );
        assert_eq!(issue["assignee"]["username"], "sytses");
    }
    assert_eq!(
        issues.iter().find(|i| i["iid"] == closed).unwrap()["labels"],
        serde_json::json!([]),
        "a closed issue is not adopted"
    );

    world.reset_stats().await;
    let (code, out, err) = world.run(&["apply", "--adopt"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        world.stats().await["writes"],
        0,
        "the second run writes nothing:\n{out}"
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "adopted issues are managed like any other:\n{out}");
}

/// `adopt = true` on a page adopts for that page without the flag; and GitLab stores a
/// title stripped of surrounding whitespace (`strip_attributes! :title`,
/// `app/models/concerns/issuable.rb`), which the sandbox does too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_can_ask_for_adoption_itself() {
    let page = format!("{}adopt = true\n", page_toml("pm", "pm.md", PROJECT));
    let world = World::new(&page, "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let member = member_token(&world, "drew").await;
    let iid = post_issue(&world, &member, "\t Answer the phone \n", "", "").await;
    let issue = world
        .api(
            reqwest::Method::GET,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[],
        )
        .await;
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2);
    assert!(
        out.contains(&format!("& adopt  #{}", issue["iid"])),
        "{out}"
    );
}

/// `POST /projects/acme%2Froadmap/issues` with `token`; the new issue's iid.
async fn post_issue(
    world: &World,
    token: &str,
    title: &str,
    description: &str,
    labels: &str,
) -> u64 {
    let response = world
        .http
        .post(format!(
            "{}/api/v4/projects/acme%2Froadmap/issues",
            world.sandbox.url
        ))
        .header("PRIVATE-TOKEN", token)
        .form(&[
            ("title", title),
            ("description", description),
            ("labels", labels),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let issue: Value = response.json().await.unwrap();
    issue["iid"].as_u64().unwrap()
}

/// An `api` token of `username`, one of the sandbox's project members.
async fn member_token(world: &World, username: &str) -> String {
    let path = format!("/users?username={username}");
    let users = world.api(reqwest::Method::GET, &path, &[]).await;
    world
        .create_token(users[0]["id"].as_u64().unwrap(), &["api"])
        .await
}
