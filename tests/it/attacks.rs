//! Attacked, it holds: `plan`/`apply` as processes against the sandbox, fed what an
//! attacker (or an unlucky colleague) would feed them: a handbook that documents
//! handbook-sync itself, a pasted description, carriage returns and marker-shaped
//! comments, colliding label settings, a renamed label on a small page, and secrets in
//! a source URL under names nobody listed.

use crate::common;

use common::{Rest, TOKEN, World, page_toml};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PROJECT: &str = "acme/roadmap";

/// A sandbox of GitLab Premium, whose API creates boards: a run with nothing to do sends
/// no write at all (on Free, one refused board request).
async fn premium(pages_toml: &str, extra_toml: &str) -> World {
    World::with_tier(pages_toml, extra_toml, gitlab_sandbox::Tier::Premium).await
}

/// `apply` twice more after `world`'s first: each writes nothing, and no issue changes.
async fn second_apply_writes_nothing(world: &World) {
    let before = world.issues(PROJECT).await;
    for run in 2..=3 {
        world.reset_stats().await;
        let out = world.apply_ok().await;
        let stats = world.stats().await;
        assert_eq!(stats["writes"], 0, "apply {run} wrote:\n{out}\n{stats}");
    }
    assert_eq!(world.issues(PROJECT).await, before, "the issues changed");
}

/// Issues per state.
fn count(issues: &[Value], state: &str) -> usize {
    issues.iter().filter(|i| i["state"] == state).count()
}

/// Case 1: a page that documents handbook-sync shows its markers in inline code, an
/// HTML comment and a code fence. Before, the first `<!-- handbook-sync:end -->` in the
/// body ended the managed block when the issue was read back, the issue was no longer
/// recognised, and every `apply` created one more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_marker_in_a_bullet_gives_one_issue_and_the_second_apply_writes_nothing() {
    let world = premium(&page_toml("doc", "doc.md", PROJECT), "").await;
    world.write_page(
        "doc.md",
        "# Docs\n\n## Duties\n\n\
         - Explain that `<!-- handbook-sync:end -->` ends the managed block\n\
         - Keep the marker <!-- handbook-sync:end --> out of sight\n\
         - Show a whole description:\n\n  ```\n  <!-- handbook-sync:begin -->\n  Body\n\n  <!-- handbook-sync {\"v\":1,\"page\":\"doc\",\"key\":\"x\",\"title\":\"x\",\"status\":\"active\",\"state\":\"opened\",\"assignee\":null,\"labels\":[],\"block\":\"0\"} -->\n  <!-- handbook-sync:end -->\n  ```\n\
         - Start with <!-- handbook-sync:begin --> and nothing else\n",
    );
    world.apply_ok().await;
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 4, "one issue per bullet: {issues:#?}");
    second_apply_writes_nothing(&world).await;
    assert_eq!(world.issues(PROJECT).await.len(), 4);
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "nothing to do, no drift:\n{out}\n{err}");
    assert!(out.contains(" 0 drifted"), "{out}");
}

/// The description of issue `iid`.
async fn description(world: &World, iid: u64) -> String {
    let issues = world.issues(PROJECT).await;
    let issue = issues.iter().find(|i| i["iid"] == iid).unwrap();
    issue["description"].as_str().unwrap().to_owned()
}

async fn set_description(world: &World, iid: u64, text: &str) {
    world
        .api(
            Method::PUT,
            &format!("/projects/acme%2Froadmap/issues/{iid}"),
            &[("description", text)],
        )
        .await;
}

