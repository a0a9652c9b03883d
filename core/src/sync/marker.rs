//! The managed block of an issue description and the marker inside it.
//!
//! ```text
//! (text a person wrote: kept)
//! <!-- handbook-sync:begin -->
//! …the item's body, Source line, reason…
//! <!-- handbook-sync {"v":1,"page":"…","key":"…",…} -->
//! <!-- handbook-sync:end -->
//! (text a person wrote: kept)
//! ```
//!
//! The marker records what the tool last applied, so that a later run can tell a
//! handbook change (desired ≠ last applied) from a person's change (actual ≠ last applied).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::desired::IssueState;
use crate::parse::ItemStatus;

const BEGIN: &str = "<!-- handbook-sync:begin -->";
const END: &str = "<!-- handbook-sync:end -->";
const MARKER_OPEN: &str = "<!-- handbook-sync {";
const MARKER_CLOSE: &str = " -->";

/// What the tool last applied to an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Format version.
    pub v: u32,
    /// The page id.
    pub page: String,
    /// The item key.
    pub key: String,
    /// The title applied.
    pub title: String,
    /// The item's status when last applied, or that it left the handbook.
    pub status: MarkerStatus,
    /// The issue's state when last applied; `None` when the marker holds a word this
    /// version does not know (see [`lenient_state`]).
    #[serde(deserialize_with = "lenient_state")]
    pub state: Option<IssueState>,
    /// The username assigned, if any.
    pub assignee: Option<String>,
    /// The managed labels applied.
    pub labels: Vec<String>,
    /// Hash of the managed block's text (without the marker line).
    pub block: String,
    /// When the current status began (`YYYY-MM-DD`), for the reason line.
    #[serde(default)]
    pub since: Option<String>,
}

/// The status a marker records: an item's status, or `removed` once the item left the
/// handbook. Serialised as the words markers have always carried (`active`, `done`,
/// `handed_over`, `removed`), because markers already in GitLab issues must keep parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerStatus {
    /// The item is active.
    Active,
    /// The item is ticked.
    Done,
    /// The item is struck through (handed over).
    HandedOver,
    /// The item is no longer in the handbook.
    Removed,
    /// A word this version does not know (a newer version's, or a hand edit). The marker
    /// still parses, so the issue stays managed and its key keeps it matched: an
    /// unreadable word must never turn a managed issue into a stranger and its item into
    /// a duplicate. Never written: every write records the item's current status.
    #[serde(other)]
    Unrecognised,
}

impl From<ItemStatus> for MarkerStatus {
    fn from(status: ItemStatus) -> Self {
        match status {
            ItemStatus::Active => MarkerStatus::Active,
            ItemStatus::Done => MarkerStatus::Done,
            ItemStatus::HandedOver => MarkerStatus::HandedOver,
        }
    }
}

/// `opened`/`closed` as written by every version so far; any other word gives `None`, which
/// the three-way merge reads as "last applied value unknown" (the handbook's state wins),
/// exactly as the string-typed field of earlier versions compared.
fn lenient_state<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<IssueState>, D::Error> {
    let word = Option::<String>::deserialize(deserializer)?;
    Ok(match word.as_deref() {
        Some("opened") => Some(IssueState::Opened),
        Some("closed") => Some(IssueState::Closed),
        _ => None,
    })
}

/// A description split around its managed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// Text before the block.
    pub before: &'a str,
    /// The block's text, without the begin/end lines and the marker line.
    pub block: String,
    /// The marker, when present and readable.
    pub marker: Option<Marker>,
    /// Text after the block.
    pub after: &'a str,
}

/// Short hex SHA-256 of a block's text.
pub fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Finds the managed block in a description; `None` when there is none.
pub fn parse(description: &str) -> Option<Parsed<'_>> {
    let start = description.find(BEGIN)?;
    let end = start + description[start..].find(END)?;
    let inner = &description[start + BEGIN.len()..end];
    let mut marker = None;
    let mut block_lines = Vec::new();
    for line in inner.lines() {
        if let Some(json) = line.trim().strip_prefix(MARKER_OPEN.trim_end_matches('{'))
            && let Some(json) = json.trim().strip_suffix(MARKER_CLOSE.trim())
        {
            marker = serde_json::from_str::<Marker>(json.trim()).ok();
            continue;
        }
        block_lines.push(line);
    }
    let block = block_lines.join("\n").trim().to_owned();
    Some(Parsed {
        before: &description[..start],
        block,
        marker,
        after: &description[end + END.len()..],
    })
}

