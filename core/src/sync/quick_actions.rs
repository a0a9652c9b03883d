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
//! GitLab never runs commands there, so fenced code, HTML blocks and `>>>` quotes are left
//! alone.

/// `text` with every line that starts with `/` and a letter escaped as `\/`, except in
/// fenced code, HTML blocks and `>>>` quotes. Idempotent: an escaped line no longer
/// starts with `/`.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut scan = Scan::default();
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if scan.is_text(content) && is_command_like(content) {
            out.push('\\');
        }
        out.push_str(line);
    }
    out
}

/// What the previous lines opened, as far as verbatim text goes.
#[derive(Debug, Default)]
struct Scan {
    /// The character and length of an open code fence.
    fence: Option<(char, usize)>,
    /// Inside a `>>>` quote, which runs to the next `>>>` line.
    quote: bool,
    /// Inside an HTML block, which runs to a blank line.
    html: bool,
    /// A paragraph is going on: an HTML block cannot interrupt it (CommonMark's kind 7,
    /// as GitLab's paragraph rule sees them all). A list item or quote line, and the lazy
    /// lines after it, are not a paragraph here.
    paragraph: bool,
    /// In a list item or `>` quote, whose lazy continuation lines belong to it.
    container: bool,
}

impl Scan {
    /// Takes in a line; false when it is code, HTML or quoted, where nothing is escaped.
    fn is_text(&mut self, content: &str) -> bool {
        let indent: usize = content
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum();
        let trimmed = content.trim_start_matches([' ', '\t']);
        if let Some((c, n)) = self.fence {
            let run = trimmed.chars().take_while(|x| *x == c).count();
            if indent < 4 && run >= n && trimmed[run..].trim().is_empty() {
                self.fence = None;
            }
            return false;
        }
        if self.quote {
            self.quote = content.trim_end() != ">>>";
            return false;
        }
        if trimmed.trim().is_empty() {
            self.html = false;
            self.paragraph = false;
            self.container = false;
            return true;
        }
        if self.html {
            return false;
        }
        if indent < 4 {
            if let Some(opened) = opens_fence(trimmed) {
                self.fence = Some(opened);
                (self.container, self.paragraph) = (false, false);
                return false;
            }
            if content.trim_end() == ">>>" {
                self.quote = true;
                (self.container, self.paragraph) = (false, false);
                return false;
            }
            if trimmed.starts_with('>') || is_list_marker(trimmed) {
                (self.container, self.paragraph) = (true, false);
                return true;
            }
            let hashes = trimmed.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&hashes)
                && trimmed[hashes..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
            {
                (self.container, self.paragraph) = (false, false);
                return true;
            }
            if trimmed.starts_with('<') && !self.paragraph {
                (self.html, self.container) = (true, false);
                return false;
            }
        }
        // Prose (a lazy line of a container stays the container's): text, escaped where
        // needed.
        self.paragraph = !self.container && (indent < 4 || self.paragraph);
        true
    }
}

/// ```` ``` ```` or `~~~` (three or more) at the start of a line: the fence's character
/// and length.
fn opens_fence(trimmed: &str) -> Option<(char, usize)> {
    ['`', '~'].into_iter().find_map(|c| {
        let n = trimmed.chars().take_while(|x| *x == c).count();
        (n >= 3).then_some((c, n))
    })
}

/// `- `, `* `, `+ `, `1. `, `1) `, or the marker alone on its line.
fn is_list_marker(t: &str) -> bool {
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let rest = t.strip_prefix(['-', '*', '+']).or_else(|| {
        (1..=9)
            .contains(&digits)
            .then(|| t[digits..].strip_prefix(['.', ')']))
            .flatten()
    });
    rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
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
            ">>>\n/close\n>>>",
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
        assert_eq!(
            neutralise(">>>\n```\n/close\n>>>\n/close"),
            ">>>\n```\n/close\n>>>\n\\/close",
            "a quote runs to its `>>>`, whatever it holds"
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
