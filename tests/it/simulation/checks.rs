//! Syncs and the promises checked after each.

use super::*;

impl Sim {
    /// One sync as `apply` does it, with this case's logs; fails the case if a secret
    /// shows in any output.
    pub(super) async fn sync(&mut self, allow: bool) -> Result<Plan, TestCaseError> {
        self.counts.syncs += 1;
        let result = self.apply(allow).await;
        self.no_secret_in(&[&result])?;
        result.map_err(|e| TestCaseError::fail(format!("nothing read: {e}")))
    }

    /// One sync as `apply` runs it (under the lease of the project it writes to, taken,
    /// waited for and released), with this case's logs.
    pub(super) async fn apply(&self, allow: bool) -> Result<Plan, String> {
        let config = Config::load(Some(&self.world.dir.join("config.toml"))).unwrap();
        let options = RunOptions {
            today: "2026-11-27".into(),
            allow_mass_close: allow,
            allow_mass_create: allow,
            ..Default::default()
        };
        async {
            let connection = sync_run::Connection::new(&config, TOKEN.to_owned().into(), None)
                .map_err(|e| e.to_string())?;
            // Another run's lease is looked at again soon, not every 5 s.
            let policy = LeasePolicy {
                poll: std::time::Duration::from_millis(50),
                ..LeasePolicy::new(&config, "apply")
            };
            let mut leases = Leases::new(connection.gitlab.clone(), policy);
            let prepared =
                lease::prepare_leased(&config, &connection, &options, &mut leases, &|_, _| {})
                    .await;
            let plan = match prepared {
                Ok(prepared) => Ok(prepared.apply().await),
                Err(e) => Err(e.to_string()),
            };
            leases.release().await;
            plan
        }
        .with_subscriber(self.dispatch.clone())
        .await
    }

    /// Fails the case if a secret shows in the logs or in what `results` print.
    pub(super) fn no_secret_in(&self, results: &[&Result<Plan, String>]) -> Check {
        let logs = String::from_utf8_lossy(&std::mem::take(&mut *self.logs.0.lock().unwrap()))
            .into_owned();
        let mut outputs = vec![("the logs", logs)];
        for result in results {
            match result {
                Ok(plan) => {
                    outputs.push(("the plan", plan.to_text()));
                    outputs.push(("the JSON plan", serde_json::to_string(plan).unwrap()));
                    outputs.push((
                        "the Markdown plan",
                        plan_to_markdown(plan, &MarkdownOptions::default()),
                    ));
                }
                Err(e) => outputs.push(("the error", e.clone())),
            }
        }
        for (what, text) in &outputs {
            for secret in SECRETS.iter().chain([&TOKEN]) {
                ensure!(!text.contains(secret), "{secret} in {what}:\n{text}");
            }
        }
        Ok(())
    }

    /// Two syncs at once, as a CronJob and a CI job starting together: each item is
    /// created once, and nothing else may differ from one sync. True when neither was
    /// refused by a guard.
    pub(super) async fn overlapping(
        &mut self,
        context: &Context<'_>,
    ) -> Result<bool, TestCaseError> {
        self.counts.syncs += 2;
        self.counts.overlaps += 1;
        let untouchable = self.untouchable().await;
        let (first, second) = tokio::join!(self.apply(false), self.apply(false));
        self.no_secret_in(&[&first, &second])?;
        for result in [&first, &second] {
            ensure!(
                result
                    .as_ref()
                    .is_ok_and(|p| self.clean(p) || p.has_refusals()),
                "{context}: one of two runs at once failed: {}",
                result.as_ref().map_or_else(Clone::clone, Plan::to_text)
            );
        }
        self.check_always(&untouchable, context).await?;
        Ok([&first, &second]
            .iter()
            .all(|r| r.as_ref().is_ok_and(|p| !p.has_refusals())))
    }

    /// Deletes a lease a run under faults could not release (its delete failed every
    /// time), as README says a person breaks one: no run is going on.
    pub(super) async fn break_stale_lease(&mut self) {
        let status = self
            .person(Method::DELETE, &format!("{PATH}/labels/{LEASE}"), &[])
            .await;
        assert!(matches!(status, 204 | 404), "deleting the lease: {status}");
        self.counts.stale_leases += u64::from(status == 204);
    }

    /// The issue `iid` still holds what a person pasted into it, and its only marker is
    /// the pasted one (its own block was deleted before).
    pub(super) fn holds_only_a_paste(&self, issue: &Value) -> bool {
        let iid = issue["iid"].as_u64().unwrap();
        self.pasted
            .get(&iid)
            .is_some_and(|prefix| description(issue).starts_with(prefix.as_str()))
            && marker::markers(description(issue)).len() == 1
    }

