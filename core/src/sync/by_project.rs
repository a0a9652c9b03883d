//! A plan over many pages, read by project: the pages of each project together, under a
//! line that counts them, with the pages that have nothing to do counted rather than
//! listed. A handbook of hundreds of pages then reads as the projects it changes.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Action, PageOutcome, PageReport, Plan};

/// Each page's actions, by page id, in plan order: one pass over the actions instead of
/// one per page.
pub fn actions_by_page(plan: &Plan) -> HashMap<&str, Vec<&Action>> {
    let mut by_page: HashMap<&str, Vec<&Action>> = HashMap::new();
    for action in &plan.actions {
        by_page
            .entry(action.page.as_str())
            .or_default()
            .push(action);
    }
    by_page
}

/// The projects of the plan's pages, in the order their first page comes (pages without
/// a project, such as files discovery could not make a page of, are not in it).
pub fn projects(plan: &Plan) -> Vec<&str> {
    let mut projects: Vec<&str> = Vec::new();
    for page in &plan.pages {
        if !page.project.is_empty() && !projects.contains(&page.project.as_str()) {
            projects.push(&page.project);
        }
    }
    projects
}

/// True when the page has nothing to show: planned, no action, no label or board to
/// create, no warning.
pub fn is_quiet(plan: &Plan, page: &PageReport, actions: &HashMap<&str, Vec<&Action>>) -> bool {
    page.outcome == PageOutcome::Ok
        && page.create_labels.is_empty()
        && page.warnings.is_empty()
        && actions.get(page.id.as_str()).is_none_or(Vec::is_empty)
        && !plan
            .boards
            .iter()
            .any(|b| b.page == page.id && b.has_changes())
}

/// The pages of `project`, in plan order.
pub fn pages_of<'p>(plan: &'p Plan, project: &'p str) -> impl Iterator<Item = &'p PageReport> {
    plan.pages.iter().filter(move |p| p.project == project)
}

/// `N page(s)`, and how many of them have nothing to do.
pub fn project_line(plan: &Plan, project: &str, actions: &HashMap<&str, Vec<&Action>>) -> String {
    let pages = pages_of(plan, project).count();
    let quiet = pages_of(plan, project)
        .filter(|p| is_quiet(plan, p, actions))
        .count();
    let mut line = format!("{pages} page(s)");
    if quiet == pages {
        line.push_str(", nothing to do");
    } else if quiet > 0 {
        let _ = write!(line, ", {quiet} with nothing to do");
    }
    line
}

/// The text plan of several projects: per project a line, then its pages that have
/// something to show; pages without a project last.
pub(super) fn to_text(plan: &Plan, actions: &HashMap<&str, Vec<&Action>>, out: &mut String) {
    for project in projects(plan) {
        let _ = writeln!(
            out,
            "project {project}: {}",
            project_line(plan, project, actions)
        );
        for page in pages_of(plan, project).filter(|p| !is_quiet(plan, p, actions)) {
            plan.page_text(page, actions, out);
        }
    }
    for page in plan.pages.iter().filter(|p| p.project.is_empty()) {
        plan.page_text(page, actions, out);
    }
}