/// Renders a block with its marker, keeping a person's text around it.
pub fn render(before: &str, block: &str, marker: &Marker, after: &str) -> String {
    // `<` and `>` never occur outside strings in JSON: escaping them keeps a title like
    // `a --> b` from closing the HTML comment early.
    let json = serde_json::to_string(marker)
        .expect("a marker serialises")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    format!("{before}{BEGIN}\n{block}\n\n<!-- handbook-sync {json} -->\n{END}{after}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            v: 1,
            page: "pm".into(),
            key: "a --> b".into(),
            title: "a --> b <!-- x -->".into(),
            status: MarkerStatus::Active,
            state: Some(IssueState::Opened),
            assignee: Some("drew".into()),
            labels: vec!["handbook-sync".into()],
            block: hash("body"),
            since: None,
        }
    }

    #[test]
    fn a_rendered_block_parses_back_with_the_text_around_it() {
        let description = render(
            "Notes from a person\n\n",
            "body\n\nSource: x",
            &marker(),
            "\n\nMore notes",
        );
        let parsed = parse(&description).unwrap();
        assert_eq!(parsed.before, "Notes from a person\n\n");
        assert_eq!(parsed.after, "\n\nMore notes");
        assert_eq!(parsed.block, "body\n\nSource: x");
        assert_eq!(parsed.marker, Some(marker()));
    }

    #[test]
    fn a_description_written_by_earlier_versions_renders_back_byte_for_byte() {
        // Exactly as the string-typed version wrote it (escaped `<`/`>`, `since` set and
        // null, `handed_over`): a slip in field order, spelling or escaping would make
        // every managed issue on a real GitLab look changed and be rewritten.
        for (status, since) in [
            ("handed_over", r#""2026-11-20""#),
            ("active", "null"),
            ("done", r#""2026-11-21""#),
            ("removed", r#""2026-11-22""#),
        ] {
            let description = format!(
                "Above\n<!-- handbook-sync:begin -->\nKeep a --> b\n\n<!-- handbook-sync {{\"v\":1,\"page\":\"pm\",\"key\":\"k\",\"title\":\"a --\\u003e \\u003cb\\u003e\",\"status\":\"{status}\",\"state\":\"closed\",\"assignee\":\"drew\",\"labels\":[\"handbook-sync\"],\"block\":\"0123456789abcdef\",\"since\":{since}}} -->\n<!-- handbook-sync:end -->\nBelow"
            );
            let parsed = parse(&description).unwrap();
            let marker = parsed.marker.as_ref().expect("the marker parses");
            assert_eq!(marker.title, "a --> <b>");
            assert_eq!(
                render(parsed.before, &parsed.block, marker, parsed.after),
                description
            );
        }
    }

    #[test]
    fn an_unknown_word_keeps_the_marker_and_its_key() {
        let json = r#"{"v":1,"page":"p","key":"k","title":"t","status":"archived","state":"locked","assignee":null,"labels":[],"block":"b"}"#;
        let marker: Marker = serde_json::from_str(json).expect("still a marker");
        assert_eq!(marker.key, "k");
        assert_eq!(marker.status, MarkerStatus::Unrecognised);
        assert_eq!(marker.state, None);
    }

    #[test]
    fn no_block_or_a_broken_marker_is_not_a_marker() {
        assert!(parse("plain text").is_none());
        let broken = "<!-- handbook-sync:begin -->\nx\n<!-- handbook-sync {not json} -->\n<!-- handbook-sync:end -->";
        assert_eq!(parse(broken).unwrap().marker, None);
    }

    #[test]
    fn a_marker_written_by_earlier_versions_parses_to_the_same_values() {
        // Verbatim from an issue written before status and state became enums: the
        // words in existing GitLab issues must keep meaning what they meant.
        let description = "Notes\n<!-- handbook-sync:begin -->\nShip it\n\n---\nSource: PM › Goals\n\nHanded over to @drew on 2026-11-20.\n\n<!-- handbook-sync {\"v\":1,\"page\":\"pm\",\"key\":\"ship-it\",\"title\":\"Ship it\",\"status\":\"handed_over\",\"state\":\"closed\",\"assignee\":\"drew\",\"labels\":[\"handbook-sync\",\"handbook::pm\"],\"block\":\"0123456789abcdef\",\"since\":\"2026-11-20\"} -->\n<!-- handbook-sync:end -->";
        let marker = parse(description).unwrap().marker.unwrap();
        assert_eq!(marker.status, MarkerStatus::HandedOver);
        assert_eq!(marker.state, Some(IssueState::Closed));
        assert_eq!(marker.since.as_deref(), Some("2026-11-20"));
        for (word, status) in [
            ("active", MarkerStatus::Active),
            ("done", MarkerStatus::Done),
            ("removed", MarkerStatus::Removed),
        ] {
            let json = format!(
                r#"{{"v":1,"page":"p","key":"k","title":"t","status":"{word}","state":"opened","assignee":null,"labels":[],"block":"b"}}"#
            );
            let marker: Marker = serde_json::from_str(&json).unwrap();
            assert_eq!(marker.status, status);
            assert_eq!(marker.state, Some(IssueState::Opened));
            // And it is written back with the same words, in the same order.
            assert_eq!(
                serde_json::to_string(&marker).unwrap(),
                json.replace(r#""block":"b""#, r#""block":"b","since":null"#)
            );
        }
    }
}
