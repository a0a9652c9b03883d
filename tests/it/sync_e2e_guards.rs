//! What `plan` and `apply` refuse or leave alone, end to end (the binary as a process,
//! against the sandbox over HTTP): an unreadable page, most bullets removed, issues
//! that are not theirs, two issues with one key, a bad configuration, a refused page.

use crate::common;
use crate::sync_e2e::{PROJECT, pm_world};

use common::{World, page_toml, pm_page};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_or_empty_page_is_skipped_and_nothing_of_it_is_closed() {
    let world = pm_world().await;
    world.apply_ok().await;
    for broken in ["missing", "empty"] {
        match broken {
            "missing" => std::fs::remove_file(world.dir.join("pm.md")).unwrap(),
            _ => world.write_page("pm.md", "# Product manager\n\nNo bullets today.\n"),
        }
        let (code, out, err) = world.run(&["apply"]).await;
        assert_eq!(code, 1, "{broken}: {out}\n{err}");
        assert!(out.contains("SKIPPED"), "{out}");
        if broken == "missing" {
            // The reason, not only that it failed: the operating system's cause is shown.
            assert!(
                out.contains("pm.md") && out.contains("No such file"),
                "{out}"
            );
        }
        let issues = world.issues(PROJECT).await;
        assert_eq!(
            issues.iter().filter(|i| i["state"] == "opened").count(),
            43,
            "{broken}: nothing was closed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_most_bullets_is_refused_unless_allowed() {
    let world = pm_world().await;
    world.apply_ok().await;
    let shortened: String = pm_page()
        .lines()
        .filter(|l| !l.starts_with("- Ensure") && !l.starts_with("- Make"))
        .collect::<Vec<_>>()
        .join("\n");
    world.write_page("pm.md", &shortened);
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("REFUSED") && out.contains("--allow-mass-close"),
        "{out}"
    );
    assert_eq!(
        world
            .issues(PROJECT)
            .await
            .iter()
            .filter(|i| i["state"] == "opened")
            .count(),
        43,
        "nothing applied"
    );
    let (code, out, _) = world.run(&["apply", "--allow-mass-close"]).await;
    assert_eq!(code, 0, "{out}");
    let open = world
        .issues(PROJECT)
        .await
        .iter()
        .filter(|i| i["state"] == "opened")
        .count();
    assert!(open < 43 - 10, "{open} open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_without_a_marker_and_issues_of_other_pages_are_never_touched() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    let plain = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("title", "Keep the roadmap public")],
        )
        .await;
    let labeled = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[
                ("title", "Keep the roadmap public"),
                ("labels", "handbook-sync"),
                ("description", "no marker here"),
            ],
        )
        .await;
    let foreign_description = "<!-- handbook-sync:begin -->\nx\n\n<!-- handbook-sync {\"v\":1,\"page\":\"unconfigured\",\"key\":\"keep-the-roadmap-public\",\"title\":\"Keep the roadmap public\",\"status\":\"active\",\"state\":\"opened\",\"assignee\":null,\"labels\":[\"handbook-sync\"],\"block\":\"0\"} -->\n<!-- handbook-sync:end -->";
    let foreign = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[
                ("title", "Old page item"),
                ("labels", "handbook-sync"),
                ("description", foreign_description),
            ],
        )
        .await;
    world.apply_ok().await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Something else entirely, nothing alike\n",
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    for original in [&plain, &labeled, &foreign] {
        let now = issues.iter().find(|i| i["iid"] == original["iid"]).unwrap();
        assert_eq!(
            now["updated_at"], original["updated_at"],
            "issue #{} was changed",
            original["iid"]
        );
        assert_eq!(now["state"], "opened");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_issues_with_one_key_keep_the_older_and_close_the_other() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Keep the roadmap public\n");
    world.apply_ok().await;
    let original = world.issues(PROJECT).await.remove(0);
    let copy = world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[
                ("title", "Keep the roadmap public"),
                ("labels", "handbook-sync,handbook::product-manager"),
                ("description", original["description"].as_str().unwrap()),
            ],
        )
        .await;
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("duplicate of #{}", original["iid"])),
        "{out}"
    );
    let issues = world.issues(PROJECT).await;
    assert_eq!(
        issues.iter().find(|i| i["iid"] == original["iid"]).unwrap()["state"],
        "opened"
    );
    assert_eq!(
        issues.iter().find(|i| i["iid"] == copy["iid"]).unwrap()["state"],
        "closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_3_and_name_the_key() {
    let world = pm_world().await;
    for (extra, expected) in [
        ("[sync]\nenforse = true\n", "enforse"),
        (
            "[sync]\nmax_close_fraction = 2.0\n",
            "sync.max_close_fraction",
        ),
    ] {
        world.write_config(&page_toml("product-manager", "pm.md", PROJECT), extra);
        let (code, _, err) = world.run(&["plan"]).await;
        assert_eq!(code, 3, "{extra}: {err}");
        assert!(err.contains(expected), "{extra}: {err}");
    }
    world.write_config(
        "[[pages]]\nid = \"x\"\nsource = \"pm.md\"\nproject = \"acme/roadmap\"\n",
        "",
    );
    let (code, _, err) = world.run(&["plan"]).await;
    assert_eq!(code, 3);
    assert!(err.contains("`pages[0].owner`"), "{err}");
    std::fs::write(world.dir.join("config.toml"), "[gitlab]\nurl = \"http://gitlab.example.com\"\n[[pages]]\nid = \"x\"\nsource = \"pm.md\"\nproject = \"a/b\"\nowner = \"o\"\n").unwrap();
    let (code, _, err) = world.run(&["plan"]).await;
    assert_eq!(code, 3);
    assert!(
        err.contains("gitlab.url") && err.contains("allow_insecure"),
        "{err}"
    );
    world.write_config(&page_toml("product-manager", "pm.md", PROJECT), "");
    let (code, _, err) = world.run(&["plan", "--page", "nope"]).await;
    assert_eq!(code, 3);
    assert!(err.contains("--page nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_page_leaves_its_new_labels_to_the_next_page_of_the_project() {
    // Page `a` is refused (most bullets removed) in the same run that adds a section which
    // page `b` shares. The refused page writes nothing, so `b` must create the label itself:
    // styled by handbook-sync, and present before `b`'s board needs a list for it.
    let bullets: String = (1..=12).map(|n| format!("- Duty number {n}\n")).collect();
    let pages = format!(
        "{}{}",
        page_toml("a", "a.md", PROJECT),
        page_toml("b", "b.md", PROJECT)
    );
    let world = World::new(&page_toml("a", "a.md", PROJECT), "").await;
    world.write_page("a.md", &format!("# A\n\n## Old\n\n{bullets}"));
    world.apply_ok().await;
    world.write_config(&pages, "");
    world.write_page(
        "a.md",
        "# A\n\n## Old\n\n- Duty number 1\n\n## Shared\n\n- New duty\n",
    );
    world.write_page("b.md", "# B\n\n## Shared\n\n- Own duty\n");
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "page a is refused:\n{out}\n{err}");
    let label = world
        .api(
            Method::GET,
            "/projects/acme%2Froadmap/labels/section%3A%3AShared",
            &[],
        )
        .await;
    assert_eq!(
        label["color"], "#009966",
        "created by handbook-sync: {label}"
    );
    let b_issue = world
        .issues(PROJECT)
        .await
        .into_iter()
        .find(|i| i["title"] == "Own duty")
        .expect("page b applied");
    assert!(
        b_issue["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "section::Shared"),
        "{b_issue}"
    );
}