/// Case 3: a person merges notes by pasting another managed issue's whole description
/// (with its marker) into issue A, above or below A's block. Before, the first marker
/// won: A was taken for the other item, one of the two (sometimes one nobody touched)
/// was closed as a duplicate, and A's own item got a new issue. Now the issue is
/// reported by number and left as the person wrote it; nothing is closed or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_block_closes_nothing_creates_nothing_and_is_reported() {
    for (into, from, above) in [(1u64, 2u64, true), (2, 1, true), (1, 2, false)] {
        let world = premium(&page_toml("pm", "pm.md", PROJECT), "").await;
        world.write_page(
            "pm.md",
            "# PM\n\n## Duties\n\n- Maintain the mailing lists\n- Plan the roadmap\n- Write the release post\n",
        );
        world.apply_ok().await;
        let pasted = description(&world, from).await;
        let own = description(&world, into).await;
        let merged = if above {
            format!("Merged from #{from}:\n\n{pasted}\n\n{own}")
        } else {
            format!("{own}\n\nMerged from #{from}:\n\n{pasted}")
        };
        set_description(&world, into, &merged).await;
        let before = world.issues(PROJECT).await;
        let context = format!("#{from} pasted into #{into}, above: {above}");

        let (code, out, err) = world.run(&["plan"]).await;
        assert_eq!(code, 0, "{context}: nothing to write\n{out}\n{err}");
        let report = out
            .lines()
            .find(|l| l.contains(&format!("#{into} ")) && l.contains("markers"))
            .unwrap_or_else(|| panic!("{context}: no report naming #{into} in\n{out}"));
        assert!(report.contains("drift"), "{context}: {report}");
        let (code, out, err) = world.run(&["apply", "--format", "json"]).await;
        assert_eq!(code, 0, "{context}:\n{out}\n{err}");
        let json: Value = serde_json::from_str(&out).unwrap();
        for kind in ["create", "close", "update", "reopen"] {
            assert_eq!(json["summary"][kind], 0, "{context}: {kind}\n{out}");
        }
        assert_eq!(
            world.issues(PROJECT).await,
            before,
            "{context}: no issue changed"
        );
        assert_eq!(count(&before, "opened"), 3, "{context}");
        assert_eq!(description(&world, into).await, merged, "{context}");
    }
}

/// Found by the simulation: a person takes issue A over (deletes its handbook-sync
/// block, the managed label left on), then pastes issue B's whole description below a
/// line of their own. A then holds one marker, B's, and the two were taken for two
/// creates of B's item: the older kept, the younger closed as a duplicate. With the paste
/// in the older issue, B (which nobody touched) was closed and A became the item's
/// issue. Now B stays the item's issue, A is reported and left as the person wrote it,
/// nothing is closed, and A's item gets no second issue while A, titled as the item, may
/// still be its issue (as for a description replaced wholesale, `attacks_block`): the
/// person settles it by deleting the pasted block or A's title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_pasted_into_a_taken_over_issue_closes_nothing_and_is_reported() {
    for (into, from) in [(1u64, 2u64), (2, 1)] {
        let world = premium(&page_toml("pm", "pm.md", PROJECT), "").await;
        world.write_page(
            "pm.md",
            "# PM\n\n## Duties\n\n- Maintain the mailing lists\n- Plan the roadmap\n",
        );
        world.apply_ok().await;
        let context = format!("#{from} pasted into #{into}");
        let merged = format!(
            "Taken over by Ashley. Merged from #{from}:\n\n{}",
            description(&world, from).await
        );
        set_description(&world, into, &merged).await;
        let pasted = description(&world, into).await;

        let (code, out, err) = world.run(&["apply", "--format", "json"]).await;
        assert_eq!(code, 0, "{context}:\n{out}\n{err}");
        let json: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["summary"]["close"], 0, "{context}: {out}");
        assert_eq!(json["summary"]["create"], 0, "{context}: {out}");
        let report = json["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["iid"] == into)
            .unwrap_or_else(|| panic!("{context}: no report of #{into} in {out}"));
        assert_eq!(report["action"], "drift", "{context}: {report}");
        assert!(
            report["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("#{from} stays the item's issue")),
            "{context}: {report}"
        );
        let issues = world.issues(PROJECT).await;
        assert_eq!(
            count(&issues, "opened"),
            2,
            "{context}: nothing closed or created"
        );
        assert_eq!(
            description(&world, into).await,
            pasted,
            "{context}: left alone"
        );
        second_apply_writes_nothing(&world).await;
    }
}

