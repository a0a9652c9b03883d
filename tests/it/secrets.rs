//! Credentials stay where they belong: the token never follows a redirect, and the
//! credentials of a page source's URL and the webhook secret appear in no output.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TOKEN, World, page_toml, pm_page};

/// Every request a loopback server received: method, path and query, and its headers.
type Seen = Arc<Mutex<Vec<(String, axum::http::HeaderMap)>>>;

/// A server on a free loopback port answering every request with `answer`, remembering
/// what it received. Returns its base URL and what it saw.
async fn recording_server(
    answer: impl Fn(&str) -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (log, answer) = (log.clone(), answer.clone());
        async move {
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            log.lock().unwrap().push((
                format!("{} {target}", request.method()),
                request.headers().clone(),
            ));
            answer(&target)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A GitLab behind a proxy that moved: every API request is answered `301` to the same
/// path on another host, as nginx's `return 301 https://new.example.com$request_uri`
/// does (GitLab's Omnibus `nginx['redirect_http_to_https']` sends the same kind of
/// answer). reqwest strips `Authorization` and `Cookie` on such a redirect but not
/// `PRIVATE-TOKEN`; handbook-sync must not follow it at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirecting_gitlab_gets_no_token_to_the_target_and_the_run_says_where_it_points() {
    let (target, target_seen) =
        recording_server(|_| axum::response::IntoResponse::into_response("[]")).await;
    let to = target.clone();
    let (moved, moved_seen) = recording_server(move |path| {
        let mut r =
            axum::response::IntoResponse::into_response(axum::http::StatusCode::MOVED_PERMANENTLY);
        r.headers_mut()
            .insert("location", format!("{to}{path}").parse().unwrap());
        r
    })
    .await;
    let world = World::new(&page_toml("product-manager", "pm.md", "acme/roadmap"), "").await;
    world.write_page("pm.md", &pm_page());
    let config = world.dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&world.sandbox.url, &moved)).unwrap();

    for args in [&["apply"][..], &["status"]] {
        let (code, out, err) = world.run(args).await;
        assert_eq!(code, 1, "{args:?}: the run fails\n{out}\n{err}");
        let expected = format!("{moved} redirects to {target}: set gitlab.url to it");
        assert!(
            out.contains(&expected) || err.contains(&expected),
            "{args:?}: no `{expected}` in\n{out}\n{err}"
        );
    }
    assert!(
        !moved_seen.lock().unwrap().is_empty(),
        "the moved GitLab was asked"
    );
    let reached = target_seen.lock().unwrap();
    assert!(
        reached.is_empty(),
        "nothing, and so no token, reached the redirect's target: {:?}",
        reached.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    assert!(
        reached
            .iter()
            .all(|(_, h)| !h.contains_key("private-token")),
        "the token reached the target"
    );
}

const BASIC_PASSWORD: &str = "pw-B4sicSecret";
const QUERY_TOKEN: &str = "qt-Qu3rySecret";
const HOOK_SECRET: &str = "wh-H00kSecret";
/// Credentials under names no list of credential words holds.
const SAS_SIG: &str = "sig-Az8reD4emon";
const OTHER_PARAMETER: &str = "foo-Unl1stedD4emon";

