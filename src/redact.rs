//! Hiding credentials that URLs carry, wherever a URL is shown: log lines, plans, error
//! messages, `Debug` output and metrics labels.
//!
//! A page source may be `https://user:password@host/page.md?private_token=…`; the URL is
//! needed to fetch the page, but nothing that prints it may show the userinfo or a query
//! (or fragment) parameter named like a credential. [`url`] redacts one URL, [`text`]
//! every URL inside a message, and [`RedactingWriter`] every log line on its way out, so
//! that a library's own logging (reqwest's, hyper's) cannot print one either.

use std::borrow::Cow;
use std::io::Write;

/// What a hidden value is replaced with.
pub const MASK: &str = "REDACTED";

/// Parts of a parameter name that mark its value as a credential (compared in lower
/// case): `token`, `private_token`, `access_token`, `secret`, `password`, `api_key`, …
const SENSITIVE_NAMES: [&str; 8] = [
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "key",
    "signature",
    "credential",
];

/// True for a query parameter whose value must not be shown.
pub fn is_sensitive_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_NAMES.iter().any(|s| name.contains(s))
}

/// `url` as it may be shown: userinfo replaced by [`MASK`], and the values of query and
/// fragment parameters named like credentials too. Everything else is kept byte for
/// byte, so the result still says which page and which host.
pub fn url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // The username can be the secret itself (`https://TOKEN@host`): both go.
        let _ = shown.set_password(None);
        let _ = shown.set_username(MASK);
    }
    if let Some(query) = shown.query().map(redact_params)
        && let Cow::Owned(query) = query
    {
        shown.set_query(Some(&query));
    }
    if let Some(fragment) = shown.fragment().map(redact_params)
        && let Cow::Owned(fragment) = fragment
    {
        shown.set_fragment(Some(&fragment));
    }
    shown.to_string()
}

/// `a=1&private_token=x` → `a=1&private_token=REDACTED`; other pairs are kept verbatim.
fn redact_params(params: &str) -> Cow<'_, str> {
    let mut changed = false;
    let pairs: Vec<Cow<'_, str>> = params
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            if is_sensitive_name(&decoded) && !value.is_empty() && value != MASK {
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
/// values of credential parameters after `?`.
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
        Some((before, params)) => match redact_params(params) {
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
            "https://example.com/x?Access_Token=REDACTED&secret=REDACTED&password=REDACTED&q=%20d"
        );
        assert_eq!(
            shown("https://example.com/cb#access_token=abc&state=1"),
            "https://example.com/cb#access_token=REDACTED&state=1"
        );
        assert_eq!(
            shown("https://example.com/a?b=1"),
            "https://example.com/a?b=1"
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
        let coloured = "\u{1b}[2mhttps://h.example/a%20b?x=1\u{1b}[0m";
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
        let out = text("bad source http://[::1/page?private_token=t0k&a=1");
        assert_eq!(
            out,
            "bad source http://[::1/page?private_token=REDACTED&a=1"
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
            name in "(token|private_token|access_token|secret|password|api_key|X-Auth)",
            place in 0usize..4,
            before in "[ a-z(`\"]{0,5}",
            after in "[ a-z)`\".,]{0,5}",
        ) {
            let url = match place {
                0 => format!("https://user:{secret}@h.example/p.md?ref=main"),
                1 => format!("https://{secret}@h.example/p.md"),
                2 => format!("https://h.example/p.md?ref=main&{name}={secret}"),
                _ => format!("https://h.example/cb#{name}={secret}&state=1"),
            };
            let shown = text(&format!("{before}{url}{after}")).into_owned();
            proptest::prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }
}
