//! Safe on a shared tracker: `plan`/`apply` as a process against the sandbox, where a
//! token's role, strangers, a list that moves while it is read, a person's reopening,
//! a renamed label and GitLab's label rules used to hurt people's data.

use std::time::Duration;

use crate::common::{World, page_toml, pm_page};
use reqwest::Method;
use serde_json::{Value, json};

const PROJECT: &str = "acme/roadmap";

async fn pm_world() -> World {
    // Boards are created (on Free too), so a run with nothing to do sends no write at all.
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", &pm_page());
    world
}

/// Creates user `username` (as root) and returns its id and a personal access token.
async fn new_user(world: &World, username: &str) -> (u64, String) {
    let id = world.create_user(username, false).await;
    (id, world.create_token(id, &["api"]).await)
}

async fn add_member(world: &World, project: &str, user: u64, level: u8) {
    world
        .api(
            Method::POST,
            &format!("/projects/{}/members", project.replace('/', "%2F")),
            &[
                ("user_id", &user.to_string()),
                ("access_level", &level.to_string()),
            ],
        )
        .await;
}

fn assignee(issue: &Value) -> Option<&str> {
    issue["assignee"]["username"].as_str()
}

fn titled<'a>(issues: &'a [Value], title: &str) -> &'a Value {
    issues
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no issue titled {title:?}"))
}

/// A Guest *member* may create issues and keep their existing labels and assignees
/// (`set_issue_metadata` on a new issue, gitlab-org/gitlab#300100), but creates no
/// missing label (`admin_label` is Planner's and Reporter's, `app/policies/
/// project_policy.rb`) and may not edit, close or reopen anyone else's issue
/// (`admin_issue`): the sync could not keep the issues, and every run would create the
/// items again. The project is refused before any write, run after run; a project where
/// the same token is a Developer still syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_token_is_refused_with_its_role_and_nothing_is_written_run_after_run() {
    let pages = format!(
        "{}{}",
        page_toml("product-manager", "pm.md", PROJECT),
        page_toml("other", "other.md", "acme/other")
    );
    let mut world = World::new(&pages, "").await;
    world.write_page("pm.md", &pm_page());
    world.write_page("other.md", "## Duties\n\n- Keep the roadmap public\n");
    let (guest, token) = new_user(&world, "guest").await;
    add_member(&world, PROJECT, guest, 10).await;
    add_member(&world, "acme/other", guest, 30).await;
    world.env("GITLAB_TOKEN", &token);
    for run in 1..=2 {
        let (code, out, err) = world.run(&["apply"]).await;
        assert_eq!(code, 1, "run {run}:\n{out}\n{err}");
        for words in [PROJECT, "`guest`", "Guest (10)", "Planner"] {
            assert!(out.contains(words), "run {run}: {words:?} in\n{out}");
        }
        assert!(
            world.issues(PROJECT).await.is_empty(),
            "run {run}: nothing is written to the refused project"
        );
        assert_eq!(
            world.issues("acme/other").await.len(),
            1,
            "run {run}: the other project still syncs"
        );
    }
}

/// With GitLab's Admin Mode on, an administrator's token without the `admin_mode` scope
/// has no admin powers (`app/policies/base_policy.rb`, condition `admin`), yet `GET /user`
/// still says `is_admin` (`lib/api/users.rb`): trusting it, every run would create one
/// issue whose labels GitLab dropped. Such a token is checked as anyone's: not a member,
/// refused, nothing written, run after run; with the scope it syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_token_without_admin_mode_is_checked_as_anyones() {
    let mut world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", &pm_page());
    let id = world.create_user("ops", true).await;
    let tokens = [
        world.create_token(id, &["api"]).await,
        world.create_token(id, &["api", "admin_mode"]).await,
    ];
    world
        .api(
            Method::PUT,
            "/application/settings",
            &[("admin_mode", "true")],
        )
        .await;

    world.env("GITLAB_TOKEN", &tokens[0]);
    for run in 1..=2 {
        let (code, out, err) = world.run(&["apply"]).await;
        assert_eq!(code, 1, "run {run}:\n{out}\n{err}");
        for words in ["`ops` is not a member", "admin_mode scope", "Planner"] {
            assert!(out.contains(words), "run {run}: {words:?} in\n{out}");
        }
        assert!(
            world.issues(PROJECT).await.is_empty(),
            "run {run}: nothing is written"
        );
    }

    world.env("GITLAB_TOKEN", &tokens[1]);
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert!(!issues.is_empty());
    assert!(
        issues
            .iter()
            .all(|i| i["labels"].as_array().is_some_and(|l| !l.is_empty())),
        "every issue keeps its labels"
    );
}

