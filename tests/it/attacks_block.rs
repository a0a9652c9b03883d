//! Attacks on the managed block and on an issue's identity, found by attacking the
//! binary against the sandbox: `plan`/`apply` as processes, fed pages and issues an
//! attacker (or a colleague in the web UI) would make. Each test names what it keeps.

use crate::common;

use common::{World, page_toml};
use serde_json::Value;

const PROJECT: &str = "acme/roadmap";

/// The issue titled `title`.
fn titled<'a>(issues: &'a [Value], title: &str) -> &'a Value {
    issues
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no issue {title:?}: {issues:#?}"))
}

/// `apply` once more writes nothing.
async fn second_apply_writes_nothing(world: &World) {
    world.reset_stats().await;
    let out = world.apply_ok().await;
    let stats = world.stats().await;
    assert_eq!(
        stats["writes"], 0,
        "the second apply wrote:\n{out}\n{stats}"
    );
}

/// F1: a command line after a line that starts with `<` but opens no lasting HTML block
/// (a one-line comment, an autolink) is a paragraph line to GitLab, which ran it: the
/// issue lost its managed label or was closed. Every `/word` line outside fenced code is
/// escaped now, and the sandbox models CommonMark's HTML blocks from GitLab's source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_after_an_html_comment_or_autolink_line_is_text() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "# PM\n\n## Goals\n\n\
         - Run the release\n\n  <!-- checklist -->\n  /unlabel ~handbook-sync\n\
         - Publish the notes\n\n  <https://example.com/runbook> has the steps\n  /close\n",
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 2, "{issues:#?}");
    for (title, line) in [
        ("Run the release", "\\/unlabel ~handbook-sync"),
        ("Publish the notes", "\\/close"),
    ] {
        let issue = titled(&issues, title);
        assert_eq!(issue["state"], "opened", "{issue:#}");
        assert!(
            issue["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "handbook-sync"),
            "{issue:#}"
        );
        let description = issue["description"].as_str().unwrap();
        assert!(
            description.lines().any(|l| l == line),
            "kept, escaped: {description}"
        );
    }
    second_apply_writes_nothing(&world).await;
}

/// Sets issue `iid`'s description, as a person in the web UI.
async fn set_description(world: &World, iid: u64, text: &str) {
    world
        .api(
            reqwest::Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("description", text)],
        )
        .await;
}

/// The iid of the issue titled `title`.
fn iid_of(issues: &[Value], title: &str) -> u64 {
    titled(issues, title)["iid"].as_u64().unwrap()
}

const THREE: &str = "# PM\n\n## Goals\n\n- Alpha task\n- Beta task\n- Gamma task\n";

/// A three-item page, applied once: its issues by title.
async fn three_items(extra_toml: &str) -> (World, Vec<Value>) {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), extra_toml).await;
    world.write_page("pm.md", THREE);
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 3, "{issues:#?}");
    (world, issues)
}

/// `apply` changes no issue and creates none; its output.
async fn apply_changes_nothing(world: &World, before: &[Value]) -> String {
    let (code, out, err) = world.run(&["apply"]).await;
    assert!(code == 0 || code == 2, "apply: {code}\n{out}\n{err}");
    assert_eq!(
        world.issues(PROJECT).await,
        before,
        "the issues changed:\n{out}"
    );
    out
}

/// F3: a person replaces Alpha's description with Beta's (one marker, Beta's). Before,
/// Beta's issue, which nobody touched, was closed as a "duplicate" of Alpha's, a new
/// issue was created for Alpha, and with `enforce` Alpha's issue was retitled Beta. Now
/// the issue whose title and block are its marker's keeps the key, and the other is
/// reported, with nothing closed, created or written, with or without `enforce`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_replaced_by_another_issues_moves_no_identity() {
    for extra in ["", "[sync]\nenforce = true\n"] {
        let (world, issues) = three_items(extra).await;
        let (alpha, beta) = (iid_of(&issues, "Alpha task"), iid_of(&issues, "Beta task"));
        let beta_description = titled(&issues, "Beta task")["description"]
            .as_str()
            .unwrap();
        set_description(
            &world,
            alpha,
            &format!("Merged notes from #{beta}:\n{beta_description}"),
        )
        .await;
        let before = world.issues(PROJECT).await;
        for _ in 0..2 {
            let out = apply_changes_nothing(&world, &before).await;
            assert!(
                out.contains(&format!("#{alpha}")) && out.contains("not created"),
                "reported:\n{out}"
            );
        }
    }
}

