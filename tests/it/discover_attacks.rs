//! `[[discover]]` attacked: what a hostile page author, another team on the same GitLab,
//! a stranger on gitlab.com, a file moved or renamed, or a GitLab that pages differently
//! can make a run do. Each test runs the CLI as a process against the sandbox, and each
//! is named after what must hold.

use crate::common;

use common::{TOKEN, World};
use serde_json::Value;

/// Roadmap projects, the handbook's repository, another team's project and a stranger's
/// own; `sytses` and `drew` are developers of ours and of team B's, `stranger` is a member
/// of nothing but their own project (which they own).
pub(crate) fn sandbox_config() -> gitlab_sandbox::Config {
    let ours = [
        "roadmaps/engineering",
        "roadmaps/sales",
        "roadmaps/design",
        "acme/roadmap",
        "acme/handbook",
        "teamb/roadmap",
    ];
    let mut members: Vec<(String, String, u8)> = ours
        .iter()
        .flat_map(|p| {
            ["sytses", "drew"]
                .iter()
                .map(move |u| (p.to_string(), u.to_string(), 30))
        })
        .collect();
    members.push(("stranger/own".into(), "stranger".into(), 50));
    gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: ours
            .iter()
            .chain(&["stranger/own"])
            .map(|p| (p.to_string(), "public".into()))
            .collect(),
        users: ["sytses", "drew", "stranger"]
            .iter()
            .map(|u| (u.to_string(), u.to_string()))
            .collect(),
        members,
        state_file: None,
        tier: gitlab_sandbox::Tier::Free,
        ..Default::default()
    }
}

/// A `[[discover]]` block over the directory `source`, every `.md` file a page.
pub(crate) fn block(name: &str, source: &str, id: &str, project: &str, owner: &str) -> String {
    format!(
        "[[discover]]\nname = \"{name}\"\nsource = \"{source}\"\ninclude = [\"**/*.md\"]\nid = \"{id}\"\nproject = \"{project}\"\nowner = \"{owner}\"\nboard = false\n"
    )
}

/// A page titled `title` with `items` bullets under Responsibilities.
pub(crate) fn page(title: &str, items: usize) -> String {
    let mut text = format!("# {title}\n\n## Responsibilities\n\n");
    for i in 1..=items {
        text.push_str(&format!("- {title} duty {i}\n"));
    }
    text
}

