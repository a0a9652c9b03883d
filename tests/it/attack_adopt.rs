//! `--adopt` attacked: issues it must not take over however they reach the plan, and an
//! issue that two pages of one project would both take.

use serde_json::Value;

use crate::common::{World, page_toml};

const PROJECT: &str = "acme/roadmap";

/// Opens an issue in acme/roadmap as the owner of `token`; returns its iid.
async fn open_issue(world: &World, token: &str, title: &str, form: &[(&str, &str)]) -> u64 {
    let mut fields = vec![("title", title)];
    fields.extend_from_slice(form);
    let response = world
        .http
        .post(format!(
            "{}/api/v4/projects/acme%2Froadmap/issues",
            world.sandbox.url
        ))
        .header("PRIVATE-TOKEN", token)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json::<Value>().await.unwrap()["iid"]
        .as_u64()
        .unwrap()
}

/// A token of `username`, who exists in the sandbox.
async fn token_of(world: &World, username: &str) -> String {
    let users = world
        .api(
            reqwest::Method::GET,
            &format!("/users?username={username}"),
            &[],
        )
        .await;
    world
        .create_token(users[0]["id"].as_u64().unwrap(), &["api"])
        .await
}

/// A stranger opens an issue with an item's title on the public project, and a triager
/// gives it the page's label before the team's first sync (the label looks like a
/// category). Read as an issue of the page (it carries its label), it must still not be
/// adopted: only issues the project's members opened are, however the plan came to see
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_issue_labelled_for_the_page_is_not_adopted() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let stranger = world.create_user("stranger", false).await;
    let stranger = world.create_token(stranger, &["api"]).await;
    let iid = open_issue(&world, &stranger, "Answer the phone", &[]).await;
    // The triager (an administrator here) labels it.
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("add_labels", "handbook::pm")],
        )
        .await;

    let (code, out, err) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        !out.contains("adopt  #"),
        "a stranger's issue is adopted:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "issue #{iid} has this title but was opened by `stranger`"
        )),
        "{out}"
    );
    let (code, out, err) = world.run(&["apply", "--adopt"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let issue = world
        .issues(PROJECT)
        .await
        .into_iter()
        .find(|i| i["iid"] == iid)
        .unwrap();
    assert!(
        !issue["description"]
            .as_str()
            .unwrap_or_default()
            .contains("handbook-sync"),
        "the stranger's issue was written: {issue}"
    );
}

/// Two pages of one project both list "Answer the phone", and one member made that
/// issue by hand. One issue never takes two items: neither page adopts it (each creates
/// its own, as without `--adopt`), and each says why. Before, both plans showed
/// `adopt #N`, and `apply` failed on the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_two_pages_want_is_adopted_by_neither() {
    let pages = format!(
        "{}{}",
        page_toml("pm", "pm.md", PROJECT),
        page_toml("ops", "ops.md", PROJECT)
    );
    let world = World::new(&pages, "").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone\n- Keep the roadmap\n",
    );
    world.write_page("ops.md", "## Duties\n\n- Answer the phone\n");
    let member = token_of(&world, "drew").await;
    let iid = open_issue(&world, &member, "Answer the phone", &[]).await;
    let roadmap = open_issue(&world, &member, "Keep the roadmap", &[]).await;

    let (code, out, err) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        !out.contains(&format!("adopt  #{iid}")),
        "one issue planned for two items:\n{out}"
    );
    assert_eq!(
        out.matches(&format!(
            "issue #{iid} has this title, as do items of pages ops and pm"
        ))
        .count(),
        2,
        "{out}"
    );
    assert!(
        out.contains(&format!("adopt  #{roadmap}")),
        "the other title is still adopted:\n{out}"
    );
    let (code, out, err) = world
        .run(&["--log-format", "json", "apply", "--adopt"])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    // The closing line says what was taken over, beside what was created.
    let closing = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "sync finished")
        .unwrap_or_else(|| panic!("no closing line in\n{err}"));
    assert_eq!(
        (&closing["create"], &closing["adopt"]),
        (&Value::from(2), &Value::from(1)),
        "{closing}"
    );
    let (code, out, _) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 0, "{out}");
}

/// A member's confidential issue with an item's title: a person restricted who may see
/// it, and the plan (printed in CI, posted on merge requests) would name it and its
/// assignee, the roadmap count and link it. It is not adopted, and the plan says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_issue_is_not_adopted() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Hire people\n");
    let member = token_of(&world, "drew").await;
    let iid = open_issue(
        &world,
        &member,
        "Hire people",
        &[("confidential", "true"), ("description", "Salary bands: …")],
    )
    .await;
    let (code, out, err) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(!out.contains("adopt  #"), "{out}");
    assert!(
        out.contains(&format!(
            "issue #{iid} has this title but is confidential: not adopted"
        )),
        "{out}"
    );
}

/// With `enforce = true` (every drift restored), an adopted issue whose person kept
/// their own label and assignee is left alone by the next run: the person's label is
/// theirs, and their assignee stays beside the handbook's where GitLab keeps several
/// (Premium); on Free, which keeps one, the handbook's takes its place, as the plan said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_issue_under_enforce_is_written_once() {
    for (tier, assignees) in [
        (gitlab_sandbox::Tier::Premium, vec!["sytses", "andriy"]),
        (gitlab_sandbox::Tier::Free, vec!["sytses"]),
    ] {
        let world = World::with_tier(
            &page_toml("pm", "pm.md", PROJECT),
            "[sync]\nenforce = true\n",
            tier,
        )
        .await;
        world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
        let andriy = world
            .api(reqwest::Method::GET, "/users?username=andriy", &[])
            .await[0]["id"]
            .to_string();
        let member = token_of(&world, "drew").await;
        let iid = open_issue(
            &world,
            &member,
            "Answer the phone",
            &[("labels", "team"), ("assignee_ids[]", &andriy)],
        )
        .await;
        let (code, out, err) = world.run(&["plan", "--adopt"]).await;
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            out.contains(&format!("& adopt  #{iid}")) && out.contains("assignee @andriy → @sytses"),
            "{tier:?}: {out}"
        );
        let (code, out, err) = world.run(&["apply", "--adopt"]).await;
        assert_eq!(code, 0, "{out}\n{err}");
        let issue = world.issues(PROJECT).await.remove(0);
        let names: Vec<&str> = issue["assignees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, assignees, "{tier:?}");
        assert!(
            issue["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "team"),
            "{issue}"
        );
        world.reset_stats().await;
        let (code, out, err) = world.run(&["apply", "--adopt"]).await;
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(world.stats().await["writes"], 0, "{tier:?}: {out}");
    }
}

/// GitLab lists a project's tasks (work items under another issue) and incidents among
/// its issues. A member's task titled like an item ("Review the docs", under some
/// release) is part of that issue's work: it is not adopted, and the plan says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_an_items_title_is_not_adopted() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Review the docs\n");
    let member = token_of(&world, "drew").await;
    let iid = open_issue(
        &world,
        &member,
        "Review the docs",
        &[("issue_type", "task")],
    )
    .await;
    let (code, out, err) = world.run(&["plan", "--adopt"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(!out.contains("adopt  #"), "{out}");
    assert!(
        out.contains(&format!(
            "issue #{iid} has this title but is a task, not an issue"
        )),
        "{out}"
    );
}
