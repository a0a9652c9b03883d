//! Label titles and colours as GitLab stores them, in the sandbox and through the sync.
//!
//! GitLab before gitlab-org/gitlab!207594 stored `CGI.unescapeHTML(Sanitize.clean(title))`
//! (`app/models/label.rb`), GitLab since the title as sent; both strip it. The sandbox
//! follows either (`Config::label_titles`, `--label-titles`; today's by default) and is
//! tested here against `tests/data/label_titles.json`, the table the core's own model is
//! tested against in `core/src/sync/label_title.rs`.

use crate::as_user::As;
use crate::common::{TOKEN, World, page_toml};

use gitlab_sandbox::LabelTitles;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const LABELS: &str = "/projects/acme%2Froadmap/labels";

fn table() -> Vec<Value> {
    let path = crate::common::data_dir().join("label_titles.json");
    let table: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    table["vectors"].as_array().unwrap().clone()
}

async fn sandbox(titles: LabelTitles) -> gitlab_sandbox::Running {
    let config = gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: vec![("acme/roadmap".into(), "public".into())],
        label_titles: titles,
        ..Default::default()
    };
    gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .spawn()
}

/// Every input of the table, given as a label's new name (`PUT
/// /projects/:id/labels/:label_id`, `new_name`), is stored as the table says for each
/// rule; a title that is empty once stored is `can't be blank`, one with a comma
/// `is invalid` (`validates :title, presence: true, format: { with: /\A[^,]+\z/ }`).
#[tokio::test]
async fn the_sandbox_stores_every_title_of_the_shared_table_both_ways() {
    for (titles, column) in [
        (LabelTitles::Sanitized, "sanitized"),
        (LabelTitles::Verbatim, "verbatim"),
    ] {
        let sb = sandbox(titles).await;
        let root = As::root(&sb.url);
        let label = root
            .post(LABELS, &[("name", "seed"), ("color", "#ff0000")])
            .await;
        let path = format!("{LABELS}/{}", label["id"]);
        let mut wrong = Vec::new();
        for v in table() {
            let input = v["input"].as_str().unwrap();
            let stored = v[column].as_str().unwrap();
            let (status, body) = root.call(Method::PUT, &path, &[("new_name", input)]).await;
            let expected = if stored.is_empty() {
                (
                    StatusCode::BAD_REQUEST,
                    json!({"title": ["can't be blank"]}),
                )
            } else if stored.contains(',') {
                (StatusCode::BAD_REQUEST, json!({"title": ["is invalid"]}))
            } else {
                (StatusCode::OK, json!(stored))
            };
            let got = if status.is_success() {
                (status, body["name"].clone())
            } else {
                (status, body["message"].clone())
            };
            if got != expected {
                wrong.push(format!("{input:?}: {got:?}, GitLab {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{column}: {wrong:#?}");
    }
}

/// `caf&eacute; &amp; more` is `café & more` under the old rule and as sent today; a
/// colour name is stored as its hex value on every version (`lib/gitlab/color.rb`,
/// `Gitlab::Color.of`), and the text colour is GitLab's `contrast`.
#[tokio::test]
async fn entities_follow_the_rule_and_colour_names_become_hex() {
    for (titles, name) in [
        (LabelTitles::Sanitized, "café & more"),
        (LabelTitles::Verbatim, "caf&eacute; &amp; more"),
    ] {
        let sb = sandbox(titles).await;
        let root = As::root(&sb.url);
        let label = root
            .post(
                LABELS,
                &[("name", "caf&eacute; &amp; more"), ("color", "red")],
            )
            .await;
        assert_eq!(label["name"], name, "{titles:?}");
        assert_eq!(label["color"], "#FF0000");
        assert_eq!(label["text_color"], "#FFFFFF");
        let edited = root
            .put(
                &format!("{LABELS}/{}", label["id"]),
                &[("color", " LightYellow ")],
            )
            .await;
        assert_eq!(
            (edited["color"].as_str(), edited["text_color"].as_str()),
            (Some("#FFFFE0"), Some("#333333"))
        );
        let (status, body) = root
            .call(
                Method::POST,
                LABELS,
                &[("name", "other"), ("color", "reddish")],
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!({"message": {"color": ["must be a valid color code"]}})
            )
        );
    }
}

/// Headings whose section labels hold tags, entities and a no-break space: under either
/// rule the first `apply` makes each label once, and the next run finds them all and
/// plans nothing (the sync asks for titles both rules keep as they are).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_converges_on_labels_under_both_rules() {
    let page = "## Use `<b>` for emphasis\n\n- One\n\n## Caf`&eacute;` & more\n\n- Two\n\n\
                ## Q`&amp;amp;`A\u{a0}time\n\n- Three\n\n## `<p>`Block`</p>` and `&nbsp;`\n\n- Four\n";
    for titles in [LabelTitles::Sanitized, LabelTitles::Verbatim] {
        let world = World::with_sandbox(&page_toml("pm", "pm.md", "acme/roadmap"), "", |c| {
            c.label_titles = titles;
        })
        .await;
        world.write_page("pm.md", page);
        world.apply_ok().await;
        let (code, out, err) = world.run(&["plan"]).await;
        assert_eq!(code, 0, "{titles:?} converged:\n{out}\n{err}");
        let labels = world
            .api(Method::GET, &format!("{LABELS}?per_page=100"), &[])
            .await;
        let mut sections: Vec<String> = labels
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["name"].as_str())
            .filter(|n| n.starts_with("section::"))
            .map(str::to_owned)
            .collect();
        sections.sort();
        assert_eq!(
            sections,
            [
                "section:: Block  and &nbsp;",
                "section::Café & more",
                "section::Q&A time",
                "section::Use  for emphasis",
            ],
            "{titles:?}"
        );
    }
}
