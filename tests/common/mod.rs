//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `../shared` beside the checkout: the spec, the handbook page and the corpus.
pub fn shared_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        dir.is_dir(),
        "{} is missing: the tests read the shared material beside the checkout",
        dir.display()
    );
    dir
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
    };
    gitlab_sandbox::Sandbox::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox binds")
        .spawn()
}

/// The sandbox token used by the tests (never a real one).
pub const TOKEN: &str = "sandbox-test-token";