    /// Each issue that is an item's (`managed_key`), with its key; but not an issue that
    /// holds only a pasted marker while an original holds it too: that one is the
    /// person's, and the original the item's. An original has nothing above its block
    /// (handbook-sync writes it first) and is open, or was closed by the sync (its marker
    /// says so), not by a person.
    pub(super) fn identities(&self, issues: &[Value]) -> BTreeMap<u64, String> {
        let original = |issue: &Value| {
            let text = description(issue);
            let written_first = marker::parse(text).is_some_and(|p| p.before.trim().is_empty());
            let closed_by_sync = marker::markers(text)
                .first()
                .is_some_and(|m| m.state == Some(handbook_sync::sync::desired::IssueState::Closed));
            written_first && (issue["state"] == "opened" || closed_by_sync)
        };
        let all: Vec<(u64, String, bool, bool)> = issues
            .iter()
            .filter_map(|i| {
                let key = managed_key(i)?;
                let iid = i["iid"].as_u64().unwrap();
                Some((iid, key, self.holds_only_a_paste(i), original(i)))
            })
            .collect();
        all.iter()
            .filter(|(iid, key, paste, _)| {
                !paste
                    || !all
                        .iter()
                        .any(|(other, k, _, original)| other != iid && k == key && *original)
            })
            .map(|(iid, key, ..)| (*iid, key.clone()))
            .collect()
    }

    /// Issues that are not the sync's to touch (no managed label, or not exactly one
    /// marker), as they are now; and the open issues whose marker a person pasted into
    /// another issue ([`Sim::pasted_twins`]).
    pub(super) async fn untouchable(&mut self) -> BTreeMap<u64, Seen> {
        let issues = self.issues().await;
        let identities = self.identities(&issues);
        self.pasted_twins = issues
            .iter()
            .filter(|i| i["state"] == "opened" && !self.holds_only_a_paste(i))
            .filter_map(|i| {
                let iid = i["iid"].as_u64().unwrap();
                let key = identities.get(&iid)?;
                let paste = issues
                    .iter()
                    .find(|p| self.holds_only_a_paste(p) && managed_key(p).as_ref() == Some(key))?;
                Some((iid, (key.clone(), paste["iid"].as_u64().unwrap())))
            })
            .collect();
        let mut seen = BTreeMap::new();
        for issue in issues {
            if has_label(&issue, MANAGED) && marker::markers(description(&issue)).len() == 1 {
                continue;
            }
            let iid = issue["iid"].as_u64().unwrap();
            seen.insert(iid, self.seen(&issue).await);
        }
        seen
    }

    pub(super) async fn seen(&self, issue: &Value) -> Seen {
        Seen {
            title: issue["title"].clone(),
            description: description(issue).to_owned(),
            state: issue["state"].clone(),
            labels: issue["labels"].clone(),
            assignees: issue["assignees"].clone(),
            updated_at: issue["updated_at"].clone(),
            notes: self.notes(issue["iid"].as_u64().unwrap()).await.len(),
        }
    }

    /// What holds after every sync, faulty or not.
    pub(super) async fn check_always(
        &self,
        untouchable: &BTreeMap<u64, Seen>,
        context: &Context<'_>,
    ) -> Check {
        let issues = self.issues().await;
        for issue in &issues {
            let iid = issue["iid"].as_u64().unwrap();
            if let Some(before) = untouchable.get(&iid) {
                let now = self.seen(issue).await;
                ensure!(
                    *before == now,
                    "{context}: #{iid}, not the sync's, changed:\n{before:#?}\n{now:#?}"
                );
            }
            if let Some(lines) = self.owed.get(&iid) {
                let missing: Vec<&String> = lines
                    .iter()
                    .filter(|l| !description(issue).contains(l.as_str()))
                    .collect();
                if !missing.is_empty() {
                    let notes = self.notes(iid).await.concat();
                    for l in missing {
                        ensure!(
                            notes.contains(l.as_str()),
                            "{context}: {l}, written by a person, is neither in #{iid} nor in a note:\n{}",
                            description(issue)
                        );
                    }
                }
            }
        }
        let active = items(&self.page.lock().unwrap());
        for (iid, (key, paste)) in &self.pasted_twins {
            let closed = issues
                .iter()
                .any(|i| i["iid"] == *iid && i["state"] == "closed");
            ensure!(
                !(closed && active.get(key) == Some(&ItemStatus::Active)),
                "{context}: #{iid}, the issue of the active item `{key}`, was closed: #{paste}, into which a person pasted its description, took its place"
            );
        }
        let identities = self.identities(&issues);
        let mut open: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for issue in issues.iter().filter(|i| i["state"] == "opened") {
            let iid = issue["iid"].as_u64().unwrap();
            if let Some(key) = identities.get(&iid) {
                open.entry(key.clone()).or_default().push(iid);
            }
        }
        let twice: Vec<_> = open.iter().filter(|(_, v)| v.len() > 1).collect();
        ensure!(
            twice.is_empty(),
            "{context}: items with two open issues: {twice:?}"
        );
        Ok(())
    }

