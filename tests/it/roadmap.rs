//! `handbook-sync roadmap` as a process against the sandbox after the seed sync: the
//! site, its numbers against `status --format json` (also a process), the private-project
//! guard, hostile page text, stale files, and the daemon's `/roadmap/`.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TOKEN, World, page_toml, pm_page, terminate};
use serde_json::Value;

const PM: &str = "product-manager";

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

async fn status_json(world: &World) -> Value {
    let (code, out, err) = world.run(&["status", "--format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The roadmap's page counters under `status`'s keys, and its sections' by name.
fn assert_counts_equal(roadmap: &Value, status: &Value) {
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
        assert!(html.contains(&format!("Handed over to {name}")), "{name}");
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
        "<a href=\"pages/product-manager.html\">Product Manager Responsibilities and Tasks</a>"
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
        "<a href=\"{}\">Confidential issue</a>",
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
    assert!(page.contains("<h1>Plans &lt;script&gt;alert(0)&lt;/script&gt;</h1>"));
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_roadmap_of_its_last_sync_and_asks_gitlab_nothing_per_view() {
    let port = free_port();
    let world = World::new(
        &page_toml(PM, "pm.md", "acme/roadmap"),
        &format!("[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    world.write_page("pm.md", &pm_page());
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/roadmap/")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "no roadmap 30 s after the start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    world.reset_stats().await;
    for _ in 0..3 {
        for path in [
            "/roadmap/",
            "/roadmap/pages/product-manager.html",
            "/roadmap/roadmap.json",
        ] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
            assert!(
                r.headers()["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .starts_with("default-src 'none'")
            );
        }
    }
    let stats = world.stats().await;
    assert_eq!(stats["total"], 0, "page views asked GitLab: {stats}");

    let r = client.get(format!("{base}/roadmap")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/roadmap/");
    for missing in ["/roadmap/nope.html", "/roadmap/pages/../../config.toml"] {
        let r = client.get(format!("{base}{missing}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    let index = client.get(format!("{base}/roadmap/")).send().await.unwrap();
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("pages/product-manager.html")
    );
    let json: Value = client
        .get(format!("{base}/roadmap/roadmap.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = status_json(&world).await;
    assert_counts_equal(&json["pages"][0], &status["pages"][0]);
    assert_eq!(json["pages"][0]["total"], 50);

    let (code, _) = tokio::task::spawn_blocking(move || terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
