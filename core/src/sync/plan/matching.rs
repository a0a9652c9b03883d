//! Which issue is which item's: the page's managed issues, one issue per key (other
//! open issues with that key are duplicates), then pairs by key and, for reworded
//! items, by similarity of titles.

use std::collections::{BTreeMap, BTreeSet};

use crate::sync::desired::{DesiredIssue, IssueState};
use crate::sync::marker::Marker;

use super::ObservedIssue;

/// Below this similarity, a reworded bullet is a new item rather than the old one.
const MIN_SIMILARITY: f64 = 0.55;

/// An issue of the page: managed label, and a readable marker naming the page.
pub(super) struct Managed<'a> {
    /// The issue as GitLab returned it.
    pub issue: &'a ObservedIssue,
    /// What the tool last applied to it.
    pub marker: &'a Marker,
    /// The hash of the managed block as the issue holds it now.
    pub block_hash: &'a str,
    /// One of the identities named by an issue with more than one marker: it holds its
    /// item (no issue is created for it, none is paired with it) but is never written
    /// ([`held_identities`]).
    pub held: bool,
}

impl Managed<'_> {
    /// True when the issue is open.
    pub fn is_open(&self) -> bool {
        self.issue.state == IssueState::Opened
    }

    /// Its title and block are the ones its marker records: nobody changed them since the
    /// last sync. Of two issues with one key, one that is not intact may hold the other's
    /// description, pasted over its own.
    pub fn is_intact(&self) -> bool {
        self.issue.title == self.marker.title && self.block_hash == self.marker.block
    }
}

/// The issues of `page` among `observed`: those with the managed label (exactly: GitLab
/// label titles are case-sensitive) whose marker names the page, each iid once. Issues
/// without a readable marker are a person's, never touched. An iid seen twice is one
/// issue a shifting list returned twice, never a duplicate of itself.
pub(super) fn managed_issues<'a>(
    page: &str,
    managed_label: &str,
    observed: &'a [ObservedIssue],
) -> Vec<Managed<'a>> {
    let mut seen = BTreeSet::new();
    observed
        .iter()
        .filter(|i| i.labels.iter().any(|l| l == managed_label))
        .filter(|i| seen.insert(i.iid))
        .filter_map(|issue| {
            let marker = issue.marker.as_ref()?;
            // A marker lives inside a block, so an issue with one has a block hash.
            let block_hash = issue.block_hash.as_deref()?;
            (marker.page == page).then_some(Managed {
                issue,
                marker,
                block_hash,
                held: false,
            })
        })
        .collect()
}

/// The issues with the managed label whose description holds more than one marker, one
/// of them naming `page`: a person pasted another issue's description into it. Which
/// marker is its own cannot be told, so none is taken.
pub(super) fn pasted_issues<'a>(
    page: &str,
    managed_label: &str,
    observed: &'a [ObservedIssue],
) -> Vec<&'a ObservedIssue> {
    let mut seen = BTreeSet::new();
    observed
        .iter()
        .filter(|i| i.labels.iter().any(|l| l == managed_label))
        .filter(|i| i.pasted.iter().any(|m| m.page == page))
        .filter(|i| seen.insert(i.iid))
        .collect()
}

/// The identities of `page` that `pasted` issues name and no issue of `managed` holds,
/// each key once: while a person's paste is unresolved, their items stay with that issue
/// (matched by key or by similarity like any issue) so that nothing is created for them,
/// and nothing is closed either.
pub(super) fn held_identities<'a>(
    page: &str,
    pasted: &[&'a ObservedIssue],
    managed: &[Managed<'a>],
) -> Vec<Managed<'a>> {
    let mut keys: BTreeSet<&str> = managed.iter().map(|m| m.marker.key.as_str()).collect();
    let mut held = Vec::new();
    for issue in pasted {
        for marker in issue.pasted.iter().filter(|m| m.page == page) {
            if keys.insert(marker.key.as_str()) {
                held.push(Managed {
                    issue,
                    marker,
                    block_hash: issue.block_hash.as_deref().unwrap_or_default(),
                    held: true,
                });
            }
        }
    }
    held
}

