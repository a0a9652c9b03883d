//! `[[discover]]` end to end: `plan`/`apply` as processes against the sandbox, pages
//! found by pattern in a directory and in a GitLab repository tree, only the sections
//! that hold responsibilities, pages that appear (next run, push hook) and vanish
//! (refused with exit 4; closed, named, with `--allow-removed-pages`). A GitLab repository
//! tree and the daemon's push hook are `discover_repository`'s.

use crate::common;

use common::{TOKEN, World};
use serde_json::Value;

/// Three roadmap projects, one per job family directory, each with the users as
/// developers; `acme/handbook` holds the handbook's repository.
pub(crate) fn sandbox_config() -> gitlab_sandbox::Config {
    let projects = [
        "roadmaps/engineering",
        "roadmaps/sales",
        "roadmaps/people",
        "acme/handbook",
    ];
    let users = ["sytses", "drew", "ashley"];
    gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: projects
            .iter()
            .map(|p| (p.to_string(), "public".into()))
            .collect(),
        users: users
            .iter()
            .map(|u| (u.to_string(), u.to_string()))
            .collect(),
        members: projects
            .iter()
            .flat_map(|p| {
                users
                    .iter()
                    .map(move |u| (p.to_string(), u.to_string(), 30))
            })
            .collect(),
        state_file: None,
        tier: gitlab_sandbox::Tier::Free,
        ..Default::default()
    }
}

/// A job-family page: responsibilities beside requirements.
pub(crate) fn job_page(title: &str, owner: Option<&str>) -> String {
    let front = owner.map_or(String::new(), |o| format!("---\nowner: {o}\n---\n"));
    format!(
        "{front}# {title}\n\n## Responsibilities\n\n- Own the {title} roadmap\n- Review the {title} backlog\n\n## Requirements\n\n- Five years as {title}\n"
    )
}

/// The `[[discover]]` block of the tests: `job-families/**/*.md` below `source`, pages
/// with a Responsibilities heading, one roadmap project per directory.
pub(crate) fn discover_toml(source: &str) -> String {
    format!(
        r#"[[discover]]
name = "job-families"
source = "{source}"
include = ["**/*.md"]
exclude = ["**/_*.md"]
require_heading = "Responsibilities"
sections = ["Responsibilities"]
id = "job-{{name}}"
project = "roadmaps/{{dir}}"
owner = "{{front_matter.owner|sytses}}"
url = "https://handbook.example.com/job-families/{{dir}}/{{name}}/"
board = false
"#
    )
}

/// 20 Markdown files: 15 job families in three directories, 3 pages without a
/// Responsibilities heading, and 2 drafts the exclude pattern leaves out.
fn twenty_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (dir, roles) in [
        (
            "engineering",
            ["backend", "frontend", "security", "sre", "qa"],
        ),
        (
            "sales",
            [
                "account-executive",
                "sdr",
                "solutions",
                "renewals",
                "partners",
            ],
        ),
        (
            "people",
            [
                "recruiter",
                "people-partner",
                "total-rewards",
                "l-and-d",
                "ops",
            ],
        ),
    ] {
        for (i, role) in roles.iter().enumerate() {
            let owner = (i == 0).then_some("drew");
            files.push((format!("{dir}/{role}.md"), job_page(role, owner)));
        }
    }
    for name in [
        "engineering/handbook-usage.md",
        "sales/glossary.md",
        "people/faq.md",
    ] {
        files.push((
            name.into(),
            "# Notes\n\n## Requirements\n\n- Not a role\n".into(),
        ));
    }
    for name in ["engineering/_template.md", "sales/_draft.md"] {
        files.push((name.into(), job_page("draft", None)));
    }
    files
}

