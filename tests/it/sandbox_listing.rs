//! The sandbox lists issues as GitLab does: filters and sorts, offset pagination's
//! headers and links (totals left out past 10,000 records), keyset pagination; checked
//! over HTTP with plain requests.

use crate::common;
use crate::sandbox_api::{Api, header};

use common::{TOKEN, sandbox};
use reqwest::{Client, Method};
use serde_json::Value;

#[tokio::test]
async fn issue_list_filters_and_sorts_like_gitlab() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let drew = api.get("/users?username=DREW").await[0]["id"]
        .as_u64()
        .unwrap()
        .to_string();
    api.create_issue(&[
        ("title", "Maintain the website"),
        ("labels", "a,b"),
        ("assignee_id", &drew),
    ])
    .await;
    // Timestamps have millisecond precision: keep the cut clear of both issues.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let before_second = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.create_issue(&[
        ("title", "Website infrastructure"),
        ("labels", "a"),
        ("description", "keep the servers up"),
    ])
    .await;
    api.create_issue(&[("title", "Ownership of ads")]).await;
    let titles = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let p = "/projects/acme%2Froadmap/issues";

    assert_eq!(
        titles(api.get(&format!("{p}?labels=a,b")).await),
        ["Maintain the website"]
    );
    assert_eq!(
        titles(
            api.get(&format!("{p}?labels=a&order_by=created_at&sort=asc"))
                .await
        ),
        ["Maintain the website", "Website infrastructure"]
    );
    assert_eq!(
        titles(api.get(&format!("{p}?labels=None")).await),
        ["Ownership of ads"]
    );
    assert_eq!(
        titles(api.get(&format!("{p}?search=website&sort=asc")).await),
        ["Maintain the website", "Website infrastructure"]
    );
    assert!(
        titles(api.get(&format!("{p}?search=websi")).await).is_empty(),
        "search matches words, not substrings"
    );
    assert_eq!(
        titles(api.get(&format!("{p}?search=servers&in=title")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(api.get(&format!("{p}?search=servers&in=description")).await),
        ["Website infrastructure"]
    );
    assert_eq!(
        titles(api.get(&format!("{p}?iids[]=1&iids[]=3&sort=asc")).await),
        ["Maintain the website", "Ownership of ads"]
    );
    assert_eq!(
        titles(api.get(&format!("{p}?assignee_id={drew}")).await),
        ["Maintain the website"]
    );
    assert_eq!(
        titles(api.get(&format!("{p}?assignee_id=None&sort=asc")).await),
        ["Website infrastructure", "Ownership of ads"]
    );
    let after = before_second.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        titles(
            api.get(&format!("{p}?created_after={after}&sort=asc"))
                .await
        ),
        ["Website infrastructure", "Ownership of ads"]
    );

    let (_, closed) = api
        .json(Method::PUT, &format!("{p}/3"), &[("state_event", "close")])
        .await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        titles(api.get(&format!("{p}?state=closed")).await),
        ["Ownership of ads"]
    );
    assert_eq!(titles(api.get(&format!("{p}?state=opened")).await).len(), 2);
    let updated_after = closed["updated_at"].as_str().unwrap().to_owned();
    assert_eq!(
        titles(api.get(&format!("{p}?updated_after={updated_after}")).await),
        ["Ownership of ads"]
    );
    let (_, reopened) = api
        .json(Method::PUT, &format!("{p}/3"), &[("state_event", "reopen")])
        .await;
    assert!(
        reopened["state"] == "opened"
            && reopened["closed_at"].is_null()
            && reopened["closed_by"].is_null()
    );
}

