//! The command line against its documentation: exit statuses, and every subcommand's
//! `--help` against the README's usage blocks.

use handbook_sync::exit::Exit;

use crate::common;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn usage_errors_exit_64_not_plans_changes_to_make() {
    for args in [
        &["plan", "--confg", "x"][..],
        &["plan", "--format", "yaml"],
        &["apply", "--page"],
        &["parse", "--format", "markdown", "page.md"],
        &["status", "--format", "markdown"],
        &["sandbox", "--token", "t", "--project", "no-group"],
        &["no-such-command"],
        &[],
    ] {
        let output = common::run(args);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?}: {}",
            common::stderr(&output)
        );
        assert!(
            common::stderr(&output).contains("error:") || args.is_empty(),
            "{args:?}: the reason is said: {}",
            common::stderr(&output)
        );
    }
    let help = common::run(&["plan", "--help"]);
    assert_eq!(help.status.code(), Some(0), "--help is no error");
    let version = common::run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
}

#[test]
fn the_readme_exit_table_is_the_programs() {
    let readme = readme();
    let rows: Vec<(u8, String)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .collect();
            let [code, meaning] = cells[..] else {
                return None;
            };
            Some((code.trim().parse().ok()?, meaning.trim().to_owned()))
        })
        .collect();
    let expected: Vec<(u8, String)> = Exit::ALL
        .iter()
        .map(|s| (s.code(), s.meaning().to_owned()))
        .collect();
    assert_eq!(rows, expected, "README's exit status table vs src/exit.rs");
}

#[test]
fn every_help_lists_the_exit_statuses_of_its_command() {
    for (command, statuses) in [
        ("plan", &Exit::PLAN[..]),
        ("apply", &Exit::APPLY[..]),
        ("status", &Exit::OTHER[..]),
    ] {
        let output = common::run(&[command, "--help"]);
        let help = common::stdout(&output);
        for status in statuses {
            let line = format!("{:>2}  {}", status.code(), status.meaning());
            assert!(
                help.contains(&line),
                "{command} --help lacks {line:?}:\n{help}"
            );
        }
    }
}
