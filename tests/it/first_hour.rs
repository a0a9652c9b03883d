//! What a new user meets in the first hour (issue 26): failures said where they look,
//! warnings said once, paths that say where they were looked for. Adoption is `adopt`'s.

use serde_json::Value;

use crate::common::{self, World, page_toml};

pub(crate) const PROJECT: &str = "acme/roadmap";

/// The JSON log line `sync finished` of an `apply --log-format json`.
fn closing_line(stderr: &str) -> Value {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "sync finished")
        .unwrap_or_else(|| panic!("no closing line in\n{stderr}"))
}

/// `apply --log-format json`: (exit code, stdout, the closing log line).
async fn apply_logged(world: &World) -> (i32, String, Value, String) {
    let (code, out, err) = world.run(&["--log-format", "json", "apply"]).await;
    let closing = closing_line(&err);
    (code, out, closing, err)
}

/// A token of a user who is no member of the (public) project: GitLab would take the
/// issues and drop their labels, so handbook-sync writes nothing there. The output must
/// not read `[ok]` and "1 to create": the page says FAILED with why, its writes say
/// they never ran, and the closing log line counts the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_a_non_members_token_says_failed_with_the_reason() {
    let mut world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone\n- Keep the roadmap\n",
    );
    let id = world.create_user("stranger", false).await;
    let token = world.create_token(id, &["api"]).await;
    world.env("GITLAB_TOKEN", &token);

    let (code, out, closing, err) = apply_logged(&world).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("page product-manager → acme/roadmap [FAILED: ")
            && first.contains("`stranger` is not a member")
            && first.contains("Planner"),
        "{out}"
    );
    assert!(!out.contains("[ok]"), "{out}");
    assert_eq!(out.matches("[not run]").count(), 2, "{out}");
    assert!(
        out.contains("0 created") && out.contains("2 not run; 1 page not synced"),
        "{out}"
    );
    assert_eq!(closing["failed"], 1, "{closing}");
    assert_eq!(closing["failed_pages"], 1, "{closing}");
    assert_eq!(closing["create"], 0, "{closing}");
    assert!(world.issues(PROJECT).await.is_empty());

    let (code, json, _) = world.run(&["apply", "--format", "json"]).await;
    assert_eq!(code, 1);
    let plan: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["pages"][0]["status"], "failed");
    let results: Vec<&Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["result"])
        .collect();
    assert_eq!(results, [&Value::from("not_run"), &Value::from("not_run")]);
    assert_eq!(plan["summary"]["create"], 0);
}

/// A token GitLab does not know (401) and a project that does not exist or cannot be
/// seen (404): the page fails with GitLab's answer, and the closing line counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_after_a_401_or_a_404_says_failed_with_the_reason() {
    let mut world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    world.env("GITLAB_TOKEN", "not-a-token-gitlab-knows");
    let (code, out, closing, err) = apply_logged(&world).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.starts_with("page product-manager → acme/roadmap [FAILED: ") && out.contains("401"),
        "{out}"
    );
    assert_eq!(closing["failed"], 1, "{closing}");

    let world = World::new(&page_toml("product-manager", "pm.md", "acme/nothing"), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let (code, out, closing, err) = apply_logged(&world).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.starts_with("page product-manager → acme/nothing [FAILED: ") && out.contains("404"),
        "{out}"
    );
    assert_eq!(closing["failed"], 1, "{closing}");
}

