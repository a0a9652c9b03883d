//! The parser's unit tests: pages in, items and warnings out.

use super::*;

fn parse(text: &str) -> Page {
    parse_page(
        text,
        &ParseOptions {
            page_id: "test".into(),
            ..Default::default()
        },
    )
}

fn titles(page: &Page) -> Vec<&str> {
    page.items.iter().map(|i| i.title.as_str()).collect()
}

#[test]
fn plain_items_under_headings() {
    let page = parse("# Title\n\n## A\n\n- one\n- two\n\n## B\n\n### C\n\n* three\n");
    assert_eq!(page.title, "Title");
    let got: Vec<_> = page
        .items
        .iter()
        .map(|i| (i.section.join(" › "), i.title.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("A".into(), "one"),
            ("A".into(), "two"),
            ("B › C".into(), "three")
        ]
    );
}

#[test]
fn title_comes_from_front_matter_then_h1_then_page_id() {
    assert_eq!(
        parse("---\ntitle: \"From YAML\"\n---\n# Heading\n- a\n").title,
        "From YAML"
    );
    assert_eq!(
        parse("+++\ntitle = \"From TOML\"\n+++\n- a\n").title,
        "From TOML"
    );
    assert_eq!(parse("# Heading *one*\n- a\n").title, "Heading one");
    assert_eq!(parse("- a\n").title, "test");
    let bad = parse("---\ntitle: [unclosed\n---\n- a\n");
    assert_eq!(bad.title, "test");
    assert_eq!(bad.warnings.len(), 1, "{:?}", bad.warnings);
}

#[test]
fn several_h1_are_sections() {
    let page = parse("# One\n- a\n# Two\n- b\n");
    assert_eq!(page.title, "One");
    assert_eq!(page.items[1].section, ["Two"]);
}

#[test]
fn heading_attributes_are_not_part_of_the_section() {
    let page = parse("## Duties {#duties}\n\n- a\n");
    assert_eq!(page.items[0].section, ["Duties"]);
}

#[test]
fn statuses_and_owners() {
    let page = parse(
        "- plain\n- [ ] open task\n- [x] ticked task\n- ~~struck~~\n- ~~handed~~ => Drew\n\
         - ~~arrow~~ -> Andriy\n- ~~unicode~~ → Ashley\n- Maintain CF Tile => Drew\n\
         - a ~~struck~~ word inside\n- ~~struck~~ and more\n",
    );
    let got: Vec<_> = page
        .items
        .iter()
        .map(|i| (i.title.as_str(), i.status, i.owner.as_deref()))
        .collect();
    use ItemStatus::*;
    assert_eq!(
        got,
        [
            ("plain", Active, None),
            ("open task", Active, None),
            ("ticked task", Done, None),
            ("struck", HandedOver, None),
            ("handed", HandedOver, Some("Drew")),
            ("arrow", HandedOver, Some("Andriy")),
            ("unicode", HandedOver, Some("Ashley")),
            ("Maintain CF Tile", Active, Some("Drew")),
            ("a struck word inside", Active, None),
            ("struck and more", Active, None),
        ]
    );
}

#[test]
fn arrows_in_code_links_or_words_are_not_handoffs() {
    let page = parse(
        "- Convert `a -> b` formats\n- See [x -> y](/z)\n- keep A->B mapping\n\
         - -> nothing before\n- a => \n- ~~all of it => struck~~\n",
    );
    assert!(
        page.items.iter().all(|i| i.owner.is_none()),
        "{:#?}",
        page.items
    );
    assert_eq!(page.items[5].status, ItemStatus::HandedOver);
}

#[test]
fn a_long_tail_after_an_arrow_is_a_sentence_not_a_name() {
    let tail = "word ".repeat(30);
    let page = parse(&format!("- do this => {tail}\n"));
    assert_eq!(page.items[0].owner, None);
}

#[test]
fn single_tildes_and_label_references_are_not_strikethrough() {
    let page = parse("- Triage ~\"bug\" and ~\"feature\" issues\n- ~single~ tilde\n");
    assert_eq!(
        titles(&page),
        ["Triage ~\"bug\" and ~\"feature\" issues", "~single~ tilde"]
    );
    assert!(page.items.iter().all(|i| i.status == ItemStatus::Active));
}

#[test]
fn nested_items_go_to_the_parent_as_a_checklist() {
    let page = parse("- parent\n  - child one\n  - [x] child two\n    - grandchild\n- next\n");
    assert_eq!(titles(&page), ["parent", "next"]);
    assert_eq!(
        page.items[0].body,
        "parent\n\n- [ ] child one\n- [x] child two\n  - [ ] grandchild"
    );
}

#[test]
fn code_html_tables_and_toc_are_never_items() {
    let text = "\
- TOC
{:toc}

```
- [ ] in a backtick fence
```

~~~markdown
- in a tilde fence
~~~

<!--
- in a comment
-->

<div>
- in an html block
</div>

| a | b |
|---|---|
| - x | - y |

    - indented code

> - in a quote

- real
";
    let page = parse(text);
    assert_eq!(titles(&page), ["real"]);
    assert_eq!(page.items[0].line, 28);
}

#[test]
fn lazy_continuation_lines_join_their_bullet() {
    let page = parse("- Make sure the comparison\nis up to date\n- next\n");
    assert_eq!(
        titles(&page),
        ["Make sure the comparison is up to date", "next"]
    );
}