fn write_files(world: &World, root: &str, files: &[(String, String)]) {
    for (path, text) in files {
        let path = world.dir.join(root).join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Open issues of `project` by title.
pub(crate) async fn open_titles(world: &World, project: &str) -> Vec<String> {
    let mut titles: Vec<String> = world
        .issues(project)
        .await
        .iter()
        .filter(|i| i["state"] == "opened")
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

/// The marker's page ids of `project`'s issues with `state`.
pub(crate) async fn pages_of(
    world: &World,
    project: &str,
    state: &str,
) -> std::collections::BTreeSet<String> {
    world
        .issues(project)
        .await
        .iter()
        .filter(|i| i["state"] == state)
        .filter_map(|i| {
            i["labels"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .find_map(|l| l.strip_prefix("handbook::").map(str::to_owned))
        })
        .collect()
}

#[tokio::test]
async fn a_directory_of_twenty_files_gives_its_fifteen_job_families_with_templated_ids_and_projects()
 {
    let world = World::with_sandbox(&discover_toml("handbook/job-families"), "", |c| {
        *c = sandbox_config()
    })
    .await;
    write_files(&world, "handbook/job-families", &twenty_files());
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "changes to make:\n{out}\n{err}");
    assert!(out.contains("job-backend"), "{out}");
    world.apply_ok().await;
    for (project, roles) in [
        (
            "roadmaps/engineering",
            ["backend", "frontend", "security", "sre", "qa"],
        ),
        (
            "roadmaps/sales",
            [
                "account-executive",
                "sdr",
                "solutions",
                "renewals",
                "partners",
            ],
        ),
        (
            "roadmaps/people",
            [
                "recruiter",
                "people-partner",
                "total-rewards",
                "l-and-d",
                "ops",
            ],
        ),
    ] {
        let pages = pages_of(&world, project, "opened").await;
        let expected: std::collections::BTreeSet<String> =
            roles.iter().map(|r| format!("job-{r}")).collect();
        assert_eq!(pages, expected, "{project}");
        let issues = world.issues(project).await;
        assert_eq!(
            issues.len(),
            10,
            "two responsibilities per page, no requirement"
        );
        for issue in &issues {
            let labels: Vec<&str> = issue["labels"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                labels.contains(&"handbook-discover::job-families"),
                "{labels:?}"
            );
            assert!(labels.contains(&"section::Responsibilities"), "{labels:?}");
            let description = issue["description"].as_str().unwrap();
            let role = labels
                .iter()
                .find_map(|l| l.strip_prefix("handbook::job-"))
                .unwrap();
            let dir = project.trim_start_matches("roadmaps/");
            assert!(
                description.contains(&format!(
                    "https://handbook.example.com/job-families/{dir}/{role}/#responsibilities"
                )),
                "{description}"
            );
        }
        // The owner comes from the front matter where there is one.
        let first = format!("Own the {} roadmap", roles[0]);
        let owned = issues
            .iter()
            .find(|i| i["title"] == first.as_str())
            .unwrap();
        assert_eq!(owned["assignees"][0]["username"], "drew");
        let second = format!("Own the {} roadmap", roles[1]);
        let default = issues
            .iter()
            .find(|i| i["title"] == second.as_str())
            .unwrap();
        assert_eq!(default["assignees"][0]["username"], "sytses");
    }
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "a second run has nothing to do:\n{out}");
    assert!(
        out.starts_with("project roadmaps/engineering: 5 page(s), nothing to do\n"),
        "{out}"
    );
    let (code, out, err) = world.run(&["status"]).await;
    assert_eq!(code, 0, "{err}");
    for project in ["engineering", "sales", "people"] {
        assert!(
            out.contains(&format!(
                "project roadmaps/{project}: 5 page(s), 0 of 10 done (0%), 10 open\n"
            )),
            "{out}"
        );
    }
    let engineering = out.find("project roadmaps/engineering").unwrap();
    let sales = out.find("project roadmaps/sales").unwrap();
    let backend = out.find("job-backend → roadmaps/engineering").unwrap();
    assert!(engineering < backend && backend < sales, "{out}");
}

/// A real job-family page (GitLab's Application Security Engineer, from the test corpus):
/// its general, per-level and per-specialty responsibilities become issues; its
/// requirements, levels' job grades and performance indicators do not.
#[tokio::test]
async fn a_job_family_page_gives_issues_for_its_responsibilities_only() {
    let page = std::fs::read_to_string(common::data_dir().join(
        "corpus/gitlab-www-2022/sites__uncategorized__source__job-families__engineering__application-security__index.html.md",
    ))
    .unwrap();
    let block = discover_toml("jobs").replace(
        "sections = [\"Responsibilities\"]",
        "sections = [\"Responsibilities\", \"* Responsibilities\"]",
    );
    let world = World::with_sandbox(&block, "", |c| *c = sandbox_config()).await;
    write_files(
        &world,
        "jobs",
        &[("engineering/application-security.md".into(), page)],
    );
    world.apply_ok().await;
    let issues = world.issues("roadmaps/engineering").await;
    let titles: Vec<&str> = issues
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Perform security-focused code reviews",
        "Hire and oversee a world-class team of application security engineers.",
        "Work with and triage security reports from US government organizations and associated contractors.",
    ] {
        assert!(titles.contains(&wanted), "{wanted} missing from {titles:?}");
    }
    for unwanted in ["Ability to use GitLab.", "Must be a United States citizen."] {
        assert!(
            !titles.contains(&unwanted),
            "{unwanted} is a requirement: {titles:?}"
        );
    }
    for issue in &issues {
        let section = issue["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find_map(|l| l.strip_prefix("section::"))
            .unwrap();
        assert!(section.ends_with("Responsibilities"), "{section}");
    }
}

#[tokio::test]
async fn a_new_file_gets_its_issues_on_the_next_run_and_a_deleted_one_is_refused_until_allowed() {
    let world = World::with_sandbox(&discover_toml("jobs"), "", |c| *c = sandbox_config()).await;
    write_files(
        &world,
        "jobs",
        &[("sales/sdr.md".into(), job_page("sdr", None))],
    );
    world.apply_ok().await;
    write_files(
        &world,
        "jobs",
        &[("sales/renewals.md".into(), job_page("renewals", None))],
    );
    world.apply_ok().await;
    assert_eq!(
        open_titles(&world, "roadmaps/sales").await,
        [
            "Own the renewals roadmap",
            "Own the sdr roadmap",
            "Review the renewals backlog",
            "Review the sdr backlog",
        ]
    );

    std::fs::remove_file(world.dir.join("jobs/sales/sdr.md")).unwrap();
    for command in ["plan", "apply"] {
        let (code, out, err) = world.run(&[command]).await;
        assert_eq!(code, 4, "{command} refuses:\n{out}\n{err}");
        assert!(out.contains("page job-sdr"), "{out}");
        assert!(
            out.contains("REFUSED") && out.contains("--allow-removed-pages"),
            "{out}"
        );
    }
    assert_eq!(
        open_titles(&world, "roadmaps/sales").await.len(),
        4,
        "nothing closed"
    );

    let (code, out, err) = world.run(&["apply", "--allow-removed-pages"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        open_titles(&world, "roadmaps/sales").await,
        ["Own the renewals roadmap", "Review the renewals backlog"]
    );
    for issue in world.issues("roadmaps/sales").await {
        if issue["state"] == "closed" {
            let description = issue["description"].as_str().unwrap();
            assert!(
                description.contains("its page `job-sdr` is no longer in the handbook"),
                "{description}"
            );
        }
    }
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "closed once, the page is gone for good:\n{out}");
}

/// A template that gives an unusable id, and one that names a project that does not
/// exist: each page is reported (exit 1) with what is wrong, and the others sync.
#[tokio::test]
async fn a_bad_id_or_a_missing_project_is_reported_and_the_other_pages_sync() {
    let block = discover_toml("jobs").replace("id = \"job-{name}\"", "id = \"job-{stem}\"");
    let world = World::with_sandbox(&block, "", |c| *c = sandbox_config()).await;
    write_files(
        &world,
        "jobs",
        &[
            ("engineering/backend.md".into(), job_page("backend", None)),
            (
                "engineering/Site Reliability.md".into(),
                job_page("sre", None),
            ),
            ("design/ux.md".into(), job_page("ux", None)),
        ],
    );
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("`engineering/Site Reliability.md`: id template `job-{stem}`: gives `job-Site Reliability`"),
        "{out}"
    );
    assert!(
        out.contains("page job-ux → roadmaps/design [FAILED: "),
        "{out}"
    );
    assert!(out.contains("404"), "{out}");
    assert_eq!(open_titles(&world, "roadmaps/engineering").await.len(), 2);
}

/// The `[[discover]]` examples of the README and of the example configuration load: what
/// the documentation shows is a configuration handbook-sync accepts.
#[test]
fn the_documented_discover_examples_are_valid_configurations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## A whole handbook: `[[discover]]`")
        .nth(1)
        .expect("the README documents discovery");
    let readme_block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("with a TOML example")
        .to_owned();
    let example = std::fs::read_to_string(root.join("config/handbook-sync.example.toml")).unwrap();
    let commented: String = example
        .lines()
        .skip_while(|l| *l != "# [[discover]]")
        .take_while(|l| *l != "#")
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start_matches(' ')))
        .collect();
    assert!(commented.starts_with("[[discover]]"), "{commented}");
    for block in [readme_block, commented] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("handbook-sync.toml");
        // As written, its placeholder owner is refused; filled in, it loads.
        std::fs::write(&path, &block).unwrap();
        let refused = handbook_sync::config::Config::load(Some(&path)).unwrap_err();
        assert!(refused.to_string().contains("placeholder"), "{refused}");
        let block = block
            .replace("your-username", "sytses")
            .replace("their-username", "sytses");
        std::fs::write(&path, &block).unwrap();
        let config = handbook_sync::config::Config::load(Some(&path))
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
        assert_eq!(config.discover.len(), 1);
        assert_eq!(config.discover[0].name, "job-families");
    }
}

