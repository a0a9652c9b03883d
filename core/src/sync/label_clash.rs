//! Label settings that would fight over an issue: two settings that can make the same
//! label, or labels of one scope.
//!
//! GitLab keeps at most one label per scope on an issue of a paid tier (the scope of
//! `a::b::c` is `a::b::`, everything up to the last `::`: `app/models/label.rb`,
//! `SCOPED_LABEL_PATTERN`; `app/services/issuable/…` removes the others of a scope when
//! one is added). A page label and a section label of one scope would replace each other
//! on every run; a managed label sharing a scope with them would be dropped, and the
//! issue with it. The configuration refuses such settings before anything is read.

use super::desired::{Labels, label_name};

/// Two label settings that collide, by their names in `[sync]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelClash {
    /// The first setting's name (`page_label_prefix`, …).
    pub first: &'static str,
    /// The second setting's name.
    pub second: &'static str,
    /// Why they collide.
    pub why: String,
}

/// One label setting: a whole label, or a prefix of many.
struct Setting {
    name: &'static str,
    /// As GitLab stores it ([`label_name`]).
    text: String,
    prefix: bool,
}

/// The scope of labels made from `text`: up to and with its last `::`.
fn scope(text: &str) -> Option<&str> {
    text.rfind("::").map(|at| &text[..at + 2])
}

impl Labels {
    /// The first pair of settings that collide, or `None`: equal prefixes, a prefix that
    /// starts with another, prefixes or labels of one scope, equal labels, and a label a
    /// prefix could make (it starts with the prefix).
    pub fn clash(&self) -> Option<LabelClash> {
        let settings = [
            ("managed_label", &self.managed_label, false),
            ("page_label_prefix", &self.page_label_prefix, true),
            ("section_label_prefix", &self.section_label_prefix, true),
            ("handed_over_label", &self.handed_over_label, false),
        ]
        .map(|(name, raw, prefix)| Setting {
            name,
            text: label_name(raw),
            prefix,
        });
        for (i, a) in settings.iter().enumerate() {
            for b in &settings[i + 1..] {
                if let Some(why) = collision(a, b).or_else(|| collision(b, a)) {
                    return Some(LabelClash {
                        first: a.name,
                        second: b.name,
                        why,
                    });
                }
            }
        }
        None
    }
}

/// Why `a` and `b` collide, looking from `a`'s side.
fn collision(a: &Setting, b: &Setting) -> Option<String> {
    if a.text == b.text {
        return Some(format!("both are `{}`", a.text));
    }
    if let (Some(x), Some(y)) = (scope(&a.text), scope(&b.text))
        && x == y
    {
        return Some(format!(
            "their labels share the scope `{x}`, and GitLab keeps one label per scope on an issue"
        ));
    }
    // `hb-` and `hb-s-`: the section label of `x` is the page label of `s-x`. A page id
    // holds only letters, digits, `-`, `_` and `.`, so `hb::` and `hb::sec::` cannot meet;
    // a section title holds anything.
    let rest = b.text.strip_prefix(&a.text).unwrap_or_default();
    let could_meet = a.name != "page_label_prefix"
        || rest
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if a.prefix && b.prefix && b.text.starts_with(&a.text) && could_meet {
        return Some(format!(
            "`{}` starts with `{}`: a label `{}` makes is also one `{}` makes",
            b.text, a.text, b.name, a.name
        ));
    }
    if a.prefix && !b.prefix && b.text.starts_with(&a.text) {
        return Some(format!(
            "`{}` would also be the label `{}` makes for `{}`",
            b.text,
            a.name,
            &b.text[a.text.len()..]
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(managed: &str, page: &str, section: &str, handed: &str) -> Labels {
        Labels {
            managed_label: managed.into(),
            page_label_prefix: page.into(),
            section_label_prefix: section.into(),
            handed_over_label: handed.into(),
        }
    }

    #[test]
    fn the_defaults_do_not_clash() {
        assert_eq!(
            labels("handbook-sync", "handbook::", "section::", "handed-over").clash(),
            None
        );
        assert_eq!(
            labels("hs", "hb::", "hb::sec::", "handed-over").clash(),
            None,
            "different scopes"
        );
    }

    #[test]
    fn equal_prefixes_scopes_and_labels_clash() {
        let clash = |l: Labels| l.clash().map(|c| (c.first, c.second));
        assert_eq!(
            clash(labels(
                "handbook-sync",
                "section::",
                "section::",
                "handed-over"
            )),
            Some(("page_label_prefix", "section_label_prefix"))
        );
        assert_eq!(
            clash(labels(
                "handbook-sync",
                "team::page ",
                "team::section ",
                "handed-over"
            )),
            Some(("page_label_prefix", "section_label_prefix"))
        );
        assert_eq!(
            clash(labels(
                "handbook::sync",
                "handbook::",
                "section::",
                "handed-over"
            )),
            Some(("managed_label", "page_label_prefix"))
        );
        assert_eq!(
            clash(labels(
                "handbook-sync",
                "handbook::",
                "section::",
                "section::done"
            )),
            Some(("section_label_prefix", "handed_over_label"))
        );
        assert_eq!(
            clash(labels("same", "handbook::", "section::", "same")),
            Some(("managed_label", "handed_over_label"))
        );
        assert_eq!(
            clash(labels(
                "handbook-sync",
                "handbook-",
                "section::",
                "handed-over"
            )),
            Some(("managed_label", "page_label_prefix")),
            "a page `sync` would be labeled `handbook-sync`"
        );
        let why = labels("handbook-sync", "x::", "x::", "y")
            .clash()
            .unwrap()
            .why;
        assert!(why.contains("`x::`"), "{why}");
    }
}
