//! Configured people who are not members of the project (`[people]` values, page owners)
//! are assigned as configured, and GitLab is asked about them only when a write needs
//! their id: a no-op asks about nobody, so a cold no-op of 1,000 items with a board stays
//! within ceil(N/100) + 3 requests however many such people the configuration names.

use crate::common;

use common::{TOKEN, World};

/// `acme/roadmap` on Premium (the board is read); `sytses` is its only member, and four
/// users the handbook names through `[people]` exist but are members of nothing.
fn config() -> gitlab_sandbox::Config {
    let users = [
        "sytses", "zara", "yuri", "xena", "walt", "drew", "andriy", "ashley",
    ];
    gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: vec![("acme/roadmap".into(), "public".into())],
        users: users
            .iter()
            .map(|u| (u.to_string(), u.to_string()))
            .collect(),
        members: vec![("acme/roadmap".into(), "sytses".into(), 30)],
        state_file: None,
        tier: gitlab_sandbox::Tier::Premium,
        ..Default::default()
    }
}

/// Four `[people]` entries (they follow the world's own `[people]` lines) and the page.
fn people_and_page() -> String {
    "\"Zara\" = \"zara\"\n\"Yuri\" = \"yuri\"\n\"Xena\" = \"xena\"\n\"Walt\" = \"walt\"\n\n[[pages]]\nid = \"many\"\nsource = \"many.md\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n".into()
}

fn page(n: usize) -> String {
    let names = ["Zara", "Yuri", "Xena", "Walt"];
    let mut text = String::from("# Many\n");
    for i in 0..n {
        if i % 25 == 0 {
            text.push_str(&format!("\n## Area {}\n\n", i / 25));
        }
        text.push_str(&format!(
            "- Keep part {i} in good shape => {}\n",
            names[i % 4]
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_asks_about_no_configured_user_and_stays_within_the_bound() {
    let world = World::with_sandbox(&people_and_page(), "", |c| *c = config()).await;
    world.write_page("many.md", &page(1000));
    world.reset_stats().await;
    // The first sync's plan assigns them: each looked up once (`apply` plans again
    // under its lease, and looks them up there again).
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    let stats = world.stats().await;
    assert_eq!(stats["by_route"]["GET /users"], 4, "{stats}");
    let out = world.apply_ok().await;
    assert!(
        out.contains("is not a member of acme/roadmap; assigned as configured"),
        "{out}"
    );
    let issues = world.issues("acme/roadmap").await;
    let assignee = |title: &str| {
        let issue = issues.iter().find(|i| i["title"] == title).unwrap();
        issue["assignees"][0]["username"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(assignee("Keep part 0 in good shape"), "zara");
    assert_eq!(assignee("Keep part 3 in good shape"), "walt");

    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let stats = world.stats().await;
    let total = stats["total"].as_u64().unwrap();
    assert!(total <= 1000 / 100 + 3, "{total} > 13: {stats}");
    assert!(stats["by_route"].get("GET /users").is_none(), "{stats}");
}

/// A configured username GitLab does not know is looked up when a create would assign
/// it, and the item is then left unassigned with a warning, as before.
#[tokio::test]
async fn an_unknown_configured_user_is_looked_up_once_and_left_unassigned() {
    let toml = "\"Ghost\" = \"ghost\"\n\n[[pages]]\nid = \"p\"\nsource = \"p.md\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\nboard = false\n";
    let world = World::with_sandbox(toml, "", |c| *c = config()).await;
    world.write_page(
        "p.md",
        "# P\n\n- Haunt the roadmap => Ghost\n- Keep it tidy\n",
    );
    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains(
            "`ghost` ([people] \"Ghost\"): no GitLab user has that username; left unassigned"
        ),
        "{out}"
    );
    assert_eq!(world.stats().await["by_route"]["GET /users"], 1);
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let issues = world.issues("acme/roadmap").await;
    let by_title = |title: &str| issues.iter().find(|i| i["title"] == title).unwrap().clone();
    assert!(
        by_title("Haunt the roadmap")["assignees"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        by_title("Keep it tidy")["assignees"][0]["username"],
        "sytses"
    );
}