/// Token scopes as GitLab checks them (`lib/api/api.rb`: `api` everywhere, `read_api`
/// for `GET` and `HEAD` only; `lib/api/api_guard.rb` answers the rest `403
/// insufficient_scope`): a `read_api` token of a Planner plans in full, and its apply
/// stops at the first refused write, saying which scope is missing, with nothing
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_api_token_plans_and_its_apply_stops_at_the_first_refused_write() {
    let mut world = World::new(&page_toml("product-manager", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone\n- Keep the roadmap\n",
    );
    let id = world.create_user("planner", false).await;
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/members",
            &[("user_id", &id.to_string()), ("access_level", "15")],
        )
        .await;
    let token = world.create_token(id, &["read_api"]).await;

    // The sandbox: reads pass, a write is refused before the project is looked up.
    let url = format!(
        "{}/api/v4/projects/acme%2Froadmap/labels",
        world.sandbox.url
    );
    let read = world
        .http
        .get(&url)
        .header("PRIVATE-TOKEN", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = world
        .http
        .post(&url)
        .header("PRIVATE-TOKEN", &token)
        .form(&[("name", "x"), ("color", "#ffffff")])
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let body: Value = write.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "api read_api");

    world.env("GITLAB_TOKEN", &token);
    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "read_api is enough to plan:\n{out}\n{err}");
    assert!(
        out.contains("2 to create") && !out.contains("warning"),
        "{out}"
    );
    assert_eq!(
        world.stats().await["by_status"]["403"],
        Value::Null,
        "no refusal"
    );

    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("[FAILED: ") && out.contains("lacks the `api` scope"),
        "{out}\n---stderr---\n{err}"
    );
    assert_eq!(out.matches("[not run]").count(), 2, "{out}");
    assert_eq!(
        world.stats().await["by_status"]["403"],
        1,
        "one refused write, then nothing more is sent"
    );
    assert!(world.issues(PROJECT).await.is_empty());
}

fn repo_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The example configuration names nobody real, and a copy whose placeholders were left
/// in is refused, naming the key, before any request.
#[test]
fn the_example_configuration_names_nobody_and_refuses_its_placeholders() {
    let text = std::fs::read_to_string(repo_file("config/handbook-sync.example.toml")).unwrap();
    for real in ["sytses", "\"drew\"", "gitlab-org/"] {
        assert!(!text.contains(real), "the example names {real}");
    }
    let error =
        handbook_sync::config::Config::load(Some(&repo_file("config/handbook-sync.example.toml")))
            .unwrap_err()
            .to_string();
    assert!(
        error.contains(
            "pages[0].owner = \"your-username\" is the example configuration's placeholder"
        ),
        "{error}"
    );
    let filled = text.replace("your-username", "sytses");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), &filled).unwrap();
    let error = handbook_sync::config::Config::load(Some(&dir.path().join("a.toml")))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pages[0].project = \"example-group/roadmap\""),
        "{error}"
    );
    let uncommented = filled
        .replace("example-group/roadmap", "acme/roadmap")
        .replace(
            "# \"Drew\" = \"their-username\"",
            "\"Drew\" = \"their-username\"",
        );
    std::fs::write(dir.path().join("a.toml"), uncommented).unwrap();
    let error = handbook_sync::config::Config::load(Some(&dir.path().join("a.toml")))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("people.\"Drew\" = \"their-username\""),
        "{error}"
    );
}

/// The demo's last step, followed literally in a copy of the checkout's `config/` and
/// `examples/` (the binary under test stands in for `cargo install`): left unedited,
/// the copy is refused with the key to fill in; with url, project and owner set, `plan`
/// finds the page relative to the configuration file and `apply` syncs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_your_turn_works_as_printed_from_the_checkout_root() {
    let world = World::new("", "").await;
    let root = tempfile::tempdir().unwrap();
    for path in [
        "config/handbook-sync.example.toml",
        "examples/handbook/product-manager.md",
    ] {
        let to = root.path().join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo_file(path), to).unwrap();
    }
    let run = |args: Vec<String>, token: Option<String>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"));
        command
            .args(&args)
            .current_dir(root.path())
            .env_remove("RUST_LOG")
            .env_remove("GITLAB_TOKEN");
        if let Some(token) = token {
            command.env("GITLAB_TOKEN", token);
        }
        command.output().unwrap()
    };
    let mut token = None;
    let mut codes = Vec::new();
    let steps = handbook_sync::demo::YOUR_TURN
        .lines()
        .filter_map(|l| l.split("  #").next())
        .map(str::trim)
        .filter(|l| {
            l.starts_with("cargo ")
                || l.starts_with("cp ")
                || l.starts_with("export ")
                || l.starts_with("handbook-sync ")
        });
    for step in steps {
        let words: Vec<String> = step.split_whitespace().map(str::to_owned).collect();
        match words[0].as_str() {
            "cargo" => assert_eq!(step, "cargo install --locked --path ."),
            "cp" => {
                let output = std::process::Command::new("cp")
                    .args(&words[1..])
                    .current_dir(root.path())
                    .output()
                    .unwrap();
                assert!(output.status.success(), "{step}: {output:?}");
                // Unedited, it is refused, and says what to fill in.
                let output = run(vec!["plan".into()], Some(common::TOKEN.into()));
                assert_eq!(output.status.code(), Some(3), "{output:?}");
                assert!(common::stderr(&output).contains("pages[0].owner"));
                // "then set url, project and owner in it"
                let path = root.path().join(&words[2]);
                let text = std::fs::read_to_string(&path).unwrap();
                let edited = text
                    .replace(
                        "url = \"https://gitlab.com\"",
                        &format!("url = \"{}\"", world.sandbox.url),
                    )
                    .replace("example-group/roadmap", PROJECT)
                    .replace("your-username", "sytses");
                assert_ne!(edited, text);
                std::fs::write(path, edited).unwrap();
            }
            "export" => {
                assert!(words[1].starts_with("GITLAB_TOKEN="), "{step}");
                token = Some(common::TOKEN.to_owned());
            }
            _ => {
                let output = run(words[1..].to_vec(), token.clone());
                codes.push(output.status.code());
                assert!(
                    output.status.code() == Some(0) || output.status.code() == Some(2),
                    "{step}:\n{}\n{}",
                    common::stdout(&output),
                    common::stderr(&output)
                );
            }
        }
    }
    assert_eq!(
        codes,
        [Some(2), Some(0), Some(0)],
        "plan found changes, apply made them, roadmap wrote the site"
    );
    assert!(root.path().join("public/index.html").is_file());
    assert_eq!(world.issues(PROJECT).await.len(), 50);
}

