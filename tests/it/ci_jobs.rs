//! The CI template's and the CI/CD component's job scripts, run as GitLab Runner would
//! (bash for the template, the image's `sh` for the component) with the variables of a
//! merge request pipeline and of a default-branch pipeline, against the sandbox: the plan
//! note on the merge request, `apply` after the merge, a Guest plan token, a tracker on
//! another GitLab.

use crate::common;
use crate::merge_request_note::{
    BRANCH_PAGE, HANDBOOK, MAIN_PAGE, PAGE, checkout, commit, notes, row,
};

use std::path::Path;

use common::{Rest, World, page_toml};
use reqwest::{Method, StatusCode};

/// A GitLab CI file whose jobs the tests run as GitLab Runner would: the include
/// template, or the CI/CD component with its inputs interpolated.
pub(crate) struct Ci {
    /// The jobs' YAML, after a component's `$[[ inputs.* ]]` are replaced.
    yaml: String,
    /// The shell the runner starts in the job's image: bash, or the published image's
    /// BusyBox `sh` (POSIX only: `sh` here is dash on Debian).
    shell: &'static str,
    /// The CI/CD variables that hold the plan and the apply token.
    plan_token: String,
    apply_token: String,
    /// The job that writes the roadmap for GitLab Pages.
    pages_job: &'static str,
}

impl Ci {
    /// `deploy/gitlab-ci/handbook-sync.gitlab-ci.yml`, in bash.
    pub(crate) fn template() -> Ci {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/gitlab-ci/handbook-sync.gitlab-ci.yml");
        Ci {
            yaml: std::fs::read_to_string(path).unwrap(),
            shell: "bash",
            plan_token: "HANDBOOK_SYNC_PLAN_TOKEN".into(),
            apply_token: "HANDBOOK_SYNC_APPLY_TOKEN".into(),
            // Hidden: a project turns it on with a job `pages` that extends it.
            pages_job: ".handbook-sync:pages",
        }
    }

    /// `templates/handbook-sync.yml` as `include: component:` with `inputs` (the others
    /// at their defaults) makes it: each `$[[ inputs.NAME ]]` replaced by the value, as
    /// GitLab interpolates a string or boolean input. Run in `sh`.
    pub(crate) fn component(inputs: &[(&str, &str)]) -> Ci {
        use yaml_rust2::YamlLoader;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/handbook-sync.yml");
        let text = std::fs::read_to_string(path).unwrap();
        let (header, jobs) = text.split_once("\n---\n").expect("spec, ---, jobs");
        let spec = &YamlLoader::load_from_str(header).unwrap()[0]["spec"]["inputs"];
        let mut values = std::collections::BTreeMap::new();
        for (name, input) in spec.as_hash().unwrap() {
            let default = match &input["default"] {
                yaml_rust2::Yaml::Boolean(b) => b.to_string(),
                other => other
                    .as_str()
                    .expect("a default for every input")
                    .to_owned(),
            };
            values.insert(name.as_str().unwrap().to_owned(), default);
        }
        for (name, value) in inputs {
            assert!(
                values.contains_key(*name),
                "the component has no input {name}"
            );
            values.insert((*name).to_owned(), (*value).to_owned());
        }
        let mut yaml = jobs.to_owned();
        for (name, value) in &values {
            yaml = yaml.replace(&format!("$[[ inputs.{name} ]]"), value);
        }
        assert!(
            !yaml.contains("$[["),
            "an input the spec does not declare:\n{yaml}"
        );
        Ci {
            yaml,
            shell: "sh",
            plan_token: values["plan_token_variable"].clone(),
            apply_token: values["apply_token_variable"].clone(),
            pages_job: "handbook-sync:pages",
        }
    }

