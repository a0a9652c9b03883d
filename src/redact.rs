//! Hiding credentials that URLs carry, wherever a URL is shown: log lines, plans, error
//! messages, `Debug` output and metrics labels.
//!
//! A page source may be `https://user:password@host/page.md?sig=…`; the URL is needed to
//! fetch the page, but nothing that prints it may show the userinfo or a query parameter
//! that could be a credential. Which names carry credentials cannot be known (Azure's
//! `sig`, a `jwt`, a `pw`, a vendor's own name), so every value is hidden unless its name
//! is on a short list of harmless ones ([`SHOWN_PARAMETERS`]). [`url`] redacts one URL,
//! [`text`] every URL inside a message, and [`RedactingWriter`] every log line on its way
//! out, so that a library's own logging (reqwest's, hyper's) cannot print one either.

use std::borrow::Cow;
use std::io::Write;

/// What a hidden value is replaced with.
pub const MASK: &str = "REDACTED";

/// The query (and fragment) parameters whose values are shown, compared exactly: names
/// that say which page, branch or list page is meant, and the GitLab API's list filters.
/// Any other parameter's value is hidden, and so is a query part without a name
/// (`?abc123`).
pub const SHOWN_PARAMETERS: [&str; 13] = [
    "ref",
    "ref_name",
    "branch",
    "page",
    "per_page",
    "sort",
    "order_by",
    "state",
    "labels",
    "created_after",
    "updated_after",
    "format",
    "lang",
];

/// True for a query parameter whose value may be shown.
pub fn is_shown_name(name: &str) -> bool {
    SHOWN_PARAMETERS.contains(&name)
}

/// `url` as it may be shown: userinfo replaced by [`MASK`], and the value of every query
/// and fragment parameter not in [`SHOWN_PARAMETERS`] too (a bare query word as well; a
/// bare fragment is a heading anchor and stays). Everything else is kept byte for byte,
/// so the result still says which page and which host.
pub fn url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // The username can be the secret itself (`https://TOKEN@host`): both go.
        let _ = shown.set_password(None);
        let _ = shown.set_username(MASK);
    }
    if let Some(query) = shown.query().map(|q| redact_params(q, true))
        && let Cow::Owned(query) = query
    {
        shown.set_query(Some(&query));
    }
    if let Some(fragment) = shown.fragment().map(|f| redact_params(f, false))
        && let Cow::Owned(fragment) = fragment
    {
        shown.set_fragment(Some(&fragment));
    }
    shown.to_string()
}