/// A name after the arrow is assigned only when a member of the project has exactly that
/// username: GitLab would assign (and e-mail) any user of the instance
/// (`app/services/issuable_base_service.rb` `filter_assignees` keeps any user who can
/// read a public project). A stranger is left unassigned and the plan says why; one
/// request lists the members, none looks up the handbook's names one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_exists_but_is_no_member_is_not_assigned_and_reported() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    new_user(&world, "stranger").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone => stranger\n- Maintain CF Tile => drew\n",
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown person `stranger`") && out.contains("no member of acme/roadmap"),
        "{out}"
    );
    world.reset_stats().await;
    world.apply_ok().await;
    let stats = world.stats().await;
    assert_eq!(
        stats["by_route"]["GET /users"],
        Value::Null,
        "no user is looked up by name: {stats}"
    );
    let issues = world.issues(PROJECT).await;
    assert_eq!(assignee(titled(&issues, "Answer the phone")), None);
    assert_eq!(assignee(titled(&issues, "Maintain CF Tile")), Some("drew"));
}

/// The page owner is the configuration's explicit choice: assigned even when not a
/// member, with a warning that names the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_owner_who_is_no_member_is_assigned_as_configured_with_a_warning() {
    let world = World::new(
        &page_toml("product-manager", "pm.md", PROJECT).replace("sytses", "outsider"),
        "",
    )
    .await;
    new_user(&world, "outsider").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("`outsider` (owner of page `product-manager`) is not a member"),
        "{out}"
    );
    let issues = world.issues(PROJECT).await;
    assert_eq!(assignee(&issues[0]), Some("outsider"));
}

/// Offset pages of a list that grows while it is read shift: newest first, every issue
/// created meanwhile pushes the next page back and one issue comes again
/// (`lib/gitlab/pagination/offset_pagination.rb`: `LIMIT/OFFSET` over the live table).
/// Listed oldest first (`lib/api/issues.rb`: `order_by`, `sort`), what is created
/// meanwhile lands at the end; the moved `X-Total` calls for a second listing. No issue
/// is closed as a duplicate of itself and nothing is created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_created_during_the_listing_are_no_duplicates_and_cause_no_creates() {
    let world = World::new(&page_toml("many", "many.md", PROJECT), "").await;
    let bullets: String = (1..=150).map(|n| format!("- Duty number {n}\n")).collect();
    world.write_page("many.md", &format!("# Many\n\n## Duties\n\n{bullets}"));
    world.apply_ok().await;
    world.reset_stats().await;
    world.set_faults(json!({"latency_ms": 400})).await;
    let create_during_listing = async {
        // Once the first page of issues has been answered, 100 people's issues with the
        // managed label appear at once (observer requests: no latency, not counted).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while world.stats().await["by_route"]["GET /projects/:id/issues"].as_u64() < Some(1) {
            assert!(tokio::time::Instant::now() < deadline, "no listing started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let world = &world;
        let creates = (0..100).map(|n| async move {
            let title = format!("A person's issue {n}");
            world
                .api(
                    Method::POST,
                    "/projects/acme%2Froadmap/issues",
                    &[("title", &title), ("labels", "handbook-sync")],
                )
                .await
        });
        futures_util::future::join_all(creates).await;
    };
    let ((code, out, err), ()) = tokio::join!(world.run(&["plan"]), create_during_listing);
    world.set_faults(json!({})).await;
    assert!(!out.contains("duplicate of"), "{out}\n{err}");
    assert!(!out.contains("+ create"), "{out}\n{err}");
    assert_eq!(code, 0, "nothing to do:\n{out}\n{err}");
}

