//! `handbook-sync parse` as a user runs it: the binary as a process.

use crate::common;

use std::collections::BTreeMap;

use common::{pm_page_path, run, stderr, stdout};
use serde_json::Value;

fn pm_page() -> String {
    pm_page_path().display().to_string()
}

fn parse_json(args: &[&str]) -> Value {
    let output = run(args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("parse --format json prints JSON")
}

#[test]
fn product_manager_page_gives_the_fifty_items_of_the_handbook() {
    let page = parse_json(&["parse", &pm_page(), "--format", "json"]);
    assert_eq!(page["title"], "Product Manager Responsibilities and Tasks");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);

    let mut per_section: Vec<(String, usize)> = Vec::new();
    for item in items {
        let section = item["section"].as_array().unwrap();
        assert_eq!(section.len(), 1);
        let name = section[0].as_str().unwrap().to_owned();
        match per_section.last_mut() {
            Some((last, n)) if *last == name => *n += 1,
            _ => per_section.push((name, 1)),
        }
    }
    let expected = [
        ("Development direction", 10),
        ("Public information", 9),
        ("Customer relations", 4),
        ("Marketing", 7),
        ("Internal", 3),
        ("Things I'm doing that I shouldn't be doing", 17),
    ];
    let expected: Vec<(String, usize)> =
        expected.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(per_section, expected);

    let mut statuses = BTreeMap::new();
    for item in items {
        *statuses
            .entry(item["status"].as_str().unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([("active", 43), ("handed_over", 7)])
    );

    let owners: Vec<&str> = items.iter().filter_map(|i| i["owner"].as_str()).collect();
    assert_eq!(
        owners,
        [
            "Drew",
            "Andriy",
            "Forwarded to service engineers",
            "Forwarded to service engineers",
            "Ashley",
            "Ashley",
            "Ashley"
        ]
    );
    assert!(
        items
            .iter()
            .filter(|i| i["owner"].is_string())
            .all(|i| i["status"] == "handed_over")
    );
}

#[test]
fn lazy_continuation_lines_are_joined_and_lines_are_one_based() {
    let page = parse_json(&["parse", &pm_page(), "--format", "json"]);
    let items = page["items"].as_array().unwrap();
    let find = |prefix: &str| {
        items
            .iter()
            .find(|i| i["title"].as_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    let battlecards = find("Make sure the CE/EE comparison");
    assert_eq!(
        battlecards["title"],
        "Make sure the CE/EE comparison, GitHub comparison and battlecards are up to date"
    );
    assert_eq!(battlecards["line"], 26);
    let strengths = find("Ensure that we communicate our product strengths");
    assert!(strengths["title"].as_str().unwrap().ends_with(
        "sales playbook, conferences, webinars, etc.) together with the VP of Marketing"
    ));
    assert_eq!(items[0]["line"], 10);
}

#[test]
fn page_url_makes_relative_links_absolute() {
    let url = "https://about.gitlab.com/jobs/product-manager/";
    let page = parse_json(&["parse", &pm_page(), "--format", "json", "--page-url", url]);
    let items = page["items"].as_array().unwrap();
    let last_public = items
        .iter()
        .rfind(|i| i["section"][0] == "Public information")
        .unwrap();
    assert_eq!(
        last_public["body"],
        "Make [/direction](https://about.gitlab.com/direction) a high level roadmap (can link to issues on .com)"
    );
}

#[test]
fn every_item_has_the_documented_json_fields() {
    let page = parse_json(&["parse", &pm_page(), "--format", "json"]);
    for item in page["items"].as_array().unwrap() {
        let mut fields: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["body", "key", "line", "owner", "section", "status", "title"]
        );
        assert!(item["line"].is_u64() && item["section"].is_array() && item["key"].is_string());
    }
}

#[test]
fn text_output_groups_items_by_section() {
    let output = run(&["parse", &pm_page()]);
    assert!(output.status.success());
    insta::assert_snapshot!("product_manager_text", stdout(&output));
}

#[test]
fn missing_page_is_one_clear_line_and_exit_1() {
    let output = run(&["parse", "/nonexistent/handbook.md"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/nonexistent/handbook.md") && err.contains("No such file"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn non_utf8_and_directory_pages_are_refused_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("hs-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("latin1.md");
    std::fs::write(&bad, b"- caf\xe9\n").unwrap();
    let output = run(&["parse", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("latin1.md") && err.contains("not valid UTF-8") && err.contains("offset 5"),
        "{err}"
    );

    let output = run(&["parse", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("directory"), "{}", stderr(&output));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_explains_the_parse_command() {
    let output = run(&["parse", "--help"]);
    assert!(output.status.success());
    let help = stdout(&output);
    assert!(
        help.contains("--page-url") && help.contains("--format") && help.contains("handed_over"),
        "{help}"
    );
}