/// Case 4: a bullet with a lone carriage return (GitLab deletes every `\r`:
/// `lib/gitlab/quick_actions/extractor.rb`, `content.delete!("\r")`), one whose
/// continuation line is a marker-shaped HTML comment, one that starts with a no-break
/// space, trailing spaces, and a quick action behind a carriage return. Under
/// `enforce = true` each used to be rewritten, with a note, on every run; without it,
/// reported as drift on every run. The quick action must not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carriage_returns_and_marker_shaped_comments_write_nothing_on_the_second_run() {
    let page = "# PM\n\n## Duties\n\n\
                - Close the books\rmonthly\n\
                - Keep notes\n  <!-- handbook-sync {\"v\":1,\"page\":\"pm\"} -->\n  and more\n\
                - \u{a0}Start with a no-break space\n\
                - Trailing spaces   \n  here   \n\
                - Book the room\n  \r/close\n";
    for enforce in [true, false] {
        let world = premium(
            &page_toml("pm", "pm.md", PROJECT),
            &format!("[sync]\nenforce = {enforce}\n"),
        )
        .await;
        world.write_page("pm.md", page);
        world.apply_ok().await;
        let issues = world.issues(PROJECT).await;
        assert_eq!(issues.len(), 5, "enforce = {enforce}");
        assert_eq!(
            count(&issues, "opened"),
            5,
            "enforce = {enforce}: the `/close` behind a carriage return ran"
        );
        second_apply_writes_nothing(&world).await;
        let (code, out, _) = world.run(&["plan"]).await;
        assert_eq!(code, 0, "enforce = {enforce}:\n{out}");
        assert!(out.contains(" 0 drifted"), "enforce = {enforce}: {out}");
        for issue in world.issues(PROJECT).await {
            let notes = world
                .api(
                    Method::GET,
                    &format!("/projects/acme%2Froadmap/issues/{}/notes", issue["iid"]),
                    &[],
                )
                .await;
            assert_eq!(notes, json!([]), "enforce = {enforce}: a note on {issue}");
        }
    }
}

/// Case 4: `page_label_prefix` equal to `section_label_prefix` (or of the same scope, or
/// a managed label in a prefix's scope) makes two scoped labels of one scope on GitLab
/// Premium, which keeps one of them, and every run rewrites the labels (or loses the
/// managed label altogether). The configuration is refused before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_label_prefixes_are_a_configuration_error_naming_both_keys() {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page("pm.md", "# PM\n\n## Duties\n\n- Plan the roadmap\n");
    for (sync, keys) in [
        (
            "page_label_prefix = \"section::\"\nsection_label_prefix = \"section::\"",
            ["sync.page_label_prefix", "sync.section_label_prefix"],
        ),
        (
            "page_label_prefix = \"team::page \"\nsection_label_prefix = \"team::section \"",
            ["sync.page_label_prefix", "sync.section_label_prefix"],
        ),
        (
            "managed_label = \"handbook::sync\"",
            ["sync.managed_label", "sync.page_label_prefix"],
        ),
        (
            "handed_over_label = \"section::handed-over\"",
            ["sync.handed_over_label", "sync.section_label_prefix"],
        ),
    ] {
        world.write_config(
            &page_toml("pm", "pm.md", PROJECT),
            &format!("[sync]\n{sync}\n"),
        );
        for command in ["plan", "apply"] {
            let (code, out, err) = world.run(&[command]).await;
            assert_eq!(code, 3, "{sync}: {command}\n{out}\n{err}");
            for key in keys {
                assert!(err.contains(key), "{sync}: {key} not named in\n{err}");
            }
        }
    }
    assert!(world.issues(PROJECT).await.is_empty(), "nothing written");
}

/// A five-item page, applied.
async fn five_item_world() -> World {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), "").await;
    world.write_page(
        "pm.md",
        "# PM\n\n## Duties\n\n- Maintain the mailing lists\n- Plan the roadmap\n- Write the release post\n- Hold the weekly call\n- Answer the customers\n",
    );
    world.apply_ok().await;
    assert_eq!(world.issues(PROJECT).await.len(), 5);
    world
}