/// A page whose source is missing says where it was looked for: the path as resolved,
/// and that it is relative to the configuration file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_page_names_the_resolved_path_and_the_configuration_file() {
    let world = World::new(&page_toml("pm", "../handbook/pm.md", PROJECT), "").await;
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 1, "{out}");
    let config = world.dir.join("config.toml");
    assert!(
        out.contains(&format!(
            "source `../handbook/pm.md` is relative to the configuration file `{}`",
            config.display()
        )) && out.contains(&format!(
            "cannot read page `{}`",
            world.dir.join("../handbook/pm.md").display()
        )) && out.contains("No such file or directory"),
        "{out}"
    );
}

/// Three items owned by a name nobody has: one warning for the page, not three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_items_owned_by_an_unknown_name_warn_once() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "## Duties\n\n- Answer the phone => Somebody New\n- Keep the roadmap => Somebody New\n- Plan => Somebody New\n- Review => drew\n",
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out.matches("unknown person `Somebody New`").count(),
        1,
        "{out}"
    );
    assert!(out.contains("left unassigned (3 items)"), "{out}");
    let (_, json, _) = world.run(&["plan", "--format", "json"]).await;
    let plan: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["pages"][0]["warnings"].as_array().unwrap().len(), 1);
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("warnings").is_none())
    );
}

/// `sync.schedule` in the user's terms: standard cron's macros are accepted, and a value
/// out of range is named with its field in the form written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_takes_macros_and_names_the_field_out_of_range() {
    let page = page_toml("pm", "pm.md", PROJECT);
    let world = World::new(&page, "[sync]\nschedule = \"@hourly\"\n").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "@hourly is accepted:\n{out}\n{err}");
    for (schedule, said) in [
        (
            "61 * * * *",
            "sync.schedule: `61 * * * *`: minute 61 is out of range 0–59",
        ),
        (
            "0 24 * * *",
            "sync.schedule: `0 24 * * *`: hour 24 is out of range 0–23",
        ),
        ("@sometimes", "is not one of @hourly"),
    ] {
        world.write_config(&page, &format!("[sync]\nschedule = \"{schedule}\"\n"));
        let (code, _, err) = world.run(&["plan"]).await;
        assert_eq!(code, 3, "{schedule}: {err}");
        assert!(err.contains(said), "{schedule}: {err}");
    }
}

/// A `gitlab.url` where nothing listens: the first request fails at once, naming the URL,
/// instead of a minute of silent retries. (5 s is a generous bound, not a speed claim.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_url_on_a_closed_port_fails_within_seconds_naming_it() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    // Bound but not listening: connections are refused, and no other test can take the
    // port while it is held.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    let text = std::fs::read_to_string(world.dir.join("config.toml")).unwrap();
    // Retries as the defaults would do them: a minute of backoff if they ran.
    let text = text
        .replace(&world.sandbox.url, &url)
        .replace("retry_initial_delay_ms = 1", "retry_initial_delay_ms = 500");
    std::fs::write(world.dir.join("config.toml"), text).unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = world.run(&["apply"]).await;
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    assert!(
        out.contains(&format!("cannot reach GitLab at {url} (gitlab.url)"))
            && out.contains("onnection refused"),
        "{out}"
    );
    assert!(
        !err.contains("retrying"),
        "no retries before GitLab answered once:\n{err}"
    );
    drop(closed);
}