/// F2: a person damages one issue's block in the web UI: deletes its end line, its begin
/// line, or breaks its marker's JSON. Before, the next `apply` created a second issue for
/// the item (one create of three: no guard), and both stayed open for good. Now the issue
/// is reported as damaged and nothing is created for its item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_block_is_reported_and_its_item_gets_no_second_issue() {
    type Damage = fn(&str) -> String;
    let damages: [(&str, Damage); 3] = [
        ("end line", |d| {
            d.replace("<!-- handbook-sync:end -->", "") + "\nmy notes"
        }),
        ("begin line", |d| {
            d.replace("<!-- handbook-sync:begin -->\n", "my notes\n")
        }),
        ("marker JSON", |d| d.replace("\"v\":1,", "\"v\":1,,")),
    ];
    for (what, damage) in damages {
        let (world, issues) = three_items("").await;
        let alpha = iid_of(&issues, "Alpha task");
        let text = damage(
            titled(&issues, "Alpha task")["description"]
                .as_str()
                .unwrap(),
        );
        set_description(&world, alpha, &text).await;
        let before = world.issues(PROJECT).await;
        for _ in 0..2 {
            let out = apply_changes_nothing(&world, &before).await;
            assert!(
                out.contains("not created") && out.contains(&format!("#{alpha}")),
                "{what}: reported:\n{out}"
            );
        }
    }
}

/// F4: a source URL with an upper-case scheme or a leading space was taken for a file
/// name, and `cannot read page …` printed its password and `sig` in the plan (text, JSON,
/// the merge request note); a malformed `gitlab://` source printed its `private_token` in
/// the configuration error. Now the scheme is read without case after trimming, any other
/// `scheme://` is refused as a configuration error, and every message with a source or
/// path passes the redaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_url_in_any_case_or_shape_prints_no_credential() {
    // Loopback, nothing listening: the read fails and its message names the source.
    let port = common::free_port();
    let secrets = ["hunter2", "SECRET1", "SECRET2"];
    for (source, expected) in [
        (
            format!("HTTPS://alice:hunter2@127.0.0.1:{port}/pm.md?sig=SECRET1"),
            1,
        ),
        (
            format!(" https://alice:hunter2@127.0.0.1:{port}/pm.md?sig=SECRET1"),
            1,
        ),
        ("gitlab://onlygroup?private_token=SECRET2".to_owned(), 3),
        (
            format!("ftp://alice:hunter2@127.0.0.1:{port}/pm.md?sig=SECRET1"),
            3,
        ),
    ] {
        let mut world = World::new(&page_toml("pm", &source, PROJECT), "").await;
        world.env("RUST_LOG", "trace");
        for format in ["text", "json", "markdown"] {
            let (code, out, err) = world.run(&["plan", "--format", format]).await;
            assert_eq!(code, expected, "{source:?} {format}:\n{out}\n{err}");
            assert!(
                out.contains("REDACTED") || err.contains("REDACTED"),
                "{source:?} {format}: the source is named, redacted:\n{out}\n{err}"
            );
            for secret in secrets {
                assert!(
                    !out.contains(secret) && !err.contains(secret),
                    "{secret} printed for {source:?} {format}:\n{out}\n{err}"
                );
            }
        }
    }
}

/// F6: a person's note above the block mentions `` `<!-- handbook-sync:begin -->` ``.
/// Before, the block started there: false drift on every run, and the next handbook
/// change cut the person's sentence, the rest only in a conflict note. Now the block
/// starts at the begin line that ends its line: no drift, and a handbook change leaves
/// the note whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_mentioning_the_begin_line_above_the_block_stays_whole() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "# PM\n\n## Goals\n\n- Gamma task\n");
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let iid = iid_of(&issues, "Gamma task");
    let note = "Person note: do not edit below the `<!-- handbook-sync:begin -->` line, thanks.\nSecond person line.\n\n";
    let description = titled(&issues, "Gamma task")["description"]
        .as_str()
        .unwrap();
    set_description(&world, iid, &format!("{note}{description}")).await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "no drift:\n{out}\n{err}");
    world.write_page("pm.md", "# PM\n\n## Goals\n\n- Gamma task reworded a bit\n");
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    let issue = titled(&issues, "Gamma task reworded a bit");
    assert!(
        issue["description"].as_str().unwrap().starts_with(note),
        "{issue:#}"
    );
    second_apply_writes_nothing(&world).await;
}

/// F8: `page_label_prefix = "hb-"` and `section_label_prefix = "hb-s-"` were accepted:
/// the section label of `x` is the page label of a page `s-x`, a clash found only by a
/// false refusal later. Now a prefix that starts with another is a configuration error
/// naming both keys (exit 3), before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_prefix_that_starts_with_another_is_a_configuration_error() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "# PM\n\n## Goals\n\n- Alpha task\n");
    for sync in [
        "page_label_prefix = \"hb-\"\nsection_label_prefix = \"hb-s-\"",
        "page_label_prefix = \"hb-page-\"\nsection_label_prefix = \"hb-\"",
    ] {
        world.write_config(
            &page_toml("pm", "pm.md", PROJECT),
            &format!("[sync]\n{sync}\n"),
        );
        world.reset_stats().await;
        let (code, out, err) = world.run(&["apply"]).await;
        assert_eq!(code, 3, "{sync}\n{out}\n{err}");
        for key in ["sync.page_label_prefix", "sync.section_label_prefix"] {
            assert!(err.contains(key), "{sync}: {key} not named in\n{err}");
        }
        assert_eq!(world.stats().await["writes"], 0);
    }
}