/// `plan` and `apply` refuse (exit 4) with nothing created, then `--allow-mass-create`
/// lets the creates through once.
async fn refused_until_allowed(world: &World, cause: &str) {
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("REFUSED") && out.contains(cause) && out.contains("--allow-mass-create"),
        "{out}"
    );
    let (code, out, _) = world.run(&["apply"]).await;
    assert_eq!(code, 4, "{out}");
    assert_eq!(world.issues(PROJECT).await.len(), 5, "nothing created");
    let (code, out, _) = world.run(&["apply", "--allow-mass-create"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(world.issues(PROJECT).await.len(), 10, "overridden once");
}

/// Case 6: renaming the managed label takes every issue of a five-item page out of
/// handbook-sync's sight. Before, the guard needed more than five creates, so every
/// item silently got a second issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_managed_label_on_a_five_item_page_is_refused() {
    let world = five_item_world().await;
    world
        .api(
            Method::PUT,
            "/projects/acme%2Froadmap/labels/handbook-sync",
            &[("new_name", "roadmap")],
        )
        .await;
    refused_until_allowed(&world, "renamed").await;
}

/// Case 6: a script (or a person) replaces every description of a five-item page
/// wholesale, markers and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wholesale_replaced_descriptions_on_a_five_item_page_are_refused() {
    let world = five_item_world().await;
    for iid in 1..=5 {
        set_description(&world, iid, "Rewritten by the quarterly planning script").await;
    }
    refused_until_allowed(&world, "markers").await;
}

const SIG: &str = "sig-Az8reSasS3cret";
const JWT: &str = "jwt-eyJhbGciOiJSecret";
const FOO: &str = "foo-Unl1stedSecret";