    /// The issues in a line each, for a failure's message.
    pub(super) async fn summary(&self) -> String {
        let mut out = String::new();
        for i in self.issues().await {
            let keys: Vec<String> = marker::markers(description(&i))
                .into_iter()
                .map(|m| m.key)
                .collect();
            out.push_str(&format!(
                "#{} {} {:?} labels {} markers {keys:?}\n",
                i["iid"], i["state"], i["title"], i["labels"]
            ));
        }
        out
    }

    /// What holds after a sync without faults that succeeded; a failure says what the
    /// issues and the page were.
    pub(super) async fn check_converged(&mut self, context: &Context<'_>) -> Check {
        let result = self.converged(context).await;
        if let Err(TestCaseError::Fail(why)) = &result {
            let page = self.page.lock().unwrap().clone();
            return Err(TestCaseError::fail(format!(
                "{why}\nthe issues:\n{}the page:\n{page}\nits items: {:?}",
                self.summary().await,
                items(&page).keys().collect::<Vec<_>>()
            )));
        }
        result
    }

    pub(super) async fn converged(&mut self, context: &Context<'_>) -> Check {
        let issues = self.issues().await;
        let page = self.page.lock().unwrap().clone();
        let mut per_key: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        let mut held = BTreeSet::new();
        let identities = self.identities(&issues);
        for issue in &issues {
            if let Some(key) = identities.get(&issue["iid"].as_u64().unwrap()) {
                per_key.entry(key.clone()).or_default().push(issue);
            } else if has_label(issue, MANAGED) {
                let markers = marker::markers(description(issue));
                if markers.len() > 1 {
                    held.extend(
                        markers
                            .into_iter()
                            .filter(|m| m.page == "pm")
                            .map(|m| m.key),
                    );
                }
            }
        }
        let items = items(&page);
        let titles = titles(&page);
        // An identity a pasted description holds that no item has: a reworded item may
        // stay with it (paired by similarity) rather than get a second issue.
        let free_held = held.iter().any(|k| !items.contains_key(k));
        // An issue of the page that is no item's (a paste into it, say) but has an
        // item's title may be that item's own issue, its description pasted over: the
        // item gets no second issue while it is (and is reported).
        let withheld = |key: &str| {
            issues.iter().any(|i| {
                let iid = i["iid"].as_u64().unwrap();
                i["state"] == "opened"
                    && has_label(i, MANAGED)
                    && !identities.contains_key(&iid)
                    && marker::markers(description(i))
                        .iter()
                        .any(|m| m.page == "pm")
                    && i["title"].as_str().map(str::trim) == titles.get(key).map(|t| t.trim())
            })
        };
        for (key, status) in items {
            let all = per_key.get(&key).map_or(&[][..], Vec::as_slice);
            if all.is_empty() {
                ensure!(
                    held.contains(&key) || free_held || withheld(&key),
                    "{context}: item `{key}` has no issue"
                );
                continue;
            }
            // A faulty sync may leave one duplicate (closed by the next); nothing else.
            ensure!(
                all.len() as u64 <= 1 + self.counts.faulty_syncs,
                "{context}: item `{key}` has {} issues",
                all.len()
            );
            let open = all.iter().filter(|i| i["state"] == "opened").count();
            if self.enforce && !held.contains(&key) {
                let want = usize::from(status == ItemStatus::Active);
                ensure!(
                    open == want,
                    "{context}: item `{key}` ({status:?}) has {open} open issues under enforce"
                );
            }
        }
        self.world.reset_stats().await;
        let again = self.sync(false).await?;
        let stats = self.world.stats().await;
        ensure!(
            stats["writes"] == 0 && !again.has_changes(),
            "{context}: a second sync wrote:\n{}\n{stats}",
            again.to_text()
        );
        Ok(())
    }

    /// True when `plan` failed nowhere; a page without items is skipped by design.
    pub(super) fn clean(&self, plan: &Plan) -> bool {
        let empty = items(&self.page.lock().unwrap()).is_empty();
        plan.summary.failed == 0
            && plan.pages.iter().all(|p| match &p.outcome {
                handbook_sync::sync::PageOutcome::Ok => true,
                handbook_sync::sync::PageOutcome::Skipped(_) => empty,
                _ => false,
            })
    }

