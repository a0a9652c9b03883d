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
