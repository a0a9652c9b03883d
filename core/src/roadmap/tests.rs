//! The roadmap from a small fixture: its JSON and HTML (snapshots), its counters against
//! `status`, hostile titles, the burn-up, file names and the palette's contrast.

use chrono::{DateTime, TimeZone as _, Utc};

use super::*;
use crate::sync::marker::Marker;

fn labels() -> Labels {
    Labels {
        managed_label: "handbook-sync".into(),
        page_label_prefix: "handbook::".into(),
        section_label_prefix: "section::".into(),
        handed_over_label: "handed-over".into(),
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn person(username: &str, name: &str) -> Person {
    Person {
        username: username.into(),
        name: name.into(),
    }
}

/// An issue handbook-sync manages, as GitLab would answer it.
struct Fixture {
    iid: u64,
    title: &'static str,
    key: &'static str,
    section: Option<&'static str>,
    status: MarkerStatus,
    assignee: Option<&'static str>,
    reason: Option<&'static str>,
    closed: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
}

impl Fixture {
    fn issue(&self, page: &str) -> TrackedIssue {
        let marker = Marker {
            v: 1,
            page: page.into(),
            key: self.key.into(),
            title: self.title.into(),
            status: self.status,
            state: Some(if self.closed.is_some() {
                IssueState::Closed
            } else {
                IssueState::Opened
            }),
            assignee: self.assignee.map(Into::into),
            labels: Vec::new(),
            block: String::new(),
            since: None,
        };
        let block = match self.reason {
            Some(reason) => format!("Body\n\n---\nSource: PM\n\n{reason}"),
            None => "Body\n\n---\nSource: PM".to_owned(),
        };
        let mut labels = vec!["handbook-sync".to_owned(), format!("handbook::{page}")];
        if let Some(section) = self.section {
            labels.push(format!("section::{section}"));
        }
        TrackedIssue::new(
            self.iid,
            self.title.into(),
            &marker::render("", &block, &marker, ""),
            if self.closed.is_some() {
                IssueState::Closed
            } else {
                IssueState::Opened
            },
            labels,
            self.assignee
                .map(|u| {
                    vec![person(
                        u,
                        &format!("{}{} Example", u[..1].to_uppercase(), &u[1..]),
                    )]
                })
                .unwrap_or_default(),
            format!(
                "https://gitlab.example.com/acme/roadmap/-/issues/{}",
                self.iid
            ),
            self.created,
            self.closed,
            false,
        )
    }
}

fn fixture(title_of_first: &'static str) -> Vec<TrackedIssue> {
    let f = |iid, title, key, section, status, assignee, reason, closed, created| Fixture {
        iid,
        title,
        key,
        section,
        status,
        assignee,
        reason,
        closed,
        created,
    };
    use MarkerStatus::*;
    [
        f(
            1,
            title_of_first,
            "plan",
            Some("Direction"),
            Active,
            Some("sytses"),
            None,
            None,
            at(1, 9),
        ),
        f(
            2,
            "Ship it",
            "ship-it",
            Some("Direction"),
            Done,
            Some("sytses"),
            Some("Done (ticked in the handbook) on 2026-03-03."),
            Some(at(3, 10)),
            at(1, 9),
        ),
        f(
            3,
            "Maintain the docs site",
            "docs",
            Some("Marketing"),
            HandedOver,
            Some("drew"),
            Some("Handed over to @drew on 2026-03-02."),
            Some(at(2, 12)),
            at(1, 9),
        ),
        f(
            4,
            "Reply to comments",
            "comments",
            Some("Marketing"),
            HandedOver,
            None,
            Some("Handed over to Forwarded to service engineers on 2026-03-02."),
            Some(at(2, 12)),
            at(1, 9),
        ),
        // A duplicate the sync closed: the open issue with the same key counts.
        f(
            5,
            "Plan the roadmap",
            "plan",
            Some("Direction"),
            Active,
            Some("sytses"),
            None,
            Some(at(2, 8)),
            at(1, 10),
        ),
        // An item removed from the handbook: not counted.
        f(
            6,
            "Old duty",
            "old",
            Some("Marketing"),
            Removed,
            None,
            Some("Removed from the handbook on 2026-03-02."),
            Some(at(2, 12)),
            at(1, 9),
        ),
        // An issue added later, in a section above the others in the page.
        f(
            7,
            "Say hello",
            "hello",
            None,
            Active,
            None,
            None,
            None,
            at(4, 9),
        ),
        // Another page's issue in the same project.
        f(
            8,
            "Not ours",
            "plan",
            Some("Direction"),
            Active,
            None,
            None,
            None,
            at(1, 9),
        ),
    ]
    .iter()
    .map(|fx| fx.issue(if fx.iid == 8 { "other" } else { "pm" }))
    .collect()
}

fn order() -> PageOrder {
    PageOrder {
        title: "Product Manager".into(),
        items: vec![
            ("hello".into(), NO_SECTION.into()),
            ("docs".into(), "Marketing".into()),
            ("comments".into(), "Marketing".into()),
            ("ship-it".into(), "Direction".into()),
            ("plan".into(), "Direction".into()),
        ],
    }
}

fn roadmap_of(issues: &[TrackedIssue]) -> Roadmap {
    build(
        &[PageInput {
            id: "pm".into(),
            project: "acme/roadmap".into(),
            project_url: "https://gitlab.example.com/acme/roadmap".into(),
            url: Some("https://handbook.example.com/pm/".into()),
            order: Some(order()),
            issues,
        }],
        &labels(),
        at(5, 12),
    )
}

#[test]
fn the_counters_are_statuses_and_sections_and_items_follow_the_page() {
    let issues = fixture("Plan the roadmap");
    let roadmap = roadmap_of(&issues);
    let observed: Vec<_> = issues.iter().map(|t| t.issue.clone()).collect();
    let status = crate::status::page_progress("section::", "pm", "acme/roadmap", &observed);
    let page = &roadmap.pages[0];
    assert_eq!(
        (page.total, page.open, page.closed, page.handed_over),
        (status.total, status.open, status.closed, status.handed_over)
    );
    assert_eq!(
        (page.total, page.open, page.closed, page.handed_over),
        (5, 2, 3, 2)
    );
    let names: Vec<_> = page.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [NO_SECTION, "Marketing", "Direction"]);
    for s in &status.sections {
        let mine = page.sections.iter().find(|m| m.name == s.name).unwrap();
        assert_eq!(
            (mine.total, mine.open, mine.closed),
            (s.total, s.open, s.closed)
        );
        assert_eq!(mine.items.len(), mine.total);
    }
    let keys: Vec<_> = page
        .sections
        .iter()
        .flat_map(|s| s.items.iter().map(|i| i.key.as_str()))
        .collect();
    assert_eq!(keys, ["hello", "docs", "comments", "ship-it", "plan"]);
    let plan = &page.sections[2].items[1];
    assert_eq!(
        plan.iid, 1,
        "the open issue counts, not the closed duplicate"
    );
    let marketing = &page.sections[1];
    assert_eq!(marketing.handed_over, 2);
    let to: Vec<_> = marketing
        .items
        .iter()
        .map(|i| i.handed_over_to.as_deref())
        .collect();
    assert_eq!(
        to,
        [Some("Drew Example"), Some("Forwarded to service engineers")]
    );
}

#[test]
fn without_the_page_the_title_is_the_id_and_the_order_the_trackers() {
    let issues = fixture("Plan the roadmap");
    let roadmap = build(
        &[PageInput {
            id: "pm".into(),
            project: "acme/roadmap".into(),
            project_url: "https://gitlab.example.com/acme/roadmap".into(),
            url: None,
            order: None,
            issues: &issues,
        }],
        &labels(),
        at(5, 12),
    );
    let page = &roadmap.pages[0];
    assert_eq!(page.title, "pm");
    let names: Vec<_> = page.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Direction", "Marketing", NO_SECTION]);
}

#[test]
fn the_json_and_html_of_the_fixture() {
    let roadmap = roadmap_of(&fixture("Plan the roadmap"));
    let files = render(&roadmap);
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["index.html", "pages/pm.html", "roadmap.json"]);
    insta::assert_snapshot!("roadmap_json", files[2].body);
    insta::assert_snapshot!("index_html", pretty(&files[0].body));
    insta::assert_snapshot!("page_html", pretty(&files[1].body));
}