/// The other way round: issues deleted while the list is read shift the later pages
/// back, and an issue nobody deleted would go unseen and be created again. The moved
/// `X-Total` makes a second listing; only the deleted issues' items are created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_deleted_during_the_listing_hide_no_other_issue() {
    let world = World::new(&page_toml("many", "many.md", PROJECT), "").await;
    let bullets: String = (1..=150).map(|n| format!("- Duty number {n}\n")).collect();
    world.write_page("many.md", &format!("# Many\n\n## Duties\n\n{bullets}"));
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let (oldest, newest) = (&issues[0], &issues[issues.len() - 1]);
    world.reset_stats().await;
    world.set_faults(json!({"latency_ms": 400})).await;
    let delete_during_listing = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while world.stats().await["by_route"]["GET /projects/:id/issues"].as_u64() < Some(1) {
            assert!(tokio::time::Instant::now() < deadline, "no listing started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for issue in [oldest, newest] {
            let url = format!(
                "{}/api/v4/projects/acme%2Froadmap/issues/{}",
                world.sandbox.url, issue["iid"]
            );
            let response = world
                .http
                .delete(url)
                .header("PRIVATE-TOKEN", crate::common::TOKEN)
                .header("x-sandbox-observer", "1")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
        }
    };
    let ((code, out, err), ()) = tokio::join!(world.run(&["plan"]), delete_during_listing);
    world.set_faults(json!({})).await;
    assert_eq!(code, 2, "{out}\n{err}");
    let mut created: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("+ create new"))
        .map(|l| l.trim().split("  ").next().unwrap())
        .collect();
    created.sort_unstable();
    let mut deleted = vec![
        oldest["title"].as_str().unwrap(),
        newest["title"].as_str().unwrap(),
    ];
    deleted.sort_unstable();
    assert_eq!(created, deleted, "{out}");
}

/// A person reopens the issue of a removed item: drift like any other field, kept and
/// reported (no write, its description untouched), closed again only with
/// `enforce = true`, and even then its reason line keeps its date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_item_reopened_by_a_person_is_drift_until_enforced() {
    let mut world = pm_world().await;
    world.apply_ok().await;
    world.write_page(
        "pm.md",
        &pm_page().replace("- Do regular feature highlights\n", ""),
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let removed = titled(&issues, "Do regular feature highlights");
    let iid = removed["iid"].as_u64().unwrap();
    let description = removed["description"].as_str().unwrap().to_owned();
    assert!(description.contains("Removed from the handbook on "));
    world
        .api(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("state_event", "reopen")],
        )
        .await;

    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "drift is no change to make:\n{out}");
    assert!(
        out.contains(&format!("! drift  #{iid}")) && !out.contains("- close"),
        "{out}"
    );
    world.reset_stats().await;
    world.apply_ok().await;
    assert_eq!(
        world.stats().await["writes"],
        0,
        "kept as the person left it"
    );

    world.env("HANDBOOK_SYNC__SYNC__ENFORCE", "true");
    let out = world.apply_ok().await;
    assert!(out.contains(&format!("- close  #{iid}")), "{out}");
    let issues = world.issues(PROJECT).await;
    let issue = titled(&issues, "Do regular feature highlights");
    assert_eq!(issue["state"], "closed");
    assert_eq!(
        issue["description"].as_str().unwrap(),
        description,
        "the description is not rewritten"
    );
}

