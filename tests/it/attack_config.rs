//! The configuration file a run without `--config` picks up.

use crate::common::World;

/// Without `--config`, `config/handbook-sync.toml` under the working directory wins over
/// `/etc/handbook-sync/config.toml`: a cron job started in a directory that holds a stray
/// copy would sync with it. The run says which file it used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_config_names_the_file_it_found() {
    let world = World::new(&crate::common::page_toml("pm", "pm.md", "acme/roadmap"), "").await;
    world.write_page("pm.md", "## Duties\n\n- Answer the phone\n");
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("config")).unwrap();
    let text = std::fs::read_to_string(world.dir.join("config.toml"))
        .unwrap()
        .replace(
            "source = \"pm.md\"",
            &format!("source = {:?}", world.dir.join("pm.md")),
        );
    std::fs::write(cwd.path().join("config/handbook-sync.toml"), text).unwrap();
    let mut bare = std::process::Command::new(env!("CARGO_BIN_EXE_handbook-sync"));
    bare.arg("plan")
        .current_dir(cwd.path())
        .env("GITLAB_TOKEN", crate::common::TOKEN)
        .env_remove("RUST_LOG");
    let output = tokio::task::spawn_blocking(move || bare.output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    let used = cwd.path().join("config/handbook-sync.toml");
    assert!(
        err.contains("no --config given: using the configuration file found there")
            && err.contains(&used.display().to_string()),
        "{err}"
    );
}
