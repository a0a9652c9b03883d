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

/// One option of a `-h` text: its long name, its value name (`FILE`), and its possible
/// values when clap lists them.
#[derive(Debug)]
struct Flag {
    name: String,
    value: Option<String>,
    choices: Option<Vec<String>>,
}

/// The options of `handbook-sync ARGS -h`, from its `Options:` section.
fn help_flags(args: &[&str]) -> Vec<Flag> {
    let mut full = args.to_vec();
    full.push("-h");
    let output = common::run(&full);
    assert_eq!(output.status.code(), Some(0), "{full:?}");
    let help = common::stdout(&output);
    let options = help
        .split("\nOptions:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{full:?}: no Options section:\n{help}"));
    let start = regex::Regex::new(r"^\s+(?:-\w, )?--([a-z-]+)(?: <([^>]+)>)?").unwrap();
    let mut flags: Vec<(Flag, String)> = Vec::new();
    for line in options
        .lines()
        .take_while(|l| !l.starts_with("Exit status"))
    {
        match start.captures(line) {
            Some(c) => flags.push((
                Flag {
                    name: c[1].to_owned(),
                    value: c.get(2).map(|v| v.as_str().to_owned()),
                    choices: None,
                },
                line.to_owned(),
            )),
            None => {
                if let Some((_, text)) = flags.last_mut() {
                    text.push_str(line);
                }
            }
        }
    }
    flags
        .into_iter()
        .map(|(mut flag, text)| {
            flag.choices = text.split("[possible values: ").nth(1).map(|rest| {
                rest.split(']')
                    .next()
                    .unwrap()
                    .split(", ")
                    .map(str::to_owned)
                    .collect()
            });
            flag
        })
        .filter(|f| !matches!(f.name.as_str(), "help" | "version"))
        .collect()
}

/// The subcommands `handbook-sync -h` lists (not `help`).
fn subcommands() -> Vec<String> {
    let help = common::stdout(&common::run(&["-h"]));
    help.split("\nCommands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The README's usage blocks (fenced without a language): each entry starts with
/// `handbook-sync`, indented lines continue it; keyed by subcommand ("" for the global
/// entry).
fn readme_usage() -> Vec<(String, String)> {
    let readme = readme();
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut in_block = false;
    let mut fence_lang = String::new();
    for line in readme.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            in_block = !in_block;
            fence_lang = rest.trim().to_owned();
            continue;
        }
        if !in_block || !fence_lang.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("handbook-sync ") {
            let first = rest.split_whitespace().next().unwrap_or("");
            let command = if first.starts_with('[') || first == "COMMAND" {
                String::new()
            } else {
                first.to_owned()
            };
            entries.push((command, line.to_owned()));
        } else if line.starts_with(' ')
            && let Some((_, text)) = entries.last_mut()
        {
            text.push(' ');
            text.push_str(line.trim());
        }
    }
    entries
}

/// Every subcommand's `-h` against the README's usage block for it: the same flags,
/// each with the value name or the choices the program shows. Data-driven: a new
/// subcommand or flag only needs its line in a README usage block.
#[test]
fn every_subcommands_flags_are_the_readmes() {
    let usage = readme_usage();
    let mut problems = Vec::new();
    let global = help_flags(&[]);
    let global_names: Vec<String> = global.iter().map(|f| f.name.clone()).collect();
    let mut commands: Vec<(String, Vec<Flag>)> = vec![(String::new(), global)];
    for command in subcommands() {
        let flags = help_flags(&[&command])
            .into_iter()
            .filter(|f| !global_names.contains(&f.name))
            .collect();
        commands.push((command, flags));
    }
    let flag_in_text = regex::Regex::new(r"--([a-z][a-z-]*)").unwrap();
    for (command, flags) in &commands {
        let shown = if command.is_empty() {
            "handbook-sync"
        } else {
            command
        };
        let texts: Vec<&str> = usage
            .iter()
            .filter(|(c, _)| c == command)
            .map(|(_, t)| t.as_str())
            .collect();
        if texts.is_empty() {
            problems.push(format!("{shown}: no usage block in README.md"));
            continue;
        }
        let text = texts.join(" ");
        for flag in flags {
            let expected = match (&flag.choices, &flag.value) {
                (Some(choices), _) => format!("--{} {}", flag.name, choices.join("|")),
                (None, Some(value)) => format!("--{} {value}", flag.name),
                (None, None) => format!("--{}", flag.name),
            };
            let found = text.match_indices(&expected).any(|(at, m)| {
                // A whole word: `--page` is not `--page-url`.
                let next = text[at + m.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '|')
            });
            if !found {
                problems.push(format!("{shown}: README lacks `{expected}` (from -h)"));
            }
        }
        for c in flag_in_text.captures_iter(&text) {
            if !flags.iter().any(|f| f.name == c[1]) {
                problems.push(format!(
                    "{shown}: README shows `--{}`, which -h does not",
                    &c[1]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "README.md and --help disagree:\n{}",
        problems.join("\n")
    );
}

/// What a first run needs to know is in the help of the commands that talk to GitLab.
#[test]
fn the_help_says_where_the_token_and_the_configuration_come_from() {
    for command in ["plan", "apply", "status", "run", "roadmap"] {
        let help = common::stdout(&common::run(&[command, "--help"]));
        for words in [
            "GITLAB_TOKEN",
            "token_file",
            "config/handbook-sync.toml",
            "/etc/handbook-sync/config.toml",
        ] {
            assert!(
                help.contains(words),
                "{command} --help lacks {words}:\n{help}"
            );
        }
    }
}