#[tokio::test]
async fn offset_pagination_headers_and_links_are_as_documented() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    for n in 0..8 {
        api.create_issue(&[("title", &format!("issue {n}"))]).await;
    }
    let r = api
        .send(
            Method::GET,
            "/projects/acme%2Froadmap/issues?per_page=3&page=2",
            &[],
        )
        .await;
    assert_eq!(header(&r, "x-page").as_deref(), Some("2"));
    assert_eq!(header(&r, "x-per-page").as_deref(), Some("3"));
    assert_eq!(header(&r, "x-next-page").as_deref(), Some("3"));
    assert_eq!(header(&r, "x-prev-page").as_deref(), Some("1"));
    assert_eq!(header(&r, "x-total").as_deref(), Some("8"));
    assert_eq!(header(&r, "x-total-pages").as_deref(), Some("3"));
    let base = format!("{}/projects/acme%2Froadmap/issues", api.base);
    let link = |p: u32| format!("<{base}?page={p}&per_page=3>");
    assert_eq!(
        header(&r, "link").unwrap(),
        format!(
            "{}; rel=\"prev\", {}; rel=\"next\", {}; rel=\"first\", {}; rel=\"last\"",
            link(1),
            link(3),
            link(1),
            link(3)
        )
    );
    let last = api
        .send(
            Method::GET,
            "/projects/acme%2Froadmap/issues?per_page=3&page=3",
            &[],
        )
        .await;
    assert_eq!(header(&last, "x-next-page").as_deref(), Some(""));
    assert_eq!(
        last.json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let capped = api
        .send(
            Method::GET,
            "/projects/acme%2Froadmap/issues?per_page=500",
            &[],
        )
        .await;
    assert_eq!(header(&capped, "x-per-page").as_deref(), Some("100"));
}

/// `api_kaminari_count_with_limit` (`lib/gitlab/pagination/offset_pagination.rb`,
/// `paginate_with_limit_optimization`; off by default, on at gitlab.com): with it GitLab
/// counts no further than 10,000 records, so above that there is no `X-Total`,
/// `X-Total-Pages` or `rel="last"`; without it the totals are always there.
#[tokio::test]
async fn totals_and_last_link_are_left_out_above_ten_thousand_records() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let base = api.base.clone();
        tasks.spawn(async move {
            let api = Api {
                http: Client::new(),
                base,
            };
            for n in 0..1251 {
                api.create_issue(&[("title", &format!("bulk {worker}-{n}"))])
                    .await;
            }
        });
    }
    tasks.join_all().await;
    let page_2 = "/projects/acme%2Froadmap/issues?per_page=100&page=2";
    let r = api.send(Method::GET, page_2, &[]).await;
    assert_eq!(header(&r, "x-total").as_deref(), Some("10008"));
    assert_eq!(header(&r, "x-total-pages").as_deref(), Some("101"));
    assert!(header(&r, "link").unwrap().contains("rel=\"last\""));
    crate::as_user::enable_feature(&sb.url, "api_kaminari_count_with_limit").await;
    let r = api.send(Method::GET, page_2, &[]).await;
    assert_eq!(header(&r, "x-total"), None);
    assert_eq!(header(&r, "x-total-pages"), None);
    let link = header(&r, "link").unwrap();
    assert!(
        link.contains("rel=\"next\"")
            && link.contains("rel=\"first\"")
            && !link.contains("rel=\"last\""),
        "{link}"
    );
}

#[tokio::test]
async fn keyset_pagination_walks_every_issue_once() {
    let sb = sandbox().await;
    let api = Api::new(&sb.url);
    for n in 0..25 {
        api.create_issue(&[("title", &format!("k{n:02}"))]).await;
    }
    let mut url = format!(
        "{}/projects/acme%2Froadmap/issues?pagination=keyset&per_page=10&order_by=title&sort=asc",
        api.base
    );
    let mut seen = Vec::new();
    loop {
        let r = Client::new()
            .get(&url)
            .header("PRIVATE-TOKEN", TOKEN)
            .send()
            .await
            .unwrap();
        let next = header(&r, "link");
        let page: Value = r.json().await.unwrap();
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_owned()),
        );
        match next {
            Some(link) => {
                url = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("k{n:02}")).collect();
    assert_eq!(seen, expected);
}
