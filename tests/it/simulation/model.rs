//! The model: what a case is made of, the generators of hostile text and steps, and the
//! page a list of bullets renders to.

use super::*;

// ---------------------------------------------------------------------------------------
// What a step does.

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Status {
    Active,
    Done,
    Handed,
}

/// One bullet of the page: its first line and its continuation lines.
#[derive(Debug, Clone)]
pub(super) struct Bullet {
    pub(super) section: usize,
    pub(super) text: String,
    pub(super) more: Vec<String>,
    pub(super) status: Status,
}

#[derive(Debug, Clone)]
pub(super) enum HandbookEdit {
    Add(usize, String, Vec<String>),
    Remove(usize),
    Reword(usize, String),
    Strike(usize),
    Tick(usize),
    Revive(usize),
    Move(usize, usize),
    Duplicate(usize),
}

#[derive(Debug, Clone)]
pub(super) enum PersonEdit {
    Retitle(usize),
    WriteOutside(usize),
    WriteInside(usize),
    WriteAtBlockEnd(usize),
    Replace(usize),
    Paste { from: usize, into: usize },
    Unpaste(usize),
    Close(usize),
    Reopen(usize),
    AddLabel(usize),
    RemoveSectionLabel(usize),
    TakeOver(usize),
    RemoveBlock(usize),
    Delete(usize),
    RenameSectionLabel,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// 5xx (half HTML, half GitLab's JSON) and lost answers.
    Errors(u64),
    /// Rack::Attack 429 bursts with `Retry-After` and 429s without headers.
    Throttled(u64),
    /// Writes that land after the client gave up.
    Slow,
}

#[derive(Debug, Clone)]
pub(super) enum Step {
    /// Edits, then a sync (under a fault, if any).
    Sync {
        handbook: Vec<HandbookEdit>,
        people: Vec<PersonEdit>,
        fault: Option<Fault>,
    },
    /// The managed label renamed, a sync (refused or with nothing to do: nothing of
    /// the page may change), and renamed back.
    ManagedLabelAway,
    /// Handbook edits, then two syncs at once.
    Overlapping(Vec<HandbookEdit>),
}

#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) enforce: bool,
    pub(super) initial: Vec<Bullet>,
    pub(super) steps: Vec<Step>,
}

// ---------------------------------------------------------------------------------------
// Generators.

pub(super) fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "maintain",
        "review",
        "publish",
        "the",
        "roadmap",
        "release",
        "notes",
        "docs",
        "support",
        "calls",
        "budget",
        "hiring",
        "plan",
        "weekly",
        "customers",
        "feedback",
    ])
    .prop_map(str::to_owned)
}

/// A fragment of a bullet's first line: mostly words, sometimes hostile.
pub(super) fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => word(),
        1 => Just("`<!-- handbook-sync:end -->`".to_owned()),
        1 => Just("<!-- handbook-sync:end -->".to_owned()),
        1 => Just("<!-- handbook-sync:begin -->".to_owned()),
        1 => Just(r#"<!-- handbook-sync {"v":1,"page":"pm","key":"x"} -->"#.to_owned()),
        1 => Just("&amp; &lt;b&gt; &#39;".to_owned()),
        1 => Just("<b>bold</b>".to_owned()),
        1 => Just("no\u{a0}break".to_owned()),
        1 => Just("cafe\u{301}".to_owned()),
        1 => Just("lone\rreturn".to_owned()),
        1 => "x{300,3000}",
    ]
}

pub(super) fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 2..6).prop_map(|w| w.join(" "))
}

/// A continuation line of a bullet (indented under it when the page is written).
pub(super) fn continuation() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => line(),
        1 => Just("/close".to_owned()),
        1 => Just("/label ~injected".to_owned()),
        1 => Just("\r/assign @drew".to_owned()),
        1 => Just("```\n<!-- handbook-sync:end -->\n```".to_owned()),
        1 => Just(r#"<!-- handbook-sync {"v":1,"page":"pm","key":"k","title":"t","status":"active","state":"opened","assignee":null,"labels":[],"block":"b"} -->"#.to_owned()),
        1 => Just("trailing spaces   ".to_owned()),
        1 => Just("\n---\nSource: [a line of the body](https://handbook.example/)".to_owned()),
    ]
}

pub(super) fn bullet() -> impl Strategy<Value = (usize, String, Vec<String>)> {
    (
        0..SECTIONS,
        line(),
        prop::collection::vec(continuation(), 0..3),
    )
}

pub(super) fn index() -> impl Strategy<Value = usize> {
    any::<prop::sample::Index>().prop_map(|i| i.index(1 << 16))
}

pub(super) fn handbook_edit() -> impl Strategy<Value = HandbookEdit> {
    prop_oneof![
        3 => bullet().prop_map(|(s, t, m)| HandbookEdit::Add(s, t, m)),
        1 => index().prop_map(HandbookEdit::Remove),
        2 => (index(), line()).prop_map(|(i, t)| HandbookEdit::Reword(i, t)),
        1 => index().prop_map(HandbookEdit::Strike),
        1 => index().prop_map(HandbookEdit::Tick),
        1 => index().prop_map(HandbookEdit::Revive),
        1 => (index(), 0..SECTIONS).prop_map(|(i, s)| HandbookEdit::Move(i, s)),
        1 => index().prop_map(HandbookEdit::Duplicate),
    ]
}

