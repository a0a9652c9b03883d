//! `handbook-sync demo`: the whole product on this machine, in seconds: an in-process
//! sandbox, the bundled product-manager page, a sync, the board and the progress, then
//! one handbook edit and what it changed. No configuration, network or token.

use std::fmt::Write as _;

use anyhow::Context as _;

use crate::config::Config;
use crate::gitlab::{Client, Gitlab};
use crate::sync::IssueState;
use crate::sync_run::{self, RunOptions};

/// The page the project was born from, shipped inside the binary.
pub const PM_PAGE: &str = include_str!("../examples/handbook/product-manager.md");
const PROJECT: &str = "gitlab-org/product-manager-roadmap";
const TOKEN: &str = "demo-token";
const EDIT_FROM: &str = "- Maintain version.gitlab.com\n";
const EDIT_TO: &str = "- ~~Maintain version.gitlab.com~~ => Drew\n";

/// Runs the demo and returns what it has to say.
pub async fn run(today: &str) -> anyhow::Result<String> {
    let Stage {
        sandbox,
        dir,
        page_path,
        config,
    } = Stage::start().await?;
    let options = RunOptions {
        today: today.to_owned(),
        ..Default::default()
    };
    let token = || secrecy::SecretString::from(TOKEN.to_owned());

    let mut out = introduction();
    let prepared = sync_run::prepare(&config, token(), &options).await?;
    let _ = writeln!(out, "2. `plan` against the empty project {PROJECT}:\n");
    out.push_str(&indent(&prepared.plan.to_text()));
    let applied = prepared.apply().await;
    anyhow::ensure!(
        applied.summary.failed == 0,
        "the first sync failed:\n{}",
        applied.to_text()
    );

    let client = Gitlab::new(Client::new(&config.gitlab_url, token(), config.policy())?);
    let _ = writeln!(
        out,
        "\n3. `apply` made it so. The issue board, as people will follow it on GitLab:\n"
    );
    out.push_str(&indent(&board_text(&client, &config).await?));

    let status = sync_run::status(&config, token()).await?;
    let _ = writeln!(
        out,
        "\n4. `status`: progress per section, read back from GitLab:\n"
    );
    out.push_str(&indent(&status.to_text(true)));

    tokio::fs::write(&page_path, PM_PAGE.replacen(EDIT_FROM, EDIT_TO, 1))
        .await
        .context("editing the page")?;
    let _ = writeln!(
        out,
        "\n5. Someone edits the handbook: `{}` becomes `{}`. The next sync:\n",
        EDIT_FROM.trim(),
        EDIT_TO.trim()
    );
    let prepared = sync_run::prepare(&config, token(), &options).await?;
    out.push_str(&indent(&prepared.plan.to_text()));
    let applied = prepared.apply().await;
    anyhow::ensure!(
        applied.summary.failed == 0,
        "the second sync failed:\n{}",
        applied.to_text()
    );
    let status = sync_run::status(&config, token()).await?;
    let _ = writeln!(out, "\n   Progress now:\n");
    out.push_str(&indent(&status.to_text(true)));

    // Kept after the demo, for the reader to open. A new directory of a random name
    // (a name another user of /tmp could guess, and create first with a `pages` link
    // into the reader's files, would be written and pruned through).
    let site = tempfile::Builder::new()
        .prefix("handbook-sync-roadmap-")
        .tempdir()?
        .keep();
    let connection = sync_run::Connection::new(&config, token(), None)?;
    crate::roadmap::publish(&config, &connection, &[], &site, chrono::Utc::now()).await?;
    let _ = writeln!(
        out,
        "\n6. `roadmap`: the public roadmap, a static site (no JavaScript, nothing from outside) with every responsibility, its issue and a burn-up chart (its issue links lead into the sandbox, which stops with the demo). Open it:\n\n   {}",
        site.join("index.html").display()
    );

    out.push_str(YOUR_TURN);
    sandbox.stop().await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(out)
}

/// The demo's world: an in-process sandbox and a temporary handbook with its configuration.
struct Stage {
    sandbox: gitlab_sandbox::Running,
    dir: std::path::PathBuf,
    page_path: std::path::PathBuf,
    config: Config,
}