/// The managed label renamed by someone (`PUT /projects/:id/labels/:label_id` with
/// `new_name`, `lib/api/labels.rb`): the listing by label finds nothing, and every item
/// would be created again beside its issue. The page is refused like a mass close, with
/// the likely cause; `--allow-mass-create` overrides once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_managed_label_is_refused_instead_of_fifty_creates() {
    let world = pm_world().await;
    world.apply_ok().await;
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/labels/handbook-sync",
            &[("new_name", "roadmap")],
        )
        .await;
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("REFUSED") && out.contains("renamed") && out.contains("--allow-mass-create"),
        "{out}"
    );
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "{out}");
    assert_eq!(world.issues(PROJECT).await.len(), 50, "nothing created");
    let (code, out, _) = world.run(&["apply", "--allow-mass-create"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(world.issues(PROJECT).await.len(), 100, "overridden once");
}

/// GitLab stored label titles sanitized before gitlab-org/gitlab!207594
/// (`app/models/label.rb`: `CGI.unescapeHTML(Sanitize.clean(value))`) and matches titles
/// case-sensitively: the plan creates a title both versions keep as it is, so a heading
/// with `<b>` makes one label and the second run succeeds, and a label in another case
/// is reported, not mistaken for the tool's (`label_titles` runs this under both rules).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_planned_as_gitlab_stores_them() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/labels",
            &[("name", "Section::Duties"), ("color", "#ff0000")],
        )
        .await;
    world.write_page(
        "pm.md",
        "## Use `<b>` for emphasis\n\n- Do it\n\n## Duties\n\n- Answer the phone\n",
    );
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("label `Section::Duties` differs from `section::Duties` only in case"),
        "{out}"
    );
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "the second run succeeds:\n{out}\n{err}");
    let labels = world
        .api(
            Method::GET,
            "/projects/acme%2Froadmap/labels?per_page=100",
            &[],
        )
        .await;
    let names: Vec<&str> = labels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    let emphasis: Vec<&&str> = names.iter().filter(|n| n.contains("emphasis")).collect();
    assert_eq!(emphasis, [&"section::Use  for emphasis"], "{names:?}");
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "converged:\n{out}");
}

/// A refused page's writes are not counted as done, and a duplicate the tool closed is
/// not work done in `status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_and_closed_duplicates_are_not_counted_as_done() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    let bullets: String = (1..=12).map(|n| format!("- Duty number {n}\n")).collect();
    world.write_page("pm.md", &format!("## Duties\n\n{bullets}"));
    world.apply_ok().await;
    let original = world.issues(PROJECT).await.remove(0);
    world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[
                ("title", original["title"].as_str().unwrap()),
                ("labels", "handbook-sync,handbook::product-manager"),
                ("description", original["description"].as_str().unwrap()),
            ],
        )
        .await;
    world.apply_ok().await;
    let (code, out, _) = world.run(&["status", "--format", "json"]).await;
    assert_eq!(code, 0, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&status["pages"][0]["total"], &status["pages"][0]["closed"]),
        (&json!(12), &json!(0)),
        "{status}"
    );

    world.write_page("pm.md", "## Duties\n\n- Duty number 1\n");
    let (code, out, _) = world.run(&["apply", "--format", "json"]).await;
    assert_eq!(code, 4, "{out}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["summary"]["close"], 0, "{}", plan["summary"]);
    assert_eq!(plan["summary"]["refused"], 11, "{}", plan["summary"]);
}

/// Everything of a sync up to the plan, read with root's token.
async fn planned(
    world: &World,
) -> (
    handbook_sync::config::Config,
    handbook_sync::sync_run::Planned,
    handbook_sync::sync_run::ResolvedPeople,
) {
    use handbook_sync::sync_run::{self, Connection};
    let config = handbook_sync::config::Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let options = sync_run::RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };
    let selected = sync_run::select_pages(&config, &[]).unwrap();
    let root = Connection::new(&config, crate::common::TOKEN.to_owned().into(), None).unwrap();
    let pages = sync_run::read_pages(&config, &root, &selected, None).await;
    let projects = sync_run::read_projects(&root.gitlab, &pages, &config.sync).await;
    let people = sync_run::resolve_people(&config, &root.gitlab, &pages, &projects).await;
    let planned = sync_run::plan(&config, &options, &pages, &projects, &people);
    (config, planned, people)
}