/// One tag per line, so that a snapshot's diff shows what changed.
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}

/// The tags of a document in order, with their attribute names: text and attribute
/// values are left out. maud escapes `<`, `>`, `&` and `"` in both, so every `<` of
/// the output begins a tag written by the template.
fn tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("a closed tag");
        let tag = &rest[start + 1..end];
        let mut shape = String::new();
        let mut in_value = false;
        for c in tag.chars() {
            if c == '"' {
                in_value = !in_value;
                continue;
            }
            if !in_value {
                shape.push(c);
            }
        }
        out.push(shape);
        rest = &rest[end + 1..];
    }
    out
}

#[test]
fn hostile_titles_and_urls_are_inert_text() {
    let hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>&amp;";
    // The same roadmap twice, once with hostile text: the tags must be the same. Both
    // have a `javascript:` issue URL and no page URL, so that the links are the same.
    let with_title = |title: &'static str| {
        let mut issues = fixture(title);
        issues[0].web_url = "javascript:alert(3)".into();
        let mut roadmap = roadmap_of(&issues);
        roadmap.pages[0].url = None;
        roadmap
    };
    let benign = with_title("Plan the roadmap");
    let mut attacked = with_title(hostile);
    attacked.pages[0].title = hostile.into();
    attacked.pages[0].sections[2].name = hostile.into();
    let (good, bad) = (render(&benign), render(&attacked));
    for (g, b) in good
        .iter()
        .zip(&bad)
        .filter(|(g, _)| g.path.ends_with(".html"))
    {
        assert_eq!(
            tags(&g.body),
            tags(&b.body),
            "{}: hostile text made or removed a tag",
            g.path
        );
        assert!(!b.body.contains("<script"), "{}", b.path);
        assert!(!b.body.contains("<img"), "{}", b.path);
        assert!(
            !b.body.contains("javascript:"),
            "{}: a javascript: URL is never linked",
            b.path
        );
    }
    let page = &bad[1].body;
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        page.contains("&amp;amp;"),
        "an entity in a title is shown, not decoded"
    );
    // A page URL that is not http(s) is not linked either.
    attacked.pages[0].url = Some("javascript:alert(4)".into());
    assert!(!render(&attacked)[1].body.contains("javascript:"));
    // JSON carries the text as it is, as data.
    let json: serde_json::Value = serde_json::from_str(&bad[2].body).unwrap();
    assert_eq!(
        json["pages"][0]["sections"][2]["items"][1]["title"],
        hostile
    );
}

