//! `[[discover]]` on a GitLab repository tree, end to end: pages found through the tree
//! API, the cache costing the listing and one request per project, and the daemon's push
//! hook (a pushed new file opens its issues; a pushed deletion is refused).

use crate::common;
use crate::discover::{discover_toml, job_page, open_titles, pages_of, sandbox_config};

use common::{TOKEN, World};
use serde_json::Value;

/// One commit to `acme/handbook`'s `main` with `actions` (`[action, path, content]`).
async fn commit(world: &World, actions: &[(&str, &str, &str)]) {
    let actions: Vec<Value> = actions
        .iter()
        .map(|(action, path, content)| {
            serde_json::json!({"action": action, "file_path": path, "content": content})
        })
        .collect();
    let response = world
        .http
        .post(format!(
            "{}/api/v4/projects/acme%2Fhandbook/repository/commits",
            world.sandbox.url
        ))
        .header("PRIVATE-TOKEN", TOKEN)
        .header("x-sandbox-observer", "1")
        .json(&serde_json::json!({"branch": "main", "commit_message": "handbook", "actions": actions}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

const REPOSITORY: &str = "gitlab://acme/handbook/-/job-families?ref=main";

/// Requests per route since the last reset.
async fn routes(world: &World) -> serde_json::Map<String, Value> {
    world.stats().await["by_route"].as_object().unwrap().clone()
}

#[tokio::test]
async fn the_same_through_a_gitlab_repository_tree_a_page_whose_project_only_it_used_included() {
    let world =
        World::with_sandbox(&discover_toml(REPOSITORY), "", |c| *c = sandbox_config()).await;
    commit(
        &world,
        &[
            (
                "create",
                "job-families/engineering/backend.md",
                &job_page("backend", Some("drew")),
            ),
            (
                "create",
                "job-families/people/recruiter.md",
                &job_page("recruiter", None),
            ),
            (
                "create",
                "job-families/sales/sdr.md",
                &job_page("sdr", None),
            ),
            (
                "create",
                "job-families/sales/glossary.md",
                "# Glossary\n\n- SDR: a role\n",
            ),
            (
                "create",
                "job-families/sales/_draft.md",
                &job_page("draft", None),
            ),
            ("create", "README.md", &job_page("outside", None)),
        ],
    )
    .await;
    world.apply_ok().await;
    assert_eq!(
        pages_of(&world, "roadmaps/people", "opened").await,
        ["job-recruiter".to_owned()].into()
    );
    assert_eq!(
        pages_of(&world, "roadmaps/sales", "opened").await,
        ["job-sdr".to_owned()].into()
    );
    let backend = world.issues("roadmaps/engineering").await;
    assert_eq!(backend.len(), 2);
    assert_eq!(backend[0]["assignees"][0]["username"], "drew");

    // A new file: its issues on the next run.
    commit(
        &world,
        &[(
            "create",
            "job-families/sales/renewals.md",
            &job_page("renewals", None),
        )],
    )
    .await;
    world.apply_ok().await;
    assert_eq!(
        pages_of(&world, "roadmaps/sales", "opened").await,
        ["job-renewals".to_owned(), "job-sdr".to_owned()].into()
    );

    // The only page of roadmaps/people goes: no current page writes there, and GitLab's
    // count of the block's open issues finds it all the same.
    commit(
        &world,
        &[("delete", "job-families/people/recruiter.md", "")],
    )
    .await;
    world.reset_stats().await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        out.contains("page job-recruiter → roadmaps/people [REFUSED: page `job-recruiter` is no longer in the handbook"),
        "{out}"
    );
    assert_eq!(open_titles(&world, "roadmaps/people").await.len(), 2);
    let by_route = routes(&world).await;
    assert_eq!(by_route["GET /issues_statistics"], 1);
    assert_eq!(
        by_route["GET /issues"], 1,
        "listed once, as the count differs"
    );
    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(open_titles(&world, "roadmaps/people").await.is_empty());
    let closed = world.issues("roadmaps/people").await;
    assert!(
        closed[0]["description"]
            .as_str()
            .unwrap()
            .contains("its page `job-recruiter` is no longer in the handbook")
    );
    // Nothing left to find: the count matches, and nothing is listed.
    world.reset_stats().await;
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(routes(&world).await.get("GET /issues").is_none());
}

/// With `sync.cache_dir`, a run in a new process whose handbook and tracker did not
/// change lists the tree, counts the block's issues (and reads whose the count is), and
/// asks each project once: no file is read again (their blobs are remembered), no issue
/// list is read.
#[tokio::test]
async fn with_the_cache_an_unchanged_handbook_costs_the_listing_and_one_request_per_project() {
    let world = World::with_sandbox(
        &discover_toml(REPOSITORY),
        "[sync]\ncache_dir = \"cache\"\ncache_clock_margin_seconds = 0\n",
        |c| *c = sandbox_config(),
    )
    .await;
    commit(
        &world,
        &[
            (
                "create",
                "job-families/engineering/backend.md",
                &job_page("backend", None),
            ),
            (
                "create",
                "job-families/people/recruiter.md",
                &job_page("recruiter", None),
            ),
            (
                "create",
                "job-families/sales/sdr.md",
                &job_page("sdr", None),
            ),
            (
                "create",
                "job-families/sales/glossary.md",
                "# Glossary\n\n- SDR: a role\n",
            ),
        ],
    )
    .await;
    world.apply_ok().await;
    // `apply` wrote its own issues since the listing: the next run reads once in full.
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}");
    // Issues written within the clock margin come back unchanged: still one request.
    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let by_route = routes(&world).await;
    let total = world.stats().await["total"].as_u64().unwrap();
    assert_eq!(by_route["GET /projects/:id/repository/tree"], 1);
    assert_eq!(by_route["GET /issues_statistics"], 1);
    assert_eq!(by_route["GET /user"], 1, "whose the count is");
    assert_eq!(by_route["GET /projects/:id/issues"], 3, "one per project");
    assert_eq!(total, 6, "{by_route:?}");
}

/// The daemon with a push webhook: a new file pushed to the handbook's repository opens
/// its issues within seconds, in the project its template names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_new_file_opens_its_issues_within_seconds_through_the_daemon() {
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let world = World::with_sandbox(&discover_toml(REPOSITORY), &format!(
            "[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"
        ), |c| *c = sandbox_config())
    .await;
    commit(
        &world,
        &[(
            "create",
            "job-families/sales/sdr.md",
            &job_page("sdr", None),
        )],
    )
    .await;
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(world.issues("roadmaps/sales").await.len(), 2);
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Fhandbook/hooks",
            &[
                ("url", &format!("http://127.0.0.1:{port}/hooks/gitlab")),
                ("push_events", "true"),
                ("token", "s3cret"),
            ],
        )
        .await;
    let pushed = Instant::now();
    commit(
        &world,
        &[(
            "create",
            "job-families/people/recruiter.md",
            &job_page("recruiter", None),
        )],
    )
    .await;
    while pages_of(&world, "roadmaps/people", "opened")
        .await
        .is_empty()
    {
        assert!(
            pushed.elapsed() < Duration::from_secs(5),
            "no issue 5 s after the push"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open_titles(&world, "roadmaps/people").await.len(), 2);
    let (code, _) = tokio::task::spawn_blocking(move || common::terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

/// The daemon: a pushed deletion of one of two pages of a project, whose other page did
/// not change (so the project is not read for it), is found and refused all the same:
/// its cache in memory holds the pages that wrote to each project, and one that is gone
/// reads the project in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refuses_a_pushed_deletion_and_closes_nothing() {
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let block = discover_toml(REPOSITORY).replace(
        "project = \"roadmaps/{dir}\"",
        "project = \"roadmaps/sales\"",
    );
    let world = World::with_sandbox(&block, &format!(
            "[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"s3cret\"\n"
        ), |c| *c = sandbox_config())
    .await;
    commit(
        &world,
        &[
            (
                "create",
                "job-families/sales/sdr.md",
                &job_page("sdr", None),
            ),
            (
                "create",
                "job-families/sales/renewals.md",
                &job_page("renewals", None),
            ),
        ],
    )
    .await;
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = || async {
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !metrics()
        .await
        .is_some_and(|m| m.contains("handbook_sync_syncs_total{outcome=\"ok\"} 1"))
    {
        assert!(Instant::now() < deadline, "no first sync");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Fhandbook/hooks",
            &[
                ("url", &format!("http://127.0.0.1:{port}/hooks/gitlab")),
                ("push_events", "true"),
                ("token", "s3cret"),
            ],
        )
        .await;
    commit(&world, &[("delete", "job-families/sales/sdr.md", "")]).await;
    let pushed = Instant::now();
    while !metrics()
        .await
        .is_some_and(|m| m.contains("handbook_sync_syncs_total{outcome=\"refused\"} 1"))
    {
        assert!(
            pushed.elapsed() < Duration::from_secs(5),
            "not refused 5 s after the push"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        open_titles(&world, "roadmaps/sales").await.len(),
        4,
        "nothing closed"
    );
    let (code, _) = tokio::task::spawn_blocking(move || common::terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
