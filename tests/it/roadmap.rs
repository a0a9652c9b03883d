//! `handbook-sync roadmap` as a process against the sandbox after the seed sync: the
//! site, its numbers against `status --format json` (also a process), the private-project
//! guard, hostile page text, stale files. The daemon's `/roadmap/` is `roadmap_daemon`'s.

use crate::common;

use std::path::Path;

use common::{TOKEN, World, page_toml, pm_page};
use serde_json::Value;

pub(crate) const PM: &str = "product-manager";

async fn seeded() -> World {
    let world = World::new(&page_toml(PM, "pm.md", "acme/roadmap"), "").await;
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    world
}

/// `roadmap --out DIR`: (exit code, stdout, stderr).
async fn roadmap(world: &World, dir: &Path) -> (i32, String, String) {
    world
        .run(&["roadmap", "--out", dir.to_str().unwrap()])
        .await
}

pub(crate) async fn status_json(world: &World) -> Value {
    let (code, out, err) = world.run(&["status", "--format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The roadmap's page counters under `status`'s keys, and its sections' by name.
pub(crate) fn assert_counts_equal(roadmap: &Value, status: &Value) {
    for key in ["id", "project", "total", "open", "closed", "handed_over"] {
        assert_eq!(roadmap[key], status[key], "{key}");
    }
    let by_name = |v: &Value| -> Vec<(String, Value)> {
        let mut sections: Vec<(String, Value)> = v["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let counts: serde_json::Map<String, Value> = ["name", "total", "open", "closed"]
                    .iter()
                    .map(|k| (k.to_string(), s[k].clone()))
                    .collect();
                (
                    s["name"].as_str().unwrap().to_owned(),
                    Value::Object(counts),
                )
            })
            .collect();
        sections.sort_by(|a, b| a.0.cmp(&b.0));
        sections
    };
    assert_eq!(by_name(roadmap), by_name(status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_seed_sync_the_roadmap_links_every_responsibility_and_equals_status() {
    let world = seeded().await;
    let site = world.dir.join("site");
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.trim_end()
            .ends_with(&site.join("index.html").display().to_string()),
        "the last line names the index: {out}"
    );
    let status = status_json(&world).await;

    let json: Value = serde_json::from_str(&read(&site.join("roadmap.json"))).unwrap();
    let pages = json["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_counts_equal(page, &status["pages"][0]);
    assert_eq!(page["title"], "Product Manager Responsibilities and Tasks");
    assert_eq!(page["file"], "pages/product-manager.html");
    let sections = page["sections"].as_array().unwrap();
    let names: Vec<&str> = sections
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Development direction",
            "Public information",
            "Customer relations",
            "Marketing",
            "Internal",
            "Things I'm doing that I shouldn't be doing",
        ],
        "the page's order"
    );
    let items: Vec<&Value> = sections
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap())
        .collect();
    assert_eq!(items.len(), 50);
    let mut handed: Vec<&str> = items
        .iter()
        .filter(|i| i["status"] == "handed_over")
        .map(|i| {
            i["handed_over_to"]
                .as_str()
                .expect("handed over to someone")
        })
        .collect();
    handed.sort_unstable();
    assert_eq!(
        handed,
        [
            "Forwarded to service engineers",
            "Forwarded to service engineers",
            "andriy",
            "ashley",
            "ashley",
            "ashley",
            "drew"
        ]
    );

    let html = read(&site.join("pages/product-manager.html"));
    assert_eq!(html.matches("<li data-iid=").count(), 50);
    let issues = world.issues("acme/roadmap").await;
    assert_eq!(issues.len(), 50);
    for issue in &issues {
        let link = format!(
            "<li data-iid=\"{}\"><a href=\"{}\">",
            issue["iid"],
            issue["web_url"].as_str().unwrap()
        );
        assert!(html.contains(&link), "no link to #{}: {link}", issue["iid"]);
    }
    assert_eq!(html.matches("class=\"state handed_over\"").count(), 7);
    for name in &handed {
        assert!(
            html.contains(&format!("Handed over to <bdi>{name}</bdi>")),
            "{name}"
        );
    }
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains(
        "<title id=\"chart-title\">Burn-up of Product Manager Responsibilities and Tasks</title>"
    ));
    assert!(html.contains("href=\"https://about.gitlab.com/jobs/product-manager/\""));
    assert_eq!(
        page["burn_up"].as_array().unwrap().last().unwrap()["total"],
        50
    );

    let index = read(&site.join("index.html"));
    assert!(index.contains(
        "<a href=\"pages/product-manager.html\"><bdi>Product Manager Responsibilities and Tasks</bdi></a>"
    ));
    assert!(index.contains(&format!(
        "<span data-count=\"total\">{}</span>",
        status["pages"][0]["total"]
    )));
}

/// A person makes an issue confidential in a public project: GitLab shows it to the
/// token (a member), and `status` counts it, but the roadmap publishes nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_issue_is_counted_but_its_title_is_not_published() {
    let world = seeded().await;
    let issues = world.issues("acme/roadmap").await;
    let issue = issues
        .iter()
        .find(|i| i["title"] == "Handle feature requests from sales")
        .expect("the page's issue");
    let path = format!("/projects/acme%2Froadmap/issues/{}", issue["iid"]);
    world
        .api(reqwest::Method::PUT, &path, &[("confidential", "true")])
        .await;
    let site = world.dir.join("site");
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let json: Value = serde_json::from_str(&read(&site.join("roadmap.json"))).unwrap();
    assert_counts_equal(&json["pages"][0], &status_json(&world).await["pages"][0]);
    for file in ["index.html", "roadmap.json", "pages/product-manager.html"] {
        let text = read(&site.join(file));
        assert!(
            !text.contains("requests from sales"),
            "{file} shows the title"
        );
        assert!(
            !text.contains("requests-from-sales"),
            "{file} shows the key"
        );
    }
    let page = read(&site.join("pages/product-manager.html"));
    assert!(page.contains(&format!(
        "<a href=\"{}\"><bdi>Confidential issue</bdi></a>",
        issue["web_url"].as_str().unwrap()
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_projects_page_is_left_out_unless_the_configuration_allows_it() {
    let pages = format!(
        "{}\n{}",
        page_toml(PM, "pm.md", "acme/roadmap"),
        page_toml("secret", "secret.md", "acme/private")
    );
    let world = World::new(&pages, "").await;
    world.write_page("pm.md", &pm_page());
    world.write_page(
        "secret.md",
        "# Secret plans\n\n## Duties\n\n- Buy the competitor\n",
    );
    world.apply_ok().await;
    let site = world.dir.join("site");
    // Files of the site's owner, which the roadmap never touches.
    std::fs::create_dir_all(site.join("pages")).unwrap();
    std::fs::write(site.join("notes.txt"), "mine").unwrap();
    std::fs::write(site.join("pages/mine.html"), "mine").unwrap();

    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("left out secret (acme/private): the project is private; set roadmap.include_private = true to publish it"),
        "{out}"
    );
    assert!(!site.join("pages/secret.html").exists());
    for file in ["index.html", "roadmap.json", "pages/product-manager.html"] {
        let text = read(&site.join(file));
        for private in [
            "Buy the competitor",
            "Secret plans",
            "acme/private",
            "secret",
        ] {
            assert!(!text.contains(private), "{file} names {private}");
        }
    }

    world.write_config(&pages, "[roadmap]\ninclude_private = true\n");
    let (code, out, _) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("left out"), "{out}");
    assert!(read(&site.join("pages/secret.html")).contains("Buy the competitor"));

    // Private again: the page published before is taken down, nothing else.
    world.write_config(&pages, "");
    let (code, out, _) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("left out secret"), "{out}");
    assert!(
        !site.join("pages/secret.html").exists(),
        "a stale private page stayed"
    );
    assert_eq!(read(&site.join("notes.txt")), "mine");
    assert_eq!(read(&site.join("pages/mine.html")), "mine");
    assert!(site.join("pages/product-manager.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_page_text_is_shown_as_text() {
    let world = World::new(&page_toml("pm", "pm.md", "acme/roadmap"), "").await;
    world.write_page(
        "pm.md",
        "# Plans `<script>alert(0)</script>`\n\n## Duties `<img src=x onerror=alert(1)>`\n\n\
         - Review `<script>alert(2)</script>` and `\"><svg onload=alert(3)>`\n",
    );
    world.apply_ok().await;
    let site = world.dir.join("site");
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    for file in ["index.html", "pages/pm.html"] {
        let html = read(&site.join(file));
        for tag in ["<script", "<img", "<svg onload"] {
            assert!(!html.contains(tag), "{file}: {tag}");
        }
    }
    let page = read(&site.join("pages/pm.html"));
    assert!(
        page.contains(
            "Review &lt;script&gt;alert(2)&lt;/script&gt; and &quot;&gt;&lt;svg onload=alert(3)&gt;"
        ),
        "{page}"
    );
    assert!(page.contains("<h1><bdi>Plans &lt;script&gt;alert(0)&lt;/script&gt;</bdi></h1>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_page_is_a_configuration_error() {
    let world = seeded().await;
    let site = world.dir.join("site");
    let (code, _, err) = world
        .run(&["roadmap", "--page", "nope", "--out", site.to_str().unwrap()])
        .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--page nope: no such page"), "{err}");
    assert!(!site.exists(), "nothing written");
}

/// A public project whose issues only its members see (Settings → Visibility → Issues:
/// "Only Project Members", `issues_access_level: private` in `GET /projects/:id`,
/// `lib/api/entities/project.rb`; `app/models/concerns/featurable.rb`): its issues are
/// not public, so neither is its page, though `visibility` says `public`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_project_whose_issues_only_members_see_is_left_out() {
    let world = seeded().await;
    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("issues_access_level", "private")],
        )
        .await;
    let site = world.dir.join("site");
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("left out product-manager (acme/roadmap): its issues are visible to project members only"),
        "{out}"
    );
    assert!(!site.join("pages/product-manager.html").exists());
    let json: Value = serde_json::from_str(&read(&site.join("roadmap.json"))).unwrap();
    assert_eq!(json["pages"], serde_json::json!([]));

    // Issues turned off: nothing to show either (and nothing public).
    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("issues_access_level", "disabled")],
        )
        .await;
    let (_, out, _) = roadmap(&world, &site).await;
    assert!(out.contains("left out product-manager"), "{out}");
    assert!(!site.join("pages/product-manager.html").exists());

    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("issues_access_level", "enabled")],
        )
        .await;
    let (code, out, _) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("left out"), "{out}");
    assert!(site.join("pages/product-manager.html").exists());
}