#[test]
fn a_confidential_issue_is_counted_and_nothing_of_it_is_published() {
    let mut issues = fixture("Acquire Initech quietly");
    let open = roadmap_of(&issues);
    // Issue #3, handed over to drew, made confidential too.
    issues[0].confidential = true;
    issues[2].confidential = true;
    let roadmap = roadmap_of(&issues);
    let (a, b) = (&open.pages[0], &roadmap.pages[0]);
    assert_eq!(
        (a.total, a.open, a.closed, a.handed_over),
        (b.total, b.open, b.closed, b.handed_over)
    );
    for file in render(&roadmap) {
        for secret in ["Initech", "Drew Example", "\"docs\"", "Maintain the docs"] {
            assert!(!file.body.contains(secret), "{}: {secret}", file.path);
        }
    }
    let item = &b.sections[2].items[1];
    assert_eq!(
        (item.iid, item.title.as_str(), item.key.as_str()),
        (1, CONFIDENTIAL_TITLE, "")
    );
    assert!(item.confidential && item.assignees.is_empty());
    assert_eq!(b.sections[1].items[0].handed_over_to, None);
}

#[test]
fn every_page_forbids_scripts_and_outside_resources() {
    for file in render(&roadmap_of(&fixture("Plan the roadmap"))) {
        if !file.path.ends_with(".html") {
            continue;
        }
        assert!(
            file.body
                .contains("content=\"default-src 'none'; style-src 'unsafe-inline'")
        );
        for outside in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!file.body.contains(outside), "{}: {outside}", file.path);
        }
    }
}