/// A handbook site that serves `/pm.md` only with the right basic credentials and query
/// token (401 otherwise); anything else is 404.
async fn guarded_site() -> String {
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("reader:{BASIC_PASSWORD}"))
    );
    let site = axum::Router::new().route(
        "/pm.md",
        axum::routing::get(
            move |headers: axum::http::HeaderMap,
                  query: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let basic = basic.clone();
                async move {
                    let authorized = headers.get("authorization").is_some_and(|v| *v == *basic)
                        && query.get("private_token").map(String::as_str) == Some(QUERY_TOKEN);
                    if authorized {
                        (axum::http::StatusCode::OK, pm_page())
                    } else {
                        (axum::http::StatusCode::UNAUTHORIZED, String::new())
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, site).await });
    url
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `run` at trace level until its first sync is counted in `/metrics`, a push hook with
/// the right secret, and SIGTERM: its stdout, stderr and the `/metrics` text.
async fn daemon_outputs(world: &World, port: u16) -> Vec<(String, String)> {
    let out_file = world.dir.join("daemon.out");
    let err_file = world.dir.join("daemon.err");
    let child = Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(["run", "--log-format", "json", "--config"])
        .arg(world.dir.join("config.toml"))
        .env("GITLAB_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::from(std::fs::File::create(&out_file).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_file).unwrap()))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if let Ok(r) = reqwest::get(format!("{base}/metrics")).await {
            let text = r.text().await.unwrap();
            // Every outcome is there from the start, at 0: one of them must have counted.
            let counted = text
                .lines()
                .filter(|l| l.starts_with("handbook_sync_syncs_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .any(|n| n >= 1.0);
            if counted {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "the daemon never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let hook = reqwest::Client::new()
        .post(format!("{base}/hooks/gitlab"))
        .header("X-Gitlab-Token", HOOK_SECRET)
        .header("X-Gitlab-Event", "Push Hook")
        .body(r#"{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"acme/roadmap"},"commits":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 202, "the right secret is accepted");
    let (code, _) = tokio::task::spawn_blocking(move || common::terminate(child))
        .await
        .unwrap();
    assert_eq!(code, 0);
    vec![
        (
            "run stdout".into(),
            std::fs::read_to_string(&out_file).unwrap(),
        ),
        (
            "run stderr".into(),
            std::fs::read_to_string(&err_file).unwrap(),
        ),
        ("/metrics".into(), metrics),
    ]
}

/// At trace level, with a page source carrying `user:password@`, `?private_token=`, an
/// Azure SAS `sig=` and a parameter of a name nobody listed, and a webhook secret,
/// neither they nor the GitLab token appear in stdout, stderr (human or JSON logs),
/// `/metrics` or the configuration's `Debug`, while the page is read with them and a
/// failing source's URL is still shown, redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_credentials_and_the_webhook_secret_appear_nowhere_even_at_trace_level() {
    let site = guarded_site().await;
    let authority = format!(
        "reader:{BASIC_PASSWORD}@{}",
        site.trim_start_matches("http://")
    );
    let port = free_port();
    let pages = format!(
        "[[pages]]\nid = \"pm\"\nsource = \"http://{authority}/pm.md?ref=main&private_token={QUERY_TOKEN}&sig={SAS_SIG}&foo={OTHER_PARAMETER}\"\nproject = \"acme/roadmap\"\nowner = \"sytses\"\n\n\
         [[pages]]\nid = \"gone\"\nsource = \"http://{authority}/gone.md?private_token={QUERY_TOKEN}&sig={SAS_SIG}&foo={OTHER_PARAMETER}\"\nproject = \"acme/other\"\nowner = \"sytses\"\n"
    );
    let mut world = World::new(
        &pages,
        &format!(
            "[sync]\nschedule = \"0 0 1 1 *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[webhook]\nsecret = \"{HOOK_SECRET}\"\n"
        ),
    )
    .await;
    world.env("RUST_LOG", "trace");
    let mut outputs = Vec::new();
    for args in [
        &["apply"][..],
        &["plan", "--format", "json"],
        &["apply", "--log-format", "json"],
    ] {
        let (code, out, err) = world.run(args).await;
        assert_eq!(code, 1, "{args:?}: the second page fails\n{out}\n{err}");
        assert!(err.len() > 1000, "trace logging is on: {} bytes", err.len());
        outputs.push((format!("{args:?} stdout"), out));
        outputs.push((format!("{args:?} stderr"), err));
    }
    outputs.extend(daemon_outputs(&world, port).await);
    let config = handbook_sync::config::Config::load(Some(&world.dir.join("config.toml"))).unwrap();
    outputs.push(("Config's Debug".into(), format!("{config:?}")));

    assert_eq!(
        world.issues("acme/roadmap").await.len(),
        50,
        "the page was read with its credentials"
    );
    let shown = outputs
        .iter()
        .any(|(_, text)| text.contains("/gone.md?private_token=REDACTED"));
    assert!(shown, "the failing source is named, redacted");
    for (name, text) in &outputs {
        for secret in [
            BASIC_PASSWORD,
            QUERY_TOKEN,
            HOOK_SECRET,
            TOKEN,
            SAS_SIG,
            OTHER_PARAMETER,
        ] {
            assert!(
                !text.contains(secret),
                "{secret} appears in {name}:\n{text}"
            );
        }
    }
}