/// `--out` may name a directory with the user's own files (`public/` of a project that
/// already has a site): the roadmap replaces only files a roadmap wrote, and deletes
/// only such files, whatever a `roadmap.json` found there lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roadmap_never_overwrites_or_deletes_a_file_it_did_not_write() {
    let world = seeded().await;
    let site = world.dir.join("site");
    std::fs::create_dir_all(site.join("pages")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>My own site</h1>").unwrap();
    let (code, out, err) = roadmap(&world, &site).await;
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains(&site.join("index.html").display().to_string())
            && err.contains("not written by handbook-sync"),
        "{err}"
    );
    assert_eq!(read(&site.join("index.html")), "<h1>My own site</h1>");
    assert!(
        !site.join("pages/product-manager.html").exists(),
        "nothing is written when one file is refused"
    );

    // A roadmap.json that is not the roadmap's (another tool's, or planted) is not
    // replaced either, and the files it lists are not deleted.
    std::fs::remove_file(site.join("index.html")).unwrap();
    std::fs::write(site.join("pages/mine.html"), "mine").unwrap();
    std::fs::write(
        site.join("roadmap.json"),
        r#"{"pages": [{"file": "pages/mine.html"}]}"#,
    )
    .unwrap();
    let (code, _, err) = roadmap(&world, &site).await;
    assert_ne!(code, 0);
    assert!(err.contains("roadmap.json"), "{err}");
    assert_eq!(read(&site.join("pages/mine.html")), "mine");

    // The roadmap's own roadmap.json, edited to list a file of the user's: the file is
    // not the roadmap's (no generator mark), so it stays.
    std::fs::remove_file(site.join("roadmap.json")).unwrap();
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let mut json: Value = serde_json::from_str(&read(&site.join("roadmap.json"))).unwrap();
    json["pages"][0]["file"] = "pages/mine.html".into();
    std::fs::write(site.join("roadmap.json"), json.to_string()).unwrap();
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(read(&site.join("pages/mine.html")), "mine");
    // A second run over its own files is fine.
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
}

