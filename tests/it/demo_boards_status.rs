//! Boards, `status`, and the `demo` a new user starts with.

use crate::common;

use common::{World, page_toml, pm_page};
use reqwest::Method;
use serde_json::Value;

const PROJECT: &str = "acme/roadmap";

async fn board_lists(world: &World) -> Vec<String> {
    let boards = world
        .api(Method::GET, "/projects/acme%2Froadmap/boards", &[])
        .await;
    let boards = boards.as_array().unwrap();
    assert_eq!(boards.len(), 1, "{boards:?}");
    assert_eq!(
        boards[0]["name"],
        "Handbook: Product Manager Responsibilities and Tasks"
    );
    let mut lists = boards[0]["lists"].as_array().unwrap().clone();
    lists.sort_by_key(|l| l["position"].as_u64());
    lists
        .iter()
        .map(|l| l["label"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_has_one_list_per_section_in_handbook_order_and_keeps_peoples_lists() {
    // On the default tier, Free: boards are created there too (GitLab 12.1 and later).
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    let sections = [
        "section::Development direction",
        "section::Public information",
        "section::Customer relations",
        "section::Marketing",
        "section::Internal",
        "section::Things I'm doing that I shouldn't be doing",
    ];
    assert_eq!(board_lists(&world).await, sections);

    world.reset_stats().await;
    world.apply_ok().await;
    let stats = world.stats().await;
    assert_eq!(stats["writes"], 0, "{stats}");

    // A person adds a list of their own; a new section appears in the middle of the page.
    let label = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "blocked"), ("color", "#ff0000")],
        )
        .await;
    let board_id = world
        .api(Method::GET, "/projects/acme%2Froadmap/boards", &[])
        .await[0]["id"]
        .to_string();
    world
        .api(
            Method::POST,
            &format!("/projects/acme%2Froadmap/boards/{board_id}/lists"),
            &[("label_id", &label["id"].to_string())],
        )
        .await;
    world.write_page(
        "pm.md",
        &pm_page().replace(
            "## Marketing\n",
            "## Partnerships\n\n- Keep partner pages current\n\n## Marketing\n",
        ),
    );
    world.apply_ok().await;
    let lists = board_lists(&world).await;
    assert_eq!(
        lists,
        [
            "section::Development direction",
            "section::Public information",
            "section::Customer relations",
            "section::Partnerships",
            "section::Marketing",
            "section::Internal",
            "section::Things I'm doing that I shouldn't be doing",
            "blocked",
        ]
    );

    // A person deletes a section's list. Every label the page needs is on an issue, so
    // the run reads no label list for its plan; it reads one to add the list back.
    let board = &world
        .api(Method::GET, "/projects/acme%2Froadmap/boards", &[])
        .await[0];
    let marketing = board["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"]["name"] == "section::Marketing")
        .unwrap()["id"]
        .to_string();
    world
        .api(
            Method::DELETE,
            &format!("/projects/acme%2Froadmap/boards/{board_id}/lists/{marketing}"),
            &[],
        )
        .await;
    assert!(
        !board_lists(&world)
            .await
            .contains(&"section::Marketing".to_owned())
    );
    world.reset_stats().await;
    world.apply_ok().await;
    let stats = world.stats().await;
    assert_eq!(stats["by_route"]["GET /projects/:id/labels"], 1, "{stats}");
    assert_eq!(board_lists(&world).await, lists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_what_gitlab_holds() {
    let mut world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    // Sections come in the order their issues were created; with creates running side by
    // side a short section's first issue may be numbered after the next section's.
    world.env("HANDBOOK_SYNC__GITLAB__CONCURRENCY", "1");
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    let (code, out, err) = world.run(&["status", "--format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    let page = &status["pages"][0];
    assert_eq!(
        (
            page["total"].as_u64(),
            page["open"].as_u64(),
            page["closed"].as_u64()
        ),
        (Some(50), Some(43), Some(7))
    );
    assert_eq!(page["handed_over"], 7);
    let sections: Vec<(String, u64, u64)> = page["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["total"].as_u64().unwrap(),
                s["closed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sections,
        [
            ("Development direction".to_owned(), 10, 0),
            ("Public information".to_owned(), 9, 0),
            ("Customer relations".to_owned(), 4, 0),
            ("Marketing".to_owned(), 7, 0),
            ("Internal".to_owned(), 3, 0),
            (
                "Things I'm doing that I shouldn't be doing".to_owned(),
                17,
                7
            ),
        ]
    );
    // Closing an issue by hand shows up: status reads GitLab, not the handbook.
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/issues/1",
            &[("state_event", "close")],
        )
        .await;
    let (_, out, _) = world.run(&["status", "--format", "json"]).await;
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["pages"][0]["closed"], 8);
    let (_, text, _) = world.run(&["status"]).await;
    assert!(text.contains("8 of 50 done (16%)"), "{text}");
}

#[test]
fn the_demo_runs_and_explains_itself() {
    let output = common::run(&["demo"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let text = common::stdout(&output);
    // The demo leaves its roadmap for the reader, at a path of its own.
    let site = text
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("index.html"))
        .unwrap();
    let index = std::fs::read_to_string(site).unwrap();
    assert!(
        index.contains("Product Manager Responsibilities and Tasks"),
        "{index}"
    );
    std::fs::remove_dir_all(std::path::Path::new(site).parent().unwrap()).unwrap();
    insta::assert_snapshot!("demo", text.replace(site, "[ROADMAP]/index.html"));
}