/// A file moved to another directory whose id template still gives its id keeps its
/// issues: nothing is created, nothing closed, nothing refused.
#[tokio::test]
async fn a_renamed_file_with_the_same_id_keeps_its_issues() {
    let block = discover_toml("jobs")
        .replace(
            "project = \"roadmaps/{dir}\"",
            "project = \"roadmaps/sales\"",
        )
        .replace(
            "url = \"https://handbook.example.com/job-families/{dir}/{name}/\"\n",
            "",
        );
    let world = World::with_sandbox(&block, "", |c| *c = sandbox_config()).await;
    write_files(
        &world,
        "jobs",
        &[("sales/sdr.md".into(), job_page("sdr", None))],
    );
    world.apply_ok().await;
    let before = world.issues("roadmaps/sales").await;
    std::fs::remove_file(world.dir.join("jobs/sales/sdr.md")).unwrap();
    write_files(
        &world,
        "jobs",
        &[("sales/sdr/index.md".into(), job_page("sdr", None))],
    );
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 created, 0 updated, 0 closed"), "{out}");
    assert_eq!(world.issues("roadmaps/sales").await, before);
}

/// Every page of a block whose pages share one project is gone (the directory emptied
/// but for a file that is no page; a listing with no file at all is taken as incomplete,
/// see `discover_attacks`): no page of the handbook writes to the project any more, and
/// its pages are found and refused all the same.
#[tokio::test]
async fn an_emptied_directory_is_refused_naming_every_page() {
    let block = discover_toml("jobs").replace(
        "project = \"roadmaps/{dir}\"",
        "project = \"roadmaps/sales\"",
    );
    let world = World::with_sandbox(&block, "", |c| *c = sandbox_config()).await;
    write_files(
        &world,
        "jobs",
        &[
            ("sales/sdr.md".into(), job_page("sdr", None)),
            ("sales/renewals.md".into(), job_page("renewals", None)),
        ],
    );
    world.apply_ok().await;
    std::fs::remove_dir_all(world.dir.join("jobs/sales")).unwrap();
    write_files(
        &world,
        "jobs",
        &[(
            "glossary.md".into(),
            "# Notes\n\n## Requirements\n\n- Not a role\n".into(),
        )],
    );
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 4, "{out}\n{err}");
    for page in ["job-sdr", "job-renewals"] {
        assert!(
            out.contains(&format!("page {page} → roadmaps/sales [REFUSED: ")),
            "{out}"
        );
    }
    assert_eq!(open_titles(&world, "roadmaps/sales").await.len(), 4);
}