    /// The shell lines GitLab Runner would run for `job`: the `before_script` of the job
    /// it `extends`, then its `script`; and the file's global `variables`.
    fn job(&self, job: &str) -> (String, Vec<(String, String)>) {
        use yaml_rust2::{Yaml, YamlLoader};
        let docs = YamlLoader::load_from_str(&self.yaml).unwrap();
        let doc = &docs[0];
        let lines = |v: &Yaml| -> Vec<String> {
            v.as_vec()
                .map(|l| l.iter().map(|l| l.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let spec = &doc[job];
        let base = &doc[spec["extends"].as_str().expect("the job extends the base")];
        let mut script = lines(&base["before_script"]);
        script.extend(lines(&spec["script"]));
        let variables = doc["variables"]
            .as_hash()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().unwrap().to_owned(),
                            v.as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (script.join("\n"), variables)
    }

    /// Runs `job` in `dir` (the checkout) as GitLab Runner's shell does (`set -e`, one
    /// shell for all lines), with `ci` as the predefined variables, both tokens in their
    /// variables and `handbook-sync` on `PATH`; returns the exit code and the output.
    pub(crate) async fn run(&self, job: &str, dir: &Path, ci: &[(&str, String)]) -> (i32, String) {
        let (script, variables) = self.job(job);
        let bin = dir.join(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        let _ = std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_handbook-sync"),
            bin.join("handbook-sync"),
        );
        let set = if self.shell == "bash" {
            "set -eo pipefail"
        } else {
            "set -e"
        };
        let mut command = std::process::Command::new(self.shell);
        command
            .arg("-c")
            .arg(format!("{set}\n{script}"))
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .envs(variables)
            .env("CI", "true")
            .env("CI_PROJECT_DIR", dir)
            .env(&self.plan_token, common::TOKEN)
            .env(&self.apply_token, common::TOKEN)
            .env_remove("GITLAB_TOKEN");
        for (k, v) in ci {
            command.env(k, v);
        }
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let text = format!("{}\n{}", common::stdout(&output), common::stderr(&output));
        (output.status.code().unwrap_or(-1), text)
    }
}

/// Runs a job of the CI template (see [`Ci::run`]).
async fn run_job(job: &str, dir: &Path, ci: &[(&str, String)]) -> (i32, String) {
    Ci::template().run(job, dir, ci).await
}

/// The template's jobs, as a merge request pipeline and a default-branch pipeline run
/// them: the configuration's `gitlab.url` is not the sandbox's, so the jobs reach it only
/// through `CI_API_V4_URL`, as a job on the handbook's own GitLab would.
#[tokio::test]
async fn the_ci_template_plans_on_a_merge_request_and_applies_on_main() {
    plans_on_a_merge_request_and_applies_on_main(&Ci::template()).await;
}

/// The same with the CI/CD component, in `sh`, its tokens in variables of other names.
#[tokio::test]
async fn the_ci_component_plans_on_a_merge_request_and_applies_on_main() {
    let ci = Ci::component(&[
        ("plan_token_variable", "ROADMAP_READ_TOKEN"),
        ("apply_token_variable", "ROADMAP_WRITE_TOKEN"),
    ]);
    plans_on_a_merge_request_and_applies_on_main(&ci).await;
}

async fn plans_on_a_merge_request_and_applies_on_main(ci: &Ci) {
    let world = World::new("", "").await;
    let api = Rest::new(&world.sandbox.url);
    let checkout_dir = world.dir.join("checkout");
    std::fs::create_dir_all(&checkout_dir).unwrap();
    std::fs::write(
        checkout_dir.join("handbook-sync.toml"),
        format!(
            "[gitlab]\nurl = \"https://gitlab.invalid\"\nretry_initial_delay_ms = 1\n\n[people]\n\"Drew\" = \"drew\"\n\n{}",
            page_toml("product-manager", PAGE, "acme/roadmap")
        ),
    )
    .unwrap();
    commit(&api, "main", "The PM page", "create", MAIN_PAGE).await;
    let api_url = format!("{}/api/v4", world.sandbox.url);
    let on_main = [
        ("CI_PIPELINE_SOURCE", "push".to_owned()),
        ("CI_COMMIT_BRANCH", "main".to_owned()),
        ("CI_DEFAULT_BRANCH", "main".to_owned()),
        ("CI_API_V4_URL", api_url.clone()),
    ];
    checkout(&api, &checkout_dir, "main").await;
    let (code, out) = ci.run("handbook-sync:apply", &checkout_dir, &on_main).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(world.issues("acme/roadmap").await.len(), 3);

    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/repository/branches"),
            &[("branch", "hand-over"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    commit(
        &api,
        "hand-over",
        "Hand CF Tile to Drew",
        "update",
        BRANCH_PAGE,
    )
    .await;
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/merge_requests"),
            &[
                ("source_branch", "hand-over"),
                ("target_branch", "main"),
                ("title", "Hand over"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let in_merge_request = [
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", "1".to_owned()),
        ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/other".to_owned()),
        (
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "hand-over".to_owned(),
        ),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".to_owned()),
        ("CI_API_V4_URL", api_url.clone()),
        ("CI_COMMIT_SHORT_SHA", "0123abcd".to_owned()),
    ];
    checkout(&api, &checkout_dir, "hand-over").await;
    for _ in 0..2 {
        let (code, out) = ci
            .run("handbook-sync:plan", &checkout_dir, &in_merge_request)
            .await;
        assert_eq!(code, 0, "changes to make still pass the job:\n{out}");
    }
    let all = notes(&api).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let body = all[0]["body"].as_str().unwrap();
    assert!(
        row(body, "Maintain CF Tile").contains("`@sytses → @drew`"),
        "{body}"
    );
    assert!(
        body.contains("### handbook-sync plan at 0123abcd\n"),
        "{body}"
    );

    let (status, _) = api
        .form(
            Method::PUT,
            &format!("{HANDBOOK}/merge_requests/1/merge"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    checkout(&api, &checkout_dir, "main").await;
    let (code, out) = ci.run("handbook-sync:apply", &checkout_dir, &on_main).await;
    assert_eq!(code, 0, "{out}");
    let issues = world.issues("acme/roadmap").await;
    let tile = issues
        .iter()
        .find(|i| i["title"] == "Maintain CF Tile")
        .unwrap();
    assert_eq!(
        (
            tile["state"].as_str(),
            tile["assignees"][0]["username"].as_str()
        ),
        (Some("closed"), Some("drew"))
    );

    // The Pages job writes the public roadmap from the tracker as apply left it.
    let (code, out) = ci.run(ci.pages_job, &checkout_dir, &on_main).await;
    assert_eq!(code, 0, "{out}");
    let roadmap = std::fs::read_to_string(checkout_dir.join("public/roadmap.json")).unwrap();
    assert!(roadmap.contains("\"product-manager\""), "{roadmap}");
    assert!(checkout_dir.join("public/index.html").is_file());

    // A token the instance refuses fails the plan job: no silent stale note.
    let mut bad = in_merge_request.to_vec();
    bad.push((ci.plan_token.as_str(), "wrong".to_owned()));
    let (code, out) = ci.run("handbook-sync:plan", &checkout_dir, &bad).await;
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains(common::TOKEN));
}

/// The handbook project with the PM page on `main`, and a checkout of it whose
/// configuration points at an unreachable `gitlab.url` (the jobs reach GitLab only
/// through the CI variables).
async fn handbook_on_main(world: &World) -> (Rest, std::path::PathBuf) {
    let api = Rest::new(&world.sandbox.url);
    let checkout_dir = world.dir.join("checkout");
    std::fs::create_dir_all(&checkout_dir).unwrap();
    std::fs::write(
        checkout_dir.join("handbook-sync.toml"),
        format!(
            "[gitlab]\nurl = \"https://gitlab.invalid\"\nretry_initial_delay_ms = 1\n\n{}",
            page_toml("product-manager", PAGE, "acme/roadmap")
        ),
    )
    .unwrap();
    commit(&api, "main", "The PM page", "create", MAIN_PAGE).await;
    (api, checkout_dir)
}

/// Branch `first` with the bullet struck and one added, merge request !1 from it into
/// `main`, and the checkout on `first`, as a merge request pipeline has it.
async fn open_merge_request(api: &Rest, checkout_dir: &Path) {
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/repository/branches"),
            &[("branch", "first"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    commit(api, "first", "More", "update", BRANCH_PAGE).await;
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{HANDBOOK}/merge_requests"),
            &[
                ("source_branch", "first"),
                ("target_branch", "main"),
                ("title", "First"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    checkout(api, checkout_dir, "first").await;
}

/// The component with `merge_request_note: false`: the plan job shows the plan in its
/// log only, posts nothing, and still passes on changes to make.
#[tokio::test]
async fn the_component_without_the_note_leaves_the_merge_request_alone() {
    let world = World::new("", "").await;
    let (api, checkout_dir) = handbook_on_main(&world).await;
    open_merge_request(&api, &checkout_dir).await;
    let in_merge_request = [
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", "1".to_owned()),
        ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/other".to_owned()),
        ("CI_API_V4_URL", format!("{}/api/v4", world.sandbox.url)),
    ];
    let ci = Ci::component(&[("merge_request_note", "false")]);
    let (code, out) = ci
        .run("handbook-sync:plan", &checkout_dir, &in_merge_request)
        .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Do regular feature highlights"), "{out}");
    assert!(notes(&api).await.is_empty());
    assert!(world.issues("acme/roadmap").await.is_empty());
}

/// The template says the plan token may be a Guest on the roadmap project (it reads the
/// tracker, and cannot set labels or assignees there): the plan job runs with such a
/// token, shows what apply would do, says that apply would be refused with this token,
/// and passes. Only `apply` enforces the role (`app/policies/project_policy.rb`:
/// `planner_access` enables `set_issue_metadata`). The token is Reporter on the handbook
/// project, as the template asks, to comment on its merge requests.
#[tokio::test]
async fn a_guest_plan_token_plans_and_says_apply_would_be_refused() {
    let world = World::new("", "").await;
    let (api, checkout_dir) = handbook_on_main(&world).await;
    let id = world.create_user("plan-bot", false).await;
    let guest_token = world.create_token(id, &["api"]).await;
    let id = id.to_string();
    for (project, level) in [("acme%2Froadmap", "10"), ("acme%2Fother", "20")] {
        world
            .api(
                Method::POST,
                &format!("/projects/{project}/members"),
                &[("user_id", id.as_str()), ("access_level", level)],
            )
            .await;
    }
    open_merge_request(&api, &checkout_dir).await;
    let in_merge_request = [
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", "1".to_owned()),
        ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/other".to_owned()),
        ("CI_API_V4_URL", format!("{}/api/v4", world.sandbox.url)),
        ("HANDBOOK_SYNC_PLAN_TOKEN", guest_token.clone()),
    ];
    let (code, out) = run_job("handbook-sync:plan", &checkout_dir, &in_merge_request).await;
    assert_eq!(code, 0, "a Guest plan token passes the plan job:\n{out}");
    assert!(!out.contains(&guest_token), "{out}");
    let all = notes(&api).await;
    let body = all[0]["body"].as_str().unwrap();
    assert!(
        row(body, "Do regular feature highlights").contains("create"),
        "{body}"
    );
    for words in [
        "apply would write nothing",
        "plan-bot",
        "Guest (10)",
        "Planner",
    ] {
        assert!(body.contains(words), "{words:?} in\n{body}");
    }
    assert!(
        world.issues("acme/roadmap").await.is_empty(),
        "plan writes nothing"
    );
}

/// With the tracker on another GitLab (`HANDBOOK_SYNC__GITLAB__URL`), the note still goes
/// to the merge request on the GitLab the pipeline runs on (`CI_API_V4_URL`), and never
/// with the tracker's token: without `HANDBOOK_SYNC_NOTE_TOKEN` the job fails before
/// sending anything there; with it, the note is posted and the tracker's token never
/// reaches the handbook's GitLab (no `401` there).
#[tokio::test]
async fn with_the_tracker_on_another_gitlab_the_note_needs_a_token_of_the_handbooks() {
    let world = World::new("", "").await;
    let tracker = World::new("", "").await;
    let (api, checkout_dir) = handbook_on_main(&world).await;
    open_merge_request(&api, &checkout_dir).await;

    // A token that exists only on the tracker's GitLab.
    let id = tracker.create_user("tracker-bot", false).await;
    let tracker_token = tracker.create_token(id, &["api"]).await;
    let mut in_merge_request = vec![
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_MERGE_REQUEST_IID", "1".to_owned()),
        ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/other".to_owned()),
        ("CI_API_V4_URL", format!("{}/api/v4", world.sandbox.url)),
        ("HANDBOOK_SYNC__GITLAB__URL", tracker.sandbox.url.clone()),
        ("HANDBOOK_SYNC_PLAN_TOKEN", tracker_token.clone()),
    ];

    world.reset_stats().await;
    tracker.reset_stats().await;
    let (code, out) = run_job("handbook-sync:plan", &checkout_dir, &in_merge_request).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("set HANDBOOK_SYNC_NOTE_TOKEN"), "{out}");
    assert!(!out.contains(&tracker_token), "{out}");
    for (gitlab, name) in [(&world, "handbook's"), (&tracker, "tracker's")] {
        assert_eq!(
            gitlab.stats().await["total"],
            0,
            "the job fails before any request to the {name} GitLab"
        );
    }

    in_merge_request.push(("HANDBOOK_SYNC_NOTE_TOKEN", common::TOKEN.to_owned()));
    let (code, out) = run_job("handbook-sync:plan", &checkout_dir, &in_merge_request).await;
    assert_eq!(code, 0, "{out}");
    let all = notes(&api).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let body = all[0]["body"].as_str().unwrap();
    assert!(
        row(body, "Do regular feature highlights").contains("create"),
        "the plan is of the tracker's GitLab: {body}"
    );
    assert!(tracker.issues("acme/roadmap").await.is_empty());

    // The tracker on the pipeline's own GitLab: the note goes with the tracker's token,
    // and a `HANDBOOK_SYNC_NOTE_TOKEN` (here one GitLab refuses) is not used, so the
    // note keeps its author and is edited, not doubled.
    let same = [
        ("HANDBOOK_SYNC__GITLAB__URL", world.sandbox.url.clone()),
        ("HANDBOOK_SYNC_PLAN_TOKEN", common::TOKEN.to_owned()),
        ("HANDBOOK_SYNC_NOTE_TOKEN", "glpat-refused".to_owned()),
    ];
    let mut on_one_gitlab: Vec<_> = in_merge_request
        .iter()
        .filter(|(k, _)| !same.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    on_one_gitlab.extend(same);
    let (code, out) = run_job("handbook-sync:plan", &checkout_dir, &on_one_gitlab).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(notes(&api).await.len(), 1);
}
