//! Property: any sequence of handbook edits, each applied, leaves GitLab equal to the
//! handbook, and a second apply then has nothing to do. Runs the real sync in-process
//! over HTTP against the sandbox.

use crate::common;

use std::collections::BTreeMap;

use handbook_sync::config::Config;
use handbook_sync::sync::marker;
use handbook_sync::sync_run::{self, RunOptions};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
enum St {
    Active,
    Done,
    Handed,
}

#[derive(Debug, Clone)]
struct Bullet {
    section: usize,
    text: String,
    status: St,
}

#[derive(Debug, Clone)]
enum Edit {
    Add(usize, String),
    Remove(usize),
    Reword(usize, String),
    Strike(usize),
    Tick(usize),
    Move(usize, usize),
}

fn phrase() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "maintain",
        "review",
        "publish",
        "the",
        "roadmap",
        "release",
        "notes",
        "docs",
        "support",
        "calls",
        "website",
        "budget",
        "hiring",
        "plan",
        "weekly",
        "sales",
        "demo",
        "customers",
        "feedback",
        "tracker",
    ]);
    prop::collection::vec(words, 2..6).prop_map(|w| w.join(" "))
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..3usize, phrase()).prop_map(|(s, t)| Edit::Add(s, t)),
        any::<prop::sample::Index>().prop_map(|i| Edit::Remove(i.index(1000))),
        (any::<prop::sample::Index>(), phrase()).prop_map(|(i, t)| Edit::Reword(i.index(1000), t)),
        any::<prop::sample::Index>().prop_map(|i| Edit::Strike(i.index(1000))),
        any::<prop::sample::Index>().prop_map(|i| Edit::Tick(i.index(1000))),
        (any::<prop::sample::Index>(), 0..3usize).prop_map(|(i, s)| Edit::Move(i.index(1000), s)),
    ]
}

fn apply_edit(bullets: &mut Vec<Bullet>, edit: &Edit) {
    if let Edit::Add(section, text) = edit {
        bullets.push(Bullet {
            section: *section,
            text: text.clone(),
            status: St::Active,
        });
        return;
    }
    if bullets.is_empty() {
        return;
    }
    match edit {
        Edit::Remove(i) if bullets.len() > 1 => {
            bullets.remove(i % bullets.len());
        }
        Edit::Reword(i, text) => {
            let n = bullets.len();
            bullets[i % n].text = text.clone();
        }
        Edit::Strike(i) => {
            let n = bullets.len();
            bullets[i % n].status = St::Handed;
        }
        Edit::Tick(i) => {
            let n = bullets.len();
            bullets[i % n].status = St::Done;
        }
        Edit::Move(i, s) => {
            let n = bullets.len();
            bullets[i % n].section = *s;
        }
        _ => {}
    }
}

fn render(bullets: &[Bullet]) -> String {
    let mut page = String::from("# Role\n");
    for section in 0..3 {
        page.push_str(&format!("\n## Section {section}\n\n"));
        for b in bullets.iter().filter(|b| b.section == section) {
            match b.status {
                St::Active => page.push_str(&format!("- {}\n", b.text)),
                St::Done => page.push_str(&format!("- [x] {}\n", b.text)),
                St::Handed => page.push_str(&format!("- ~~{}~~ => Drew\n", b.text)),
            }
        }
    }
    page
}

