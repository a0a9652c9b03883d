//! Stage 5: the plan. Pure: pages, projects and people in, a [`Plan`] out.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, PageSettings};
use crate::parse::Page;
use crate::sync::desired::{self, DesiredIssue, PageSpec};
use crate::sync::plan::{self as core_plan, PagePlan, PlanSettings};
use crate::sync::{PageOutcome, PageReport, Plan, board};

use super::{PageInput, PageRead, ProjectState, Projects, ResolvedPeople, RunOptions};

/// A plan, with what executing it needs to know of the projects it read.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// The plan: what is printed, and what `apply` executes.
    pub plan: Plan,
    /// Project path → id, for the projects with a planned page.
    pub project_ids: BTreeMap<String, u64>,
    /// Colour and description of every label to create.
    pub label_colors: BTreeMap<String, (String, String)>,
    /// Per project path: label name → id, as read (board lists need the ids).
    pub label_ids: BTreeMap<String, BTreeMap<String, u64>>,
    /// (project id, iid) of every issue read: a create whose outcome is unknown is looked
    /// for among the other issues only.
    pub known_iids: BTreeSet<(u64, u64)>,
}

/// Stage 5: plans every page of `pages` against its project in `projects`, in order. A
/// page that was not read is reported skipped; one whose project was not read, failed;
/// an unchanged one, unchanged. Labels the desired issues name and the project lacks are
/// planned for creation once per project; boards for pages with `board = true`.
pub fn plan(
    config: &Config,
    options: &RunOptions,
    pages: &[PageInput],
    projects: &Projects,
    people: &ResolvedPeople,
) -> Planned {
    let mut planner = Planner {
        config,
        settings: PlanSettings {
            managed_label: config.sync.managed_label.clone(),
            enforce: config.sync.enforce,
            max_close_fraction: config.sync.max_close_fraction,
            allow_mass_close: options.allow_mass_close,
            allow_mass_create: options.allow_mass_create,
            today: options.today.clone(),
            adopt: options.adopt,
        },
        labels: config.sync.labels(),
        people,
        planned: Planned::default(),
        labels_planned: BTreeMap::new(),
        allow_removed_pages: options.allow_removed_pages,
        vanishing: BTreeMap::new(),
    };
    // Vanished pages first: a block's new pages wait only behind those refused (a page
    // whose plan writes nothing, or whose project could not be read, holds nothing).
    let mut vanished = BTreeMap::new();
    for (n, input) in pages.iter().enumerate() {
        if let PageRead::Vanished { why, moved_to } = &input.read {
            let s = &input.settings;
            let planned = planner.vanished(s, projects, why, moved_to.as_deref());
            if let (Some(d), true) = (&s.discovered, planned.0.outcome.is_refused()) {
                let ids = planner.vanishing.entry(d.block.clone()).or_default();
                ids.insert(s.id.clone());
            }
            vanished.insert(n, planned);
        }
    }
    for (n, input) in pages.iter().enumerate() {
        match vanished.remove(&n) {
            Some((report, page_plan)) => planner.planned.plan.add_page(report, page_plan),
            None => planner.add(input, projects),
        }
    }
    planner.planned
}

/// A page's report before planning: ok, nothing counted.
fn report_of(s: &PageSettings) -> PageReport {
    PageReport {
        id: s.id.clone(),
        project: s.project.clone(),
        outcome: PageOutcome::Ok,
        create_labels: Vec::new(),
        warnings: Vec::new(),
        items: BTreeMap::new(),
    }
}

/// What planning the pages one after the other accumulates.
struct Planner<'a> {
    config: &'a Config,
    settings: PlanSettings,
    labels: desired::Labels,
    people: &'a ResolvedPeople,
    planned: Planned,
    /// Per project: labels already planned for creation by an earlier page.
    labels_planned: BTreeMap<String, BTreeSet<String>>,
    /// `--allow-removed-pages`.
    allow_removed_pages: bool,
    /// Per `[[discover]]` block, the pages of it that left the handbook this run.
    vanishing: BTreeMap<String, BTreeSet<String>>,
}

