//! What a release is made of: the version and commit the binary names, and the
//! published image that every deploy file names at that version.

use std::path::Path;
use std::process::Command;

use crate::common;

/// The commit `build.rs` should have found: `HANDBOOK_SYNC_COMMIT` or `CI_COMMIT_SHA` as
/// the build saw them, else the checkout's HEAD, else none.
fn expected_commit() -> String {
    let from_env = [
        option_env!("HANDBOOK_SYNC_COMMIT"),
        option_env!("CI_COMMIT_SHA"),
    ]
    .into_iter()
    .flatten()
    .find(|c| (7..=40).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_hexdigit()))
    .map(str::to_owned);
    let head = || {
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| common::stdout(&o).trim().to_owned())
    };
    from_env
        .or_else(head)
        .map_or_else(|| "unknown".to_owned(), |c| c[..12].to_owned())
}

#[test]
fn version_names_the_release_and_the_commit_built() {
    let binary = env!("CARGO_BIN_EXE_handbook-sync");
    let expected = format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        expected_commit()
    );
    let out = Command::new(binary).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        common::stdout(&out).trim(),
        format!("handbook-sync {expected}")
    );
    // Every subcommand says the same, so a CI log's `handbook-sync plan --version` does too.
    let out = Command::new(binary)
        .args(["plan", "--version"])
        .output()
        .unwrap();
    assert_eq!(
        common::stdout(&out).trim(),
        format!("handbook-sync-plan {expected}")
    );
}

#[test]
fn the_changelog_has_a_section_for_this_version() {
    let changelog =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("CHANGELOG.md"))
            .unwrap();
    let heading = format!("## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(
        changelog.lines().any(|l| l.starts_with(&heading)),
        "CHANGELOG.md has no '{heading}' section"
    );
}

/// The published image and the CI/CD component, as every deploy file and the README name
/// them: at this version, so that a release that bumps `Cargo.toml` cannot leave one
/// pointing at the last.
#[test]
fn every_deploy_file_names_the_published_image_and_component_at_this_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let image = "registry.gitlab.com/handbook-sync/handbook-sync";
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap();
    let named = [
        "deploy/kubernetes/cronjob.yaml",
        "deploy/kubernetes/daemon/deployment.yaml",
        "deploy/gitlab-ci/handbook-sync.gitlab-ci.yml",
        "templates/handbook-sync.yml",
        "README.md",
    ];
    for file in named {
        let text = read(file);
        assert!(
            text.contains(&format!("{image}:{version}")),
            "{file} does not name {image}:{version}"
        );
    }
    for file in [
        "deploy/kubernetes/kustomization.yaml",
        "deploy/kubernetes/daemon/kustomization.yaml",
    ] {
        let text = read(file);
        assert!(
            text.contains(&format!("newName: {image}\n"))
                && text.contains(&format!("newTag: \"{version}\"\n")),
            "{file}: images: does not set {image} at {version}"
        );
    }
    // No other version of the image or the component anywhere.
    for file in named {
        let text = read(file);
        for (prefix, what) in [
            (format!("{image}:"), "image"),
            ("/handbook-sync/handbook-sync@".to_owned(), "component"),
        ] {
            for (at, _) in text.match_indices(&prefix) {
                let rest = &text[at + prefix.len()..];
                let tag: String = rest
                    .chars()
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || *c == '.' || *c == '<' || *c == '>'
                    })
                    .collect();
                assert!(
                    tag == version || tag.starts_with('<'),
                    "{file} names the {what} at {tag:?}, not {version}"
                );
            }
        }
    }
}
