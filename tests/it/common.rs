//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `tests/data/`: the corpus of real handbook pages and GitLab's documented responses
/// (sources and licences in `tests/data/NOTICE.md`).
pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    assert!(
        dir.is_dir(),
        "{} is missing: it is part of the repository",
        dir.display()
    );
    dir
}

/// The product-manager page the project was born from (also the demo's page).
pub fn pm_page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/handbook/product-manager.md")
}

/// Runs the built `handbook-sync` binary with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the handbook-sync binary runs")
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// An in-process sandbox with one public project `acme/roadmap` and users `drew`, `ashley`.
pub async fn sandbox() -> gitlab_sandbox::Running {
    sandbox_with_tier(gitlab_sandbox::Tier::Free).await
}

/// [`sandbox`] as the given tier (Premium keeps several assignees and exclusive scoped labels).
pub async fn sandbox_with_tier(tier: gitlab_sandbox::Tier) -> gitlab_sandbox::Running {
    let config = gitlab_sandbox::Config {
        token: TOKEN.into(),
        projects: vec![
            ("acme/roadmap".into(), "public".into()),
            ("acme/secret".into(), "private".into()),
        ],
        users: vec![
            ("drew".into(), "Drew".into()),
            ("ashley".into(), "Ashley".into()),
        ],
        state_file: None,
        tier,
        ..Default::default()
    };
    gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox binds")
        .spawn()
}

/// The sandbox token used by the tests (never a real one).
pub const TOKEN: &str = "sandbox-test-token";

/// A handbook-sync setup against an in-process sandbox: a temporary directory with a
/// configuration and pages, and helpers to run the binary and to look at GitLab.
pub struct World {
    pub sandbox: gitlab_sandbox::Running,
    pub dir: PathBuf,
    pub http: reqwest::Client,
    extra_env: Vec<(String, String)>,
}

/// The product-manager page shipped with the project.
pub fn pm_page() -> String {
    std::fs::read_to_string(pm_page_path()).unwrap()
}

impl World {
    /// A sandbox with projects `acme/roadmap`, `acme/other` and `acme/private` (private,
    /// no members), users `sytses`, `drew`,
    /// `andriy`, `ashley`, `root`, and a config whose `[[pages]]` are `pages_toml`.
    pub async fn new(pages_toml: &str, extra_toml: &str) -> World {
        World::with_tier(pages_toml, extra_toml, gitlab_sandbox::Tier::Free).await
    }

    /// [`World::new`] with a sandbox of the given GitLab tier (Premium keeps several
    /// assignees).
    pub async fn with_tier(
        pages_toml: &str,
        extra_toml: &str,
        tier: gitlab_sandbox::Tier,
    ) -> World {
        World::with_sandbox(pages_toml, extra_toml, |c| c.tier = tier).await
    }

    /// [`World::new`] with the sandbox's configuration changed by `adjust` (its tier,
    /// how it stores label titles, …).
    pub async fn with_sandbox(
        pages_toml: &str,
        extra_toml: &str,
        adjust: impl FnOnce(&mut gitlab_sandbox::Config),
    ) -> World {
        let mut config = gitlab_sandbox::Config {
            token: TOKEN.into(),
            projects: vec![
                ("acme/roadmap".into(), "public".into()),
                ("acme/other".into(), "public".into()),
                ("acme/private".into(), "private".into()),
            ],
            users: ["sytses", "drew", "andriy", "ashley"]
                .iter()
                .map(|u| (u.to_string(), u.to_string()))
                .collect(),
            // Developers of both projects: handbook-sync assigns handbook names only to
            // members.
            members: ["acme/roadmap", "acme/other"]
                .iter()
                .flat_map(|p| {
                    ["sytses", "drew", "andriy", "ashley"]
                        .iter()
                        .map(move |u| (p.to_string(), u.to_string(), 30))
                })
                .collect(),
            state_file: None,
            ..Default::default()
        };
        adjust(&mut config);
        let sandbox = gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap()
            .spawn();
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("hs-world-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let world = World {
            sandbox,
            dir,
            http: reqwest::Client::new(),
            extra_env: Vec::new(),
        };
        world.write_config(pages_toml, extra_toml);
        world
    }

    /// Rewrites the configuration.
    pub fn write_config(&self, pages_toml: &str, extra_toml: &str) {
        let config = format!(
            "[gitlab]\nurl = \"{}\"\n# The sandbox is local: no need to pace like gitlab.com.\nrequests_per_minute = 1000000\nissue_creations_per_minute = 1000000\nretry_initial_delay_ms = 1\n\n{extra_toml}\n[people]\n\"Drew\" = \"drew\"\n\"Andriy\" = \"andriy\"\n\"Ashley\" = \"ashley\"\n\n{pages_toml}\n",
            self.sandbox.url
        );
        std::fs::write(self.dir.join("config.toml"), config).unwrap();
    }

    /// Sets an environment variable for the runs that follow.
    pub fn env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// Writes a page file next to the configuration.
    pub fn write_page(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    /// `handbook-sync ARGS --config <config>` with the token, ready to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_handbook-sync"));
        command
            .args(args)
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .env("GITLAB_TOKEN", TOKEN)
            .env_remove("RUST_LOG");
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        command
    }

