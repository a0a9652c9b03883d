//! One run per project at a time, across machines: the lease GitLab holds for a run (a
//! project label only one caller can create), as the sandbox answers it (modelled on
//! GitLab's source, cited per test), `apply` and `run` as processes, and the lease's
//! renewal and fence through the library.

use std::process::Stdio;
use std::time::{Duration, Instant};

use handbook_sync::gitlab::{Client, Gitlab, Policy};
use handbook_sync::sync_run::lease::{Identity, LeasePolicy, Leases};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TOKEN, World, free_port, get_local, page_toml};

const PROJECT: &str = "acme/roadmap";
const LABELS: &str = "/projects/acme%2Froadmap/labels";
const LEASE: &str = "handbook-sync-lease";

/// A raw request as root, without the observer header (what a client sees), returning
/// the status and the JSON body (`Null` when there is none).
async fn request(
    world: &World,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut r = world
        .http
        .request(method, format!("{}/api/v4{path}", world.sandbox.url))
        .header("PRIVATE-TOKEN", TOKEN)
        .form(form);
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The lease label's description for a holder on another machine, in the form the
/// label carries (the human sentence, then `lease-v1` and the holder as JSON).
fn foreign_lease(until: chrono::DateTime<chrono::Utc>) -> String {
    let since = until - chrono::TimeDelta::minutes(5);
    let holder = json!({
        "run": "0123456789abcdef",
        "host": "ci-runner-7",
        "pid": 4242,
        "command": "handbook-sync apply (CI job https://gitlab.example.com/h/-/jobs/9)",
        "since": since,
        "until": until,
    });
    format!("handbook-sync's lease: held by another machine. lease-v1 {holder}")
}

/// Puts a lease held by another machine until `until` on the project.
async fn hold_lease(world: &World, until: chrono::DateTime<chrono::Utc>) -> u64 {
    let description = foreign_lease(until);
    let label = world
        .api(
            Method::POST,
            LABELS,
            &[
                ("name", LEASE),
                ("color", "#d9534f"),
                ("description", &description),
            ],
        )
        .await;
    label["id"].as_u64().unwrap()
}

/// The project's labels by name.
async fn label_names(world: &World) -> Vec<String> {
    world
        .api(Method::GET, &format!("{LABELS}?per_page=100"), &[])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect()
}

fn six_bullets() -> String {
    let bullets: String = (1..=6).map(|n| format!("- Duty number {n}\n")).collect();
    format!("# Duties\n\n## Weekly\n\n{bullets}")
}

async fn world(extra: &str) -> World {
    let world = World::new(&page_toml("pm", "pm.md", PROJECT), extra).await;
    world.write_page("pm.md", &six_bullets());
    world
}

/// `lib/api/helpers/label_helpers.rb` `create_label`: `conflict!('Label already exists')`
/// when the title is taken; `app/models/label.rb` validates the title unique per project,
/// and the database's unique index `index_labels_on_project_id_and_title_varchar_unique`
/// (migration `IndexLabelsUsingVarcharPatternOps`) holds one per `(project_id, title)`.
/// Twenty creates of one title at once: one `201`, nineteen `409`, one label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_twenty_creates_of_one_label_at_once_exactly_one_succeeds() {
    let world = World::new("", "").await;
    let creates = (0..20).map(|n| {
        let world = &world;
        async move {
            let description = format!("create {n}");
            request(
                world,
                Method::POST,
                LABELS,
                &[
                    ("name", LEASE),
                    ("color", "#d9534f"),
                    ("description", &description),
                ],
                &[],
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(creates).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409);
        assert_eq!(body, &json!({"message": "Label already exists"}));
    }
    let names = label_names(&world).await;
    assert_eq!(names.iter().filter(|n| *n == LEASE).count(), 1, "{names:?}");
    let kept = world
        .api(Method::GET, &format!("{LABELS}/{LEASE}"), &[])
        .await;
    assert_eq!(
        kept["description"], created[0]["description"],
        "the winner's label stays"
    );
}

/// `DELETE /projects/:id/labels/:label_id` (`lib/api/labels.rb`, `delete_label` in
/// `lib/api/helpers/label_helpers.rb`): by id; `destroy_conditionally!` answers `412` when
/// the label changed after `If-Unmodified-Since` (`check_unmodified_since!`,
/// `lib/api/helpers.rb`), `204` otherwise; a deleted label is `404 Label Not Found` and
/// is gone from its issues (`app/models/label.rb`: `label_links` are `dependent: :destroy`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_is_deleted_by_id_only_if_unchanged_since_the_time_given() {
    let world = World::new("", "").await;
    let id = hold_lease(&world, chrono::Utc::now()).await;
    world
        .api(
            Method::POST,
            "/projects/acme%2Froadmap/issues",
            &[("title", "A person's issue"), ("labels", LEASE)],
        )
        .await;
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(2);
    tokio::time::sleep(Duration::from_millis(10)).await;
    world
        .api(
            Method::PUT,
            &format!("{LABELS}/{id}"),
            &[("description", "renewed")],
        )
        .await;
    let http_date =
        |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let path = format!("{LABELS}/{id}");
    let (status, body) = request(
        &world,
        Method::DELETE,
        &path,
        &[],
        &[("If-Unmodified-Since", http_date(before))],
    )
    .await;
    assert_eq!(
        (status, body),
        (412, json!({"message": "412 Precondition Failed"}))
    );
    assert!(label_names(&world).await.contains(&LEASE.to_owned()));
    let after = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let (status, _) = request(
        &world,
        Method::DELETE,
        &path,
        &[],
        &[("If-Unmodified-Since", http_date(after))],
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = request(&world, Method::DELETE, &path, &[], &[]).await;
    assert_eq!(
        (status, body),
        (404, json!({"message": "404 Label Not Found"}))
    );
    let issues = world.issues(PROJECT).await;
    assert_eq!(issues[0]["labels"], json!([]), "the label left its issue");
}

/// Two `apply` processes started together (back to back, while GitLab answers slowly
/// enough that both plan before either writes) on a page of six new bullets: without a lease both planned six creates and made twelve issues. With it,
/// one writes, the other waits for the lease, plans again under it and finds nothing to
/// do. Both succeed; no lease is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_started_together_create_each_item_once() {
    let world = world("").await;
    let apply = || {
        world
            .command(&["apply"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // 100 ms a request: each plans for half a second or more, so the two plans overlap
    // however the processes are scheduled, as two schedulers' jobs starting together do.
    world.set_faults(json!({"latency_ms": 100})).await;
    // Back to back: milliseconds apart.
    let (first, second) = (apply(), apply());
    let (first, second) = tokio::task::spawn_blocking(move || {
        (
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        )
    })
    .await
    .unwrap();
    for output in [&first, &second] {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let issues = world.issues(PROJECT).await;
    let titles: Vec<&str> = issues
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 6, "one issue per bullet: {titles:?}");
    assert!(
        !label_names(&world).await.contains(&LEASE.to_owned()),
        "the lease is released"
    );
    let (code, out, _) = world.run(&["plan"]).await;
    assert_eq!(code, 0, "nothing left to do:\n{out}");
}

/// Another machine holds the lease for an hour: `apply` says it waits and for whom, waits
/// `sync.lease_wait_seconds`, then exits 75 naming the holder (host, pid, command, since,
/// until), having written nothing and left the other run's lease alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_get_the_lease_in_time_exits_75_naming_the_holder() {
    let world = world("[sync]\nlease_wait_seconds = 1\n").await;
    let until = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    hold_lease(&world, until).await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 75, "{out}\n{err}");
    let holder = format!(
        "host ci-runner-7, pid 4242, `handbook-sync apply (CI job https://gitlab.example.com/h/-/jobs/9)`, since {}, until {}",
        (until - chrono::TimeDelta::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert!(
        err.contains(&format!(
            "waiting for {PROJECT}: another handbook-sync run holds its lease ({holder})"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("project {PROJECT}: another handbook-sync run holds its lease (the label `{LEASE}`): {holder}")), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(world.issues(PROJECT).await.is_empty());
    let lease = world
        .api(Method::GET, &format!("{LABELS}/{LEASE}"), &[])
        .await;
    assert_eq!(
        lease["description"].as_str().unwrap(),
        foreign_lease(until),
        "left as it was"
    );
    // `plan` writes nothing and takes no lease: it plans at once.
    let (code, out, err) = world.run(&["plan"]).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(!err.contains("waiting for"), "{err}");
}

/// A holder that died cannot release its lease; once the time in it has passed (by
/// GitLab's clock), the next run deletes it by id and takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over() {
    let world = world("[sync]\nlease_wait_seconds = 0\n").await;
    let stale = hold_lease(&world, chrono::Utc::now() - chrono::TimeDelta::minutes(1)).await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("the project's lease expired"), "{err}");
    assert_eq!(world.issues(PROJECT).await.len(), 6);
    assert!(
        !label_names(&world).await.contains(&LEASE.to_owned()),
        "released at the end"
    );
    let (status, _) = request(&world, Method::GET, &format!("{LABELS}/{stale}"), &[], &[]).await;
    assert_eq!(status, 404, "the stale label was deleted");
}

/// SIGTERM while `apply` holds the lease (a CronJob's pod stopped, a CI job cancelled):
/// no new write starts, the lease is released at once (the next run need not wait for
/// it to expire), `apply` exits 1, and the next run finishes the job without duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_apply_releases_the_lease() {
    let world = world("").await;
    world.set_faults(json!({"latency_ms": 300})).await;
    let apply = world
        .command(&["apply"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !label_names(&world).await.contains(&LEASE.to_owned()) {
        assert!(Instant::now() < deadline, "apply never took the lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, _) = tokio::task::spawn_blocking(move || crate::common::terminate(apply))
        .await
        .unwrap();
    assert_eq!(code, 1, "stopped before it was done");
    world.set_faults(json!({})).await;
    assert!(
        !label_names(&world).await.contains(&LEASE.to_owned()),
        "the lease was released"
    );
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !err.contains("waiting for"),
        "no lease left to wait for: {err}"
    );
    assert_eq!(world.issues(PROJECT).await.len(), 6);
}

/// A label of the lease's name that is no lease (a person made it) is never taken over
/// nor deleted: the run stops with exit 75 and says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_label_of_the_leases_name_is_left_alone() {
    let world = world("[sync]\nlease_wait_seconds = 0\n").await;
    world
        .api(
            Method::POST,
            LABELS,
            &[
                ("name", LEASE),
                ("color", "#000000"),
                ("description", "Ours: do not touch"),
            ],
        )
        .await;
    let (code, out, err) = world.run(&["apply"]).await;
    assert_eq!(code, 75, "{out}\n{err}");
    assert!(err.contains("is not handbook-sync's lease"), "{err}");
    assert!(err.contains("sync.lease_label"), "{err}");
    let label = world
        .api(Method::GET, &format!("{LABELS}/{LEASE}"), &[])
        .await;
    assert_eq!(label["description"], "Ours: do not touch");
    assert!(world.issues(PROJECT).await.is_empty());
}

/// `sync.lease_label` may not be a label handbook-sync puts on issues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_label_that_issues_could_carry_is_a_configuration_error() {
    for (setting, key) in [
        ("lease_label = \"handbook-sync\"", "sync.managed_label"),
        (
            "lease_label = \"section::lock\"",
            "sync.section_label_prefix",
        ),
        ("lease_label = \"handbook::lock\"", "sync.page_label_prefix"),
    ] {
        let world = world(&format!("[sync]\n{setting}\n")).await;
        let (code, _, err) = world.run(&["plan"]).await;
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains("sync.lease_label") && err.contains(key),
            "{err}"
        );
    }
}

/// Every write's answer lost on the way back (the write itself applied): the lease's
/// create is sent again by the client and answered `409`, and the label read back names
/// this run, so the lease is this run's, not another's to wait for. Its release, answered
/// `404` the second time, is just as final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_create_answer_was_lost_is_still_this_runs() {
    let world = World::new("", "").await;
    world
        .set_faults(json!({"lost_response_rate": 1.0, "seed": 1}))
        .await;
    let mut leases = Leases::new(gitlab(&world), short_lease());
    leases
        .acquire(PROJECT, &|_, holder| panic!("waited for itself: {holder}"))
        .await
        .unwrap();
    assert_eq!(lease_holder(&world).await["run"], short_lease().me.run);
    leases.release().await;
    world.set_faults(json!({})).await;
    assert!(!label_names(&world).await.contains(&LEASE.to_owned()));
}

/// A client of the sandbox, one request at a time.
fn gitlab(world: &World) -> Gitlab {
    let url = url::Url::parse(&world.sandbox.url).unwrap();
    let policy = Policy {
        timeout: Duration::from_secs(5),
        retry_initial_delay: Duration::from_millis(1),
        ..Policy::default()
    };
    Gitlab::new(Client::new(&url, TOKEN.to_owned().into(), policy).unwrap())
}

/// A lease renewed every 300 ms. It must outlast the time a write may take (the client's
/// timeout and the minute GitLab may go on after it), or the fence admits none.
fn short_lease() -> LeasePolicy {
    LeasePolicy {
        label: LEASE.into(),
        wait: Duration::ZERO,
        ttl: Duration::from_secs(90),
        renew_every: Duration::from_millis(300),
        poll: Duration::from_millis(100),
        margin: Duration::from_millis(500),
        me: Identity {
            run: "feedfacefeedface".into(),
            host: "test-host".into(),
            pid: 1,
            command: "handbook-sync apply".into(),
        },
    }
}

async fn lease_holder(world: &World) -> Value {
    let label = world
        .api(Method::GET, &format!("{LABELS}/{LEASE}"), &[])
        .await;
    let description = label["description"].as_str().unwrap();
    let at = description.rfind("lease-v1 ").unwrap();
    serde_json::from_str(&description[at + "lease-v1 ".len()..]).unwrap()
}

/// A held lease is renewed (its expiry moves on) and lets writes through; the moment a person deletes its label, the next renewal sees it
/// and no write goes out any more (another run could take the lease now). Release
/// deletes only a label that is still the run's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_and_a_deleted_one_stops_every_write() {
    let world = World::new("", "").await;
    let gitlab = gitlab(&world);
    let mut leases = Leases::new(gitlab.clone(), short_lease());
    leases
        .acquire(PROJECT, &|_, _| panic!("nobody else holds it"))
        .await
        .unwrap();
    let first = lease_holder(&world).await;
    assert_eq!(first["host"], "test-host");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = lease_holder(&world).await;
    let until = |h: &Value| {
        h["until"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(until(&later) > until(&first), "renewed: {first} {later}");
    assert!(leases.is_open_for(Duration::from_millis(500)));
    let project = gitlab.project(PROJECT).await.unwrap();
    gitlab
        .create_label(project.id, "written-under-the-lease", "#000000", "")
        .await
        .unwrap();

    // A person deletes the lease label mid-run.
    let id = world
        .api(Method::GET, &format!("{LABELS}/{LEASE}"), &[])
        .await["id"]
        .as_u64()
        .unwrap();
    world
        .api(Method::DELETE, &format!("{LABELS}/{id}"), &[])
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while leases.is_open_for(Duration::ZERO) {
        assert!(Instant::now() < deadline, "the deletion was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.reset_stats().await;
    let refused = gitlab
        .create_label(project.id, "written-after-losing-it", "#000000", "")
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("was deleted while this run held it"),
        "{refused}"
    );
    assert_eq!(world.stats().await["writes"], 0, "nothing was sent");

    // Another run takes the free lease; this run's release leaves it alone.
    let mut other = Leases::new(
        gitlab.clone(),
        LeasePolicy {
            me: Identity {
                run: "0000000000000002".into(),
                ..short_lease().me
            },
            ..short_lease()
        },
    );
    other.acquire(PROJECT, &|_, _| {}).await.unwrap();
    leases.release().await;
    assert_eq!(lease_holder(&world).await["run"], "0000000000000002");
    other.release().await;
    assert!(!label_names(&world).await.contains(&LEASE.to_owned()));
}

/// The daemon cannot get the lease: the sync is skipped and said so (log, `/readyz`,
/// `syncs_total{outcome="lease_held"}`), not retried in a loop; once the other run's
/// lease is gone, the next tick syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_a_held_lease_and_syncs_on_a_later_tick() {
    let port = free_port();
    let world = world(&format!(
        "[sync]\nlease_wait_seconds = 0\nschedule = \"*/2 * * * * *\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"
    ))
    .await;
    let id = hold_lease(&world, chrono::Utc::now() + chrono::TimeDelta::hours(1)).await;
    let log = world.dir.join("daemon.log");
    let daemon = world
        .command(&["run"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Some((503, text)) = get_local(port, "/readyz").await
            && text.contains("another handbook-sync run holds its lease")
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(ready.contains("host ci-runner-7, pid 4242"), "{ready}");
    // Counted (the series exists from the start, at 0).
    loop {
        let (_, metrics) = get_local(port, "/metrics").await.unwrap();
        let held = metrics
            .lines()
            .find_map(|l| l.strip_prefix("handbook_sync_syncs_total{outcome=\"lease_held\"} "))
            .and_then(|v| v.parse::<f64>().ok());
        if held.is_some_and(|n| n >= 1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(world.issues(PROJECT).await.is_empty());
    // The other run ends.
    world
        .api(Method::DELETE, &format!("{LABELS}/{id}"), &[])
        .await;
    loop {
        if let Some((200, _)) = get_local(port, "/readyz").await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(world.issues(PROJECT).await.len(), 6);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(
            "sync skipped: project acme/roadmap: another handbook-sync run holds its lease"
        ),
        "{text}"
    );
    let (code, _) = tokio::task::spawn_blocking(move || crate::common::terminate(daemon))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