/// The site is public: a web server running as another user (nginx's `www-data`)
/// serving `--out` must be able to read it. Files get the usual mode (0644 under
/// umask 022), not a temporary file's 0600.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sites_files_are_readable_by_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let world = seeded().await;
    let site = world.dir.join("site");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" roadmap --config \"$1\" --out \"$2\" >/dev/null")
        .arg(env!("CARGO_BIN_EXE_handbook-sync"))
        .arg(world.dir.join("config.toml"))
        .arg(&site)
        .env("GITLAB_TOKEN", TOKEN)
        .status()
        .unwrap();
    assert!(status.success());
    for file in ["index.html", "roadmap.json", "pages/product-manager.html"] {
        let mode = std::fs::metadata(site.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}: {mode:o}");
    }
}

/// The demo leaves its roadmap in the temporary directory for the reader. That
/// directory is shared: a name derived from the process id can be guessed and made
/// first by another user, with `pages` a link into the reader's files, which the
/// roadmap would then write and prune through. It must be a new directory of a name
/// no one can guess (made with `mkdir`, which fails on a name that exists).
#[test]
fn the_demos_roadmap_goes_into_a_new_directory_no_one_else_could_have_made() {
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let index = text
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("index.html"))
        .expect("the demo prints the roadmap's index");
    let site = Path::new(index).parent().unwrap();
    assert_eq!(site.parent(), Some(tmp.path()), "{index}");
    assert_ne!(
        site.file_name().unwrap().to_string_lossy(),
        format!("handbook-sync-roadmap-{pid}"),
        "a name anyone can guess from the process id"
    );
}