pub(super) fn person_edit() -> impl Strategy<Value = PersonEdit> {
    prop_oneof![
        1 => index().prop_map(PersonEdit::Retitle),
        2 => index().prop_map(PersonEdit::WriteOutside),
        2 => index().prop_map(PersonEdit::WriteInside),
        1 => index().prop_map(PersonEdit::WriteAtBlockEnd),
        1 => index().prop_map(PersonEdit::Replace),
        1 => (index(), index()).prop_map(|(from, into)| PersonEdit::Paste { from, into }),
        2 => index().prop_map(PersonEdit::Unpaste),
        1 => index().prop_map(PersonEdit::Close),
        1 => index().prop_map(PersonEdit::Reopen),
        1 => index().prop_map(PersonEdit::AddLabel),
        1 => index().prop_map(PersonEdit::RemoveSectionLabel),
        1 => index().prop_map(PersonEdit::TakeOver),
        1 => index().prop_map(PersonEdit::RemoveBlock),
        1 => index().prop_map(PersonEdit::Delete),
        1 => Just(PersonEdit::RenameSectionLabel),
    ]
}

pub(super) fn fault() -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        6 => Just(None),
        2 => any::<u64>().prop_map(|s| Some(Fault::Errors(s))),
        1 => any::<u64>().prop_map(|s| Some(Fault::Throttled(s))),
        1 => Just(Some(Fault::Slow)),
    ]
}

pub(super) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (
            prop::collection::vec(handbook_edit(), 0..3),
            prop::collection::vec(person_edit(), 0..3),
            fault(),
        )
            .prop_map(|(handbook, people, fault)| Step::Sync { handbook, people, fault }),
        1 => Just(Step::ManagedLabelAway),
        2 => prop::collection::vec(handbook_edit(), 1..4).prop_map(Step::Overlapping),
    ]
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        prop::collection::vec(bullet(), 1..6),
        prop::collection::vec(step(), 1..7),
    )
        .prop_map(|(enforce, initial, steps)| Case {
            enforce,
            initial: initial
                .into_iter()
                .map(|(section, text, more)| Bullet {
                    section,
                    text,
                    more,
                    status: Status::Active,
                })
                .collect(),
            steps,
        })
}

// ---------------------------------------------------------------------------------------
// The handbook.

pub(super) fn apply_edit(bullets: &mut Vec<Bullet>, edit: &HandbookEdit) {
    if let HandbookEdit::Add(section, text, more) = edit {
        bullets.push(Bullet {
            section: *section,
            text: text.clone(),
            more: more.clone(),
            status: Status::Active,
        });
        return;
    }
    if bullets.is_empty() {
        return;
    }
    let n = bullets.len();
    match edit {
        HandbookEdit::Remove(i) if n > 1 => {
            bullets.remove(i % n);
        }
        HandbookEdit::Reword(i, text) => bullets[i % n].text = text.clone(),
        HandbookEdit::Strike(i) => bullets[i % n].status = Status::Handed,
        HandbookEdit::Tick(i) => bullets[i % n].status = Status::Done,
        HandbookEdit::Revive(i) => bullets[i % n].status = Status::Active,
        HandbookEdit::Move(i, s) => bullets[i % n].section = *s,
        HandbookEdit::Duplicate(i) => {
            let copy = bullets[i % n].clone();
            bullets.push(copy);
        }
        _ => {}
    }
}

pub(super) fn render(bullets: &[Bullet]) -> String {
    let mut page = String::from("# Product Manager\n");
    for section in 0..SECTIONS {
        page.push_str(&format!("\n## Section {section}\n\n"));
        for b in bullets.iter().filter(|b| b.section == section) {
            let first = match b.status {
                Status::Active => format!("- {}", b.text),
                Status::Done => format!("- [x] {}", b.text),
                Status::Handed => format!("- ~~{}~~ => Drew", b.text),
            };
            page.push_str(&first);
            page.push('\n');
            for more in &b.more {
                for l in more.split('\n') {
                    page.push_str("  ");
                    page.push_str(l);
                    page.push('\n');
                }
            }
        }
    }
    page
}

/// The page's items as the parser sees them: key → status.
pub(super) fn items(page: &str) -> BTreeMap<String, ItemStatus> {
    parsed(page)
        .into_iter()
        .map(|i| (i.key, i.status))
        .collect()
}

/// The page's items as the parser sees them: key → title.
pub(super) fn titles(page: &str) -> BTreeMap<String, String> {
    parsed(page).into_iter().map(|i| (i.key, i.title)).collect()
}

fn parsed(page: &str) -> Vec<handbook_sync::parse::Item> {
    let options = ParseOptions {
        page_id: "pm".into(),
        page_url: Some(PAGE_URL.parse().unwrap()),
        include_sections: Vec::new(),
        exclude_sections: Vec::new(),
    };
    parse_page(page, &options).items
}