impl Planner<'_> {
    fn add(&mut self, input: &PageInput, projects: &Projects) {
        let s = &input.settings;
        let mut report = report_of(s);
        let page = match &input.read {
            PageRead::Parsed(page) => page,
            PageRead::Unchanged { items } => {
                let unchanged = PagePlan {
                    unchanged: *items,
                    ..empty_plan()
                };
                return self.planned.plan.add_page(report, unchanged);
            }
            PageRead::Failed(e) => {
                report.outcome = PageOutcome::Skipped(with_causes(e));
                return self.planned.plan.add_page(report, empty_plan());
            }
            PageRead::Vanished { why, moved_to } => {
                let (report, page_plan) = self.vanished(s, projects, why, moved_to.as_deref());
                return self.planned.plan.add_page(report, page_plan);
            }
        };
        for item in &page.items {
            *report.items.entry(item.status.as_str()).or_default() += 1;
        }
        let failed = match projects.get(&s.project) {
            Some(Ok(project)) => return self.add_page(s, page, project, report),
            Some(Err(e)) => format!(
                "{}{}; nothing is written to this project",
                with_causes(e),
                s.discovered.as_ref().map_or(String::new(), |d| format!(
                    " (the project of [[discover]] `{}`'s template `{}` for `{}`)",
                    d.block, d.project_template, d.path
                ))
            ),
            // `prepare` reads every parsed page's project; a caller of the stages may not.
            None => format!("project {} was not read", s.project),
        };
        report.outcome = PageOutcome::Failed(failed);
        self.planned.plan.add_page(report, empty_plan());
    }

    fn add_page(
        &mut self,
        s: &PageSettings,
        page: &Page,
        project: &ProjectState,
        mut report: PageReport,
    ) {
        if let Some(held) = self.held(s, project) {
            report.outcome = PageOutcome::Refused(held);
            return self.planned.plan.add_page(report, empty_plan());
        }
        let id = project.info.id;
        self.planned.project_ids.insert(s.project.clone(), id);
        self.planned
            .known_iids
            .extend(project.issues.iter().map(|i| (id, i.iid)));
        let spec = PageSpec {
            id: s.id.clone(),
            title: page.title.clone(),
            url: s.url.clone(),
            page_label: s.page_label(&self.config.sync),
        };
        let people = self.people.of(&s.project);
        let mut desired = desired::desired_issues(page, &spec, &s.owner, &self.labels, &people);
        if let Some(discovered) = &s.discovered {
            desired::add_label(&mut desired, &discovered.label);
        }
        // Issues that lost the managed label are only weighed by the mass-create guard.
        let observed: Vec<_> = project
            .issues
            .iter()
            .chain(&project.unrecognised)
            .chain(&project.candidates)
            .cloned()
            .collect();
        // What the rest needs of the items, taken before the planner consumes them.
        let wanted = wanted_labels(&desired);
        let sections = s.board.then(|| self.section_labels(&desired));
        let settings = PlanSettings {
            adopt: s.adopt || self.settings.adopt,
            ..self.settings.clone()
        };
        // Only the candidates `adopt::read_candidates` vetted (members', not
        // confidential): an issue read for its labels may be anyone's.
        let mut page_plan = core_plan::plan_page_adopting(
            &spec,
            desired,
            &observed,
            &project.candidates,
            &settings,
        );
        // A refused page writes nothing, its labels included: leave them for the next page of
        // the project to plan, or that page's issues get grey auto-created labels and its
        // board fails for a label that does not exist.
        report.create_labels = if page_plan.refused.is_some() {
            Vec::new()
        } else {
            self.labels_to_create(&s.project, project, &wanted)
        };
        report.warnings = case_twins(project, &wanted);
        report
            .warnings
            .extend(crate::sync::warnings::once_per_page(&mut page_plan.actions));
        if let Some(sections) = sections {
            let board = board::plan_board(&s.id, &page.title, &sections, &project.boards);
            self.planned.plan.boards.push(board);
        }
        self.planned
            .label_ids
            .entry(s.project.clone())
            .or_insert_with(|| project.labels.clone());
        if let Some(refusal) = &page_plan.refused {
            report.outcome = PageOutcome::Refused(refusal.clone());
        }
        self.planned.plan.add_page(report, page_plan);
    }

    /// Why a new page of a block that pages left this run waits, if it does: a renamed
    /// directory or file gives new ids, and creating the new pages' issues while the old
    /// ones' are refused would leave every item twice in the tracker. A page is new when
    /// its project holds no issue of it; `--allow-removed-pages` lets both go ahead.
    fn held(&self, s: &PageSettings, project: &ProjectState) -> Option<String> {
        if self.allow_removed_pages {
            return None;
        }
        let discovered = s.discovered.as_ref()?;
        let gone = self.vanishing.get(&discovered.block)?;
        let known = project
            .issues
            .iter()
            .any(|i| i.marker.as_ref().is_some_and(|m| m.page == s.id));
        if known {
            return None;
        }
        let gone: Vec<String> = gone.iter().map(|id| format!("`{id}`")).collect();
        Some(format!(
            "a new page of [[discover]] `{}`, held: page(s) {} of the block left the handbook in this run (renamed or moved files give new ids), and creating its issues now could give every item twice; nothing of it is created; re-run with --allow-removed-pages once the pages that left are really gone, or restore them",
            discovered.block,
            gone.join(", ")
        ))
    }

    /// A page that left a `[[discover]]` block: its open issues closed, naming it, when
    /// the run allows removed pages; refused otherwise.
    fn vanished(
        &mut self,
        s: &PageSettings,
        projects: &Projects,
        why: &str,
        moved_to: Option<&str>,
    ) -> (PageReport, PagePlan) {
        let mut report = report_of(s);
        let project = match projects.get(&s.project) {
            Some(Ok(project)) => project,
            Some(Err(e)) => {
                report.outcome = PageOutcome::Failed(format!(
                    "{}; nothing is written to this project",
                    with_causes(e)
                ));
                return (report, empty_plan());
            }
            None => {
                report.outcome = PageOutcome::Failed(format!("project {} was not read", s.project));
                return (report, empty_plan());
            }
        };
        let id = project.info.id;
        self.planned.project_ids.insert(s.project.clone(), id);
        self.planned
            .known_iids
            .extend(project.issues.iter().map(|i| (id, i.iid)));
        self.planned
            .label_ids
            .entry(s.project.clone())
            .or_insert_with(|| project.labels.clone());
        let spec = PageSpec {
            id: s.id.clone(),
            title: s.id.clone(),
            url: None,
            page_label: s.page_label(&self.config.sync),
        };
        let page_plan = core_plan::plan_vanished_page(
            &spec,
            &project.issues,
            &self.settings,
            why,
            moved_to,
            self.allow_removed_pages,
        );
        if let Some(refusal) = &page_plan.refused {
            report.outcome = PageOutcome::Refused(refusal.clone());
        }
        (report, page_plan)
    }

    /// Labels of `wanted` that the project lacks and no earlier page planned.
    fn labels_to_create(
        &mut self,
        project_name: &str,
        project: &ProjectState,
        wanted: &[String],
    ) -> Vec<String> {
        let planned = self
            .labels_planned
            .entry(project_name.to_owned())
            .or_default();
        let mut create = Vec::new();
        for label in wanted {
            // Exactly: GitLab's label titles are case-sensitive.
            if !project.labels.contains_key(label) && planned.insert(label.clone()) {
                create.push(label.clone());
                let style = label_style(self.config, label);
                self.planned.label_colors.insert(label.clone(), style);
            }
        }
        create
    }

    /// The section labels of `desired`, in order of first appearance: the board's lists.
    fn section_labels(&self, desired: &[DesiredIssue]) -> Vec<String> {
        let mut sections: Vec<String> = Vec::new();
        for d in desired {
            if let Some(label) = desired::section_label(&self.labels, &d.section)
                && !sections.contains(&label)
            {
                sections.push(label);
            }
        }
        sections
    }
}

