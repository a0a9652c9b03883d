// The public roadmap in a real browser: Debian's chromium, headless, driven by
// playwright-core, with JavaScript turned off (the site must need none).
//
//   node tests/browser/roadmap.mjs [path/to/handbook-sync] [output dir]
//
// It starts the built binary's sandbox (`handbook-sync sandbox`), syncs the bundled
// product-manager page into it (`apply`, the seed sync), writes the roadmap
// (`roadmap --out`), and reads `status --format json`. Then, for the index and the
// product-manager page at 1280 px and 390 px wide, it takes a screenshot (kept under the
// output dir, default target/browser, as CI artefacts) and checks that nothing is wider
// than the window, that the page loads nothing but itself, that every responsibility
// links to its issue's URL as GitLab (the sandbox) gives it, and that every number shown
// equals `status --format json`. Exits 1 with every failed check listed.

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, copyFileSync, existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const binary = resolve(process.argv[2] ?? join(repo, "target/debug/handbook-sync"));
const out = resolve(process.argv[3] ?? join(repo, "target/browser"));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TOKEN = "browser-test-token";
const PAGE = "product-manager";

const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
};

function run(args, env = {}) {
  return execFileSync(binary, args, {
    env: { ...process.env, GITLAB_TOKEN: TOKEN, RUST_LOG: "error", ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** `handbook-sync sandbox`, and its URL from the first line it prints. */
async function startSandbox() {
  const child = spawn(
    binary,
    [
      "sandbox", "--token", TOKEN, "--tier", "premium",
      "--project", "gitlab-org/product-manager-roadmap",
      "--project", "acme/internal-plans:private",
      "--user", "sytses:Sid Sijbrandij", "--user", "drew:Drew", "--user", "andriy:Andriy",
      "--user", "ashley:Ashley",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("the sandbox printed no URL in 10 s")), 10_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      ok(line.replace("listening on ", "").trim());
    });
    child.once("exit", (code) => fail(new Error(`the sandbox exited (${code})`)));
  });
  return { child, url };
}

async function main() {
  rmSync(out, { recursive: true, force: true });
  const work = join(out, "work");
  const site = join(out, "site");
  const shots = join(out, "screenshots");
  mkdirSync(work, { recursive: true });
  mkdirSync(shots, { recursive: true });

  const { child: sandbox, url } = await startSandbox();
  try {
    copyFileSync(join(repo, "examples/handbook/product-manager.md"), join(work, "pm.md"));
    copyFileSync(join(repo, "examples/handbook/product-manager.md"), join(work, "plans.md"));
    const config = join(work, "config.toml");
    writeFileSync(
      config,
      `[gitlab]\nurl = "${url}"\nrequests_per_minute = 1000000\nissue_creations_per_minute = 1000000\n\n` +
        `[people]\n"Drew" = "drew"\n"Andriy" = "andriy"\n"Ashley" = "ashley"\n\n` +
        `[[pages]]\nid = "${PAGE}"\nsource = "pm.md"\nurl = "https://about.gitlab.com/jobs/product-manager/"\n` +
        `project = "gitlab-org/product-manager-roadmap"\nowner = "sytses"\n\n` +
        // A page in a private project: never published without roadmap.include_private.
        `[[pages]]\nid = "internal-plans"\nsource = "plans.md"\nproject = "acme/internal-plans"\nowner = "sytses"\n`,
    );
    run(["apply", "--config", config]);
    const said = run(["roadmap", "--config", config, "--out", site]);
    process.stdout.write(said);
    check(/left out internal-plans \(acme\/internal-plans\): the project is private/.test(said),
      "roadmap does not say it left out the private page");
    check(!existsSync(join(site, "pages/internal-plans.html")), "the private page was written");
    const status = JSON.parse(run(["status", "--config", config, "--format", "json"]));
    const expected = status.pages.find((p) => p.id === PAGE);
    const issues = await listIssues(url);
    const roadmapJson = JSON.parse(readFileSync(join(site, "roadmap.json"), "utf8"));
    check(roadmapJson.pages.length === 1, `roadmap.json has ${roadmapJson.pages.length} pages, not 1`);

    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    });
    try {
      for (const [name, file] of [["index", "index.html"], [PAGE, `pages/${PAGE}.html`]]) {
        for (const width of [1280, 390]) {
          await inspect(browser, { name, file: join(site, file), width, shots, expected, issues, scheme: "light" });
        }
      }
      // The dark scheme, once: it must not overflow either.
      await inspect(browser, { name: PAGE, file: join(site, `pages/${PAGE}.html`), width: 390, shots, expected, issues, scheme: "dark" });
    } finally {
      await browser.close();
    }
  } finally {
    sandbox.kill("SIGTERM");
  }
  if (failures.length) {
    console.error(`\n${failures.length} check(s) failed:\n- ${failures.join("\n- ")}`);
    process.exit(1);
  }
  console.log(`browser checks passed; screenshots in ${shots}`);
}

