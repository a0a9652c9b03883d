//! People's edits through the API, as a person in the web UI makes them.

use super::*;

impl Sim {
    pub(super) async fn person_edit(&mut self, edit: &PersonEdit) {
        let issues = self.issues().await;
        if issues.is_empty() {
            return;
        }
        let pick = |i: usize| pick(&issues, i);
        self.counts.person_edits += 1;
        match edit {
            PersonEdit::Retitle(i) => {
                let iid = pick(*i)["iid"].as_u64().unwrap();
                let title = format!("Retitled by a person {}", self.next_line);
                self.person(
                    Method::PUT,
                    &format!("{PATH}/issues/{iid}"),
                    &[("title", &title)],
                )
                .await;
            }
            PersonEdit::WriteOutside(i) => {
                let issue = pick(*i);
                let line = self.new_line();
                let text = format!("{}\n\n{line}", description(issue));
                self.set_description(issue["iid"].as_u64().unwrap(), &text, Some(line))
                    .await;
            }
            PersonEdit::WriteInside(i) => {
                let issue = pick(*i);
                let begin = "<!-- handbook-sync:begin -->\n";
                let line = self.new_line();
                let text = if description(issue).contains(begin) {
                    description(issue).replacen(begin, &format!("{begin}{line}\n"), 1)
                } else {
                    format!("{line}\n{}", description(issue))
                };
                self.set_description(issue["iid"].as_u64().unwrap(), &text, Some(line))
                    .await;
            }
            PersonEdit::WriteAtBlockEnd(i) => {
                // Below the Source and reason lines, above the marker: what a close as
                // removed rebuilds the block from.
                let issue = pick(*i);
                let line = self.new_line();
                let marker_line = "\n\n<!-- handbook-sync {";
                let text = match description(issue).rfind(marker_line) {
                    Some(at) => {
                        let mut text = description(issue).to_owned();
                        text.insert_str(at, &format!("\n{line}"));
                        text
                    }
                    None => format!("{}\n{line}", description(issue)),
                };
                self.set_description(issue["iid"].as_u64().unwrap(), &text, Some(line))
                    .await;
            }
            PersonEdit::Replace(i) => {
                // Markers and all, as a planning script might.
                let issue = pick(*i);
                let line = self.new_line();
                let text = format!("Rewritten by a person: {line}");
                self.set_description(issue["iid"].as_u64().unwrap(), &text, Some(line))
                    .await;
            }
            PersonEdit::Paste { from, into } => {
                let (from, into) = (pick(*from), pick(*into));
                let into_iid = into["iid"].as_u64().unwrap();
                if from["iid"] == into["iid"] || self.pasted.contains_key(&into_iid) {
                    return;
                }
                let line = self.new_line();
                let prefix = format!(
                    "Merged from #{} ({line}):\n\n{}\n\n",
                    from["iid"],
                    description(from)
                );
                let text = format!("{prefix}{}", description(into));
                self.set_description(into_iid, &text, Some(line)).await;
                // As stored (GitLab strips what its quick-action pass strips), so that the
                // person can take exactly this out again.
                let stored = self
                    .issues()
                    .await
                    .into_iter()
                    .find(|i| i["iid"] == into_iid)
                    .map(|i| description(&i).to_owned())
                    .unwrap_or_default();
                if let Some(prefix) = stored.strip_suffix(description(into))
                    && prefix.starts_with("Merged from")
                {
                    self.pasted.insert(into_iid, prefix.to_owned());
                }
            }
            PersonEdit::Unpaste(i) => {
                // One of the pasted descriptions, as a person who notices the report.
                let Some(&iid) = self.pasted.keys().nth(i % self.pasted.len().max(1)) else {
                    return;
                };
                let prefix = self.pasted.remove(&iid).unwrap_or_default();
                let now = issues
                    .iter()
                    .find(|x| x["iid"] == iid)
                    .map(|x| description(x).to_owned())
                    .unwrap_or_default();
                if let Some(rest) = now.strip_prefix(&prefix) {
                    let rest = rest.to_owned();
                    self.set_description(iid, &rest, None).await;
                }
            }
            PersonEdit::Close(i) | PersonEdit::Reopen(i) => {
                let event = if matches!(edit, PersonEdit::Close(_)) {
                    "close"
                } else {
                    "reopen"
                };
                let iid = pick(*i)["iid"].as_u64().unwrap();
                self.person(
                    Method::PUT,
                    &format!("{PATH}/issues/{iid}"),
                    &[("state_event", event)],
                )
                .await;
            }
            PersonEdit::AddLabel(i) => {
                let iid = pick(*i)["iid"].as_u64().unwrap();
                self.person(
                    Method::PUT,
                    &format!("{PATH}/issues/{iid}"),
                    &[("add_labels", "person::triaged")],
                )
                .await;
            }
            PersonEdit::RemoveSectionLabel(i) => {
                let issue = pick(*i);
                let Some(label) = issue["labels"].as_array().and_then(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .find(|l| l.starts_with("section::"))
                        .map(str::to_owned)
                }) else {
                    return;
                };
                self.person(
                    Method::PUT,
                    &format!("{PATH}/issues/{}", issue["iid"]),
                    &[("remove_labels", &label)],
                )
                .await;
            }
            PersonEdit::TakeOver(i) => {
                let iid = pick(*i)["iid"].as_u64().unwrap();
                self.person(
                    Method::PUT,
                    &format!("{PATH}/issues/{iid}"),
                    &[("remove_labels", MANAGED)],
                )
                .await;
            }
            PersonEdit::RemoveBlock(i) => {
                let issue = pick(*i);
                let Some(parsed) = marker::parse(description(issue)) else {
                    return;
                };
                let text = format!("{}{}", parsed.before, parsed.after);
                let text = if text.trim().is_empty() {
                    "Taken over by a person".to_owned()
                } else {
                    text
                };
                self.set_description(issue["iid"].as_u64().unwrap(), &text, None)
                    .await;
            }
            PersonEdit::Delete(i) => {
                let iid = pick(*i)["iid"].as_u64().unwrap();
                self.person(Method::DELETE, &format!("{PATH}/issues/{iid}"), &[])
                    .await;
                self.owed.remove(&iid);
                self.pasted.remove(&iid);
            }
            PersonEdit::RenameSectionLabel => {
                self.person(
                    Method::PUT,
                    &format!("{PATH}/labels/section%3A%3ASection%200"),
                    &[("new_name", "section::Renamed by a person")],
                )
                .await;
            }
        }
    }
}