/// `ref=main&sig=x&abc` → `ref=main&sig=REDACTED&REDACTED` (`bare`: a part without `=`
/// is hidden too); shown pairs are kept verbatim. A shown value holding a `;` is hidden:
/// some servers split parameters there too.
fn redact_params(params: &str, bare: bool) -> Cow<'_, str> {
    let mut changed = false;
    let pairs: Vec<Cow<'_, str>> = params
        .split('&')
        .map(|pair| {
            let Some((name, value)) = pair.split_once('=') else {
                if bare && !pair.is_empty() && pair != MASK && !is_shown_name(pair) {
                    changed = true;
                    return Cow::Borrowed(MASK);
                }
                return Cow::Borrowed(pair);
            };
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            let hidden = !is_shown_name(&decoded) || value.contains(';');
            if hidden && !value.is_empty() && value != MASK {
                changed = true;
                Cow::Owned(format!("{name}={MASK}"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    if changed {
        Cow::Owned(pairs.join("&"))
    } else {
        Cow::Borrowed(params)
    }
}

/// `text` with every URL in it redacted as [`url`] does. A URL is recognised by its
/// scheme (`http://`, `https://`, `gitlab://`, …) and ends at whitespace, a quote or a
/// closing bracket; text without `://` is returned as it is.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at..]
            .find(|c: char| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')' | ']' | '\\')
            })
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        let candidate = &rest[start..end];
        match url::Url::parse(candidate) {
            // Only a URL that holds credentials is rewritten; any other stays byte for byte.
            Ok(parsed) if start < at => {
                let shown = url(&parsed);
                if shown == parsed.as_str() {
                    out.push_str(candidate);
                } else {
                    out.push_str(&shown);
                }
            }
            // Not a URL after all: keep it, but never a userinfo-looking part of it.
            _ => out.push_str(&mask_userinfo(candidate)),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Something like a URL that the URL parser refused: the part before `@` goes, and the
/// values of parameters after `?` but the shown ones.
fn mask_userinfo(candidate: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = candidate.split_once("://") else {
        return Cow::Borrowed(candidate);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest: Cow<'_, str> = match rest[..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{MASK}{}", &rest[at..])),
        None => Cow::Borrowed(rest),
    };
    let rest = match rest.split_once('?') {
        Some((before, params)) => match redact_params(params, true) {
            Cow::Owned(params) => Cow::Owned(format!("{before}?{params}")),
            Cow::Borrowed(_) => rest,
        },
        None => rest,
    };
    match rest {
        Cow::Owned(rest) => Cow::Owned(format!("{scheme}://{rest}")),
        Cow::Borrowed(_) => Cow::Borrowed(candidate),
    }
}

/// A log writer that redacts every URL in what passes through it. The tracing formatter
/// writes one whole line per call, so a URL is never split between two writes.
pub struct RedactingWriter<W: Write>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) => {
                self.0.write_all(text(s).as_bytes())?;
                Ok(buf.len())
            }
            // Not text: nothing a URL could hide in that this crate writes.
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(s: &str) -> String {
        url(&url::Url::parse(s).unwrap())
    }

    #[test]
    fn userinfo_and_credential_parameters_are_hidden_the_rest_kept() {
        assert_eq!(
            shown("https://user:pw@example.com/a/page.md?ref=main&private_token=abc"),
            "https://REDACTED@example.com/a/page.md?ref=main&private_token=REDACTED"
        );
        assert_eq!(
            shown("https://abc123@example.com/x"),
            "https://REDACTED@example.com/x"
        );
        assert_eq!(
            shown("https://example.com/x?Access_Token=a&secret=b&password=c&q=%20d"),
            "https://example.com/x?Access_Token=REDACTED&secret=REDACTED&password=REDACTED&q=REDACTED"
        );
        assert_eq!(
            shown("https://example.com/cb#access_token=abc&state=1"),
            "https://example.com/cb#access_token=REDACTED&state=1"
        );
        assert_eq!(
            shown("https://example.com/a?page=2&per_page=100&ref=main"),
            "https://example.com/a?page=2&per_page=100&ref=main"
        );
        assert_eq!(
            shown("https://example.com/handbook/#responsibilities"),
            "https://example.com/handbook/#responsibilities",
            "a heading anchor is no parameter"
        );
    }

    /// Credentials under names nobody listed: an Azure SAS `sig`, a `jwt`, any name, a
    /// bare query word, a name in another case, `;` as a separator, an encoded name.
    #[test]
    fn every_parameter_not_on_the_list_is_hidden() {
        assert_eq!(
            shown(
                "https://acct.blob.core.windows.net/h/pm.md?sv=2022-11-02&sp=r&sig=S1g%2F&ref=main"
            ),
            "https://acct.blob.core.windows.net/h/pm.md?sv=REDACTED&sp=REDACTED&sig=REDACTED&ref=main"
        );
        assert_eq!(
            shown("https://h.example/p.md?jwt=eyJ&foo=bar&pw=x&session=y"),
            "https://h.example/p.md?jwt=REDACTED&foo=REDACTED&pw=REDACTED&session=REDACTED"
        );
        assert_eq!(
            shown("https://h.example/p.md?S3cretWord"),
            "https://h.example/p.md?REDACTED"
        );
        assert_eq!(
            shown("https://h.example/p.md?REF=x&ref=main;sig=s&%73ig=t"),
            "https://h.example/p.md?REF=REDACTED&ref=REDACTED&%73ig=REDACTED"
        );
    }

    #[test]
    fn urls_inside_messages_are_redacted_wherever_they_stand() {
        let message = "cannot fetch page `https://u:pw@h.example/p.md?token=t1` (url: \
                       \"http://h.example/?private_token=t2\"), see gitlab://g/p/-/x.md?ref=main";
        let out = text(message);
        for secret in ["pw", "t1", "t2"] {
            assert!(
                !out.contains(&format!("{secret}`")) && !out.contains(&format!("={secret}")),
                "{out}"
            );
        }
        assert!(
            out.contains("https://REDACTED@h.example/p.md?token=REDACTED`"),
            "{out}"
        );
        assert!(out.contains("gitlab://g/p/-/x.md?ref=main"), "{out}");
        assert_eq!(text("no link here"), "no link here");
        let coloured = "\u{1b}[2mhttps://h.example/a%20b?page=1\u{1b}[0m";
        assert_eq!(
            text(coloured),
            coloured,
            "clean URLs and colours are kept as written"
        );
    }

    #[test]
    fn a_broken_url_still_loses_its_userinfo() {
        let out = text("bad source http://user:pw@[::1/page");
        assert!(!out.contains("pw@"), "{out}");
        let out = text("bad source http://[::1/page?private_token=t0k&sig=s&ref=main");
        assert_eq!(
            out,
            "bad source http://[::1/page?private_token=REDACTED&sig=REDACTED&ref=main"
        );
    }

    #[test]
    fn the_writer_redacts_each_line() {
        let mut out = Vec::new();
        RedactingWriter(&mut out)
            .write_all(b"GET https://a:b@h.example/x?password=c\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET https://REDACTED@h.example/x?password=REDACTED\n"
        );
    }

    proptest::proptest! {
        /// Whatever the secret and wherever it sits (password, username, a credential
        /// parameter in the query or fragment), and whatever surrounds the URL in a
        /// message, the secret is not in what is shown.
        #[test]
        fn a_secret_never_survives(
            secret in "S3c[A-Za-z0-9._~-]{6,20}",
            name in proptest::strategy::Strategy::prop_filter(
                "(token|private_token|access_token|secret|password|api_key|X-Auth|sig|jwt|foo|[a-z_]{1,12})",
                "a shown name",
                |n| !is_shown_name(n),
            ),
            place in 0usize..5,
            before in "[ a-z(`\"]{0,5}",
            after in "[ a-z)`\".,]{0,5}",
        ) {
            let url = match place {
                0 => format!("https://user:{secret}@h.example/p.md?ref=main"),
                1 => format!("https://{secret}@h.example/p.md"),
                2 => format!("https://h.example/p.md?ref=main&{name}={secret}"),
                3 => format!("https://h.example/cb#{name}={secret}&state=1"),
                _ => format!("https://h.example/p.md?ref=main&{secret}"),
            };
            let shown = text(&format!("{before}{url}{after}")).into_owned();
            proptest::prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }
}
