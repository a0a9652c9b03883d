//! `parse`: one page's items, as text or JSON.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{ParseArgs, ReportFormat};
use crate::parse::{self, ItemStatus, Page, ParseOptions};
use crate::source;

pub(super) fn parse_command(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let text = source::read_local(&args.page)?;
    let options = ParseOptions {
        page_id: args
            .page_id
            .clone()
            .unwrap_or_else(|| default_page_id(&args.page)),
        page_url: args.page_url.clone(),
        ..Default::default()
    };
    let page = parse::parse_page(&text, &options);
    for warning in &page.warnings {
        tracing::warn!(page = %args.page.display(), "{warning}");
    }
    let out = match args.format {
        ReportFormat::Json => {
            serde_json::to_string_pretty(&page).context("encoding the page as JSON")? + "\n"
        }
        ReportFormat::Text => render_page_text(&page),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `product-manager.md` → `product-manager`; `index.html.md.erb` → `index`.
fn default_page_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("page")
        .to_owned()
}

/// Items grouped by section, one line each: line number, status, title, owner.
pub fn render_page_text(page: &Page) -> String {
    let count = |s: ItemStatus| page.items.iter().filter(|i| i.status == s).count();
    let mut out = format!(
        "{} — {} items ({} active, {} done, {} handed over)\n",
        page.title,
        page.items.len(),
        count(ItemStatus::Active),
        count(ItemStatus::Done),
        count(ItemStatus::HandedOver),
    );
    let mut current: Option<&[String]> = None;
    for (idx, item) in page.items.iter().enumerate() {
        if current != Some(item.section.as_slice()) {
            current = Some(&item.section);
            let in_section = page.items[idx..]
                .iter()
                .take_while(|i| i.section == item.section)
                .count();
            let name = if item.section.is_empty() {
                "(no section)".to_owned()
            } else {
                item.section.join(" › ")
            };
            let _ = write!(out, "\n{name} ({in_section})\n");
        }
        let status = match item.status {
            ItemStatus::Active => "active",
            ItemStatus::Done => "done",
            ItemStatus::HandedOver => "handed over",
        };
        let _ = write!(out, "  L{:<5} {status:<12} {}", item.line, item.title);
        if let Some(owner) = &item.owner {
            let _ = write!(out, "  → {owner}");
        }
        out.push('\n');
    }
    out
}
