//! A plan as GitLab-Flavoured Markdown, for people reviewing a merge request: what merging
//! the handbook change will do to the tracker.
//!
//! Pure: the shell posts the text as a merge request note. Three rules keep the note safe
//! to post on every pipeline: it never mentions anyone (usernames and labels are written
//! as code, so nobody is notified and no quick action runs), it starts with
//! [`NOTE_MARKER`] so the next run finds and edits it instead of adding another, and it
//! never exceeds the size it is given (GitLab refuses longer notes), ending with a
//! truncation line instead.

use std::fmt::Write as _;

use super::{Action, ActionKind, PageOutcome, PageReport, Plan};

/// The hidden first line of every note handbook-sync posts: how a later run recognises
/// its own note on a merge request.
pub const NOTE_MARKER: &str = "<!-- handbook-sync:merge-request-note -->";

/// GitLab's longest note, in characters (`Gitlab::Database::MAX_TEXT_SIZE_LIMIT`).
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;

/// Above this many actions a page's table is collapsed in a `<details>` section.
const COLLAPSE_ROWS: usize = 10;

/// The head of a page's table.
const TABLE_HEADER: &str = "| Action | Issue | Title | Changes | Why |\n|---|---|---|---|---|\n";

/// Room kept for what closes the note after the last row that fits (the end of a
/// table, `</details>`, the truncation line).
const CLOSING_RESERVE: usize = 400;

/// How to render.
#[derive(Debug, Clone)]
pub struct MarkdownOptions<'a> {
    /// The heading, e.g. `handbook-sync plan`.
    pub heading: &'a str,
    /// The GitLab instance's address (`https://gitlab.com`): issue references become links
    /// to `<url>/<project>/-/issues/<iid>`. `None` leaves them plain.
    pub gitlab_url: Option<&'a str>,
    /// The longest text to return, in bytes (a bound on GitLab's characters).
    pub max_len: usize,
    /// The plan was applied: counts say "created" rather than "to create".
    pub applied: bool,
}

impl Default for MarkdownOptions<'_> {
    fn default() -> Self {
        MarkdownOptions {
            heading: "handbook-sync plan",
            gitlab_url: None,
            max_len: GITLAB_NOTE_LIMIT,
            applied: false,
        }
    }
}

/// The plan as Markdown: the marker, a heading, the totals, problems first, then per page
/// a summary line and a table of its actions.
pub fn plan_to_markdown(plan: &Plan, options: &MarkdownOptions) -> String {
    let mut out = format!("{NOTE_MARKER}\n### {}\n\n", options.heading);
    let _ = writeln!(out, "{}\n", totals(plan, options.applied));
    for page in plan.pages.iter().filter(|p| p.outcome != PageOutcome::Ok) {
        let (what, why) = match &page.outcome {
            PageOutcome::Refused(why) => ("refused by a safety guard", why),
            PageOutcome::Skipped(why) => ("skipped", why),
            PageOutcome::Failed(why) => ("failed", why),
            PageOutcome::Ok => continue,
        };
        let _ = writeln!(
            out,
            "> :warning: **Page {} {what}**: {}\n",
            code(&page.id),
            inline(why)
        );
    }
    for page in &plan.pages {
        for warning in &page.warnings {
            let _ = writeln!(
                out,
                "> :warning: Page {}: {}\n",
                code(&page.id),
                inline(warning)
            );
        }
    }
    if !plan.has_changes()
        && plan.summary.drift == 0
        && !plan.has_failures()
        && !plan.has_refusals()
    {
        out.push_str("Nothing to do: the tracker already matches the handbook.\n");
        return cut(out, options.max_len);
    }
    let by_page = super::by_project::actions_by_page(plan);
    let parts = parts(plan, &by_page, options);
    // Every page's line is written, whatever the rows take: rows come out of what the
    // lines leave (unless the lines alone are too long, when they are cut too).
    let lines: usize = parts.iter().map(|p| p.head.len()).sum();
    let room = options.max_len.saturating_sub(out.len() + CLOSING_RESERVE);
    let mut writer = Writer {
        out,
        max_len: options.max_len,
        left_out: 0,
        reserved: if lines <= room { lines } else { 0 },
    };
    let none = Vec::new();
    for part in &parts {
        let actions = part
            .page
            .and_then(|p| by_page.get(p.id.as_str()))
            .unwrap_or(&none);
        writer.part(part, actions, options);
    }
    writer.finish()
}

/// A heading of the note, with the page whose table follows it, if any.
struct Part<'p> {
    head: String,
    page: Option<&'p PageReport>,
}

