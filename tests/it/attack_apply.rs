//! `apply`'s failures attacked: what one project's failure does to the output and to the
//! other projects.

use serde_json::Value;

use crate::common::{World, page_toml};

/// A lease GitLab refuses (a `read_api` token cannot create the lease label) on one
/// project: that project's page fails in the output, with the reason, its write never
/// ran, and the other project, which needs no write (so no lease), still reads "nothing to do".
/// Before, the whole run ended with one line on stderr and nothing on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_gitlab_refuses_fails_its_project_in_the_output_not_the_run() {
    let pages = format!(
        "{}{}",
        page_toml("pm", "pm.md", "acme/roadmap"),
        page_toml("ops", "ops.md", "acme/other")
    );
    let mut world = World::new(&pages, "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    world.write_page("ops.md", "## Duties\n\n- Watch the servers\n");
    world.apply_ok().await;
    world.write_page(
        "ops.md",
        "## Duties\n\n- Watch the servers\n- Rotate the keys\n",
    );
    let id = world.create_user("planner", false).await;
    for project in ["acme%2Froadmap", "acme%2Fother"] {
        world
            .api(
                reqwest::Method::POST,
                &format!("/projects/{project}/members"),
                &[("user_id", &id.to_string()), ("access_level", "15")],
            )
            .await;
    }
    let token = world.create_token(id, &["read_api"]).await;
    world.env("GITLAB_TOKEN", &token);

    let (code, out, err) = world.run(&["--log-format", "json", "apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    // A project with nothing to do is one line, its pages counted (not listed).
    assert!(
        out.contains("project acme/roadmap: 1 page(s), nothing to do"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("page ops → acme/other [FAILED: project acme/other: taking the lease: ")
            && out.contains("lacks the `api` scope"),
        "{out}\n{err}"
    );
    assert_eq!(out.matches("[not run]").count(), 1, "{out}");
    assert!(out.contains("1 not run; 1 page not synced"), "{out}");
    let closing = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "sync finished")
        .unwrap_or_else(|| panic!("no closing line in\n{err}"));
    assert_eq!(closing["failed"], 1, "{closing}");
    assert_eq!(closing["failed_pages"], 1, "{closing}");
    assert_eq!(world.issues("acme/other").await.len(), 1, "nothing written");
}

/// One refused request (the page's board) is one failure: the closing line's `failed`
/// counts it once, not once as a request and again as its page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_board_is_counted_once_in_the_closing_line() {
    let world = World::new(&page_toml("pm", "pm.md", "acme/roadmap"), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    world
        .set_faults(serde_json::json!({"forbid": ["POST /projects/:id/boards"]}))
        .await;
    let (code, out, err) = world.run(&["--log-format", "json", "apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let closing = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "sync finished")
        .unwrap_or_else(|| panic!("no closing line in\n{err}"));
    assert_eq!(closing["failed"], 1, "{closing}\n{out}");
    assert_eq!(closing["failed_pages"], 1, "{closing}");
    assert!(
        out.contains("1 created") && out.ends_with("; 1 page not synced\n"),
        "{out}"
    );
}