#[test]
fn lists_without_blank_line_mixed_markers_tabs_and_no_final_newline() {
    let page = parse("Intro paragraph:\n- dash\n\n* star\n\n+ plus\n\n1. one\n2) two\n-\ttab");
    assert_eq!(titles(&page), ["dash", "star", "plus", "one", "two", "tab"]);
}

#[test]
fn formatting_is_reduced_to_text_and_whitespace_collapsed() {
    let page = parse("- **Bold**  _em_ `code` [link](http://x) ![alt](i.png) a<br>b\n");
    assert_eq!(page.items[0].title, "Bold em code link alt a b");
}

#[test]
fn titles_are_cut_to_255_characters() {
    let long = "ü".repeat(300);
    let page = parse(&format!("- {long}\n"));
    let title = &page.items[0].title;
    assert_eq!(title.chars().count(), 255);
    assert!(title.ends_with('…'));
    assert!(
        page.items[0].body.contains(&long),
        "the body keeps the whole text"
    );
}

#[test]
fn relative_links_become_absolute_against_the_page_url() {
    let options = ParseOptions {
        page_url: Some(Url::parse("https://about.gitlab.com/jobs/product-manager/").unwrap()),
        ..Default::default()
    };
    let text = "- [/direction](/direction), [rel](team/), [abs](https://x.org/a), [ref][r], [anchor](#top)\n\n[r]: /refd\n";
    let body = &parse_page(text, &options).items[0].body;
    for expected in [
        "(https://about.gitlab.com/direction)",
        "(https://about.gitlab.com/jobs/product-manager/team/)",
        "(https://x.org/a)",
        "[ref](https://about.gitlab.com/refd)",
        "(https://about.gitlab.com/jobs/product-manager/#top)",
    ] {
        assert!(body.contains(expected), "{expected} missing in {body}");
    }
}

#[test]
fn keys_ignore_case_formatting_whitespace_and_handoff() {
    let a = parse("## A\n- Maintain   the *AWS* images\n");
    let b = parse("## B\n- ~~maintain THE [aws](/x)\n  images~~ => Drew\n");
    assert_eq!(a.items[0].key, "maintain-the-aws-images");
    assert_eq!(a.items[0].key, b.items[0].key);
}

#[test]
fn repeated_items_get_ordinals() {
    let page = parse("- Same\n- same\n- SAME\n- same 2\n");
    let keys: Vec<_> = page.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["same", "same-2", "same-3", "same-2-2"]);
}

#[test]
fn long_keys_keep_leading_words_and_a_hash() {
    let key = item_key(&"responsibility ".repeat(20));
    assert!(key.starts_with("responsibility-responsibility-"), "{key}");
    assert!(key.chars().count() <= 60 + 9, "{key}");
    assert_ne!(
        key,
        item_key(&format!("{} extra", "responsibility ".repeat(20)))
    );
}

#[test]
fn japanese_text_makes_readable_keys() {
    let page = parse("## 責任\n- プロダクトの方向性を決める\n");
    assert_eq!(page.items[0].key, "プロダクトの方向性を決める");
    assert_eq!(page.items[0].section, ["責任"]);
}

#[test]
fn empty_items_are_skipped_with_a_warning() {
    let page = parse("- \n- [ ]\n- real\n");
    assert_eq!(titles(&page), ["real"]);
    assert_eq!(page.warnings.len(), 2);
}

#[test]
fn sections_can_be_included_or_excluded() {
    let text = "## Keep\n- a\n## Drop\n- b\n### Under drop\n- c\n";
    let mut options = ParseOptions {
        exclude_sections: vec!["drop".into()],
        ..Default::default()
    };
    assert_eq!(titles(&parse_page(text, &options)), ["a"]);
    options = ParseOptions {
        include_sections: vec!["Drop".into()],
        ..Default::default()
    };
    assert_eq!(titles(&parse_page(text, &options)), ["b", "c"]);
}

#[test]
fn erb_and_hugo_shortcodes_are_not_items() {
    let page =
        parse("<%= partial(\"includes/x\") %>\n\n{{< note >}}\ntext\n{{< /note >}}\n\n- real\n");
    assert_eq!(titles(&page), ["real"]);
}

/// A job-family page: responsibilities per level, beside requirements and indicators
/// that must never become issues.
#[test]
fn sections_select_nested_headings_by_pattern() {
    let text = "# Backend Engineer\n\n## Responsibilities\n- Ship features\n\n### Senior\n- Mentor others\n\n## Requirements\n- Five years of Rust\n\n## Levels\n### Staff\n#### Staff responsibilities\n- Lead design\n#### Staff requirements\n- Ten years\n\n## Performance indicators\n- Velocity\n";
    let options = ParseOptions {
        include_sections: vec!["Responsibilities".into(), "* responsibilities".into()],
        ..Default::default()
    };
    assert_eq!(
        titles(&parse_page(text, &options)),
        ["Ship features", "Mentor others", "Lead design"]
    );
    let options = ParseOptions {
        exclude_sections: vec!["*requirements".into(), "Performance*".into()],
        ..Default::default()
    };
    assert_eq!(
        titles(&parse_page(text, &options)),
        ["Ship features", "Mentor others", "Lead design"]
    );
}
