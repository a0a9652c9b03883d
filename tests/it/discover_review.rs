//! `[[discover]]` after its hardening, read against GitLab's source: a tree that ends on a
//! full page, issues another user opened, a page moved to a project that cannot be read,
//! new pages held behind pages that change nothing, a block retired on purpose. Each
//! test runs the CLI as a process against the sandbox, and is named after what must hold.

use crate::common;
use crate::discover_attacks::{block, commit, open_count, page, sandbox_config};

use common::World;

/// The repository tree's requests the sandbox counted since the last reset.
async fn tree_requests(world: &World) -> u64 {
    world.stats().await["by_route"]["GET /projects/:id/repository/tree"]
        .as_u64()
        .unwrap_or(0)
}

/// Review 1: GitLab (16.7 and later, gitlab.com) links the next keyset page of a tree only
/// when Gitaly gave a cursor, and Gitaly gives none on the page that reaches the last
/// entry (`lib/gitlab/pagination/gitaly_keyset_pager.rb`, Gitaly's
/// `paginateTreeEntries`): a tree of exactly 100 or 200 entries ends on a full page
/// without a link, which every run took for a listing cut short (block skipped, exit 1).
/// One more page after the last entry, empty, says the listing ended.
#[tokio::test]
async fn a_tree_of_exactly_one_or_two_full_pages_is_read_whole() {
    let world = World::with_sandbox(
        &block(
            "jobs",
            "gitlab://acme/handbook/-/jobs?ref=main",
            "{slug}",
            "acme/roadmap",
            "sytses",
        ),
        "",
        |c| *c = sandbox_config(),
    )
    .await;
    let files = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
        range
            .map(|i| (format!("jobs/role{i:03}.md"), page(&format!("role {i}"), 1)))
            .collect()
    };
    commit(&world, &files(0..100)).await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "100 entries, one full page:\n{out}\n{err}");
    assert_eq!(open_count(&world, "acme/roadmap").await, 100);
    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        tree_requests(&world).await,
        2,
        "the page and the empty one after"
    );

    commit(&world, &files(100..200)).await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "200 entries, two full pages:\n{out}\n{err}");
    assert!(!out.contains("REFUSED"), "{out}");
    assert_eq!(open_count(&world, "acme/roadmap").await, 200);
    world.reset_stats().await;
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(tree_requests(&world).await, 3);
}