/// One issue per key, and the open issues that repeat a key.
pub(super) struct Deduplicated<'m, 'a> {
    /// The issue each key keeps, in key order.
    pub winners: Vec<&'m Managed<'a>>,
    /// Open, intact issues with the key of another issue, each with the iid of the one
    /// kept: copies (two runs, a create whose answer was lost), closed.
    pub duplicates: Vec<(&'m Managed<'a>, u64)>,
    /// Open issues with the key of another issue whose title or block is not what their
    /// marker records, each with the iid of the one kept: most likely a description
    /// pasted over another issue's own. Reported, never closed nor written, and the item
    /// they name gets no other issue while they hold it.
    pub claims: Vec<(&'m Managed<'a>, u64)>,
    /// Open issues with the key of another issue that are taken for a person's paste of
    /// its description (see [`deduplicate`]). Never closed nor written; each with the
    /// iid of the one kept.
    pub pasted_copies: Vec<(&'m Managed<'a>, u64)>,
}

/// Keeps per key the oldest open intact issue (title and block its marker's; else the
/// oldest open one, else the oldest closed one); the other open issues with that key are
/// duplicates when intact (two creates of one item, when an answer was lost), claims
/// when not (an issue whose title and block are its marker's is never closed for one
/// whose are not: reported, never closed). handbook-sync writes its block first in a
/// description, so when an issue of the key has no text above its block and is open or
/// was closed by handbook-sync (its marker says closed: done, handed over or removed),
/// the open issues with text above theirs are most likely its description pasted by a
/// person into an issue whose own block they had deleted: those are pasted copies, never
/// kept, closed or written, however old, and however the original fares later. Closed
/// repeats are left alone: closing them again would change nothing.
pub(super) fn deduplicate<'m, 'a>(managed: &'m [Managed<'a>]) -> Deduplicated<'m, 'a> {
    let mut by_key: BTreeMap<&str, Vec<&'m Managed<'a>>> = BTreeMap::new();
    for m in managed {
        by_key.entry(m.marker.key.as_str()).or_default().push(m);
    }
    let mut winners = Vec::new();
    let mut duplicates = Vec::new();
    let mut claims = Vec::new();
    let mut pasted_copies = Vec::new();
    for group in by_key.into_values() {
        let original = group.iter().any(|m| {
            !m.issue.text_above_block && (m.is_open() || m.marker.state == Some(IssueState::Closed))
        });
        let (copies, mut rest): (Vec<_>, Vec<_>) = group
            .into_iter()
            .partition(|m| original && m.is_open() && m.issue.text_above_block);
        rest.sort_by_key(|m| {
            (
                !m.is_open(),
                !m.is_intact(),
                m.issue.text_above_block,
                m.issue.iid,
            )
        });
        let winner = rest[0];
        winners.push(winner);
        for other in rest[1..].iter().filter(|m| m.is_open()) {
            let list = if other.is_intact() {
                &mut duplicates
            } else {
                &mut claims
            };
            list.push((*other, winner.issue.iid));
        }
        pasted_copies.extend(copies.into_iter().map(|c| (c, winner.issue.iid)));
    }
    Deduplicated {
        winners,
        duplicates,
        claims,
        pasted_copies,
    }
}

/// An item and the issue that is its.
pub(super) struct Pair<'d, 'm, 'a> {
    /// The item's position on the page.
    pub index: usize,
    /// The item.
    pub desired: &'d DesiredIssue,
    /// Its issue.
    pub managed: &'m Managed<'a>,
    /// Paired by similarity rather than key: the bullet was reworded.
    pub reworded: bool,
}

