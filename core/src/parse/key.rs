//! Item keys: an item's identity inside its page.
//!
//! A key is the slug of the item's plain-text title: lower case, letters and digits of any
//! script, words joined by `-`. Whitespace, case, emphasis, links and the section the item
//! sits in do not change it, and it reads well in logs. Long titles keep their first words
//! plus a short hash of the whole text, so that two long items that start alike still
//! differ. Repeats within a page get an ordinal (`-2`, `-3`, … in page order).

use rustc_hash::FxHashSet;

use sha2::{Digest, Sha256};

/// Keys longer than this keep their leading words and gain a hash of the whole text.
const MAX_SLUG_CHARS: usize = 60;

/// The key of an item's text before ordinals are added.
pub fn item_key(text: &str) -> String {
    let mut full = String::with_capacity(text.len());
    let mut chars = 0;
    // Where the slug may be cut: the end of the last word that fits in MAX_SLUG_CHARS.
    let mut cut = None;
    let mut pending_dash = false;
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())) {
            pending_dash = !full.is_empty();
            continue;
        }
        if pending_dash {
            if chars <= MAX_SLUG_CHARS {
                cut = Some(full.len());
            }
            full.push('-');
            chars += 1;
            pending_dash = false;
        }
        if c.is_ascii() {
            full.push(c.to_ascii_lowercase());
            chars += 1;
        } else {
            for lower in c.to_lowercase() {
                full.push(lower);
                chars += 1;
            }
        }
    }
    if full.is_empty() {
        return "item".to_owned();
    }
    if chars <= MAX_SLUG_CHARS {
        return full;
    }
    let slug = match cut {
        Some(at) => &full[..at],
        // One very long word (or a run of CJK text without spaces).
        None => {
            &full[..full
                .char_indices()
                .nth(MAX_SLUG_CHARS)
                .map_or(full.len(), |(i, _)| i)]
        }
    };
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{slug}-{hash}")
}

/// The item's key, made unique against the keys already used in the page.
pub fn unique_key(text: &str, used: &mut FxHashSet<String>) -> String {
    let base = item_key(text);
    let mut key = base.clone();
    let mut ordinal = 1;
    while used.contains(&key) {
        ordinal += 1;
        key = format!("{base}-{ordinal}");
    }
    used.insert(key.clone());
    key
}

/// Removes kramdown attribute lists (`{:toc}`, `{: .class}`), which are never shown.
pub fn strip_kramdown_attributes(text: String) -> String {
    if !text.contains("{:") {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{:") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    super::collapse(&out)
}