/// Titles of the open issues, and (title, handed-over) of the closed ones.
fn observed(issues: &[Value]) -> (Vec<String>, Vec<(String, bool)>) {
    let mut open = Vec::new();
    let mut closed = Vec::new();
    for i in issues {
        let title = i["title"].as_str().unwrap().to_owned();
        if i["state"] == "opened" {
            open.push(title);
        } else {
            closed.push((
                title,
                i["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l == "handed-over"),
            ));
        }
    }
    open.sort();
    (open, closed)
}

/// Every active bullet has exactly one open issue and nothing else is open; every
/// ticked or struck bullet has a closed issue (a bullet that leaves the page while
/// closed keeps its closed issue as it was).
fn check_equal(bullets: &[Bullet], issues: &[Value], context: &str) {
    let (open, closed) = observed(issues);
    let mut active: Vec<String> = bullets
        .iter()
        .filter(|b| b.status == St::Active)
        .map(|b| b.text.clone())
        .collect();
    active.sort();
    assert_eq!(open, active, "open issues {context}");
    for b in bullets.iter().filter(|b| b.status != St::Active) {
        let want = (b.text.clone(), b.status == St::Handed);
        assert!(
            closed.contains(&want),
            "no closed issue {want:?} {context}: {closed:?}"
        );
    }
}

async fn sync(world: &common::World) -> handbook_sync::sync::Plan {
    let config = Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    let options = RunOptions {
        allow_mass_close: true,
        today: "2026-11-27".into(),
        ..Default::default()
    };
    let prepared = sync_run::prepare(&config, common::TOKEN.to_owned().into(), &options)
        .await
        .unwrap();
    prepared.apply().await
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_edit_sequence_converges_in_one_apply(
        initial in prop::collection::vec((0..3usize, phrase()), 1..8),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            // The board is created (on Free too), so a converged sync writes nothing at all.
            let world = common::World::new(&common::page_toml("role", "role.md", "acme/roadmap"), "").await;
            let mut bullets: Vec<Bullet> =
                initial.iter().map(|(s, t)| Bullet { section: *s, text: t.clone(), status: St::Active }).collect();
            let mut steps = vec![None];
            steps.extend(edits.iter().map(Some));
            for step in steps {
                if let Some(e) = step {
                    apply_edit(&mut bullets, e);
                }
                world.write_page("role.md", &render(&bullets));
                let plan = sync(&world).await;
                assert_eq!(plan.summary.failed, 0, "{}", plan.to_text());
                let issues = world.issues("acme/roadmap").await;
                check_equal(&bullets, &issues, &format!("after {step:?}:\n{}", plan.to_text()));
                let mut open_keys: BTreeMap<String, usize> = BTreeMap::new();
                for issue in issues.iter().filter(|i| i["state"] == "opened") {
                    let key = marker::parse(issue["description"].as_str().unwrap()).unwrap().marker.unwrap().key;
                    *open_keys.entry(key).or_default() += 1;
                }
                assert!(open_keys.values().all(|n| *n == 1), "a key has two open issues: {open_keys:?}");
                world.reset_stats().await;
                let again = sync(&world).await;
                let stats = world.stats().await;
                assert_eq!(stats["writes"], 0, "a second apply wrote after {step:?}:\n{}", again.to_text());
            }
        });
    }
}

/// Lines of the kinds that matter to quick actions: commands, near-commands, fences,
/// HTML, lists, quotes, blank lines and prose.
fn description_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/close",
        "/CLOSE",
        "/label ~x",
        "/assign @drew",
        "/title New",
        "/due tomorrow",
        "/closed",
        "/ close",
        "  /close",
        "\\/close",
        "```",
        "~~~",
        "<div>",
        "</div>",
        "<b>x</b>",
        "- item",
        "> quote",
        ">>>",
        "    code",
        "`",
        "",
        "Plain prose",
        "# Heading",
        "#Not a heading",
        "1. first",
        "````",
        "   ```",
        "\t/close",
        "<!-- note -->",
        "text with `code",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever a body holds, once neutralised GitLab's extractor (the sandbox's model of
    /// `lib/gitlab/quick_actions/extractor.rb` and `quick_action_filter.rb`) finds no
    /// command in it and stores it as written, so the managed block's hash matches what
    /// GitLab keeps.
    #[test]
    fn a_neutralised_body_holds_no_quick_action(lines in prop::collection::vec(description_line(), 0..12)) {
        let body = lines.join("\n");
        let safe = handbook_sync::sync::quick_actions::neutralise(&body);
        let (stored, commands) = gitlab_sandbox::quick_actions::extract(&safe);
        prop_assert!(commands.is_empty(), "{safe:?} runs {commands:?}");
        prop_assert_eq!(stored, safe.trim_end());
    }
}