/** The project's issues of the page as GitLab (the sandbox) lists them, by iid. */
async function listIssues(url) {
  const byIid = new Map();
  for (let page = 1; ; page++) {
    const r = await fetch(
      `${url}/api/v4/projects/gitlab-org%2Fproduct-manager-roadmap/issues?state=all&per_page=100&page=${page}&labels=handbook::${PAGE}`,
      { headers: { "PRIVATE-TOKEN": TOKEN } },
    );
    const batch = await r.json();
    for (const issue of batch) byIid.set(issue.iid, issue);
    if (batch.length < 100) return byIid;
  }
}

async function inspect(browser, { name, file, width, shots, expected, issues, scheme }) {
  const where = `${name} at ${width} px (${scheme})`;
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    javaScriptEnabled: false,
    colorScheme: scheme,
  });
  const page = await context.newPage();
  const self = pathToFileURL(file).href;
  const requested = [];
  page.on("request", (r) => requested.push(r.url()));
  await page.goto(self);
  const suffix = scheme === "dark" ? "-dark" : "";
  await page.screenshot({ path: join(shots, `${name}-${width}${suffix}.png`), fullPage: true });
  await page.screenshot({ path: join(shots, `${name}-${width}${suffix}-top.png`) });

  check(requested.every((u) => u === self), `${where}: loaded more than itself: ${requested.join(", ")}`);
  const scrollWidth = await page.locator("html").evaluate((e) => e.scrollWidth);
  check(scrollWidth <= width, `${where}: the page is ${scrollWidth} px wide`);
  // Every box inside the window, not only the document's width (overflow: hidden would
  // hide a clipped box from scrollWidth).
  for (const selector of ["main *", "header *", "footer *"]) {
    const right = await page.locator(selector).evaluateAll((els) =>
      Math.max(0, ...els.map((e) => e.getBoundingClientRect().right)));
    check(right <= width + 0.5, `${where}: an element of ${selector} reaches ${right} px`);
  }

  const count = async (scope, key) =>
    Number(await scope.locator(`[data-count="${key}"]`).first().textContent());
  const closed = expected.closed;
  if (name === "index") {
    const card = page.locator("li.card");
    check((await card.count()) === 1, `${where}: ${await card.count()} cards, not 1`);
    const numbers = {
      total: await count(card, "total"),
      open: await count(card, "open"),
      handed_over: await count(card, "handed_over"),
      done: await count(card, "done"),
    };
    compare(where, numbers, expected);
  } else {
    const main = page.locator("dl.totals");
    compare(where, {
      total: await count(main, "total"),
      open: await count(main, "open"),
      handed_over: await count(main, "handed_over"),
      done: await count(main, "done"),
    }, expected);
    const sections = page.locator("section.section");
    check((await sections.count()) === expected.sections.length,
      `${where}: ${await sections.count()} sections, status has ${expected.sections.length}`);
    for (const s of expected.sections) {
      const section = page.locator(`section.section[data-section="${s.name.replaceAll('"', '\\"')}"]`);
      if ((await section.count()) !== 1) {
        check(false, `${where}: no section ${s.name}`);
        continue;
      }
      const shown = {
        total: await count(section, "total"),
        open: await count(section, "open"),
        closed: (await count(section, "done")) + (await count(section, "handed_over")),
      };
      check(shown.total === s.total && shown.open === s.open && shown.closed === s.closed,
        `${where}: section ${s.name} shows ${JSON.stringify(shown)}, status ${JSON.stringify(s)}`);
      check((await section.locator("li[data-iid]").count()) === s.total,
        `${where}: section ${s.name} lists ${await section.locator("li[data-iid]").count()} responsibilities, not ${s.total}`);
    }
    const rows = page.locator("li[data-iid]");
    const n = await rows.count();
    check(n === expected.total, `${where}: ${n} responsibilities, status counts ${expected.total}`);
    for (let i = 0; i < n; i++) {
      const row = rows.nth(i);
      const iid = Number(await row.getAttribute("data-iid"));
      const href = await row.locator("a").first().getAttribute("href");
      const issue = issues.get(iid);
      check(issue && href === issue.web_url, `${where}: #${iid} links to ${href}, GitLab says ${issue?.web_url}`);
    }
    const handed = page.locator("li[data-iid] .state.handed_over");
    check((await handed.count()) === expected.handed_over,
      `${where}: ${await handed.count()} rows say handed over, status ${expected.handed_over}`);
    const names = await page.locator("li[data-iid]:has(.state.handed_over) .who").allTextContents();
    check(names.every((t) => /Handed over to \S/.test(t)), `${where}: a handed-over row names nobody: ${names}`);
    const svg = page.locator("svg.chart[role=img] title");
    check((await svg.count()) === 1, `${where}: no burn-up chart with a title`);
  }
  void closed;
  await context.close();
}

function compare(where, shown, expected) {
  const want = {
    total: expected.total,
    open: expected.open,
    handed_over: expected.handed_over,
    done: expected.closed - expected.handed_over,
  };
  check(JSON.stringify(shown) === JSON.stringify(want),
    `${where}: shows ${JSON.stringify(shown)}, status --format json says ${JSON.stringify(want)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