/// What the note shows, in order: every page's line with its labels and board; over
/// several projects a heading per project first, and the pages with nothing to do only
/// counted there.
fn parts<'p>(
    plan: &'p Plan,
    by_page: &std::collections::HashMap<&str, Vec<&Action>>,
    o: &MarkdownOptions,
) -> Vec<Part<'p>> {
    use super::by_project::{is_quiet, pages_of, project_line, projects};
    let page_part = |page: &'p PageReport| Part {
        head: page_head(
            plan,
            page,
            by_page.get(page.id.as_str()).map_or(&[][..], Vec::as_slice),
            o,
        ),
        page: Some(page),
    };
    let projects = projects(plan);
    if projects.len() <= 1 {
        return plan.pages.iter().map(page_part).collect();
    }
    let mut parts = Vec::new();
    for project in projects {
        parts.push(Part {
            head: format!(
                "### Project {}: {}\n\n",
                code(project),
                project_line(plan, project, by_page)
            ),
            page: None,
        });
        parts.extend(
            pages_of(plan, project)
                .filter(|p| !is_quiet(plan, p, by_page))
                .map(page_part),
        );
    }
    parts.extend(
        plan.pages
            .iter()
            .filter(|p| p.project.is_empty())
            .map(page_part),
    );
    parts
}

/// A page's summary line, new labels and board changes.
fn page_head(plan: &Plan, page: &PageReport, actions: &[&Action], o: &MarkdownOptions) -> String {
    let summary = match page.outcome {
        PageOutcome::Ok => page_summary(actions, o.applied),
        PageOutcome::Refused(_) => "refused, nothing of it will be applied".to_owned(),
        PageOutcome::Skipped(_) => "skipped".to_owned(),
        PageOutcome::Failed(_) => "failed".to_owned(),
    };
    let mut head = format!(
        "#### Page {} → {}: {summary}\n\n",
        code(&page.id),
        code(&page.project),
    );
    if !page.create_labels.is_empty() {
        let labels: Vec<String> = page.create_labels.iter().map(|l| code(l)).collect();
        let _ = writeln!(head, "New labels: {}\n", labels.join(", "));
    }
    for board in plan.boards.iter().filter(|b| b.page == page.id) {
        if board.create {
            let _ = writeln!(head, "New board: {}\n", code(&board.board));
        }
        if !board.add_lists.is_empty() {
            let lists: Vec<String> = board.add_lists.iter().map(|l| code(&l.label)).collect();
            let _ = writeln!(head, "New board lists: {}\n", lists.join(", "));
        }
    }
    head
}

/// The words of the counts: a plan's, or an applied plan's.
fn count_words(applied: bool) -> [&'static str; 7] {
    if applied {
        [
            "created",
            "updated",
            "closed",
            "reopened",
            "drifted",
            "in conflict",
            "adopted",
        ]
    } else {
        [
            "to create",
            "to update",
            "to close",
            "to reopen",
            "drifted",
            "in conflict",
            "to adopt",
        ]
    }
}

/// `**2 to create, …**`, the whole plan's counts.
fn totals(plan: &Plan, applied: bool) -> String {
    let s = &plan.summary;
    let w = count_words(applied);
    let mut line = format!(
        "**{} {}, {} {}, {} {}, {} {}, {} {}**, {} unchanged",
        s.create, w[0], s.update, w[1], s.close, w[2], s.reopen, w[3], s.drift, w[4], s.unchanged
    );
    if s.conflict > 0 {
        let _ = write!(line, ", **{} {}**", s.conflict, w[5]);
    }
    if s.adopt > 0 {
        let _ = write!(line, ", **{} {}**", s.adopt, w[6]);
    }
    if s.refused > 0 {
        let _ = write!(line, ", **{} refused**", s.refused);
    }
    if s.failed > 0 {
        let _ = write!(line, ", **{} failed**", s.failed);
    }
    line
}

/// Appends within the size budget and counts what did not fit.
struct Writer {
    out: String,
    max_len: usize,
    left_out: usize,
    /// Room kept for the page lines not written yet.
    reserved: usize,
}

impl Writer {
    /// True when `text`, and `after` more bytes, still fit beside the closing reserve
    /// and the lines to come.
    fn fits(&self, text: &str, after: usize) -> bool {
        self.out.len() + text.len() + after + self.reserved + CLOSING_RESERVE <= self.max_len
    }

    /// A heading, and the table of its page's actions.
    fn part(&mut self, part: &Part<'_>, actions: &[&Action], o: &MarkdownOptions) {
        self.reserved = self.reserved.saturating_sub(part.head.len());
        if !self.fits(&part.head, 0) {
            self.left_out += actions.len();
            return;
        }
        self.out.push_str(&part.head);
        let Some(page) = part.page else { return };
        if actions.is_empty() {
            return;
        }
        let collapsed = actions.len() > COLLAPSE_ROWS;
        let opening = if collapsed {
            format!("<details><summary>{} actions</summary>\n\n", actions.len())
        } else {
            String::new()
        } + TABLE_HEADER;
        let closing = if collapsed { "\n</details>\n\n" } else { "\n" };
        let first = row(actions[0], &page.project, o.gitlab_url);
        if !self.fits(&(opening.clone() + &first), closing.len()) {
            self.left_out += actions.len();
            return;
        }
        self.out.push_str(&opening);
        for (n, action) in actions.iter().enumerate() {
            let row = row(action, &page.project, o.gitlab_url);
            if !self.fits(&row, closing.len()) {
                self.left_out += actions.len() - n;
                break;
            }
            self.out.push_str(&row);
        }
        self.out.push_str(closing);
    }

