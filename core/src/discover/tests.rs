//! Discovery's rules, one by one: templates, file facts, patterns, qualification, checks.

use super::*;

fn facts(path: &str) -> FileFacts {
    FileFacts {
        path: path.into(),
        front_matter: BTreeMap::from([("owner".into(), "@drew".into())]),
    }
}

fn t(text: &str) -> Template {
    Template::parse(text).unwrap()
}

#[test]
fn a_template_could_give_only_projects_of_its_shape() {
    let dir = t("roadmaps/{dir}");
    assert!(dir.could_give("roadmaps/engineering"));
    assert!(dir.could_give("Roadmaps/eng/sub"), "case and subgroups");
    assert!(!dir.could_give("teamb/roadmap"));
    assert!(!dir.could_give("stranger/roadmaps/x"));
    let fixed = t("acme/roadmap");
    assert!(fixed.could_give("acme/roadmap") && !fixed.could_give("acme/roadmap2"));
    let both = t("{front_matter.group|acme}/roadmap-{name}");
    assert!(both.could_give("x/y/roadmap-z"));
    assert!(!both.could_give("x/other-z"));
    // A placeholder may give nothing: a file at the root has no `{dir}`, a front
    // matter value may be empty.
    assert!(t("roadmaps/team{dir}").could_give("roadmaps/team"));
    assert!(t("{front_matter.group|acme}roadmap").could_give("ROADMAP"));
    assert!(both.could_give("x/roadmap-"));
    assert!(t("{front_matter.project|acme/roadmap}").could_give("any/where"));
}

#[test]
fn paths_give_names_and_slugs() {
    let f = facts("engineering/Backend Engineer.md");
    assert_eq!(f.dir(), "engineering");
    assert_eq!(f.stem(), "Backend Engineer");
    assert_eq!(f.name(), "Backend Engineer");
    assert_eq!(f.slug(), "engineering-backend-engineer");
    let index = facts("engineering/development/backend/manager/index.html.md");
    assert_eq!(index.stem(), "index");
    assert_eq!(index.name(), "manager");
    assert_eq!(index.slug(), "engineering-development-backend-manager");
    let root = facts("ceo.md");
    assert_eq!(
        (root.dir(), root.name(), root.slug().as_str()),
        ("", "ceo", "ceo")
    );
    assert_eq!(
        facts("README.md").slug(),
        "readme",
        "a root index is its own name"
    );
    assert_eq!(facts("équipe/Rôle.md").slug(), "équipe-rôle");
}

#[test]
fn templates_expand_placeholders_and_front_matter_with_fallbacks() {
    let f = facts("sales/recruiter.md");
    assert_eq!(
        t("roadmaps/{slug}").expand(&f).unwrap(),
        "roadmaps/sales-recruiter"
    );
    assert_eq!(t("{front_matter.owner}").expand(&f).unwrap(), "@drew");
    assert_eq!(
        t("{front_matter.lead|sytses}").expand(&f).unwrap(),
        "sytses"
    );
    assert_eq!(
        t("https://h.example/{dir}/{name}/{{x}}")
            .expand(&f)
            .unwrap(),
        "https://h.example/sales/recruiter/{x}"
    );
    let missing = t("{front_matter.lead}").expand(&f).unwrap_err();
    assert!(missing.contains("no `lead`"), "{missing}");
    assert!(t("acme/roadmap").is_constant());
    assert!(!t("roadmaps/{slug}").is_constant());
}

#[test]
fn bad_templates_are_named() {
    for (text, says) in [
        ("roadmaps/{slog}", "unknown placeholder `{slog}`"),
        ("roadmaps/{slug", "without its `}`"),
        ("roadmaps/slug}", "without its `{`"),
        ("{slug|x}", "only front matter"),
        ("{front_matter.}", "unknown placeholder"),
    ] {
        let e = Template::parse(text).unwrap_err().to_string();
        assert!(e.contains(text) && e.contains(says), "{text}: {e}");
    }
}