pub(crate) fn write(world: &World, path: &str, text: &str) {
    let path = world.dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `project`'s issues in `state` (`opened`, `closed`).
pub(crate) async fn issues_in(world: &World, project: &str, state: &str) -> Vec<Value> {
    world
        .issues(project)
        .await
        .into_iter()
        .filter(|i| i["state"] == state)
        .collect()
}

pub(crate) async fn open_count(world: &World, project: &str) -> usize {
    issues_in(world, project, "opened").await.len()
}

/// The user id of `username`.
pub(crate) async fn user_id(world: &World, username: &str) -> u64 {
    let users = world
        .api(
            reqwest::Method::GET,
            &format!("/users?username={username}"),
            &[],
        )
        .await;
    users[0]["id"].as_u64().unwrap()
}

/// A stranger opens an issue in their own public project `stranger/own` with the managed
/// label, block `block`'s label and `description` (a copy of one of ours, marker and all).
pub(crate) async fn strangers_copy(world: &World, block: &str, description: &str) {
    let stranger = user_id(world, "stranger").await;
    let token = world.create_token(stranger, &["api"]).await;
    let labels = format!("handbook-sync,handbook-discover::{block}");
    let response = world
        .http
        .post(format!(
            "{}/api/v4/projects/stranger%2Fown/issues",
            world.sandbox.url
        ))
        .header("PRIVATE-TOKEN", token)
        .form(&[
            ("title", "hi"),
            ("labels", labels.as_str()),
            ("description", description),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// Finding 1: vanished pages were looked for among every issue the token could read that
/// carried the two labels, so another team's handbook-sync with the same block name (and
/// the same bot) had its issues closed by our `--allow-removed-pages`, and one issue a
/// stranger forged in their own project made every run of ours exit 4.
#[tokio::test]
async fn a_block_name_shared_with_another_team_or_copied_by_a_stranger_never_makes_their_issues_our_vanished_pages()
 {
    let world = World::with_sandbox(
        &block("job-families", "teamb", "{name}", "teamb/roadmap", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    for role in ["dba", "netops"] {
        write(&world, &format!("teamb/infra/{role}.md"), &page(role, 2));
    }
    world.apply_ok().await;
    assert_eq!(open_count(&world, "teamb/roadmap").await, 4);

    // A stranger copies one of those issues into their own public project, labels and
    // marker included, naming a page we never had.
    let forged = issues_in(&world, "teamb/roadmap", "opened").await[0]["description"]
        .as_str()
        .unwrap()
        .replace("\"page\":\"dba\"", "\"page\":\"gotcha\"");
    strangers_copy(&world, "job-families", &forged).await;

    // Our handbook: the same block name, the same bot, our own projects.
    world.write_config(
        &block("job-families", "ours", "{name}", "roadmaps/{dir}", "sytses"),
        "",
    );
    for role in ["backend", "frontend"] {
        write(
            &world,
            &format!("ours/engineering/{role}.md"),
            &page(role, 1),
        );
    }
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(
        code, 0,
        "nobody else's issue is a page of ours:\n{out}\n{err}"
    );
    assert!(!out.contains("REFUSED"), "{out}");

    std::fs::remove_file(world.dir.join("ours/engineering/frontend.md")).unwrap();
    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("page frontend"), "ours is closed:\n{out}");
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 1);
    assert_eq!(
        open_count(&world, "teamb/roadmap").await,
        4,
        "team B's issues are theirs:\n{out}"
    );
    assert_eq!(open_count(&world, "stranger/own").await, 1);
    for page in ["dba", "netops", "gotcha"] {
        assert!(!out.contains(&format!("page {page}")), "{out}");
    }
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}");
}

/// Finding 2: an owner a page's own front matter names is page text, not configuration:
/// only a member of the project is assigned (a stranger would be assigned and e-mailed).
#[tokio::test]
async fn an_owner_named_by_front_matter_is_assigned_only_when_a_member() {
    let world = World::with_sandbox(
        &block(
            "job-families",
            "jobs",
            "job-{name}",
            "roadmaps/{dir}",
            "{front_matter.owner|sytses}",
        ),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    write(
        &world,
        "jobs/engineering/backend.md",
        &format!("---\nowner: stranger\n---\n{}", page("backend", 2)),
    );
    write(
        &world,
        "jobs/engineering/frontend.md",
        &format!("---\nowner: drew\n---\n{}", page("frontend", 1)),
    );
    write(&world, "jobs/engineering/sre.md", &page("sre", 1));
    let (code, out, err) = world.run(&["apply"]).await;
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let mut assigned = std::collections::BTreeSet::new();
    for issue in world.issues("roadmaps/engineering").await {
        let title = issue["title"].as_str().unwrap().to_owned();
        let who = issue["assignees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(",");
        assigned.insert(format!("{title}: {who}"));
    }
    assert_eq!(
        assigned,
        [
            "backend duty 1: ",
            "backend duty 2: ",
            "frontend duty 1: drew",
            "sre duty 1: sytses"
        ]
        .map(String::from)
        .into(),
        "{out}\n{err}"
    );
    assert!(
        out.contains("stranger") && out.contains("front matter"),
        "the warning names who and why:\n{out}"
    );
}

/// Finding 3: a new file whose id another file already gives took the id over (it sorts
/// first) and closed the other page's issues. Now neither file is synced, both are named.
#[tokio::test]
async fn two_files_that_give_one_id_sync_neither_and_close_nothing() {
    let world = World::with_sandbox(
        &block("job-families", "jobs", "{name}", "roadmaps/{dir}", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    write(&world, "jobs/engineering/backend.md", &page("backend", 5));
    world.apply_ok().await;
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 5);

    write(&world, "jobs/design/backend.md", &page("design backend", 1));
    for command in ["plan", "apply"] {
        let (code, out, err) = world.run(&[command]).await;
        assert!(code == 1 || code == 4, "{command}:\n{out}\n{err}");
        assert!(
            out.contains("engineering/backend.md") && out.contains("design/backend.md"),
            "both files are named:\n{out}"
        );
        assert!(
            !out.contains("+ create") && !out.contains("- close"),
            "{out}"
        );
    }
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 5);
    assert!(world.issues("roadmaps/design").await.is_empty());

    // The newcomer renamed: both sync again, nothing was lost.
    std::fs::rename(
        world.dir.join("jobs/design/backend.md"),
        world.dir.join("jobs/design/backend-design.md"),
    )
    .unwrap();
    world.apply_ok().await;
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 5);
    assert_eq!(open_count(&world, "roadmaps/design").await, 1);
}

/// Finding 4: a file moved to a directory whose project is another duplicated every issue
/// there and left the old ones open for ever. Now the old project's open issues are a
/// vanished page (refused, exit 4) until `--allow-removed-pages` closes them, naming the
/// move; the new project gets its issues on the run after, and nothing is looked for again.
#[tokio::test]
async fn a_file_moved_to_another_project_is_refused_until_allowed_and_then_closed_naming_the_move()
{
    let world = World::with_sandbox(
        &block("job-families", "jobs", "{name}", "roadmaps/{dir}", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    write(&world, "jobs/engineering/backend.md", &page("backend", 3));
    write(&world, "jobs/engineering/frontend.md", &page("frontend", 1));
    world.apply_ok().await;
    std::fs::create_dir_all(world.dir.join("jobs/sales")).unwrap();
    std::fs::rename(
        world.dir.join("jobs/engineering/backend.md"),
        world.dir.join("jobs/sales/backend.md"),
    )
    .unwrap();
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        out.contains("page backend → roadmaps/engineering [REFUSED")
            && out.contains("roadmaps/sales"),
        "the old project's page is refused, naming where it went:\n{out}"
    );
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 4);
    assert_eq!(
        open_count(&world, "roadmaps/sales").await,
        0,
        "nothing duplicated:\n{out}"
    );

    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(open_count(&world, "roadmaps/engineering").await, 1);
    for issue in issues_in(&world, "roadmaps/engineering", "closed").await {
        let description = issue["description"].as_str().unwrap();
        assert!(
            description.contains("moved to project roadmaps/sales"),
            "the closed issue says where its page went: {description}"
        );
    }
    // The page's id is planned once per run: its issues in its new project come next.
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(open_count(&world, "roadmaps/sales").await, 3);
    world.reset_stats().await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let stats = world.stats().await;
    assert!(
        stats["by_route"].get("GET /issues").is_none(),
        "no open issue of the block is left to look for: {stats}"
    );
}

/// Finding 5: a rename that changes every id refused the old pages but created the new
/// ones' issues in the same run: every issue twice. Now the block's new pages wait too.
#[tokio::test]
async fn a_rename_that_changes_ids_holds_the_new_pages_until_removal_is_allowed() {
    let world = World::with_sandbox(
        &block("job-families", "jobs", "{slug}", "acme/roadmap", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    for role in ["backend", "frontend", "sre"] {
        write(
            &world,
            &format!("jobs/engineering/{role}.md"),
            &page(role, 2),
        );
    }
    world.apply_ok().await;
    assert_eq!(open_count(&world, "acme/roadmap").await, 6);
    std::fs::rename(
        world.dir.join("jobs/engineering"),
        world.dir.join("jobs/eng"),
    )
    .unwrap();
    for command in ["plan", "apply"] {
        let (code, out, err) = world.run(&[command]).await;
        assert_eq!(code, 4, "{command}:\n{out}\n{err}");
        assert!(
            out.contains("page eng-backend → acme/roadmap [REFUSED"),
            "the new page is named, held:\n{out}"
        );
        assert!(
            out.contains("page engineering-backend → acme/roadmap [REFUSED"),
            "{out}"
        );
    }
    assert_eq!(
        open_count(&world, "acme/roadmap").await,
        6,
        "nothing created"
    );
    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(open_count(&world, "acme/roadmap").await, 6);
    assert_eq!(issues_in(&world, "acme/roadmap", "closed").await.len(), 6);
}

/// One commit to `acme/handbook`'s `main` creating `files`.
pub(crate) async fn commit(world: &World, files: &[(String, String)]) {
    let actions: Vec<Value> = files
        .iter()
        .map(|(path, content)| {
            serde_json::json!({"action": "create", "file_path": path, "content": content})
        })
        .collect();
    let response = world
        .http
        .post(format!(
            "{}/api/v4/projects/acme%2Fhandbook/repository/commits",
            world.sandbox.url
        ))
        .header("PRIVATE-TOKEN", TOKEN)
        .json(&serde_json::json!({"branch": "main", "commit_message": "handbook", "actions": actions}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Finding 6: a GitLab whose `repository_tree_gitaly_pagination` is off (older
/// self-managed ones) answers `pagination=keyset` with offset pages, whose `rel="next"`
/// carries `page` and no `page_token`: the listing stopped after its first page and the
/// rest of the handbook looked removed. The offset pages are followed now.
#[tokio::test]
async fn a_tree_listed_by_offset_pages_is_read_to_its_end_and_no_page_looks_removed() {
    let world = World::with_sandbox(
        &block(
            "jobs",
            "gitlab://acme/handbook/-/jobs?ref=main",
            "{slug}",
            "acme/roadmap",
            "sytses",
        ),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    let files: Vec<(String, String)> = (0..130)
        .map(|i| {
            (
                format!("jobs/family{}/role{i:03}.md", i % 3),
                page(&format!("role {i}"), 1),
            )
        })
        .collect();
    commit(&world, &files).await;
    world.apply_ok().await;
    assert_eq!(open_count(&world, "acme/roadmap").await, 130);
    world
        .api(
            reqwest::Method::POST,
            "/features/repository_tree_gitaly_pagination",
            &[("value", "false")],
        )
        .await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "every page is still there:\n{out}\n{err}");
    assert!(!out.contains("REFUSED"), "{out}");
    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(open_count(&world, "acme/roadmap").await, 130);
}

/// Finding 6, too: a listing that holds no file at all (an answer cut to `[]`, a checkout
/// that failed) made every page look removed. A plain run takes it as incomplete and
/// closes nothing; only `--allow-removed-pages` takes it as the block retired (review 5:
/// refusing it there too left no way to retire a block but orphaning its issues).
#[tokio::test]
async fn finding_6_an_empty_listing_closes_nothing_unless_removed_pages_are_allowed() {
    let world = World::with_sandbox(
        &block("jobs", "jobs", "{name}", "acme/roadmap", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    for role in ["backend", "frontend"] {
        write(&world, &format!("jobs/{role}.md"), &page(role, 1));
    }
    world.apply_ok().await;
    for role in ["backend", "frontend"] {
        std::fs::remove_file(world.dir.join(format!("jobs/{role}.md"))).unwrap();
    }
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("discover:jobs") && out.contains("no file the block matches"),
        "{out}"
    );
    assert_eq!(open_count(&world, "acme/roadmap").await, 2, "{out}");
    // Retiring the block: its pages' issues closed, naming them.
    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("page backend") && out.contains("page frontend"),
        "{out}"
    );
    assert_eq!(open_count(&world, "acme/roadmap").await, 0, "{out}");
}

/// Finding 7: a file that is a configured page and also found by two blocks had every
/// issue three times. Now the file is synced once, as the configured page; the blocks'
/// copies are named as duplicates.
#[tokio::test]
async fn a_file_configured_and_discovered_twice_is_synced_once() {
    let pages = format!(
        "[[pages]]\nid = \"backend-role\"\nsource = \"jobs/backend.md\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n\n{}\n{}",
        block("jobs", "jobs", "{name}", "acme/roadmap", "sytses"),
        block("roles", ".", "role-{name}", "acme/roadmap", "sytses")
            .replace("[\"**/*.md\"]", "[\"jobs/*.md\"]"),
    );
    let world = World::with_sandbox(&pages, "", |c| *c = sandbox_config()).await;
    write(&world, "jobs/backend.md", &page("backend", 2));
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "the duplicates are skipped, named:\n{out}\n{err}");
    assert!(out.contains("already page `backend-role`"), "{out}");
    assert_eq!(open_count(&world, "acme/roadmap").await, 2, "{out}");
}

/// Finding 8: a number from front matter names any project of the instance, whatever
/// the template around it; only a template without placeholders may give one.
#[tokio::test]
async fn finding_8_a_numeric_project_id_from_front_matter_is_refused() {
    let world = World::with_sandbox(
        &block(
            "jobs",
            "jobs",
            "{name}",
            "{front_matter.roadmap|acme/roadmap}",
            "sytses",
        ),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    let design = world
        .api(reqwest::Method::GET, "/projects/roadmaps%2Fdesign", &[])
        .await["id"]
        .as_u64()
        .unwrap();
    write(
        &world,
        "jobs/backend.md",
        &format!("---\nroadmap: \"{design}\"\n---\n{}", page("backend", 1)),
    );
    write(&world, "jobs/frontend.md", &page("frontend", 1));
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("numeric project id"), "{out}");
    assert!(world.issues("roadmaps/design").await.is_empty());
    assert_eq!(open_count(&world, "acme/roadmap").await, 1);
}

/// Finding 10: a file name with a line break was printed raw into the plan (and the merge
/// request note): a forged plan line.
#[tokio::test]
async fn control_characters_in_a_file_name_are_escaped_in_every_message() {
    let world = World::with_sandbox(
        &block("jobs", "jobs", "{name}", "acme/roadmap", "sytses"),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    write(&world, "jobs/normal.md", &page("normal", 1));
    write(
        &world,
        "jobs/evil\npage forged → acme/roadmap [ok]\n  - close #1 everything.md",
        &page("evil", 1),
    );
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        !out.lines().any(|l| l.starts_with("page forged")),
        "no forged line:\n{out}"
    );
    assert!(
        out.contains("evil\\npage forged"),
        "the name, escaped:\n{out}"
    );
}

/// Finding 11: the refusal of a vanished page said only "deleted, renamed or no longer
/// qualifying"; it names the file that gave the id and why it is no page now.
#[tokio::test]
async fn a_vanished_page_that_no_longer_qualifies_is_named_with_its_file_and_why() {
    let world = World::with_sandbox(
        &format!(
            "{}require_heading = \"Responsibilities\"\n",
            block("jobs", "jobs", "{name}", "acme/roadmap", "sytses")
        ),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    write(&world, "jobs/eng/backend.md", &page("backend", 1));
    write(&world, "jobs/eng/frontend.md", &page("frontend", 1));
    world.apply_ok().await;
    write(
        &world,
        "jobs/eng/backend.md",
        "# backend\n\n## Duties\n\n- backend duty 1\n",
    );
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        out.contains("eng/backend.md") && out.contains("no matching heading"),
        "{out}"
    );

    // A file renamed to a name that is not UTF-8 is named, not skipped in silence.
    use std::os::unix::ffi::OsStrExt as _;
    std::fs::rename(
        world.dir.join("jobs/eng/frontend.md"),
        world
            .dir
            .join(std::ffi::OsStr::from_bytes(b"jobs/eng/fr\xe9ntend.md")),
    )
    .unwrap();
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("its name is not UTF-8"), "{out}");
}
