//! Every real handbook page in `tests/data/corpus/` parses, and what it gives is pinned.
//!
//! The invariants are checked against the raw text with a deliberately simple line
//! scanner written here, not with the parser under test, so that the two can disagree.

use crate::common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use handbook_sync::parse::{ItemStatus as Status, MAX_TITLE_CHARS, ParseOptions, parse_page};

fn corpus_pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut pages = Vec::new();
    walk(&common::data_dir().join("corpus"), &mut pages);
    pages.sort();
    assert!(pages.len() >= 50, "the corpus has {} pages", pages.len());
    pages
}

/// What a line of the raw file is, by a scanner that knows fences, comments and tables.
#[derive(Clone, Copy, PartialEq, Debug)]
enum LineKind {
    Code,
    Comment,
    Table,
    Other,
}

fn classify_lines(text: &str) -> Vec<LineKind> {
    let mut kinds = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut in_comment = false;
    for line in text.lines() {
        let t = line.trim_start();
        let run = |c: char| t.chars().take_while(|&x| x == c).count();
        let kind = if let Some((c, n)) = fence {
            if run(c) >= n && t.trim_end().chars().all(|x| x == c) {
                fence = None;
            }
            LineKind::Code
        } else if in_comment || t.starts_with("<!--") {
            in_comment = !line.contains("-->");
            LineKind::Comment
        } else if run('`') >= 3 || run('~') >= 3 {
            let c = t.chars().next().unwrap();
            fence = Some((c, run(c)));
            LineKind::Code
        } else if t.starts_with('|') {
            LineKind::Table
        } else {
            LineKind::Other
        };
        kinds.push(kind);
    }
    kinds
}

fn starts_with_list_marker(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches('>').trim_start();
    let bullet =
        t.starts_with(['-', '*', '+']) && t[1..].chars().next().is_none_or(char::is_whitespace);
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let ordered = digits > 0 && t[digits..].starts_with(['.', ')']);
    bullet || ordered
}

#[test]
fn every_corpus_page_parses_within_the_invariants_and_counts_are_pinned() {
    let corpus = common::data_dir().join("corpus");
    let mut summary = String::new();
    let mut total = 0;
    for path in corpus_pages() {
        let name = path.strip_prefix(&corpus).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let page = parse_page(
            &text,
            &ParseOptions {
                page_id: "corpus".into(),
                ..Default::default()
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        let kinds = classify_lines(&text);

        assert!(!page.title.trim().is_empty(), "{name}: empty page title");
        let mut keys = std::collections::HashSet::new();
        for item in &page.items {
            let at = format!("{name}:{}", item.line);
            assert!(!item.title.trim().is_empty(), "{at}: empty title");
            assert!(
                item.title.chars().count() <= MAX_TITLE_CHARS,
                "{at}: title too long"
            );
            assert!(
                keys.insert(item.key.clone()),
                "{at}: duplicate key {}",
                item.key
            );
            assert_ne!(item.title, "TOC", "{at}: a TOC marker became an item");
            let line = lines[item.line - 1];
            assert!(
                starts_with_list_marker(line),
                "{at}: item line is not a list item: {line:?}"
            );
            assert_eq!(
                kinds[item.line - 1],
                LineKind::Other,
                "{at}: item taken from {:?}: {line:?}",
                kinds[item.line - 1]
            );
        }
        let count = |s: Status| page.items.iter().filter(|i| i.status == s).count();
        total += page.items.len();
        let _ = writeln!(
            summary,
            "{name}: {} items ({} active, {} done, {} handed over)",
            page.items.len(),
            count(Status::Active),
            count(Status::Done),
            count(Status::HandedOver)
        );
    }
    let _ = writeln!(summary, "total: {total} items");
    insta::assert_snapshot!("corpus_items", summary);
}

#[test]
fn the_line_scanner_used_above_sees_fences_comments_and_tables() {
    let kinds =
        classify_lines("- a\n```\n- b\n```\n<!--\n- c\n-->\n| - d |\n~~~~\n```\n~~~~\n- e\n");
    use LineKind::*;
    assert_eq!(
        kinds,
        [
            Other, Code, Code, Code, Comment, Comment, Comment, Table, Code, Code, Code, Other
        ]
    );
}