    /// A sync; a guard's refusal must have changed nothing, and is then overridden as an
    /// operator would.
    pub(super) async fn sync_checked(
        &mut self,
        context: &Context<'_>,
    ) -> Result<Plan, TestCaseError> {
        let before: Vec<Value> = self.issues().await;
        let plan = self.sync(false).await?;
        if !plan.has_refusals() {
            return Ok(plan);
        }
        self.counts.refusals += 1;
        ensure!(
            self.issues().await == before,
            "{context}: a refused sync changed issues:\n{}",
            plan.to_text()
        );
        self.sync(true).await
    }

    pub(super) async fn step(&mut self, step: &Step, n: usize) -> Check {
        self.counts.steps += 1;
        let context = Context::Step(n, step);
        match step {
            Step::ManagedLabelAway => {
                let renamed = self
                    .person(
                        Method::PUT,
                        &format!("{PATH}/labels/{MANAGED}"),
                        &[("new_name", "handbook-sync-away")],
                    )
                    .await;
                if renamed != 200 {
                    return Ok(());
                }
                let untouchable = self.untouchable().await;
                let labeled = self
                    .issues()
                    .await
                    .iter()
                    .any(|i| has_label(i, "handbook::pm"));
                let plan = self.sync(false).await?;
                ensure!(
                    plan.summary.create == 0 || plan.has_refusals() || !labeled,
                    "{context}: creates beside the page's issues while the label was away:\n{}",
                    plan.to_text()
                );
                self.check_always(&untouchable, &context).await?;
                self.person(
                    Method::PUT,
                    &format!("{PATH}/labels/handbook-sync-away"),
                    &[("new_name", MANAGED)],
                )
                .await;
                Ok(())
            }
            Step::Overlapping(edits) => {
                for edit in edits {
                    self.counts.handbook_edits += 1;
                    apply_edit(&mut self.bullets, edit);
                }
                self.publish();
                if !self.overlapping(&context).await? {
                    // What a refusal left, overridden as an operator would.
                    let plan = self.sync(true).await?;
                    ensure!(
                        self.clean(&plan),
                        "{context}: after two runs at once:\n{}",
                        plan.to_text()
                    );
                }
                self.check_converged(&context).await
            }
            Step::Sync {
                handbook,
                people,
                fault,
            } => {
                for edit in handbook {
                    self.counts.handbook_edits += 1;
                    apply_edit(&mut self.bullets, edit);
                }
                self.publish();
                for edit in people {
                    self.person_edit(edit).await;
                }
                let untouchable = self.untouchable().await;
                if let Some(fault) = fault {
                    self.counts.faulty_syncs += 1;
                    self.faulty_sync(*fault, &untouchable, &context).await?;
                }
                // Then clean syncs until one succeeds (a fault may leave work behind).
                for attempt in 0..3 {
                    let untouchable = self.untouchable().await;
                    let plan = self.sync_checked(&context).await?;
                    self.check_always(&untouchable, &context).await?;
                    if self.clean(&plan) {
                        return self.check_converged(&context).await;
                    }
                    ensure!(
                        attempt < 2,
                        "{context}: no clean sync in 3:\n{}",
                        plan.to_text()
                    );
                }
                Ok(())
            }
        }
    }

    pub(super) async fn faulty_sync(
        &mut self,
        fault: Fault,
        untouchable: &BTreeMap<u64, Seen>,
        context: &Context<'_>,
    ) -> Check {
        let settings = match fault {
            Fault::Errors(seed) => json!({
                "error_rate": 0.15, "lost_response_rate": 0.1, "seed": seed,
                "error_body": if seed % 2 == 0 { "json" } else { "html" },
            }),
            Fault::Throttled(seed) => json!({
                "throttle_rate": 0.2, "throttle_retry_after": 0,
                "headerless_429_rate": 0.05, "seed": seed,
            }),
            Fault::Slow => json!({"slow_write_ms": 300}),
        };
        let slow = matches!(fault, Fault::Slow);
        self.configure(slow);
        self.faults(settings).await;
        self.world.reset_stats().await;
        let result = self.sync(false).await;
        let stats = self.world.stats().await;
        self.faults(json!({})).await;
        self.configure(false);
        if slow {
            // The next run comes after GitLab finished what the client gave up on: a
            // lease created after its run stopped waiting for the answer included.
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
        self.break_stale_lease().await;
        self.counts.injected += ["429", "500", "502", "503"]
            .iter()
            .map(|s| stats["by_status"][*s].as_u64().unwrap_or(0))
            .sum::<u64>();
        match result {
            // Reading failed after the retries: nothing was written.
            Err(e) if e.to_string().contains("nothing read") => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        self.check_always(untouchable, context).await
    }
}
