//! `/metrics` in the format the scraper asks for, as Prometheus' own Go client does:
//! OpenMetrics 1.0 when the `Accept` header names `application/openmetrics-text`
//! (Prometheus itself does), the classic text format 0.0.4 otherwise (curl, `promtool
//! check metrics`, older agents).
//!
//! `prometheus-client` encodes OpenMetrics only; the text format is derived from it. The
//! two differ, for the metric types the daemon has, in the family names of counters
//! (`foo` with samples `foo_total` in OpenMetrics; `foo_total` throughout in 0.0.4) and
//! info metrics (`foo` of type `info` with samples `foo_info`; a gauge `foo_info`), in
//! `unknown` being `untyped`, and in `# UNIT` and `# EOF` lines, which 0.0.4 does not
//! have.

use std::collections::HashMap;

use prometheus_client::registry::Registry;

/// The content type of OpenMetrics 1.0 text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of Prometheus' text format 0.0.4.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `registry` encoded for a scraper that sent `accept`: the content type and the body.
pub fn render(
    registry: &Registry,
    accept: Option<&str>,
) -> Result<(&'static str, String), std::fmt::Error> {
    let mut openmetrics = String::new();
    prometheus_client::encoding::text::encode(&mut openmetrics, registry)?;
    Ok(if accept.is_some_and(wants_openmetrics) {
        (OPENMETRICS, openmetrics)
    } else {
        (TEXT, to_text_format(&openmetrics))
    })
}

/// Whether an `Accept` header asks for OpenMetrics (with a quality above 0).
fn wants_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        media.eq_ignore_ascii_case("application/openmetrics-text")
            && !parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("q")
                        && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            })
    })
}

/// OpenMetrics text as Prometheus' text format 0.0.4.
fn to_text_format(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let family = |name: &str| -> (String, &'static str) {
        match types.get(name).copied() {
            Some("counter") => (format!("{name}_total"), "counter"),
            Some("info") => (format!("{name}_info"), "gauge"),
            Some("gauge") => (name.to_owned(), "gauge"),
            Some("histogram") => (name.to_owned(), "histogram"),
            Some("summary") => (name.to_owned(), "summary"),
            _ => (name.to_owned(), "untyped"),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_once(' ').map_or(rest, |(n, _)| n);
            let (name, kind) = family(name);
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, _) = family(name);
            out.push_str(&format!("# HELP {name} {}\n", text_help(help)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A HELP text for 0.0.4, which escapes `\\` (and line feeds, which no help here has).
/// `prometheus-client` writes HELP texts as given, with no escapes of its own (the test
/// below would notice if a version started to).
fn text_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::info::Info;

    fn registry() -> Registry {
        let mut registry = Registry::with_prefix("app");
        let requests = Counter::<u64>::default();
        requests.inc_by(3);
        registry.register("requests", "Requests \"served\", by \\ path", requests);
        let last = Gauge::<i64>::default();
        last.set(1_700_000_000);
        registry.register("last_success_timestamp_seconds", "Unix time", last);
        registry.register("build", "Version", Info::new(vec![("version", "0.1.0")]));
        registry
    }

    #[test]
    fn prometheus_asks_for_openmetrics_and_gets_it_unchanged() {
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let (kind, body) = render(&registry(), Some(accept)).unwrap();
        assert_eq!(kind, OPENMETRICS);
        assert!(body.ends_with("# EOF\n"), "{body}");
        assert!(
            body.contains("# TYPE app_requests counter\napp_requests_total 3\n"),
            "{body}"
        );
    }

    #[test]
    fn anyone_else_gets_the_text_format_with_families_named_as_their_samples() {
        for accept in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("application/openmetrics-text; q=0"),
        ] {
            let (kind, body) = render(&registry(), accept).unwrap();
            assert_eq!(kind, TEXT, "{accept:?}");
            assert_eq!(
                body,
                "# HELP app_requests_total Requests \"served\", by \\\\ path.\n\
                 # TYPE app_requests_total counter\n\
                 app_requests_total 3\n\
                 # HELP app_last_success_timestamp_seconds Unix time.\n\
                 # TYPE app_last_success_timestamp_seconds gauge\n\
                 app_last_success_timestamp_seconds 1700000000\n\
                 # HELP app_build_info Version.\n\
                 # TYPE app_build_info gauge\n\
                 app_build_info{version=\"0.1.0\"} 1\n",
                "{accept:?}"
            );
        }
    }

    #[test]
    fn the_text_format_parses_with_every_sample_typed() {
        let (_, body) = render(&registry(), None).unwrap();
        let scrape =
            prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let kinds: Vec<_> = scrape
            .samples
            .iter()
            .map(|s| {
                (
                    s.metric.as_str(),
                    matches!(s.value, prometheus_parse::Value::Counter(_)),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("app_requests_total", true),
                ("app_last_success_timestamp_seconds", false),
                ("app_build_info", false)
            ]
        );
        // The HELP names the samples' metric, as 0.0.4 parsers look it up.
        assert!(scrape.docs.contains_key("app_requests_total"), "{body}");
    }
}
