//! Handbook text that GitLab would execute.
//!
//! GitLab runs a description line as a quick action when it starts, in its first
//! column, with `/` and a command name in any case, in a top-level paragraph
//! (`lib/gitlab/quick_actions/extractor.rb` runs
//! `^\/(?<cmd>close|label|…)(?:[ ](?<arg>[^\n]*))?(?:\s*\n|$)` over the paragraphs that
//! `lib/banzai/filter/quick_action_filter.rb` finds in the rendered Markdown); it runs the
//! command and removes the line from what it stores. A bullet saying
//! `/close the books monthly` would close its own issue, and the block GitLab stores would
//! never equal the block written.
//!
//! Which lines are top-level paragraph lines depends on Markdown's block rules (an HTML
//! comment ends on its own line, an autolink starts a paragraph, a list ends where a line
//! is not indented enough, …) and on the text around the block, which a person writes.
//! Guessing them is how `/unlabel` once got through after a `<!-- checklist -->` line, so
//! the rule here does not guess: every line that starts, after at most three spaces, with
//! `/` and a letter is escaped, wherever it is, except in fenced code. A backslash before
//! the slash is a Markdown escape of an ASCII punctuation character: the line renders as
//! written, and it no longer starts with `/`, so no version of the extractor matches it.
//! In fenced code a backslash would show, and GitLab never runs commands there; the fences
//! are found by a CommonMark parser (`pulldown-cmark`), not by a line heuristic. The price:
//! in an HTML block, where text is shown raw, an escaped line shows its backslash.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::ops::Range;

/// `text` with every line that starts (after at most three spaces) with `/` and a letter
/// escaped as `\/`, except in fenced code. Idempotent: an escaped line no longer starts
/// with `/`.
pub fn neutralise(text: &str) -> String {
    let fenced = fenced_code(text);
    let mut out = String::with_capacity(text.len() + 8);
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        let in_fence = fenced.iter().any(|r| r.contains(&(at + spaces)));
        if spaces < 4 && !in_fence && is_command_like(&line[spaces..]) {
            out.push_str(&line[..spaces]);
            out.push('\\');
            out.push_str(&line[spaces..]);
        } else {
            out.push_str(line);
        }
        at += line.len();
    }
    out
}

/// The byte ranges of the fenced code blocks' contents in `text`, each up to the first
/// `>>>` line in it: GitLab's quote fence ends a code fence opened inside it, which a
/// CommonMark parser does not know.
fn fenced_code(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut open = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => open = Some(range.start),
            Event::End(TagEnd::CodeBlock) => open = None,
            Event::Text(_) => {
                if let Some(start) = open {
                    let end = text[start..range.end]
                        .match_indices('\n')
                        .map(|(i, _)| start + i + 1)
                        .find(|&line| text[line..].lines().next().map(str::trim_end) == Some(">>>"))
                        .map_or(range.end, |line| line.max(range.start));
                    ranges.push(range.start..end);
                }
            }
            _ => {}
        }
    }
    ranges
}

/// `/` followed by a letter: every command name starts with one.
fn is_command_like(line: &str) -> bool {
    line.strip_prefix('/')
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn command_lines_are_escaped_and_nothing_else() {
        assert_eq!(
            neutralise("Close the books\n/close\n/Label ~x\nsee /docs\n"),
            "Close the books\n\\/close\n\\/Label ~x\nsee /docs\n"
        );
        assert_eq!(neutralise("/ not a command\n//x"), "/ not a command\n//x");
        assert_eq!(neutralise("   /close"), "   \\/close", "three spaces");
        assert_eq!(neutralise("    /close\n\t/close"), "    /close\n\t/close");
    }

    #[test]
    fn fenced_code_stays_verbatim() {
        for text in [
            "```\n/close\n```",
            "~~~~\n/close\n~~~\n/close\n~~~~",
            "- item\n\n  ```\n  /close\n  ```",
        ] {
            assert_eq!(neutralise(text), text, "{text:?}");
        }
        assert_eq!(neutralise("```\nx\n```\n/close"), "```\nx\n```\n\\/close");
    }

    /// Every other place a line can be in is escaped: GitLab's Markdown decides which of
    /// them are paragraphs, and the text around the block can change it.
    #[test]
    fn html_quotes_and_lists_are_escaped_too() {
        for (text, escaped) in [
            (
                "<!-- checklist -->\n/unlabel ~x",
                "<!-- checklist -->\n\\/unlabel ~x",
            ),
            (
                "<https://example.com/runbook> has the steps\n/close",
                "<https://example.com/runbook> has the steps\n\\/close",
            ),
            ("<div>\n/close\n</div>", "<div>\n\\/close\n</div>"),
            (">>>\n/close\n>>>", ">>>\n\\/close\n>>>"),
            ("- item\n/close", "- item\n\\/close"),
            (">>>\n````\n>>>\n/close", ">>>\n````\n>>>\n\\/close"),
            // A fence that is not one: `<!--` holds it, and it ends on `-->`.
            (
                "<!--\n```\n-->\n/close\n```",
                "<!--\n```\n-->\n\\/close\n```",
            ),
            // A list item's fence ends where a line is not indented enough for the item.
            (
                "- item\n\n  ```\n/close\n  ```",
                "- item\n\n  ```\n\\/close\n  ```",
            ),
        ] {
            assert_eq!(neutralise(text), escaped, "{text:?}");
        }
    }

    #[test]
    fn an_escaped_line_reads_as_written() {
        use pulldown_cmark::{Event, Parser};
        let text: String = Parser::new(&neutralise("/close the books\n"))
            .filter_map(|e| match e {
                Event::Text(t) => Some(t.into_string()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "/close the books");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = neutralise("/close\n/assign @u\n");
        assert_eq!(neutralise(&once), once);
    }
}