/// GitLab answers `201` to a create whose labels it dropped (a caller who may not set
/// metadata: `app/services/issues/base_service.rb` `filter_params`). Should that happen
/// although the role was checked (the token changed hands between plan and apply here),
/// the first such create stops every further write to the project, and the page says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_dropped_by_a_create_stop_the_writes_to_that_project() {
    use handbook_sync::sync::PageOutcome;
    use handbook_sync::sync_run::{Connection, Prepared};
    let world = pm_world().await;
    let (_, token) = new_user(&world, "outsider").await;
    let (config, mut planned, people) = planned(&world).await;
    assert_eq!(planned.plan.summary.create, 50);
    // This is about creates: a 403 on creating a label would stop the project before
    // any (`first_hour::a_read_api_token_plans_and_its_apply_stops…`).
    planned.plan.pages[0].create_labels.clear();
    let outsider = Connection::new(&config, token.into(), None).unwrap();
    let applied = Prepared::new(&config, outsider, planned, people)
        .apply()
        .await;
    assert!(
        matches!(&applied.pages[0].outcome, PageOutcome::Failed(why) if why.contains("without its labels")),
        "{:?}",
        applied.pages[0].outcome
    );
    let created = world.issues(PROJECT).await.len();
    assert!(
        created <= config.gitlab.concurrency,
        "{created} unlabeled issues: only those in flight"
    );
    assert_eq!(
        applied.summary.create, 0,
        "no managed issue was created: the creates GitLab stripped failed, the rest never ran"
    );
    assert!(applied.summary.failed >= created, "{:?}", applied.summary);
    use handbook_sync::sync::WriteResult;
    let count = |r: WriteResult| {
        applied
            .actions
            .iter()
            .filter(|a| a.result == Some(r))
            .count()
    };
    assert_eq!(
        (
            count(WriteResult::Applied),
            count(WriteResult::Failed),
            count(WriteResult::NotRun)
        ),
        (0, created, 50 - created)
    );
}

/// `apply`'s summary counts what was written: a create GitLab refused (a description
/// over its limit of 1 MiB in bytes, `app/models/concerns/issuable.rb`) is counted in
/// `failed`, not in `create`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_is_counted_as_failed_not_as_created() {
    let world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    let huge = "x".repeat(1024 * 1024 + 1);
    world.write_page(
        "pm.md",
        &format!("## Duties\n\n- Answer the phone\n- Read everything\n\n  {huge}\n"),
    );
    let (code, out, err) = world.run(&["apply", "--format", "json"]).await;
    assert_eq!(code, 1, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&plan["summary"]["create"], &plan["summary"]["failed"]),
        (&json!(1), &json!(1)),
        "{}",
        plan["summary"]
    );
    assert_eq!(world.issues(PROJECT).await.len(), 1);
    let results: Vec<(&str, &str)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["title"].as_str().unwrap(), a["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("Answer the phone", "applied"),
            ("Read everything", "failed")
        ],
        "each action says what became of it"
    );
}

/// A configured user whose lookup fails is left unassigned with a warning; the run goes
/// on (before, one failed lookup failed the whole run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_user_lookup_leaves_the_user_unassigned_and_the_run_goes_on() {
    use handbook_sync::sync_run::{self, Connection};
    let world = World::new(
        &page_toml("product-manager", "pm.md", PROJECT).replace("sytses", "outsider"),
        "",
    )
    .await;
    new_user(&world, "outsider").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let config = handbook_sync::config::Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let selected = sync_run::select_pages(&config, &[]).unwrap();
    let root = Connection::new(&config, crate::common::TOKEN.to_owned().into(), None).unwrap();
    let pages = sync_run::read_pages(&config, &root, &selected, None).await;
    let projects = sync_run::read_projects(&root.gitlab, &pages, &config.sync).await;
    let mut people = sync_run::resolve_people(&config, &root.gitlab, &pages, &projects).await;
    let options = sync_run::RunOptions {
        today: "2026-11-27".into(),
        ..Default::default()
    };
    let planned = sync_run::plan(&config, &options, &pages, &projects, &people);
    // The create needs the user's id: only now is the user looked up, and that fails.
    world.set_faults(json!({"error_rate": 1.0})).await;
    let again = people.confirm(&root.gitlab, &planned.plan, 4).await;
    world.set_faults(json!({})).await;
    assert!(again, "the plan is made again without the user");
    let planned = sync_run::plan(&config, &options, &pages, &projects, &people);
    let create = &planned.plan.actions[0];
    assert!(
        create
            .warnings
            .iter()
            .any(|w| w.contains("`outsider`") && w.contains("could not be looked up")),
        "{create:?}"
    );
    assert_eq!(create.changes.assignee, None, "left unassigned");
}