impl Stage {
    /// Starts the sandbox and writes the page and the configuration.
    async fn start() -> anyhow::Result<Stage> {
        let sandbox = gitlab_sandbox::Sandbox::bind(
            "127.0.0.1:0".parse().expect("a loopback address"),
            gitlab_sandbox::Config {
                token: TOKEN.into(),
                projects: vec![(PROJECT.into(), "public".into())],
                users: ["sytses", "drew", "andriy", "ashley"]
                    .iter()
                    .map(|u| (u.to_string(), u.to_string()))
                    .collect(),
                // The people the page names work on the project: handbook-sync assigns
                // issues only to members (or to whom the configuration names).
                members: ["sytses", "drew", "andriy", "ashley"]
                    .iter()
                    .map(|u| (PROJECT.to_owned(), u.to_string(), 30))
                    .collect(),
                state_file: None,
                // gitlab-org is on Ultimate (boards exist on every tier).
                tier: gitlab_sandbox::Tier::Premium,
                ..Default::default()
            },
        )
        .await
        .context("starting the sandbox")?
        .spawn();
        let dir = tempdir().await.context("creating a temporary directory")?;
        let page_path = dir.join("product-manager.md");
        tokio::fs::write(&page_path, PM_PAGE)
            .await
            .context("writing the page")?;
        let config_path = dir.join("config.toml");
        tokio::fs::write(
            &config_path,
            format!(
                "[gitlab]\nurl = \"{}\"\n# A local sandbox: no need to pace requests as for gitlab.com.\n\
                 requests_per_minute = 1000000\nissue_creations_per_minute = 1000000\n\
                 # One request at a time: issue numbers then follow the page, as the output shows.\n\
                 concurrency = 1\n\n[people]\n\"Drew\" = \"drew\"\n\"Andriy\" = \"andriy\"\n\"Ashley\" = \"ashley\"\n\n\
                 [[pages]]\nid = \"product-manager\"\nsource = \"product-manager.md\"\n\
                 url = \"https://about.gitlab.com/jobs/product-manager/\"\nproject = \"{PROJECT}\"\nowner = \"sytses\"\n",
                sandbox.url
            ),
        )
        .await
        .context("writing the configuration")?;
        // Loading reads files: not on an async thread.
        let config = tokio::task::spawn_blocking(move || Config::load(Some(&config_path)))
            .await
            .context("loading the demo configuration")?
            .context("loading the demo configuration")?;
        Ok(Stage {
            sandbox,
            dir,
            page_path,
            config,
        })
    }
}

/// The header and step 1: what the page holds.
fn introduction() -> String {
    let mut out = String::new();
    let page = crate::parse::parse_page(PM_PAGE, &Default::default());
    let sections: std::collections::BTreeSet<_> =
        page.items.iter().map(|i| i.section.clone()).collect();
    let handed = page
        .items
        .iter()
        .filter(|i| i.status == crate::parse::ItemStatus::HandedOver)
        .count();
    let _ = writeln!(
        out,
        "handbook-sync demo: a local GitLab sandbox, the bundled product-manager page, two syncs.\n"
    );
    let _ = writeln!(
        out,
        "1. The page “{}” has {} responsibilities in {} sections; {handed} are struck through and handed over.\n",
        page.title,
        page.items.len(),
        sections.len()
    );
    out
}

/// Step 7, the demo's last words: how to do the same against one's own GitLab, from the
/// root of the checkout the demo was built in (a test follows them literally).
pub const YOUR_TURN: &str = "\n7. Your turn, against your GitLab, from this checkout's root directory:\n\n\
     \x20  cargo install --locked --path .                                  # puts handbook-sync on your PATH\n\
     \x20  cp config/handbook-sync.example.toml config/handbook-sync.toml   # then set url, project and owner in it\n\
     \x20  export GITLAB_TOKEN=…                                            # read_api is enough to plan; apply needs api\n\
     \x20  handbook-sync plan                                               # reads config/handbook-sync.toml; writes nothing\n\
     \x20  handbook-sync apply                                              # then make it so\n\
     \x20  handbook-sync roadmap --out public                               # and publish the roadmap\n\n\
     Only issues carrying the `handbook-sync` label and its hidden marker are ever changed; nothing is deleted.\n";

/// The board's lists with their open issues, and how many are closed.
async fn board_text(gitlab: &Gitlab, config: &Config) -> anyhow::Result<String> {
    let project = gitlab.project(PROJECT).await?;
    let boards = gitlab.boards(project.id).await?;
    let mut issues = gitlab
        .managed_issues(project.id, &config.sync.managed_label)
        .await?;
    issues.sort_by_key(|i| i.iid);
    let mut out = String::new();
    for board in boards {
        let _ = writeln!(out, "Board “{}”", board.name);
        for list in &board.lists {
            let open: Vec<_> = issues
                .iter()
                .filter(|i| i.state == IssueState::Opened && i.labels.contains(list))
                .collect();
            let _ = writeln!(out, "  ┌ {list} ({} open)", open.len());
            for issue in open {
                let who = issue
                    .assignees
                    .first()
                    .map_or("unassigned".to_owned(), |u| format!("@{u}"));
                let _ = writeln!(out, "  │ #{:<3} {} · {who}", issue.iid, issue.title);
            }
        }
        let closed: Vec<_> = issues
            .iter()
            .filter(|i| i.state == IssueState::Closed)
            .collect();
        let _ = writeln!(out, "  ┌ Closed ({})", closed.len());
        for issue in closed {
            let who = issue
                .assignees
                .first()
                .map_or("unassigned".to_owned(), |u| format!("@{u}"));
            let _ = writeln!(out, "  │ #{:<3} {} · {who}", issue.iid, issue.title);
        }
    }
    Ok(out)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("   {l}\n")
            }
        })
        .collect()
}

async fn tempdir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("handbook-sync-demo-{}", std::process::id()));
    tokio::fs::create_dir_all(&dir).await?;
    Ok(dir)
}