#[test]
fn headings_come_in_order_and_charts_have_text() {
    let files = render(&roadmap_of(&fixture("Plan the roadmap")));
    for file in files.iter().filter(|f| f.path.ends_with(".html")) {
        let levels: Vec<u32> = tags(&file.body)
            .iter()
            .filter_map(|t| t.strip_prefix('h')?.get(..1)?.parse().ok())
            .collect();
        assert_eq!(levels.first(), Some(&1), "{}", file.path);
        assert!(
            levels.windows(2).all(|w| w[1] <= w[0] + 1),
            "{}: a heading level is skipped: {levels:?}",
            file.path
        );
        for landmark in ["<header", "<nav aria-label", "<main", "<footer"] {
            assert!(file.body.contains(landmark), "{}: {landmark}", file.path);
        }
    }
    let page = &files[1].body;
    assert!(page.contains("role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
    assert!(page.contains("<title id=\"chart-title\">Burn-up of Product Manager</title>"));
    assert!(page.contains(
        "<desc id=\"chart-desc\">From 2026-02-28 to 2026-03-05: 5 issues in total and 3 closed on 2026-03-05.</desc>"
    ));
    assert!(
        page.contains("<caption>"),
        "a table holds the chart's numbers"
    );
}

#[test]
fn the_burn_up_steps_on_the_days_things_happened() {
    let roadmap = roadmap_of(&fixture("Plan the roadmap"));
    let series: Vec<_> = roadmap.pages[0]
        .burn_up
        .iter()
        .map(|p| (p.date.as_str(), p.total, p.closed))
        .collect();
    assert_eq!(
        series,
        [
            ("2026-02-28", 0, 0),
            ("2026-03-01", 4, 0),
            ("2026-03-02", 4, 2),
            ("2026-03-03", 4, 3),
            ("2026-03-04", 5, 3),
            ("2026-03-05", 5, 3),
        ]
    );
    assert!(burn_up(std::iter::empty(), at(5, 12)).is_empty());
    // A closed issue GitLab gave no closed_at counts as closed when the data was read.
    let mut issues = fixture("Plan the roadmap");
    issues[1].closed_at = None;
    let roadmap = roadmap_of(&issues);
    let last = roadmap.pages[0].burn_up.last().unwrap();
    assert_eq!((last.total, last.closed), (5, 3));
    assert_eq!(roadmap.pages[0].burn_up[3].closed, 2);
}

#[test]
fn file_names_stay_in_pages_and_differ_without_case() {
    assert_eq!(
        file_names(["pm", "PM", "pm-2", "..", "ドキュメント"].into_iter()),
        [
            "pages/pm.html",
            "pages/PM-2.html",
            "pages/pm-2-2.html",
            "pages/...html",
            "pages/ドキュメント.html"
        ]
    );
}

#[test]
fn links_to_pages_are_percent_encoded_and_outside_links_only_http() {
    assert_eq!(
        html::site_href("pages/ドキュメント.html"),
        "pages/%E3%83%89%E3%82%AD%E3%83%A5%E3%83%A1%E3%83%B3%E3%83%88.html"
    );
    assert_eq!(
        html::site_href("pages/pm_1.x-2.html"),
        "pages/pm_1.x-2.html"
    );
    for (url, linked) in [
        ("https://gitlab.example.com/a/b/-/issues/1", true),
        ("http://127.0.0.1:8080/a/b/-/issues/1", true),
        ("javascript:alert(1)", false),
        ("data:text/html,<script>", false),
        ("//evil.example.com/x", false),
        ("not a url", false),
    ] {
        assert_eq!(html::safe_href(url).is_some(), linked, "{url}");
    }
}

#[test]
fn the_reason_line_names_whom_a_non_user_item_went_to() {
    assert_eq!(
        handed_over_name(
            "Body\n\n---\nSource: x\n\nHanded over to Forwarded to service engineers on 2026-11-27."
        ),
        Some("Forwarded to service engineers".into())
    );
    assert_eq!(
        handed_over_name("Handed over to @drew on 2026-11-27."),
        None
    );
    assert_eq!(handed_over_name("Handed over on 2026-11-27."), None);
    assert_eq!(
        handed_over_name("Handed over to a person on someday."),
        None
    );
}

#[test]
fn text_and_bars_have_enough_contrast_in_both_schemes() {
    for (scheme, p) in [("light", Palette::LIGHT), ("dark", Palette::DARK)] {
        for ground in [p.background, p.surface] {
            // WCAG 1.4.3: text at least 4.5:1, on the page and on cards. The state
            // badges are text in the done and handed-over colours.
            for (what, colour) in [
                ("text", p.text),
                ("muted", p.muted),
                ("link", p.link),
                ("done", p.done),
                ("handed over", p.handed_over),
            ] {
                let ratio = contrast_ratio(colour, ground).unwrap();
                assert!(
                    ratio >= 4.5,
                    "{scheme}: {what} {colour} on {ground}: {ratio:.2}"
                );
            }
            // WCAG 1.4.11: parts of graphics at least 3:1 against what is next to them.
            for (what, colour) in [("chart total", p.total), ("chart closed", p.done)] {
                let ratio = contrast_ratio(colour, ground).unwrap();
                assert!(
                    ratio >= 3.0,
                    "{scheme}: {what} {colour} on {ground}: {ratio:.2}"
                );
            }
        }
        for (what, colour) in [("done", p.done), ("handed over", p.handed_over)] {
            let ratio = contrast_ratio(colour, p.track).unwrap();
            assert!(
                ratio >= 3.0,
                "{scheme}: bar {what} {colour} on the track: {ratio:.2}"
            );
        }
    }
    assert!((contrast_ratio("#000000", "#ffffff").unwrap() - 21.0).abs() < 1e-9);
    assert_eq!(contrast_ratio("red", "#ffffff"), None);
}

/// A right-to-left override (U+202E) in a title, a section, a project or a person's
/// display name (anyone sets their own on GitLab) reorders the text after it on the same
/// line: "#3 open · Assigned to …" could be made to read as something else. Every such
/// text is shown inside its own `<bdi>`, which ends the override where the text ends.
#[test]
fn bidi_overrides_in_texts_stay_inside_them() {
    const RLO: &str = "\u{202E}";
    let mut issues = fixture("\u{202E}Plan the roadmap");
    for issue in &mut issues {
        for person in &mut issue.assignees {
            person.name = format!("{RLO}{}", person.name);
        }
    }
    let mut roadmap = roadmap_of(&issues);
    roadmap.pages[0].title = format!("{RLO}Product Manager");
    roadmap.pages[0].project = format!("{RLO}acme/roadmap");
    for section in &mut roadmap.pages[0].sections {
        section.name = format!("{RLO}{}", section.name);
        for item in &mut section.items {
            if let Some(to) = item.handed_over_to.as_mut().filter(|t| !t.starts_with(RLO)) {
                *to = format!("{RLO}{to}");
            }
        }
    }
    let mut shown = 0;
    for file in render(&roadmap)
        .iter()
        .filter(|f| f.path.ends_with(".html"))
    {
        let body = &file.body;
        for (at, _) in body.match_indices(RLO) {
            let (before, after) = (&body[..at], &body[at..]);
            let opened = before.rfind('<').unwrap();
            if before.rfind('>').is_none_or(|closed| closed < opened) {
                continue; // inside a tag: an attribute value, never shown as text
            }
            let tag = &before[opened..];
            if tag.starts_with("<title") {
                continue; // the document's and the chart's title, not laid out in a line
            }
            assert!(
                tag.starts_with("<bdi>") && after[after.find('<').unwrap()..].starts_with("</bdi>"),
                "{}: text with an override outside its own <bdi>: …{}…",
                file.path,
                &body[opened.saturating_sub(60)..(at + 60).min(body.len())]
            );
            shown += 1;
        }
    }
    // Page title (index, crumb, h1), project (both files), sections, titles, names.
    assert!(shown >= 10, "{shown}");
}