    /// Runs `handbook-sync ARGS --config <config>`; returns (exit code, stdout, stderr).
    pub async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            stdout(&output),
            stderr(&output),
        )
    }

    /// `apply`, asserting the exit code.
    pub async fn apply_ok(&self) -> String {
        let (code, out, err) = self.run(&["apply"]).await;
        assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
        out
    }

    /// Every issue of a project (all states), as GitLab returns them, by iid.
    pub async fn issues(&self, project: &str) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        for page in 1.. {
            let url = format!(
                "{}/api/v4/projects/{}/issues?per_page=100&page={page}&sort=asc",
                self.sandbox.url,
                project.replace('/', "%2F")
            );
            let batch: Vec<serde_json::Value> = self
                .http
                .get(url)
                .header("PRIVATE-TOKEN", TOKEN)
                .header("x-sandbox-observer", "1")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let done = batch.len() < 100;
            all.extend(batch);
            if done {
                break;
            }
        }
        all.sort_by_key(|i| i["iid"].as_u64());
        all
    }

    /// A raw API request with the token.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> serde_json::Value {
        let r = self
            .http
            .request(method, format!("{}/api/v4{path}", self.sandbox.url))
            .header("PRIVATE-TOKEN", TOKEN)
            .header("x-sandbox-observer", "1")
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return serde_json::Value::Null;
        }
        r.json().await.unwrap()
    }

    /// As root: a new user (an administrator if `admin`), through `POST /users`;
    /// returns its id.
    pub async fn create_user(&self, username: &str, admin: bool) -> u64 {
        let email = format!("{username}@example.com");
        let mut form = vec![
            ("email", email.as_str()),
            ("name", username),
            ("username", username),
            ("password", "a-long-password-1"),
        ];
        if admin {
            form.push(("admin", "true"));
        }
        let user = self.api(reqwest::Method::POST, "/users", &form).await;
        user["id"].as_u64().unwrap()
    }

    /// As root: a personal access token of `user` with `scopes`.
    pub async fn create_token(&self, user: u64, scopes: &[&str]) -> String {
        let mut form = vec![("name", "handbook-sync")];
        form.extend(scopes.iter().map(|s| ("scopes[]", *s)));
        let path = format!("/users/{user}/personal_access_tokens");
        let token = self.api(reqwest::Method::POST, &path, &form).await;
        token["token"].as_str().unwrap().to_owned()
    }

    /// `/-/sandbox/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/-/sandbox/stats", self.sandbox.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sets the sandbox's injected faults (`PUT /-/sandbox/faults`; `{}` turns them off).
    pub async fn set_faults(&self, faults: serde_json::Value) {
        let r = self
            .http
            .put(format!("{}/-/sandbox/faults", self.sandbox.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Resets the request counts.
    pub async fn reset_stats(&self) {
        self.http
            .post(format!("{}/-/sandbox/stats/reset", self.sandbox.url))
            .send()
            .await
            .unwrap();
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nothing listens on (for a daemon's `server.listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET http://127.0.0.1:PORT/PATH`: status and body, or `None` when nothing answers.
pub async fn get_local(port: u16, path: &str) -> Option<(u16, String)> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    Some((r.status().as_u16(), r.text().await.unwrap()))
}

/// One `[[pages]]` entry.
pub fn page_toml(id: &str, source: &str, project: &str) -> String {
    format!(
        "[[pages]]\nid = \"{id}\"\nsource = \"{source}\"\nurl = \"https://about.gitlab.com/jobs/{id}/\"\nproject = \"{project}\"\nowner = \"sytses\"\n"
    )
}

/// Starts `handbook-sync sandbox ARGS` as a process; returns it and the URL from its first
/// line (`listening on http://127.0.0.1:PORT`).
pub fn sandbox_process(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .arg("sandbox")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

/// Sends SIGTERM and waits (at most 15 s) for the exit; returns the exit code and how long
/// the process took to stop.
pub fn terminate(mut child: std::process::Child) -> (i32, std::time::Duration) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let sent = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), sent.elapsed());
        }
        assert!(
            sent.elapsed() < std::time::Duration::from_secs(15),
            "the process did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A GitLab API client for the sandbox's REST tests: form or JSON bodies, status and
/// JSON back.
pub struct Rest {
    http: reqwest::Client,
    base: String,
}

impl Rest {
    /// For the sandbox at `url`, with the test token.
    pub fn new(url: &str) -> Self {
        Rest {
            http: reqwest::Client::new(),
            base: format!("{url}/api/v4"),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("PRIVATE-TOKEN", TOKEN)
    }

    /// Sends a form body (what the `gitlab` crate sends).
    pub async fn form(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .request(method, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    /// Sends a JSON body (what python-gitlab sends).
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.request(method, path).json(body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    /// A GET; the raw response, for headers and bodies that are not JSON.
    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    /// A GET that must answer 200.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let response = self.get_raw(path).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(status, reqwest::StatusCode::OK, "GET {path}: {body}");
        body
    }
}

/// A webhook receiver on a free local port: every JSON body posted to it arrives on the
/// channel, in the order received. Returns the URL to register and the channel.
pub async fn hook_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                if let Ok(event) = serde_json::from_slice(&body) {
                    let _ = tx.send(event);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// Waits (up to 10 s) for the first event `wanted` accepts, dropping the others.
pub async fn wait_for_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        loop {
            let event = events.recv().await.expect("the receiver runs");
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .expect("the push event arrives within 10 s")
}