/// More issues than one page of GitLab's listing (100): every one is read, shown and
/// counted as `status` counts it, and the burn-up ends at the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_more_issues_than_one_listing_page_is_shown_whole() {
    let world = World::new(&page_toml("big", "big.md", "acme/roadmap"), "").await;
    let mut text = String::from("# Big\n\n## Duties\n\n");
    for i in 1..=130 {
        text.push_str(&format!("- Duty number {i}\n"));
    }
    world.write_page("big.md", &text);
    world.apply_ok().await;
    let site = world.dir.join("site");
    let (code, out, err) = roadmap(&world, &site).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let json: Value = serde_json::from_str(&read(&site.join("roadmap.json"))).unwrap();
    let page = &json["pages"][0];
    assert_eq!(page["total"], 130);
    assert_counts_equal(page, &status_json(&world).await["pages"][0]);
    assert_eq!(page["sections"][0]["items"].as_array().unwrap().len(), 130);
    assert_eq!(
        page["burn_up"].as_array().unwrap().last().unwrap()["total"],
        130
    );
    let html = read(&site.join("pages/big.html"));
    assert_eq!(html.matches("<li data-iid=").count(), 130);
    for i in [1, 100, 101, 130] {
        assert!(html.contains(&format!("Duty number {i}<")), "{i}");
    }
}

/// The GitLab Pages job's token loses sight of a project made private (its user is no
/// member: GitLab answers 404). The run must still succeed and take the page down: a
/// failed job deploys nothing, and GitLab Pages would keep serving the last site, with
/// the now private project's issues, for anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_made_private_is_taken_down_by_a_run_that_no_longer_sees_it() {
    let world = seeded().await;
    let reader = world.create_user("pages-reader", false).await;
    let token = world.create_token(reader, &["read_api"]).await;
    let site = world.dir.join("site");
    let run_as_reader = |world: &World| {
        let mut command = world.command(&["roadmap", "--out", site.to_str().unwrap()]);
        command.env("GITLAB_TOKEN", &token);
        command.output().unwrap()
    };
    let output = run_as_reader(&world);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(site.join("pages/product-manager.html").exists());

    world
        .api(
            reqwest::Method::PUT,
            "/projects/acme%2Froadmap",
            &[("visibility", "private")],
        )
        .await;
    let output = run_as_reader(&world);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a failing run leaves the deployed site as it was: {out}"
    );
    assert!(
        out.contains("left out product-manager (acme/roadmap): GitLab does not show the project to this token"),
        "{out}"
    );
    assert!(
        !site.join("pages/product-manager.html").exists(),
        "the page of a project made private is still in the site"
    );
    let json = read(&site.join("roadmap.json"));
    assert!(!json.contains("acme/roadmap"), "{json}");
}