/// README's "Use it on your GitLab", followed as written in a copy of the checkout's
/// `examples/` (the binary under test stands in for `cargo install`), against the
/// sandbox with a Planner's tokens: `read_api` for `plan`, as it says, `api` for `apply`.
/// Only the placeholders it tells to replace are replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_quick_start_works_as_written() {
    let world = World::new("", "").await;
    let planner = world.create_user("planner", false).await;
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Froadmap/members",
            &[("user_id", &planner.to_string()), ("access_level", "15")],
        )
        .await;
    let read_api = world.create_token(planner, &["read_api"]).await;
    let api = world.create_token(planner, &["api"]).await;
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let section = readme
        .split("\n## Use it on your GitLab\n")
        .nth(1)
        .expect("README has the quick start")
        .split("\n## ")
        .next()
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let page = "examples/handbook/product-manager.md";
    std::fs::create_dir_all(root.path().join("examples/handbook")).unwrap();
    std::fs::copy(repo_file(page), root.path().join(page)).unwrap();
    // The fenced blocks in order, with their language.
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in section.lines().map(str::trim) {
        match (line.strip_prefix("```"), open.take()) {
            (Some(lang), None) => open = Some((lang.to_owned(), String::new())),
            (Some(_), Some(block)) => blocks.push(block),
            (None, Some((lang, mut text))) => {
                text.push_str(line);
                text.push('\n');
                open = Some((lang, text));
            }
            (None, None) => {}
        }
    }
    let mut steps = Vec::new();
    for (lang, text) in &blocks {
        match lang.as_str() {
            "toml" => {
                let path = root.path().join("config/handbook-sync.toml");
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
                let refused = common::run(&["plan", "--config", path.to_str().unwrap()]);
                assert_eq!(
                    refused.status.code(),
                    Some(3),
                    "placeholders left in are refused"
                );
                let filled = text
                    .replace("https://gitlab.com", &world.sandbox.url)
                    .replace("example-group/roadmap", PROJECT)
                    .replace("your-username", "sytses");
                std::fs::write(&path, filled).unwrap();
                steps.push("config".to_owned());
            }
            "sh" => {
                for command in text.lines().filter(|l| !l.is_empty()) {
                    let words: Vec<&str> = command.split_whitespace().collect();
                    match words.as_slice() {
                        ["cargo", "install", "--locked", "--path", "."] => {}
                        ["export", assignment] => {
                            assert!(assignment.starts_with("GITLAB_TOKEN="), "{command}");
                        }
                        ["handbook-sync", args @ ..] => {
                            let token = if args == ["plan"] { &read_api } else { &api };
                            let output =
                                std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
                                    .args(args)
                                    .current_dir(root.path())
                                    .env("GITLAB_TOKEN", token)
                                    .env_remove("RUST_LOG")
                                    .output()
                                    .unwrap();
                            let expected = if args == ["plan"] { 2 } else { 0 };
                            assert_eq!(
                                output.status.code(),
                                Some(expected),
                                "{command}:\n{}\n{}",
                                common::stdout(&output),
                                common::stderr(&output)
                            );
                            steps.push(args.join(" "));
                        }
                        _ => panic!("a step this test does not know how to follow: {command}"),
                    }
                }
            }
            other => panic!("a block in {other:?}: teach this test to follow it"),
        }
    }
    assert_eq!(steps, ["config", "plan", "apply"]);
    assert_eq!(world.issues(PROJECT).await.len(), 50);
}

/// Without `--config` and without a file where it looks, the message names where it
/// looked, resolved.
#[test]
fn a_missing_configuration_names_where_it_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .arg("plan")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = common::stderr(&output);
    let looked = std::path::absolute(dir.path().join("config/handbook-sync.toml")).unwrap();
    assert!(err.contains(&looked.display().to_string()), "{err}");
}
