//! Any bytes that are UTF-8 parse without a panic, and the page keeps its invariants.
#![no_main]

use handbook_sync_core::parse::{MAX_TITLE_CHARS, ParseOptions, parse_page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = ParseOptions {
        page_id: "fuzz".into(),
        page_url: Some(url::Url::parse("https://example.org/handbook/page/").unwrap()),
        ..Default::default()
    };
    let page = parse_page(text, &options);
    let mut keys = std::collections::HashSet::new();
    for item in &page.items {
        assert!(!item.title.trim().is_empty());
        assert!(item.title.chars().count() <= MAX_TITLE_CHARS);
        assert!(keys.insert(item.key.clone()), "duplicate key {}", item.key);
        assert!(item.line >= 1 && item.line <= text.split('\n').count());
    }
});
