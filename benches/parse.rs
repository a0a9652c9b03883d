//! Parser throughput: `cargo bench --bench parse`.
//!
//! Prints figures (it asserts nothing): the whole corpus in `tests/data/corpus/` and a
//! generated page of 10,000 items. Each figure is the median of repeated runs after a
//! warm-up, on one core.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use handbook_sync::parse::{ParseOptions, parse_page};

// The same allocator as the handbook-sync binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Median and fastest of `runs` timed calls, after a warm-up. This is a shared VM: the
/// median says what to expect, the minimum what the code costs without interference.
struct Timing {
    median: Duration,
    min: Duration,
}

impl Timing {
    fn ms(&self) -> String {
        format!(
            "{:.2} ms median ({:.2} ms fastest)",
            self.median.as_secs_f64() * 1e3,
            self.min.as_secs_f64() * 1e3
        )
    }
}

fn time(runs: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..runs.div_ceil(5) {
        f();
    }
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    Timing {
        median: samples[samples.len() / 2],
        min: samples[0],
    }
}

/// A page of `n` items in sections of 25, with the features real pages have: links,
/// emphasis, handoffs, tasks, nested checklists and code fences.
pub fn generated_page(n: usize) -> String {
    let mut page = String::from("---\ntitle: Generated\n---\n\n# Generated\n");
    for i in 0..n {
        if i % 25 == 0 {
            page.push_str(&format!(
                "\n## Section {}\n\nSome intro text for the section.\n\n",
                i / 25
            ));
        }
        match i % 10 {
            0 => page.push_str(&format!(
                "- ~~Maintain the **thing** number {i}~~ => Person {}\n",
                i % 7
            )),
            1 => page.push_str(&format!(
                "- [x] Ship [feature {i}](/direction/{i}) for everyone\n"
            )),
            2 => page.push_str(&format!(
                "- Review item {i}\n  - first step\n  - second step\n"
            )),
            3 => page.push_str(&format!(
                "- Keep `config-{i}` tidy\n\n  ```\n  - not an item\n  ```\n"
            )),
            _ => page.push_str(&format!(
                "- Make sure responsibility {i} is documented and up to date\n"
            )),
        }
    }
    page
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            corpus_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

fn main() {
    let options = ParseOptions {
        page_id: "bench".into(),
        page_url: Some(url::Url::parse("https://about.gitlab.com/handbook/page/").unwrap()),
        ..Default::default()
    };

    let mut files = Vec::new();
    corpus_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus"),
        &mut files,
    );
    let pages: Vec<String> = files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    assert!(
        !pages.is_empty(),
        "tests/data/corpus holds no pages: it is part of the repository"
    );
    let bytes: usize = pages.iter().map(String::len).sum();
    let items: usize = pages
        .iter()
        .map(|p| parse_page(p, &options).items.len())
        .sum();
    let t = time(30, || {
        for page in &pages {
            black_box(parse_page(black_box(page), &options));
        }
    });
    let secs = t.median.as_secs_f64();
    println!(
        "corpus: {} pages, {:.2} MB, {items} items: {} per pass, {:.1} MB/s, {:.0} items/s",
        pages.len(),
        bytes as f64 / 1e6,
        t.ms(),
        bytes as f64 / 1e6 / secs,
        items as f64 / secs
    );

    for n in [10_000, 100_000] {
        let page = generated_page(n);
        let parsed = parse_page(&page, &options);
        assert_eq!(parsed.items.len(), n, "the generated page has {n} items");
        let runs = if n > 10_000 { 11 } else { 101 };
        let t = time(runs, || {
            black_box(parse_page(black_box(&page), &options));
        });
        println!(
            "generated: {n} items, {:.2} MB: {} per parse, {:.1} MB/s",
            page.len() as f64 / 1e6,
            t.ms(),
            page.len() as f64 / 1e6 / t.median.as_secs_f64()
        );
    }
}
