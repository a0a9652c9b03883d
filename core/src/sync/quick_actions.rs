//! Handbook text that GitLab would execute.
//!
//! GitLab treats a description line as a quick action when it starts, in its first
//! column, with `/` and a command name in any case (`lib/gitlab/quick_actions/extractor.rb`:
//! `^\/(?<cmd>close|label|…)(?:[ ](?<arg>[^\n]*))?(?:\s*\n|$)`, outside ```` ``` ````
//! fences, `>>>` quotes and HTML blocks); it runs the command and removes the line from
//! what it stores. A bullet saying `/close the books monthly` would close its own issue,
//! and the block GitLab stores would never equal the block written.
//!
//! A backslash before the slash is a Markdown escape of an ASCII punctuation character:
//! the line renders exactly as written, and it no longer starts with `/`, so no version of
//! the extractor matches it. Code is rendered verbatim, where a backslash would show, and
//! GitLab never runs commands there, so fenced code and HTML blocks are left alone.

/// `text` with every line that starts with `/` and a letter escaped as `\/`, except in
/// fenced code and HTML blocks. Idempotent: an escaped line no longer starts with `/`.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut fence: Option<(char, usize)> = None;
    let mut html = false;
    // An HTML block cannot interrupt a paragraph (CommonMark's kind 7, as GitLab's
    // paragraph rule sees them all): a `<` line inside one leaves the paragraph going.
    let mut after_blank = true;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches(' ').len();
        let trimmed = content.trim_start_matches(' ');
        if let Some((c, n)) = fence {
            let run = trimmed.chars().take_while(|x| *x == c).count();
            if indent < 4 && run >= n && trimmed[run..].trim().is_empty() {
                fence = None;
            }
        } else if html {
            html = !content.trim().is_empty();
        } else if let Some(opened) = opens_fence(trimmed).filter(|_| indent < 4) {
            fence = Some(opened);
        } else if indent < 4 && trimmed.starts_with('<') && after_blank {
            html = true;
        } else if is_command_like(content) {
            out.push('\\');
        }
        after_blank = content.trim().is_empty();
        out.push_str(line);
    }
    out
}

/// ```` ``` ```` or `~~~` (three or more) at the start of a line: the fence's character
/// and length.
fn opens_fence(trimmed: &str) -> Option<(char, usize)> {
    ['`', '~'].into_iter().find_map(|c| {
        let n = trimmed.chars().take_while(|x| *x == c).count();
        (n >= 3).then_some((c, n))
    })
}

/// `/` in the first column followed by a letter: every command name starts with one.
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
        assert_eq!(neutralise("  /close"), "  /close", "only the first column");
    }

    #[test]
    fn code_and_html_stay_verbatim() {
        for text in [
            "```\n/close\n```",
            "~~~~\n/close\n~~~\n/close\n~~~~",
            "<div>\n/close\n</div>",
        ] {
            assert_eq!(neutralise(text), text, "{text:?}");
        }
        assert_eq!(neutralise("```\nx\n```\n/close"), "```\nx\n```\n\\/close");
        assert_eq!(neutralise("<br>\n\n/close"), "<br>\n\n\\/close");
        assert_eq!(
            neutralise("text\n<b>x</b>\n/close"),
            "text\n<b>x</b>\n\\/close",
            "the paragraph goes on"
        );
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