    /// The text, with a truncation line when rows were left out.
    fn finish(mut self) -> String {
        if self.left_out > 0 {
            let _ = writeln!(
                self.out,
                "_… and {} more action(s), left out to stay within GitLab's note size; run `handbook-sync plan` for the whole plan._",
                self.left_out
            );
        }
        cut(self.out, self.max_len)
    }
}

/// `1 to create, 1 to close` for one page's actions, or `nothing to do`.
fn page_summary(actions: &[&Action], applied: bool) -> String {
    let kinds = [
        ActionKind::Create,
        ActionKind::Update,
        ActionKind::Close,
        ActionKind::Reopen,
        ActionKind::Drift,
        ActionKind::Conflict,
        ActionKind::Adopt,
    ]
    .into_iter()
    .zip(count_words(applied));
    let parts: Vec<String> = kinds
        .filter_map(|(kind, words)| {
            let n = actions.iter().filter(|a| a.action == kind).count();
            (n > 0).then(|| format!("{n} {words}"))
        })
        .collect();
    if parts.is_empty() {
        "nothing to do".to_owned()
    } else {
        parts.join(", ")
    }
}

/// One table row.
fn row(a: &Action, project: &str, gitlab_url: Option<&str>) -> String {
    let word = match a.action {
        ActionKind::Create => "create",
        ActionKind::Update => "update",
        ActionKind::Close => "**close**",
        ActionKind::Reopen => "reopen",
        ActionKind::Drift => "drift",
        ActionKind::Conflict => "**conflict**",
        ActionKind::Adopt => "**adopt**",
    };
    let issue = match (a.iid, gitlab_url) {
        (None, _) => "new".to_owned(),
        (Some(iid), Some(base)) if !project.chars().all(|c| c.is_ascii_digit()) => format!(
            "[#{iid}]({}/{project}/-/issues/{iid})",
            base.trim_end_matches('/')
        ),
        (Some(iid), _) => format!("#{iid}"),
    };
    let mut why = inline(&a.reason);
    for warning in &a.warnings {
        let _ = write!(why, "<br>:warning: {}", inline(warning));
    }
    format!(
        "| {word} | {issue} | {} | {} | {why} |\n",
        inline(&a.title),
        changes(a)
    )
}

/// What changes, each as code so names and labels stay inert.
fn changes(a: &Action) -> String {
    let c = &a.changes;
    let mut parts = Vec::new();
    let user = |u: &Option<String>| u.as_ref().map_or("nobody".to_owned(), |u| format!("@{u}"));
    if let Some(asg) = &c.assignee {
        if a.action == ActionKind::Create {
            parts.push(format!("assignee {}", code(&user(&asg.to))));
        } else {
            parts.push(format!(
                "assignee {}",
                code(&format!("{} → {}", user(&asg.from), user(&asg.to)))
            ));
        }
    }
    if let Some(state) = &c.state {
        parts.push(format!(
            "state {}",
            code(&format!("{} → {}", state.from.as_str(), state.to.as_str()))
        ));
    }
    if let Some(t) = &c.title {
        parts.push(format!("title was {}", inline(&format!("“{}”", t.from))));
    }
    let labels: Vec<String> = c
        .add_labels
        .iter()
        .map(|l| format!("+{l}"))
        .chain(c.remove_labels.iter().map(|l| format!("-{l}")))
        .collect();
    if !labels.is_empty() && a.action != ActionKind::Create {
        parts.push(format!("labels {}", code(&labels.join(" "))));
    }
    if c.description && a.action != ActionKind::Create {
        parts.push("description".to_owned());
    }
    if !c.drifted.is_empty() {
        parts.push(format!("changed by a person: {}", c.drifted.join(", ")));
    }
    parts.join("; ")
}

/// Text for a table cell: no line breaks, `|` escaped, and `@name`, `~label` and `#12`
/// written as code, so that the note neither notifies people nor references things.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, word) in text.split_whitespace().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        if may_reference(word) {
            out.push_str(&code(word));
        } else {
            out.push_str(&escape(word));
        }
    }
    out
}

/// True when GitLab could read part of `word` as a mention or reference: `@`, `~`, `#`,
/// `!`, `$`, `%` or `&` followed by something, at the start or after punctuation, as in
/// `(@alice)` or `"#12"` (GitLab's reference patterns need no space before them, only no
/// word character; `alice@example.com` is no mention).
fn may_reference(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    chars.iter().enumerate().any(|(i, c)| {
        matches!(c, '@' | '~' | '#' | '!' | '$' | '%' | '&')
            && i + 1 < chars.len()
            && (i == 0 || !chars[i - 1].is_alphanumeric())
    })
}

/// Markdown-significant characters escaped, for text outside code.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that holds any text: fenced with one more backtick than the longest run
/// inside, `|` escaped for tables.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` cut to at most `max` bytes on a character boundary (only reached when even the
/// head does not fit, e.g. a tiny budget).
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