fn rules(require_heading: Option<&str>, key: Option<&str>, project: &str) -> Rules {
    Rules {
        paths: PathPatterns::new(&["**/*.md".into()], &["**/_*.md".into()]).unwrap(),
        qualification: Qualification {
            front_matter_key: key.map(str::to_owned),
            heading: require_heading.map(|h| HeadingPatterns::new(&[h.to_owned()]).unwrap()),
        },
        templates: Templates {
            id: t("job-{slug}"),
            project: t(project),
            owner: t("{front_matter.owner|sytses}"),
            url: Some(t("https://handbook.example/{dir}/{name}/")),
            page_label: None,
        },
    }
}

#[test]
fn files_are_matched_qualified_and_expanded() {
    let r = rules(Some("Responsibilities"), None, "roadmaps/{slug}");
    assert!(r.needs_text());
    assert_eq!(r.judge("notes.txt", None), Verdict::NotMatched);
    assert_eq!(r.judge("sales/_draft.md", None), Verdict::NotMatched);
    let page = "---\nowner: drew\n---\n# Recruiter\n## Responsibilities\n- hire\n";
    assert_eq!(
        r.judge("sales/recruiter.md", Some(page)),
        Verdict::Page(DiscoveredPage {
            id: "job-sales-recruiter".into(),
            project: "roadmaps/sales-recruiter".into(),
            owner: "drew".into(),
            owner_from_page: true,
            url: Some("https://handbook.example/sales/recruiter/".into()),
            page_label: None,
        })
    );
    let Verdict::Page(fallback) = r.judge("sales/sdr.md", Some("# SDR\n## Responsibilities\n"))
    else {
        panic!("a page")
    };
    assert_eq!(fallback.owner, "sytses");
    assert!(!fallback.owner_from_page, "the fallback is configuration");
    let mut by_name = rules(None, None, "acme/roadmap");
    by_name.templates.owner = t("{stem}");
    let Verdict::Page(named) = by_name.judge("jobs/alice.md", Some("# Alice\n")) else {
        panic!("a page")
    };
    assert_eq!(named.owner, "alice");
    assert!(named.owner_from_page, "a file name is page text too");
    assert!(matches!(
        r.judge("sales/x.md", Some("## Requirements\n- a\n")),
        Verdict::NotQualified(_)
    ));
    let by_key = rules(None, Some("job_family"), "acme/roadmap");
    assert!(matches!(
        by_key.judge("a.md", Some("# A\n")),
        Verdict::NotQualified(_)
    ));
    assert!(matches!(
        by_key.judge("a.md", Some("---\njob_family: x\n---\n# A\n")),
        Verdict::Page(_)
    ));
}

#[test]
fn templates_that_give_bad_ids_or_projects_are_invalid_pages() {
    let r = rules(None, None, "{front_matter.roadmap|roadmaps/x}");
    let hostile = "---\nroadmap: \"../../admin\"\n---\n";
    let Verdict::Invalid(why) = r.judge("a.md", Some(hostile)) else {
        panic!("a path escaping its group is not a project");
    };
    assert!(
        why.contains("project template") && why.contains("../../admin"),
        "{why}"
    );
    let r = Rules {
        templates: Templates {
            id: t("{front_matter.owner}"),
            ..rules(None, None, "acme/r").templates
        },
        ..rules(None, None, "acme/r")
    };
    let Verdict::Invalid(why) = r.judge("a.md", Some("---\nowner: \"a b\"\n---\n")) else {
        panic!("a space is not in an id");
    };
    assert!(
        why.contains("id template") && why.contains("`a b`"),
        "{why}"
    );
    assert!(check_project("42").is_ok());
    assert!(check_project("group/sub/project.x").is_ok());
    assert!(check_project("project").is_err());
    assert!(check_project("group/-x").is_err());
    assert!(check_username("drew.smith").is_ok());
    assert!(check_username("drew smith").is_err());
}

#[test]
fn path_patterns_keep_star_within_a_directory() {
    let p = PathPatterns::new(&["*.md".into()], &[]).unwrap();
    assert!(p.matches("a.md"));
    assert!(!p.matches("dir/a.md"));
    let bad = PathPatterns::new(&["[".into()], &[]).unwrap_err();
    assert!(bad.to_string().contains("`[`"), "{bad}");
}