/// Items and issues, paired.
pub(super) struct Matching<'d, 'm, 'a> {
    /// Items with their issue, in page order.
    pub pairs: Vec<Pair<'d, 'm, 'a>>,
    /// Positions of the items no issue belongs to (to create), in page order.
    pub unmatched: Vec<usize>,
    /// Issues no item belongs to (left the handbook), in key order.
    pub orphans: Vec<&'m Managed<'a>>,
}

/// Pairs items with issues: first by key, then the rest by similarity of titles, with
/// issues before the identities held by pasted descriptions.
pub(super) fn match_items<'d, 'm, 'a>(
    desired: &'d [DesiredIssue],
    winners: &[&'m Managed<'a>],
) -> Matching<'d, 'm, 'a> {
    // By position: the identities an issue with several markers holds share its iid.
    let winner_by_key: BTreeMap<&str, (usize, &'m Managed<'a>)> = winners
        .iter()
        .enumerate()
        .map(|(at, w)| (w.marker.key.as_str(), (at, *w)))
        .collect();
    let mut pairs = Vec::new();
    let mut unkeyed = Vec::new();
    let mut taken = BTreeSet::new();
    for (index, d) in desired.iter().enumerate() {
        match winner_by_key.get(d.key.as_str()) {
            Some(&(at, w)) => {
                taken.insert(at);
                pairs.push(Pair {
                    index,
                    desired: d,
                    managed: w,
                    reworded: false,
                });
            }
            None => unkeyed.push((index, d)),
        }
    }
    // Issues first, then the identities pasted descriptions hold: one of those must never
    // take a reworded item from its own issue (which would then be closed as removed).
    let (free_held, free): (Vec<&'m Managed<'a>>, Vec<&'m Managed<'a>>) = winners
        .iter()
        .enumerate()
        .filter(|(at, _)| !taken.contains(at))
        .map(|(_, w)| *w)
        .partition(|w| w.held);
    let first = match_by_similarity(&unkeyed, &free);
    let left: Vec<(usize, &'d DesiredIssue)> =
        first.unmatched.iter().map(|&i| (i, &desired[i])).collect();
    let second = match_by_similarity(&left, &free_held);
    pairs.extend(first.pairs);
    pairs.extend(second.pairs);
    pairs.sort_by_key(|p| p.desired.line);
    let mut orphans = first.orphans;
    orphans.extend(second.orphans);
    Matching {
        pairs,
        unmatched: second.unmatched,
        orphans,
    }
}

/// Pairs the most alike item and issue first, as long as they are alike enough; the
/// items and issues left keep their input order.
fn match_by_similarity<'d, 'm, 'a>(
    items: &[(usize, &'d DesiredIssue)],
    issues: &[&'m Managed<'a>],
) -> Matching<'d, 'm, 'a> {
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (di, (_, d)) in items.iter().enumerate() {
        for (wi, w) in issues.iter().enumerate() {
            let score = similarity(&d.title, &w.marker.title);
            if score >= MIN_SIMILARITY {
                candidates.push((score, di, wi));
            }
        }
    }
    // Ties go to the earlier item and issue, so the plan does not depend on anything
    // but the inputs' order.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut used_d = BTreeSet::new();
    let mut used_w = BTreeSet::new();
    let mut pairs = Vec::new();
    for (_, di, wi) in candidates {
        if used_d.contains(&di) || used_w.contains(&wi) {
            continue;
        }
        used_d.insert(di);
        used_w.insert(wi);
        pairs.push(Pair {
            index: items[di].0,
            desired: items[di].1,
            managed: issues[wi],
            reworded: true,
        });
    }
    let unmatched = (0..items.len())
        .filter(|i| !used_d.contains(i))
        .map(|i| items[i].0)
        .collect();
    let orphans = (0..issues.len())
        .filter(|i| !used_w.contains(i))
        .map(|i| issues[i])
        .collect();
    Matching {
        pairs,
        unmatched,
        orphans,
    }
}

/// How alike two titles are, 0 to 1 (Sørensen–Dice over character bigrams).
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::sorensen_dice(&a.to_lowercase(), &b.to_lowercase())
}