/// A handbook site serving `/pm.md` only with the three query parameters right, and
/// nothing else (404).
async fn signed_site() -> String {
    let site = axum::Router::new().route(
        "/pm.md",
        axum::routing::get(
            |query: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                let signed = query.get("sig").map(String::as_str) == Some(SIG)
                    && query.get("jwt").map(String::as_str) == Some(JWT)
                    && query.get("foo").map(String::as_str) == Some(FOO);
                if signed {
                    (
                        StatusCode::OK,
                        "# PM\n\n## Duties\n\n- Plan the roadmap\n".to_owned(),
                    )
                } else {
                    (StatusCode::FORBIDDEN, String::new())
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });
    url
}

/// Merge request !1 in `acme/other`, for `--merge-request-note`.
async fn merge_request(world: &World) {
    let api = Rest::new(&world.sandbox.url);
    let handbook = "/projects/acme%2Fother";
    let (status, body) = api
        .json(
            Method::POST,
            &format!("{handbook}/repository/commits"),
            &json!({"branch": "main", "commit_message": "Page",
                    "actions": [{"action": "create", "file_path": "pm.md", "content": "x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{handbook}/repository/branches"),
            &[("branch", "edit"), ("ref", "main")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .form(
            Method::POST,
            &format!("{handbook}/merge_requests"),
            &[
                ("source_branch", "edit"),
                ("target_branch", "main"),
                ("title", "Edit"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Case 7: a source URL signed with an Azure SAS `sig=`, a `jwt=` and a parameter of a
/// name nobody listed (`foo=`). Before, only names like `token` or `secret` were hidden:
/// these three were printed in plans, logs and the merge request comment. Now every
/// value is hidden unless its name is on the allow-list (`ref` here stays shown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sig_jwt_and_unlisted_parameters_of_a_source_url_are_never_printed() {
    let site = signed_site().await;
    let query = format!("ref=main&sig={SIG}&jwt={JWT}&foo={FOO}");
    let pages = format!(
        "[[pages]]\nid = \"pm\"\nsource = \"{site}/pm.md?{query}\"\nproject = \"{PROJECT}\"\nowner = \"sytses\"\n\n\
         [[pages]]\nid = \"gone\"\nsource = \"{site}/gone.md?{query}\"\nproject = \"acme/other\"\nowner = \"sytses\"\n"
    );
    let mut world = World::new(&pages, "").await;
    merge_request(&world).await;
    world.env("RUST_LOG", "trace");
    let mut outputs = Vec::new();
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown"],
        &["apply", "--log-format", "json"],
        &[
            "apply",
            "--format",
            "json",
            "--merge-request-note",
            "acme/other!1",
        ],
    ] {
        let (code, out, err) = world.run(args).await;
        assert_eq!(code, 1, "{args:?}: the second page fails\n{out}\n{err}");
        outputs.push((format!("{args:?} stdout"), out));
        outputs.push((format!("{args:?} stderr"), err));
    }
    let notes = world
        .api(
            Method::GET,
            "/projects/acme%2Fother/merge_requests/1/notes",
            &[],
        )
        .await;
    assert_eq!(notes.as_array().unwrap().len(), 1, "the note was posted");
    outputs.push(("the merge request note".into(), notes.to_string()));

    assert_eq!(world.issues(PROJECT).await.len(), 1, "the page was read");
    assert!(
        outputs
            .iter()
            .any(|(_, text)| text.contains("/gone.md?ref=main&sig=REDACTED")),
        "the failing source is named, its harmless `ref` shown"
    );
    for (name, text) in &outputs {
        for secret in [SIG, JWT, FOO, TOKEN] {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
    }
}

/// Real trackers hold markers of the format every version so far wrote, and issues
/// earlier versions duplicated on every run for a bullet holding an end line. After the
/// upgrade, an issue of an ordinary bullet is not written at all; the duplicates of the
/// documenting bullet are recognised again: the oldest stays (rewritten once, escaped),
/// the others are closed as duplicates, and the next apply writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_written_by_earlier_versions_are_recognised_and_their_duplicates_closed_once() {
    use handbook_sync::sync::marker;
    let world = premium(&page_toml("doc", "doc.md", PROJECT), "").await;
    world.write_page(
        "doc.md",
        "# Docs\n\n## Duties\n\n- Keep the roadmap public\n- Explain that `<!-- handbook-sync:end -->` ends the block\n",
    );
    world.apply_ok().await;
    let mut issues = world.issues(PROJECT).await;
    assert_eq!(issues.len(), 2);
    // Created at once: the ordinary bullet's issue first here, whichever iid it got.
    issues.sort_by_key(|i| i["title"] != "Keep the roadmap public");
    let doc = issues[1]["iid"].as_u64().unwrap();
    // The documenting bullet's issue as versions before the escape wrote it: the end
    // line raw in the body, the marker's hash of that block.
    let written = description(&world, doc).await;
    let parsed = marker::parse(&written).unwrap();
    let raw_block = parsed
        .block
        .replace("<!--\u{200B} handbook-sync", "<!-- handbook-sync");
    assert_ne!(raw_block, parsed.block, "the new block is escaped");
    let old_marker = marker::Marker {
        block: marker::hash(&raw_block),
        ..parsed.marker.clone().unwrap()
    };
    let legacy = marker::render("", &raw_block, &old_marker, "");
    assert!(
        marker::parse(&legacy).is_some_and(|p| p.marker.is_some()),
        "recognised again"
    );
    set_description(&world, doc, &legacy).await;
    let labels = issues[1]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(",");
    // Two more runs of an earlier version: two more issues just like it.
    for _ in 0..2 {
        world
            .api(
                Method::POST,
                "/projects/acme%2Froadmap/issues",
                &[
                    ("title", issues[1]["title"].as_str().unwrap()),
                    ("description", &legacy),
                    ("labels", &labels),
                ],
            )
            .await;
    }
    let before = world.issues(PROJECT).await;
    assert_eq!(before.len(), 4);

    let (code, out, err) = world.run(&["apply", "--format", "json"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["summary"]["create"], 0, "{out}");
    assert_eq!(json["summary"]["close"], 2, "{out}");
    assert_eq!(json["summary"]["update"], 1, "{out}");
    let after = world.issues(PROJECT).await;
    assert_eq!(after.len(), 4);
    let ordinary = issues[0]["iid"].as_u64().unwrap();
    let by_iid = |list: &[Value], iid: u64| list.iter().find(|i| i["iid"] == iid).cloned();
    assert_eq!(
        by_iid(&after, ordinary),
        by_iid(&before, ordinary),
        "the ordinary bullet's issue is not written"
    );
    assert_eq!(by_iid(&after, doc).unwrap()["state"], "opened");
    assert_eq!(
        description(&world, doc).await,
        written,
        "rewritten once, escaped"
    );
    assert_eq!(
        count(&after[2..], "closed"),
        2,
        "the copies closed as duplicates"
    );
    second_apply_writes_nothing(&world).await;
}
