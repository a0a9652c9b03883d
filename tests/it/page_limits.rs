//! A page source larger than `sync.max_page_bytes` is not read: that page fails with a
//! message naming the source and the limit, and nothing of it is closed.

use crate::common;

use common::{World, page_toml, pm_page};

/// A handbook site whose `/endless.md` never ends: a client that reads a body whole
/// would never finish. Returns the page's URL.
async fn endless_site() -> String {
    let site = axum::Router::new().route(
        "/endless.md",
        axum::routing::get(|| async {
            let chunk = axum::body::Bytes::from(vec![b'-'; 8192]);
            let body = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            axum::body::Body::from_stream(body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/endless.md", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });
    url
}

/// The size limit holds for every kind of source: a local file (read off the async
/// threads), an `http` page streamed without end, and a `gitlab://` file (refused by the
/// `size` GitLab's repository files API reports: `lib/api/files.rb` presents
/// `Gitlab::Git::Blob#size`). The local page lost ten bullets, which a read would close;
/// nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_size_limit_fails_with_its_source_and_limit_and_closes_nothing() {
    let world = World::new(&page_toml("product-manager", "pm.md", "acme/roadmap"), "").await;
    world.write_page("pm.md", &pm_page());
    world.apply_ok().await;
    let open_before = open_issues(&world).await;
    assert_eq!(open_before, 43);

    let limit = pm_page().len() + 100;
    let mut shorter: String = pm_page()
        .lines()
        .filter({
            let mut dropped = 0;
            move |line| {
                let drop = line.starts_with("- ") && dropped < 10;
                dropped += usize::from(drop);
                !drop
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    shorter.push_str(&format!("\n<!-- {} -->\n", "x".repeat(limit)));
    world.write_page("pm.md", &shorter);
    let big = format!(
        "## Duties\n\n- One duty\n\n<!-- {} -->\n",
        "y".repeat(limit)
    );
    world
        .api(
            reqwest::Method::POST,
            "/projects/acme%2Fother/repository/files/big.md",
            &[
                ("branch", "main"),
                ("content", &big),
                ("commit_message", "A big page"),
            ],
        )
        .await;
    let endless = endless_site().await;
    world.write_config(
        &format!(
            "{}\n[[pages]]\nid = \"endless\"\nsource = \"{endless}\"\nproject = \"acme/other\"\nowner = \"sytses\"\n\n\
             [[pages]]\nid = \"big\"\nsource = \"gitlab://acme/other/big.md\"\nproject = \"acme/other\"\nowner = \"sytses\"\n",
            page_toml("product-manager", "pm.md", "acme/roadmap")
        ),
        &format!("[sync]\nmax_page_bytes = {limit}\n"),
    );
    world.reset_stats().await;

    let started = std::time::Instant::now();
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the endless page was abandoned at the limit"
    );
    for source in [
        world.dir.join("pm.md").display().to_string(),
        endless.clone(),
        "gitlab://acme/other/-/big.md?ref=main".to_owned(),
    ] {
        let message =
            format!("page source `{source}` is larger than sync.max_page_bytes ({limit} bytes)");
        assert!(out.contains(&message), "no `{message}` in\n{out}");
    }
    assert_eq!(world.stats().await["writes"], 0, "nothing was written");
    assert_eq!(open_issues(&world).await, open_before, "nothing was closed");
}

async fn open_issues(world: &World) -> usize {
    world
        .issues("acme/roadmap")
        .await
        .iter()
        .filter(|i| i["state"] == "opened")
        .count()
}
