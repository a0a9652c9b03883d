//! Invariants of the parser over generated pages.

use handbook_sync::parse::{ParseOptions, parse_page};
use proptest::prelude::*;

fn parse(text: &str) -> handbook_sync::parse::Page {
    parse_page(
        text,
        &ParseOptions {
            page_id: "prop".into(),
            ..Default::default()
        },
    )
}

/// Words that are plain text in Markdown (no markup characters, no arrows), in letters
/// whose case round-trips (`ß` upper-cases to `SS`: a different spelling, not a case).
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9äöüéÄÖÜÉ]{1,10}"
}

fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 1..12)
}

/// A page with one section of filler items around the item under test.
fn page_with(section: &str, item_lines: &str) -> String {
    format!(
        "# Page\n\n## Other\n\n- filler one\n\n## {section}\n\n- before it\n{item_lines}\n- after it\n"
    )
}

/// The key of the item under test: the one between "before it" and "after it".
fn key_of(page: &str) -> String {
    let parsed = parse(page);
    let titles: Vec<&str> = parsed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles.len(), 4, "{page:?} gave {titles:?}");
    assert_eq!((titles[1], titles[3]), ("before it", "after it"));
    parsed.items[2].key.clone()
}

proptest! {
    #[test]
    fn rewrapping_lines_keeps_the_key(ws in words(), breaks in prop::collection::vec(any::<bool>(), 12), lazy in any::<bool>()) {
        let one_line = format!("- {}", ws.join(" "));
        let mut wrapped = String::from("-");
        for (i, w) in ws.iter().enumerate() {
            if i > 0 && breaks[i] {
                wrapped.push('\n');
                if !lazy { wrapped.push_str("  "); }
            } else {
                wrapped.push_str(if i % 2 == 0 { " " } else { "   " });
            }
            wrapped.push_str(w);
        }
        prop_assert_eq!(key_of(&page_with("S", &one_line)), key_of(&page_with("S", &wrapped)));
    }

    #[test]
    fn changing_case_or_emphasis_keeps_the_key(ws in words(), styles in prop::collection::vec(0..6u8, 12), upper in any::<bool>()) {
        let plain = format!("- {}", ws.join(" "));
        let styled: Vec<String> = ws.iter().zip(&styles).map(|(w, s)| {
            let w = if upper { w.to_uppercase() } else { w.to_lowercase() };
            match s {
                0 => format!("*{w}*"),
                1 => format!("**{w}**"),
                2 => format!("`{w}`"),
                3 => format!("[{w}](/some/link)"),
                4 => format!("_{w}_"),
                _ => w,
            }
        }).collect();
        let styled = format!("- {}", styled.join(" "));
        prop_assert_eq!(key_of(&page_with("S", &plain)), key_of(&page_with("S", &styled)));
    }

    #[test]
    fn moving_to_another_section_keeps_the_key(ws in words(), a in word(), b in word()) {
        let item = format!("- {}", ws.join(" "));
        prop_assert_eq!(key_of(&page_with(&a, &item)), key_of(&page_with(&b, &item)));
    }

    #[test]
    fn identical_bullets_get_distinct_keys(ws in words(), n in 2..6usize) {
        let item = format!("- {}\n", ws.join(" "));
        let page = parse(&item.repeat(n));
        prop_assert_eq!(page.items.len(), n);
        let mut keys: Vec<_> = page.items.iter().map(|i| i.key.clone()).collect();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), n);
    }

    /// Arbitrary text, and text built from the pieces of Markdown that trip parsers,
    /// never panics and always keeps the page invariants.
    #[test]
    fn any_markdown_parses_within_the_invariants(text in markdownish()) {
        check_invariants(&text);
    }

    #[test]
    fn any_unicode_parses_within_the_invariants(text in "\\PC{0,400}") {
        check_invariants(&text);
    }
}

fn markdownish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "- ",
        "* ",
        "+ ",
        "1. ",
        "2) ",
        "  ",
        "    ",
        "\t",
        "\n",
        "\n\n",
        "# ",
        "## ",
        "### ",
        "~~",
        "~",
        "=> ",
        "-> ",
        "→ ",
        "[ ] ",
        "[x] ",
        "```",
        "~~~",
        "<!--",
        "-->",
        "<div>",
        "</div>",
        "|",
        "---",
        "+++",
        "> ",
        "`",
        "*",
        "**",
        "_",
        "[",
        "](",
        ")",
        "/rel",
        "http://x.y/",
        "{:toc}",
        "TOC",
        "<%= x %>",
        "{{< y >}}",
        "title: t",
        "word",
        "Wörter",
        "日本語",
        "é",
        "\r\n",
        "\\",
        "&amp;",
        "![",
        "[^1]",
        "[r]: /x",
    ]);
    prop::collection::vec(pieces, 0..80).prop_map(|p| p.concat())
}

fn check_invariants(text: &str) {
    let options = ParseOptions {
        page_id: "p".into(),
        page_url: Some(url::Url::parse("https://example.org/handbook/page/").unwrap()),
        ..Default::default()
    };
    let page = parse_page(text, &options);
    assert!(!page.title.is_empty());
    let line_count = text.split('\n').count();
    let mut keys = std::collections::HashSet::new();
    for item in &page.items {
        assert!(!item.title.trim().is_empty(), "empty title in {text:?}");
        assert!(item.title.chars().count() <= 255);
        assert!(!item.key.is_empty());
        assert!(
            keys.insert(item.key.clone()),
            "duplicate key {} in {text:?}",
            item.key
        );
        assert!(
            item.line >= 1 && item.line <= line_count,
            "line {} out of range in {text:?}",
            item.line
        );
    }
    assert_eq!(parse_page(text, &options), page, "parsing is deterministic");
}