/// The labels of `desired`, each once, in order of first appearance.
fn wanted_labels(desired: &[DesiredIssue]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    desired
        .iter()
        .flat_map(|d| &d.labels)
        .filter(|l| seen.insert(l.as_str()))
        .cloned()
        .collect()
}

/// Labels of `wanted` that the project holds only in another case: GitLab keeps them
/// apart (titles are case-sensitive), so the tool's own is used (and created when
/// missing); the twin is reported so that a person can merge or rename it.
fn case_twins(project: &ProjectState, wanted: &[String]) -> Vec<String> {
    let wanted: BTreeSet<&String> = wanted.iter().collect();
    let mut warnings = Vec::new();
    for label in wanted {
        for twin in project.labels.keys() {
            if twin != label && twin.to_lowercase() == label.to_lowercase() {
                warnings.push(format!(
                    "label `{twin}` differs from `{label}` only in case; GitLab keeps them apart, so handbook-sync uses `{label}`; merge or rename `{twin}` if they mean the same"
                ));
            }
        }
    }
    warnings
}

fn empty_plan() -> PagePlan {
    PagePlan {
        actions: Vec::new(),
        refused: None,
        unchanged: 0,
    }
}

/// The colour and description of a managed label.
fn label_style(config: &Config, name: &str) -> (String, String) {
    let s = &config.sync;
    let (color, what) = if name == s.managed_label {
        ("#1f75cb", "Kept in step with the handbook by handbook-sync")
    } else if name.starts_with(&s.page_label_prefix)
        || config
            .pages
            .iter()
            .any(|p| p.page_label.is_some() && p.page_label(s) == name)
    {
        ("#6666c4", "Handbook page (handbook-sync)")
    } else if name.starts_with(&s.section_label_prefix) {
        ("#009966", "Handbook section (handbook-sync)")
    } else if config.discover.iter().any(|b| b.label() == name) {
        (
            "#6666c4",
            "Handbook pages found by [[discover]] (handbook-sync)",
        )
    } else {
        (
            "#737278",
            "Handed over to someone else in the handbook (handbook-sync)",
        )
    };
    (color.to_owned(), what.to_owned())
}

/// An error with its causes, as one line: a page's outcome is read by people, and
/// "cannot read page `x`" alone does not say whether the file is missing or unreadable.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let said = e.to_string();
        // Some errors repeat their cause in their own message; say it once.
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = e.source();
    }
    text
}
